"""Training curves: the loss of each logged step and the validation loss, by step, as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_curves(history: list[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Plot the Trainer's `log_history` (entries with `loss` or `eval_loss`, and `step`)."""
    import matplotlib

    matplotlib.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    val = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    if train:
        ax.plot(*zip(*train), label="training loss", color="tab:blue")
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss", color="tab:orange")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (cross-entropy per target token)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    if train or val:
        ax.legend()
    else:  # a run shorter than its logging interval
        ax.text(0.5, 0.5, "no loss logged: fewer steps than --logging-steps", ha="center", transform=ax.transAxes)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
