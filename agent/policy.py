"""The action guard: whether the policy lets an action or a tool call happen.

    policy = vlagent.Policy("ask", confirm=lambda assessment, action: ask_person(str(assessment)))
    policy.check(Tap(x=970, y=2210), ui_xml=device.ui_tree())  # returns, or raises PolicyViolation

`classify` says what a subject risks: a UI action by what it touches on the screen
(`vlagent.screen_risks`), a tool call by what the tool declares (`@tool(risk=...)`, MCP
annotations), else `unknown`. Pure: no I/O but the optional reading of pixels.

Cold start (issue #20): the action models and the screen rules (pydantic) are imported by the
first action checked, not with this module, so `from vlagent import Policy` stays cheap.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping

from .calls import ToolCall
from .errors import PolicyViolation
from .risks import ALL_RISKS, KEYWORDS, TOOL_WORDS, Assessment, Findings, Risk

if TYPE_CHECKING:
    from .screen_risks import GuardContext

__all__ = ["Policy", "app_matches", "classify"]

# Exempt from an app allowlist (never from the denylist): home screen, system UI, system dialogs.
SYSTEM_PACKAGES = frozenset({"android", "com.android.systemui", "com.android.launcher3",
                             "com.google.android.apps.nexuslauncher", "com.android.launcher"})


def classify(subject: Any, ui_xml: str | None = None, *, focused: Mapping[str, Any] | None = None,
             tool: Any = None, context: GuardContext | None = None) -> Assessment:
    """What `subject` (an Action in device pixels, or a ToolCall) risks, and why.

    ui_xml: the uiautomator dump of the screen it acts on; focused: the focused field when the
    tree lacks it ({"resource_id", "text", "password", "package"}); tool: the Tool a call names;
    context: the run's GuardContext (its goal, the fields' first texts, the frame), which this
    updates.
    """
    if isinstance(subject, ToolCall):
        return _classify_call(subject, tool)
    from . import actions as A  # see the module docstring (cold start)
    from .screen_risks import classify_action

    if not isinstance(subject, A._Action):
        raise TypeError(f"expected an Action or a ToolCall, not {type(subject).__name__}")
    return classify_action(subject, ui_xml, focused=focused, context=context)


def _declared(value: Any) -> list[Risk]:
    """A tool's declared risks ([] when it declares itself safe): names, Risks, True or lists."""
    if value is False or value in ("none", "") or (isinstance(value, (list, tuple, set)) and not value):
        return []
    values = ["sensitive" if value is True else value] if isinstance(value, (str, bool)) else list(value)
    return [Risk(str(v)) if str(v) in Risk._value2member_map_ else Risk.SENSITIVE for v in values if str(v) != "none"]


def _classify_call(call: ToolCall, tool: Any) -> Assessment:
    """A tool's risks: what it declares (`risk`/`sensitive`), else what its MCP annotations say,
    else unknown. Words in its name add the categories they name; they never make it safe."""
    found, target = Findings(), f"calling the tool {call.name!r}"
    for attr in ("risk", "sensitive"):  # None means undeclared; "none" or False declares it safe
        if (value := getattr(tool, attr, None)) is not None:
            for risk in _declared(value):
                found.add(risk, f"the tool declares {attr}={value!r}")
            return Assessment(found.risks, found.reasons or [f"the tool declares {attr}={value!r}"], None, target)
    notes = getattr(tool, "annotations", None)  # MCP tool annotations
    if notes is not None and _hint(notes, "readOnlyHint") is True:
        return Assessment([], ["the tool is annotated read-only (readOnlyHint)"], None, target)
    found.scan(call.name, "the tool name", _TOOL_TABLE)
    if notes is not None and _hint(notes, "destructiveHint") is not False:  # MCP's default is destructive
        found.add(Risk.DELETE, "its MCP annotations say it may destroy data (destructiveHint, or no readOnlyHint)")
    if not found.risks:
        found.add(Risk.UNKNOWN, "it declares no risk (@tool(risk=...)) and no MCP annotation says it only reads")
    return Assessment(found.risks, found.reasons, None, target)


def _hint(notes: Any, name: str) -> Any:
    """An MCP annotation by its protocol name (readOnlyHint) from a dict or an SDK object, which
    spells it read_only_hint in the Python SDK 2.x."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    if isinstance(notes, Mapping):
        return notes.get(name, notes.get(snake))
    value = getattr(notes, snake, None)
    return value if value is not None else getattr(notes, name, None)


_TOOL_TABLE = {r: words + TOOL_WORDS.get(r, ()) for r, words in KEYWORDS.items()}


# -- the policy ---------------------------------------------------------------------------------

Mode = Literal["ask", "deny", "allow"]
Confirm = Callable[[Assessment, Any], bool]


def app_matches(entry: str, app: str) -> bool:
    """Does an allow/deny list `entry` (a package or a launcher label) name `app` (either)?
    A package entry names only that package, or a label for it; labels compare loosely."""
    e, a = (" ".join(s.strip().partition("/")[0].casefold().split()) for s in (entry, app))
    if e == a or ("." in e and "." in a):
        return e == a
    if "." in a:
        e, a = a, e  # e: the package, a: the label
    if "." not in e:
        return e.replace(" ", "") == a.replace(" ", "")
    try:
        from .devices.adb_apps import COMMON_APPS  # launcher labels to packages, as OpenApp resolves them
    except ImportError:  # pragma: no cover - the table only widens matching
        COMMON_APPS = {}
    return e in COMMON_APPS.get(a, ()) or e.rsplit(".", 1)[-1] == a.replace(" ", "")


class Policy:
    """Guards actions and tool calls: `check` returns the Assessment or raises PolicyViolation.

    mode: "ask" calls `confirm(assessment, action_or_call)` for a guarded risk (only `True`
    allows; without `confirm` it blocks), "deny" blocks guarded risks, "allow" lets them through.
    allow_apps / deny_apps (packages or labels) apply in every mode to OpenApp targets and to the
    app acted in (`foreground`, and the package the UI tree shows); the home screen and system UI
    are exempt from the allowlist, and back/home/app-switch always work so the agent can leave.
    """

    def __init__(self, mode: Mode = "ask", *, confirm: Confirm | None = None,
                 allow_apps: Iterable[str] | None = None, deny_apps: Iterable[str] = (),
                 guarded: Iterable[Risk | str] = ALL_RISKS) -> None:
        if mode not in ("ask", "deny", "allow"):
            raise ValueError(f"policy mode must be 'ask', 'deny' or 'allow', not {mode!r}")
        self.mode, self.confirm = mode, confirm
        self.allow_apps = None if allow_apps is None else frozenset(allow_apps)
        self.deny_apps = frozenset(deny_apps)
        self.guarded = frozenset(Risk(g) for g in guarded) - {Risk.NONE}

    def __repr__(self) -> str:
        return (f"Policy({self.mode!r}, guarded={sorted(map(str, self.guarded))}, "
                f"allow_apps={self.allow_apps and sorted(self.allow_apps)}, deny_apps={sorted(self.deny_apps)})")

    def check(self, subject: Any, *, ui_xml: str | None = None, foreground: str | None = None,
              focused: Mapping[str, Any] | None = None, tool: Any = None,
              context: GuardContext | None = None) -> Assessment:
        """The Assessment of `subject` (an Action or a ToolCall; `tool`: the Tool it names; context:
        the run's GuardContext) when the policy lets it run; else PolicyViolation, worded for logs
        and for the model."""
        a = classify(subject, ui_xml, focused=focused, tool=tool, context=context)
        if not isinstance(subject, ToolCall):  # an action: classify refuses anything else
            self._check_apps(subject, foreground, a)
        hits = [r for r in a.risks if r in self.guarded]
        if not hits or self.mode == "allow":
            return a
        why = "; ".join(next(r for r in a.reasons if r.startswith(f"{h}: ")) for h in hits)
        what, advice = f"{a.target} ({why})", " Do not try another way; if the task needs it, hand back with ask_user."
        if self.mode == "deny":
            raise PolicyViolation(f"blocked by policy (deny mode): {what}.{advice}")
        if self.confirm is None:
            raise PolicyViolation(f"blocked: {what} needs the user's confirmation and no one can be asked "
                                  f"(ask mode without a confirm callback).{advice}")
        if self.confirm(a, subject) is not True:
            raise PolicyViolation(f"blocked: {what} needs the user's confirmation and the user declined.{advice}")
        return a

    def _check_apps(self, action: Any, foreground: str | None, a: Assessment) -> None:
        """The app lists, for the apps `action` acts in; leaving an app is always allowed."""
        from . import actions as A  # loaded already: classify imported it for this action

        leaving = isinstance(action, (A.Wait, A.Terminate, A.AskUser)) or (
            isinstance(action, A.SystemButton) and action.button != "enter")
        if not leaving:
            apps = [a.package] if isinstance(action, A.OpenApp) else [foreground, a.package]
            for app in dict.fromkeys(p for p in apps if p):
                self._check_app(app, a)

    def _check_app(self, app: str, a: Assessment) -> None:
        if any(app_matches(e, app) for e in self.deny_apps):
            raise PolicyViolation(f"blocked: {a.target}: the app {app!r} is on the user's denylist. "
                                  "Use another app or hand back with ask_user.")
        if self.allow_apps is not None and not any(app_matches(e, app) for e in (*self.allow_apps, *SYSTEM_PACKAGES)):
            raise PolicyViolation(f"blocked: {a.target}: the app {app!r} is not on the user's allowlist "
                                  f"({', '.join(sorted(self.allow_apps))}). Stay within those apps.")
