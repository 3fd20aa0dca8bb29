"""`vlagent data export` and `vlagent train`: recorded runs to a dataset, a dataset to a model.

Only typer and rich are imported here; torch, transformers and peft load when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..errors import UserError, VLAgentError
from ..specs import PROFILE_HELP
from ..terminal import console, fail

data_app = typer.Typer(
    help="Training data from recorded runs.\n\n"
    "\b\nThe loop, in four commands:\n"
    "  vlagent bench sim --model oracle --tasks launcher.open_lone_app --repeats 1500 --sim-size 180x400 --out runs\n"
    "  vlagent data export runs --out data --only-success\n"
    "  vlagent train --model BASE --data data --method lora --out trained\n"
    "  vlagent bench sim --model trained --tasks launcher.open_lone_app --seed 10000 --repeats 100 "
    "--sim-size 180x400 --out eval\n\n"
    "A model from random weights (`vlagent tiny-model small --size small`) learns to point first: "
    "`vlagent data export runs --out pointing --only-success --grounding`, train it on that, then "
    "on data with --model set to that run. README and docs/training.md have the measured commands.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

EXPORT_HELP = (
    "Turn recorded runs into a training set: one sample per step, the prompt the agent sent at that "
    "step (rebuilt from trajectory.json by the loop's own code, images at the size the model saw) "
    "and the model's reply, written as the profile's model writes calls.\n\n"
    "RUNS are run directories (`vlagent run --out`) or folders of them (`vlagent bench sim --out`). "
    "Samples are split into train and validation by task and seed (a run's steps never on both "
    "sides) and deduplicated (unless --keep-duplicates). Besides train.jsonl and validation.jsonl, "
    "sharegpt_*.jsonl holds the same samples as ShareGPT-style {messages, images} for other trainers."
)


@data_app.command("export", help=EXPORT_HELP)
def export_cmd(
    runs: Annotated[list[Path], typer.Argument(metavar="RUNS...", help="Run directories, or folders holding them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="New directory for the dataset.")],
    profile: Annotated[Optional[str], typer.Option(metavar="PROFILE", help="The family the data is for: "
                       "its tool-call format and coordinates. Default: the first profile whose coordinates "
                       "the runs were recorded in. " + PROFILE_HELP)] = None,
    only_success: Annotated[bool, typer.Option("--only-success", help="Leave out runs that did not succeed "
                            "(a benchmark episode's check, else the run's own status).")] = False,
    validation: Annotated[float, typer.Option(help="Share of (task, seed) groups held out for validation.")] = 0.1,
    keep_duplicates: Annotated[bool, typer.Option("--keep-duplicates", help="Keep a sample as often as the runs "
                               "took that step (never on both sides of the split): the runs' own mix of steps, "
                               "where deduplication would keep few of the screens that recur across seeds.")] = False,
    prompt_style: Annotated[Optional[str], typer.Option(metavar="full|bare", help="Render every sample in this "
                            "prompt style (RunConfig.prompt_style): full has the agent's rules, the task in a "
                            "turn of its own and a question after each screen; bare only the task after each "
                            "screen, for a model trained from scratch here. The trained model asks for it. "
                            "Default: as the runs were prompted.")] = None,
    grounding: Annotated[bool, typer.Option("--grounding", help="Write a pointing lesson instead: each step "
                         "that tapped one point becomes the screen and the task, answered with the point "
                         "(\"[x, y]\" in the runs' coordinates), without the tool block. A model trained from "
                         "random weights (the small model) learns where to tap from these first; then train "
                         "it on the agent's dataset with --model set to that run (docs/training.md).")] = False,
) -> None:
    from rich.progress import Progress

    from .export import export

    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("reading runs", total=None)
            stats = export(runs, out, profile=profile, only_success=only_success, validation=validation,
                           keep_duplicates=keep_duplicates, prompt_style=prompt_style, grounding=grounding,
                           on_run=lambda path: progress.update(task, advance=1, description=f"{path.name}"))
    except (UserError, VLAgentError) as e:
        fail(str(e))
    table = Table("", "train", "validation", title=f"dataset in {out}")
    table.add_row("samples", *(str(stats.samples[s]) for s in ("train", "validation")))
    table.add_row("task/seed groups", *(str(stats.groups[s]) for s in ("train", "validation")))
    console.print(table)
    console.print(f"{stats.runs} runs exported, {stats.images} images, {stats.duplicates} duplicate samples dropped"
                  + (" (seen on the other side of the split)" if keep_duplicates else ""))
    for why, n in {**stats.runs_skipped, **stats.steps_skipped}.items():
        console.print(f"  skipped {n}: {why}")


TRAIN_HELP = (
    "Fine-tune a Qwen-VL checkpoint on an exported dataset (transformers' Trainer, peft).\n\n"
    "The loss is on the assistant's tokens only; the vision tower stays frozen unless "
    "--train-vision. On a GPU: bf16 and gradient checkpointing. Progress, training loss and "
    "validation loss are printed as it goes; checkpoints go to OUT/checkpoint-N and a rerun with "
    "the same --out resumes from the latest. OUT ends up holding the adapter (lora, qlora) or the "
    "model (full), training.json and training_curves.png; --merge adds OUT/merged. Run the result "
    "with --model OUT in `vlagent run`, `vlagent chat` and `vlagent bench sim`.\n\n"
    "Several GPUs: torchrun --nproc_per_node 4 $(which vlagent) train ... (or accelerate launch); "
    "large models: add --deepspeed docs/deepspeed_zero3.json."
)


def train_cmd(
    model: Annotated[str, typer.Option("--model", "-m", help="Base checkpoint: a directory or Hugging Face id (e.g. Qwen/Qwen2-VL-2B-Instruct, one from `vlagent tiny-model --size small`, or the OUT of an earlier full run, such as a --grounding lesson's).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Dataset directory from `vlagent data export`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (rerun with the same one to resume).")],
    method: Annotated[str, typer.Option(help="lora (adapters), qlora (adapters over a 4-bit base; CUDA and bitsandbytes), or full (all language-model weights).")] = "lora",
    profile: Annotated[Optional[str], typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
    epochs: Annotated[float, typer.Option(help="Passes over the training samples.")] = 3.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many optimizer steps (overrides --epochs; -1: off).")] = -1,
    max_minutes: Annotated[Optional[float], typer.Option(help="Stop (with a checkpoint) after this much training time.")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate (default 2e-4 for adapters, 5e-5 for full).")] = None,
    lr_scheduler: Annotated[str, typer.Option(help="How the learning rate moves after the warmup (5% of the steps): cosine, linear, constant_with_warmup, or another of transformers' schedulers.")] = "cosine",
    batch_size: Annotated[int, typer.Option(help="Samples per device per step.")] = 1,
    grad_accum: Annotated[int, typer.Option(help="Steps whose gradients add up before each update.")] = 1,
    lora_rank: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    lora_alpha: Annotated[int, typer.Option(help="LoRA alpha (scale = alpha / rank).")] = 32,
    train_vision: Annotated[bool, typer.Option("--train-vision", help="Train the vision tower and merger too (a model whose vision was never trained, like the small test model, needs it).")] = False,
    max_length: Annotated[Optional[int], typer.Option(help="Longest sample in tokens (default: the model's context); longer ones stop training before it starts, saying what to change.")] = None,
    max_pixels: Annotated[Optional[int], typer.Option(help="Largest image area fed to the model; at least the exported images' (default 1280*28*28).")] = None,
    eval_steps: Annotated[int, typer.Option(help="Validation loss every this many steps.")] = 50,
    save_steps: Annotated[int, typer.Option(help="A checkpoint every this many steps (the last two are kept).")] = 200,
    logging_steps: Annotated[int, typer.Option(help="Training loss logged every this many steps.")] = 10,
    share_prefix: Annotated[bool, typer.Option("--share-prefix/--no-share-prefix", help="Run the prompt's beginning that every sample of a batch shares (system prompt, tools) once a step, without gradients, and only the rest of each sample with them: the same loss, cheaper (1.4-2.3x a step for the small model on a CPU). Off with gradient checkpointing (on a GPU).")] = True,
    group_by_length: Annotated[bool, typer.Option("--group-by-length/--no-group-by-length", help="Batch samples of like length (one screen, two screens) so that a batch pads little: the same samples each epoch in another order, cheaper (a step of the small model's launcher data 0.82 s mixed, 0.45 or 0.91 grouped).")] = True,
    merge: Annotated[bool, typer.Option("--merge", help="Also write base + adapter as one checkpoint in OUT/merged.")] = False,
    deepspeed: Annotated[Optional[Path], typer.Option(help="A DeepSpeed config (e.g. docs/deepspeed_zero3.json) for models too large for one GPU.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the shuffling and initialisation.")] = 0,
) -> None:
    from .train import TrainConfig, train

    cfg = TrainConfig(model=model, data=str(data), out=str(out), method=method, profile=profile, epochs=epochs,
                      max_steps=max_steps, learning_rate=learning_rate, batch_size=batch_size, grad_accum=grad_accum,
                      lora_rank=lora_rank, lora_alpha=lora_alpha, train_vision=train_vision, max_length=max_length,
                      max_pixels=max_pixels, max_minutes=max_minutes, eval_steps=eval_steps, save_steps=save_steps,
                      logging_steps=logging_steps, merge=merge, share_prefix=share_prefix,
                      group_by_length=group_by_length, lr_scheduler=lr_scheduler, deepspeed=str(deepspeed) if deepspeed else None,
                      seed=seed)
    try:
        record = train(cfg)
    except (UserError, VLAgentError) as e:
        fail(str(e))
    if not record:
        return  # not the main process of a multi-GPU run
    next_step = (f"next, teach it the agent's format: vlagent train --model {out} --data AGENT_DATASET ..."
                 if record["data_kind"] == "grounding" else f"try it: vlagent bench sim --model {out} --tasks ... --out DIR")
    console.print(
        f"trained {record['steps']} steps ({record['epochs']:.2f} epochs) in {record['minutes']:.1f} min; loss "
        f"{record['first_loss']} -> {record['last_loss']}, validation loss {record['first_eval_loss']} -> "
        f"{record['last_eval_loss']}\nmodel in {out} (curves: {out / 'training_curves.png'}); {next_step}")


train_cmd.__doc__ = TRAIN_HELP
