"""Examples reuse the loopback provider servers of the tool tests."""

import sys
from pathlib import Path

SERVERS = Path(__file__).parents[1] / "tools" / "servers"
if str(SERVERS) not in sys.path:
    sys.path.insert(0, str(SERVERS))
