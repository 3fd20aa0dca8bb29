"""load_plugins: entry points of a real (if tiny) installed distribution, found by importlib.metadata."""

from __future__ import annotations

import logging
import sys
import textwrap

import pytest

from vlagent.tools import Tool, call_tool, load_plugins

PLUGIN_MODULE = '''
from __future__ import annotations

from vlagent.tools import Tool, tool


@tool
def ready(x: int) -> int:
    """A Tool already."""
    return x + 1


def plain(city: str, loud: bool = False) -> str:
    """A typed function, wrapped on load.

    Args:
        city: Where.
        loud: Shout it.
    """
    return city.upper() if loud else city


def factory() -> list[Tool]:
    """Makes two tools."""
    @tool
    def one() -> int:
        """One."""
        return 1

    @tool
    def two() -> int:
        """Two."""
        return 2

    return [one, two]


def untyped(x):
    return x


@tool(name="ready")
def clash() -> str:
    """Same name as an earlier tool."""
    return "clash"
'''

ENTRY_POINTS = """
[vlagent.tools]
ready = acme_tools:ready
plain = acme_tools:plain
factory = acme_tools:factory
missing = acme_tools_gone:thing
untyped = acme_tools:untyped
clash = acme_tools:clash

[other.group]
ignored = acme_tools:ready
"""


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A distribution as pip would leave it: a module and a dist-info with entry_points.txt."""
    (tmp_path / "acme_tools.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    info = tmp_path / "acme_tools-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-tools\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("acme_tools", None)


def test_plugins_load_and_broken_ones_are_skipped_with_a_warning(installed, caplog):
    with caplog.at_level(logging.WARNING, logger="vlagent.tools"):
        tools = {t.name: t for t in load_plugins()}
    assert set(tools) >= {"ready", "plain", "one", "two"}
    assert all(isinstance(t, Tool) for t in tools.values())
    assert call_tool(tools["ready"], {"x": 1}).content == "2"
    assert call_tool(tools["plain"], {"city": "Oslo", "loud": True}).content == "OSLO"
    assert tools["plain"].parameters["properties"]["city"]["description"] == "Where."
    assert call_tool(tools["two"], {}).content == "2"

    warnings = "\n".join(r.getMessage() for r in caplog.records)
    assert "'missing'" in warnings and "acme_tools_gone:thing" in warnings and "ModuleNotFoundError" in warnings
    assert "'untyped'" in warnings and "needs a type hint" in warnings
    assert "skipping tool 'ready' from plugin 'clash'" in warnings
    assert call_tool(tools["ready"], {"x": 5}).content == "6"  # the first one kept


def test_other_groups_are_separate(installed):
    assert [t.name for t in load_plugins("other.group")] == ["ready"]
    assert load_plugins("no.such.group") == []
