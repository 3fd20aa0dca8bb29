"""What outlives one shell command on a SimPhone: the phone, its filesystem, the enabled input
methods, the injected phone-side faults, the count of input events, the server's hooks for
transport-level faults, and what Android's services keep that the Phone does not model: granted
runtime permissions (pm grant), task ids (am stack, dumpsys activity) and the log buffer (logcat).

Input events are counted where an adb client's input arrives: one per `input` command (or
`cmd input ...`) that ran, and one per ADBKeyboard broadcast the IME took. So a Tap, a key or a
swipe is one event and a TypeText is one per `input text` chunk. Commands that failed before
touching the phone (bad arguments, a character `input text` cannot type) are not counted. The
count only grows (a phone reset does not zero it), so a test compares it before and after to
prove an action reached the phone exactly once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .fs import FakeFS


@dataclass
class Faults:
    slow_screencap_ms: int = 0
    truncate_next_screencap: int = 0  # how many of the next frames come out cut short
    # How many of the next input events run and then lose the transport before their reply is
    # out: the client cannot tell whether they happened (the worst case for duplicates).
    drop_after_input: int = 0


@dataclass
class DeviceState:
    """What outlives one command: the phone, the filesystem, enabled IMEs, injected faults, the
    input events received, and the server's hooks for transport-level faults (drop, offline,
    unauthorized, and drop-now: the transport goes at once, before the running command's reply)."""

    phone: Any
    fs: FakeFS = field(default_factory=FakeFS)
    faults: Faults = field(default_factory=Faults)
    enabled_imes: set[str] = field(default_factory=lambda: {"com.android.inputmethod.latin/.LatinIME"})
    on_transport_fault: Callable[[str, list[str]], None] | None = None
    on_clear: Callable[[], None] | None = None
    input_events: int = 0
    permissions: dict[str, set[str]] = field(default_factory=dict)   # package -> granted runtime permissions
    task_ids: dict[str, int] = field(default_factory=dict)           # package -> its task's id while it runs
    next_task_id: int = 12
    # logcat's buffer (commands/logcat.py); None until the first line: boot's lines come first
    log: list[tuple] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The package installer reads the APKs adb pushed (a stand-in phone in tests may lack it).
        if hasattr(self.phone, "attach_files"):
            self.phone.attach_files(self.fs)

    def reset_faults(self) -> None:
        """The phone-side faults back to none: frames neither slow nor cut short, no secure
        window, no drop armed after an input."""
        self.faults.slow_screencap_ms = 0
        self.faults.truncate_next_screencap = 0
        self.faults.drop_after_input = 0
        self.phone.secure = False

    def reset_episode(self) -> None:
        """`cmd simphone reset`: what a freshly booted phone has (no grants, no tasks, a new log)."""
        self.permissions.clear()
        self.task_ids.clear()
        self.next_task_id = 12
        self.log = None

    def count_input(self) -> bool:
        """Count one input event the phone just ran (commands run on several stream threads).
        When an armed drop-after-input takes it, the transport goes now, before the reply, and
        True says so: the command then ends its session (ShellExit), as adbd's SIGHUP would, so
        the rest of the command line never runs and the client cannot tell what happened."""
        with self._lock:
            self.input_events += 1
            fire = self.faults.drop_after_input > 0
            if fire:
                self.faults.drop_after_input -= 1
        if fire and self.on_transport_fault is not None:
            self.on_transport_fault("drop-now", [])
        return fire
