"""The action guard: what an action or a tool call risks, and whether the policy lets it happen.

    policy = vlagent.Policy("ask", confirm=lambda assessment, action: ask_person(str(assessment)))
    policy.check(Tap(x=970, y=2210), ui_xml=device.ui_tree())  # returns, or raises PolicyViolation

`classify` finds what an action touches in the uiautomator tree (the smallest clickable node under
a tap; its label from its text, content-desc, resource-id and its children's texts, as buttons
often keep theirs in a child TextView) and matches words per `Risk`; tool calls go by a declared
`risk` / `sensitive` attribute (or MCP-style `annotations`), else by their name. Pure: no I/O.

Conservative by design: a false alarm ("Send feedback" asks) is acceptable, a miss is not.
- Enter (a key, the `enter` system button, a line break in typed text) in a message-like field is
  `send`, as many apps send on Enter; Ctrl/Cmd+Enter is `send` anywhere.
- A yes-button ("OK", "Continue", "Allow") takes on the risks its window's text names: a pop-up
  "Send your contacts?" [Cancel, OK] makes "OK" a `send`. No-buttons ("Cancel", "Later") never do.
- "Update"/"Upgrade"/"Get"/"Download" are `install` in a store or on a screen about apps/versions.
- Tapping a text field only focuses it. Typing into a password/PIN/OTP field, or typing a
  `{{SECRET}}` placeholder anywhere, is `password_entry`; typing into a card field is `pay`.
- Without a UI tree (desktops) a tap's target is unknown and not classified; the reasons say so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping

from . import actions as A
from .errors import PolicyViolation
from .parsing import ToolCall
from .uitree import UiNode, parse

__all__ = ["ALL_RISKS", "Assessment", "GuardContext", "Policy", "Risk", "app_matches", "classify"]


class Risk(str, Enum):
    NONE = "none"
    SEND = "send"
    CALL = "call"
    PAY = "pay"
    INSTALL = "install"
    DELETE = "delete"
    DATA_LOSS_SETTING = "data_loss_setting"
    PASSWORD_ENTRY = "password_entry"
    SETTING = "setting"  # a switch the user's goal does not name
    LURE = "lure"  # answering a dialog that baits with prizes or rewards
    SENSITIVE = "sensitive"  # a tool its author marked sensitive without naming a category
    UNKNOWN = "unknown"  # a tool that declares nothing: it may do anything

    def __str__(self) -> str:
        return self.value


ALL_RISKS = frozenset(Risk) - {Risk.NONE}
_TAP_RISKS = ALL_RISKS - {Risk.PASSWORD_ENTRY, Risk.SENSITIVE, Risk.UNKNOWN, Risk.SETTING}  # "Forgot password?" is no password entry

# The vocabulary is data (risk_words.json): a language or a phrase is added there, not here.
_VOCABULARY = json.loads(Path(__file__).with_name("risk_words.json").read_text(encoding="utf-8"))
KEYWORDS: dict[Risk, tuple[str, ...]] = {Risk(r): tuple(w) for r, w in _VOCABULARY["risks"].items()}
TOOL_WORDS: dict[Risk, tuple[str, ...]] = {Risk(r): tuple(w) for r, w in _VOCABULARY["tool_names"].items()}
STORE_WORDS: tuple[str, ...] = tuple(_VOCABULARY["store_verbs"])  # install, in a store or about an app
ABOUT_APPS: tuple[str, ...] = tuple(_VOCABULARY["about_apps"])
YES_WORDS: tuple[str, ...] = tuple(_VOCABULARY["yes_words"])
YES_FIRST_WORDS: tuple[str, ...] = tuple(_VOCABULARY["yes_first_words"])  # "Yes, go ahead"
DISMISS_WORDS: tuple[str, ...] = tuple(_VOCABULARY["dismiss_words"])  # a whole label that closes a dialog
NEGATIONS: tuple[str, ...] = tuple(_VOCABULARY["negations"])  # "Don't send", "不要安装"
SAVE_WORDS: tuple[str, ...] = tuple(_VOCABULARY["save_words"])  # a control that keeps an edit
MESSAGE_FIELD_WORDS: tuple[str, ...] = tuple(_VOCABULARY["message_field_words"])
NOT_MESSAGE_FIELD: tuple[str, ...] = tuple(_VOCABULARY["not_message_field_words"])
MESSAGING_PACKAGES: tuple[str, ...] = tuple(_VOCABULARY["messaging_packages"])
STORE_PACKAGES: tuple[str, ...] = tuple(_VOCABULARY["store_packages"])
SETTING_NAMES: tuple[str, ...] = tuple(_VOCABULARY["setting_names"])  # what a dialog may ask to switch
LURE_WORDS: tuple[str, ...] = tuple(_VOCABULARY["lure_words"])
# Exempt from an app allowlist (never from the denylist): home screen, system UI, system dialogs.
SYSTEM_PACKAGES = frozenset({"android", "com.android.systemui", "com.android.launcher3",
                             "com.google.android.apps.nexuslauncher", "com.android.launcher"})
SWIPE_SLOP = 40  # device pixels: a swipe shorter than this is a tap (Android: 8 dp; 32 px at 640 dpi)

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_SECRET = re.compile(r"\{\{\s*[A-Za-z_]\w*\s*\}\}")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")
# Dates look like phone numbers to _PHONE ("2024-06-03", "03.06.2024"): a note titled so is no call.
_DATE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./](?:\d{4}|\d{2}))$")


def _words(text: str) -> str:
    """' send message button ': lowercase words between spaces, camelCase and snake_case split."""
    return " " + " ".join(re.findall(r"[^\W_]+", _CAMEL.sub(" ", text).casefold())) + " "


_DISMISS = frozenset(_words(w).strip() for w in DISMISS_WORDS)
_SAVE = frozenset(_words(w).strip() for w in SAVE_WORDS)


def _has(words: str, raw: str, phrase: str) -> bool:
    return phrase in raw.casefold() if _CJK.search(phrase) else f" {phrase} " in words


def _match(text: str, table: Mapping[Risk, tuple[str, ...]]) -> list[tuple[Risk, str]]:
    words = _words(text)
    return [(r, next(p for p in phrases if _has(words, text, p))) for r, phrases in table.items()
            if any(_has(words, text, p) for p in phrases)]


@dataclass(frozen=True)
class Assessment:
    """What an action risks and why. `reasons`: "send: description 'Send SMS' says 'send'", one per
    finding; `node`: the UI node acted on or typed into (uiautomator attributes, bounds as a tuple;
    a password field's text left out); `target`: the action in words ("tapping 'Send SMS'");
    `package`: the app acted in (the node's, else the screen's) or the app an OpenApp names."""

    risks: list[Risk] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    node: dict[str, Any] | None = None
    target: str = ""
    package: str | None = None

    @property
    def risky(self) -> bool:
        return bool(self.risks)

    def __str__(self) -> str:
        return f"{self.target} ({', '.join(map(str, self.risks)) or 'no risk'})"


@dataclass
class GuardContext:
    """What the guard knows of a run beyond the screen in front of it; one per run (the Agent
    makes it). goal: the user's words, so a switch they do not name is a setting nobody asked to
    change. originals: the text each field held when the guard first saw it, so an edit that
    wipes most of it is a deletion, whichever keys did it."""

    goal: str | None = None
    originals: dict[tuple[str, str], str] = field(default_factory=dict)
    # Without a UI tree the guard reads the screen itself (vlagent.ocr): the step's frame, its
    # pixels per device pixel, and the last point clicked (where typing most likely lands).
    frame: Any = None
    frame_scale: tuple[float, float] = (1.0, 1.0)
    pointer: tuple[int, int] | None = None

    def see(self, frame: Any, device_size: tuple[int, int]) -> None:
        """The screen the next actions act on (a PIL image) and the device's size in pixels."""
        self.frame, self.frame_scale = frame, (frame.width / device_size[0], frame.height / device_size[1])

    def _read(self, x: int, y: int, half_width: int, half_height: int) -> list[str] | None:
        """Lines of text around device point (x, y), nearest first; None when nothing can read."""
        from . import ocr

        if self.frame is None or not ocr.available():
            return None
        sx, sy = self.frame_scale
        lines = ocr.lines_near(self.frame, round(x * sx), round(y * sy), round(half_width * sx), round(half_height * sy))
        return [line.text for line in lines]

    def _remember(self, nodes: tuple["UiNode", ...]) -> None:
        for n in nodes:
            if n.editable and n.rid and not n.flag("password"):
                self.originals.setdefault((n.a.get("package", ""), n.a.get("resource-id", "")), n.a.get("text", ""))

    def _loss(self, n: "UiNode | None") -> tuple[int, int] | None:
        """(characters first seen, characters left) when `n` has lost a third or more of a text
        of 8 or more characters since the guard first saw it; else None (typos are fixed freely)."""
        if n is None or not n.editable:
            return None
        first = self.originals.get((n.a.get("package", ""), n.a.get("resource-id", "")), "")
        now = n.a.get("text", "")
        return (len(first), len(now)) if len(first) >= 8 and len(now) <= len(first) * 2 / 3 else None

    def _names(self, label: str) -> bool:
        """Does the goal name this control (its words, or for CJK any two characters in a row)?"""
        goal, words = _words(self.goal or ""), _words(label).strip()
        if not words or f" {words} " in goal:
            return True
        if _CJK.search(label):
            return any(label[i:i + 2] in (self.goal or "") for i in range(len(label) - 1))
        return any(f" {w} " in goal for w in words.split() if len(w) >= 3 and w not in _FILLER)


_FILLER = frozenset({"the", "and", "use", "show", "allow", "enable", "turn", "with", "for", "mode", "your", "all"})


class _Found:
    def __init__(self) -> None:
        self.risks: list[Risk] = []
        self.reasons: list[str] = []

    def add(self, risk: Risk, reason: str) -> None:
        self.risks += [risk] if risk not in self.risks else []
        self.reasons.append(f"{risk}: {reason}")

    def scan(self, text: str, what: str, table: Mapping[Risk, tuple[str, ...]] = KEYWORDS,
             only: Iterable[Risk] = ALL_RISKS, quote: bool = True) -> None:
        for risk, word in _match(text, table):
            if risk in only:  # typed text is never quoted: it may be a secret
                self.add(risk, f"{what} {_quote(text) + ' ' if quote else ''}says {word!r}")


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 60 else text[:59] + "…")


# -- the UI tree --------------------------------------------------------------------------------

def _parts(n: UiNode):
    """Descendants that belong to this control: not other controls inside it, nor theirs."""
    for c in n.children:
        if not c.flag("clickable"):
            yield c
            yield from _parts(c)


def _info(n: UiNode) -> dict[str, Any]:
    """A node for an Assessment: its attributes and bounds, a password field's text left out."""
    hide = {"text"} if n.flag("password") else set()
    return {**{k: v for k, v in n.a.items() if k not in hide}, "bounds": n.bounds}


def _target(nodes: tuple[UiNode, ...], x: int, y: int) -> UiNode | None:
    """The smallest clickable node under (x, y); on a tie the later one, drawn on top."""
    best = None
    for n in nodes:
        if (n.flag("clickable") or n.flag("long-clickable")) and n.has(x, y):
            if best is None or n.area() <= best.area():
                best = n
    return best


def _texts(n: UiNode) -> list[tuple[str, str]]:
    """(where, text) naming a control: its own words, then the short texts of its parts."""
    own = [("label", "" if n.editable else n.a.get("text", "")), ("description", n.a.get("content-desc", "")),
           ("id", n.rid.replace("_", " "))]
    kids = [("label", d.a.get(k, "")) for d in list(_parts(n))[:30] for k in ("text", "content-desc")
            if not d.editable and not d.rid.endswith(("summary", "snippet")) and len(d.a.get(k, "").split()) <= 8]
    return [(w, t) for w, t in own + kids if t.strip()]


def _label(n: UiNode) -> str:
    texts = _texts(n)
    return " ".join(next((t for w, t in texts if w != "id"), texts[0][1] if texts else "").split())[:40]


def _window_text(nodes: tuple[UiNode, ...], n: UiNode) -> list[str]:
    """Texts on the same window that name no control: titles, messages, page text."""
    return [t for m in nodes if m.window == n.window and not m.in_clickable and not m.editable
            for t in (m.a.get("text", ""), m.a.get("content-desc", "")) if t.strip()]


_DIALOG_IDS = ("parentPanel", "alertTitle", "contentPanel", "buttonPanel", "design_bottom_sheet")
_DIALOG_CLASS = re.compile(r"Dialog|BottomSheet|PopupWindow")


def _dialog(nodes: tuple[UiNode, ...], n: UiNode) -> UiNode | None:
    """The dialog `n` sits in: its nearest ancestor that is one (an AlertDialog panel, a *Dialog,
    bottom sheet or pop-up class), else the window of a framework dialog button (android:id/
    button1-3); None on a plain screen."""
    m: UiNode | None = n
    while m is not None:
        if m.rid in _DIALOG_IDS or _DIALOG_CLASS.search(m.a.get("class", "")):
            return m
        if m.parent is None and re.fullmatch(r"android:id/button[1-3]", n.a.get("resource-id", "")):
            return m
        m = m.parent
    return None


def _inside(n: UiNode, container: UiNode) -> bool:
    while n is not None and n is not container:
        n = n.parent  # type: ignore[assignment]
    return n is container


def _dialog_text(nodes: tuple[UiNode, ...], dialog: UiNode, tapped: UiNode) -> list[str]:
    """What a dialog says, for a button in it: its title and message, and the labels of its other
    controls except the ways out (a "Don't install" names what it declines)."""
    said = []
    for m in nodes:
        if m is tapped or m.editable or not _inside(m, dialog) or _inside(m, tapped):
            continue
        if m.flag("clickable"):
            said += [t for _, t in _texts(m)] if not _dismisses(_label(m)) else []
        elif not m.in_clickable:
            said += [t for t in (m.a.get("text", ""), m.a.get("content-desc", "")) if t.strip()]
    return said


def _dismisses(label: str) -> bool:
    """Is a control with this label a way out ("Cancel", "Not now", "Don't send", "取消")?"""
    words = _words(label).strip()
    if not words:
        return False
    return words in _DISMISS or any(
        label.strip().startswith(n) if _CJK.search(n) else f" {words} ".startswith(f"{_words(n)}")
        for n in NEGATIONS)


def _screen_package(nodes: tuple[UiNode, ...]) -> str | None:
    return next((n.a["package"] for n in nodes if n.parent is None and n.a.get("package")
                 and n.a["package"] != "com.android.systemui"), None)


def _focused(nodes: tuple[UiNode, ...], focused: Mapping[str, Any] | None) -> UiNode | None:
    if focused is not None:  # e.g. SimPhone's state()["focused_field"]
        a = {"resource-id": str(focused.get("resource_id") or focused.get("resource-id") or ""),
             "text": str(focused.get("text") or ""), "package": str(focused.get("package") or ""),
             "class": str(focused.get("class") or "android.widget.EditText"),
             "password": "true" if focused.get("password") in (True, "true") else "false"}
        return UiNode(a, None, None, -1, False)
    hits = [n for n in nodes if n.flag("focused")]
    return next((n for n in reversed(hits) if n.editable), hits[-1] if hits else None)


def _message_field(n: UiNode | None) -> bool:
    if n is None or not n.editable:
        return False
    words = _words(" ".join((n.rid, n.a.get("text", ""), n.a.get("content-desc", ""), n.a.get("hint", ""))))
    if any(f" {w} " in words for w in NOT_MESSAGE_FIELD):
        return False
    return any(f" {w} " in words for w in MESSAGE_FIELD_WORDS) or any(
        p in n.a.get("package", "") for p in MESSAGING_PACKAGES)


# -- classification -----------------------------------------------------------------------------

def classify(subject: Any, ui_xml: str | None = None, *, focused: Mapping[str, Any] | None = None,
             tool: Any = None, context: GuardContext | None = None) -> Assessment:
    """What `subject` (an Action in device pixels, or a ToolCall) risks, and why.

    ui_xml: the uiautomator dump of the screen it acts on; focused: the focused field when the
    tree lacks it ({"resource_id", "text", "password", "package"}); tool: the Tool a call names;
    context: the run's GuardContext (its goal, the fields' first texts), which this updates.
    """
    if isinstance(subject, ToolCall):
        return _classify_call(subject, tool)
    if not isinstance(subject, A._Action):
        raise TypeError(f"expected an Action or a ToolCall, not {type(subject).__name__}")
    nodes = parse(ui_xml) if ui_xml else ()
    context = context if context is not None else GuardContext()
    context._remember(nodes)
    found, node, target, package = _Found(), None, subject.type, _screen_package(nodes)
    match subject:
        case A.Tap(x=x, y=y) | A.LongPress(x=x, y=y) | A.Click(x=int() as x, y=int() as y):
            verb = {"tap": "tapping", "long_press": "long-pressing", "click": "clicking"}[subject.type]
            context.pointer = (x, y)
            if nodes:
                node, target = _classify_point(nodes, x, y, verb, found, context)
            else:
                target = _classify_pixels_at(x, y, verb, found, context)
        case A.Swipe(x1=x1, y1=y1, x2=x2, y2=y2) | A.Drag(start=(x1, y1), x=x2, y=y2):
            short = abs(x2 - x1) <= SWIPE_SLOP and abs(y2 - y1) <= SWIPE_SLOP  # a tap, to the phone
            node, target = _classify_point(nodes, x1, y1, "tapping" if short else "swiping", found, context,
                                           swipe=not short)
        case A.TypeText(text=text):
            node = _focused(nodes, focused)
            target = f"typing into {_quote(_label(node) or 'the focused field')}" if node else "typing"
            if _SECRET.search(text):
                found.add(Risk.PASSWORD_ENTRY, "the text holds a secret placeholder")
            if node is not None:
                if node.flag("password"):
                    found.add(Risk.PASSWORD_ENTRY, "the focused field is a password field")
                for part in ("resource-id", "content-desc", "hint", "text"):  # text: a hint, or what it holds
                    value = node.rid.replace("_", " ") if part == "resource-id" else node.a.get(part, "")
                    found.scan(value, f"the focused field's {part}", only=(Risk.PASSWORD_ENTRY, Risk.PAY),
                               quote=part != "text")
                if "\n" in text and _message_field(node):
                    found.add(Risk.SEND, "a line break in a message field may send it")
            elif not nodes and focused is None:
                _classify_typing_by_pixels(found, context, "typing")
        case A.Key(keys=keys) | A.SystemButton(button=keys):
            keys = [k.casefold().removeprefix("keycode_") for k in ((keys,) if isinstance(keys, str) else keys)]
            node, target = _focused(nodes, focused), f"pressing {'+'.join(keys)}"
            _classify_keys(keys, node, found, context)
            if not nodes and focused is None and not found.risks and not isinstance(subject, A.SystemButton):
                _classify_typing_by_pixels(found, context, "a key press", keys)
        case A.OpenApp(name=name):
            target, package = f"opening {name!r}", name.strip().partition("/")[0]
    if node is not None and node.bounds is not None:
        package = node.a.get("package") or package
    return Assessment(found.risks, found.reasons, _info(node) if node else None, target, package)


def _classify_pixels_at(x: int, y: int, verb: str, found: _Found, context: GuardContext) -> str:
    """A click on a screen without a UI tree: the words under the point, read off the pixels,
    judged as a button's label (and a yes-button by the text around it)."""
    lines = context._read(x, y, 160, 24)
    if not lines:
        found.reasons.append("no UI tree" + (", and no text could be read at the point" if lines == [] else
                                             " and no OCR (pip install 'vlagent[ocr]' and tesseract-ocr)")
                             + ": what is there is unknown")
        return f"{verb} at ({x}, {y})"
    label = lines[0]
    if not _dismisses(label):
        found.scan(label, "the text at the point (read off the screen)", only=_TAP_RISKS)
    said = _words(label).split()
    if " ".join(said) in YES_WORDS or (len(said) <= 4 and said[:1] and said[0] in YES_FIRST_WORDS):
        for text in context._read(x, y, 400, 240) or []:
            if text != label:
                found.scan(text, f"{_quote(label)} confirms", only=_TAP_RISKS)
    return f"{verb} {_quote(label)}"


def _classify_typing_by_pixels(found: _Found, context: GuardContext, what: str, keys: list[str] = ()) -> None:
    """Typing or a key on a screen without a UI tree: the field is the one last clicked, known by
    the words beside it; where nothing can be read, what it does is an unknown risk."""
    lines = context._read(*context.pointer, 560, 40) if context.pointer else None  # labels sit left of fields
    if not lines:
        found.add(Risk.UNKNOWN, f"no UI tree and no text could be read where {what} lands")
        return
    for line in lines[:3]:
        found.scan(line, "the text beside the field (read off the screen)", only=(Risk.PASSWORD_ENTRY, Risk.PAY))
    if set(keys) & {"enter", "return"} and any(_match(t, {Risk.SEND: MESSAGE_FIELD_WORDS}) for t in lines[:3]):
        found.add(Risk.SEND, f"Enter in the field labelled {_quote(lines[0])} may send it")


def _classify_point(nodes, x: int, y: int, verb: str, found: _Found, context: GuardContext, swipe: bool = False):
    node = _target(nodes, x, y)
    if node is None:  # web pages mark few links clickable: fall back to the label under the point
        node = min((n for n in nodes if n.has(x, y) and len(n.a.get("text", "").split()) <= 12
                    and (n.a.get("text", "").strip() or n.a.get("content-desc", "").strip())),
                   key=UiNode.area, default=None)
    if node is None:
        return None, f"{verb} at ({x}, {y})"
    label, texts = _label(node), _texts(node)
    target = f"{verb} {_quote(label)}" if label else f"{verb} at ({x}, {y})"
    if node.editable and not swipe:
        return node, target  # a tap on a text field only focuses it
    if swipe and not any(re.search(r"\b(swipe|slide|drag)\b", t, re.I) for _, t in texts):
        return node, target  # a real swipe scrolls; only "swipe to pay" controls act on one
    if not _dismisses(label):  # "Don't install" names a risk it declines
        for where, text in texts:
            found.scan(text, where, only=_TAP_RISKS)
    numbers = [t for w, t in texts if w == "label" and _PHONE.fullmatch(t.strip())
               and sum(c.isdigit() for c in t) >= 7 and not _DATE.fullmatch(t.strip())]
    # in a messaging app a number names a conversation, which a tap opens rather than dials
    if numbers and not any(p in node.a.get("package", "") for p in MESSAGING_PACKAGES):
        found.add(Risk.CALL, f"{_quote(label)} is a phone number")
    dialog = _dialog(nodes, node)
    says = _dialog_text(nodes, dialog, node) if dialog is not None else _window_text(nodes, node)
    if _match(" ".join(t for _, t in texts), {Risk.INSTALL: STORE_WORDS}) and (
            any(p in node.a.get("package", "") for p in STORE_PACKAGES)
            or any(_match(t, {Risk.INSTALL: ABOUT_APPS}) for t in says)):
        found.add(Risk.INSTALL, f"{_quote(label)} on a screen about apps installs")
    if node.flag("checkable") and context.goal is not None and not context._names(label):
        found.add(Risk.SETTING, f"{_quote(label)} is a switch the goal does not mention")
    said = _words(label).split()
    if " ".join(said) in _SAVE or " ".join(said) in YES_WORDS:
        for m in nodes:  # keeping an edit that wiped a field's text destroys it
            if m.window == node.window and (lost := context._loss(m)):
                found.add(Risk.DELETE, f"{_quote(label)} keeps {_quote(_label(m))}, down from {lost[0]} "
                                       f"characters to {lost[1]}")
    if dialog is not None and not _dismisses(label):
        for text in says:  # any button but a way out does what its dialog says
            found.scan(text, f"{_quote(label)} answers the dialog:", only=_TAP_RISKS | {Risk.PASSWORD_ENTRY})
            found.scan(text, f"{_quote(label)} answers the dialog:", {Risk.LURE: LURE_WORDS})
            if context.goal is not None:  # a dialog that switches a setting the user never named
                for risk, name in _match(text, {Risk.SETTING: SETTING_NAMES}):
                    if not context._names(name):
                        found.add(risk, f"{_quote(label)} answers a dialog about {name!r}, which the goal does not mention")
    elif " ".join(said) in YES_WORDS or (len(said) <= 4 and said[:1] and said[0] in YES_FIRST_WORDS):
        for text in says:  # on a page, a yes-button does what the page says
            found.scan(text, f"{_quote(label)} confirms", only=_TAP_RISKS)
    return node, target


def _classify_keys(keys: list[str], field_: UiNode | None, found: _Found, context: GuardContext) -> None:
    mods = set(keys) & {"ctrl", "control", "ctrl_left", "ctrl_right", "cmd", "command", "meta", "meta_left",
                        "super", "win", "alt", "alt_left", "option", "shift", "shift_left", "shift_right"}
    main = [k for k in keys if k not in mods]
    if "call" in main:
        found.add(Risk.CALL, "the call key dials")
    if set(main) & {"enter", "return", "numpad_enter", "kp_enter", "dpad_center", "center"}:
        if mods & {"ctrl", "control", "ctrl_left", "cmd", "command", "meta", "meta_left", "super"}:
            found.add(Risk.SEND, "Ctrl/Cmd+Enter sends in many mail and chat apps")
        elif _message_field(field_):
            found.add(Risk.SEND, f"Enter in the message field {_quote(_label(field_))} may send it")
    if set(main) & {"delete", "del", "forward_del"} or ("backspace" in main and mods):
        if mods & {"shift", "shift_left", "cmd", "command", "meta", "meta_left"}:
            found.add(Risk.DELETE, "Shift+Delete / Cmd+Backspace deletes files")
        elif field_ is None or not field_.editable:
            found.add(Risk.DELETE, "Delete outside a text field may delete the selection")
    if set(main) & {"del", "delete", "backspace", "forward_del"} and (lost := context._loss(field_)):
        found.add(Risk.DELETE, f"{_quote(_label(field_))} is down from {lost[0]} characters to {lost[1]}: "  # type: ignore[arg-type]
                               "more deleting wipes what it held")


def _declared(value: Any) -> list[Risk]:
    """A tool's declared risks ([] when it declares itself safe): names, Risks, True or lists."""
    if value is False or value in ("none", "") or (isinstance(value, (list, tuple, set)) and not value):
        return []
    values = ["sensitive" if value is True else value] if isinstance(value, (str, bool)) else list(value)
    return [Risk(str(v)) if str(v) in Risk._value2member_map_ else Risk.SENSITIVE for v in values if str(v) != "none"]


def _classify_call(call: ToolCall, tool: Any) -> Assessment:
    """A tool's risks: what it declares (`risk`/`sensitive`), else what its MCP annotations say,
    else unknown. Words in its name add the categories they name; they never make it safe."""
    found, target = _Found(), f"calling the tool {call.name!r}"
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
        from .devices.adb import COMMON_APPS  # launcher labels to packages, as OpenApp resolves them
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
        leaving = isinstance(subject, (A.Wait, A.Terminate, A.AskUser)) or (
            isinstance(subject, A.SystemButton) and subject.button != "enter")
        if isinstance(subject, A._Action) and not leaving:
            apps = [a.package] if isinstance(subject, A.OpenApp) else [foreground, a.package]
            for app in dict.fromkeys(p for p in apps if p):
                self._check_app(app, a)
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

    def _check_app(self, app: str, a: Assessment) -> None:
        if any(app_matches(e, app) for e in self.deny_apps):
            raise PolicyViolation(f"blocked: {a.target}: the app {app!r} is on the user's denylist. "
                                  "Use another app or hand back with ask_user.")
        if self.allow_apps is not None and not any(app_matches(e, app) for e in (*self.allow_apps, *SYSTEM_PACKAGES)):
            raise PolicyViolation(f"blocked: {a.target}: the app {app!r} is not on the user's allowlist "
                                  f"({', '.join(sorted(self.allow_apps))}). Stay within those apps.")
