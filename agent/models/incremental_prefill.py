"""Incremental prefill for TransformersModel: each call prefills only what its prompt does not
share with the last one (of its conversation, when several take turns on the model).

The key/value cache of the last call (its prompt and the reply it generated) is handed to the
next call cut back to the longest prefix the two share (`kv_reuse.PromptCache`), so an agent step
prefills only its new turns and its new screenshot; the screenshots that are prefilled again
(after the screen window rolls) take their vision-tower output from `vision_cache` instead of
the vision tower. Positions are generate's own, computed over the whole prompt, so the suffix
gets exactly the positions (M-RoPE included) a full prefill gives it.

transformers is imported inside the methods (see transformers_model).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .kv_reuse import PromptCache, token_keys
from .vision_cache import VisionCache


class IncrementalPrefill:
    """The last call's key/value cache and the vision-tower outputs of its screenshots, with
    counts of the calls that started a fresh cache (`builds`) and that reused one (`hits`)."""

    def __init__(self) -> None:
        self.prompt = PromptCache()
        self.vision = VisionCache()
        self.builds = 0
        self.hits = 0

    def start(self, hf_model: Any, inputs: Any, images: list[Any], gen_kwargs: dict[str, Any], *,
              image_token_id: int | None, cache_name: str, device: Any) -> tuple[list[int], int, Any]:
        """Hand generate (through `gen_kwargs`, under `cache_name`) the last call's cache, cut back
        to what this prompt shares with it, and the embeddings of the images after that point;
        returns (this prompt's keys, the number of its tokens the cache covers, a context to run
        generate in).

        Where the cache covers no image and the vision cache knows none of the images, generate
        gets the pixel values as usual and the vision tower's output is kept as it runs."""
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        from .kv_buffer import growing_cache

        vision = self.vision
        image_keys = vision.keys(images)
        ids = inputs["input_ids"][0].tolist()
        keys = token_keys(ids, image_token_id, image_keys)
        cache, length = self.prompt.take(keys, min_reuse_share(device, hf_model.config))
        if cache is None:
            cache = growing_cache(hf_model.config)
            self.builds += 1
        else:
            self.hits += 1
        gen_kwargs[cache_name] = cache  # generate extends it in place: kept for the next call
        grid = inputs.get("image_grid_thw")
        if not images or grid is None or "pixel_values" not in inputs:
            return keys, length, contextlib.nullcontext()
        lazy = hasattr(inputs["pixel_values"], "full")  # fast_inputs.LazyPixelValues: rows made when asked for
        if lazy:
            inputs["pixel_values"].device = device
        starts = [i for i, k in enumerate(keys) if k < 0 and (i == 0 or keys[i - 1] != k)]
        later = [n for n, start in enumerate(starts) if start >= length]  # images still to prefill
        vision.keep_only([*image_keys, *self.prompt.image_keys()])
        visual = hf_model.model.visual
        if len(later) == len(images) and not any(vision.has(image_keys[n]) for n in later):
            if lazy:
                inputs["pixel_values"] = inputs["pixel_values"].full()
            return keys, length, vision.capture(visual, image_keys, grid, visual.spatial_merge_size)
        # The images the cache covers are not fed again, the others come embedded; the grid
        # stays whole: generate computes every token's position from it.
        pixel_values = inputs.pop("pixel_values")
        if later:
            bounds = [0] + grid.prod(-1).cumsum(0).tolist()  # each image's rows of pixel values
            embeds = vision.embeddings(hf_model, [image_keys[n] for n in later], pixel_values,
                                       grid[later], [slice(bounds[n], bounds[n + 1]) for n in later])
            gen_kwargs["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=tuple(embeds))}
        return keys, length, contextlib.nullcontext()

    def keep(self, keys: list[int], reply: list[int], cache: Any) -> None:
        """After generate: `cache` covers the prompt's `keys` and the `reply`'s ids but its last."""
        self.prompt.keep(keys + reply, cache, prompt_length=len(keys))


def min_reuse_share(device: Any, config: Any) -> float:
    """The least share of a prompt worth reusing on `device` (see kv_reuse.CPU_SDPA_MIN_SHARE)."""
    from .kv_reuse import CPU_SDPA_MIN_SHARE

    on_cpu = str(device).startswith("cpu")
    sdpa = getattr(config, "_attn_implementation", None) == "sdpa"
    return CPU_SDPA_MIN_SHARE if on_cpu and sdpa else 0.0
