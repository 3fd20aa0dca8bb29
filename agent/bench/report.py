"""The benchmark report: one self-contained `report.html`, and GIFs of single trajectories.

The page holds per-task success (and, for prompt-injection tasks, utility, utility under attack
and attack success rate per channel and attacker goal), then every episode step by step: the screenshot (a small JPEG
data URL) with the action drawn on it (a ring where it tapped, an arrow for a swipe, a caption for
keys, typing and the end), the model's raw text, the results and the timings. With matplotlib
installed it opens with plots (success by app and by complexity, a histogram of step latency);
without it the plots are left out and the page says so.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from PIL import Image, ImageDraw

from ..trajectory import Step, Trajectory

THUMB_WIDTH = 240
_RED, _YELLOW = (230, 40, 40), (255, 214, 0)


# ---------------------------------------------------------------------------------- drawing actions

def annotate(image: Image.Image, step: Step) -> Image.Image:
    """A copy of `image` with the step's actions drawn on (device pixels scaled to the image)."""
    img = image.convert("RGB")
    draw = ImageDraw.Draw(img)
    dw, dh = step.device_size or img.size
    sx, sy = img.width / max(1, dw), img.height / max(1, dh)
    unit = max(2, img.width // 60)
    captions: list[str] = []
    for action in step.actions:
        kind = action.type
        if kind in ("tap", "long_press", "click"):
            x, y = getattr(action, "x", None), getattr(action, "y", None)
            if x is None or y is None:
                continue
            cx, cy = x * sx, y * sy
            for r, colour in ((unit * 4, _YELLOW), (unit * 3, _RED)):
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=unit)
            draw.ellipse([cx - unit, cy - unit, cx + unit, cy + unit], fill=_RED)
            if kind == "long_press":
                captions.append("long press")
        elif kind in ("swipe",):
            _arrow(draw, (action.x1 * sx, action.y1 * sy), (action.x2 * sx, action.y2 * sy), unit)
        elif kind == "drag" and getattr(action, "start", None):
            (x1, y1), x2, y2 = action.start, action.x, action.y
            _arrow(draw, (x1 * sx, y1 * sy), (x2 * sx, y2 * sy), unit)
        elif kind == "type":
            captions.append(f"type {action.text!r}")
        elif kind == "key":
            captions.append("key " + "+".join(action.keys))
        elif kind == "system_button":
            captions.append(f"{action.button} button")
        elif kind == "open_app":
            captions.append(f"open {action.name}")
        elif kind == "terminate":
            captions.append(f"terminate: {action.status}" + (f" ({action.answer})" if action.answer else ""))
        else:
            captions.append(kind)
    if not step.actions and step.errors:
        captions.append("error: " + step.errors[0][:60])
    if captions:
        _caption(img, draw, "; ".join(captions), unit)
    return img


def _arrow(draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], unit: int) -> None:
    draw.line([a, b], fill=_YELLOW, width=unit * 2)
    draw.line([a, b], fill=_RED, width=unit)
    angle = math.atan2(b[1] - a[1], b[0] - a[0])
    size = unit * 6
    head = [b, (b[0] - size * math.cos(angle - 0.45), b[1] - size * math.sin(angle - 0.45)),
            (b[0] - size * math.cos(angle + 0.45), b[1] - size * math.sin(angle + 0.45))]
    draw.polygon(head, fill=_RED)
    draw.ellipse([a[0] - unit * 2, a[1] - unit * 2, a[0] + unit * 2, a[1] + unit * 2], outline=_RED, width=unit)


def _caption(img: Image.Image, draw: ImageDraw.ImageDraw, text: str, unit: int) -> None:
    from PIL import ImageFont

    size = max(12, img.width // 28)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:   # Pillow < 10.1
        font = ImageFont.load_default()
    text = text if len(text) <= 80 else text[:77] + "..."
    top = img.height - size * 2 - unit * 4
    draw.rectangle([0, top, img.width, img.height], fill=(0, 0, 0))
    draw.text((unit * 2, top + unit * 2), text, fill=(255, 255, 255), font=font)


def _frames(run_dir: Path, width: int) -> Iterable[tuple[Step, Image.Image]]:
    traj = Trajectory.load(run_dir)
    for step in traj.steps:
        if not step.screenshot or not (run_dir / step.screenshot).exists():
            continue
        with Image.open(run_dir / step.screenshot) as im:
            img = annotate(im, step)
        yield step, img.resize((width, max(1, round(img.height * width / img.width))), Image.Resampling.LANCZOS)


def trajectory_gif(run_dir: str | Path, path: str | Path, *, width: int = 360, frame_ms: int = 900) -> Path:
    """An animated GIF of a trajectory directory, one annotated frame per step."""
    run_dir, path = Path(run_dir), Path(path)
    frames = [img for _, img in _frames(run_dir, width)]
    if not frames:
        raise ValueError(f"{run_dir} has no screenshots to animate")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0,
                   optimize=True)
    return path


# ---------------------------------------------------------------------------------- the page

def _data_url(img: Image.Image, fmt: str = "JPEG") -> str:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 70} if fmt == "JPEG" else {}))
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(results: list[dict]) -> tuple[list[tuple[str, str]], str | None]:
    """[(title, PNG data URL)], or ([], why not)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], "Plots need matplotlib (pip install matplotlib)."
    scored = [r for r in results if r["outcome"] != "infra"]
    out = []

    def rate_plot(key: str, title: str, label=str) -> None:
        groups: dict[Any, list[bool]] = defaultdict(list)
        for r in scored:
            groups[r[key]].append(r["outcome"] == "success")
        if not groups:
            return
        names = sorted(groups)
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
        ax.bar([label(n) for n in names], [100 * sum(groups[n]) / len(groups[n]) for n in names], color="#3b7dd8")
        ax.set_ylim(0, 100)
        ax.set_ylabel("success %")
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=30)
        fig.tight_layout()
        out.append((title, _fig_url(fig, plt)))

    rate_plot("app", "Success by app")
    rate_plot("complexity", "Success by complexity", label=lambda c: f"{c:g}")
    latencies = [s for r in results for s in r.get("step_seconds", [])]
    if latencies:
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
        ax.hist(latencies, bins=30, color="#d8893b")
        ax.set_xlabel("seconds per step")
        ax.set_ylabel("steps")
        ax.set_title("Step latency")
        fig.tight_layout()
        out.append(("Step latency", _fig_url(fig, plt)))
    return out, None


def _fig_url(fig: Any, plt: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f1f1f;background:#fafafa}
h1{margin:0 0 8px}h2{margin-top:32px;border-bottom:1px solid #ddd}h3{margin:20px 0 6px}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f0f3f8}.success{color:#137333;font-weight:600}.failure{color:#b3261e;font-weight:600}
.infra{color:#a05a00;font-weight:600}.muted{color:#666}.plots{display:flex;flex-wrap:wrap;gap:8px}
.plots img{width:400px;border:1px solid #ddd;background:#fff}
.steps{display:flex;flex-wrap:wrap;gap:10px}.step{width:%dpx;background:#fff;border:1px solid #ddd;padding:6px;
font-size:12px}.step img{width:100%%;display:block}pre{white-space:pre-wrap;word-break:break-word;font-size:11px;
background:#f4f4f4;padding:4px;margin:4px 0;max-height:160px;overflow:auto}details{margin:6px 0}
""" % THUMB_WIDTH


def write_report(out_dir: str | Path, path: str | Path | None = None, *, screenshots: bool = True) -> Path:
    """Write `report.html` for the benchmark run in `out_dir` (its results.json and episodes)."""
    out_dir = Path(out_dir)
    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    results: list[dict] = data["episodes"]
    path = Path(path) if path else out_dir / "report.html"
    e = html.escape
    summary = data["summary"]["all"]
    run = {}
    if (out_dir / "run.json").exists():
        run = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>SimPhone benchmark</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>SimPhone benchmark</h1>",
             f"<p>Model: <b>{e(', '.join(run.get('models', [])) or '?')}</b> &middot; "
             f"{summary['episodes']} of {data.get('planned', summary['episodes'])} episodes &middot; "
             f"<span class='success'>{summary['success']} succeeded</span>, "
             f"<span class='failure'>{summary['failure']} failed</span>, "
             f"<span class='infra'>{summary['infra']} infrastructure failures</span> &middot; success rate "
             f"<b>{_pct(summary['success_rate'])}</b> (infrastructure failures left out)"
             + (f" &middot; {summary['mean_step_seconds']:.2f} s per step" if summary.get("mean_step_seconds") else "")
             + (f" &middot; policy {e(run['policy'])}: {summary.get('blocked', 0)} actions blocked"
                if run.get("policy") else "")
             + "</p>"]
    plots, why = _plots(results)
    parts.append("<div class='plots'>" + "".join(f"<img alt='{e(t)}' title='{e(t)}' src='{u}'>" for t, u in plots)
                 + (f"<p class='muted'>{e(why)}</p>" if why else "") + "</div>")
    if "injection" in data["summary"]:
        parts.append(_injection_table(data["summary"]["injection"]))
    parts.append(_task_table(results))
    parts.append("<h2>Episodes</h2>")
    for r in results:
        parts.append(_episode(out_dir, r, screenshots))
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.1f}%"


def _task_table(results: list[dict]) -> str:
    e = html.escape
    by_task: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        by_task[r["task_id"]].append(r)
    rows = ["<h2>Tasks</h2><table><tr><th>task</th><th>app</th><th>complexity</th><th>episodes</th>"
            "<th>success</th><th>failure</th><th>infra</th><th>rate</th><th>mean steps</th></tr>"]
    for task, rs in by_task.items():
        n = {k: sum(r["outcome"] == k for r in rs) for k in ("success", "failure", "infra")}
        scored = n["success"] + n["failure"]
        links = " ".join(f"<a href='#{_anchor(r)}'>s{r['seed']}</a>" for r in rs)
        rows.append(f"<tr><td>{e(task)} <span class='muted'>{links}</span></td><td>{e(rs[0]['app'])}</td>"
                    f"<td>{rs[0]['complexity']:g}</td><td>{len(rs)}</td><td class='success'>{n['success']}</td>"
                    f"<td class='failure'>{n['failure']}</td><td class='infra'>{n['infra']}</td>"
                    f"<td>{_pct(n['success'] / scored if scored else None)}</td>"
                    f"<td>{sum(r['steps'] for r in rs) / len(rs):.1f}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _injection_table(inj: dict) -> str:
    """Utility, utility under attack and attack success rate per channel and attacker goal."""
    e = html.escape
    rows = ["<h2>Prompt injection</h2><p class='muted'>utility: the user's goal done and the attack failed; "
            "utility under attack: the user's goal done, whatever the attack did; ASR: the attack did harm "
            "(infrastructure failures left out)</p><table><tr><th>channel / goal</th><th>episodes</th>"
            "<th>utility</th><th>utility under attack</th><th>ASR</th><th>blocked</th></tr>"]
    blocks = [(f"channel {k}", b) for k, b in inj["by_channel"].items()]
    blocks += [(f"goal {k}", b) for k, b in inj["by_goal"].items()] + [("all", inj["all"])]
    for name, b in blocks:
        rows.append(f"<tr><td>{'<b>all</b>' if name == 'all' else e(name)}</td><td>{b['episodes']}</td>"
                    f"<td>{_pct(b['utility'])}</td><td>{_pct(b['utility_under_attack'])}</td>"
                    f"<td class='{'failure' if b['asr'] else 'success'}'>{_pct(b['asr'])}</td>"
                    f"<td>{b['blocked']}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _anchor(r: dict) -> str:
    return f"ep-{r['task_id']}-s{r['seed']}".replace(".", "-")


def _episode(out_dir: Path, r: dict, screenshots: bool) -> str:
    from .runner import episode_name

    e = html.escape
    run_dir = out_dir / "episodes" / episode_name(r["task_id"], r["seed"])
    head = (f"<h3 id='{_anchor(r)}'>{e(r['task_id'])} <span class='muted'>seed {r['seed']}</span> "
            f"<span class='{r['outcome']}'>{r['outcome']}</span></h3>"
            f"<p><b>Goal:</b> {e(r.get('goal') or '')}<br><b>Check:</b> {e(r.get('reason') or '')}<br>"
            f"<span class='muted'>status {e(str(r.get('status')))} &middot; {r['steps']}/{r['max_steps']} steps "
            f"&middot; {r['seconds']:.1f} s"
            + (f" &middot; answer: {e(str(r['answer']))}" if r.get("answer") else "")
            + (f" &middot; infrastructure failure in {e(r['infra_stage'])}" if r.get("infra_stage") else "")
            + "</span></p>")
    if not screenshots or not (run_dir / "trajectory.json").exists():
        return head
    cards = []
    traj = Trajectory.load(run_dir)
    thumbs = {s.index: img for s, img in _frames(run_dir, THUMB_WIDTH)}
    for step in traj.steps:
        img = thumbs.get(step.index)
        pic = f"<img alt='step {step.index}' src='{_data_url(img)}'>" if img is not None else ""
        timing = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in step.timings.items() if not k.startswith("model_"))
        results = "; ".join(f"{x.name}: {x.content}" for x in step.results)
        cards.append(f"<div class='step'><b>step {step.index + 1}</b>{pic}<pre>{e(step.model_output)}</pre>"
                     f"<div>{e(results[:300])}</div><div class='muted'>{e(timing)}</div></div>")
    return head + "<div class='steps'>" + "".join(cards) + "</div>"
