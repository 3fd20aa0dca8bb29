"""Calculator: a keypad and a display. Arithmetic is exact (fractions), so 0.1+0.2 shows 0.3.

World.calculator is {"display", "result", "error", "history"}: `display` is the formula as shown
(with ×, ÷, −), `result` the last result of "=", `error` the last error message or None.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..phone import ui, widgets as w
from ..phone.glyphs import glyph
from ..phone.ui import Frame, View
from . import App
from .base import Activity

PACKAGE = "com.android.calculator2"
RID = PACKAGE + ":id/"
OPS = "+−×÷"
_KEY_GLYPHS = {"⌫": "backspace", "×": "times", "÷": "divide", "−": "minus", "+": "plus"}

# (label, resource id, content-desc) row by row
KEYS = [
    [("AC", "clr", "clear"), ("(", "lparen", "left parenthesis"), (")", "rparen", "right parenthesis"), ("÷", "op_div", "divide")],
    [("7", "digit_7", "7"), ("8", "digit_8", "8"), ("9", "digit_9", "9"), ("×", "op_mul", "multiply")],
    [("4", "digit_4", "4"), ("5", "digit_5", "5"), ("6", "digit_6", "6"), ("−", "op_sub", "minus")],
    [("1", "digit_1", "1"), ("2", "digit_2", "2"), ("3", "digit_3", "3"), ("+", "op_add", "plus")],
    [("0", "digit_0", "0"), (".", "dec_point", "point"), ("⌫", "del", "delete"), ("=", "eq", "equals")],
]

# hardware keys a calculator accepts without a focused text field
_KEY_INPUT = {**{f"KEYCODE_{d}": d for d in "0123456789"}, **{f"KEYCODE_NUMPAD_{d}": d for d in "0123456789"},
              "KEYCODE_PLUS": "+", "KEYCODE_NUMPAD_ADD": "+", "KEYCODE_MINUS": "−", "KEYCODE_NUMPAD_SUBTRACT": "−",
              "KEYCODE_STAR": "×", "KEYCODE_NUMPAD_MULTIPLY": "×", "KEYCODE_SLASH": "÷", "KEYCODE_NUMPAD_DIVIDE": "÷",
              "KEYCODE_PERIOD": ".", "KEYCODE_NUMPAD_DOT": ".", "KEYCODE_EQUALS": "=", "KEYCODE_ENTER": "=",
              "KEYCODE_NUMPAD_ENTER": "=", "KEYCODE_NUMPAD_EQUALS": "=", "KEYCODE_DEL": "⌫", "KEYCODE_CLEAR": "AC",
              "KEYCODE_NUMPAD_LEFT_PAREN": "(", "KEYCODE_NUMPAD_RIGHT_PAREN": ")"}


class CalcError(ValueError):
    pass


def evaluate(expr: str) -> Fraction:
    """Recursive-descent evaluation of + − × ÷, parentheses and unary minus."""
    tokens = re.findall(r"\d+\.?\d*|\.\d+|[-+−×÷*/()]", expr)
    if "".join(tokens) != expr.replace(" ", ""):
        raise CalcError("Bad expression")
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom() -> Fraction:
        t = peek()
        if t is None:
            raise CalcError("Bad expression")
        if t in ("−", "-"):
            take()
            return -atom()
        if t == "(":
            take()
            v = sum_()
            if peek() == ")":
                take()
            return v   # a missing ")" is closed implicitly, as Android's calculator does
        if t[0].isdigit() or t[0] == ".":
            return Fraction(take())
        raise CalcError("Bad expression")

    def product() -> Fraction:
        v = atom()
        while peek() in ("×", "÷", "*", "/"):
            op, rhs = take(), atom()
            if op in ("÷", "/"):
                if rhs == 0:
                    raise CalcError("Can't divide by 0")
                v /= rhs
            else:
                v *= rhs
        return v

    def sum_() -> Fraction:
        v = product()
        while peek() in ("+", "−", "-"):
            op, rhs = take(), product()
            v = v + rhs if op == "+" else v - rhs
        return v

    v = sum_()
    if pos != len(tokens):
        raise CalcError("Bad expression")
    return v


def format_number(v: Fraction) -> str:
    if v.denominator == 1:
        s = str(v.numerator)
    else:
        s = f"{float(v):.10g}"
        if "e" in s:
            mant, exp = s.split("e")
            s = f"{mant}E{int(exp)}"
    return s.replace("-", "−")


class Calculator(Activity):
    package = PACKAGE
    name = ".Calculator"

    @property
    def calc(self) -> dict:
        return self.world.calculator

    def press(self, key: str) -> None:
        c = self.calc
        d = c["display"]
        just_evaluated = c.get("_fresh", False)
        c["_fresh"] = False
        c["error"] = None
        if key == "AC":
            c["display"] = ""
        elif key == "⌫":
            c["display"] = d[:-1]
        elif key == "=":
            if not d:
                return
            try:
                result = format_number(evaluate(d))
            except CalcError as e:
                c["error"] = str(e)
                return
            c["history"].append(f"{d}={result}")
            c["display"] = c["result"] = result
            c["_fresh"] = True
        elif key in OPS:
            if d and d[-1] in OPS:
                d = d[:-1] if not (key == "−" and d[-1] in "×÷") else d   # allow 5×−3
            elif not d and key != "−":
                return
            c["display"] = d + key
        else:   # digit, point or parenthesis: after "=", a digit starts a new formula
            if just_evaluated and (key.isdigit() or key in ".("):
                d = ""
            if key == "." and "." in re.split(r"[+−×÷()]", d)[-1]:
                return
            c["display"] = d + key

    def on_key(self, key: str) -> bool:
        k = _KEY_INPUT.get(key)
        if k is None:
            return False
        self.press(k)
        return True

    def build(self, f: Frame) -> list[View]:
        th = f.theme
        c = self.calc
        disp_h = int((f.bottom - f.top) * (0.26 if f.landscape else 0.32))
        top = f.top
        views: list[View] = [w.fill((0, top, f.w, top + disp_h), th.surface)]
        pad = f.dp(24)
        formula_px = 56 if not f.landscape else 40
        views.append(w.label(f, (pad, top + f.dp(8), f.w - pad, top + disp_h - f.dp(56)), c["display"],
                             size=formula_px, align="right", rid=RID + "formula"))
        preview = ""
        if c["error"]:
            preview = c["error"]
        elif any(op in c["display"].lstrip("−") for op in OPS) and not c.get("_fresh"):
            try:
                preview = format_number(evaluate(c["display"]))
            except CalcError:
                preview = ""
        views.append(w.label(f, (pad, top + disp_h - f.dp(56), f.w - pad, top + disp_h - f.dp(8)), preview,
                             size=28, align="right", color=th.error if c["error"] else th.muted, rid=RID + "result"))
        gap = f.dp(8)
        grid_top = top + disp_h + gap
        rows, cols = len(KEYS), len(KEYS[0])
        kw = (f.w - 2 * pad - (cols - 1) * gap) // cols
        kh = (f.bottom - grid_top - f.dp(8) - (rows - 1) * gap) // rows
        for r, row in enumerate(KEYS):
            for col, (text, rid, desc) in enumerate(row):
                x, y = pad + col * (kw + gap), grid_top + r * (kh + gap)
                views.append(self._key(f, (x, y, x + kw, y + kh), text, rid, desc))
        return views

    def _key(self, f: Frame, b, text: str, rid: str, desc: str) -> View:
        th = f.theme
        is_op = text in OPS or text in "()"
        if text == "=":
            fill, fg = th.primary, th.on_primary
        elif text == "AC":
            fill, fg = (th.error, (255, 255, 255)) if not th.dark else (th.error, (60, 20, 20))
        elif is_op:
            fill, fg = th.container, th.on_container
        else:
            fill, fg = th.surface2, th.text
        px = f.dp(28) if f.h > f.w else f.dp(22)

        def paint(c, v: View) -> None:
            l, t, r, bt = v.bounds
            c.rect(v.bounds, fill=fill, radius=min(r - l, bt - t) // 2)
            if text in _KEY_GLYPHS:   # the bundled font has no ×, ÷, − or ⌫
                glyph(c, _KEY_GLYPHS[text], (l + r) // 2, (t + bt) // 2, f.dp(28), fg, fill)
            else:
                c.text((l + r) // 2, (t + bt) // 2, text, px, fg, "mm")

        return View(b, cls=ui.BUTTON if text != "⌫" else ui.IMAGE_BUTTON, text="" if text == "⌫" else text,
                    rid=RID + rid, desc=desc, clickable=True, focusable=True, paint=paint,
                    on_tap=lambda: self.press(text))


APP = App("Calculator", PACKAGE, Calculator, "calc", (0, 137, 123), (".Calculator",))
