"""What makes a training step cheaper must leave its arithmetic alone: the patch embedding as a
matrix product gives the convolution's outputs and gradients, and length-grouped batches are
each epoch's samples, every one once, in batches of like length."""

from __future__ import annotations

import pytest
import torch

from vlagent.training.dataset import LengthGroupedBatches


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen2.5-vl"])
def test_the_patch_projection_as_a_product_gives_the_convolutions_outputs_and_gradients(family, tiny_models):
    from transformers import AutoModelForImageTextToText

    from vlagent.training.kernels import PatchProjection, use_matmul_patch_projections

    network = AutoModelForImageTextToText.from_pretrained(tiny_models[family])
    embed = network.model.visual.patch_embed
    patches = torch.randn(37, embed.in_channels * embed.temporal_patch_size * embed.patch_size ** 2)
    keys = set(network.state_dict())

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        embed.zero_grad()
        out = embed(patches)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        return out.detach(), embed.proj.weight.grad.clone()

    conv_out, conv_grad = run()
    assert use_matmul_patch_projections(network) == 1 and type(embed.proj) is PatchProjection
    out, grad = run()
    torch.testing.assert_close(out, conv_out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad, conv_grad, rtol=1e-5, atol=1e-5)
    assert embed.proj.weight.abs().sum() > 0 and set(network.state_dict()) == keys


def test_batches_group_samples_of_like_length_in_a_fresh_order_each_epoch_and_again_on_resume():
    torch.manual_seed(0)
    lengths = [int(n) for n in torch.randint(0, 3, (203,)) * 100 + torch.randint(0, 9, (203,))]
    order = LengthGroupedBatches(lengths, batch_size=4, seed=7, span=10)
    epochs = [list(order), list(order)]
    resumed = LengthGroupedBatches(lengths, batch_size=4, seed=7, span=10)
    resumed.set_epoch(1)  # what the Trainer does for the epoch a resumed run is in
    assert list(resumed) == epochs[1]
    for epoch in epochs:
        assert sorted(epoch) == list(range(203)) and len(order) == 203
        batches = [epoch[i:i + 4] for i in range(0, 203, 4)]
        mixed = [b for b in batches if len({lengths[i] // 100 for i in b}) > 1]
        assert len(mixed) <= 2 * 6, "at most two mixed batches (three kinds) in each of the six spans"
        assert len(batches[-1]) == 3  # the one short batch comes last
    assert epochs[0] != epochs[1]
    kinds = [lengths[epochs[0][i]] // 100 for i in range(0, 200, 4)]
    changes = sum(a != b for a, b in zip(kinds, kinds[1:]))
    assert changes > 20, "the batches are shuffled, not run each span's kinds one after another (~15 changes)"
