"""Image work between the device and the model: resize once, exactly as the model's processor would.

The Qwen2-VL image processors in transformers 5 (`Qwen2VLImageProcessor`, a TorchvisionBackend)
turn a PIL screenshot into `pixel_values` like this: `np.array(image)` (Pillow's array interface
repacks the whole frame, and numpy asks for it more than once), a channels-first contiguous copy,
`torchvision.transforms.v2.functional.resize(uint8, smart_resize size, BICUBIC, antialias=True)`,
a float32 copy normalised with `(x - mean*255) / (std*255)`, then a reshape/transpose into
14x14 patches with every patch repeated `temporal_patch_size` (2) times.

The fast path here computes the same numbers with less memory traffic:

- `image_array` reads the frame with one `tobytes()` (no repeated array-interface calls);
- `resize_like_processor` runs the very same torchvision resize (same kernel, same rounding:
  the results are bit-identical) on a channels-last *view* of that array, which is also the
  layout torch's uint8 antialiasing kernel prefers, so no channels-first copy is made;
- `patchify` rearranges the resized uint8 frame into patches first (bytes, not floats), turns
  them into floats once, straight into the output, and normalises in place with the
  processor's own float32 ops (`(v - mean/rescale) / (std/rescale)`, subtract then divide), so
  every value equals the processor's bit for bit; the temporal copy is one memcpy.

`fit_to_model` is what the loop calls: the screenshot at the model's size, resized the same way
the processor would resize the full frame, so the processor (or `pixel_values`) has nothing left
to resize and the model sees the same pixels either way.

torch and torchvision are imported inside the functions: `import vlagent` stays light. Without
torch (an OpenAI-compatible server only), `fit_to_model` falls back to Pillow's bicubic.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any, Sequence

from PIL import Image

from .coords import MAX_RATIO, smart_resize
from .errors import UserError

if TYPE_CHECKING:
    import numpy as np
    import torch

# CLIP's statistics: what Qwen2-VL's image processor ships with.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def fit_to_model(image: Image.Image, min_pixels: int, max_pixels: int) -> Image.Image:
    """`image` in RGB at the smart_resize size, so the processor does not resize it again.

    Resizing here makes the size the model sees known to the loop (Qwen2.5-VL's absolute
    coordinates need it). When torch is loaded (an in-process model) the resize is the
    processor's own (torchvision bicubic with antialiasing on uint8), so the pixels equal those
    the processor makes from the full frame; otherwise Pillow's bicubic.
    """
    image = as_rgb(image)
    ratio = max(image.size) / max(1, min(image.size))
    if ratio > MAX_RATIO:
        raise UserError(f"a {image.width}x{image.height} image cannot go to the model: its sides are "
                        f"{ratio:.0f}:1, and Qwen-VL models take at most {MAX_RATIO}:1; crop or pad it first")
    h, w = smart_resize(image.height, image.width, min_pixels=min_pixels, max_pixels=max_pixels)
    if (w, h) == image.size:
        return image
    if "torch" not in sys.modules:
        # Only an in-process model has torch loaded; for a server or a scripted model, importing
        # it here would cost seconds per process for pixels a few grey levels apart.
        return image.resize((w, h), Image.Resampling.BICUBIC)
    resized = resize_like_processor(image_array(image), (h, w))
    # The resized tensor is channels-last, i.e. an (h, w, 3) contiguous array: one copy into Pillow.
    array = resized.permute(1, 2, 0).numpy()
    return Image.frombuffer("RGB", (w, h), array, "raw", "RGB", 0, 1)


def as_rgb(image: Image.Image) -> Image.Image:
    """RGB as the processor makes it: transparency composited onto white, other modes converted."""
    if image.mode == "RGB":
        return image
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def image_array(image: Image.Image) -> "np.ndarray":
    """An (h, w, 3) uint8 array of an RGB image, in one copy.

    `np.asarray(image)` goes through Pillow's `__array_interface__`, a property that runs
    `tobytes()` each time numpy reads it (several times per conversion): ~4x slower.
    """
    import numpy as np

    image = as_rgb(image)
    return np.frombuffer(image.tobytes(), dtype=np.uint8).reshape(image.height, image.width, 3)


def resize_like_processor(array: "np.ndarray | torch.Tensor", size: tuple[int, int]) -> "torch.Tensor":
    """(3, h, w) uint8 tensor (channels-last in memory) of an (H, W, 3) uint8 array resized to
    `size` = (h, w) with the processor's resize: torchvision bicubic, antialias=True."""
    import torch
    from torchvision.transforms.v2 import functional as tvF

    if isinstance(array, torch.Tensor):
        tensor = array
    else:
        with warnings.catch_warnings():  # read-only frames are fine: nothing writes into them
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(array)
    chw = tensor.permute(2, 0, 1)  # a view: channels-last memory, which the uint8 kernel prefers
    if tuple(chw.shape[-2:]) == tuple(size):
        return chw
    return tvF.resize(chw, list(size), interpolation=tvF.InterpolationMode.BICUBIC, antialias=True)


def patchify(
    resized: "torch.Tensor",
    *,
    patch_size: int = 14,
    merge_size: int = 2,
    temporal_patch_size: int = 2,
    image_mean: Sequence[float] = CLIP_MEAN,
    image_std: Sequence[float] = CLIP_STD,
    rescale_factor: float = 1 / 255,
    out: "torch.Tensor | None" = None,
) -> tuple["torch.Tensor", tuple[int, int, int]]:
    """Qwen2-VL `pixel_values` (patches, channels*temporal*patch*patch) and the (t, h, w) grid
    of a (3, h, w) uint8 image whose sides are multiples of patch_size*merge_size.

    Bit-identical to the processor's: the same float32 ops on the same bytes, in another order
    (bytes are rearranged into patches first, floats are made once, straight into place).
    out: a contiguous float32 (patches, dim) tensor to fill (a slice of a multi-image batch).
    """
    import numpy as np
    import torch

    c, height, width = resized.shape
    gh, gw = height // patch_size, width // patch_size
    if gh * patch_size != height or gw * patch_size != width or gh % merge_size or gw % merge_size:
        raise ValueError(f"{width}x{height} is not a multiple of {patch_size * merge_size}: resize first")
    m, p, n = merge_size, patch_size, gh * gw
    # (h, w, c) bytes -> (grid_h/m, grid_w/m, m, m, c, p, p), the processor's patch order. numpy's
    # strided copy of uint8 is several times faster than torch's for this 7-axis transpose.
    hwc = resized.permute(1, 2, 0).numpy()
    patches = np.ascontiguousarray(
        hwc.reshape(gh // m, m, p, gw // m, m, p, c).transpose(0, 3, 1, 4, 6, 2, 5)
    )
    # The processor's fused rescale+normalise: (v - mean/rescale) / (std/rescale) in float32.
    mean = (torch.tensor(tuple(image_mean)) * (1.0 / rescale_factor)).view(1, c, 1)
    std = (torch.tensor(tuple(image_std)) * (1.0 / rescale_factor)).view(1, c, 1)
    dim = c * temporal_patch_size * p * p
    if out is None:
        out = torch.empty(n, dim, dtype=torch.float32)
    elif tuple(out.shape) != (n, dim) or out.dtype != torch.float32 or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous float32 tensor of shape {(n, dim)}")
    framed = out.view(n, c, temporal_patch_size, p * p)
    first = framed[:, :, 0]
    first.copy_(torch.from_numpy(patches).view(n, c, p * p))  # bytes to floats, in place
    first.sub_(mean).div_(std)
    for t in range(1, temporal_patch_size):  # a still image is its own next frame
        framed[:, :, t].copy_(first)
    return out, (1, gh, gw)


def grid_thw(height: int, width: int, *, min_pixels: int, max_pixels: int, patch_size: int = 14,
             merge_size: int = 2) -> tuple[int, int, int]:
    """The (t, h, w) patch grid of one image of `height` x `width`, as the processor's
    `image_grid_thw` has it: the image resized to multiples of patch_size * merge_size."""
    h, w = smart_resize(height, width, factor=patch_size * merge_size, min_pixels=min_pixels, max_pixels=max_pixels)
    return 1, h // patch_size, w // patch_size


def pixel_values(
    images: Sequence[Image.Image],
    *,
    min_pixels: int,
    max_pixels: int,
    patch_size: int = 14,
    merge_size: int = 2,
    temporal_patch_size: int = 2,
    image_mean: Sequence[float] = CLIP_MEAN,
    image_std: Sequence[float] = CLIP_STD,
    rescale_factor: float = 1 / 255,
    known: Sequence[tuple["torch.Tensor", tuple[int, int, int]] | None] | None = None,
) -> tuple["torch.Tensor", "torch.Tensor"]:
    """(`pixel_values`, `image_grid_thw`) for `images`, equal to the Qwen2-VL processor's.

    known[i], when given, is the (values, grid) this function returned earlier for images[i]
    (the same unchanged image): it is copied into place instead of being computed again. All
    images are written straight into one output tensor, with no concatenation afterwards.
    """
    import torch

    plan: list[tuple[Any, tuple[int, int, int], tuple[int, int] | None]] = []
    for i, image in enumerate(images):
        if known is not None and known[i] is not None:
            values, grid = known[i]
            plan.append((values, tuple(grid), None))
            continue
        array = image_array(image)
        grid = grid_thw(array.shape[0], array.shape[1], min_pixels=min_pixels, max_pixels=max_pixels,
                        patch_size=patch_size, merge_size=merge_size)
        plan.append((array, grid, (grid[1] * patch_size, grid[2] * patch_size)))
    dim = 3 * temporal_patch_size * patch_size * patch_size
    total = sum(t * gh * gw for _, (t, gh, gw), _ in plan)
    out = torch.empty(total, dim, dtype=torch.float32)
    row = 0
    for source, (t, gh, gw), size in plan:
        rows = out[row:row + t * gh * gw]
        if size is None:
            rows.copy_(source)
        else:
            patchify(resize_like_processor(source, size), patch_size=patch_size, merge_size=merge_size,
                     temporal_patch_size=temporal_patch_size, image_mean=image_mean, image_std=image_std,
                     rescale_factor=rescale_factor, out=rows)
        row += t * gh * gw
    return out, torch.tensor([grid for _, grid, _ in plan], dtype=torch.long)


def processor_settings(image_processor: Any) -> dict[str, Any] | None:
    """The keyword arguments of `pixel_values` for a loaded Qwen2-VL image processor, or None
    when it does something the fast path does not reproduce (then use the processor itself)."""
    try:
        resample = int(getattr(image_processor, "resample", 3))
        ok = (
            getattr(image_processor, "do_resize", True)
            and getattr(image_processor, "do_rescale", True)
            and getattr(image_processor, "do_normalize", True)
            and getattr(image_processor, "do_convert_rgb", True)
            and resample == int(Image.Resampling.BICUBIC)
            and hasattr(image_processor, "patchify")  # the transformers 5 torchvision backend
        )
        if not ok:
            return None
        return {
            "patch_size": int(image_processor.patch_size),
            "merge_size": int(image_processor.merge_size),
            "temporal_patch_size": int(image_processor.temporal_patch_size),
            "image_mean": tuple(float(v) for v in image_processor.image_mean),
            "image_std": tuple(float(v) for v in image_processor.image_std),
            "rescale_factor": float(image_processor.rescale_factor),
        }
    except (AttributeError, TypeError, ValueError):
        return None


__all__ = ["fit_to_model", "image_array", "resize_like_processor", "patchify", "pixel_values",
           "processor_settings", "as_rgb"]
