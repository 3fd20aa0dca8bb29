"""TurnTokenizer against the real tokenizer of the tiny Qwen2-VL checkpoint (random weights,
real Qwen2 tokenizer files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlagent.models.prompt_tokens import TurnTokenizer


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_path)


def _prompt(turns: list[tuple[str, str]]) -> str:
    return "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns) + "<|im_start|>assistant\n"


turn_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60) | st.sampled_from(
    ["<|vision_start|><|image_pad|><|vision_end|>", " leading space", "trailing \n\n", "é\u0301 combining",
     '<tool_call>\n{"name": "mobile_use"}\n</tool_call>', "🙂 emoji", "  "])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant", "tool"]), turn_text), min_size=1, max_size=6),
       st.text(max_size=10))
def test_turn_by_turn_ids_equal_the_tokenizers(tokenizer, turns, head):
    fresh = TurnTokenizer(tokenizer)
    fresh._checked = 10**9  # no self-check: compare here, every time
    prompt = head + _prompt(turns)
    assert fresh.ids(prompt) == tokenizer(prompt)["input_ids"]


def test_turns_seen_before_are_not_tokenized_again(tokenizer):
    calls = []

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def __call__(self, text):
            calls.append(text)
            return self.inner(text)

        def get_vocab(self):
            return self.inner.get_vocab()

    turns = TurnTokenizer(Counting(tokenizer))
    first = _prompt([("system", "tools " * 200), ("user", "goal")])
    second = _prompt([("system", "tools " * 200), ("user", "goal"), ("assistant", "tap"), ("user", "next")])
    for _ in range(4):  # past the self-checks
        turns.ids(first)
    calls.clear()
    assert turns.ids(second) == tokenizer(second)["input_ids"]
    assert all("tools" not in c for c in calls)  # the system turn came from the cache
    assert turns.enabled


def test_a_tokenizer_that_does_not_split_at_turns_is_caught_and_left_alone(tokenizer):
    class WithBos:  # adds a token at the start of every text: turn by turn would differ
        def __call__(self, text):
            return {"input_ids": [0] + tokenizer(text)["input_ids"]}

        def get_vocab(self):
            return tokenizer.get_vocab()

    turns = TurnTokenizer(WithBos())
    prompt = _prompt([("system", "s"), ("user", "u")])
    assert turns.ids(prompt) == WithBos()(prompt)["input_ids"]
    assert not turns.enabled
