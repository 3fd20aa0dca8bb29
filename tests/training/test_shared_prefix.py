"""The shared-prefix step (vlagent.training.prefix): the suffix-only forward over the prefix's
cache gives the full forward's logits on every token it computes, and the same loss, for both
families (their M-RoPE positions are right); and what it shares stops where images begin."""

from __future__ import annotations

import pytest
import torch

from vlagent.training.dataset import IGNORE_INDEX, Encoder, collate, load_split
from vlagent.training.prefix import prefix_length, rope_index_of, shared_prefix_inputs, stop_ids_of


def test_the_prefix_is_what_all_rows_share_before_the_first_image():
    ids = torch.tensor([[1, 2, 3, 4, 9, 5], [1, 2, 3, 4, 9, 6]])
    assert prefix_length(ids, set()) == 5
    assert prefix_length(ids, {9}) == 4
    assert prefix_length(ids, {3}) == 2
    assert prefix_length(torch.tensor([[1, 2, 3], [1, 2, 3]]), set()) == 2  # a row keeps a token of its own
    assert prefix_length(torch.tensor([[1, 2], [7, 2]]), set()) == 0


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen2.5-vl"])
def test_the_suffix_forward_over_the_prefix_cache_gives_the_full_forwards_logits(family, recorded, datasets):
    _, model, _ = recorded[family]
    hf = model.hf_model.eval()
    encoder = Encoder(model, datasets[family])
    features = [encoder(s) for s in load_split(datasets[family], "train")]
    assert len(features) >= 3
    batch = collate(features, model.processor.tokenizer.pad_token_id)  # different lengths: right padding
    stops = stop_ids_of(hf)
    n = prefix_length(batch["input_ids"], stops)
    assert n > 100  # the system prompt and the tool block
    with torch.no_grad():
        full = hf(**batch)
        shared = shared_prefix_inputs(hf, batch, rope_index_of(hf), stops)
        assert shared["input_ids"].shape[1] == batch["input_ids"].shape[1] - n
        part = hf(**shared)
    labelled = batch["labels"] != IGNORE_INDEX
    assert not labelled[:, :n].any()
    real = batch["attention_mask"].bool()[:, n:]  # padding's logits are nobody's
    torch.testing.assert_close(part.logits[real], full.logits[:, n:][real], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(part.loss, full.loss, rtol=1e-5, atol=1e-5)


def test_a_batch_sharing_too_little_is_left_alone(recorded, datasets):
    _, model, _ = recorded["qwen2-vl"]
    encoder = Encoder(model, datasets["qwen2-vl"])
    batch = collate([encoder(s) for s in load_split(datasets["qwen2-vl"], "train")[:2]],
                    model.processor.tokenizer.pad_token_id)
    hf = model.hf_model
    assert shared_prefix_inputs(hf, batch, None, stop_ids_of(hf)) is batch
    assert shared_prefix_inputs(hf, batch, rope_index_of(hf), stop_ids_of(hf), min_prefix=10**6) is batch


def test_training_with_the_shared_prefix_starts_from_the_full_forwards_loss(tiny_models, datasets, tmp_path):
    from vlagent.training.train import TrainConfig, train

    first = {}
    for share in (True, False):
        record = train(TrainConfig(model=str(tiny_models["qwen2-vl"]), data=str(datasets["qwen2-vl"]),
                                   out=str(tmp_path / str(share)), method="full", max_steps=1, batch_size=2,
                                   logging_steps=1, save_steps=10, share_prefix=share))
        first[share] = record["first_loss"]
    assert first[True] == pytest.approx(first[False], rel=1e-4)
