"""tests/ has no __init__.py files; the loopback servers in servers/ are imported by name."""

from __future__ import annotations

import sys
from pathlib import Path

SERVERS = Path(__file__).parent / "servers"
if str(SERVERS) not in sys.path:
    sys.path.insert(0, str(SERVERS))
