"""parse_tool_calls and parse_boxes against what Qwen-family models really write."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vlagent.errors import ParseError, RecoverableError
from vlagent.calls import ToolCall
from vlagent.parsing import GroundedBox, parse_boxes, parse_tool_calls

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLICK = {"action": "click", "coordinate": [639, 1095]}


# --- Hermes ----------------------------------------------------------------------------------


def test_hermes_single_call():
    text = (
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", '
        '"coordinate": [639, 1095]}}\n</tool_call>'
    )
    assert parse_tool_calls(text) == [ToolCall("mobile_use", CLICK)]


def test_hermes_several_calls_with_text_around():
    text = (
        "The search box is at the top. I will tap it, then type the query.\n"
        "<tool_call>\n"
        '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [639, 1095]}}\n'
        "</tool_call>\n"
        "<tool_call>\n"
        '{"name": "mobile_use", "arguments": {"action": "type", "text": "weather in Paris"}}\n'
        "</tool_call>\nThat should do it."
    )
    assert parse_tool_calls(text) == [
        ToolCall("mobile_use", CLICK),
        ToolCall("mobile_use", {"action": "type", "text": "weather in Paris"}),
    ]


def test_plain_text_has_no_calls():
    assert parse_tool_calls("The weather in Paris is sunny, 21 °C. {Nothing to do here.}") == []
    assert parse_tool_calls("") == []
    assert parse_tool_calls("Here is the config:\n```python\nd = {'name': 1}\n```") == []


def test_marker_inside_a_json_string_is_not_a_new_call():
    note = "write <tool_call> then </tool_call>"
    text = f'<tool_call>{{"name": "note", "arguments": {{"text": "{note}"}}}}</tool_call>'
    assert parse_tool_calls(text) == [ToolCall("note", {"text": note})]


def test_hermes_and_qwen_calls_in_one_message_keep_their_order():
    text = (
        '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}\n'
        '<tool_call>{"name": "get_time", "arguments": {}}</tool_call>\n'
        "✿FUNCTION✿: list_alarms\n✿ARGS✿: {}"
    )
    assert [c.name for c in parse_tool_calls(text)] == ["get_weather", "get_time", "list_alarms"]


# --- Qwen-Agent ✿ format ---------------------------------------------------------------------


def test_qwen_function_args_result_return():
    text = (
        "✿FUNCTION✿: get_current_weather\n"
        '✿ARGS✿: {"location": "San Francisco, CA", "unit": "fahrenheit"}\n'
        '✿RESULT✿: {"temperature": "72", "unit": "fahrenheit"}\n'
        "✿RETURN✿: It is 72 °F in San Francisco."
    )
    assert parse_tool_calls(text) == [
        ToolCall("get_current_weather", {"location": "San Francisco, CA", "unit": "fahrenheit"})
    ]


def test_qwen_parallel_calls_and_empty_args():
    text = (
        "✿FUNCTION✿: get_weather\n✿ARGS✿: {\"city\": \"Paris\"}\n"
        "✿FUNCTION✿: get_weather\n✿ARGS✿: {\"city\": \"Tokyo\"}\n"
        "✿FUNCTION✿: get_time\n✿ARGS✿: \n"
    )
    assert parse_tool_calls(text) == [
        ToolCall("get_weather", {"city": "Paris"}),
        ToolCall("get_weather", {"city": "Tokyo"}),
        ToolCall("get_time", {}),
    ]


# --- nothing dropped silently ----------------------------------------------------------------


def test_arguments_written_beside_the_name_are_the_arguments():
    text = '<tool_call>\n{"name": "mobile_use", "action": "click", "coordinate": [639, 1095]}\n</tool_call>'
    assert parse_tool_calls(text) == [ToolCall("mobile_use", {"action": "click", "coordinate": [639, 1095]})]


def test_keys_beside_arguments_are_an_error_naming_them():
    text = '<tool_call>{"name": "mobile_use", "arguments": {"action": "click"}, "coordinate": [1, 2]}</tool_call>'
    with pytest.raises(ParseError, match=r"\['coordinate'\] sit beside \"arguments\""):
        parse_tool_calls(text)
    # OpenAI's envelope keys are not arguments.
    envelope = '<tool_call>{"id": "call_1", "type": "function", "name": "a", "arguments": {"x": 1}}</tool_call>'
    assert parse_tool_calls(envelope) == [ToolCall("a", {"x": 1})]


@pytest.mark.parametrize("between", ["\n", ",\n", " ", "\n```\n```json\n"])
def test_every_object_in_one_block_is_a_call(between):
    text = ('<tool_call>\n{"name": "a", "arguments": {"x": 1}}' + between
            + '{"name": "b", "arguments": {"y": 2}}\n</tool_call>')
    assert parse_tool_calls(text) == [ToolCall("a", {"x": 1}), ToolCall("b", {"y": 2})]
    with pytest.raises(ParseError, match='no "name"'):
        parse_tool_calls('<tool_call>{"name": "a", "arguments": {}}\n{"x": 1}</tool_call>')


def test_a_qwen_call_cut_before_its_args_is_an_error():
    for text in ("✿FUNCTION✿: list_alarms", "✿FUNCTION✿: list_alarms\n✿RESULT✿: ok"):
        with pytest.raises(ParseError, match=r"'list_alarms' has no ✿ARGS✿ \(was the answer cut off\?\)"):
            parse_tool_calls(text)


def test_a_tool_call_tag_named_in_prose_is_text():
    assert parse_tool_calls("I answer with a <tool_call> block when I need a tool.") == []
    text = 'Wrap calls in <tool_call> tags, like this:\n<tool_call>{"name": "a", "arguments": {}}</tool_call>'
    assert parse_tool_calls(text) == [ToolCall("a", {})]


def test_qwen_args_in_json5_and_fenced():
    text = "✿FUNCTION✿: book_flight\n✿ARGS✿: ```json\n{from: 'CDG', to: 'NRT', seats: 2,}\n```"
    expected = {"from": "CDG", "to": "NRT", "seats": 2}
    assert parse_tool_calls(text) == [ToolCall("book_flight", expected)]


# --- recoveries ------------------------------------------------------------------------------


def test_missing_closing_tag_runs_to_end_or_next_call():
    text = (
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [639, 1095]}}\n'
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "system_button", "button": "Back"}}'
    )
    assert parse_tool_calls(text) == [
        ToolCall("mobile_use", CLICK),
        ToolCall("mobile_use", {"action": "system_button", "button": "Back"}),
    ]


@pytest.mark.parametrize(
    "junk", ["📐", "⚗", "</tool_call", "<|im_end|>", "}\n</tool_call>", "\n\nDone!", "```\n</tool_call>"],
)
def test_junk_after_the_object(junk):
    text = f'<tool_call>\n{{"name": "mobile_use", "arguments": {json.dumps(CLICK)}}}{junk}'
    assert parse_tool_calls(text) == [ToolCall("mobile_use", CLICK)]


def test_broken_closing_tag_then_another_call():
    text = (
        '<tool_call>{"name": "a", "arguments": {}}</tool_call\n'
        '<tool_call>{"name": "b", "arguments": {}}</tool_call>'
    )
    assert [c.name for c in parse_tool_calls(text)] == ["a", "b"]


def test_fenced_json_inside_tags():
    text = (
        "<tool_call>\n```json\n"
        '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [639, 1095]}}\n'
        "```\n</tool_call>"
    )
    assert parse_tool_calls(text) == [ToolCall("mobile_use", CLICK)]


def test_fenced_json_instead_of_tags():
    text = (
        "I'll open the app drawer first.\n```json\n"
        '{"name": "mobile_use", "arguments": {"action": "swipe", "coordinate": [540, 1800], '
        '"coordinate2": [540, 600]}}\n'
        "```\nThen look for Settings.\n```\n"
        '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [639, 1095]}}\n```'
    )
    swipe = {"action": "swipe", "coordinate": [540, 1800], "coordinate2": [540, 600]}
    assert parse_tool_calls(text) == [ToolCall("mobile_use", swipe), ToolCall("mobile_use", CLICK)]


def test_fenced_json_that_is_not_a_call_is_ignored():
    schema = '```json\n{"name": "get_weather", "parameters": {"type": "object"}}\n```'
    assert parse_tool_calls("My tools are:\n" + schema) == []
    assert parse_tool_calls('```json\n{"city": "Paris"}\n```') == []


def test_bare_object_as_whole_message():
    assert parse_tool_calls(' {"name": "terminate", "arguments": {"status": "success"}} \n') == [
        ToolCall("terminate", {"status": "success"})
    ]


def test_arguments_as_json_string_even_twice():
    once = json.dumps({"name": "get_weather", "arguments": json.dumps({"city": "Paris"})})
    twice = json.dumps({"name": "get_weather", "arguments": json.dumps(json.dumps({"city": "Paris"}))})
    for payload in (once, twice):
        calls = parse_tool_calls(f"<tool_call>\n{payload}\n</tool_call>")
        assert calls == [ToolCall("get_weather", {"city": "Paris"})]


def test_parameters_instead_of_arguments_and_openai_nesting():
    text = (
        '<tool_call>{"name": "get_weather", "parameters": {"city": "Paris"}}</tool_call>'
        '<tool_call>{"type": "function", "function": '
        '{"name": "get_time", "arguments": "{\\"tz\\": \\"UTC\\"}"}}</tool_call>'
    )
    assert parse_tool_calls(text) == [
        ToolCall("get_weather", {"city": "Paris"}),
        ToolCall("get_time", {"tz": "UTC"}),
    ]


def test_json5_single_quotes_trailing_commas_unquoted_keys():
    text = (
        "<tool_call>\n{'name': 'mobile_use', arguments: "
        "{'action': 'long_press', 'coordinate': [10, 20], 'time': 2,},}\n</tool_call>"
    )
    expected = {"action": "long_press", "coordinate": [10, 20], "time": 2}
    assert parse_tool_calls(text) == [ToolCall("mobile_use", expected)]


def test_raw_newline_inside_a_string():
    text = (
        '<tool_call>{"name": "mobile_use", '
        '"arguments": {"action": "type", "text": "line one\nline two"}}</tool_call>'
    )
    assert parse_tool_calls(text)[0].arguments["text"] == "line one\nline two"


def test_missing_final_brace_before_closing_tag():
    text = (
        "<tool_call>\n"
        '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [639, 1095]}\n'
        "</tool_call>"
    )
    assert parse_tool_calls(text) == [ToolCall("mobile_use", CLICK)]


@pytest.mark.parametrize(
    "payload",
    [
        '{"name": "terminate"}',
        '{"name": "terminate", "arguments": null}',
        '{"name": "terminate", "arguments": ""}',
    ],
)
def test_missing_arguments_mean_empty(payload):
    assert parse_tool_calls(f"<tool_call>{payload}</tool_call>") == [ToolCall("terminate", {})]


# --- unrecoverable ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<tool_call>\nI want to click the button.\n</tool_call>", "no JSON object"),
        ('<tool_call>{"arguments": {"action": "click"}}</tool_call>', '"name"'),
        ('<tool_call>{"name": 42, "arguments": {}}</tool_call>', '"name"'),
        ('<tool_call>{"name": "a", "arguments": [1, 2]}</tool_call>', "must be an object"),
        ('<tool_call>{"name": "a", "arguments": "click at 3, 4"}</tool_call>', "invalid JSON"),
        # Truncated mid-coordinate: completing it would tap the wrong place.
        ('<tool_call>{"name": "mobile_use", "arguments": {"coordinate": [639, 10', "not closed"),
        ('<tool_call>{"name": "a", "arguments": {"x": 1 2}}</tool_call>', "invalid JSON"),
        ("<tool_call>" + "[" * 5000 + "]" * 5000 + "</tool_call>", "no JSON object"),
        ("<tool_call>{" + '"a":' * 3000 + "1}", "invalid JSON"),
        ("<tool_call>{\"a\": " + "[" * 3000 + "]" * 3000 + ", }", "recursion depth"),
        ("✿FUNCTION✿: \n✿ARGS✿: {}", "has no tool name"),
        ("✿FUNCTION✿: get_weather\n✿ARGS✿: city=Paris", "not a JSON object"),
        ('```json\n{"name": "a", "arguments": {"x": 1 2}}\n```', "invalid JSON"),
    ],
)
def test_unrecoverable_calls_raise_a_message_for_the_model(text, reason):
    with pytest.raises(ParseError) as info:
        parse_tool_calls(text)
    message = str(info.value)
    assert message.startswith("Could not parse the tool call: ")
    assert reason in message
    assert "JSON object" in message and "Near: `" in message
    assert isinstance(info.value, RecoverableError)
    excerpt = message.split("Near: `", 1)[1].rstrip("`")
    assert 0 < len(excerpt) <= 200


def test_qwen_errors_teach_the_qwen_format():
    with pytest.raises(ParseError, match="✿FUNCTION✿: <tool name>"):
        parse_tool_calls("✿FUNCTION✿: get_weather\n✿ARGS✿: {'city': 'Paris'")


def test_long_invalid_json_is_refused_not_slow():
    text = '<tool_call>{"name": "a", "arguments": {"t": \'' + "x" * 50_000 + "', }}</tool_call>"
    with pytest.raises(ParseError, match="over 16000 characters"):
        parse_tool_calls(text)


def test_huge_integer_is_a_parse_error_not_a_crash():
    text = '<tool_call>{"name": "a", "arguments": {"x": ' + "9" * 5000 + "}}</tool_call>"
    with pytest.raises(ParseError, match="invalid JSON"):
        parse_tool_calls(text)


def test_importing_the_parser_pulls_in_no_torch():
    code = "import sys, vlagent.parsing; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_long_valid_json_is_fine():
    payload = json.dumps({"name": "note", "arguments": {"text": "x" * 200_000}})
    text = f"<tool_call>{payload}</tool_call>"
    assert len(parse_tool_calls(text)[0].arguments["text"]) == 200_000


# --- grounding boxes -------------------------------------------------------------------------


def test_qwen2vl_box_with_ref():
    text = (
        "<|object_ref_start|>the search button<|object_ref_end|>"
        "<|box_start|>(852,61),(931,109)<|box_end|>"
    )
    assert parse_boxes(text) == [GroundedBox("the search button", (852.0, 61.0, 931.0, 109.0))]


def test_boxes_floats_spaces_and_refless():
    text = (
        "Found it: <|box_start|>( 12.5 , 30 ),( 400.25,  88)<|box_end|>\n"
        "<|object_ref_start|>cats<|object_ref_end|>"
        "<|box_start|>(1,2),(3,4)<|box_end|> <|box_start|>(5,6),(7,8)<|box_end|>"
        " and also <|box_start|>(0,0),(10,10)<|box_end|>"
    )
    boxes = parse_boxes(text)
    assert boxes == [
        GroundedBox(None, (12.5, 30.0, 400.25, 88.0)),
        GroundedBox("cats", (1.0, 2.0, 3.0, 4.0)),
        GroundedBox("cats", (5.0, 6.0, 7.0, 8.0)),  # one ref, several instances
        GroundedBox(None, (0.0, 0.0, 10.0, 10.0)),  # text in between: the ref no longer applies
    ]
    assert all(isinstance(v, float) for b in boxes for v in b.box)


def test_qwen_vl_ref_and_box_tags():
    text = "<ref>the OK button</ref><box>(100,200),(300,400)</box>"
    assert parse_boxes(text) == [GroundedBox("the OK button", (100.0, 200.0, 300.0, 400.0))]


def test_box_missing_end_tag_is_read_to_the_next_tag():
    text = "<|object_ref_start|>Wi-Fi<|object_ref_end|><|box_start|>(10,20),(30,40)"
    assert parse_boxes(text) == [GroundedBox("Wi-Fi", (10.0, 20.0, 30.0, 40.0))]


def test_no_box_markers():
    assert parse_boxes("The button is at the top right (852, 61).") == []
    assert parse_boxes("<|object_ref_start|>a ref alone<|object_ref_end|>") == []


@pytest.mark.parametrize(
    "text",
    [
        "<|box_start|>(852,61)<|box_end|>",
        "<|box_start|>(852,61),(931,abc)<|box_end|>",
        "<|box_start|><|box_end|>",
        "<box>top right</box>",
        "<|box_start|>(" + "9" * 400 + ",1),(2,3)<|box_end|>",
        "<|box_start|>(1,2),(3,4)" + " " * 5000 + "x<|box_end|>",
    ],
)
def test_bad_boxes_raise_a_message_for_the_model(text):
    with pytest.raises(ParseError) as info:
        parse_boxes(text)
    message = str(info.value)
    assert message.startswith("Could not parse the box") and "(x1,y1),(x2,y2)" in message
    assert len(message.split("Near: `", 1)[1]) <= 201


# --- properties ------------------------------------------------------------------------------

FRAGMENTS = [
    "<tool_call>", "</tool_call>", "</tool_call", "<tool_call>\n", "{", "}", "[", "]", ":", ",",
    '"name"', '"arguments"', '"parameters"', '"mobile_use"', '"function"', '"', "'", "\\", "null",
    "✿FUNCTION✿:", "✿ARGS✿:", "✿RESULT✿:", "✿RETURN✿:", "```json\n", "```", "\n", " ", "📐",
    "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<ref>", "</ref>", "<box>", "</box>", "(", ")", "1", "42", "3.5", "-", ".", "e9", "a", "//", "/*",
]  # fmt: skip
fragment_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=60
).map("".join)
# Near-misses: a good start, then anything -- reaches the repair and json5 paths more often.
PREFIXES = [
    '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [',
    "<tool_call>{'name': 'a', arguments: {",
    '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": ',
    '```json\n{"name": "a", "arguments": ',
    '{"name": "a", "arguments": ',
    "<|object_ref_start|>the button<|object_ref_end|><|box_start|>(",
]
near_miss = st.tuples(st.sampled_from(PREFIXES), fragment_text).map("".join)
# Mostly near-misses, so that most examples reach past "no marker here" (fragments carry
# arbitrary unicode too): `--hypothesis-show-statistics` reports the share.
any_text = st.integers(0, 3).flatmap(lambda i: fragment_text if i == 0 else near_miss)
BOX_PREFIXES = ["<|object_ref_start|>the button<|object_ref_end|><|box_start|>(", "<|box_start|>(",
                "<ref>Wi-Fi</ref><box>(", "<|box_start|>(10,20),(", "<box>(1"]
box_text = st.integers(0, 3).flatmap(
    lambda i: fragment_text if i == 0 else st.tuples(st.sampled_from(BOX_PREFIXES), fragment_text).map("".join))


@FUZZ
@given(any_text)
def test_fuzz_parse_tool_calls_raises_only_parse_error(text):
    # --hypothesis-show-statistics reports how many examples get past "no marker, no object"
    event("has a call marker or an object" if any(m in text for m in ("<tool_call>", "✿FUNCTION✿", "{")) else "plain text")
    try:
        calls = parse_tool_calls(text)
    except ParseError as exc:
        assert str(exc).startswith("Could not parse the tool call: ")
        return
    assert isinstance(calls, list)
    for call in calls:
        assert isinstance(call, ToolCall) and isinstance(call.name, str) and call.name
        assert isinstance(call.arguments, dict) and all(isinstance(k, str) for k in call.arguments)


@FUZZ
@given(box_text)
def test_fuzz_parse_boxes_raises_only_parse_error(text):
    event("has a box marker" if any(m in text for m in ("<|box_start|>", "<box>", "(")) else "plain text")
    try:
        boxes = parse_boxes(text)
    except ParseError as exc:
        assert str(exc).startswith("Could not parse the box")
        return
    for box in boxes:
        assert isinstance(box, GroundedBox) and (box.ref is None or isinstance(box.ref, str))
        assert len(box.box) == 4 and all(isinstance(v, float) for v in box.box)


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,30}", fullmatch=True)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
arguments = st.dictionaries(st.text(), json_values, max_size=5)
calls = st.lists(st.tuples(names, arguments), min_size=1, max_size=3)


@FUZZ
@given(calls, st.booleans())
def test_round_trip_hermes(generated, ascii_only):
    text = "Thinking...\n" + "\n".join(
        f"<tool_call>\n{json.dumps({'name': n, 'arguments': a}, ensure_ascii=ascii_only)}\n</tool_call>"
        for n, a in generated
    )
    assert parse_tool_calls(text) == [ToolCall(n, a) for n, a in generated]


@FUZZ
@given(calls, st.booleans())
def test_round_trip_qwen(generated, with_result):
    result = "✿RESULT✿: ok\n" if with_result else ""
    text = "".join(
        f"✿FUNCTION✿: {n}\n✿ARGS✿: {json.dumps(a, ensure_ascii=False)}\n{result}"
        for n, a in generated
    )
    assert parse_tool_calls(text) == [ToolCall(n, a) for n, a in generated]


def test_answers_and_tool_calls_share_one_bounded_json_repair():
    """Answers (`extract_json`) read json5 through the parser's repair path, so its bound holds
    there too: a reply of single-quoted JSON past the bound is refused, not parsed for seconds."""
    from vlagent.answers import extract_json
    from vlagent.parsing import loads_lenient

    assert extract_json("```json\n{'answer': 3,}\n```") == {"answer": 3}
    assert loads_lenient("{'a': [1, 2,],}") == {"a": [1, 2]}
    huge = "{'answer': '" + "x" * 20_000 + "'}"
    with pytest.raises(ValueError, match="over 16000 characters"):
        loads_lenient(huge)
    with pytest.raises(ValueError, match="no JSON"):
        extract_json(huge)
