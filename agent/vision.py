"""Image work between the device and the model: resize once to what the model will see."""

from __future__ import annotations

from PIL import Image

from .coords import smart_resize


def fit_to_model(image: Image.Image, min_pixels: int, max_pixels: int) -> Image.Image:
    """`image` in RGB at the smart_resize size, so the processor does not resize it again.

    Resizing here (bicubic, as the Qwen2-VL processors do) makes the size the model sees known
    to the loop, which Qwen2.5-VL's absolute coordinates need.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    h, w = smart_resize(image.height, image.width, min_pixels=min_pixels, max_pixels=max_pixels)
    if (w, h) == image.size:
        return image
    return image.resize((w, h), Image.Resampling.BICUBIC)
