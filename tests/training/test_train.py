"""Encoding and training on the tiny random-weight checkpoints (real transformers, peft, Trainer):
labels only on the assistant's tokens, one image token per merged patch, a loss that falls,
adapters that load back as they were saved, and errors that say what to do."""

from __future__ import annotations

import json

import pytest
import torch

from vlagent.conversation import CURRENT_SCREEN_QUESTION
from vlagent.errors import UserError
from vlagent.models.transformers_model import TransformersModel
from vlagent.specs import load_model
from vlagent.training.dataset import IGNORE_INDEX, Encoder, collate, load_split
from vlagent.training.train import TrainConfig, train


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen2.5-vl"])
def test_labels_cover_the_reply_alone_and_image_tokens_match_the_grids(family, recorded, datasets):
    _, model, _ = recorded[family]
    encoder = Encoder(model, datasets[family])
    tokenizer = model.processor.tokenizer
    merge = model.processor.image_processor.merge_size
    for sample in load_split(datasets[family], "train"):
        f = encoder(sample)
        labelled = (f["labels"] != IGNORE_INDEX).nonzero().flatten()
        # one contiguous block at the very end: the reply and the end of the turn, nothing else
        assert labelled.tolist() == list(range(len(f["labels"]) - len(labelled), len(f["labels"])))
        assert torch.equal(f["labels"][labelled], f["input_ids"][labelled])
        assert tokenizer.decode(f["input_ids"][labelled]) == sample["completion"] + "<|im_end|>"
        image_tokens = int((f["input_ids"] == model.processor.image_token_id).sum())
        assert image_tokens == int((f["image_grid_thw"].prod(-1) // merge**2).sum()) > 0
        assert len(f["pixel_values"]) == int(f["image_grid_thw"].prod(-1).sum())


def _batch_loss(model_dir, dataset, **options) -> float:
    model = TransformersModel(model_dir, **options).load()
    encoder = Encoder(model, dataset)
    batch = collate([encoder(s) for s in load_split(dataset, "train")], model.processor.tokenizer.pad_token_id)
    with torch.no_grad():
        return float(model.hf_model(**batch).loss)


def test_a_few_steps_on_a_fixed_batch_lower_the_loss(tiny_models, datasets, tmp_path, monkeypatch):
    """Also: batches of two hold samples of like length (the short and the long halves of the
    data, in either order each epoch), and the vision tower trains through PatchProjection."""
    import vlagent.training.train as training

    base, data = tiny_models["qwen2-vl"], datasets["qwen2-vl"]
    before = _batch_loss(base, data)
    batches: list[list[int]] = []
    monkeypatch.setattr(training, "collate", lambda features, pad_token_id: batches.append(
        sorted(len(f["input_ids"]) for f in features)) or collate(features, pad_token_id))
    out = tmp_path / "full"
    record = train(TrainConfig(model=str(base), data=str(data), out=str(out), method="full", max_steps=12,
                               batch_size=2, train_vision=True, learning_rate=1e-2, warmup_ratio=0.0,
                               logging_steps=1, save_steps=6))
    after = _batch_loss(out, data)
    assert after < 0.75 * before, (before, after)
    lengths = sorted(batches[0] + batches[1])
    assert len(set(lengths)) == 4 and len(batches) == 12
    assert all(sorted([a, b]) == [lengths[:2], lengths[2:]] for a, b in zip(batches[::2], batches[1::2])), batches
    assert record["steps"] == 12 and record["last_loss"] < record["first_loss"]
    assert (out / "training_curves.png").stat().st_size > 1000
    saved = json.loads((out / "training.json").read_text())
    assert [h["loss"] for h in saved["log_history"] if "loss" in h][0] == record["first_loss"]


@pytest.mark.parametrize("method", ["lora", "full"])
def test_a_rerun_resumes_from_the_latest_checkpoint_with_its_weights(method, tiny_models, datasets, tmp_path):
    from safetensors.torch import load_file

    base, data, out = tiny_models["qwen2-vl"], datasets["qwen2-vl"], tmp_path / method
    weights = "model.safetensors" if method == "full" else "adapter_model.safetensors"
    cfg = TrainConfig(model=str(base), data=str(data), out=str(out), method=method, max_steps=4, save_steps=4,
                      learning_rate=1e-2)
    train(cfg)
    (out / weights).unlink()
    record = train(cfg)  # resumes at step 4 of 4: no step, so it saves exactly what it resumed from
    assert record["resumed_from"] == str(out / "checkpoint-4") and record["steps"] == 4
    saved, resumed = load_file(out / "checkpoint-4" / weights), load_file(out / weights)
    assert saved.keys() == resumed.keys()
    for name, tensor in saved.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=0, msg=name)
    cfg.max_steps = 5
    assert train(cfg)["steps"] == 5


def test_an_adapter_loads_back_with_the_logits_it_was_saved_with(tiny_models, datasets, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2VLForConditionalGeneration

    base, data = tiny_models["qwen2-vl"], datasets["qwen2-vl"]
    network = get_peft_model(Qwen2VLForConditionalGeneration.from_pretrained(base),
                             LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"],
                                        init_lora_weights=False)).eval()  # random, not a no-op
    network.save_pretrained(tmp_path / "adapter")
    model = TransformersModel(base).load()
    batch = collate([Encoder(model, data)(load_split(data, "train")[1])], model.processor.tokenizer.pad_token_id)
    with torch.no_grad():
        expected = network(**batch).logits
        plain = model.hf_model(**batch).logits
        for loaded in (TransformersModel(base, adapter=tmp_path / "adapter"), load_model(str(tmp_path / "adapter"))):
            got = loaded.load().hf_model(**batch).logits
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(plain, expected, atol=1e-3)  # the adapter does change the model


def test_a_trained_model_is_prompted_in_the_style_of_its_data(recorded, tiny_models, tmp_path):
    """Trained on bare samples, the adapter and its merged checkpoint both say so, and an Agent
    given either sends bare prompts without being told; a released checkpoint gets full ones."""
    import vlagent
    from vlagent.testing import ImageDevice
    from vlagent.training.export import export

    from training_fixtures import screens

    run_dir, _, _ = recorded["qwen2-vl"]
    export([run_dir], tmp_path / "bare", validation=0.0, prompt_style="bare")
    out = tmp_path / "out"
    record = train(TrainConfig(model=str(tiny_models["qwen2-vl"]), data=str(tmp_path / "bare"), out=str(out),
                               method="lora", max_steps=1, merge=True))
    assert record["prompt_style"] == "bare"
    for path, style in ((out, "bare"), (out / "merged", "bare"), (tiny_models["qwen2-vl"], "full")):
        agent = vlagent.Agent(load_model(str(path)), ImageDevice(screens()))
        messages, _ = agent.first_prompt("Say hello")
        assert agent.config.prompt_style == style, path
        assert any(m["role"] == "system" for m in messages) == (style == "full")
        assert messages[-1]["content"][-1]["text"] == ("Say hello" if style == "bare" else CURRENT_SCREEN_QUESTION)
    agent = vlagent.Agent(load_model(str(out)), ImageDevice(screens()), prompt_style="full")  # the user's word wins
    assert agent.config.prompt_style == "full"


def test_qlora_without_a_gpu_says_what_to_use_instead(tiny_models, datasets, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UserError, match="--method lora"):
        train(TrainConfig(model=str(tiny_models["qwen2-vl"]), data=str(datasets["qwen2-vl"]), out=str(tmp_path),
                          method="qlora"))


def test_a_dataset_of_another_profile_is_refused_with_the_fix(tiny_models, datasets, tmp_path):
    with pytest.raises(UserError, match="--profile qwen2.5-vl"):
        train(TrainConfig(model=str(tiny_models["qwen2.5-vl"]), data=str(datasets["qwen2-vl"]), out=str(tmp_path)))


def test_a_sample_over_the_length_limit_stops_training_before_it_starts(tiny_models, datasets, tmp_path):
    with pytest.raises(UserError, match="--max-length 64.*--max-pixels"):
        train(TrainConfig(model=str(tiny_models["qwen2-vl"]), data=str(datasets["qwen2-vl"]), out=str(tmp_path / "o"),
                          max_length=64))
    assert not (tmp_path / "o").exists()
