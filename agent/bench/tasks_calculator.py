"""Calculator tasks. Numbers come from the seed; checks read the calculator's result and history,
so the answer must have come out of the app's "=", not from typing the number."""

from __future__ import annotations

from fractions import Fraction

from .task_checks import answer_matches, fail, ok
from .task_env import find
from .task_plans import finish, open_app, tap
from .tasks import Task

KEY_IDS = {**{str(d): f"digit_{d}" for d in range(10)}, "+": "op_add", "−": "op_sub", "×": "op_mul",
           "÷": "op_div", "(": "lparen", ")": "rparen", ".": "dec_point", "=": "eq"}


def shown(v: Fraction) -> str:
    """How the calculator shows `v` (integers plainly, else up to 10 significant digits)."""
    return str(v.numerator) if v.denominator == 1 else f"{float(v):.10g}"


def key_steps(expr: str) -> list:
    return [tap(desc="clear")] + [tap(rid=KEY_IDS[ch]) for ch in expr.replace(" ", "")] + [tap(rid="eq")]


class _Compute(Task):
    app = "calculator"
    complexity = 1.5
    template = "Use the Calculator app to compute {expr}."
    description = "the calculator's last \"=\" gave the right result for a formula with an operator"

    def expression(self, rng) -> tuple[str, Fraction]:
        """The formula as the goal shows it, and its exact value."""
        raise NotImplementedError

    def params(self, rng, state):
        expr, value = self.expression(rng)
        return {"expr": expr, "result": shown(value)}

    def verify(self, initial, final, p, answer):
        calc = final["calculator"]
        history = calc["history"][len(initial["calculator"]["history"]):]
        if calc["result"] != p["result"] or not history:
            return fail(f"the calculator's result is {calc['result']!r}, expected {p['result']!r}")
        formula, _, result = history[-1].rpartition("=")
        if result != p["result"] or not any(op in formula.lstrip("−") for op in "+−×÷"):
            return fail(f"the last calculation was {history[-1]!r}, not a computation of {p['expr']}")
        return ok()

    def solution(self, p):
        return [open_app("Calculator"), *key_steps(p["expr"]), finish()]


class MultiplyAdd(_Compute):
    id = "calculator.multiply_add"

    def expression(self, rng):
        a, b, c = rng.randint(12, 99), rng.randint(12, 99), rng.randint(101, 999)
        return f"{a} × {b} + {c}", Fraction(a * b + c)


class Parentheses(_Compute):
    id = "calculator.parentheses"
    complexity = 2.0

    def expression(self, rng):
        a, b, c = rng.randint(12, 99), rng.randint(12, 99), rng.randint(3, 29)
        return f"({a} + {b}) × {c}", Fraction((a + b) * c)


class Divide(_Compute):
    id = "calculator.divide"
    info = True
    template = "What is {expr}? Use the Calculator app and answer with the result."
    description = "the answer is the exact quotient"

    def expression(self, rng):
        b = rng.choice([4, 8, 16, 20, 25, 40])
        a = rng.choice([n for n in range(101, 999) if n % b])
        return f"{a} ÷ {b}", Fraction(a, b)

    def verify(self, initial, final, p, answer):
        return answer_matches("number", p["result"], answer)

    def solution(self, p):
        return [open_app("Calculator"), *key_steps(p["expr"]),
                finish(answer=lambda nodes: (find(nodes, rid="formula") or find(nodes)).text)]


TASKS = [MultiplyAdd, Parentheses, Divide]
