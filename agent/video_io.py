"""Video files with PyAV: reading the frames `vlagent.video` picks, and writing frames as an MP4.

A file is read as a constant-rate stream of `total_frames` at `fps`, as the reference readers
(decord, torchvision) see one. Screen recordings are not constant-rate: Android's screenrecord
(and SimPhone's) writes a frame only when the screen changed. Such a file is read as what was on
the screen every 1/VFR_FPS second (each instant shows the last frame written before it), so
frames are picked by time, not by their number in the file.

PyAV is imported inside the functions: `import vlagent` stays light.
"""

from __future__ import annotations

import bisect
import io
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .errors import UserError

if TYPE_CHECKING:
    import numpy as np

VFR_FPS = 10  # the rate a variable-rate recording is read at
_STEADY = 0.25  # a gap within this share of a frame from 1/fps is steady


class VideoFile:
    """A video file's frame timeline: `total_frames` at `fps`, and the frames at given numbers."""

    def __init__(self, path: str | Path) -> None:
        import av

        self.path = str(path)
        try:
            with av.open(self.path) as container:
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate
                times = sorted(float(p.pts * p.time_base) for p in container.demux(stream)
                               if p.pts is not None and p.size)
                duration = container.duration / 1_000_000 if container.duration else None
        except (OSError, IndexError, av.FFmpegError) as e:
            raise UserError(f"cannot read video {self.path}: {e}") from None
        if not times:
            raise UserError(f"video {self.path} has no frames")
        start = times[0]
        self._times = [t - start for t in times]
        gaps = [b - a for a, b in zip(self._times, self._times[1:])]
        steady = rate is not None and all(abs(g * float(rate) - 1) <= _STEADY for g in gaps)
        if steady:
            self.fps, self.total_frames, self._step = float(rate), len(times), None
        else:
            end = max(duration or 0.0, self._times[-1] + 1 / VFR_FPS)
            self.fps, self._step = float(VFR_FPS), 1 / VFR_FPS
            self.total_frames = max(2, round(end * VFR_FPS))

    def _source_frame(self, index: int) -> int:
        """The frame of the file on screen at timeline frame `index`."""
        if self._step is None:
            return index
        return max(0, bisect.bisect_right(self._times, index * self._step + 1e-6) - 1)

    def frames(self, indices: Sequence[int]) -> "np.ndarray":
        """(len(indices), h, w, 3) uint8 RGB frames at these timeline frame numbers."""
        import av
        import numpy as np

        wanted = [self._source_frame(i) for i in indices]
        keep = set(wanted)
        decoded: dict[int, Any] = {}
        with av.open(self.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for n, frame in enumerate(container.decode(stream)):
                if n in keep:
                    decoded[n] = frame.to_ndarray(format="rgb24")
                if n >= max(keep):
                    break
        missing = keep - decoded.keys()
        if missing:
            raise UserError(f"video {self.path} ended before frame {min(missing)}")
        return np.stack([decoded[n] for n in wanted])


def open_video(path: str | Path) -> VideoFile:
    if not Path(path).is_file():
        raise UserError(f"no video file {path}")
    return VideoFile(path)


def write_mp4(frames: Sequence[Any], fps: float, target: str | Path | io.BytesIO, *, crf: int = 18) -> None:
    """Encode `frames` (PIL images or (h, w, 3) uint8 arrays, one size) as an H.264 MP4 at a
    constant `fps`. Odd sides are cut by one pixel (4:2:0 colour needs even ones)."""
    import av
    import numpy as np
    from PIL import Image

    if not frames:
        raise UserError("no frames to write")
    arrays = [np.asarray(f.convert("RGB")) if isinstance(f, Image.Image) else np.asarray(f) for f in frames]
    height, width = (arrays[0].shape[0] // 2) * 2, (arrays[0].shape[1] // 2) * 2
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(target, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf)}
        for i, array in enumerate(arrays):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array[:height, :width, :3]), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def mp4_bytes(frames: Sequence[Any], fps: float) -> bytes:
    buffer = io.BytesIO()
    write_mp4(frames, fps, buffer)
    return buffer.getvalue()
