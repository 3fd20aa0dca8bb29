"""Offline benchmark evaluators: score a model's actions against a dataset's own files.

- `aitw`: Android in the Wild, its action matching (`check_actions_match`) and metrics;
- `aitz`: Android in the Zoo, type match and exact match per action kind;
- `android_control`: AndroidControl step accuracy;
- `screenspot`: ScreenSpot grounding, point in box;
- `bfcl`: the Berkeley Function-Calling Leaderboard's AST checker (`ast_checker`);
- `datasets`: `run_dataset(name, data_path, model)`, a model over a dataset, scored.

Names load on first use, so `import vlagent.bench` pulls in neither NumPy nor Pillow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_LAZY = {
    "run_dataset": ".datasets",
    "DATASETS": ".datasets",
    "check_actions_match": ".aitw",
    "ast_checker": ".bfcl",
}

__all__ = ["DATASETS", "ast_checker", "check_actions_match", "run_dataset"]


__getattr__ = lazy_exports(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .aitw import check_actions_match
    from .bfcl import ast_checker
    from .datasets import DATASETS, run_dataset
