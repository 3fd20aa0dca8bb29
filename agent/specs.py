"""Turning the CLI's `--device` and `--model` strings into objects: a device (`open_device`), a
model (`load_model`), and a scripted `Session` on both (`connect`).

Device specs: `sim[:animations=off|real]`, `adb[:SERIAL]`, `desktop[:MONITOR]`, `image:PATH[,PATH...]`.
Model specs: `scripted:FILE.json`, `tiny`, a local checkpoint directory, a Hugging Face id, or
an OpenAI-compatible server `http(s)://HOST:PORT[/v1][#SERVED_MODEL_NAME]`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .errors import UserError

if TYPE_CHECKING:
    from .grounding import GroundingCache
    from .session import Session

DEVICE_HELP = (
    "sim (a SimPhone on loopback; sim:animations=real for Android's transition times), adb[:SERIAL] (a phone), "
    "desktop[:MONITOR] (this screen), "
    "image:PATH[,PATH...] (fixed screenshots, for dry runs)"
)
MODEL_HELP = (
    "scripted:FILE.json (replay raw outputs), tiny (a random-weight Qwen2-VL built locally: "
    "exercises the pipeline, not a policy), a local checkpoint dir, a Hugging Face id such "
    "as Qwen/Qwen2-VL-2B-Instruct, or a server URL http://HOST:PORT/v1#MODEL (vLLM, SGLang, ...)"
)

PROFILE_HELP = (
    "The model family's trained format (tool calls, coordinates, stop strings): qwen2-vl or "
    "qwen2.5-vl. Default: read from the checkpoint's config.json, or the served model's name "
    "(`vlagent profiles` lists them)."
)

PROMPT_STYLE_HELP = (
    "What the agent writes around the screens: full (its rules, the task, a question after each "
    "screen) or bare (only the task after each screen, for a model fine-tuned on samples exported "
    "with --prompt-style bare). Default: what a checkpoint `vlagent train` made learnt on, else full."
)


def model_options(profile: str | None, max_pixels: int | None, prompt_style: str | None = None) -> dict[str, Any]:
    """The options the CLI's --profile, --max-pixels and --prompt-style give `load_model`."""
    named = {"profile": profile, "max_pixels": max_pixels, "prompt_style": prompt_style}
    return {k: v for k, v in named.items() if v}


ANIMATIONS_HELP = (
    "SimPhone's transitions: off (every change redraws at once: fast, the default) or real (app open/close, "
    "dialogs, the shade and flings take Android's default times; see docs/simphone.md). Only for --device sim."
)


def with_animations(devices: str, animations: str) -> str:
    """`--animations MODE` folded into comma-separated --device specs: each `sim` becomes
    `sim:animations=MODE`, the form that reaches every place a SimPhone is started from a spec."""
    if animations not in ("off", "real"):
        raise UserError(f"--animations {animations!r}: use off or real")
    if animations == "off":
        return devices
    specs = [d.strip() for d in devices.split(",")]
    if any(d.partition(":")[0] != "sim" for d in specs):
        raise UserError("--animations real is for SimPhones (--device sim); a real phone animates as it is set up")
    return ",".join([f"sim:animations={animations}"] * len(specs))


def sim_options(arg: str) -> dict[str, Any]:
    """The Phone options of a `sim:KEY=VALUE` spec (only `animations=off|real` so far)."""
    if not arg:
        return {}
    key, _, value = arg.partition("=")
    if key != "animations" or value not in ("off", "real"):
        raise UserError(f"--device sim:{arg}: the one option is animations=off or animations=real")
    return {"animations": value}


@contextlib.contextmanager
def open_device(spec: str, *, allow_black: bool = False) -> Iterator[Any]:
    """A connected device for `spec`, closed (and a SimPhone stopped) on exit. allow_black: a
    phone hands over all-black frames (secure screens) instead of raising, for a caller that
    handles them itself (the Agent shows the model the UI tree instead)."""
    kind, _, arg = spec.partition(":")
    if kind == "image":
        from .testing import ImageDevice

        paths = [p for p in arg.split(",") if p]
        if not paths:
            raise UserError("--device image: needs at least one file, e.g. image:screen.png")
        with ImageDevice.from_files(*paths) as device:
            yield device
    elif kind == "sim":
        from .devices.adb import AdbDevice
        from .devices.sim import SimPhoneServer, connect_adb, disconnect_adb

        with SimPhoneServer(**sim_options(arg)) as server:
            connect_adb(server)
            try:
                # ime_settle=0: SimPhone's keyboard switch is instant, unlike a real phone's.
                with AdbDevice(server.serial, ime_settle=0, allow_black=allow_black) as device:
                    yield device
            finally:
                disconnect_adb(server)  # else adb keeps retrying a dead "offline" entry
    elif kind == "adb":
        from .devices.adb import AdbDevice

        with AdbDevice(arg or None, allow_black=allow_black) as device:
            yield device
    elif kind == "desktop":
        from .devices.desktop import DesktopDevice

        try:
            monitor = int(arg) if arg else 1
        except ValueError:
            raise UserError(f"--device desktop:{arg}: the monitor must be a number, e.g. desktop:2") from None
        with DesktopDevice(monitor) as device:
            yield device
    else:
        raise UserError(f"unknown device {spec!r}; use one of: {DEVICE_HELP}")


def load_model(spec: str, **options: Any) -> Any:
    """A Model for `spec`; TransformersModel options (pixels, attention) pass through."""
    if spec.startswith("scripted:"):
        from .models.scripted import ScriptedModel

        return ScriptedModel.from_file(spec.removeprefix("scripted:"))
    if spec.startswith(("http://", "https://")):
        from .models.openai_model import OpenAIModel

        url, _, served = spec.partition("#")
        return OpenAIModel(url, served or None, **options)
    from .models.transformers_model import TransformersModel

    if spec == "tiny":
        spec = str(tiny_model_dir())
    adapter_config = Path(spec).expanduser() / "adapter_config.json"
    if adapter_config.is_file():  # `vlagent train --method lora` output: the base it was trained on, plus it
        import json

        base = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
        if not base:
            raise UserError(f"{adapter_config} names no base model (base_model_name_or_path); pass the base "
                            "checkpoint with TransformersModel(BASE, adapter=DIR)")
        return TransformersModel(base, adapter=spec, **options)
    return TransformersModel(spec, **options)


def connect(
    device: Any = "sim",
    model: Any = None,
    *,
    out: str | Path | None = None,
    cache: bool | str | Path | GroundingCache = True,
    settle_timeout: float = 2.0,
    name: str = "script",
) -> "Session":
    """A `Session` on `device`, a spec ("sim", "adb[:SERIAL]", "desktop[:N]", "image:PATH") or a
    connected Device, with `model`, a spec (see `vlagent.load_model`), a Model, or None for
    exact steps and cached groundings only. Closing the session stops a SimPhone it started.

    cache: True for the user cache ($VLAGENT_CACHE or ~/.cache/vlagent/grounding.json), a path,
    a GroundingCache, or False for none. out: a folder to record the session as a trajectory.
    """
    from .session import Session

    stack = contextlib.ExitStack()
    try:
        dev = stack.enter_context(open_device(device)) if isinstance(device, str) else device
        mdl = load_model(model) if isinstance(model, str) else model
        return Session(dev, mdl, out=out, cache=cache, settle_timeout=settle_timeout, name=name, closer=stack)
    except BaseException:
        stack.close()
        raise


def tiny_model_dir() -> Path:
    """The cached tiny random-weight checkpoint, built on first use."""
    cache = Path(os.environ.get("VLAGENT_CACHE", Path.home() / ".cache" / "vlagent"))
    path = cache / "tiny-qwen2-vl-2"  # -2: the checkpoint that limits its answers' length
    if not (path / "config.json").exists():
        from .testing import tiny_checkpoint

        # Build beside and rename, so an interrupted build never leaves a half checkpoint behind.
        partial = cache / f"tiny-qwen2-vl.partial-{os.getpid()}"
        tiny_checkpoint(partial)
        try:
            os.replace(partial, path)
        except OSError:  # another process won the race; its copy is as good as ours
            shutil.rmtree(partial, ignore_errors=True)
    return path
