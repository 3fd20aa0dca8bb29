"""What an action or a tool call risks: the categories, the guard's vocabulary and how words are
matched, and the Assessment a classification returns.

The vocabulary is data (risk_words.json): a language or a phrase is added there, not here. Words
match case-insensitively on whole words (phrases: consecutive words); CJK entries as substrings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = [
    "ABOUT_APPS", "ALL_RISKS", "Assessment", "CJK", "DATE", "Findings", "KEYWORDS", "LURE_WORDS",
    "MESSAGE_FIELD_WORDS", "MESSAGING_PACKAGES", "NOT_MESSAGE_FIELD", "PHONE_NUMBER", "Risk", "SAVE",
    "SECRET_PLACEHOLDER", "SETTING_NAMES", "STORE_PACKAGES", "STORE_WORDS", "TAP_RISKS", "TOOL_WORDS",
    "YES_FIRST_WORDS", "YES_WORDS", "is_way_out", "matches", "quote", "words_of",
]


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
    UNKNOWN = "unknown"  # it may do anything: a tool that declares nothing, typing where nothing can be read

    def __str__(self) -> str:
        return self.value


ALL_RISKS = frozenset(Risk) - {Risk.NONE}
TAP_RISKS = ALL_RISKS - {Risk.PASSWORD_ENTRY, Risk.SENSITIVE, Risk.UNKNOWN, Risk.SETTING}  # "Forgot password?" is no password entry

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
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
SECRET_PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_]\w*\s*\}\}")
PHONE_NUMBER = re.compile(r"^\+?[\d\s().-]{7,}$")
# Dates look like phone numbers to PHONE_NUMBER ("2024-06-03", "03.06.2024"): a note titled so is no call.
DATE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./](?:\d{4}|\d{2}))$")


def words_of(text: str) -> str:
    """' send message button ': lowercase words between spaces, camelCase and snake_case split."""
    return " " + " ".join(re.findall(r"[^\W_]+", _CAMEL.sub(" ", text).casefold())) + " "


_DISMISS = frozenset(words_of(w).strip() for w in DISMISS_WORDS)
SAVE = frozenset(words_of(w).strip() for w in SAVE_WORDS)


def _has(words: str, raw: str, phrase: str) -> bool:
    return phrase in raw.casefold() if CJK.search(phrase) else f" {phrase} " in words


def matches(text: str, table: Mapping[Risk, tuple[str, ...]]) -> list[tuple[Risk, str]]:
    words = words_of(text)
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


class Findings:
    """What a classification found: each risk once, and every reason."""

    def __init__(self) -> None:
        self.risks: list[Risk] = []
        self.reasons: list[str] = []

    def add(self, risk: Risk, reason: str) -> None:
        self.risks += [risk] if risk not in self.risks else []
        self.reasons.append(f"{risk}: {reason}")

    def scan(self, text: str, what: str, table: Mapping[Risk, tuple[str, ...]] = KEYWORDS,
             only: Iterable[Risk] = ALL_RISKS, show_text: bool = True) -> None:
        for risk, word in matches(text, table):
            if risk in only:  # typed text is never shown: it may be a secret
                self.add(risk, f"{what} {quote(text) + ' ' if show_text else ''}says {word!r}")


def quote(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 60 else text[:59] + "…")


def is_way_out(label: str) -> bool:
    """Is a control with this label a way out ("Cancel", "Not now", "Don't send", "取消")?"""
    words = words_of(label).strip()
    if not words:
        return False
    return words in _DISMISS or any(
        label.strip().startswith(n) if CJK.search(n) else f" {words} ".startswith(f"{words_of(n)}")
        for n in NEGATIONS)
