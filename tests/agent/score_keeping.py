"""A TransformersModel that keeps the logits of its last generate call, for the tests that check a
reused prefill against a full one token by token."""

from __future__ import annotations

from typing import Any

import numpy as np


def keep_scores(model: Any) -> Any:
    """`model` (loaded) with its hf_model.generate wrapped: after each call `model.last_scores`
    holds the logits of each generated position and `model.last_kwargs` what generate was given."""
    real_generate = model.hf_model.generate

    def generate_keeping_scores(**kwargs):
        out = real_generate(**kwargs, output_scores=True, return_dict_in_generate=True)
        model.last_scores = np.stack([s[0].float().numpy() for s in out.scores])
        model.last_kwargs = kwargs
        return out.sequences

    model.hf_model.generate = generate_keeping_scores
    return model
