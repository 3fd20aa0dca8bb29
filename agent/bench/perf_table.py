"""The terminal table of a `vlagent bench perf` result (`run_perf`'s JSON): each stage's p50/p95 for
our loop and the naive one, their ratio, and the targets met or missed.
"""

from __future__ import annotations

from typing import Any

from .perf import RATIOS, STAGES


def render_table(result: dict[str, Any]) -> Any:
    """A rich Table of the result: stages (p50/p95, ours and naive, naive/ours) and the targets."""
    from rich.table import Table

    table = Table(title=f"vlagent bench perf: {result['device']}, {result['model']}",
                  caption=_caption(result))
    for name, justify in (("stage", "left"), ("ours p50", "right"), ("ours p95", "right"),
                          ("naive p50", "right"), ("naive p95", "right"), ("naive/ours", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for stage in STAGES:
        o, b = result["stages"][stage]["ours"], result["stages"][stage]["baseline"]
        unit = " tok/s" if stage == "decode_tokens_per_s" else ""
        ratio = "" if not (o and b and o["p50"]) or unit else f"{b['p50'] / o['p50']:.1f}x"
        table.add_row(stage + (" (ms)" if not unit else ""), *(_fmt(v, k) for v in (o, b) for k in ("p50", "p95")),
                      ratio)
    table.add_section()
    for name, t in result["targets"].items():
        value = t["value"]
        shown = "n/a" if value is None else (f"{value:.1f}x" if name in RATIOS else f"{value:.1f}")
        verdict = {True: "[green]met[/green]", False: "[red]missed[/red]", None: "?"}[t["met"]]
        table.add_row(t["what"], shown, "", f"target {t['target']}", "", verdict)
    check = result.get("pixel_values_check") or {}
    if check.get("fast_path"):
        diff = check.get("max_abs_diff")
        table.add_row("pixel values vs the processor's, max |diff|", "n/a" if diff is None else f"{diff:g}",
                      "", "target 0 (<= 1e-6)", "", "[green]met[/green]" if diff is not None and diff <= 1e-6
                      else "[red]missed[/red]")
    return table


def _fmt(values: dict[str, float] | None, key: str) -> str:
    if not values:
        return "-"
    v = values[key]
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def _caption(result: dict[str, Any]) -> str:
    m, r = result["machine"], result["rss"]
    gpu = m["gpu"] or "no GPU"
    return (f"{result['steps']['ours']} steps ours / {result['steps']['baseline']} naive; "
            f"{m['cpus']} CPUs, {gpu}; RSS peak {r['peak_mb']} MB, slope {r['slope_kb_per_step']} KB/step; "
            f"prompt cache {result['prefix_cache']['builds']} start(s), {result['prefix_cache']['hits']} hits; "
            f"prefilled/prompt tokens from step 3 p50 {result['prefill_ratio']['p50_from_step_3']}; "
            f"decode overhead {result.get('decode_overhead_ms_per_token')} ms/token")


__all__ = ["render_table"]
