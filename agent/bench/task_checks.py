"""The pieces of a task's success check, pure functions of the phone's state (as `cmd simphone
state` gives it) and the agent's answer: `CheckResult`, records added or removed between two
states, and an answer compared with the expected one, kind by kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class CheckResult:
    success: bool
    reason: str


def ok(reason: str = "the state is as asked") -> CheckResult:
    return CheckResult(True, reason)


def fail(reason: str) -> CheckResult:
    return CheckResult(False, reason)


def new_records(initial: dict, final: dict, key: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(added, removed, changed-or-kept-with-new-content) records of `key`, matched by id."""
    before = {r["id"]: r for r in initial[key]}
    after = {r["id"]: r for r in final[key]}
    added = [r for i, r in after.items() if i not in before]
    removed = [r for i, r in before.items() if i not in after]
    changed = [r for i, r in after.items() if i in before and before[i] != r]
    return added, removed, changed


def only_added(initial: dict, final: dict, key: str) -> tuple[dict | None, str]:
    """The single record of `key` added (nothing else changed), or None and why not."""
    added, removed, changed = new_records(initial, final, key)
    if removed or changed:
        return None, f"{len(removed)} {key} removed and {len(changed)} changed, none should be"
    if len(added) != 1:
        return None, f"{len(added)} new {key}, expected exactly one"
    return added[0], ""


def digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def norm(text: str | None) -> str:
    """Casefolded, quotes and end punctuation dropped, spaces collapsed."""
    t = (text or "").casefold().replace("\u2019", "'")
    t = re.sub(r"[\"“”]", "", t)
    return re.sub(r"\s+", " ", t).strip().strip(".!?'").strip()


def answer_matches(kind: str, expected: str, answer: str | None) -> CheckResult:
    """Is `answer` the `expected` answer? kinds: text (the sentence, possibly quoted inside a
    longer reply), name, email, code (a token inside the reply), phone (the same digits, the
    country code optional), number (the first number equals), time (HH:MM, 12- or 24-hour)."""
    if not answer or not answer.strip():
        return fail("no answer given")
    a = norm(answer)
    if kind in ("text", "name", "email", "code"):
        e = norm(expected)
        hit = a == e if kind == "email" else re.search(r"(?<![\w-])" + re.escape(e) + r"(?![\w-])", a) is not None
        if kind == "email" and not hit:
            hit = e in re.findall(r"[\w.+-]+@[\w.-]+\w", a)
    elif kind == "phone":
        d, e = digits(answer), digits(expected)
        hit = d == e or "1" + d == e
    elif kind == "number":
        m = re.search(r"[-−]?\d[\d,]*(?:\.\d+)?", answer)
        hit = m is not None and Fraction(m.group().replace(",", "").replace("−", "-")) == Fraction(expected)
    elif kind == "time":
        hit = parse_time(answer) == parse_time(expected)
    else:
        raise ValueError(f"unknown answer kind {kind!r}")
    return ok(f"answer {answer!r} matches {expected!r}") if hit else fail(f"answer {answer!r} is not {expected!r}")


def parse_time(text: str) -> tuple[int, int] | None:
    m = re.search(r"(\d{1,2})[:.h](\d{2})\s*([ap]\.?m\.?)?", text.casefold())
    if m is None:
        return None
    h, mnt = int(m.group(1)), int(m.group(2))
    if m.group(3):
        h = h % 12 + (12 if m.group(3).startswith("p") else 0)
    return (h, mnt)
