"""Perceptual hashes, the grounding cache, and reading a grounding reply into device pixels."""

from __future__ import annotations

import json
import logging

import pytest
from PIL import Image, ImageDraw

from vlagent.coords import Screen
from vlagent.errors import ActionOutOfBounds, ParseError
from vlagent.grounding import (
    SCREEN_TOLERANCE,
    GroundingCache,
    PHash,
    TargetNotFound,
    ground,
    normalize_instruction,
    point_from_text,
    region_around,
    screen_digest,
    screen_hash,
)
from vlagent.models.scripted import ScriptedModel
from vlagent.profiles import PROFILES


def phone_screen(*, scroll: int = 0, switch_on: bool = False, words: int = 0, clock: int = 30,
                 size: tuple[int, int] = (360, 800)) -> Image.Image:
    """A settings-like list: title, rows of icon + text bars, a switch on row 2, a clock."""
    w, h = size
    im = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(im)
    d.rectangle((10, 8, 10 + clock, 18), fill=(60, 60, 60))  # the clock
    d.rectangle((20, 40, 200 + 30 * words, 70), fill="black")  # the title
    for i in range(9):
        y = 110 + i * 80 - scroll
        d.ellipse((20, y, 60, y + 40), fill=(30, 110, 230))
        d.rectangle((80, y + 4, 140 + (37 * (i + words)) % 150, y + 18), fill=(40, 40, 40))
        d.rectangle((80, y + 26, 180 + (53 * (i + 2 * words)) % 120, y + 34), fill=(120, 120, 120))
    y = 190 - scroll
    d.rounded_rectangle((w - 80, y + 5, w - 30, y + 35), 15, fill=(26, 115, 232) if switch_on else (180, 180, 180))
    knob = w - 45 if switch_on else w - 65
    d.ellipse((knob - 12, y + 8, knob + 12, y + 32), fill="white")
    return im


def test_hash_is_stable_for_small_changes_and_not_for_other_screens():
    base = screen_hash(phone_screen())
    assert base.distance(screen_hash(phone_screen())) == 0.0
    assert base.distance(screen_hash(phone_screen(clock=34))) < 0.05  # the clock ticked
    assert base.distance(screen_hash(phone_screen(scroll=40))) > SCREEN_TOLERANCE  # scrolled half a row
    assert base.distance(screen_hash(phone_screen(words=3))) > SCREEN_TOLERANCE  # same layout, other text
    rotated = screen_hash(phone_screen().rotate(90, expand=True))
    assert base.distance(rotated) == 1.0  # never comparable


def test_hash_text_round_trip_and_shape_follows_aspect_ratio():
    h = screen_hash(phone_screen())
    assert (h.cols, h.rows) == (32, 71)
    assert PHash.parse(str(h)) == h
    region = screen_hash(phone_screen(), (0, 0, 100, 100))
    assert (region.cols, region.rows) == (16, 16)
    assert PHash(2, 2, 0).distance(PHash(2, 2, 0)) == 0.0  # two blank screens are the same


def test_region_around_stays_inside_the_image():
    assert region_around((0, 0), (360, 800)) == (0, 0, 90, 90)
    assert region_around((359, 799), (360, 800)) == (270, 710, 360, 800)
    assert region_around((180, 400), (360, 800)) == (135, 355, 225, 445)


def test_digest_is_exact():
    assert screen_digest(phone_screen()) == screen_digest(phone_screen())
    assert screen_digest(phone_screen()) != screen_digest(phone_screen(clock=31))


@pytest.mark.parametrize("text", ["the Wi-Fi switch", "  The  Wi-Fi switch. ", "'the wi-fi SWITCH'", "“the Wi-Fi switch”!"])
def test_instructions_normalize(text):
    assert normalize_instruction(text) == "the wi-fi switch"


# -- the cache -----------------------------------------------------------------------------------


def test_cache_hits_on_the_same_screen_and_survives_a_reload(tmp_path, caplog):
    path = tmp_path / "cache.json"
    cache = GroundingCache(path)
    frame = phone_screen()
    assert cache.lookup("the Wi-Fi switch", frame, (720, 1600)) is None
    cache.store("the Wi-Fi switch", frame, (720, 1600), (610, 420))
    with caplog.at_level(logging.INFO, logger="vlagent.grounding"):
        hit = GroundingCache(path).lookup("The Wi-Fi switch", phone_screen(clock=33), (720, 1600))
    assert hit is not None and hit.point == (610, 420)
    assert "grounding cache hit for 'The Wi-Fi switch' — no model call" in caplog.text
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["entries"][0]["instruction"] == "the wi-fi switch"


def test_cache_misses_when_the_screen_or_the_target_region_changed(tmp_path):
    cache = GroundingCache(tmp_path / "cache.json")
    cache.store("the Wi-Fi switch", phone_screen(), (360, 800), (305, 210))
    assert cache.lookup("the Wi-Fi switch", phone_screen(scroll=40), (360, 800)) is None
    assert cache.lookup("the Wi-Fi switch", phone_screen(words=3), (360, 800)) is None
    assert cache.lookup("the Wi-Fi switch", phone_screen(), (720, 1600)) is None  # another device size
    assert cache.lookup("the Bluetooth switch", phone_screen(), (360, 800)) is None
    # A popup right over the target, the rest of the screen unchanged.
    covered = phone_screen()
    ImageDraw.Draw(covered).rectangle((250, 170, 359, 250), fill=(20, 20, 20))
    assert screen_hash(covered).distance(screen_hash(phone_screen())) <= SCREEN_TOLERANCE
    assert cache.lookup("the Wi-Fi switch", covered, (360, 800)) is None
    # A flipped switch is still the switch.
    assert cache.lookup("the Wi-Fi switch", phone_screen(switch_on=True), (360, 800)) is not None


def test_cache_writes_merge_with_another_process(tmp_path):
    path = tmp_path / "cache.json"
    a, b = GroundingCache(path), GroundingCache(path)
    a.store("first", phone_screen(), (360, 800), (10, 10))
    b.store("second", phone_screen(), (360, 800), (20, 20))
    merged = GroundingCache(path)
    assert {e["instruction"] for e in merged.entries} == {"first", "second"}


def test_an_unreadable_cache_is_ignored(tmp_path, caplog):
    path = tmp_path / "cache.json"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="vlagent.grounding"):
        cache = GroundingCache(path)
    assert cache.entries == [] and "ignoring unreadable grounding cache" in caplog.text
    cache.store("x", phone_screen(), (360, 800), (1, 1))
    assert json.loads(path.read_text())["entries"]


def test_answers_are_keyed_by_kind_question_schema_and_exact_screen(tmp_path):
    cache = GroundingCache(tmp_path / "cache.json")
    key = cache.answer_key("query", "Battery level?", "int", screen_digest(phone_screen()))
    cache.put_answer(key, 87)
    assert GroundingCache(tmp_path / "cache.json").get_answer(key) == 87
    assert cache.answer_key("query", "battery level", "int", screen_digest(phone_screen())) == key
    assert cache.answer_key("query", "battery level", "str", screen_digest(phone_screen())) != key
    assert cache.answer_key("check", "battery level", "int", screen_digest(phone_screen())) != key


# -- replies to device points ---------------------------------------------------------------------

PHONE = Screen(image_size=(1080, 2400), device_size=(1080, 2400), model_size=(812, 1820))


@pytest.mark.parametrize("reply, system, point", [
    ("<|object_ref_start|>switch<|object_ref_end|><|box_start|>(800,150),(960,220)<|box_end|>",
     "relative-1000", (950, 444)),
    ("<ref>switch</ref><box>(800,150),(960,220)</box>", "relative-1000", (950, 444)),
    ("It is here: <|box_start|>[800,150,960,220]<|box_end|>", "relative-1000", (950, 444)),
    ("<|box_start|>(650,270),(780,400)<|box_end|>", "smart-resized", (950, 441)),
    ('<tool_call>{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [880, 185]}}</tool_call>',
     "relative-1000", (950, 444)),
    ("The switch is at (880, 185).", "relative-1000", (950, 444)),
    # Qwen2.5-VL's JSON, in pixels of the resized image: the box's centre, or the point.
    ('```json\n[\n  {"bbox_2d": [650, 270, 780, 400], "label": "Wi-Fi switch"}\n]\n```', "smart-resized", (950, 441)),
    ('{"point_2d": [715, 335], "label": "Wi-Fi switch"}', "smart-resized", (950, 441)),
    ('{"label": "the 5G (2,4) toggle", "point_2d": [715, 335]}', "smart-resized", (950, 441)),
    # A box whose special tokens the server stripped is still a box: its centre, not its corner.
    ("switch(800,150),(960,220)", "relative-1000", (950, 444)),
    ("the switch [800, 150, 960, 220]", "relative-1000", (950, 444)),
])
def test_point_from_text(reply, system, point):
    assert point_from_text(reply, PHONE, system) == point


def test_json_boxes_read_every_object_and_refuse_malformed_ones():
    from vlagent.parsing import GroundedBox, parse_json_boxes

    text = ('[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"point_2d": [5, 6]}, '
            '{"name": "not a box"}, {\'bbox_2d\': [7, 8, 9, 10],}]')
    assert parse_json_boxes(text) == [GroundedBox("a", (1, 2, 3, 4)), GroundedBox(None, (5, 6, 5, 6)),
                                      GroundedBox(None, (7, 8, 9, 10))]
    assert parse_json_boxes("no boxes {here}") == []
    with pytest.raises(ParseError, match='"bbox_2d" must be a list of 4 finite numbers'):
        parse_json_boxes('{"bbox_2d": [1, 2, 3], "label": "short"}')


def test_point_from_text_errors():
    with pytest.raises(TargetNotFound):
        point_from_text("NOT FOUND: there is no such switch here", PHONE, "relative-1000")
    with pytest.raises(ParseError, match="no bounding box"):
        point_from_text("the switch, top right", PHONE, "relative-1000")
    with pytest.raises(ActionOutOfBounds):
        point_from_text("<|box_start|>(900,900),(1200,1000)<|box_end|>", PHONE, "relative-1000")


def test_ground_retries_once_with_the_error_shown():
    model = ScriptedModel(["top right, I think", "<|box_start|>(500,500),(600,600)<|box_end|>"])
    generate = lambda messages: model.generate(messages).text  # noqa: E731
    found = ground(generate, model, phone_screen(), (360, 800), "the switch")
    assert found.point == (198, 440) and found.calls == 2
    retry = model.requests[1][0]
    assert retry[1] == {"role": "assistant", "content": "top right, I think"}
    assert "no bounding box" in retry[2]["content"]
    assert "the switch" in model.requests[0][0][0]["content"][1]["text"]

    model = ScriptedModel(["no idea", "still no idea"])
    with pytest.raises(ParseError):
        ground(lambda m: model.generate(m).text, model, phone_screen(), (360, 800), "the switch")


@pytest.mark.parametrize("profile,asked", [
    ("qwen2-vl", "<|object_ref_start|>the switch<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>"),
    ("qwen2.5-vl", '{"bbox_2d": [x1, y1, x2, y2], "label": "the switch"}'),
])
def test_ground_asks_for_the_box_as_the_family_writes_it(profile, asked):
    model = ScriptedModel(["top right, I think", "<|box_start|>(500,500),(600,600)<|box_end|>"])
    model.profile = PROFILES[profile]  # what a TransformersModel or OpenAIModel carries
    ground(lambda messages: model.generate(messages).text, model, phone_screen(), (360, 800), "the switch")
    assert asked in model.requests[0][0][0]["content"][1]["text"]
    assert asked in model.requests[1][0][2]["content"]  # the retry's error names the same format
