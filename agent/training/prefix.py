"""The shared prefix: every sample of a dataset the agent's loop wrote begins with the same
tokens (the system prompt and the tool block, ~900 of a ~1,150-token sample on a phone), so a
training step runs them once, not once a sample.

`shared_prefix_inputs` turns a batch into the inputs of a forward pass over each sample's
suffix alone (its images, its turns, the target): the common prefix goes through the model once,
batch 1, under `torch.no_grad`; its key/value cache is repeated across the batch and the suffix
runs on top of it with gradients. Positions are the full sequence's: the M-RoPE indices are made
by the model's `get_rope_index` over the whole batch and sliced, so each suffix token sees
exactly the positions (and the keys and values before it) the full forward gives it. The loss is
on the target's tokens alone, all in the suffix, so the loss is the full forward's; what is given
up is the gradient that flows through the prefix's keys and values (the prefix's own
activations are constants of the step). tests/training/test_shared_prefix.py checks the first
part: the suffix-only logits equal the full forward's.
"""

from __future__ import annotations

from typing import Any

# Below this many shared tokens the cache costs more than it saves.
MIN_PREFIX = 16


def prefix_length(input_ids: Any, stop_ids: set[int]) -> int:
    """Tokens every row of `input_ids` (batch x length) begins with, stopping before the first
    of `stop_ids` (where images begin: their placeholders are alike but their pixels are not)
    and leaving each row at least one token of its own."""
    import torch

    ids = input_ids
    same = (ids == ids[:1]).all(dim=0)
    if stop_ids:
        stops = torch.isin(ids[0], torch.tensor(sorted(stop_ids), device=ids.device))
        same &= ~(stops.cumsum(0) > 0)
    differ = (~same).nonzero()
    n = int(differ[0]) if len(differ) else ids.shape[1]
    return max(0, min(n, ids.shape[1] - 1))


def rope_index_of(hf_model: Any) -> Any:
    """The model's M-RoPE index function (`get_rope_index`), or None for a model without one."""
    for m in (hf_model, getattr(hf_model, "model", None)):
        if m is not None and callable(getattr(m, "get_rope_index", None)):
            return m.get_rope_index
    return None


def stop_ids_of(hf_model: Any) -> set[int]:
    config = hf_model.config
    names = ("vision_start_token_id", "image_token_id", "video_token_id")
    return {int(getattr(config, n)) for n in names if getattr(config, n, None) is not None}


def shared_prefix_inputs(model: Any, inputs: dict[str, Any], rope_index: Any, stop_ids: set[int],
                         *, min_prefix: int = MIN_PREFIX) -> dict[str, Any]:
    """`inputs` for `model(**...)` over the suffixes alone, with the shared prefix's cache (see
    the module); `inputs` unchanged when the batch shares too little or has no M-RoPE."""
    import torch

    ids = inputs["input_ids"]
    if rope_index is None or ids.shape[1] < 2:
        return inputs
    n = prefix_length(ids, stop_ids)
    if n < min_prefix:
        return inputs
    mask = inputs.get("attention_mask")
    if mask is None:
        mask = torch.ones_like(ids)
    if not bool(mask[:, :n].all()):
        return inputs  # padding inside the prefix: left padding, not what collate makes
    rope_kwargs = {k: inputs[k] for k in ("image_grid_thw", "video_grid_thw", "mm_token_type_ids",
                                         "second_per_grid_ts") if inputs.get(k) is not None}
    positions, _ = rope_index(ids, attention_mask=mask, **rope_kwargs)
    with torch.no_grad():
        head = model(input_ids=ids[:1, :n], attention_mask=mask[:1, :n], position_ids=positions[:, :1, :n],
                     use_cache=True, logits_to_keep=1)
    cache = head.cache if hasattr(head, "cache") else head.past_key_values
    cache.batch_repeat_interleave(ids.shape[0])
    out = dict(inputs)
    out.update(input_ids=ids[:, n:], attention_mask=mask, position_ids=positions[:, :, n:], cache=cache,
               use_cache=True)
    for key in ("labels", "mm_token_type_ids"):
        if inputs.get(key) is not None:
            out[key] = inputs[key][:, n:]
    return out
