"""`vlagent bench perf`: our loop against a naive stock loop, same device, same model, one run.

`run_perf(device="sim", model="tiny", steps=20)` drives the Agent for `steps` steps and, between
its steps (off its clock), the naive loop (`perf_baseline.NaiveLoop`) one step at a time on the
same device, so both see the same machine load; it returns per-stage p50/p95 in milliseconds,
ratios baseline/ours, the framework overhead and the process's RSS growth. Both loops run the
real model forward; the reply each step is scripted (open Settings, go Home, ...) so every step
acts and the screen changes, whatever the weights say: the tiny random model measures the
plumbing, not a policy.

Stages (ms unless the name says otherwise):
  capture      one screenshot call, transfer + decode (ours: raw `screencap`; naive: adbutils PNG)
  decode       the decode part of it: capture minus the time spent in the transport
  preprocess   loop-side image fit and prompt + the model's tokenizing and pixel values
  preprocess_image  its image part: screenshot to pixel values (ours: fit_to_model + pixel_values;
               naive: the processor's image half on the full-size frames)
  prefill      to the first token (vision encoder + prompt); decode_tokens_per_s: tokens/s after
  parse, act, settle, record   as in the loop (naive: one `adb shell input`, a fixed 1 s sleep,
               a default-compression PNG and the whole history as JSON)
  model        prefill + decode; step: wall time of a step; step_excluding_model = step - model
  overhead     step - model - device I/O outside settle (captures, actions) - settle: what the
               framework adds itself (image fit, prompt, tokenizing, parse, record, guards, glue)

RSS is sampled after each of our steps: growth is the last sample minus the one after `warmup`
steps, slope the least-squares fit over the same window.

Per step of ours (`per_step`): prompt tokens, `prefill_ratio` (prompt tokens prefilled / prompt
tokens: what the last call's reused cache left to compute), prefill ms, decode tokens/s and the
framework overhead; `overhead_trend` compares that overhead late in the run with steps 3-7 (run
45 steps to see step 40 against step 5).
`decode_overhead_ms_per_token`: after the run, the last step's messages are answered again by
our `generate` (stop strings on) and the same inputs by a bare `model.generate`, in turn
(DECODE_REPEATS times each, DECODE_TOKENS tokens); it is the difference of their best decode
ms/token (the least disturbed repeat of each: on a shared machine other jobs' load swamps a
difference of a fraction of a ms in medians), with both medians alongside.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import UserError
from .perf_baseline import open_rig
from .perf_machine import loadavg, machine_info, peak_rss_mb, rss_mb
from .perf_probe import Probe, ScriptedForward

GOAL = "Open Settings, then go back to the home screen"
STAGES = ("capture", "decode", "preprocess", "preprocess_image", "prefill", "decode_tokens_per_s",
          "parse", "act", "settle", "record", "model", "step", "step_excluding_model", "overhead")
# ratio name -> the stage it compares (baseline p50 / ours p50)
RATIOS = {"capture": "capture", "preprocess": "preprocess_image", "preprocess_stage": "preprocess",
          "step_excluding_model": "step_excluding_model"}
DECODE_TOKENS = 32
DECODE_REPEATS = 5
# name in the result: (what, threshold, higher is better)
TARGETS = {
    "overhead_ms_p50": ("framework overhead per step, ms p50", 5.0, False),
    "capture": ("capture speed-up vs adbutils screenshot()", 3.0, True),
    "preprocess": ("preprocessing speed-up vs the stock processor", 2.0, True),
    "step_excluding_model": ("step-excluding-model speed-up vs the naive loop", 5.0, True),
    "rss_growth_mb": ("RSS growth over our steps, MB", 50.0, False),
}


def run_perf(
    device: str = "sim",
    model: str = "tiny",
    steps: int = 20,
    as_json: bool = False,
    *,
    baseline_steps: int | None = None,
    max_new_tokens: int = 16,
    warmup: int | None = None,
    out_dir: str | Path | None = None,
    model_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Measure both loops; returns the JSON-ready result (see the module docstring).

    Our loop runs as one Agent run of `steps` steps; after each of its steps (outside its
    clock) one naive step runs on the same device, then the device is put back where our loop
    left it, so both loops see the same machine load throughout. baseline_steps: how many naive
    steps, spread evenly (default `steps`; a long soak can run fewer). as_json: print nothing
    (the caller prints the JSON); otherwise progress lines go to stderr. model_options go to
    TransformersModel (e.g. attn_implementation="flash_attention_2", prefix_cache=False).
    """
    if steps < 2:
        raise UserError("bench perf needs at least 2 steps")
    baseline_steps = min(steps, steps if baseline_steps is None else max(0, baseline_steps))
    warmup = warmup if warmup is not None else min(5, steps // 4)
    hf = _load_model(model, **(model_options or {}))
    root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="vlagent-perf-"))
    ours, naive = _Samples(), _Samples()
    every = -(-steps // baseline_steps) if baseline_steps else 0
    started = time.monotonic()
    with open_rig(device) as rig:
        forward = ScriptedForward(hf, max_new_tokens)
        loop = rig.naive_loop(hf, GOAL, max_new_tokens, root / "naive")
        pixel_check = _warm_up(rig, forward, loop)
        load_before = loadavg()

        def between(index: int) -> None:
            """After our step `index`: one naive step, then the device as our loop left it."""
            if every and index % every == 0 and len(naive.rss) < baseline_steps:
                before = rig.untimed_capture()
                t = loop.step(rig.naive_reply(index, hf))
                # the naive loop's device I/O is its capture and its action; settle is its sleep
                t["step_excluding_model"] = t["step"] - t["model"]
                t["overhead"] = t["step_excluding_model"] - t["capture"] - t["act"] - t["settle"]
                naive.add_step(t)
                naive.rss.append(rss_mb())
                rig.undo_naive(index, before)
            if not as_json and (index + 1) % 10 == 0:
                print(f"bench perf: {index + 1}/{steps} steps ({len(naive.rss)} naive), "
                      f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

        _run_ours(rig, forward, steps, root / "ours", ours, between)
        description = rig.description
    result = _result(ours, naive, hf, model, description, warmup, root)
    result["decode_overhead"] = decode_overhead(hf, *forward.last)
    result["decode_overhead_ms_per_token"] = result["decode_overhead"]["ms_per_token"]
    result["pixel_values_check"] = pixel_check
    result["machine"]["loadavg_1min"] = {"start": load_before, "end": loadavg()}
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


# -- our loop, instrumented ------------------------------------------------------------------------

def _run_ours(rig: Any, model: ScriptedForward, n: int, out: Path, samples: "_Samples",
              between: Any = None) -> None:
    from ..loop import Agent

    rig.reset()
    model.replies = rig.replies(n, model)
    probe = Probe(rig.device)
    mark = [time.perf_counter()]

    def on_step(step: Any) -> None:
        wall = time.perf_counter() - mark[0]
        t = step.timings
        forward = t.get("model_prefill", 0.0) + t.get("model_decode", 0.0)
        overhead = wall - forward - probe.io_outside_settle - t["settle"]
        preprocess = t["preprocess"] + t.get("model_preprocess", 0.0)
        samples.add_step({
            "preprocess": preprocess, "preprocess_image": probe.image_seconds,
            "prefill": t.get("model_prefill", 0.0),
            "decode_tokens_per_s": t.get("model_tokens_per_s", 0.0),
            "parse": t["parse"], "act": t["act"], "settle": t["settle"], "record": t["record"],
            "model": forward, "step": wall, "step_excluding_model": wall - forward,
            "overhead": overhead, "overhead_other": overhead - preprocess - t["parse"] - t["record"],
            "prompt_tokens": float(step.usage.get("prompt_tokens", 0)),
        })
        prompt = step.usage.get("prompt_tokens", 0)
        samples.per_step.append({
            "step": step.index + 1, "prompt_tokens": prompt,
            "prefill_ratio": round(step.usage.get("prefill_tokens", prompt) / prompt, 4) if prompt else None,
            "prefill_ms": round(t.get("model_prefill", 0.0) * 1000, 2),
            "overhead_ms": round(overhead * 1000, 2),
            "decode_tokens_per_s": round(t.get("model_tokens_per_s", 0.0), 1)})
        for took, transfer in probe.captures:
            samples.add("capture", took)
            samples.add("decode", took - transfer)
        probe.captures.clear()
        samples.cached_tokens.append(step.usage.get("cached_tokens", 0))
        samples.errors += len(step.errors)
        samples.rss.append(rss_mb())
        if between is not None:
            between(step.index)
        probe.next_step()
        mark[0] = time.perf_counter()

    agent = Agent(model, rig.device, max_steps=n, out_dir=out, on_step=on_step,
                  max_consecutive_errors=n + 1, repeat_limit=n + 1)
    try:
        result = agent.run(GOAL)
    finally:
        probe.restore()
    if result.status != "max_steps":
        raise RuntimeError(f"bench perf: our loop stopped early ({result.status}); see {out}")


def _warm_up(rig: Any, model: ScriptedForward, loop: Any) -> dict[str, Any]:
    """One untimed pass of each path (lazy imports, first allocations), and the check that both
    paths give the model the same pixel values for this device's screen."""
    from ..coords import Screen
    from ..vision import fit_to_model, pixel_values, processor_settings

    frame = rig.device.screenshot()
    seen = fit_to_model(frame, model.min_pixels, model.max_pixels)
    check: dict[str, Any] = {"fast_path": False}
    settings = processor_settings(model.inner.processor.image_processor)
    if settings is not None:
        ours, _ = pixel_values([seen], min_pixels=model.min_pixels, max_pixels=model.max_pixels, **settings)
        size = {"shortest_edge": model.min_pixels, "longest_edge": model.max_pixels}
        stock = model.inner.processor.image_processor(images=[frame], size=size, return_tensors="pt")["pixel_values"]
        same_shape = tuple(ours.shape) == tuple(stock.shape)
        check = {"fast_path": True, "shape": list(stock.shape), "same_shape": same_shape,
                 "max_abs_diff": float((ours - stock).abs().max()) if same_shape else None}
    cache = getattr(model.inner, "prefix_cache", False)
    model.inner.prefix_cache = False  # the real system prompt's prefix is built in step 1, as in a run
    try:
        model.inner.generate([{"role": "user", "content": [
            {"type": "image", "image": seen}, {"type": "text", "text": "warm-up"}]}], max_new_tokens=2)
    finally:
        model.inner.prefix_cache = cache
    naive_frame = rig.naive_capture()
    loop._generate(loop._inputs(naive_frame, Screen(image_size=naive_frame.size,
                                                    device_size=tuple(rig.device.size))))
    return check


# -- numbers ---------------------------------------------------------------------------------------

class _Samples:
    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}
        self.rss: list[float] = []
        self.cached_tokens: list[int] = []
        self.per_step: list[dict[str, Any]] = []
        self.errors = 0

    def add(self, stage: str, value: float) -> None:
        self.values.setdefault(stage, []).append(value)

    def add_step(self, stages: dict[str, float]) -> None:
        for stage, value in stages.items():
            self.add(stage, value)

    def percentiles(self, stage: str) -> dict[str, float] | None:
        import numpy as np

        values = self.values.get(stage)
        if not values:
            return None
        scale = 1.0 if stage in ("decode_tokens_per_s", "prompt_tokens") else 1000.0
        p50, p95 = np.percentile(np.asarray(values) * scale, [50, 95])
        return {"p50": round(float(p50), 3), "p95": round(float(p95), 3)}


def _result(ours: _Samples, naive: _Samples, hf: Any, model_spec: str, device: str, warmup: int,
            root: Path) -> dict[str, Any]:
    import numpy as np

    stages = {s: {"ours": ours.percentiles(s), "baseline": naive.percentiles(s)} for s in STAGES}
    ratios = {}
    for name, stage in RATIOS.items():
        o, b = stages[stage]["ours"], stages[stage]["baseline"]
        ratios[name] = round(b["p50"] / o["p50"], 3) if o and b and o["p50"] > 0 else None
    rss = ours.rss[max(0, warmup - 1):] if len(ours.rss) > warmup else ours.rss
    growth = rss[-1] - rss[0] if rss else 0.0
    slope = float(np.polyfit(np.arange(len(rss)), rss, 1)[0]) if len(rss) >= 3 else 0.0
    overhead = stages["overhead"]["ours"]
    result: dict[str, Any] = {
        "stages": stages,
        "ratios": ratios,
        "overhead_ms_p50": overhead["p50"] if overhead else None,
        "rss_growth_mb": round(growth, 2),
        "device": device,
        "model": f"{model_spec} ({getattr(hf, 'description', hf)})",
        "steps": {"ours": len(ours.values.get("step", [])), "baseline": len(naive.values.get("step", []))},
        "overhead_breakdown_ms_p50": {
            s: (ours.percentiles(s) or {}).get("p50") for s in ("preprocess", "parse", "record", "overhead_other")
        },
        "rss": {"warmup_steps": warmup, "slope_kb_per_step": round(slope * 1024, 2),
                "start_mb": round(rss[0], 1) if rss else None, "end_mb": round(rss[-1], 1) if rss else None,
                "peak_mb": round(max([peak_rss_mb(), *ours.rss, *naive.rss]), 1),
                # every k-th sample, at most ~50 of them: enough to see a plateau or a leak
                "series_mb": [round(v, 1) for v in ours.rss[::max(1, len(ours.rss) // 50)]]},
        "prefix_cache": {"enabled": bool(getattr(hf, "prefix_cache", False)),
                         "builds": getattr(hf, "prefix_cache_builds", 0),
                         "hits": getattr(hf, "prefix_cache_hits", 0),
                         "cached_tokens_p50": float(np.median(ours.cached_tokens)) if ours.cached_tokens else 0},
        "per_step": ours.per_step,
        "prefill_ratio": _prefill_ratio(ours.per_step),
        "overhead_trend": _overhead_trend(ours.per_step),
        "errors": {"ours": ours.errors},
        "memory_releases": getattr(hf, "memory_releases", 0),
        "prompt_tokens": {"ours": ours.percentiles("prompt_tokens"), "baseline": naive.percentiles("prompt_tokens")},
        "machine": machine_info(),
        "out_dir": str(root),
    }
    result["targets"] = _targets(result)
    return result


def _prefill_ratio(per_step: list[dict[str, Any]]) -> dict[str, Any]:
    """p50 and max of prompt tokens prefilled / prompt tokens from step 3 on (step 1 has nothing to
    reuse, step 2 reuses only step 1's short prompt)."""
    import numpy as np

    later = [s["prefill_ratio"] for s in per_step[2:] if s["prefill_ratio"] is not None]
    return {"p50_from_step_3": round(float(np.median(later)), 4) if later else None,
            "max_from_step_3": max(later) if later else None}


TREND_WINDOW = 5  # steps per end of the run whose median framework overhead is compared


def _overhead_trend(per_step: list[dict[str, Any]]) -> dict[str, Any]:
    """Does the framework's own time per step grow as a run goes on? The median overhead of steps
    3-7 (`early`: past the first calls' lazy work) and of the last TREND_WINDOW steps (`late`), and
    late / early; None for runs too short to have both apart (fewer than 12 steps)."""
    import numpy as np

    if len(per_step) < 2 + 2 * TREND_WINDOW:
        return {"early_ms": None, "late_ms": None, "ratio": None}
    early = float(np.median([s["overhead_ms"] for s in per_step[2:2 + TREND_WINDOW]]))
    late = float(np.median([s["overhead_ms"] for s in per_step[-TREND_WINDOW:]]))
    return {"early_ms": round(early, 2), "late_ms": round(late, 2), "steps": [3, len(per_step)],
            "ratio": round(late / early, 3) if early > 0 else None}


def decode_overhead(hf: Any, messages: list, tools: list | None, tokens: int = DECODE_TOKENS,
                    repeats: int = DECODE_REPEATS) -> dict[str, Any]:
    """Decode ms/token of our generate (the profile's stop strings on) and of a bare
    `model.generate` on the same inputs, taken in turn: best and median of each, and the
    difference of the bests."""
    import numpy as np
    import torch

    from ..models.transformers_model import first_token_timer

    if not messages:
        return {"ms_per_token": None}
    images = [p["image"] for m in messages if isinstance(m.get("content"), list) for p in m["content"]
              if isinstance(p, dict) and p.get("type") == "image"]
    inputs = hf._processor_inputs(hf.render(messages, tools), images).to(hf.device)
    ours, bare = [], []
    for _ in range(repeats):
        done = hf.generate(messages, tools, max_new_tokens=tokens, min_new_tokens=tokens)
        if done.usage["completion_tokens"] > 1:
            ours.append(done.timings["decode"] / (done.usage["completion_tokens"] - 1) * 1000)
        timer = first_token_timer()
        hf._forget_rope_deltas()
        with torch.inference_mode():
            out = hf.hf_model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                                       stopping_criteria=[timer])
        new = out.shape[1] - inputs["input_ids"].shape[1]
        end = time.perf_counter()
        bare.append((end - (timer.first or end)) / max(1, new - 1) * 1000)
    o, b = (min(ours) if ours else None), min(bare)
    return {"ms_per_token": round(o - b, 4) if o is not None else None, "ours_ms_per_token": o and round(o, 4),
            "bare_ms_per_token": round(b, 4),
            "ours_p50_ms_per_token": round(float(np.median(ours)), 4) if ours else None,
            "bare_p50_ms_per_token": round(float(np.median(bare)), 4),
            "tokens": tokens, "repeats": repeats, "prompt_tokens": int(inputs["input_ids"].shape[1])}


def _targets(result: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, (what, threshold, higher) in TARGETS.items():
        value = result["ratios"].get(name) if name in RATIOS else result.get(name)
        met = None if value is None else (value >= threshold if higher else value <= threshold)
        out[name] = {"what": what, "value": value, "target": f"{'>=' if higher else '<='} {threshold:g}", "met": met}
    return out


def _load_model(spec: str, **options: Any) -> Any:
    from ..specs import load_model

    if spec.startswith(("scripted:", "http://", "https://")):
        raise UserError(
            "bench perf runs the model in this process (tiny, a checkpoint directory or a Hugging "
            "Face id): its naive baseline feeds the model's own processor and generate()"
        )
    return load_model(spec, **options).load()


__all__ = ["run_perf", "STAGES", "TARGETS"]
