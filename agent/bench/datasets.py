"""Run a vlagent Model over a benchmark's examples and score it with that benchmark's evaluator.

    from vlagent.bench.datasets import run_dataset
    report = run_dataset("aitw", "aitw_data_test.json", model, images_dir="aitw_images", limit=50)
    report["metrics"]["action_matching"]

Screen datasets are scored step by step with the *gold* history (the offline protocol of their
papers): each step shows the model the goal, the previous gold actions as `mobile_use` calls, and
the step's screenshot, resized once as the model will see it, and scores its first UI call.
BFCL shows each question with its functions as tools and scores the parsed calls with BFCL's
AST checker. Nothing is downloaded: every path is local.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from PIL import Image

from ..coords import Screen
from ..errors import ParseError, UserError
from ..models.base import Message, Model
from ..parsing import parse_tool_calls
from ..prompts import render
from ..ui_tools import ui_tool_schema
from ..vision import fit_to_model
from . import aitw, aitz, android_control, bfcl, screenspot

DATASETS: dict[str, ModuleType] = {
    "aitw": aitw, "aitz": aitz, "android_control": android_control,
    "screenspot": screenspot, "bfcl": bfcl,
}
# progress(done, total, row): called after every scored example.
Progress = Callable[[int, int, dict[str, Any]], None]

GROUNDING_SYSTEM = (
    "You locate elements on a screenshot. Call `{tool}` with a click on the element the user "
    "describes. {coordinates}"
)


def run_dataset(
    name: str,
    data_path: str | Path,
    model: Model,
    *,
    limit: int | None = None,
    out: str | Path | None = None,
    images_dir: str | Path | None = None,
    level: str = "high",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run `model` over dataset `name` read from `data_path` and return its paper's metrics.

    limit: the first N episodes (screen datasets; ScreenSpot and BFCL: examples).
    out: a folder for `metrics.json` and `results.jsonl` (one scored row per example, with the
    model's raw output). images_dir: where screenshots' relative paths start (default: the data
    folder). level: AndroidControl's "high" (goal only) or "low" (goal and step instruction).
    Returns {"dataset", "data", "model", "metrics", "results"}.
    """
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if level not in ("high", "low"):
        raise UserError(f"level must be 'high' or 'low', not {level!r}")
    data_path = Path(data_path)
    if not data_path.exists():
        raise UserError(f"{data_path} does not exist; download the {name} files and point --data at them")
    module = DATASETS[name]
    if module is bfcl:
        rows = _run_bfcl(_bfcl_entries(data_path)[:limit], model, progress)
    else:
        root = Path(images_dir) if images_dir else (data_path if data_path.is_dir() else data_path.parent)
        rows = _run_screens(module, module.load_episodes(data_path)[:limit], model, root, level, progress)
    report = {
        "dataset": name, "data": str(data_path),
        "model": getattr(model, "description", type(model).__name__),
        "metrics": module.summarize(rows), "results": rows,
    }
    if out is not None:
        _write(Path(out), report)
    return report


def _write(out: Path, report: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    summary = {k: v for k, v in report.items() if k != "results"}
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with (out / "results.jsonl").open("w", encoding="utf-8") as f:
        for row in report["results"]:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


# -- screens ----------------------------------------------------------------------------------


def _open_image(root: Path, relative: str) -> Image.Image:
    candidates = [Path(relative), root / relative, root / Path(relative).name]
    for path in candidates:
        if path.is_file():
            image = Image.open(path)
            image.load()  # reads the pixels and closes the file (a context manager would free them)
            return image
    raise UserError(f"screenshot {relative!r} not found under {root}; pass images_dir (--images)")


def _instruction(module: ModuleType, step: Any, level: str) -> str:
    if module is android_control:
        return android_control.instruction(step, level)
    return module.instruction(step)


def _screen_messages(module: ModuleType, step: Any, image: Image.Image, screen: Screen, system: str,
                     tool: str, history: list[dict[str, Any] | None], level: str) -> list[Message]:
    if module is screenspot:
        coordinates = f"Coordinates are [x, y] {screen.units(system)}."
        return [
            {"role": "system", "content": GROUNDING_SYSTEM.format(tool=tool, coordinates=coordinates)},
            {"role": "user", "content": [
                {"type": "image", "image": image},
                {"type": "text", "text": f"Click on: {_instruction(module, step, level)}"},
            ]},
        ]
    text = f"The user's task: {_instruction(module, step, level)}"
    if history:
        lines = [f"{i + 1}. {tool}({json.dumps(a, ensure_ascii=False)})" if a else f"{i + 1}. (no equivalent action)"
                 for i, a in enumerate(history)]
        text += "\n\nSteps taken so far (oldest first):\n" + "\n".join(lines)
    return [
        {"role": "system", "content": render("phone_system", units=screen.units(system))},
        {"role": "user", "content": text},
        {"role": "user", "content": [
            {"type": "image", "image": image},
            {"type": "text", "text": "This is the current screen. What is the next action?"},
        ]},
    ]


def _run_screens(module: ModuleType, episodes: list[list[Any]], model: Model, root: Path,
                 level: str, progress: Progress | None) -> list[dict[str, Any]]:
    system = getattr(model, "coordinate_system", "relative-1000")
    total = sum(len(e) for e in episodes)
    rows: list[dict[str, Any]] = []
    for episode in episodes:
        history: list[dict[str, Any] | None] = []
        for step in episode:
            image = _open_image(root, step.image)
            seen = fit_to_model(image, model.min_pixels, model.max_pixels)
            screen = Screen(image_size=image.size, device_size=image.size, model_size=seen.size)
            tool = "mobile_use"
            if module is screenspot and step.platform != "mobile":
                tool = "computer_use"
            messages = _screen_messages(module, step, seen, screen, system, tool, history, level)
            started = time.perf_counter()
            completion = model.generate(messages, [ui_tool_schema(tool, screen, system)])
            row = module.score_output(step, completion.text, screen, system)
            row.update(output=completion.text, seconds=round(time.perf_counter() - started, 3))
            rows.append(row)
            history.append(module.gold_arguments(step, screen, system))
            if progress:
                progress(len(rows), total, row)
    return rows


# -- BFCL -------------------------------------------------------------------------------------


def _bfcl_entries(path: Path) -> list[dict[str, Any]]:
    if path.is_file():
        return bfcl.load_entries(path)
    files = sorted(p for p in path.glob("BFCL_*.json"))
    if not files:
        raise UserError(f"no BFCL_*.json question files in {path}")
    return [entry for file in files for entry in bfcl.load_entries(file)]


def _run_bfcl(entries: list[dict[str, Any]], model: Model, progress: Progress | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for entry in entries:
        messages = [dict(m) for m in entry["question"][0]]  # single-turn: the first (only) turn
        started = time.perf_counter()
        completion = model.generate(messages, bfcl.tools_for(entry["function"]))
        try:
            output = bfcl.to_bfcl_output(parse_tool_calls(completion.text))
            decode_error = None
        except ParseError as e:
            output, decode_error = [], str(e)  # no readable call: what irrelevance asks for
        if decode_error and "relevance" not in entry["category"]:
            verdict = {"valid": False, "error": [f"Invalid syntax. Failed to decode AST. {decode_error}"],
                       "error_type": "ast_decoder:decoder_failed"}
        else:
            verdict = bfcl.ast_checker(entry["function"], output, entry["ground_truth"], entry["category"],
                                       underscore_to_dot=True)  # tools_for sent "a.b" as "a_b"
        row = {"id": entry["id"], "category": entry["category"], **verdict, "model_output": output,
               "output": completion.text, "seconds": round(time.perf_counter() - started, 3)}
        rows.append(row)
        if progress:
            progress(len(rows), len(entries), row)
    return rows
