"""Trajectories to a training set: each step of each run becomes one sample, the conversation the
agent sent at that step and the model's reply as the target.

The conversation is rebuilt by the loop's own code (`Conversation`, as `Stepper._compose` uses it: system prompt, goal,
summarised old steps, recent steps with their screenshots, the current screen) from what
trajectory.json records, with each screenshot resized to the size the model saw (`model_size`)
by the same resize the in-process model uses. So `model.render(sample messages, sample tools)`
is the prompt the agent fed the model at that step, and training sees the images it saw. A run
is rendered in the prompt style its model was sent (RunConfig.prompt_style), or in the one asked
for: an oracle's runs, whose model reads no prompt, can teach a model to act on bare prompts.

A dataset directory holds:

    dataset.json                 what it was made from and for (kind: agent or grounding, profile,
                                 prompt style, counts, the split)
    train.jsonl, validation.jsonl   one sample a line (vlagent's format: messages, tools, target)
    sharegpt_train.jsonl, sharegpt_validation.jsonl   the same samples as ShareGPT-style
                                 {"messages": [...], "images": [...]}, tools and calls written in the
                                 profile's format and images as <image>, for other trainers
    images/HASH.png              each image once, at the size the model saw it

With `grounding` the dataset is a pointing lesson instead: each step that tapped one point
(click, long press, a mouse click) becomes the screen and the task in one user turn, with no
system prompt or tools, and the point as the reply, "[x, y]" in the runs' coordinates. A model
trained from random weights can learn where to tap from these within minutes, where the agent's
samples, whose tool block and other steps dilute the same lesson, did not teach it in 15
(docs/training.md); trained on them first, it then learns the agent's format from those.

Samples are split by (task, seed), never a run's steps on both sides, and duplicates (the same
prompt, images and target) are dropped. With `keep_duplicates` a sample stays as often as the runs
took that step, which keeps the mix of steps the runs had (deduplicated, a family whose first
screen recurs across seeds and whose later screens do not keeps few of its first steps), but never
on the other side of the split from where it first came.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from PIL import Image

from ..errors import UserError
from ..models.base import checked_prompt_style
from ..profiles import PROFILES, Profile, get_profile
from ..trajectory import Step, Trajectory, TrajectoryWriter

DATASET_FORMAT = "vlagent-sft-1"
SPLITS = ("train", "validation")
IMAGE_TAG = "<image>"
POINTING_ACTIONS = ("click", "long_press", "left_click", "right_click", "middle_click", "double_click")


@dataclass
class Run:
    """One recorded run and what a benchmark episode says about it (result.json beside it)."""

    dir: Path
    trajectory: Trajectory
    task: str
    seed: int | None
    success: bool

    @property
    def group(self) -> str:
        """What the split keeps on one side: a task and seed (a goal and run without a seed)."""
        return f"{self.task}/{self.seed}" if self.seed is not None else f"{self.task}/{self.dir.name}"


@dataclass
class ExportStats:
    runs: int = 0
    runs_skipped: dict[str, int] = field(default_factory=dict)
    steps_skipped: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    samples: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SPLITS})
    groups: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SPLITS})
    images: int = 0

    def skip(self, where: dict[str, int], reason: str) -> None:
        where[reason] = where.get(reason, 0) + 1


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories (holding trajectory.json) at or under each path, sorted, each once."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if (p / TrajectoryWriter.FILENAME).is_file():
            found.add(p)
        elif p.is_dir():
            found.update(t.parent for t in p.rglob(TrajectoryWriter.FILENAME))
        else:
            raise UserError(f"{p} is not a run directory or a folder of runs; give the --out of `vlagent run` "
                            "or `vlagent bench sim`")
    if not found:
        raise UserError(f"no trajectory.json under {', '.join(map(str, paths))}; record runs first with "
                        "`vlagent run --out DIR` or `vlagent bench sim --out DIR`")
    return sorted(found)


def read_run(run_dir: Path) -> Run:
    traj = Trajectory.load(run_dir)
    result_path = run_dir / "result.json"
    if result_path.is_file():  # a `vlagent bench sim` episode
        result = json.loads(result_path.read_text(encoding="utf-8"))
        return Run(run_dir, traj, result["task_id"], result.get("seed"), result.get("outcome") == "success")
    return Run(run_dir, traj, traj.goal, None, traj.status == "success")


def default_profile(coordinate_system: str) -> Profile:
    """The first profile whose model answers in the runs' coordinates."""
    return next(p for p in PROFILES.values() if p.coordinate_system == coordinate_system)


def check_profile(run: Run, profile: Profile) -> None:
    """Calls recorded in one coordinate system would teach a model of another the wrong numbers."""
    recorded = run.trajectory.coordinate_system
    if recorded != profile.coordinate_system:
        fits = ", ".join(p.name for p in PROFILES.values() if p.coordinate_system == recorded)
        raise UserError(
            f"{run.dir} was recorded in {recorded} coordinates, but profile {profile.name} answers in "
            f"{profile.coordinate_system}; export it with --profile {fits or '(none fits)'}, or record runs "
            f"with a model of profile {profile.name}")


def model_image(frame: Image.Image, model_size: tuple[int, int], profile: Profile) -> Image.Image:
    """`frame` as the in-process model saw it: `fit_to_model` (the processor's resize) when the
    profile's pixel budget gives the recorded size, else the same resize straight to it."""
    importlib.import_module("torch")  # fit_to_model resizes as the processor does only with torch loaded

    from ..vision import as_rgb, fit_to_model, image_array, resize_like_processor

    seen = fit_to_model(frame, profile.min_pixels, profile.max_pixels)
    if seen.size == tuple(model_size):
        return seen
    w, h = model_size
    array = resize_like_processor(image_array(as_rgb(frame)), (h, w)).permute(1, 2, 0).numpy()
    return Image.frombuffer("RGB", (w, h), array, "raw", "RGB", 0, 1)


def recorded_style(run: Run) -> str:
    """The prompt style the run's model was sent (runs from before the setting: full)."""
    return (run.trajectory.config.prompt_style if run.trajectory.config else None) or "full"


def step_conversations(run: Run, profile: Profile, stats: ExportStats,
                       prompt_style: str) -> Iterator[tuple[Step, list, list, Image.Image]]:
    """(step, messages, tool schemas, screen) of each usable step: what the agent sent the model
    then (or would have, in another `prompt_style`), composed by the loop's own `Conversation`
    from the record, and the screen as the model saw it."""
    from ..conversation import Conversation
    from ..coords import Screen
    from ..guards import Secrets, is_black
    from ..prompts import in_tool_format
    from ..run_config import RunConfig
    from ..ui_tools import UI_TOOL_NAMES, ui_tool_schema

    traj = run.trajectory
    system, fmt = traj.coordinate_system, profile.tool_format
    ui_tool = "computer_use" if any(c.name == "computer_use" for s in traj.steps for c in s.calls) else "mobile_use"
    # Secret values never reach the record, so a run that had secrets cannot be told from one
    # that had none: its intro lacks the secrets note.
    conversation = Conversation(traj.goal, ui_tool=ui_tool, system=system,
                                history_images=(traj.config or RunConfig()).history_images, secrets=Secrets({}),
                                bare=prompt_style == "bare")
    for step in traj.steps:
        current = None
        if step.screenshot and step.model_size and (run.dir / step.screenshot).is_file():
            with Image.open(run.dir / step.screenshot) as im:
                frame = im.convert("RGB")
            current = None if is_black(frame) else model_image(frame, step.model_size, profile)
        usable = current is not None and step.calls and not step.errors and not any(r.is_error for r in step.results)
        if current is None:
            stats.skip(stats.steps_skipped, "no screenshot, or a black one (the model saw the UI tree)")
        elif not usable:
            stats.skip(stats.steps_skipped, "no valid call, or a call that failed")
        elif any(c.name not in UI_TOOL_NAMES for c in step.calls):
            stats.skip(stats.steps_skipped, "function-tool calls (their schemas are not recorded)")
        else:
            screen = Screen(image_size=frame.size, device_size=tuple(step.device_size), model_size=current.size)
            history = [s.model_copy(update={"model_output": in_tool_format(s.model_output, s.calls, fmt)})
                       for s in traj.steps[:step.index]]
            messages = conversation.messages(history, current, screen)
            yield step, messages, [ui_tool_schema(ui_tool, screen, system)], current
        conversation.see(step.index, current)


def pointing_sample(step: Step, screen: Image.Image, goal: str) -> tuple[list, list, str] | None:
    """(messages, tools, target) of the grounding lesson for `step`: the screen and the goal,
    answered with the point its one call tapped; None when it did anything else (typed, swiped,
    pressed a key, ended the task) or more than one thing."""
    if len(step.calls) != 1:
        return None
    args = step.calls[0].arguments
    if args.get("action") not in POINTING_ACTIONS or "coordinate" not in args:
        return None
    turn = {"role": "user", "content": [{"type": "image", "image": screen}, {"type": "text", "text": goal}]}
    return [turn], [], json.dumps(args["coordinate"])


def completion_text(messages: list, tools: list, target: str, profile: Profile) -> tuple[list, str] | None:
    """(the conversation rendered in the profile's format with the target as the last assistant
    turn, that turn's text), or None when the target does not come out as one turn after the
    rendered prompt (nothing the loop records does that)."""
    from ..prompts import render_messages

    def render(conversation: list) -> list:  # as the models do: no tools, no tool format to apply
        return render_messages(conversation, tools, profile.tool_format) if tools else conversation

    prompt = render(messages)
    full = render([*messages, {"role": "assistant", "content": target}])
    if len(full) != len(prompt) + 1 or full[-1]["role"] != "assistant" or not isinstance(full[-1]["content"], str):
        return None
    return full, full[-1]["content"]


def _image_ref(image: Image.Image, images_dir: Path, written: dict[int, str]) -> str:
    """The image's file under images/, named by its content, written once."""
    if id(image) not in written:
        digest = hashlib.sha256(image.tobytes() + repr(image.size).encode()).hexdigest()[:20]
        path = images_dir / f"{digest}.png"
        if not path.exists():
            image.save(path, format="PNG", compress_level=1)
        written[id(image)] = f"images/{path.name}"
    return written[id(image)]


def _with_refs(messages: list, images_dir: Path, written: dict[int, str]) -> list:
    out = []
    for m in messages:
        if isinstance(m.get("content"), list):
            m = {**m, "content": [{"type": "image", "image": _image_ref(p["image"], images_dir, written)}
                                  if p.get("type") == "image" else p for p in m["content"]]}
        out.append(m)
    return out


def sharegpt(rendered: list) -> dict[str, Any]:
    """ShareGPT-style record of a rendered conversation: text with <image> where images were."""
    messages, images = [], []
    for m in rendered:
        if isinstance(m["content"], str):
            text = m["content"]
        else:
            text = ""
            for p in m["content"]:
                if p.get("type") == "image":
                    text += IMAGE_TAG
                    images.append(p["image"])
                else:
                    text += p["text"]
        messages.append({"role": m["role"], "content": text})
    return {"messages": messages, "images": images}


def split_of(group: str, validation: float) -> str:
    bucket = int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "validation" if bucket < validation else "train"


def export(runs: Iterable[str | Path], out: str | Path, *, profile: str | None = None, only_success: bool = False,
           validation: float = 0.1, keep_duplicates: bool = False, prompt_style: str | None = None,
           grounding: bool = False, on_run: Callable[[Path], None] | None = None) -> ExportStats:
    """Write the dataset of `runs` (run directories or folders of them) to `out`; see the module.
    grounding: the pointing lesson of the runs' taps instead of the agent's samples.
    prompt_style: render every sample so (RunConfig.prompt_style); None: as each run's model
    was prompted, which must then be the same for all. An export that fails leaves `out` as
    it found it, so the same command can run again."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out} is not empty; choose a new directory for the dataset")
    if not 0 <= validation < 1:
        raise UserError(f"--validation {validation}: give the share of (task, seed) groups held out, from 0 to 0.9")
    checked_prompt_style(prompt_style)
    existed = out.exists()
    try:
        return _export(find_runs(runs), out, profile, only_success, validation, keep_duplicates, prompt_style,
                       grounding, on_run)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        if existed:
            out.mkdir()
        raise


def _export(run_dirs: list[Path], out: Path, profile: str | None, only_success: bool, validation: float,
            keep_duplicates: bool, prompt_style: str | None, grounding: bool,
            on_run: Callable[[Path], None] | None) -> ExportStats:
    from ..prompts import in_tool_format

    chosen = get_profile(profile) if profile else None
    style = prompt_style
    images_dir = out / "images"
    images_dir.mkdir(parents=True)
    stats = ExportStats()
    groups: dict[str, set[str]] = {s: set() for s in SPLITS}
    first_split: dict[str, str] = {}  # sample key -> the split it was first written to
    files = {(kind, s): open(out / f"{kind}{s}.jsonl", "w", encoding="utf-8")
             for kind in ("", "sharegpt_") for s in SPLITS}
    try:
        for run_dir in run_dirs:
            if on_run:
                on_run(run_dir)
            try:
                run = read_run(run_dir)
            except (OSError, ValueError, KeyError) as e:
                stats.skip(stats.runs_skipped, f"unreadable ({type(e).__name__})")
                continue
            if only_success and not run.success:
                stats.skip(stats.runs_skipped, "not a success (--only-success)")
                continue
            chosen = chosen or default_profile(run.trajectory.coordinate_system)
            check_profile(run, chosen)
            recorded = recorded_style(run)
            style = style or recorded
            if prompt_style is None and recorded != style:
                raise UserError(f"{run.dir} was prompted {recorded}, earlier runs {style}; export them "
                                "apart, or render all alike with --prompt-style full|bare")
            stats.runs += 1
            split = split_of(run.group, validation)
            written: dict[int, str] = {}
            for step, messages, tools, screen in step_conversations(run, chosen, stats, style):
                if grounding:
                    lesson = pointing_sample(step, screen, run.trajectory.goal)
                    if lesson is None:
                        stats.skip(stats.steps_skipped, "not a tap (a grounding lesson is of taps)")
                        continue
                    messages, tools, target = lesson
                else:
                    target = in_tool_format(step.model_output, step.calls, chosen.tool_format)
                rendered = completion_text(messages, tools, target, chosen)
                if rendered is None:
                    stats.skip(stats.steps_skipped, "target not one assistant turn")
                    continue
                full, completion = rendered
                refs = _with_refs(messages, images_dir, written)
                key = hashlib.sha256(json.dumps([refs, tools, completion], sort_keys=True).encode()).hexdigest()
                if key in first_split and not (keep_duplicates and first_split[key] == split):
                    stats.duplicates += 1
                    continue
                first_split.setdefault(key, split)
                sample = {"id": key[:16], "run": str(run.dir), "task": run.task, "seed": run.seed, "step": step.index,
                          "messages": refs, "tools": tools, "target": target, "completion": completion}
                files[("", split)].write(json.dumps(sample, ensure_ascii=False) + "\n")
                files[("sharegpt_", split)].write(
                    json.dumps(sharegpt(_with_refs(full, images_dir, written)), ensure_ascii=False) + "\n")
                stats.samples[split] += 1
                groups[split].add(run.group)
    finally:
        for f in files.values():
            f.close()
    stats.groups = {s: len(g) for s, g in groups.items()}
    stats.images = sum(1 for _ in images_dir.iterdir())
    if not sum(stats.samples.values()):
        raise UserError(f"no step of {len(run_dirs)} run(s) could be exported ({_reasons(stats)}); "
                        "record runs whose steps made valid calls")
    meta = {"format": DATASET_FORMAT, "kind": "grounding" if grounding else "agent", "profile": chosen.name, "prompt_style": style, "tool_format": chosen.tool_format,
            "coordinate_system": chosen.coordinate_system, "validation": validation, "only_success": only_success,
            "keep_duplicates": keep_duplicates, "runs": stats.runs, "samples": stats.samples, "groups": stats.groups,
            "duplicates": stats.duplicates,
            "runs_skipped": stats.runs_skipped, "steps_skipped": stats.steps_skipped, "images": stats.images}
    (out / "dataset.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return stats


def _reasons(stats: ExportStats) -> str:
    reasons = {**stats.runs_skipped, **stats.steps_skipped}
    return "; ".join(f"{n} {why}" for why, n in reasons.items()) or "no steps"
