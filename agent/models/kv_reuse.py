"""The key/value cache of the last call, reused for the longest prefix the next prompt shares
(one per conversation when several take turns on one model).

An agent's prompt at step n+1 is, between rolls of its screen window (`conversation.ROLL_STEPS`),
step n's prompt, step n's reply, its tool results and the new screen. So the keys and values of
everything but the new part were computed by the last call already: its prompt and the reply it
generated. `PromptCache` keeps that cache after each call with the tokens it covers, and hands it
to the next call cut back (`crop`, no copy) to the longest common prefix of the two token
sequences; generate then prefills only the rest.

Tokens are compared as keys: token ids, with each image's placeholder tokens replaced by that
image's key (`vision_cache.VisionCache.keys`), so a new screenshot of the same size is a
difference. The positions of a prefix's tokens depend only on the prefix (M-RoPE included: an
image's positions follow from its grid and what precedes it), so the kept keys and values are
the ones a full prefill computes. A prefix never ends inside an image: the suffix's image must be
embedded whole.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

MIN_REUSE = 16  # shorter common prefixes are not worth an explicit-mask prefill
# On a CPU, PyTorch's SDPA runs a square prompt with its causal kernel, which skips the masked
# half; a suffix after a cache needs an explicit mask, and that kernel costs 2-3x as much per
# query (5,000 tokens: 158 ms for all of them causal, 418 ms for the last 4,000 masked). So there
# reuse pays only when it covers most of the prompt: measured prefill against a full one
# (tiny and 4-layer checkpoints, 5,000 tokens) 1.23-1.31x at 30 % reused, 1.03-1.05x at 50 %,
# 0.63-0.89x at 60 %, 0.5x at 70 %. Eager attention always takes a mask, CUDA kernels take an
# offset causal mask at no extra cost: there any reuse pays.
CPU_SDPA_MIN_SHARE = 0.6


def token_keys(ids: Sequence[int], image_token_id: int | None, image_keys: Sequence[int]) -> list[int]:
    """`ids` with each run of image placeholders replaced by its image's key, in order."""
    out, keys, previous = list(ids), iter(image_keys), None
    key = 0
    for i, token in enumerate(out):
        if token == image_token_id:
            if previous != image_token_id:
                key = next(keys)
            out[i] = key
        previous = token
    return out


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:  # the usual case between rolls, compared in C
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def crop(cache: Any, length: int) -> None:
    """Cut a DynamicCache back to its first `length` tokens. A negative argument removes that many
    tokens in every transformers release (5.25 refuses a positive one, which meant the length)."""
    extra = cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)


def can_crop(cache: Any, length: int) -> bool:
    """Whether `cache` can be cut back to `length` tokens. A sliding-window layer (Qwen2's
    `use_sliding_window`) keeps only its last window of keys and values: once a call has gone
    past the window, the older ones are gone and no shorter prefix can be restored."""
    for layer in getattr(cache, "layers", ()):
        if getattr(layer, "is_sliding", False) and not getattr(layer, "record_past", False):
            if length < layer.get_seq_length() and layer.get_seq_length() >= layer.sliding_window:
                return False
    return True


class PromptCache:
    """The caches of the last calls, each with the keys of the tokens it covers (prompt, then
    reply): one per conversation that takes turns on the model (`slots`: `bench sim -j N`
    threads sharing one loaded model), the least recently used dropped beyond that."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = slots
        self._entries: list[tuple[list[int], Any, int]] = []  # (keys, cache, prompt length), oldest first

    def take(self, keys: list[int], min_share: float = 0.0) -> tuple[Any, int]:
        """(the kept cache that shares the longest reusable prefix with `keys`, cut back to it,
        that prefix's length), or (None, 0) when none shares at least MIN_REUSE tokens and
        `min_share` of `keys`, or can go back that far (`can_crop`). At least the last token of
        `keys` is left to prefill: generate needs one to compute the first logits from.

        Generate extends the cache handed out in place, so it leaves the store: the one slot's
        always; of several, the entry this prompt continues (it holds all of that entry's
        prompt). A prompt that only shares a beginning with another conversation's (the system
        turn) gets a copy of that part, and the other conversation keeps its cache."""
        best, best_n = None, 0
        for i, (kept, cache, _) in enumerate(self._entries):
            n = min(common_prefix(kept, keys), cache.get_seq_length(), len(keys) - 1)
            while 0 < n < len(keys) and keys[n] < 0 and keys[n - 1] == keys[n]:
                n -= 1  # never inside an image: back to its first placeholder
            if n > best_n and n >= max(MIN_REUSE, min_share * len(keys)) and can_crop(cache, n):
                best, best_n = i, n
        if best is None:
            if len(self._entries) >= self.slots:  # its slot goes to this call's cache: free it first
                del self._entries[0]
            return None, 0
        _, cache, prompt_length = self._entries[best]
        if self.slots == 1 or best_n >= prompt_length:
            del self._entries[best]
        else:
            cache = copy.deepcopy(cache)
        crop(cache, best_n)
        return cache, best_n

    def keep(self, keys: list[int], cache: Any, prompt_length: int | None = None) -> None:
        """After a call: `cache` covers the first cache.get_seq_length() of `keys`, whose first
        `prompt_length` (all, by default) were the prompt and the rest the reply."""
        self._entries.append((keys, cache, len(keys) if prompt_length is None else prompt_length))
        del self._entries[:-self.slots]

    def image_keys(self) -> set[int]:
        """The keys of the images the kept caches cover (their vision outputs stay useful)."""
        return {k for kept, _, _ in self._entries for k in kept if k < 0}

    def clear(self) -> None:
        self._entries = []
