"""Where the SimPhone suite's episodes run: a fresh SimPhone per episode (`sim`), or phones
already on adb (`adb:SERIAL`), one per worker. `device_slots` turns the --device specs into one
provider per worker; a provider's `open(seed)` is a context manager that yields an AdbDevice."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

from ..errors import UserError


class SimPhones:
    """A fresh SimPhone per episode, seeded by it, connected to the adb server in use.
    animations: the phones' transitions, "off" or "real" (devices/sim/phone/animation.py)."""

    def __init__(self, size: tuple[int, int] = (1080, 2400), *, animations: str = "off", **device_options: Any):
        self.size = size
        self.animations = animations
        self.device_options = {"ime_settle": 0, **device_options}

    @contextlib.contextmanager
    def open(self, seed: int) -> Iterator[Any]:
        from ..devices import AdbDevice
        from ..devices.sim import SimPhoneServer, connect_adb, disconnect_adb

        w, h = self.size
        server = SimPhoneServer(width=w, height=h, density=round(420 * w / 1080), seed=seed,
                                animations=self.animations).start()
        try:
            connect_adb(server)
            try:
                with AdbDevice(server.serial, **self.device_options) as device:
                    yield device
            finally:
                with contextlib.suppress(Exception):
                    disconnect_adb(server)
        finally:
            server.stop()


class AttachedDevice:
    """A device already on adb (`adb:SERIAL`), reused by one worker for all its episodes."""

    def __init__(self, serial: str, **device_options: Any):
        self.serial = serial
        self.device_options = device_options
        self._device: Any = None

    @contextlib.contextmanager
    def open(self, seed: int) -> Iterator[Any]:
        from ..devices import AdbDevice

        if self._device is None:
            self._device = AdbDevice(self.serial, **self.device_options).connect()
        try:
            yield self._device
        except BaseException:
            self._device = None   # reconnect before the next episode
            raise


def device_slots(specs: Sequence[str], jobs: int, sim_size: tuple[int, int], **options: Any) -> list[Any]:
    """One device provider per worker: `sim` gives each worker its own SimPhones, `adb:SERIAL`
    one phone that no other worker shares. `sim:animations=real` gives the SimPhones Android's
    transition times."""
    from ..specs import sim_options

    specs = [s.strip() for s in specs if s.strip()] or ["sim"]
    if len(specs) == 1 and specs[0].partition(":")[0] == "sim":
        return [SimPhones(sim_size, **sim_options(specs[0].partition(":")[2]), **options) for _ in range(jobs)]
    slots: list[Any] = []
    for spec in specs:
        kind, _, arg = spec.partition(":")
        if kind == "sim":
            slots.append(SimPhones(sim_size, **sim_options(arg), **options))
        elif kind == "adb" and arg:
            slots.append(AttachedDevice(arg, **options))
        else:
            raise UserError(f"--device {spec!r}: use sim or adb:SERIAL (comma-separated for several)")
    return slots
