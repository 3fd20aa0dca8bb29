"""Fixtures for the adb tests: SimPhones on the private adb server (tests/conftest.py), helpers."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest


class Adb:
    """The real adb binary against the private server."""

    def __init__(self, binary: str, port: int):
        self.binary = binary
        self.port = port

    def __call__(self, *args: str, serial: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [self.binary, "-P", str(self.port)] + (["-s", serial] if serial else []) + list(args)
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)

    def state(self, serial: str) -> dict:
        """Phone.state() as any adb client sees it: `adb shell cmd simphone state`."""
        out = self("shell", "cmd", "simphone", "state", serial=serial)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def files(self, serial: str) -> dict:
        """Every file on the phone with its size: `adb shell cmd simphone fs`."""
        out = self("shell", "cmd", "simphone", "fs", serial=serial)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def ui(self, serial: str) -> str:
        """The UI hierarchy, the way scripts get it: uiautomator dump to a file, then pull it."""
        dump = self("shell", "uiautomator", "dump", serial=serial)
        assert b"UI hierchary dumped to: /sdcard/window_dump.xml" in dump.stdout, dump
        out = self("exec-out", "cat", "/sdcard/window_dump.xml", serial=serial)
        return out.stdout.decode("utf-8")

    def tap_target(self, serial: str, **match: str) -> tuple[int, int]:
        """The centre of the node matching `match` in the current UI dump."""
        return center(find_node(self.ui(serial), **match))


@pytest.fixture(scope="session")
def adb(adb_bin: str, adb_port: int) -> Adb:
    return Adb(adb_bin, adb_port)


def _serve(adb_client, **kwargs):
    from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb

    server = SimPhoneServer(**kwargs).start()
    try:
        connect_adb(server, adb_client)
    except BaseException:
        server.stop()
        raise
    return server, lambda: (disconnect_adb(server, adb_client), server.stop())


@pytest.fixture
def sim(adb_client):
    """A fresh SimPhone (on its home screen), connected to the private adb server."""
    server, stop = _serve(adb_client)
    yield server
    stop()


@pytest.fixture(scope="module")
def shared_sim(adb_client):
    """One SimPhone for a whole module, for tests that only read or that tidy up after."""
    server, stop = _serve(adb_client)
    yield server
    stop()


@pytest.fixture
def sim_shell(adb, shared_sim):
    """(run, serial): run(*argv) is `adb shell ARGV` on the module's shared SimPhone, freshly reset
    (`cmd simphone reset`: seeded data, the launcher in front)."""
    serial = shared_sim.serial

    def run(*argv: str):
        return adb("shell", *argv, serial=serial)

    assert run("cmd", "simphone", "reset").returncode == 0
    return run, serial


# --- helpers (methods of the `adb` fixture: tests/ is not a package, conftest is not importable)


def find_node(xml: str, **match: str) -> tuple[int, int, int, int]:
    """Bounds (l, t, r, b) of the first uiautomator node whose attributes all match, e.g.
    find_node(xml, text="Settings") or find_node(xml, **{"resource-id": "pkg:id/x"})."""
    for node in ET.fromstring(xml.encode("utf-8")).iter("node"):
        if all(node.get(k) == v for k, v in match.items()):
            l, t, r, b = map(int, re.findall(r"-?\d+", node.get("bounds", "")))
            return l, t, r, b
    raise AssertionError(f"no node with {match} in the UI dump")


def center(bounds: tuple[int, int, int, int]) -> tuple[int, int]:
    l, t, r, b = bounds
    return (l + r) // 2, (t + b) // 2


@pytest.fixture(scope="module")
def video_tokens(tiny_model_path):
    """f(video) -> (video tokens the tiny checkpoint's real processor wrote, tokens vlagent.video
    computed for it)."""
    from vlagent import video as V
    from vlagent.models.transformers_model import TransformersModel

    tiny = TransformersModel(tiny_model_path, max_new_tokens=2).load()

    def count(video: "V.Video") -> tuple[int, int]:
        clip = V.load(video)
        prompt = tiny.render([{"role": "user", "content": [{"type": "video", "video": video},
                                                            {"type": "text", "text": "What changed?"}]}])
        inputs = tiny.inputs(prompt, [], [clip])
        return int((inputs["input_ids"] == tiny.processor.video_token_id).sum()), clip.tokens

    return count
