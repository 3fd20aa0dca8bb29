"""`vlagent bench perf` end to end on a SimPhone with the tiny checkpoint, a few steps.

Shape and bookkeeping only: DESIGN forbids timing assertions in unit tests (the numbers are for
`vlagent bench perf` to print), so nothing here compares a duration with a threshold. Counters
(steps, prefix-cache builds and hits) and the pixel-value check are compared exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlagent.errors import UserError

pytestmark = [pytest.mark.adb, pytest.mark.slow]

STEPS = 3


@pytest.fixture(scope="module")
def result(adb_port: int, tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from vlagent.bench.perf import run_perf

    out = tmp_path_factory.mktemp("perf")
    return run_perf(device="sim", model=str(tiny_model_path), steps=STEPS, as_json=True, out_dir=out)


def test_the_json_has_the_documented_keys(result: dict) -> None:
    from vlagent.bench.perf import STAGES

    for key in ("stages", "ratios", "overhead_ms_p50", "rss_growth_mb", "device", "model"):
        assert key in result, key
    assert set(result["stages"]) == set(STAGES)
    for stage in ("capture", "decode", "preprocess", "prefill", "decode_tokens_per_s", "parse", "act",
                  "settle", "record"):
        assert stage in result["stages"]
    assert {"capture", "preprocess", "step_excluding_model"} <= set(result["ratios"])
    assert "SimPhone" in result["device"] and "tiny-qwen2-vl" in result["model"]
    json.loads(json.dumps(result))  # plain JSON, nothing exotic


def test_every_stage_has_positive_p50_and_p95_for_both_loops(result: dict) -> None:
    for stage, loops in result["stages"].items():
        if stage in ("overhead",):  # a difference of measurements: its sign is not guaranteed
            continue
        for name in ("ours", "baseline"):
            values = loops[name]
            assert values is not None, (stage, name)
            assert values["p50"] > 0 and values["p95"] >= values["p50"], (stage, name, values)


def test_ratios_are_baseline_over_ours(result: dict) -> None:
    from vlagent.bench.perf import RATIOS

    for ratio, stage in RATIOS.items():
        ours, baseline = result["stages"][stage]["ours"]["p50"], result["stages"][stage]["baseline"]["p50"]
        assert result["ratios"][ratio] == pytest.approx(baseline / ours, rel=1e-3), ratio
    assert result["ratios"]["preprocess"] == pytest.approx(
        result["stages"]["preprocess_image"]["baseline"]["p50"] / result["stages"]["preprocess_image"]["ours"]["p50"],
        rel=1e-3,
    )


def test_both_loops_ran_every_step_and_the_prefix_was_reused(result: dict) -> None:
    assert result["steps"] == {"ours": STEPS, "baseline": STEPS}
    assert result["errors"]["ours"] == 0
    # started once (the first step), reused by every later step of the run
    assert result["prefix_cache"]["builds"] == 1 and result["prefix_cache"]["hits"] == STEPS - 1
    assert result["prefix_cache"]["cached_tokens_p50"] > 0


def test_each_step_says_how_much_of_its_prompt_was_prefilled(result: dict) -> None:
    steps = result["per_step"]
    assert [s["step"] for s in steps] == list(range(1, STEPS + 1))
    ratios = [s["prefill_ratio"] for s in steps]
    assert ratios[0] == 1  # nothing to reuse yet
    # from step 2 on, only the reply's end, the tool result and the new screen turn are prefilled
    assert all(0 < r < 0.5 for r in ratios[1:]), ratios
    assert result["prefill_ratio"]["max_from_step_3"] == max(ratios[2:])
    for s in steps:
        assert s["prompt_tokens"] > 0 and s["prefill_ms"] > 0 and s["decode_tokens_per_s"] > 0
        assert s["overhead_ms"] > 0


def test_the_overhead_trend_compares_the_runs_late_steps_with_steps_3_to_7() -> None:
    from statistics import median

    from vlagent.bench.perf import _overhead_trend

    steps = [{"overhead_ms": ms} for ms in [90, 1, 10, 11, 12, 13, 14, 30, 9, 2, 15, 16, 17, 18, 40]]
    trend = _overhead_trend(steps)
    assert trend["early_ms"] == median([10, 11, 12, 13, 14]) and trend["late_ms"] == median([15, 16, 17, 18, 40])
    assert trend["ratio"] == pytest.approx(17 / 12, abs=1e-3) and trend["steps"] == [3, 15]
    assert _overhead_trend(steps[:11])["ratio"] is None  # too short to have both ends apart


def test_the_decode_overhead_is_ours_minus_a_bare_generate(result: dict) -> None:
    overhead = result["decode_overhead"]
    assert overhead["ours_ms_per_token"] > 0 and overhead["bare_ms_per_token"] > 0
    assert result["decode_overhead_ms_per_token"] == pytest.approx(
        overhead["ours_ms_per_token"] - overhead["bare_ms_per_token"], abs=1e-3)
    assert overhead["prompt_tokens"] == result["per_step"][-1]["prompt_tokens"]


def test_the_model_saw_the_processors_pixel_values(result: dict) -> None:
    check = result["pixel_values_check"]
    assert check["fast_path"] and check["same_shape"]
    assert check["max_abs_diff"] <= 1e-6


def test_targets_are_judged_from_the_numbers(result: dict) -> None:
    targets = result["targets"]
    assert set(targets) == {"overhead_ms_p50", "capture", "preprocess", "step_excluding_model", "rss_growth_mb"}
    assert targets["capture"]["value"] == result["ratios"]["capture"]
    assert targets["capture"]["met"] == (result["ratios"]["capture"] >= 3)
    assert targets["overhead_ms_p50"]["met"] == (result["overhead_ms_p50"] <= 5)


def test_both_loops_left_their_records(result: dict) -> None:
    out = Path(result["out_dir"])
    trajectory = json.loads((out / "ours" / "trajectory.json").read_text())
    assert len(trajectory["steps"]) == STEPS
    assert len(json.loads((out / "naive" / "history.json").read_text())) == STEPS
    assert len(list((out / "naive").glob("step_*.png"))) == STEPS


def test_render_table_shows_every_stage_and_target(result: dict) -> None:
    from rich.console import Console

    from vlagent.bench.perf import STAGES
    from vlagent.bench.perf_table import render_table

    console = Console(record=True, width=200)
    console.print(render_table(result))
    text = console.export_text()
    for stage in STAGES:
        assert stage in text
    assert "target" in text and ("met" in text or "missed" in text)


def test_servers_and_scripted_models_are_refused_with_a_reason() -> None:
    from vlagent.bench.perf import run_perf

    with pytest.raises(UserError, match="in this process"):
        run_perf(model="http://127.0.0.1:9/v1", steps=2)
    with pytest.raises(UserError, match="at least 2 steps"):
        run_perf(steps=1)
