"""TransformersModel's prompt cache: the keys/values of what a prompt shares with the last call
(here: the system turn with the tool schemas) are reused, not prefilled again.

Correctness is checked the strict way: with and without the cache, the same greedy tokens and
the same logits at every generated position (within 1e-5: the cached prefix is computed in a
separate, shorter forward pass, so matrix products may round differently in the last bit).
Multi-step reuse (earlier turns, screenshots, rolls) is tested in test_incremental_prefill.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from score_keeping import keep_scores

from vlagent.models.transformers_model import TransformersModel

LOGITS_ATOL = 1e-5
MOBILE_USE = {"type": "function", "function": {
    "name": "mobile_use", "description": "Use the phone: click, swipe, type, press buttons.",
    "parameters": {"type": "object", "properties": {
        "action": {"type": "string", "enum": ["click", "swipe", "type", "system_button", "terminate"]},
        "coordinate": {"type": "array", "items": {"type": "number"}},
    }, "required": ["action"]},
}}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}}


@pytest.fixture(autouse=True)
def reuse_whatever_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests check what a reused cache computes; on a CPU the model declines to reuse
    less than CPU_SDPA_MIN_SHARE of a prompt (a speed policy, tested on its own)."""
    from vlagent.models import kv_reuse

    monkeypatch.setattr(kv_reuse, "CPU_SDPA_MIN_SHARE", 0.0)


@pytest.fixture(scope="module")
def model(tiny_model_path: Path) -> TransformersModel:
    return keep_scores(TransformersModel(tiny_model_path, max_new_tokens=12).load())


def screen(seed: int, size: tuple[int, int] = (280, 560)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def step_messages(goal: str, seed: int, *, system: str = "You drive an Android phone.", history: bool = False):
    messages = [{"role": "system", "content": system}, {"role": "user", "content": f"The user's task: {goal}"}]
    if history:
        messages += [
            {"role": "user", "content": [{"type": "image", "image": screen(seed + 100)}]},
            {"role": "assistant", "content": '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [500, 500]}}\n</tool_call>'},
            {"role": "tool", "name": "mobile_use", "content": "ok"},
        ]
    messages.append({"role": "user", "content": [
        {"type": "image", "image": screen(seed)}, {"type": "text", "text": "What is the next action?"},
    ]})
    return messages


def warm(model: TransformersModel, tools, system: str = "You drive an Android phone.") -> None:
    """A call that shares only the system turn with what follows: its cache is what is reused."""
    model.generate([{"role": "system", "content": system}, {"role": "user", "content": "Warm up."}], tools,
                   max_new_tokens=1)


def answer(model: TransformersModel, messages, tools, *, cache: bool):
    model.prefix_cache = cache
    try:
        completion = model.generate(messages, tools, min_new_tokens=12, stop=[])
    finally:
        model.prefix_cache = True
    return completion, model.last_scores, model.last_kwargs


@pytest.mark.parametrize("case", ["screen", "screen+history", "text-only"])
def test_same_tokens_and_logits_with_and_without_the_cache(model: TransformersModel, case: str) -> None:
    if case == "text-only":
        messages = [{"role": "system", "content": "You drive an Android phone."},
                    {"role": "user", "content": "Say which app opens the Wi-Fi settings."}]
    else:
        messages = step_messages("turn on Wi-Fi", seed=1, history=case == "screen+history")
    plain, plain_scores, plain_kwargs = answer(model, messages, [MOBILE_USE], cache=False)
    warm(model, [MOBILE_USE])
    cached, cached_scores, cached_kwargs = answer(model, messages, [MOBILE_USE], cache=True)

    cache_names = {"cache", "past_key_values"}  # transformers renamed it; either may be current
    assert not cache_names & set(plain_kwargs) and cache_names & set(cached_kwargs)
    assert cached.usage["cached_tokens"] > 50 and plain.usage["cached_tokens"] == 0
    assert cached.usage["prompt_tokens"] == plain.usage["prompt_tokens"]
    assert cached.text == plain.text
    finite = np.isfinite(plain_scores)
    assert np.array_equal(finite, np.isfinite(cached_scores))
    np.testing.assert_allclose(cached_scores[finite], plain_scores[finite], rtol=0, atol=LOGITS_ATOL)


def test_a_text_only_step_after_an_image_step_is_not_misplaced(model: TransformersModel) -> None:
    """Qwen2-VL remembers the last prompt's M-RoPE offsets; a cached prefix must not pick them up."""
    text_only = [{"role": "system", "content": "You drive an Android phone."},
                 {"role": "user", "content": "The screen is black. What now?"}]
    plain, plain_scores, _ = answer(model, text_only, [MOBILE_USE], cache=False)
    answer(model, step_messages("open Clock", seed=7), [MOBILE_USE], cache=True)  # leaves offsets behind
    cached, cached_scores, _ = answer(model, text_only, [MOBILE_USE], cache=True)
    assert cached.usage["cached_tokens"] > 50 and cached.text == plain.text
    finite = np.isfinite(plain_scores)
    np.testing.assert_allclose(cached_scores[finite], plain_scores[finite], rtol=0, atol=LOGITS_ATOL)


def test_the_cache_is_started_once_and_reused_across_steps(tiny_model_path: Path) -> None:
    model = TransformersModel(tiny_model_path, max_new_tokens=2).load()
    for step in range(4):  # a new goal line, new history, a new screen each step: same system turn
        completion = model.generate(step_messages(f"step {step}", seed=step, history=step > 0), [MOBILE_USE])
        assert (completion.usage["cached_tokens"] > 0) == (step > 0)
        usage = completion.usage
        assert usage["cached_tokens"] + usage["prefill_tokens"] == usage["prompt_tokens"]
    assert (model.prefix_cache_builds, model.prefix_cache_hits) == (1, 3)
    # kept for the next call: the last prompt and its reply but the reply's last token, never fed
    [(keys, cache, prompt_length)] = model._prefill.prompt._entries  # one conversation: one cache
    assert cache.get_seq_length() == completion.usage["prompt_tokens"] + completion.usage["completion_tokens"] - 1
    assert len(keys) == cache.get_seq_length() + 1 and prompt_length == completion.usage["prompt_tokens"]


def test_a_changed_system_turn_reuses_only_what_precedes_the_change(tiny_model_path: Path) -> None:
    model = TransformersModel(tiny_model_path, max_new_tokens=2).load()
    model.generate(step_messages("a", seed=1), [MOBILE_USE])
    same = model.generate(step_messages("b", seed=2), [MOBILE_USE]).usage["cached_tokens"]
    tools_changed = model.generate(step_messages("c", seed=3), [WEATHER, MOBILE_USE]).usage["cached_tokens"]
    system_changed = model.generate(step_messages("d", seed=4, system="You drive a tablet."),
                                    [WEATHER, MOBILE_USE]).usage["cached_tokens"]
    assert 0 <= system_changed < tools_changed < same
    # where the system prompt's first words differ, nothing is shared: a new cache
    assert (model.prefix_cache_builds, model.prefix_cache_hits) == (1 + (system_changed == 0), 2 + (system_changed > 0))


def test_the_cache_can_be_turned_off(tiny_model_path: Path) -> None:
    model = TransformersModel(tiny_model_path, max_new_tokens=2, prefix_cache=False).load()
    completion = model.generate(step_messages("a", seed=1), [MOBILE_USE])
    model.generate(step_messages("b", seed=2), [MOBILE_USE])
    assert completion.usage["cached_tokens"] == 0
    assert (model.prefix_cache_builds, model.prefix_cache_hits) == (0, 0)


def test_a_prompt_opening_with_another_image_reuses_nothing_after_it(model: TransformersModel) -> None:
    # No system message: the template adds its default one, text before the image.
    def ask(seed: int, cache: bool):
        messages = [{"role": "user", "content": [{"type": "image", "image": screen(seed)},
                                                 {"type": "text", "text": "hi"}]}]
        return answer(model, messages, None, cache=cache)

    ask(1, cache=True)
    plain, plain_scores, _ = ask(2, cache=False)
    cached, cached_scores, _ = ask(2, cache=True)  # a new image of the same size at the same place
    prompt = model.render([{"role": "user", "content": [{"type": "image", "image": screen(2)}]}])
    before_image = len(model.processor.tokenizer(prompt.split("<|vision_start|>")[0])["input_ids"])
    assert 0 < cached.usage["cached_tokens"] <= before_image + 1  # up to <|vision_start|>, never into the image
    assert cached.text == plain.text
    np.testing.assert_allclose(cached_scores, plain_scores, rtol=0, atol=LOGITS_ATOL)


def test_on_a_cpu_with_sdpa_a_small_share_is_prefilled_whole(tiny_model_path: Path, monkeypatch) -> None:
    """SDPA on a CPU runs a masked suffix 2-3x slower per query than a whole causal prompt, so a
    prompt that shares less than CPU_SDPA_MIN_SHARE with the last call is prefilled whole."""
    from vlagent.models import kv_reuse

    monkeypatch.undo()
    model = TransformersModel(tiny_model_path, max_new_tokens=2).load()

    screens = {seed: screen(seed, (560, 1120)) for seed in (1, 2, 3)}  # 800 image tokens each

    def big_screen(seed: int) -> list:  # after a ~500-token system turn
        return [{"role": "system", "content": "You drive an Android phone."},
                {"role": "user", "content": [{"type": "image", "image": screens[seed]},
                                             {"type": "text", "text": "Next?"}]}]

    model.generate(big_screen(1), [MOBILE_USE])
    share = model.generate(big_screen(2), [MOBILE_USE]).usage
    assert share["cached_tokens"] == 0  # only the system turn in common: too little here
    again = model.generate(big_screen(2) + [
        {"role": "assistant", "content": "x"}, {"role": "user", "content": "and?"}], [MOBILE_USE]).usage
    assert again["cached_tokens"] > kv_reuse.CPU_SDPA_MIN_SHARE * again["prompt_tokens"]
    monkeypatch.setattr(model.hf_model.config, "_attn_implementation", "eager")  # masks anyway: any reuse pays
    assert model.generate(big_screen(3), [MOBILE_USE]).usage["cached_tokens"] > 0


def test_freed_memory_is_handed_back_only_after_rss_crept_up(tiny_model_path: Path, monkeypatch) -> None:
    """Not a prefix-cache test, but the same long-run concern: RSS must stay flat. The release
    (glibc malloc_trim) runs when RSS at the end of a call is RELEASE_SLACK above the lowest
    end-of-call level, at most once every RELEASE_EVERY calls (a call's own churn ends above the
    band every other call); a call that still ends above the band right after a release means
    the working set grew, and its level becomes the floor."""
    from vlagent.models import memory_release

    slack, every = memory_release.RELEASE_SLACK, memory_release.RELEASE_EVERY
    high = 100 + slack + 1
    trims: list[int] = []
    levels = [100, 110, high, 105, 120]             # floor 100; 110 inside; over the band: release; inside again
    churn = ([high, 105] * every)[:every - 3]       # over the band and back: no release this soon after one
    levels += churn
    levels += [high + 4, 100 + slack + 10, 100 + slack + 20]  # then one; still over: the new floor; inside it
    rss = iter(levels)
    monkeypatch.setattr(memory_release, "_malloc_trim", lambda: trims.append)
    monkeypatch.setattr(memory_release, "_rss_bytes", lambda: next(rss))
    model = TransformersModel(tiny_model_path, max_new_tokens=1)
    for _ in range(5 + len(churn)):
        model._memory.after_call()
    assert trims == [0] and model._memory.floor == 100
    model._memory.after_call()  # RELEASE_EVERY calls since the last release, over the band: release
    model._memory.after_call()  # still over it after the release: the new floor
    model._memory.after_call()  # inside the band of the new floor
    assert trims == [0, 0] and model.memory_releases == 2 and model._memory.floor == 100 + slack + 10

    off = TransformersModel(tiny_model_path, release_memory=False)
    assert off.release_memory is False


def test_the_cache_goes_by_the_name_this_transformers_reads_without_warnings(model: TransformersModel) -> None:
    """A deprecated keyword prints a FutureWarning on every step; it is avoided at source, not filtered."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warm(model, [MOBILE_USE])
        cached, _, _ = answer(model, step_messages("turn on Wi-Fi", seed=2), [MOBILE_USE], cache=True)
    assert cached.usage["cached_tokens"] > 50
    deprecations = [str(w.message) for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))]
    assert deprecations == []
