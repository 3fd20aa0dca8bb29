"""TransformersModel against a tiny random-weight Qwen2-VL built with the real transformers classes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from vlagent.errors import UserError
from vlagent.models.base import Completion, Model
from vlagent.models.transformers_model import TransformersModel

PHONE = (1080, 2400)  # width, height of a common phone screenshot


@pytest.fixture(scope="module")
def model(tiny_model_path: Path) -> TransformersModel:
    return TransformersModel(tiny_model_path, max_new_tokens=8).load()


def screenshot_messages(size: tuple[int, int] = PHONE) -> list[dict]:
    image = Image.new("RGB", size, (30, 120, 200))
    return [{"role": "user", "content": [
        {"type": "image", "image": image}, {"type": "text", "text": "Open Settings."},
    ]}]


def test_tiny_checkpoint_loads_with_real_classes_and_counts_image_tokens(tiny_model_path: Path) -> None:
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(tiny_model_path, local_files_only=True)
    hf_model = Qwen2VLForConditionalGeneration.from_pretrained(tiny_model_path, local_files_only=True)
    assert hf_model.config.image_token_id == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert hf_model.config.text_config.vocab_size >= len(processor.tokenizer)

    prompt = processor.apply_chat_template(screenshot_messages(), tokenize=False, add_generation_prompt=True)
    assert prompt == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Open Settings.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    inputs = processor(text=[prompt], images=[Image.new("RGB", PHONE)], return_tensors="pt")
    assert inputs["image_grid_thw"].tolist() == [[1, 106, 48]]
    assert int((inputs["input_ids"] == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum()) == 1272


def test_tokenizer_round_trips_any_unicode(tiny_model_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path, local_files_only=True)
    text = 'Zürich → 東京 🙂 <tool_call>\n{"name": "x"}\n</tool_call><|box_start|>(1,2),(3,4)<|box_end|>'
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.eos_token == "<|im_end|>"


def test_generate_sends_pixels_and_reports_usage_and_timings(
    model: TransformersModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict] = []
    real_generate = model.hf_model.generate

    def spy(**kwargs):
        calls.append(kwargs)
        return real_generate(**kwargs)

    monkeypatch.setattr(model.hf_model, "generate", spy)
    completion = model.generate(screenshot_messages())

    assert isinstance(completion, Completion) and isinstance(completion.text, str)
    (kwargs,) = calls
    assert kwargs["image_grid_thw"].tolist() == [[1, 106, 48]]
    assert kwargs["pixel_values"].shape == (106 * 48, 3 * 2 * 14 * 14)
    # the tiny checkpoint is a qwen2_vl: the Qwen2-VL profile's ✿ stop words
    (stop,) = [c for c in kwargs["stopping_criteria"] if type(c).__name__ == "StopOnStrings"]
    assert kwargs["do_sample"] is False and stop.stops == ["✿RESULT✿", "✿RETURN✿"]
    assert stop.tokenizer is model.processor.tokenizer
    assert completion.usage["image_tokens"] == 1272
    assert completion.usage["prompt_tokens"] > 1272
    assert 1 <= completion.usage["completion_tokens"] <= 8
    assert set(completion.timings) == {"preprocess", "prefill", "decode", "tokens_per_s"}
    assert all(v >= 0 for v in completion.timings.values())


def test_tools_and_tool_results_are_rendered_into_the_prompt(
    model: TransformersModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []
    real_template = model.processor.apply_chat_template

    def spy(*args, **kwargs):
        prompts.append(real_template(*args, **kwargs))
        return prompts[-1]

    monkeypatch.setattr(model.processor, "apply_chat_template", spy)
    weather = {"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }}
    after = Image.new("RGB", (280, 560))
    messages = screenshot_messages((560, 280)) + [
        {"role": "assistant", "content": '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}'},
        {"role": "tool", "name": "get_weather", "content": [{"type": "image", "image": after}, {"type": "text", "text": "21°C"}]},
    ]
    completion = model.generate(messages, tools=[weather])

    (prompt,) = prompts
    assert prompt.startswith("<|im_start|>system\n# Tools\n\n## You have access to the following tools:")
    assert "<|im_start|>tool" not in prompt and prompt.count("<|image_pad|>") == 2
    # Qwen2-VL's ✿ format: the result goes into the assistant's turn, which the model continues
    # after the ✿RETURN✿ cue (no end of turn, no new assistant turn).
    assert prompt.endswith('<|im_start|>assistant\n✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}\n'
                           '✿RESULT✿: <|vision_start|><|image_pad|><|vision_end|>21°C\n✿RETURN✿')
    assert model.render(messages, tools=[weather]) == prompt
    assert completion.usage["image_tokens"] == 2 * (560 // 14) * (280 // 14) // 4


def test_greedy_generation_is_deterministic(model: TransformersModel) -> None:
    messages = screenshot_messages((280, 560))
    assert model.generate(messages).text == model.generate(messages).text


def test_decode_keeps_grounding_tokens_and_drops_turn_markers(model: TransformersModel) -> None:
    text = "<|object_ref_start|>Wi-Fi<|object_ref_end|><|box_start|>(10,20),(30,40)<|box_end|>"
    ids = model.processor.tokenizer.encode(text + "<|im_end|><|endoftext|>")
    assert model._decode(ids) == text


def test_coordinate_system_follows_the_checkpoint(model: TransformersModel) -> None:
    assert isinstance(model, Model)
    assert model.coordinate_system == "relative-1000"
    # Before loading, the name decides; constructing does no I/O.
    assert TransformersModel("Qwen/Qwen2.5-VL-7B-Instruct").coordinate_system == "smart-resized"


def test_missing_path_says_how_to_get_the_model(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="hf download Qwen/Qwen2-VL-2B-Instruct"):
        TransformersModel(tmp_path / "no-such-model").load()


def test_unsupported_model_type_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(UserError, match=r"qwen2_vl \(Qwen2-VL\), qwen2_5_vl \(Qwen2.5-VL\)"):
        TransformersModel(tmp_path).load()


def test_quantized_checkpoint_without_kernels_names_the_package(tiny_model_path: Path, tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("gptqmodel"):
        pytest.skip("gptqmodel is installed")
    config = json.loads((tiny_model_path / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 128}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="pip install gptqmodel"):
        TransformersModel(tmp_path).load()


def test_importing_the_backend_does_not_import_torch() -> None:
    code = "import sys, vlagent.models.transformers_model; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_tiny_checkpoint_caps_its_answers_and_the_model_honours_it(tiny_model_path: Path) -> None:
    """Random weights rarely end a turn: the checkpoint's generation_config bounds the answer, so
    `--model tiny` decodes TINY_MAX_NEW_TOKENS a step rather than 512; a caller's value still wins."""
    from vlagent.testing import TINY_MAX_NEW_TOKENS

    model = TransformersModel(tiny_model_path).load()
    assert model.max_new_tokens == TINY_MAX_NEW_TOKENS < 512
    out = model.generate(screenshot_messages((280, 560)), stop=[])
    assert 1 <= out.usage["completion_tokens"] <= TINY_MAX_NEW_TOKENS
    assert TransformersModel(tiny_model_path, max_new_tokens=3).load().max_new_tokens == 3


def test_an_answer_cut_by_max_new_tokens_reports_length(model: TransformersModel) -> None:
    # min_new_tokens holds the end-of-turn token back, so only the limit can end this answer.
    out = model.generate(screenshot_messages((280, 560)), max_new_tokens=2, min_new_tokens=2, stop=[])
    assert out.usage["completion_tokens"] == 2 and out.finish_reason == "length"


def test_threads_sharing_one_model_get_the_answers_each_would_alone(
        tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench sim -j N` with a local checkpoint shares one model between N threads. Each call
    reuses the cached system prompt of whichever thread called last and evicts that thread's
    screens from the vision cache; the first calls also race to load the model. Every answer must
    be the one the same conversation gets from a model of its own, one call at a time."""
    import threading

    import numpy as np

    from vlagent.models import kv_reuse

    monkeypatch.setattr(kv_reuse, "CPU_SDPA_MIN_SHARE", 0.0)  # reuse any shared prefix, as on a GPU

    threads, steps = 4, 6
    # The same Image objects from step to step, as an agent's history shows them.
    screens = [[Image.fromarray(np.random.default_rng([t, s]).integers(0, 256, (448, 224, 3), dtype=np.uint8))
                for s in range(steps)] for t in range(threads)]

    def conversation(thread: int, step: int) -> list[dict]:
        shown = screens[thread][max(0, step - 1):step + 1]  # this screen and the last one
        return [{"role": "user", "content": [*({"type": "image", "image": s} for s in shown),
                                             {"type": "text", "text": f"Thread {thread}, step {step}."}]}]

    alone = TransformersModel(tiny_model_path, max_new_tokens=4)
    expected = {(t, s): alone.generate(conversation(t, s), min_new_tokens=4).text
                for t in range(threads) for s in range(steps)}

    shared = TransformersModel(tiny_model_path, max_new_tokens=4)  # not loaded: the threads race to
    start = threading.Barrier(threads)
    got: dict[tuple[int, int], str] = {}
    errors: list[BaseException] = []

    def run(thread: int) -> None:
        start.wait()
        try:
            for step in range(steps):
                got[thread, step] = shared.generate(conversation(thread, step), min_new_tokens=4).text
        except BaseException as e:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(e)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert got == expected
