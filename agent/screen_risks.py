"""What a UI action does, read off the screen it acts on: the node a tap reaches in the
uiautomator tree (its label from its text, content-desc, resource-id and its children's texts, as
buttons often keep theirs in a child TextView), the dialog it answers, the field typed into, and
the run's context (`GuardContext`: the goal, what fields first held). Without a tree (desktops,
image devices) the words are read off the pixels (`vlagent.ocr`).

Conservative by design: a false alarm ("Send feedback" asks) is acceptable, a miss is not.
- In a dialog every button but a way out ("Cancel", "Not now", "Don't install", "取消") does what
  the dialog's title, text and other buttons say; on a page, a yes-button ("OK", "Continue")
  does what the page's text says.
- "Update"/"Get"/"Download" are `install` in a store or on a screen about apps and versions.
- A switch the goal does not name is `setting`; removing most of a field's text is `delete`.
- Enter in a message-like field is `send` (many apps send on Enter); Ctrl/Cmd+Enter anywhere.
- Tapping a text field only focuses it. Typing into a password/PIN/OTP field, or typing a
  `{{SECRET}}` placeholder anywhere, is `password_entry`; typing into a card field is `pay`.
- Where nothing can be read (no tree, no legible text), typing and keys are `unknown`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import actions as A
from .risks import (
    ABOUT_APPS, CJK, DATE, LURE_WORDS, MESSAGE_FIELD_WORDS, MESSAGING_PACKAGES, NOT_MESSAGE_FIELD, PHONE_NUMBER,
    SAVE, SECRET_PLACEHOLDER, SETTING_NAMES, STORE_PACKAGES, STORE_WORDS, TAP_RISKS, YES_FIRST_WORDS, YES_WORDS,
    Assessment, Findings, Risk, is_way_out, matches, quote, words_of,
)
from .uitree import UiNode, parse

__all__ = ["GuardContext", "classify_action"]

SWIPE_SLOP = 40  # device pixels: a swipe shorter than this is a tap (Android: 8 dp; 32 px at 640 dpi)


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
        """Lines of text around device point (x, y), nearest first; None without a frame or an OCR engine."""
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
        goal, words = words_of(self.goal or ""), words_of(label).strip()
        if not words or f" {words} " in goal:
            return True
        if CJK.search(label):
            return any(label[i:i + 2] in (self.goal or "") for i in range(len(label) - 1))
        return any(f" {w} " in goal for w in words.split() if len(w) >= 3 and w not in _FILLER)


_FILLER = frozenset({"the", "and", "use", "show", "allow", "enable", "turn", "with", "for", "mode", "your", "all"})


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
            said += [t for _, t in _texts(m)] if not is_way_out(_label(m)) else []
        elif not m.in_clickable:
            said += [t for t in (m.a.get("text", ""), m.a.get("content-desc", "")) if t.strip()]
    return said


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
    words = words_of(" ".join((n.rid, n.a.get("text", ""), n.a.get("content-desc", ""), n.a.get("hint", ""))))
    if any(f" {w} " in words for w in NOT_MESSAGE_FIELD):
        return False
    return any(f" {w} " in words for w in MESSAGE_FIELD_WORDS) or any(
        p in n.a.get("package", "") for p in MESSAGING_PACKAGES)


# -- classification -----------------------------------------------------------------------------

def classify_action(subject: A._Action, ui_xml: str | None = None, *, focused: Mapping[str, Any] | None = None,
                    context: GuardContext | None = None) -> Assessment:
    """What `subject` (an Action in device pixels) risks, and why: see `vlagent.policy.classify`."""
    nodes = parse(ui_xml) if ui_xml else ()
    context = context if context is not None else GuardContext()
    context._remember(nodes)
    found, node, target, package = Findings(), None, subject.type, _screen_package(nodes)
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
            target = f"typing into {quote(_label(node) or 'the focused field')}" if node else "typing"
            if SECRET_PLACEHOLDER.search(text):
                found.add(Risk.PASSWORD_ENTRY, "the text holds a secret placeholder")
            if node is not None:
                if node.flag("password"):
                    found.add(Risk.PASSWORD_ENTRY, "the focused field is a password field")
                for part in ("resource-id", "content-desc", "hint", "text"):  # text: a hint, or what it holds
                    value = node.rid.replace("_", " ") if part == "resource-id" else node.a.get(part, "")
                    found.scan(value, f"the focused field's {part}", only=(Risk.PASSWORD_ENTRY, Risk.PAY),
                               show_text=part != "text")
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


def _classify_pixels_at(x: int, y: int, verb: str, found: Findings, context: GuardContext) -> str:
    """A click on a screen without a UI tree: the words under the point, read off the pixels,
    judged as a button's label (and a yes-button by the text around it)."""
    lines = context._read(x, y, 160, 24)
    if not lines:
        found.reasons.append("no UI tree" + (", and no text could be read at the point" if lines == [] else
                                             " and no OCR (pip install 'vlagent[ocr]' and tesseract-ocr)")
                             + ": what is there is unknown")
        return f"{verb} at ({x}, {y})"
    label = lines[0]
    if not is_way_out(label):
        found.scan(label, "the text at the point (read off the screen)", only=TAP_RISKS)
    said = words_of(label).split()
    if " ".join(said) in YES_WORDS or (len(said) <= 4 and said[:1] and said[0] in YES_FIRST_WORDS):
        for text in context._read(x, y, 400, 240) or []:
            if text != label:
                found.scan(text, f"{quote(label)} confirms", only=TAP_RISKS)
    return f"{verb} {quote(label)}"


def _classify_typing_by_pixels(found: Findings, context: GuardContext, what: str, keys: list[str] = ()) -> None:
    """Typing or a key on a screen without a UI tree: the field is the one last clicked, known by
    the words beside it; where nothing can be read, what it does is an unknown risk."""
    lines = context._read(*context.pointer, 560, 40) if context.pointer else None  # labels sit left of fields
    if not lines:
        found.add(Risk.UNKNOWN, f"no UI tree and no text could be read where {what} lands")
        return
    for line in lines[:3]:
        found.scan(line, "the text beside the field (read off the screen)", only=(Risk.PASSWORD_ENTRY, Risk.PAY))
    if set(keys) & {"enter", "return"} and any(matches(t, {Risk.SEND: MESSAGE_FIELD_WORDS}) for t in lines[:3]):
        found.add(Risk.SEND, f"Enter in the field labelled {quote(lines[0])} may send it")


def _classify_point(nodes, x: int, y: int, verb: str, found: Findings, context: GuardContext, swipe: bool = False):
    node = _target(nodes, x, y)
    if node is None:  # web pages mark few links clickable: fall back to the label under the point
        node = min((n for n in nodes if n.has(x, y) and len(n.a.get("text", "").split()) <= 12
                    and (n.a.get("text", "").strip() or n.a.get("content-desc", "").strip())),
                   key=UiNode.area, default=None)
    if node is None:
        return None, f"{verb} at ({x}, {y})"
    label, texts = _label(node), _texts(node)
    target = f"{verb} {quote(label)}" if label else f"{verb} at ({x}, {y})"
    if node.editable and not swipe:
        return node, target  # a tap on a text field only focuses it
    if swipe and not any(re.search(r"\b(swipe|slide|drag)\b", t, re.I) for _, t in texts):
        return node, target  # a real swipe scrolls; only "swipe to pay" controls act on one
    if not is_way_out(label):  # "Don't install" names a risk it declines
        for where, text in texts:
            found.scan(text, where, only=TAP_RISKS)
    numbers = [t for w, t in texts if w == "label" and PHONE_NUMBER.fullmatch(t.strip())
               and sum(c.isdigit() for c in t) >= 7 and not DATE.fullmatch(t.strip())]
    # in a messaging app a number names a conversation, which a tap opens rather than dials
    if numbers and not any(p in node.a.get("package", "") for p in MESSAGING_PACKAGES):
        found.add(Risk.CALL, f"{quote(label)} is a phone number")
    dialog = _dialog(nodes, node)
    says = _dialog_text(nodes, dialog, node) if dialog is not None else _window_text(nodes, node)
    if matches(" ".join(t for _, t in texts), {Risk.INSTALL: STORE_WORDS}) and (
            any(p in node.a.get("package", "") for p in STORE_PACKAGES)
            or any(matches(t, {Risk.INSTALL: ABOUT_APPS}) for t in says)):
        found.add(Risk.INSTALL, f"{quote(label)} on a screen about apps installs")
    if node.flag("checkable") and context.goal is not None and not context._names(label):
        found.add(Risk.SETTING, f"{quote(label)} is a switch the goal does not mention")
    said = words_of(label).split()
    if " ".join(said) in SAVE or " ".join(said) in YES_WORDS:
        for m in nodes:  # keeping an edit that wiped a field's text destroys it
            if m.window == node.window and (lost := context._loss(m)):
                found.add(Risk.DELETE, f"{quote(label)} keeps {quote(_label(m))}, down from {lost[0]} "
                                       f"characters to {lost[1]}")
    if dialog is not None and not is_way_out(label):
        for text in says:  # any button but a way out does what its dialog says
            found.scan(text, f"{quote(label)} answers the dialog:", only=TAP_RISKS | {Risk.PASSWORD_ENTRY})
            found.scan(text, f"{quote(label)} answers the dialog:", {Risk.LURE: LURE_WORDS})
            if context.goal is not None:  # a dialog that switches a setting the user never named
                for risk, name in matches(text, {Risk.SETTING: SETTING_NAMES}):
                    if not context._names(name):
                        found.add(risk, f"{quote(label)} answers a dialog about {name!r}, which the goal does not mention")
    elif " ".join(said) in YES_WORDS or (len(said) <= 4 and said[:1] and said[0] in YES_FIRST_WORDS):
        for text in says:  # on a page, a yes-button does what the page says
            found.scan(text, f"{quote(label)} confirms", only=TAP_RISKS)
    return node, target


def _classify_keys(keys: list[str], field_: UiNode | None, found: Findings, context: GuardContext) -> None:
    mods = set(keys) & {"ctrl", "control", "ctrl_left", "ctrl_right", "cmd", "command", "meta", "meta_left",
                        "super", "win", "alt", "alt_left", "option", "shift", "shift_left", "shift_right"}
    main = [k for k in keys if k not in mods]
    if "call" in main:
        found.add(Risk.CALL, "the call key dials")
    if set(main) & {"enter", "return", "numpad_enter", "kp_enter", "dpad_center", "center"}:
        if mods & {"ctrl", "control", "ctrl_left", "cmd", "command", "meta", "meta_left", "super"}:
            found.add(Risk.SEND, "Ctrl/Cmd+Enter sends in many mail and chat apps")
        elif _message_field(field_):
            found.add(Risk.SEND, f"Enter in the message field {quote(_label(field_))} may send it")
    if set(main) & {"delete", "del", "forward_del"} or ("backspace" in main and mods):
        if mods & {"shift", "shift_left", "cmd", "command", "meta", "meta_left"}:
            found.add(Risk.DELETE, "Shift+Delete / Cmd+Backspace deletes files")
        elif field_ is None or not field_.editable:
            found.add(Risk.DELETE, "Delete outside a text field may delete the selection")
    if set(main) & {"del", "delete", "backspace", "forward_del"} and (lost := context._loss(field_)):
        found.add(Risk.DELETE, f"{quote(_label(field_))} is down from {lost[0]} characters to {lost[1]}: "  # type: ignore[arg-type]
                               "more deleting wipes what it held")
