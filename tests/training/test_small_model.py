"""`vlagent tiny-model --size small`: real Qwen2-VL classes, a few million parameters, and a
tokenizer that knows the agent's prompts (so a sample is hundreds of tokens, not thousands)."""

from __future__ import annotations

import pytest

from vlagent.testing import tiny_checkpoint


@pytest.mark.slow
def test_the_small_checkpoint_is_a_few_million_parameters_with_short_prompts(tmp_path, tiny_model_path):
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    from vlagent.testing import _prompt_corpus

    path = tiny_checkpoint(tmp_path / "small", "qwen2-vl", "small")
    model = Qwen2VLForConditionalGeneration.from_pretrained(path)
    assert 1e6 < sum(p.numel() for p in model.parameters()) < 1e7
    system = _prompt_corpus()[0]  # the Qwen2-VL phone system prompt with its tools block
    small = len(AutoProcessor.from_pretrained(path).tokenizer(system)["input_ids"])
    tiny = len(AutoProcessor.from_pretrained(tiny_model_path).tokenizer(system)["input_ids"])
    assert small < tiny / 2, (small, tiny)
    assert model.generation_config.max_new_tokens >= 64  # a ✿ tap with three-decimal coordinates fits
