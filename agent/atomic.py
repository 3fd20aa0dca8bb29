"""Files replaced atomically: a reader (a resume, a report, a second process) sees the old
file or the new one, never half of one, even when the writer dies mid-write."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, text: str, *, durable: bool = False) -> None:
    """Replace `path` with `text` (UTF-8). durable: fsync before the rename, so the new content
    survives a power cut too (a trajectory), at a few ms per write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results and runs are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
