"""Fine-tuning a Qwen-VL checkpoint on an exported dataset: transformers' Trainer with peft.

Methods: `lora` (adapters on the language model's projections), `qlora` (the same over a 4-bit
base, bitsandbytes, CUDA only) and `full` (every weight of the language model). The vision
tower (and its merger) stays frozen unless `train_vision`. On a GPU: bf16 and gradient
checkpointing. Several GPUs: launch the same command under torchrun or `accelerate launch`
(the Trainer runs data-parallel); very large models: `deepspeed=` a ZeRO config file
(docs/deepspeed_zero3.json). Checkpoints go to OUT/checkpoint-N; a rerun with the same OUT
resumes from the latest. What comes out:

    OUT/adapter_config.json, adapter_model.safetensors   (lora, qlora)  or the full checkpoint (full)
    OUT/merged/                  base + adapter as one checkpoint (lora, qlora with merge=True)
    OUT/training.json            what was trained on what, and the loss history
    OUT/vlagent.json             (and OUT/merged/) the prompt style the data had, which the Agent
                                 sends the trained model (RunConfig.prompt_style)
    OUT/training_curves.png      loss and validation loss by step

Both OUT and OUT/merged load with `TransformersModel(OUT)` / `--model OUT`.

Every sample begins with the same system turn (the tool block, after the system prompt in a
full-style prompt); unless `share_prefix` is off (or gradient checkpointing is on: its
recomputation would run the cache twice) a step runs that prefix once under no_grad and the
samples' suffixes over its cache (prefix.py): the same loss, cheaper (1.4-2.3x a step for the
small model, docs/training.md), without the gradient through the prefix's keys and values.
Batches hold samples of like length (dataset.LengthGroupedBatches: an agent's data mixes one-
and two-screen samples) unless `group_by_length` is off, and a trained vision tower embeds its
patches with a matrix product instead of a convolution (kernels.py): the same arithmetic, each
cheaper on a CPU.
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..models.checkpoint import VLAGENT_FILE
from .dataset import EncodedDataset, Encoder, LengthGroupedBatches, check_profile, collate, load_split, read_meta

METHODS = ("lora", "qlora", "full")
# The language model's linear layers (peft matches module names against this); the vision
# tower's are added with train_vision.
LANGUAGE_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
VISION_TARGETS = r".*visual.*\.(qkv|proj|fc1|fc2|gate_proj|up_proj|down_proj|mlp\.0|mlp\.2)"
TRAINING_FILE = "training.json"
CURVES_FILE = "training_curves.png"


@dataclass
class TrainConfig:
    model: str
    data: str
    out: str
    method: str = "lora"
    profile: str | None = None
    epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float | None = None  # None: 2e-4 for adapters, 5e-5 for full
    batch_size: int = 1
    grad_accum: int = 1
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    train_vision: bool = False
    max_length: int | None = None
    max_pixels: int | None = None
    max_minutes: float | None = None
    eval_steps: int = 50
    save_steps: int = 200
    logging_steps: int = 10
    warmup_ratio: float = 0.05
    merge: bool = False
    deepspeed: str | None = None
    share_prefix: bool = True
    group_by_length: bool = True
    lr_scheduler: str = "cosine"
    seed: int = 0


def check_request(cfg: TrainConfig, cuda: bool) -> None:
    """Refuse, with the fix, what cannot work on this machine before anything loads."""
    if cfg.method not in METHODS:
        raise UserError(f"--method {cfg.method!r}: use one of {', '.join(METHODS)}")
    if cfg.method in ("lora", "qlora") and importlib.util.find_spec("peft") is None:
        raise UserError(f"--method {cfg.method} needs peft: pip install 'vlagent[train]'")
    if cfg.method == "qlora":
        if not cuda:
            raise UserError("--method qlora quantizes the base model to 4 bits with bitsandbytes, which needs an "
                            "NVIDIA GPU (CUDA) and this machine has none; use --method lora (or full for a small "
                            "model) on a CPU, or run on a GPU machine")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise UserError("--method qlora needs bitsandbytes: pip install bitsandbytes")
    if cfg.deepspeed and importlib.util.find_spec("deepspeed") is None:
        raise UserError("--deepspeed needs the deepspeed package: pip install deepspeed")


def load_model(cfg: TrainConfig, cuda: bool) -> Any:
    """The TransformersModel that renders prompts, with its weights ready to train."""
    from ..models.transformers_model import TransformersModel

    options: dict[str, Any] = {"profile": cfg.profile} if cfg.profile else {}
    if cfg.max_pixels:
        options["max_pixels"] = cfg.max_pixels
    # Full fine-tuning keeps fp32 master weights (bf16 autocast on a GPU); adapters train over
    # a bf16 base there.
    dtype = "float32" if cfg.method == "full" or not cuda else "auto"
    model = TransformersModel(cfg.model, dtype=dtype, **options)
    if cfg.method != "qlora":
        return model.load()
    import torch
    import transformers

    from ..models.checkpoint import load_config
    from ..profiles import profile_for_model_type

    config, source, local_only = load_config(model.model_name)

    model.processor = transformers.AutoProcessor.from_pretrained(source, local_files_only=local_only)
    if not cfg.profile:
        model.profile = profile_for_model_type(config.model_type) or model.profile
    quant = transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                            bnb_4bit_compute_dtype=torch.bfloat16)
    model.hf_model = getattr(transformers, model.profile.model_class).from_pretrained(
        source, quantization_config=quant, dtype=torch.bfloat16, device_map={"": torch.cuda.current_device()},
        local_files_only=local_only)
    model.device = "cuda"
    return model


def trainable(model: Any, cfg: TrainConfig, cuda: bool) -> Any:
    """The network the Trainer updates: with adapters (peft) or with its own weights unfrozen."""
    hf = model.hf_model
    if cfg.train_vision:
        from .kernels import use_matmul_patch_projections

        use_matmul_patch_projections(hf)
    if cfg.method == "full":
        for name, p in hf.named_parameters():
            p.requires_grad = cfg.train_vision or ".visual." not in f".{name}."
        return hf
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.method == "qlora":
        hf = prepare_model_for_kbit_training(hf, use_gradient_checkpointing=True)
    targets = LANGUAGE_TARGETS + (f"|{VISION_TARGETS}" if cfg.train_vision else "")
    lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")
    peft_model = get_peft_model(hf, lora)
    if cuda:
        peft_model.enable_input_require_grads()  # gradient checkpointing needs grads at the inputs
    return peft_model


def _time_limit(minutes: float | None) -> Any:
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):
        """Stops training (saving a checkpoint) once `minutes` of it have passed."""

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            if minutes is not None and time.monotonic() - self.start > minutes * 60:
                control.should_training_stop = control.should_save = True
                control.should_evaluate = args.eval_strategy != "no"
            return control

    return TimeLimit()


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train as `cfg` says; returns what training.json holds."""
    import torch
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    check_request(cfg, cuda)
    meta = read_meta(cfg.data)
    out = Path(cfg.out)
    model = load_model(cfg, cuda)
    check_profile(meta, model, cfg.data)
    encoder = Encoder(model, cfg.data, max_length=cfg.max_length or model.hf_model.config.text_config.max_position_embeddings)
    train_set = EncodedDataset(load_split(cfg.data, "train"), encoder)
    val_set = EncodedDataset(load_split(cfg.data, "validation"), encoder)
    if not len(train_set):
        raise UserError(f"{cfg.data} has no training samples; export more runs (or a lower --validation)")
    # every sample once now: a too-long one fails here, not hours in
    lengths = [len(train_set[i]["input_ids"]) for i in range(len(train_set))]
    for i in range(len(val_set)):
        val_set[i]
    network = trainable(model, cfg, cuda)
    lr = cfg.learning_rate or (5e-5 if cfg.method == "full" else 2e-4)
    args = TrainingArguments(
        output_dir=str(out), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, learning_rate=lr,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, warmup_steps=cfg.warmup_ratio, lr_scheduler_type=cfg.lr_scheduler,
        logging_steps=cfg.logging_steps, eval_strategy="steps" if len(val_set) else "no", eval_steps=cfg.eval_steps,
        save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=2, bf16=cuda,
        gradient_checkpointing=cuda, remove_unused_columns=False, label_names=["labels"], report_to=[],
        dataloader_num_workers=0, seed=cfg.seed, deepspeed=cfg.deepspeed, use_cpu=not cuda,
        save_only_model=False, prediction_loss_only=True,
    )
    pad = model.processor.tokenizer.pad_token_id
    trainer_class = _trainer_class(model.hf_model, share_prefix=cfg.share_prefix and not args.gradient_checkpointing,
                                   lengths=lengths if cfg.group_by_length else None)
    trainer = trainer_class(model=network, args=args, train_dataset=train_set, eval_dataset=val_set if len(val_set) else None,
                      data_collator=partial(collate, pad_token_id=pad), callbacks=[_time_limit(cfg.max_minutes)])
    resume = _latest_checkpoint(out)
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    minutes = (time.monotonic() - started) / 60
    trainer.save_model(str(out))  # every process: DeepSpeed and FSDP gather the weights for it
    if trainer.is_world_process_zero():
        return _finish(trainer, network, model, cfg, meta, out, minutes, resume)
    return {}


def _trainer_class(hf_model: Any, share_prefix: bool, lengths: list[int] | None) -> Any:
    """The Trainer to run: one that resumes a full fine-tune with its checkpoint's weights, with
    `lengths` (of the training samples) batches samples of like length, and with `share_prefix`
    runs the batch's shared prefix once in every forward (training and validation)."""
    from transformers import Trainer

    from .prefix import rope_index_of, shared_prefix_inputs, stop_ids_of

    class ResumingTrainer(Trainer):
        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            network = self.accelerator.unwrap_model(model if model is not None else self.model)  # DDP's module
            if hasattr(network, "peft_config") or self.is_fsdp_enabled:
                return super()._load_from_checkpoint(resume_from_checkpoint, model)
            # save_pretrained writes a Qwen-VL's weights under the names of the released
            # checkpoints (visual.*, model.layers.*), which the Trainer's own loader hands to
            # load_state_dict unmapped: no key matches, a warning, and the rerun trains on from
            # the base weights. from_pretrained maps them (at the cost of a second copy in memory).
            saved = type(network).from_pretrained(resume_from_checkpoint, dtype=next(network.parameters()).dtype)
            network.load_state_dict(saved.state_dict())

        def _get_train_sampler(self, train_dataset=None):
            if lengths is None:
                return super()._get_train_sampler(train_dataset)
            return LengthGroupedBatches(lengths, self.args.train_batch_size, seed=self.args.seed)

    if not share_prefix:
        return ResumingTrainer
    rope_index, stops = rope_index_of(hf_model), stop_ids_of(hf_model)

    class SharedPrefixTrainer(ResumingTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = shared_prefix_inputs(model, inputs, rope_index, stops)
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    return SharedPrefixTrainer


def _latest_checkpoint(out: Path) -> Path | None:
    points = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1)
    return points[-1] if points else None


def _finish(trainer: Any, network: Any, model: Any, cfg: TrainConfig, meta: dict, out: Path, minutes: float,
            resumed: Path | None) -> dict[str, Any]:
    from .plots import plot_curves

    model.processor.save_pretrained(out)
    style = meta.get("prompt_style") or "full"  # datasets from before the setting were rendered full
    folders = [out]
    if cfg.merge and cfg.method != "full":
        merged = out / "merged"
        network.merge_and_unload().save_pretrained(merged)
        model.processor.save_pretrained(merged)
        folders.append(merged)
    for folder in folders:
        (folder / VLAGENT_FILE).write_text(json.dumps({"prompt_style": style}) + "\n", encoding="utf-8")
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    record = {
        "config": asdict(cfg), "base_model": model.model_name, "profile": model.profile.name,
        "prompt_style": style, "data_kind": meta.get("kind", "agent"),
        "samples": meta["samples"], "steps": trainer.state.global_step, "epochs": trainer.state.epoch,
        "minutes": round(minutes, 2), "resumed_from": str(resumed) if resumed else None,
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        "first_eval_loss": evals[0] if evals else None, "last_eval_loss": evals[-1] if evals else None,
        "trainable_parameters": sum(p.numel() for p in network.parameters() if p.requires_grad),
        "log_history": history,
    }
    (out / TRAINING_FILE).write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    if history:
        plot_curves(history, out / CURVES_FILE, title=f"{Path(cfg.model).name} {cfg.method} on {Path(cfg.data).name}")
    return record
