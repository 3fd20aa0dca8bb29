"""Vision-tower outputs kept per screenshot, so each screenshot is encoded once.

An agent shows a screenshot at the step it was taken and again at the next few steps, as
history. While the model's prompt cache (`kv_reuse`) still holds that screenshot's keys and values
its embeddings are not needed at all; when the prompt changes before it (the screen window
rolls, the summaries change) the screenshot's tokens are prefilled again, and its embeddings come
from here instead of from the vision tower.

Each image also gets a key (a negative int, never a token id) that stands for its placeholder
tokens when prompts are compared: every image's placeholders are the same token id, so the ids
alone cannot tell two screenshots apart. An Image object keeps its key while its content stamp
(`pixel_cache.stamp`) stays the same; anything else (a path, an array) gets a new key each call.
"""

from __future__ import annotations

import contextlib
import itertools
import weakref
from typing import Any, Iterator, Sequence

from .pixel_cache import stamp


class VisionCache:
    def __init__(self) -> None:
        self._keys: dict[int, tuple[Any, Any, int]] = {}  # id(image) -> (weak ref, stamp, key)
        self._counter = itertools.count(1)
        self._embeddings: dict[int, Any] = {}  # key -> merged vision-tower output of that image
        self.encoded = 0  # images run through the vision tower (tests and `bench perf` read it)
        self.reused = 0  # images whose embeddings came from here

    def keys(self, images: Sequence[Any]) -> list[int]:
        """A key per image; the same Image object, unchanged, keeps its key."""
        from PIL import Image

        out = []
        for image in images:
            if not isinstance(image, Image.Image):
                out.append(-next(self._counter))
                continue
            entry, mark = self._keys.get(id(image)), stamp(image)
            if entry is None or entry[0]() is not image or entry[1] != mark:
                entry = (weakref.ref(image), mark, -next(self._counter))
                self._keys[id(image)] = entry
            out.append(entry[2])
        self._keys = {k: e for k, e in self._keys.items() if e[0]() is not None}
        return out

    def embeddings(self, model: Any, keys: list[int], pixel_values: Any, grid: Any, rows: list[slice]) -> list[Any]:
        """The embeddings of the images `keys` (their pixel-value rows and grid rows given), from
        here where kept, the others through the vision tower in one batch."""
        import torch

        missing = [i for i, k in enumerate(keys) if k not in self._embeddings]
        self.reused += len(keys) - len(missing)
        if missing:
            parts = [pixel_values[rows[i]] for i in missing]
            values = torch.cat(parts) if len(parts) > 1 else parts[0]
            out = model.get_image_features(values, grid[missing], return_dict=True)
            for i, embeds in zip(missing, out.pooler_output):
                self._embeddings[keys[i]] = embeds
            self.encoded += len(missing)
        return [self._embeddings[k] for k in keys]

    @contextlib.contextmanager
    def capture(self, visual: Any, keys: list[int], grid: Any, merge: int) -> Iterator[None]:
        """Keep what the vision tower computes for `keys` (in order) while generate runs it on
        all of a prompt's images: the stock path, which the next call's roll can then reuse."""
        sizes = (grid.prod(-1) // merge**2).tolist()

        def keep(module: Any, args: Any, output: Any) -> None:
            merged = output.pooler_output if hasattr(output, "pooler_output") else output
            if merged.shape[0] == sum(sizes):
                for key, embeds in zip(keys, merged.split(sizes)):
                    self._embeddings[key] = embeds
                self.encoded += len(keys)

        handle = visual.register_forward_hook(keep)
        try:
            yield
        finally:
            handle.remove()

    def has(self, key: int) -> bool:
        return key in self._embeddings

    def keep_only(self, keys: Sequence[int]) -> None:
        """Forget the embeddings of images the last prompt no longer shows."""
        wanted = set(keys)
        self._embeddings = {k: v for k, v in self._embeddings.items() if k in wanted}
