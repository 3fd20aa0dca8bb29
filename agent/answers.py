"""The model's answers about the screen: where is it, what is it, does it hold.

`ScreenModel` is what a `Session` asks: where something is (`locate`, `locate_like`: a point,
through `vlagent.grounding` and its cache) and questions with a checked answer (`ask`). Below it,
the prompts and reading the replies: `extract_json` (the first JSON value: whole, fenced or in
prose; json5 tolerated), `answer_of` / `verdict_of` (the answer or the yes/no verdict in it) and
`answer_schema` (a type or a JSON Schema dict as a validator, the schema shown to the model, and
the cache key). A reply that does not match gets one retry with the error shown, then
`AnswerMismatch` (which the session raises as `QueryFailed`). Answers are cached for
bit-identical screens only: one changed pixel of text may change them.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

from PIL import Image
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from .errors import UserError
from .grounding import GroundingCache, ground, screen_digest, screen_hash
from .models.base import Message
from .parsing import loads_lenient
from .vision import fit_to_model

log = logging.getLogger("vlagent.session")  # the session's steps, logged under its name

__all__ = ["AnswerMismatch", "Located", "ScreenModel", "Verdict", "answer_of", "answer_schema", "dump_answer",
           "extract_json", "short_error", "verdict_of"]

QUERY_PROMPT = (
    "Look at the screen and answer: {question}\n"
    'Reply with only a JSON object {{"answer": ...}} whose answer matches this JSON Schema: {schema}'
)
VIDEO_QUERY_PROMPT = (
    "Watch the video of the screen and answer: {question}\n"
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


class AnswerMismatch(ValueError):
    """The model's answer did not match what was asked for, even after a retry."""

    def __init__(self, error: str, reply: str) -> None:
        super().__init__(error)
        self.error, self.reply = error, reply


@dataclass
class Located:
    point: tuple[int, int]
    frame: Image.Image
    text: str = ""
    cached: bool = False
    calls: int = 0


class ScreenModel:
    """The model a `Session` asks about screens, with the cache of its groundings and answers,
    and the counts of model calls and cache hits. It is given frames; observing the screen,
    recording the step and saving the screen of a failure are the session's."""

    def __init__(self, model: Any, cache: GroundingCache | None) -> None:
        self.model = model
        self.cache = cache
        self.model_calls = 0
        self.cache_hits = 0

    def locate(self, target: str, frame: Image.Image, size: tuple[int, int], verb: str) -> Located:
        """`target` on `frame`: from the cache, else from the model (TargetNotFound, or a
        RecoverableError for no usable answer after a retry)."""
        phash = screen_hash(frame)
        hit = self.cache.lookup(target, frame, size, screen=phash) if self.cache else None
        if hit is not None:
            self.cache_hits += 1
            return Located(hit.point, frame, cached=True)
        self.need(verb, target)
        before = self.model_calls
        grounded = ground(self.generate, self.model, frame, size, target)
        if self.cache:
            self.cache.store(target, frame, size, grounded.point, screen=phash)
        return Located(grounded.point, frame, grounded.text, False, self.model_calls - before)

    def locate_like(self, example: Image.Image, hint: str, frame: Image.Image, size: tuple[int, int]) -> Located:
        """The element `example` (a crop of an earlier screen) shows, on `frame`, asking the model."""
        self.need("locate", hint or "the element in the example")
        before = self.model_calls
        grounded = ground(self.generate, self.model, frame, size, hint, example=example, hint=hint)
        return Located(grounded.point, frame, grounded.text, False, self.model_calls - before)

    def ask(self, kind: str, question: str, schema_key: str, frame: Image.Image, prompt: str,
            parse: Callable[[str], Any], *, dump: Callable[[Any], Any], load: Callable[[Any], Any],
            video: Any = None):
        """(value, model text, model calls, from cache) for a question about `frame` (or, given,
        `video`: a vlagent.video.Video the model watches instead; never cached); a reply that does
        not parse gets one retry with the error shown, then AnswerMismatch."""
        key = GroundingCache.answer_key(kind, question, schema_key, screen_digest(frame)) \
            if self.cache and video is None else None
        if key is not None and (cached := self.cache.get_answer(key)) is not None:
            try:
                value = load(cached)
            except (ValidationError, ValueError):
                pass
            else:
                self.cache_hits += 1
                log.info("answer cache hit for %r — no model call (the screen is unchanged)", question)
                return value, "", 0, True
        self.need(kind, question)
        if video is not None:
            shown: dict[str, Any] = {"type": "video", "video": video}
        else:
            shown = {"type": "image", "image": fit_to_model(frame, self.model.min_pixels, self.model.max_pixels)}
        messages: list[Message] = [{"role": "user", "content": [shown, {"type": "text", "text": prompt}]}]
        for attempt in (1, 2):
            reply = self.generate(messages)
            try:
                value = parse(reply)
                break
            except (ValidationError, ValueError) as e:
                if attempt == 2:
                    raise AnswerMismatch(short_error(e), reply) from None
                messages = messages + [{"role": "assistant", "content": reply},
                                       {"role": "user", "content": ANSWER_RETRY.format(error=short_error(e))}]
        if key is not None:
            self.cache.put_answer(key, dump(value))
        return value, reply, attempt, False

    def generate(self, messages: list[Message]) -> str:
        self.model_calls += 1
        return self.model.generate(messages, None).text

    def need(self, verb: str, what: str) -> None:
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
