"""Incremental prefill: each step prefills only what its prompt does not share with the last call.

An agent run through the real `Conversation` (screens rolled in chunks), on tiny random-weight
Qwen2-VL and Qwen2.5-VL checkpoints: every step is answered twice, with the last call's
key/value cache and vision outputs reused and without any cache, and the greedy tokens must be
the same and the logits the same within 1e-5 (the reused keys and values were computed in other,
shorter forward passes, so products may round differently in the last bits).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from score_keeping import keep_scores

from vlagent.conversation import Conversation
from vlagent.coords import Screen
from vlagent.guards import Secrets
from vlagent.models.incremental_prefill import IncrementalPrefill
from vlagent.models.transformers_model import TransformersModel
from vlagent.call_records import CallRecord, ResultRecord
from vlagent.trajectory import Step
from vlagent.ui_tools import ui_tool_schema

LOGITS_ATOL = 1e-5
NEW_TOKENS = 6
STEPS = 6  # with history_images=2 and roll=2: the window rolls at steps 3 and 5 (0-based)


@pytest.fixture(autouse=True)
def reuse_whatever_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests check what a reused cache computes; on a CPU the model declines to reuse
    less than CPU_SDPA_MIN_SHARE of a prompt (a speed policy, tested on its own)."""
    from vlagent.models import kv_reuse

    monkeypatch.setattr(kv_reuse, "CPU_SDPA_MIN_SHARE", 0.0)


@pytest.fixture(scope="module", params=["qwen2-vl", "qwen2.5-vl"])
def model(request: pytest.FixtureRequest, tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    from vlagent.testing import tiny_checkpoint

    path = tiny_model_path if request.param == "qwen2-vl" else tiny_checkpoint(
        tmp_path_factory.mktemp("tiny-qwen25-vl"), "qwen2.5-vl")
    return keep_scores(TransformersModel(path, max_new_tokens=NEW_TOKENS).load())


def screenshot(seed: int) -> Image.Image:
    """A 224x448 screen (8x16 cells of 28 pixels: 128 image tokens) that differs every step."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (448, 224, 3), dtype=np.uint8))


def run_both_ways(model: TransformersModel, *, roll: int = 2, stop: tuple[str, ...] = (), steps: int = STEPS,
                  goals: tuple[str, ...] = ("Open Settings",)):
    """(plain completion, plain scores, cached completion, cached scores) for each step; with
    several `goals`, their conversations take turns on the model, a step each."""
    conversations = [Conversation(goal, ui_tool="mobile_use", system=model.coordinate_system,
                                  history_images=2, secrets=Secrets({}), roll=roll) for goal in goals]
    histories: list[list[Step]] = [[] for _ in goals]
    out = []
    for index in range(steps):
        for turn, (conversation, history) in enumerate(zip(conversations, histories)):
            image = screenshot(index + 100 * turn)
            screen = Screen(image_size=image.size, device_size=image.size, model_size=image.size)
            messages = conversation.messages(history, image, screen)
            tools = [ui_tool_schema("mobile_use", screen, model.coordinate_system)]
            model.prefix_cache = False
            try:
                plain = model.generate(messages, tools, min_new_tokens=NEW_TOKENS, stop=list(stop))
                plain_scores = model.last_scores
            finally:
                model.prefix_cache = True
            cached = model.generate(messages, tools, min_new_tokens=NEW_TOKENS, stop=list(stop))
            out.append((plain, plain_scores, cached, model.last_scores))
            conversation.see(index, image)
            history.append(Step(index=index, started_at=0.0, screenshot_size=image.size, device_size=image.size,
                                model_output=cached.text, calls=[CallRecord(name="mobile_use", arguments={})],
                                results=[ResultRecord(name="mobile_use", content=f"ok {index}")]))
    return out


def test_greedy_tokens_and_logits_are_those_of_a_full_prefill(model: TransformersModel) -> None:
    model._prefill = IncrementalPrefill()  # a fresh run
    steps = run_both_ways(model)
    assert_answers_alike(steps)
    computed = [c.usage["prefill_tokens"] / c.usage["prompt_tokens"] for _, _, c, _ in steps]
    assert all(p.usage["cached_tokens"] == 0 for p, _, _, _ in steps)
    # Between rolls only the reply's end, the tool turn and the new screen turn are prefilled.
    assert computed[0] == 1 and max(computed[i] for i in (1, 2, 4)) < 0.35, computed
    # A roll changes the prompt right after the system turn: more to prefill, but not everything.
    assert 0 < steps[3][2].usage["cached_tokens"] < steps[2][2].usage["prompt_tokens"]


def assert_answers_alike(steps) -> None:
    for index, (plain, plain_scores, cached, cached_scores) in enumerate(steps):
        assert cached.text == plain.text, index
        assert cached.usage["prompt_tokens"] == plain.usage["prompt_tokens"]
        finite = np.isfinite(plain_scores)
        assert np.array_equal(finite, np.isfinite(cached_scores)), index
        np.testing.assert_allclose(cached_scores[finite], plain_scores[finite], rtol=0, atol=LOGITS_ATOL,
                                   err_msg=f"step {index}")


def test_conversations_taking_turns_each_reuse_their_own_cache(model: TransformersModel) -> None:
    """Two episodes sharing one model (`bench sim -j 2` threads; ModelPool calls
    serve_conversations): with a cache kept per conversation, each step reuses all of its own
    last prompt and answers as a full prefill does; with the last call's cache alone, the other
    conversation's call has replaced it and only the system turn they share is reused."""
    goals = ("Open Settings", "Open the Clock app")
    try:
        model._prefill = IncrementalPrefill()
        model.serve_conversations(2)
        apart = run_both_ways(model, roll=4, steps=3, goals=goals)
        model._prefill = IncrementalPrefill()
        model.serve_conversations(1)
        evicted = run_both_ways(model, roll=4, steps=3, goals=goals)
    finally:
        model._prefill = IncrementalPrefill()
    assert_answers_alike(apart)
    for call in range(2, 6):  # call n + 2 is the next step of call n's conversation
        before = apart[call - 2][2].usage["prompt_tokens"]
        assert apart[call][2].usage["cached_tokens"] >= before, call
        assert 0 < evicted[call][2].usage["cached_tokens"] < before, call


def test_each_screenshot_goes_through_the_vision_tower_once(model: TransformersModel) -> None:
    model._prefill = IncrementalPrefill()
    seen: list[int] = []
    visual = model.hf_model.model.visual
    handle = visual.register_forward_hook(lambda m, args, out: seen.append(int(args[0].shape[0])))
    try:
        run_both_ways(model)
    finally:
        handle.remove()
    per_image = 16 * 32  # 224x448 in 14-pixel patches
    # Each step the plain call encodes all its screens, the cached call only the new one: the
    # screen kept across the rolls at steps 3 and 5 comes from the vision cache.
    cached_calls = seen[1::2]
    assert cached_calls == [per_image] * STEPS, seen
    assert model._prefill.vision.reused == 2


def test_a_reply_cut_at_a_stop_string_still_reuses_the_prompt(model: TransformersModel) -> None:
    """The reply generated past the stop string is in the cache but not in the next prompt:
    the common prefix ends where they part."""
    model._prefill = IncrementalPrefill()
    steps = run_both_ways(model, stop=("a", "e"))
    for plain, _, cached, _ in steps:
        assert cached.text == plain.text and "a" not in cached.text and "e" not in cached.text
    assert all(c.usage["cached_tokens"] > 0 for _, _, c, _ in steps[1:])


def test_a_screen_the_cache_covers_gets_no_pixel_values_again(model: TransformersModel, monkeypatch) -> None:
    """The pixel values of the screens in the window are made (or copied into a batch) once,
    when each is new: a call whose cache covers the earlier screens reads only the new one's
    rows (LazyPixelValues), not a tensor of the whole window's."""
    from vlagent import vision

    made: list[int] = []
    real = vision.pixel_values

    def counting(images, **kwargs):
        made.append(len(images))
        return real(images, **kwargs)

    monkeypatch.setattr(vision, "pixel_values", counting)
    model._prefill = IncrementalPrefill()
    conversation = Conversation("Open Settings", ui_tool="mobile_use", system=model.coordinate_system,
                                history_images=2, secrets=Secrets({}), roll=2)
    history: list[Step] = []
    for index in range(STEPS):
        image = screenshot(100 + index)
        screen = Screen(image_size=image.size, device_size=image.size, model_size=image.size)
        model.generate(conversation.messages(history, image, screen),
                       [ui_tool_schema("mobile_use", screen, model.coordinate_system)], min_new_tokens=NEW_TOKENS)
        conversation.see(index, image)
        history.append(Step(index=index, started_at=0.0, screenshot_size=image.size, device_size=image.size,
                            model_output="ok", calls=[CallRecord(name="mobile_use", arguments={})],
                            results=[ResultRecord(name="mobile_use", content=f"ok {index}")]))
    assert made == [1] * STEPS, made  # each screen once, when new


def test_an_image_drawn_on_in_place_is_not_taken_for_the_one_cached(model: TransformersModel) -> None:
    """Same Image object, new pixels: its key changes, so nothing from the image on is reused."""
    model._prefill = IncrementalPrefill()
    image = screenshot(1)
    messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Next?"}]}]
    model.generate(messages, max_new_tokens=2)
    image.paste((255, 0, 0), (0, 0, 224, 224))
    model.prefix_cache = False
    try:
        plain = model.generate(messages, min_new_tokens=NEW_TOKENS)
        plain_scores = model.last_scores
    finally:
        model.prefix_cache = True
    cached = model.generate(messages, min_new_tokens=NEW_TOKENS)
    assert cached.usage["cached_tokens"] < cached.usage["prompt_tokens"] - 128  # not the image
    assert cached.text == plain.text
    np.testing.assert_allclose(model.last_scores, plain_scores, rtol=0, atol=LOGITS_ATOL)


def test_a_reused_prefix_never_ends_inside_an_image() -> None:
    """Where the cache ends inside an image's placeholders, it is cut back to the image's start:
    the suffix's images are embedded whole. (A real DynamicCache; the keys stand for tokens.)"""
    import torch
    from transformers import DynamicCache

    from vlagent.models.kv_reuse import MIN_REUSE, PromptCache

    text = list(range(1, MIN_REUSE + 5))
    image = [-7] * 10
    covered = len(text) + 4  # the last call's cache stops 4 placeholders into the image
    cache = DynamicCache()
    cache.update(torch.zeros(1, 1, covered, 2), torch.zeros(1, 1, covered, 2), 0)
    kept = PromptCache()
    kept.keep(text + image + [99], cache)
    reused, length = kept.take(text + image + [99, 100])
    assert length == len(text) and reused.get_seq_length() == len(text)


def test_generation_stops_at_a_stop_string_in_the_reply_not_in_the_prompt(model: TransformersModel) -> None:
    messages = [{"role": "system", "content": "You drive an Android phone."},
                {"role": "user", "content": "The user's task: open Settings."}]
    free = model.generate(messages, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, stop=[])
    # A stop string that is in the prompt (and not in the reply) stops nothing.
    untouched = model.generate(messages, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                               stop=["The user's task"])
    assert "The user's task" not in free.text
    assert untouched.usage["completion_tokens"] == NEW_TOKENS and untouched.text == free.text
    # A stop string spanning the reply's 2nd to 4th tokens: cut there, and generation ended there.
    tokenizer = model.processor.tokenizer
    reply_ids = tokenizer(free.text)["input_ids"]
    stop = tokenizer.decode(reply_ids[1:4])
    stopped = model.generate(messages, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, stop=[stop])
    assert stopped.text == free.text[:free.text.index(stop)]
    assert stopped.usage["completion_tokens"] < NEW_TOKENS and stopped.finish_reason == "stop"


def test_a_screenshot_generate_encoded_is_not_encoded_again(model: TransformersModel) -> None:
    """The first call's images go through generate's own vision pass, whose output is kept: a
    later prompt that shows the image after a change (nothing of it reusable from the key/value
    cache) takes the embeddings from there, with the logits of a full prefill."""
    model._prefill = IncrementalPrefill()
    image = screenshot(3)

    def ask(system: str, cache: bool = True):
        model.prefix_cache = cache
        try:
            return model.generate([{"role": "system", "content": system}, {"role": "user", "content": [
                {"type": "image", "image": image}, {"type": "text", "text": "Next?"}]}], min_new_tokens=NEW_TOKENS)
        finally:
            model.prefix_cache = True

    ask("You drive an Android phone.")
    plain = ask("You drive an Android tablet.", cache=False)
    plain_scores = model.last_scores
    runs: list[int] = []
    handle = model.hf_model.model.visual.register_forward_hook(lambda m, args, out: runs.append(1))
    try:
        cached = ask("You drive an Android tablet.")
    finally:
        handle.remove()
    assert runs == [] and cached.usage["cached_tokens"] < cached.usage["prompt_tokens"] - 128
    assert cached.text == plain.text
    np.testing.assert_allclose(model.last_scores, plain_scores, rtol=0, atol=LOGITS_ATOL)


def test_a_sliding_window_checkpoint_is_answered_in_full_once_past_its_window(tiny_model_path: Path, tmp_path: Path) -> None:
    """Qwen2's sliding-window layers keep only their last window of keys and values, so a prompt
    longer than the window cannot be cut back to a shared prefix: every step prefills in full
    (before, the second step raised from the cache's crop) and answers as a full prefill does."""
    import json
    import shutil

    path = tmp_path / "sliding"
    shutil.copytree(tiny_model_path, path)
    config = json.loads((path / "config.json").read_text())
    config["text_config"].update(use_sliding_window=True, sliding_window=64,
                                 layer_types=["sliding_attention", "full_attention"])
    (path / "config.json").write_text(json.dumps(config))
    model = keep_scores(TransformersModel(path, max_new_tokens=NEW_TOKENS).load())
    assert model.hf_model.config.text_config.layer_types[0] == "sliding_attention"
    steps = run_both_ways(model, steps=3)  # the second step is the first that could reuse
    for index, (plain, plain_scores, cached, cached_scores) in enumerate(steps):
        assert cached.text == plain.text, index
        np.testing.assert_allclose(cached_scores, plain_scores, rtol=0, atol=LOGITS_ATOL, err_msg=f"step {index}")
        assert cached.usage["cached_tokens"] == 0, index
