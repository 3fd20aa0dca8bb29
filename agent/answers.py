"""The model's answers about the screen: where is it, what is it, does it hold.

The `Session` steps that ask the model live here, in the `ScreenQuestions` mixin: `locate` and
`locate_like` (a point, through `vlagent.grounding` and its cache), `query` (a value matching a
schema) and `check` / `assert_` / `wait_for` (a verdict with its reason). Below them, reading the
replies: `extract_json` (the first JSON value: whole, fenced or in prose; json5 tolerated),
`answer_of` / `verdict_of` (the answer or the yes/no verdict in it) and `answer_schema` (a type or
a JSON Schema dict as a validator, the schema shown to the model, and the cache key). A reply that
does not match gets one retry with the error shown, then `QueryFailed`. Answers are cached for
bit-identical screens only: one changed pixel of text may change them.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from PIL import Image
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from .errors import (
    AssertionFailed,
    GroundingFailed,
    QueryFailed,
    RecoverableError,
    ScriptError,
    UserError,
    WaitTimeout,
)
from .grounding import GroundingCache, TargetNotFound, ground, screen_digest, screen_hash
from .models.base import Message
from .parsing import loads_lenient
from .vision import fit_to_model

if TYPE_CHECKING:
    from . import actions as A

log = logging.getLogger("vlagent.session")  # the session's steps, logged under its name

__all__ = ["ScreenQuestions", "Verdict", "answer_of", "answer_schema", "dump_answer", "extract_json",
           "short_error", "verdict_of"]

QUERY_PROMPT = (
    "Look at the screen and answer: {question}\n"
    'Reply with only a JSON object {{"answer": ...}} whose answer matches this JSON Schema: {schema}'
)
CHECK_PROMPT = (
    "Look at the screen. Is this true: {condition}\n"
    'Reply with only a JSON object {{"answer": true or false, "reason": "what on the screen shows it"}}.'
)
ANSWER_RETRY = "Error: {error}\nReply again with only the JSON object asked for."


class Verdict(BaseModel):
    # built on first use, not at import: `from vlagent import connect` stays cheap (issue #20)
    model_config = ConfigDict(defer_build=True)

    answer: bool
    reason: str = ""


@dataclass
class _Located:
    point: tuple[int, int]
    frame: Image.Image
    text: str = ""
    cached: bool = False
    calls: int = 0


class ScreenQuestions:
    """The steps of a `Session` that ask the model about the screen. A mixin: it relies on the
    session's device, model, cache and counters (annotated below) and on its step bookkeeping
    (`_observe`, `_record`, `_event`, `_failure`)."""

    device: Any
    model: Any
    cache: GroundingCache | None
    cache_hits: int
    model_calls: int
    _acted: bool

    if TYPE_CHECKING:
        def _observe(self) -> Image.Image: ...
        def _record(self, name: str, arguments: dict[str, Any], frame: Image.Image | None,
                    actions: list[A._Action], text: str, *, result: str, started: float,
                    is_error: bool = False) -> None: ...
        def _event(self, kind: str, detail: str, started: float, calls: int = 0, cached: bool = False,
                   result: Any = None) -> None: ...
        def _failure(self, error: type[ScriptError], frame: Image.Image, kind: str, message: str) -> ScriptError: ...

    # -- where is it ---------------------------------------------------------------------------

    def locate(self, target: str) -> tuple[int, int]:
        """Where `target` is, in device pixels: from the cache when this screen was seen before,
        else from the model."""
        started = time.perf_counter()
        found = self._locate(target, "locate")
        self._event("locate", target, started, found.calls, found.cached, found.point)
        return found.point

    def locate_like(self, example: Image.Image, hint: str = "") -> tuple[int, int]:
        """Where the element shown in `example` (a crop of an earlier screen) is now, asking the
        model; `hint` is any text saying what it is. Used by replay to re-ground a recorded tap."""
        started = time.perf_counter()
        frame = self._observe()
        self._need_model("locate", hint or "the element in the example")
        before = self.model_calls
        try:
            grounded = ground(self._generate, self.model, frame, tuple(self.device.size), hint, example=example, hint=hint)
        except RecoverableError as e:
            raise self._failure(GroundingFailed, frame, "locate", f"the recorded element "
                                f"({hint or 'no description'}) was not found on the screen: {e}") from None
        self._event("locate", hint or "example", started, self.model_calls - before, False, grounded.point)
        return grounded.point

    def _locate(self, target: str, verb: str, frame: Image.Image | None = None) -> _Located:
        """`target` on `frame` (the screen now, if None): from the cache, else from the model;
        `GroundingFailed`, with the screen saved, when neither finds it. `tap` and `swipe` use it."""
        frame = frame if frame is not None else self._observe()
        size = tuple(self.device.size)
        phash = screen_hash(frame)
        hit = self.cache.lookup(target, frame, size, screen=phash) if self.cache else None
        if hit is not None:
            self.cache_hits += 1
            return _Located(hit.point, frame, cached=True)
        self._need_model(verb, target)
        before = self.model_calls
        try:
            grounded = ground(self._generate, self.model, frame, size, target)
        except TargetNotFound as e:
            raise self._failure(GroundingFailed, frame, verb, f"{verb} {target!r}: {e}") from None
        except RecoverableError as e:
            raise self._failure(GroundingFailed, frame, verb, f"{verb} {target!r}: no usable location from "
                                f"the model after a retry: {e}") from None
        if self.cache:
            self.cache.store(target, frame, size, grounded.point, screen=phash)
        return _Located(grounded.point, frame, grounded.text, False, self.model_calls - before)

    # -- what is it, does it hold ------------------------------------------------------------

    def query(self, question: str, schema: Any = str) -> Any:
        """Ask about the screen; the answer is validated by pydantic (`schema` is a type: int,
        list[str], a BaseModel, ...) or by jsonschema (`schema` is a JSON Schema dict)."""
        started = time.perf_counter()
        validate, json_schema, schema_key = answer_schema(schema)
        frame = self._observe()
        prompt = QUERY_PROMPT.format(question=question, schema=json.dumps(json_schema, ensure_ascii=False))
        value, text, calls, cached = self._ask("query", question, schema_key, frame, prompt,
                                               lambda reply: validate(answer_of(reply, schema is str)),
                                               dump=lambda v: dump_answer(schema, v), load=validate)
        self._record("query", {"question": question}, frame, [], text,
                     result=json.dumps(dump_answer(schema, value), ensure_ascii=False), started=started)
        self._event("query", question, started, calls, cached, value)
        return value

    def check(self, condition: str) -> tuple[bool, str]:
        """Whether `condition` holds on the screen now, with the model's reason; never raises
        for a false one."""
        started = time.perf_counter()
        frame = self._observe()
        verdict, text, calls, cached = self._verdict(condition, frame)
        self._event("check", condition, started, calls, cached, verdict.answer)
        return verdict.answer, verdict.reason

    def assert_(self, condition: str) -> str:
        """Raise `AssertionFailed` (with the screenshot saved) unless `condition` holds on the
        screen; returns the model's reason."""
        started = time.perf_counter()
        frame = self._observe()
        verdict, text, calls, cached = self._verdict(condition, frame)
        self._record("assert", {"condition": condition}, frame, [], text,
                     result=f"{verdict.answer}: {verdict.reason}", is_error=not verdict.answer, started=started)
        self._event("assert", condition, started, calls, cached, verdict.answer)
        if not verdict.answer:
            raise self._failure(AssertionFailed, frame, "assert",
                                f"assertion failed: {condition!r}; the model says: {verdict.reason or 'no'}")
        return verdict.reason

    def wait_for(self, condition: str, timeout: float = 10.0, interval: float = 1.0) -> str:
        """Poll until `condition` holds; `WaitTimeout` (screenshot saved) after `timeout` s.
        An unchanged screen is not asked about twice (its answer is cached)."""
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        calls_before = self.model_calls
        while True:
            frame = self._observe()
            verdict, text, _, _ = self._verdict(condition, frame)
            if verdict.answer:
                break
            if time.monotonic() + interval > deadline:
                error = self._failure(WaitTimeout, frame, "wait_for", f"{condition!r} did not hold within "
                                      f"{timeout:g} s; the model says: {verdict.reason or 'no'}")
                self._record("wait_for", {"condition": condition, "timeout": timeout}, frame, [], text,
                             result=f"timed out: {verdict.reason}", is_error=True, started=started)
                raise error
            time.sleep(interval)
            self._acted = False  # nothing we did changes the screen: no settling needed
        calls = self.model_calls - calls_before
        self._record("wait_for", {"condition": condition, "timeout": timeout}, frame, [], text,
                     result=f"True: {verdict.reason}", started=started)
        self._event("wait_for", condition, started, calls, calls == 0, True)
        return verdict.reason

    def _verdict(self, condition: str, frame: Image.Image) -> tuple[Verdict, str, int, bool]:
        prompt = CHECK_PROMPT.format(condition=condition)
        return self._ask("check", condition, "bool", frame, prompt, verdict_of,
                         dump=lambda v: v.model_dump(), load=Verdict.model_validate)

    def _ask(self, kind: str, question: str, schema_key: str, frame: Image.Image, prompt: str,
             parse: Callable[[str], Any], *, dump: Callable[[Any], Any], load: Callable[[Any], Any]):
        """(value, model text, model calls, from cache) for a question about `frame`."""
        key = GroundingCache.answer_key(kind, question, schema_key, screen_digest(frame)) if self.cache else None
        if key is not None and (cached := self.cache.get_answer(key)) is not None:
            try:
                value = load(cached)
            except (ValidationError, ValueError):
                pass
            else:
                self.cache_hits += 1
                log.info("answer cache hit for %r — no model call (the screen is unchanged)", question)
                return value, "", 0, True
        self._need_model(kind, question)
        seen = fit_to_model(frame, self.model.min_pixels, self.model.max_pixels)
        messages: list[Message] = [{"role": "user", "content": [
            {"type": "image", "image": seen}, {"type": "text", "text": prompt}]}]
        for attempt in (1, 2):
            reply = self._generate(messages)
            try:
                value = parse(reply)
                break
            except (ValidationError, ValueError) as e:
                error = short_error(e)
                if attempt == 2:
                    what = "assertion" if kind == "check" else "query"
                    raise self._failure(QueryFailed, frame, kind,
                                        f"{what} {question!r}: the answer did not match after a retry: {error}; "
                                        f"last answer: {reply.strip()[:200]!r}") from None
                messages = messages + [{"role": "assistant", "content": reply},
                                       {"role": "user", "content": ANSWER_RETRY.format(error=error)}]
        if key is not None:
            self.cache.put_answer(key, dump(value))
        return value, reply, attempt, False

    # -- the model --------------------------------------------------------------------------------

    def _generate(self, messages: list[Message]) -> str:
        self.model_calls += 1
        return self.model.generate(messages, None).text

    def _need_model(self, verb: str, what: str) -> None:
        if self.model is None:
            raise UserError(f"{verb} {what!r} needs a model and nothing cached matches this screen: pass "
                            "model=... to vlagent.connect (or --model / `model:` in a flow)")


# -- reading answers -----------------------------------------------------------------------------


def answer_schema(schema: Any) -> tuple[Callable[[Any], Any], dict[str, Any], str]:
    """(validate, JSON Schema shown to the model, cache key) for a type or a JSON Schema dict."""
    if isinstance(schema, dict):
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)

        def validate_json(value: Any) -> Any:
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
            if errors:
                where = "/".join(str(p) for p in errors[0].absolute_path) or "answer"
                raise ValueError(f"{where}: {errors[0].message}")
            return value

        text = json.dumps(schema, sort_keys=True)
        return validate_json, schema, text
    adapter = TypeAdapter(schema)
    try:
        json_schema = adapter.json_schema()
    except Exception:  # types pydantic validates but cannot describe
        json_schema = {"description": repr(schema)}
    return adapter.validate_python, json_schema, json.dumps(json_schema, sort_keys=True)


def dump_answer(schema: Any, value: Any) -> Any:
    """A validated answer as JSON data, for the cache and the trajectory."""
    if isinstance(schema, dict):
        return value
    return TypeAdapter(schema).dump_python(value, mode="json")


MAX_JSON_STARTS = 64  # brackets tried as the start of JSON in prose: a long reply full of them is not scanned forever
_FENCED = re.compile(r"```(?:json5?|JSON)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The first JSON value in a reply: whole, fenced, or embedded in prose (json5 tolerated)."""
    candidates = [m.group(1) for m in _FENCED.finditer(text)] + [text]
    for candidate in candidates:
        try:
            return loads_lenient(candidate.strip())
        except ValueError:
            pass
    decoder = json.JSONDecoder(strict=False)
    for m in itertools.islice(re.finditer(r"[\[{]", text), MAX_JSON_STARTS):
        try:
            return decoder.raw_decode(text, m.start())[0]
        except (ValueError, RecursionError):
            continue
    raise ValueError('no JSON in the answer; reply with a JSON object such as {"answer": ...}')


def answer_of(reply: str, plain_text_ok: bool) -> Any:
    """The `answer` of a reply's JSON (or the JSON itself); with `plain_text_ok`, a reply
    without JSON is the answer as it stands."""
    try:
        value = extract_json(reply)
    except ValueError:
        if plain_text_ok and reply.strip():
            return reply.strip()
        raise
    if isinstance(value, dict) and "answer" in value:
        return value["answer"]
    return value


def verdict_of(reply: str) -> Verdict:
    """The verdict in a reply: {"answer": bool, "reason": ...}, a bare JSON bool, or yes/no."""
    try:
        value = extract_json(reply)
    except ValueError:
        word = reply.strip().strip(".!").lower()
        if word in ("yes", "true"):
            return Verdict(answer=True)
        if word in ("no", "false"):
            return Verdict(answer=False)
        raise
    if isinstance(value, bool):
        return Verdict(answer=value)
    return Verdict.model_validate(value)


def short_error(e: Exception) -> str:
    """At most three validation problems, `where: what`, for the model to read."""
    if isinstance(e, ValidationError):
        parts = []
        for err in e.errors()[:3]:
            where = "/".join(str(p) for p in err.get("loc", ())) or "answer"
            parts.append(f"{where}: {err.get('msg')}")
        return "; ".join(parts)
    return str(e)
