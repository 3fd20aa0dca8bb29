"""Video in: a clip for the model, its frames picked and sized by qwen-vl-utils' video rules.

A `Video` is a message part's payload: {"type": "video", "video": Video(...)} (or, as in
qwen-vl-utils' messages, {"type": "video", "video": PATH_OR_FRAMES, "fps": 1.0, ...}: the
other keys become the Video's fields, `from_part`). Its source is a video file (decoded with
PyAV, `video_io`) or a list of frames (PIL images, taken `sample_fps` apart).

The rules, as the Qwen2-VL family was trained and as qwen-vl-utils 0.0.14 applies them (the
tests compare every number here with its functions over a table):

- a file: `fps` frames per second of it (default 2), at least `min_frames` (4) and at most
  `max_frames` (768, and never more than the file has), an even count (FRAME_FACTOR: two
  frames make one temporal patch); or exactly `nframes` (rounded to even). The picked frames
  are spread evenly over [start, end] (default: the whole file).
- a list of frames: all of them, the last repeated to an even count; each frame is first
  fitted on its own as an image (qwen-vl-utils does this with a 56-pixel factor, twice the
  video's: kept, so the sizes and pixels stay the reference's).
- every frame gets one size, smart_resize's (factor 28) within [min_pixels, max_pixels], where
  max_pixels is at most 768 tokens' worth per frame and at most total_pixels (default: 90% of a
  128k-token context) spread over the frames, and never under 1.05 x min_pixels.

The model then sees t/2 x h/14 x w/14 patches, merged 2x2: `Clip.tokens`.

numpy (and torch, when present) are imported inside the functions: `import vlagent` stays light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .coords import smart_resize
from .errors import UserError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

FRAME_FACTOR = 2          # frames per temporal patch: counts are even
FPS = 2.0                 # frames taken per second of a file, unless told
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768
PATCH_SIZE = 14
MERGE_SIZE = 2
SIZE_FACTOR = PATCH_SIZE * MERGE_SIZE  # 28
VIDEO_MIN_TOKENS = 128    # per frame
VIDEO_MAX_TOKENS = 768    # per frame
MODEL_SEQ_LEN = 128_000   # the context the default total_pixels leaves 10% of for text
FRAMES_SAMPLE_FPS = 2.0   # the rate a list of frames was taken at, unless told
# Image limits qwen-vl-utils' image fitting uses on each frame of a list.
IMAGE_MIN_TOKENS, IMAGE_MAX_TOKENS = 4, 16384

VIDEO_MIN_PIXELS = VIDEO_MIN_TOKENS * SIZE_FACTOR ** 2
VIDEO_MAX_PIXELS = VIDEO_MAX_TOKENS * SIZE_FACTOR ** 2
VIDEO_TOTAL_PIXELS = MODEL_SEQ_LEN * SIZE_FACTOR ** 2 * 0.9


@dataclass
class Video:
    """What the model is shown: `source` (a video file's path, or a list of PIL frames) and how.

    fps / nframes: frames taken per second of a file, or exactly this many (not both).
    min_frames / max_frames: bounds on the count `fps` gives.
    min_pixels / max_pixels: each frame's pixel budget; total_pixels: the whole clip's.
    start / end: the seconds of the file to take frames from.
    sample_fps: for a list of frames, how many were taken per second (the model is told).
    """

    source: Any
    fps: float | None = None
    nframes: int | None = None
    min_frames: int | None = None
    max_frames: int | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    total_pixels: float | None = None
    start: float | None = None
    end: float | None = None
    sample_fps: float = FRAMES_SAMPLE_FPS

    def __post_init__(self) -> None:
        if self.fps is not None and self.nframes is not None:
            raise UserError("a video takes fps or nframes, not both")
        if isinstance(self.source, (str, Path)):
            self.source = str(self.source)
        elif isinstance(self.source, Sequence) and self.source:
            self.source = list(self.source)
        else:
            raise UserError(f"a video is a file path or a non-empty list of frames, not {type(self.source).__name__}")

    @property
    def is_file(self) -> bool:
        return isinstance(self.source, str)

    def __repr__(self) -> str:
        what = self.source if self.is_file else f"{len(self.source)} frames"
        return f"Video({what!r})"


_FIELDS = {f.name for f in fields(Video)} - {"source"}
# qwen-vl-utils' message keys that are spelled differently here.
_ALIASES = {"video_start": "start", "video_end": "end"}


def from_part(part: dict[str, Any]) -> Video:
    """The Video a {"type": "video", "video": ...} message part describes."""
    value = part.get("video")
    if isinstance(value, Video):
        return value
    options = {_ALIASES.get(k, k): v for k, v in part.items() if _ALIASES.get(k, k) in _FIELDS}
    return Video(value, **options)


def video_parts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The video parts of `messages`, in order."""
    return [part for m in messages if isinstance(m.get("content"), list)
            for part in m["content"] if isinstance(part, dict) and part.get("type") == "video"]


# -- how many frames, which ones ------------------------------------------------------------

def _even_down(x: float) -> int:
    return math.floor(x / FRAME_FACTOR) * FRAME_FACTOR


def _even_up(x: float) -> int:
    return math.ceil(x / FRAME_FACTOR) * FRAME_FACTOR


def frame_count(total_frames: int, video_fps: float, *, fps: float | None = None, nframes: int | None = None,
                min_frames: int | None = None, max_frames: int | None = None) -> int:
    """How many of a file's `total_frames` (recorded at `video_fps`) the model sees (qwen-vl-utils'
    smart_nframes)."""
    if fps is not None and nframes is not None:
        raise UserError("a video takes fps or nframes, not both")
    if nframes is not None:
        count = round(nframes / FRAME_FACTOR) * FRAME_FACTOR
    else:
        low = _even_up(FPS_MIN_FRAMES if min_frames is None else min_frames)
        high = _even_down(min(FPS_MAX_FRAMES, total_frames) if max_frames is None else max_frames)
        wanted = total_frames / video_fps * (FPS if fps is None else fps)
        count = _even_down(min(max(wanted, low), high, total_frames))
    if not FRAME_FACTOR <= count <= total_frames:
        raise UserError(f"a video of {total_frames} frames cannot give {count}: the model needs an even "
                        f"number of frames from {FRAME_FACTOR} to {total_frames}")
    return count


def frame_range(total_frames: int, video_fps: float, start: float | None = None,
                end: float | None = None) -> tuple[int, int, int]:
    """(first, last, count) of the frames between `start` and `end` seconds (clamped to the file)."""
    if video_fps <= 0 or total_frames <= 0:
        raise UserError(f"a video needs frames and a positive frame rate (got {total_frames} at {video_fps})")
    if start is None and end is None:
        return 0, total_frames - 1, total_frames
    length = total_frames / video_fps
    first = math.ceil(max(0.0, min(start, length)) * video_fps) if start is not None else 0
    last = total_frames - 1
    if end is not None:
        last = min(math.floor(max(0.0, min(end, length)) * video_fps), last)
    if first >= last:
        raise UserError(f"the video's {start or 0}s..{end if end is not None else length}s hold no frames "
                        f"(it is {length:.2f}s, {total_frames} frames at {video_fps:g} fps)")
    return first, last, last - first + 1


def frame_indices(first: int, last: int, count: int) -> list[int]:
    """`count` frame numbers spread evenly from `first` to `last`, rounded half to even, with the
    float32 steps torch.linspace takes (the reference samples with it)."""
    import numpy as np

    if count == 1:
        return [first]
    step = np.float32((last - first) / (count - 1))
    i = np.arange(count)
    half = count // 2
    # torch fills the first half counting up from `first` and the rest counting down from `last`
    values = np.where(i < half, np.float32(first) + step * i.astype(np.float32),
                      np.float32(last) - step * (count - 1 - i).astype(np.float32)).astype(np.float32)
    return [int(v) for v in np.round(values)]


# -- how big -----------------------------------------------------------------------------------

def frame_size(height: int, width: int, nframes: int, *, min_pixels: int | None = None,
               max_pixels: int | None = None, total_pixels: float | None = None) -> tuple[int, int]:
    """(h, w) every one of `nframes` frames of `height` x `width` is resized to."""
    low = VIDEO_MIN_PIXELS if min_pixels is None else min_pixels
    total = VIDEO_TOTAL_PIXELS if total_pixels is None else total_pixels
    high = max(min(VIDEO_MAX_PIXELS, total / nframes * FRAME_FACTOR), int(low * 1.05))
    if max_pixels is not None:
        high = min(max_pixels, high)
    return smart_resize(height, width, factor=SIZE_FACTOR, min_pixels=low, max_pixels=high)


def listed_frame_size(height: int, width: int, video: Video) -> tuple[int, int]:
    """(h, w) one frame of a list is first fitted to, as an image (qwen-vl-utils' factor 56)."""
    factor = 2 * SIZE_FACTOR
    low = IMAGE_MIN_TOKENS * factor ** 2 if video.min_pixels is None else video.min_pixels
    high = IMAGE_MAX_TOKENS * factor ** 2 if video.max_pixels is None else video.max_pixels
    return smart_resize(height, width, factor=factor, min_pixels=low, max_pixels=high)


# -- the clip ----------------------------------------------------------------------------------

@dataclass
class Clip:
    """The frames the model sees: (t, h, w, 3) uint8, sized; `fps`: frames per second of them."""

    frames: "np.ndarray"
    fps: float
    indices: list[int] = field(default_factory=list)  # frame numbers in the source

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of every frame."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    @property
    def grid(self) -> tuple[int, int, int]:
        """(t, h, w) in patches, as the processor's video_grid_thw."""
        t, h, w = self.frames.shape[:3]
        return t // FRAME_FACTOR, h // PATCH_SIZE, w // PATCH_SIZE

    @property
    def tokens(self) -> int:
        """How many video tokens the model reads for it (2x2 patches merged into one)."""
        t, h, w = self.grid
        return t * h * w // MERGE_SIZE ** 2

    def images(self) -> list["Image.Image"]:
        from PIL import Image

        return [Image.fromarray(f) for f in self.frames]


def load(video: Video | str | Path | Sequence[Any]) -> Clip:
    """The frames of `video` the model sees, picked and sized by the rules above."""
    import numpy as np

    from . import video_io

    video = video if isinstance(video, Video) else Video(video)
    if video.is_file:
        source = video_io.open_video(video.source)
        first, last, total = frame_range(source.total_frames, source.fps, video.start, video.end)
        count = frame_count(total, source.fps, fps=video.fps, nframes=video.nframes,
                            min_frames=video.min_frames, max_frames=video.max_frames)
        indices = frame_indices(first, last, count)
        frames = source.frames(indices)
        height, width = frames.shape[1:3]
        size = frame_size(height, width, count, min_pixels=video.min_pixels, max_pixels=video.max_pixels,
                          total_pixels=video.total_pixels)
        return Clip(_resize(frames, size), count / max(total, 1e-6) * source.fps, indices)
    from .vision import as_rgb, image_array

    images = [as_rgb(_as_image(f)) for f in video.source]
    first_size = listed_frame_size(images[0].height, images[0].width, video)
    # Pillow's bicubic, as qwen-vl-utils fits each frame of a list before the video resize
    arrays = [image_array(im.resize(first_size[::-1], _bicubic())) for im in images]
    arrays += [arrays[-1]] * (_even_up(len(arrays)) - len(arrays))
    frames = np.stack(arrays)
    size = frame_size(*first_size, len(arrays), min_pixels=video.min_pixels, max_pixels=video.max_pixels,
                      total_pixels=video.total_pixels)
    return Clip(_resize(frames, size), video.sample_fps, list(range(len(arrays))))


def _as_image(frame: Any) -> "Image.Image":
    from PIL import Image

    if isinstance(frame, Image.Image):
        return frame
    if isinstance(frame, (str, Path)):
        with Image.open(frame) as im:
            return im.convert("RGB")
    return Image.fromarray(frame)


def _bicubic() -> Any:
    from PIL import Image

    return Image.Resampling.BICUBIC


def _resize(frames: "np.ndarray", size: tuple[int, int]) -> "np.ndarray":
    """(t, h, w, 3) uint8 frames at `size` = (h, w): torchvision's (v1) bicubic with
    antialiasing on uint8, the reference's resize (v2's uint8 kernel rounds some pixels
    differently), or Pillow's bicubic without torch."""
    import numpy as np

    if tuple(frames.shape[1:3]) == tuple(size):
        return frames
    try:
        import torch
        from torchvision.transforms import functional as tvF
    except ImportError:
        from PIL import Image

        return np.stack([np.asarray(Image.fromarray(f).resize(size[::-1], _bicubic())) for f in frames])
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    out = tvF.resize(tensor, list(size), interpolation=tvF.InterpolationMode.BICUBIC, antialias=True)
    return out.permute(0, 2, 3, 1).contiguous().numpy()
