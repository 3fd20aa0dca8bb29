"""SimPhone's `screenrecord`: the phone's screen as a real H.264 video (MP4, 3GPP or a raw H.264
stream), encoded with PyAV's libx264, answering as frameworks/av cmds/screenrecord/screenrecord.cpp
does on Android 14.

- Options (getopt_long, bionic's OpenBSD one: options and the file name in any order, long names
  may be abbreviated): --size WxH, --bit-rate RATE (bits, or `4M`), --time-limit S (default and
  maximum 180), --verbose, --help, --bugreport (accepted; no overlay), --output-format
  mp4|h264|3gpp, --rotate, --display-id, --codec-name, --bframes. A bad option or value: the
  message screenrecord (or getopt) prints, on stderr, exit 2; no file name: `Must specify output
  file (see --help).`, 2; a file it cannot create: `Unable to open 'F': REASON`, 1.
- Frames: variable frame rate, as the virtual display gives them: the first frame at once, then a
  frame whenever the screen changed (polled every POLL_S), stamped with the wall clock since the
  start. The content keeps the display's aspect inside the video size (black bars), as
  setDisplayProjection does.
- It records until the time limit or until the client hangs up (the shell session's `wait`:
  `adb shell screenrecord F` stopped with Ctrl-C): either way the file is finished (the MP4's
  moov written), as the real one does on SIGINT/SIGHUP, then the media scanner is told.
- `--output-format=h264 -` streams the raw H.264 to stdout (`adb exec-out screenrecord
  --output-format=h264 -`), flushed frame by frame.

The phone's lock is only held while a frame is taken (Phone.screenshot), never while encoding or
waiting, so the other connections' commands run meanwhile.
"""

from __future__ import annotations

import io
import re
import time
from fractions import Fraction

from PIL import Image, ImageChops

from ..command import CommandTable

COMMANDS = CommandTable()

MAX_TIME_LIMIT_S = 180            # kMaxTimeLimitSec
MIN_BIT_RATE, MAX_BIT_RATE = 100_000, 200_000_000
DEFAULT_BIT_RATE = 20_000_000     # 20 Mbps
POLL_S = 0.1                      # how often the screen is looked at (the real one: 250 ms dequeue timeouts)
VERSION = "1.3"
_TIME_BASE = Fraction(1, 1000)    # timestamps in ms
_FORMATS = {"mp4": "mp4", "3gpp": "3gp", "h264": "h264"}
_OPTIONS = {"help": False, "verbose": False, "size": True, "bit-rate": True, "time-limit": True,
            "bugreport": False, "show-device-info": False, "show-frame-time": False, "rotate": False,
            "output-format": True, "codec-name": True, "monotonic-time": False, "persistent-surface": False,
            "bframes": True, "display-id": True, "version": False}

USAGE = f"""Usage: screenrecord [options] <filename>

Android screenrecord v{VERSION}.  Records the device's display to a .mp4 file.

Options:
--size WIDTHxHEIGHT
    Set the video size, e.g. "1280x720".  Default is the device's main
    display resolution (if supported), 1280x720 if not.  For best results,
    use a size supported by the AVC encoder.
--bit-rate RATE
    Set the video bit rate, in bits per second.  Value may be specified as
    bits or megabits, e.g. '4000000' is equivalent to '4M'.  Default {{rate}}Mbps.
--bugreport
    Add additional information, such as a timestamp overlay, that is helpful
    in videos captured to illustrate bugs.
--time-limit TIME
    Set the maximum recording time, in seconds.  Default / maximum is {{limit}}.
--display-id ID
    specify the physical display ID to record. Default is the primary display.
    see "dumpsys SurfaceFlinger --display-id" for valid display IDs.
--verbose
    Display interesting information on stdout.
--version
    Show Android screenrecord version.
--help
    Show this message.

Recording continues until Ctrl-C is hit or the time limit is reached.

"""


class _Stop(Exception):
    def __init__(self, message: str, status: int):
        self.message, self.status = message, status


def _strtol(text: str) -> tuple[int, str]:
    """C's strtol in base 10: the number at the start (0 if none) and what follows it."""
    m = re.match(r"\s*[+-]?\d+", text)
    return (int(m.group()), text[m.end():]) if m else (0, text)


def _getopt(args: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """getopt_long with no short options, permuting: (options, the other words)."""
    opts: dict[str, str | bool] = {}
    words: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--":
            words.extend(it)
            break
        if not a.startswith("-") or a == "-":
            words.append(a)
            continue
        if not a.startswith("--"):
            raise _Stop(f"screenrecord: unknown option -- {a[1]}\n", 2)
        name, eq, value = a[2:].partition("=")
        matches = [o for o in _OPTIONS if o == name] or [o for o in _OPTIONS if o.startswith(name)]
        if len(matches) != 1:
            raise _Stop(f"screenrecord: {'ambiguous' if matches else 'unknown'} option -- {name}\n", 2)
        option = matches[0]
        if not _OPTIONS[option]:
            if eq:
                raise _Stop(f"screenrecord: option doesn't take an argument -- {name}\n", 2)
            opts[option] = True
            continue
        if not eq:
            value = next(it, None)
            if value is None:
                raise _Stop(f"screenrecord: option requires an argument -- {option}\n", 2)
        opts[option] = value
    return opts, words


class _Settings:
    def __init__(self, opts: dict):
        self.verbose = bool(opts.get("verbose"))
        self.size: tuple[int, int] | None = None
        self.bit_rate = DEFAULT_BIT_RATE
        self.time_limit = MAX_TIME_LIMIT_S
        self.format = "mp4"
        if "size" in opts:
            text = opts["size"]
            w, rest = _strtol(text)
            if rest == text or not rest.startswith("x") or rest == "x":
                raise _Stop(f"Invalid size '{text}', must be width x height\n", 2)
            h, end = _strtol(rest[1:])
            if end:
                raise _Stop(f"Invalid size '{text}', must be width x height\n", 2)
            if w == 0 or h == 0:
                raise _Stop(f"Invalid size {w & 0xFFFFFFFF}x{h & 0xFFFFFFFF}, width and height may not be zero\n", 2)
            self.size = (w, h)
        if "bit-rate" in opts:
            value, rest = _strtol(opts["bit-rate"])
            if rest.upper() == "M":
                value *= 1_000_000
            elif rest:
                raise _Stop(f"Unrecognized value: {opts['bit-rate']}\n", 2)
            if not MIN_BIT_RATE <= value <= MAX_BIT_RATE:
                raise _Stop(f"Bit rate {value}bps outside acceptable range [{MIN_BIT_RATE},{MAX_BIT_RATE}]\n", 2)
            self.bit_rate = value
        if "time-limit" in opts:
            value = _strtol(opts["time-limit"])[0]   # atoi
            if not 1 <= value <= MAX_TIME_LIMIT_S:
                raise _Stop(f"Time limit {value}s outside acceptable range [1,{MAX_TIME_LIMIT_S}]\n", 2)
            self.time_limit = value
        if "output-format" in opts:
            if opts["output-format"] not in _FORMATS:
                raise _Stop(f"Unknown format '{opts['output-format']}'\n", 2)
            self.format = opts["output-format"]


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The display inside a video of `size`, its aspect kept and centred (setDisplayProjection)."""
    if image.size == size:
        return image
    vw, vh = size
    aspect = image.height / image.width
    if vh > int(vw * aspect):
        ow, oh = vw, int(vw * aspect)
    else:
        ow, oh = int(vh / aspect), vh
    canvas = Image.new("RGB", size, (0, 0, 0))
    canvas.paste(image.resize((max(1, ow), max(1, oh)), Image.Resampling.BILINEAR), ((vw - ow) // 2, (vh - oh) // 2))
    return canvas


class _StdoutWriter(io.RawIOBase):
    """stdout as a file PyAV writes the raw stream to."""

    def __init__(self, io_):
        self.io_ = io_

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.io_.out(bytes(data))
        return len(data)


class _Encoder:
    def __init__(self, target, fmt: str, size: tuple[int, int], bit_rate: int):
        import av   # PyAV: imported when a recording starts, so the shell loads without it

        self.container = av.open(target, "w", format=_FORMATS[fmt])
        self.stream = self.container.add_stream("libx264", options={"preset": "ultrafast"})
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.stream.bit_rate = bit_rate
        self.stream.codec_context.time_base = _TIME_BASE
        self.size = size
        self.frames = 0
        self._last_pts = -1
        self._av = av

    def add(self, image: Image.Image, seconds: float) -> None:
        frame = self._av.VideoFrame.from_image(_fit(image.convert("RGB"), self.size))
        frame.pts = self._last_pts = max(self._last_pts + 1, int(seconds * 1000))
        frame.time_base = _TIME_BASE
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()


_READ_ONLY = ("/system", "/vendor", "/product", "/apex")   # mounted read-only; the rest is just not the shell's


def _open_error(e: OSError, path: str) -> str:
    if isinstance(e, PermissionError):
        return "Read-only file system" if path.startswith(_READ_ONLY) else "Permission denied"
    return {FileNotFoundError: "No such file or directory", IsADirectoryError: "Is a directory"}.get(
        type(e), "Permission denied")


@COMMANDS.add("screenrecord")
def _screenrecord(sh, args, io_):
    try:
        opts, words = _getopt(args)
        if opts.get("help"):
            io_.err(USAGE.format(rate=DEFAULT_BIT_RATE // 1_000_000, limit=MAX_TIME_LIMIT_S))
            return 0
        if opts.get("version"):
            io_.out(f"{VERSION}\n")
            return 0
        settings = _Settings(opts)
        if len(words) != 1:
            raise _Stop("Must specify output file (see --help).\n", 2)
    except _Stop as stop:
        io_.err(stop.message)
        return stop.status
    name = words[0]
    to_stdout = name == "-" and settings.format == "h264"
    path = None if to_stdout else sh.fs.norm(name)
    if to_stdout and settings.verbose:
        io_.err("ERROR: verbose output and '-' not compatible")
        return 255
    if path is not None:
        try:
            if not sh.fs.is_file(path):
                sh.fs.write(path, b"", mode=0o644)   # open(O_CREAT): a better message than the muxer's
        except OSError as e:
            if settings.format != "mp4":
                io_.err(f"fopen raw failed: {_open_error(e, path)}\n")
                return 255
            io_.err(f"Unable to open '{name}': {_open_error(e, path)}\n")
            return 1
    return _record(sh, io_, settings, name, path)


def _record(sh, io_, settings: _Settings, name: str, path: str | None) -> int:
    phone, session = sh.phone, sh.session
    display = phone.screenshot()
    w, h = display.size
    size = settings.size or (w & ~1, h & ~1)
    say = io_.out if settings.verbose else (lambda _text: None)
    rotation = ("ROTATION_0", "ROTATION_90", "ROTATION_180", "ROTATION_270")[phone.rotation]
    say(f"Display is {w}x{h} @60.00fps (orientation={rotation}), layerStack=0\n")
    say(f"Configuring recorder for {size[0]}x{size[1]} video/avc at {settings.bit_rate / 1e6:.2f}Mbps\n")
    aspect = h / w
    vw, vh = size
    ow, oh = (vw, int(vw * aspect)) if vh > int(vw * aspect) else (int(vh / aspect), vh)
    say(f"Content area is {ow}x{oh} at offset x={(vw - ow) // 2} y={(vh - oh) // 2}\n")
    session.flush()
    target = _StdoutWriter(io_) if path is None else io.BytesIO()
    encoder = _Encoder(target, settings.format, size, settings.bit_rate)
    start = time.monotonic()
    deadline = start + settings.time_limit
    last = None
    try:
        while True:
            if last is not None:
                display = phone.screenshot()
            now = time.monotonic()
            if last is None or display.size != last.size or ImageChops.difference(display, last).getbbox():
                encoder.add(display, now - start)
                if path is None:
                    session.flush()
            last = display
            if now >= deadline:
                say("Time limit reached\n")
                break
            if session.wait(min(POLL_S, deadline - now)):
                break   # the client hung up: SIGHUP, gStopRequested
    finally:
        say(f"Encoder stopping; recorded {encoder.frames} frames in {int(time.monotonic() - start)} seconds\n")
        say("Stopping encoder and muxer\n")
        encoder.close()
        if path is not None:
            sh.fs.write(path, target.getvalue())
    if path is not None:
        _notify_media_scanner(sh, io_, settings.verbose, path)
    return 0


def _notify_media_scanner(sh, io_, verbose: bool, path: str) -> None:
    argv = ["broadcast", "-a", "android.intent.action.MEDIA_SCANNER_SCAN_FILE", "-d", f"file://{path}"]
    if verbose:
        io_.out("Executing: /system/bin/am " + " ".join(argv) + "\n")
        sh.commands["am"](sh, argv, io_)
