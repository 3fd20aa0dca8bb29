"""An exported dataset as model inputs: token ids, pixel values and labels for each sample.

The prompt is made by the model's own path, the one `generate` takes: `TransformersModel`'s
prompt rendering (profile's tool format, the checkpoint's chat template) and its preprocessing
(pixel values, image placeholders widened to each image's grid). The target is what the profile
renders after that prompt when the reply is the last assistant turn, closed by the end-of-turn
token the model stops on. Labels are -100 everywhere but on the target's tokens, so the loss is
the assistant's alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import UserError
from .export import DATASET_FORMAT, SPLITS

IGNORE_INDEX = -100  # what the loss skips (transformers' and torch's cross-entropy convention)
END_OF_TURN = "<|im_end|>"


def read_meta(dataset: str | Path) -> dict[str, Any]:
    path = Path(dataset) / "dataset.json"
    if not path.is_file():
        raise UserError(f"{dataset} is not a dataset (no dataset.json); make one with "
                        "`vlagent data export RUNS... --out DATASET`")
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format") != DATASET_FORMAT:
        raise UserError(f"{dataset} is a {meta.get('format')!r} dataset, this vlagent reads {DATASET_FORMAT}; "
                        "export the runs again with this version")
    return meta


def load_split(dataset: str | Path, split: str) -> list[dict[str, Any]]:
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: use one of {SPLITS}")
    path = Path(dataset) / f"{split}.jsonl"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def check_profile(meta: dict[str, Any], model: Any, dataset: str | Path) -> None:
    """A dataset rendered for one family teaches another the wrong format and coordinates."""
    if meta["profile"] != model.profile.name:
        raise UserError(
            f"{dataset} was exported for profile {meta['profile']} but {model.model_name} is "
            f"{model.profile.name}: export the runs again with --profile {model.profile.name}, or train a "
            f"{meta['profile']} model (or pass --profile {meta['profile']} if this checkpoint is one)")


class Encoder:
    """Turns samples of `dataset` into training features with a loaded `TransformersModel`."""

    def __init__(self, model: Any, dataset: str | Path, *, max_length: int | None = None):
        self.model = model.load()
        self.dir = Path(dataset)
        self.tokenizer = model.processor.tokenizer
        self.max_length = max_length

    def messages(self, sample: dict[str, Any]) -> tuple[list[dict], list[Image.Image]]:
        """The sample's messages with its images read back, and those images in order."""
        images, messages = [], []
        for m in sample["messages"]:
            if isinstance(m.get("content"), list):
                parts = []
                for p in m["content"]:
                    if p.get("type") == "image":
                        with Image.open(self.dir / p["image"]) as im:
                            p = {"type": "image", "image": im.convert("RGB")}
                        images.append(p["image"])
                    parts.append(p)
                m = {**m, "content": parts}
            messages.append(m)
        return messages, images

    def texts(self, sample: dict[str, Any]) -> tuple[str, str, list[Image.Image]]:
        """(prompt, target, images): the prompt exactly as `generate` renders it; the target as
        the profile continues it with the reply, up to and with the end of the turn."""
        messages, images = self.messages(sample)
        prompt, _, _ = self.model.prompt(messages, sample["tools"])
        full, _, continued = self.model.prompt([*messages, {"role": "assistant", "content": sample["target"]}],
                                               sample["tools"])
        if not continued or not full.startswith(prompt):
            raise UserError(f"sample {sample['id']}: profile {self.model.profile.name} does not render its reply "
                            "as a continuation of its prompt; export the runs again with this model's --profile")
        return prompt, full[len(prompt):] + END_OF_TURN, images

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        import torch

        prompt, target, images = self.texts(sample)
        model = self.model
        inputs = model.inputs(prompt, images)
        grid = inputs.get("image_grid_thw")
        patch = getattr(model.processor.image_processor, "patch_size", 14)
        for im, g in zip(images, grid if grid is not None else []):
            if (int(g[2]) * patch, int(g[1]) * patch) != im.size:
                raise UserError(
                    f"sample {sample['id']}: its {im.width}x{im.height} image would go to the model at "
                    f"{int(g[2]) * patch}x{int(g[1]) * patch}; train with --max-pixels {im.width * im.height} "
                    "or more so it sees the images as the agent did")
        target_ids = torch.tensor(self.tokenizer(target, add_special_tokens=False)["input_ids"], dtype=torch.long)
        prompt_ids = inputs["input_ids"][0]
        ids = torch.cat([prompt_ids, target_ids])
        if self.max_length is not None and len(ids) > self.max_length:
            raise UserError(
                f"sample {sample['id']} is {len(ids)} tokens long, over --max-length {self.max_length} "
                f"({int((prompt_ids == model.processor.image_token_id).sum())} of them image tokens): raise "
                "--max-length, or record runs with fewer pixels per image (--max-pixels) or fewer "
                "history images, and export again")
        features = {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "labels": torch.cat([torch.full_like(prompt_ids, IGNORE_INDEX), target_ids]),
        }
        if "mm_token_type_ids" in inputs:
            features["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"][0], torch.zeros_like(target_ids)])
        if grid is not None:
            features.update(pixel_values=inputs["pixel_values"], image_grid_thw=grid)
        return features


class EncodedDataset:
    """A torch-style dataset (len, getitem) encoding each sample when asked: pixel values are
    megabytes a sample, so they are made again each epoch rather than kept."""

    def __init__(self, samples: list[dict[str, Any]], encoder: Encoder):
        self.samples = samples
        self.encoder = encoder

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.encoder(self.samples[index])


def collate(features: list[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """A batch: sequences padded on the right (labels with IGNORE_INDEX, attention with 0), the
    images of all samples concatenated in order, as Qwen-VL models take them."""
    import torch

    length = max(len(f["input_ids"]) for f in features)

    def pad(key: str, value: int) -> Any:
        return torch.stack([torch.cat([f[key], torch.full((length - len(f[key]),), value, dtype=f[key].dtype)])
                            for f in features])

    batch = {"input_ids": pad("input_ids", pad_token_id), "attention_mask": pad("attention_mask", 0),
             "labels": pad("labels", IGNORE_INDEX)}
    if all("mm_token_type_ids" in f for f in features):
        batch["mm_token_type_ids"] = pad("mm_token_type_ids", 0)
    with_images = [f for f in features if "pixel_values" in f]
    if with_images:
        batch["pixel_values"] = torch.cat([f["pixel_values"] for f in with_images])
        batch["image_grid_thw"] = torch.cat([f["image_grid_thw"] for f in with_images])
    return batch


class LengthGroupedBatches:
    """The training order: each epoch a random permutation, cut into spans of `span` batches;
    each span sorted by length and cut into batches; the batches then shuffled, with a short last
    batch kept last (the DataLoader cuts the order into batches of `batch_size`).

    A batch is padded to its longest sample, and an agent's dataset mixes samples of one screen
    with samples of two or more: drawn at random, nearly every batch of 8 holds a long one and
    pads all to it (the small model's bare launcher data: every batch ~970 tokens, where grouped
    ones are ~830 or ~970; 0.82 s a step against 0.45 and 0.91). Shuffling the batches, not
    only the spans (transformers' LengthGroupedSampler runs each span long to short), keeps
    runs of one kind of sample (taps, terminates) from following each other for dozens of
    steps. An epoch's order depends on `seed` and the epoch alone (the Trainer calls set_epoch),
    so a run resumed in the middle of an epoch skips exactly the batches it had trained on."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, span: int = 50):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.span = span
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Any:
        import torch

        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1  # the next pass differs even where nobody calls set_epoch
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        size = self.batch_size * self.span
        batches = []
        for start in range(0, len(order), size):  # spans of whole batches; only the last can be short
            span = sorted(order[start:start + size], key=self.lengths.__getitem__)
            batches += [span[i:i + self.batch_size] for i in range(0, len(span), self.batch_size)]
        short = batches.pop() if batches and len(batches[-1]) < self.batch_size else []
        for b in torch.randperm(len(batches), generator=generator).tolist():
            yield from batches[b]
        yield from short
