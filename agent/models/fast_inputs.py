"""The fast preprocess path of TransformersModel: the processor's inputs, made with fewer copies.

Screenshots become `pixel_values` through `vlagent.vision` (the processor's own resize and
normalisation, bit-identical), reusing the values of images seen or prepared before
(`PixelCache`), and the prompt is tokenized turn by turn (`TurnTokenizer`) with one placeholder
per image that is then widened at the id level, instead of the tokenizer splitting a string of
~1,300 `<|image_pad|>` per screenshot. Where it cannot be sure to match the processor it says
so (None) and the caller takes the stock path.

torch, transformers and PIL are imported inside the methods (see transformers_model).
"""

from __future__ import annotations

from typing import Any

from .pixel_cache import PixelCache, Values
from .prompt_tokens import TurnTokenizer


class FastInputs:
    """What the fast path keeps between calls: pixel values per screenshot and per-turn token ids."""

    def __init__(self) -> None:
        self.pixels = PixelCache()
        self.turn_tokens: TurnTokenizer | None = None

    def build(self, processor: Any, prompt: str, images: list[Any], *, min_pixels: int, max_pixels: int,
              lazy_pixels: bool = False) -> Any:
        """The inputs `processor` makes of `prompt` and `images`, made faster; None where it
        cannot be sure to match (an unusual processor or tokenizer, a placeholder count that does
        not add up). lazy_pixels: `pixel_values` is a `LazyPixelValues`, whose rows are made per
        image when asked for (see there)."""
        import torch
        from PIL import Image
        from transformers import BatchFeature

        from .. import vision

        image_processor = getattr(processor, "image_processor", None)
        settings = vision.processor_settings(image_processor) if image_processor is not None else None
        image_token = getattr(processor, "image_token", None)
        image_token_id = getattr(processor, "image_token_id", None)
        if settings is None or image_token is None or image_token_id is None:
            return None
        factor = settings["patch_size"] * settings["merge_size"]
        if not all(isinstance(im, Image.Image) and min(im.size) >= factor for im in images):
            # paths, URLs, arrays: the processor reads them; slivers thinner than one 28-pixel
            # cell: qwen-vl-utils' smart_resize (ours) and transformers' round them differently
            return None
        if self.turn_tokens is None or self.turn_tokens.tokenizer is not processor.tokenizer:
            self.turn_tokens = TurnTokenizer(processor.tokenizer)
        ids = torch.tensor([self.turn_tokens.ids(prompt)], dtype=torch.long)
        if int((ids == image_token_id).sum()) != len(images) or prompt.count(image_token) != len(images):
            return None
        data: dict[str, Any] = {}
        if images:
            if lazy_pixels:
                grid = self._grid(images, settings, min_pixels, max_pixels)
                pixel_values = LazyPixelValues(self, images, grid, settings, min_pixels, max_pixels)
            else:
                pixel_values, grid = self._pixel_values(images, settings, min_pixels, max_pixels)
            # One placeholder per image becomes t*h*w / merge² of them, as the processor writes.
            repeats = torch.ones_like(ids[0])
            per_image = (grid.prod(-1) // settings["merge_size"] ** 2).to(repeats.dtype)
            repeats[ids[0] == image_token_id] = per_image
            ids = torch.repeat_interleave(ids[0], repeats).unsqueeze(0)
            data.update(pixel_values=pixel_values, image_grid_thw=grid)
        data["input_ids"] = ids
        data["attention_mask"] = torch.ones_like(ids)
        if getattr(processor, "return_mm_token_type_ids", False):
            kinds = torch.zeros_like(ids)
            kinds[ids == image_token_id] = 1
            video_token_id = getattr(processor, "video_token_id", None)
            if video_token_id is not None:
                kinds[ids == video_token_id] = 2
            data["mm_token_type_ids"] = kinds
        return BatchFeature(data)

    def _pixel_values(self, images: list[Any], settings: dict[str, Any], min_pixels: int,
                      max_pixels: int) -> tuple[Any, Any]:
        """vision.pixel_values, reusing the values of images seen before (see PixelCache)."""
        from .. import vision

        values, grid = self.pixels.batch(images) or vision.pixel_values(
            images, min_pixels=min_pixels, max_pixels=max_pixels, known=self.pixels.known(images), **settings)
        self.pixels.remember(images, values, grid)
        return values, grid

    def _grid(self, images: list[Any], settings: dict[str, Any], min_pixels: int, max_pixels: int) -> Any:
        """image_grid_thw for `images`, from their sizes alone."""
        import torch

        from .. import vision

        return torch.tensor([vision.grid_thw(im.height, im.width, min_pixels=min_pixels, max_pixels=max_pixels,
                                             patch_size=settings["patch_size"], merge_size=settings["merge_size"])
                             for im in images], dtype=torch.long)

    def prepare(self, processor: Any, image: Any, *, min_pixels: int, max_pixels: int) -> None:
        """Make `image`'s pixel values now, for the `build` that shows it (nothing for an image
        the fast path does not take)."""
        from PIL import Image

        from .. import vision

        settings = vision.processor_settings(getattr(processor, "image_processor", None))
        if settings is None or not isinstance(image, Image.Image):
            return
        self.pixels.prepare(image, lambda im: one_image(im, settings, min_pixels, max_pixels))


def one_image(image: Any, settings: dict[str, Any], min_pixels: int, max_pixels: int) -> Values:
    """One image's pixel values and (t, h, w) grid, as the PixelCache keeps them."""
    from .. import vision

    values, grid = vision.pixel_values([image], min_pixels=min_pixels, max_pixels=max_pixels, **settings)
    return values, tuple(grid[0].tolist())


class LazyPixelValues:
    """The `pixel_values` of a call whose earlier screenshots' keys and values are cached (an
    incremental prefill): it reads only the rows of the images after the cached part, one image
    at a time (`values[rows]`, rows being one image's), so the screens the cache covers are not
    made, copied or concatenated again; `full()` makes the whole tensor for the stock path. Each
    image's values come from the PixelCache (prepared while the screen settled, or shown before)
    or are made then and kept there."""

    def __init__(self, fast: FastInputs, images: list[Any], grid: Any, settings: dict[str, Any],
                 min_pixels: int, max_pixels: int) -> None:
        self._fast, self._images, self._grid = fast, images, grid
        self._settings, self._min, self._max = settings, min_pixels, max_pixels
        self.device: Any = None  # where the rows go (BatchFeature.to moves tensors only)
        bounds = [0, *grid.prod(-1).cumsum(0).tolist()]
        self._image_at = {start: n for n, start in enumerate(bounds[:-1])}
        fast.pixels.remember_known(images)

    def __getitem__(self, rows: slice) -> Any:
        n = self._image_at.get(rows.start)
        if not isinstance(rows, slice) or n is None:
            raise IndexError(f"LazyPixelValues gives one image's rows at a time, not {rows!r}")
        values = self._one(n)
        return values if self.device is None else values.to(self.device)

    def _one(self, n: int) -> Any:
        image = self._images[n]
        known = self._fast.pixels.known([image])[0]
        if known is None:
            known = one_image(image, self._settings, self._min, self._max)
            self._fast.pixels.add(image, known)
        return known[0]

    def full(self) -> Any:
        values, _ = self._fast._pixel_values(self._images, self._settings, self._min, self._max)
        return values if self.device is None else values.to(self.device)

