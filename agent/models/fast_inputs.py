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

from .pixel_cache import PixelCache
from .prompt_tokens import TurnTokenizer


class FastInputs:
    """What the fast path keeps between calls: pixel values per screenshot and per-turn token ids."""

    def __init__(self) -> None:
        self.pixels = PixelCache()
        self.turn_tokens: TurnTokenizer | None = None

    def build(self, processor: Any, prompt: str, images: list[Any], *, min_pixels: int, max_pixels: int) -> Any:
        """The inputs `processor` makes of `prompt` and `images`, made faster; None where it
        cannot be sure to match (an unusual processor or tokenizer, a placeholder count that does
        not add up)."""
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

    def prepare(self, processor: Any, image: Any, *, min_pixels: int, max_pixels: int) -> None:
        """Make `image`'s pixel values now, for the `build` that shows it (nothing for an image
        the fast path does not take)."""
        from PIL import Image

        from .. import vision

        settings = vision.processor_settings(getattr(processor, "image_processor", None))
        if settings is None or not isinstance(image, Image.Image):
            return

        def compute(im: Any) -> Any:
            values, grid = vision.pixel_values([im], min_pixels=min_pixels, max_pixels=max_pixels, **settings)
            return values, tuple(grid[0].tolist())

        self.pixels.prepare(image, compute)
