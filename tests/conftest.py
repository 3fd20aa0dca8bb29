"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen2-VL checkpoint (real transformers classes), built once per run."""
    from vlagent.testing import tiny_qwen2_vl

    return tiny_qwen2_vl(tmp_path_factory.mktemp("tiny-qwen2-vl"))
