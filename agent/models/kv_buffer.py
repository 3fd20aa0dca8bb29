"""A key/value cache that grows in place, so a decoded token costs the same at any context length.

transformers' `DynamicLayer` appends each token's keys and values with `torch.cat`, a copy of the
whole cache per layer per token: per-token work that grows with the context (at 9,000 tokens it
was about a third of the tiny model's decode time on a CPU; for Qwen2-VL-7B in bf16 it would be
~0.5 GB copied per token). `GrowingLayer` keeps its keys and values in buffers with room to spare
and hands out views of their filled part; a token is written into the room, and the buffers are
reallocated (a copy) only when full, GROWTH times larger, so copies are amortised away.
"""

from __future__ import annotations

import functools
from typing import Any

GROWTH = 1.25
SPARE = 256  # tokens of room at least: a reply's worth


def growing_cache(config: Any) -> Any:
    """A DynamicCache for `config` whose plain layers grow in place (sliding-window layers, which
    drop old tokens, stay as they are)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    growing = growing_layer_class()
    cache = DynamicCache(config=config)
    cache.layers = [growing() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


@functools.cache
def growing_layer_class() -> Any:
    """GrowingLayer, a DynamicLayer (made on first use: it needs transformers)."""
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        _room: tuple[Any, Any] | None = None

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            length, add = self.get_seq_length(), key_states.shape[-2]
            room = self._room
            # keys another Cache method replaced (reorder, batch select) are no view of the room
            stale = room is None or (length and self.keys.untyped_storage().data_ptr()
                                     != room[0].untyped_storage().data_ptr())
            if stale or length + add > room[0].shape[-2]:
                size = max(int((length + add) * GROWTH), length + add + SPARE)
                room = tuple(s.new_empty((*s.shape[:-2], size, s.shape[-1])) for s in (key_states, value_states))
                if length:
                    room[0][..., :length, :] = self.keys
                    room[1][..., :length, :] = self.values
                self._room = room
            room[0][..., length:length + add, :] = key_states
            room[1][..., length:length + add, :] = value_states
            self.keys, self.values = room[0][..., :length + add, :], room[1][..., :length + add, :]
            return self.keys, self.values

    return GrowingLayer
