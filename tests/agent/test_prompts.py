"""Prompts are rendered as the reference renders them: each conversation below is written twice,
once as vlagent holds it (raw model text, `tool` results) and once as Qwen-Agent's own agents
hold it (function_call messages, `function` results), and the two renderings must be equal
byte for byte: ours from the raw text, the reference from Qwen-Agent's prompt builders.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from vlagent import parse_tool_calls
from vlagent.coords import Screen
from vlagent.prompts import continues_final, render, render_messages, strip_continuation
from vlagent.ui_tools import ui_tool_schema

qwen_agent = pytest.importorskip("qwen_agent", reason="the reference builders: pip install -e '.[test]'")
from qwen_agent.llm.fncall_prompts.nous_fncall_prompt import NousFnCallPrompt  # noqa: E402
from qwen_agent.llm.fncall_prompts.qwen_fncall_prompt import QwenFnCallPrompt  # noqa: E402
from qwen_agent.llm.schema import ContentItem, FunctionCall, Message  # noqa: E402
from qwen_agent.utils.utils import has_chinese_messages  # noqa: E402

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}}
TIME = {"type": "function", "function": {
    "name": "local_time", "description": "The time in a city, 24-hour.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}}
SCREEN = Screen(image_size=(1080, 2400), device_size=(1080, 2400), model_size=(672, 1484))
SHOT1, SHOT2 = Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")
BUILDERS = {"hermes": NousFnCallPrompt(), "qwen": QwenFnCallPrompt()}


def call_text(fmt: str, name: str, args: dict) -> str:
    """A call as the model writes it in `fmt`."""
    if fmt == "hermes":
        return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args}, ensure_ascii=False)}\n</tool_call>"
    return f"✿FUNCTION✿: {name}\n✿ARGS✿: {json.dumps(args, ensure_ascii=False)}"


def qa_call(name: str, args: dict) -> Message:
    return Message(role="assistant", content=[], function_call=FunctionCall(
        name=name, arguments=json.dumps(args, ensure_ascii=False)))


def qa_text(role: str, text: str) -> Message:
    return Message(role=role, content=[ContentItem(text=text)])


def reference(fmt: str, messages: list, tools: list, parallel: bool = False) -> list:
    lang = "zh" if has_chinese_messages(messages) else "en"
    out = BUILDERS[fmt].preprocess_fncall_messages(
        messages, [t["function"] for t in tools], lang=lang, parallel_function_calls=parallel)
    return [(m.role, flat([(k, v) for k, v in (i.get_type_and_value() for i in m.content)])) for m in out]


def ours(messages: list, tools: list, fmt: str, parallel: bool = False) -> list:
    out = render_messages(messages, tools, fmt, parallel=parallel)
    images = {id(SHOT1): "shot1", id(SHOT2): "shot2"}
    rows = []
    for m in out:
        parts = [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"]
        rows.append((m["role"], flat([("text", p["text"]) if p["type"] == "text" else ("image", images[id(p["image"])])
                                      for p in parts])))
    return rows


def flat(items: list) -> list:
    """Adjacent text joined: what the chat template concatenates anyway."""
    out: list = []
    for kind, value in items:
        if kind == "text" and out and out[-1][0] == "text":
            out[-1] = ("text", out[-1][1] + value)
        elif kind == "image":
            out.append(("image", value.replace("img:", "")))
        else:
            out.append((kind, value))
    return out


@pytest.mark.parametrize("fmt", ["hermes", "qwen"])
def test_a_phone_step_with_history_renders_as_the_reference(fmt):
    system = render("phone_system", units=SCREEN.units("relative-1000"))
    tool = ui_tool_schema("mobile_use", SCREEN, "relative-1000")
    tap = {"action": "click", "coordinate": [540, 1200]}
    mine = [
        {"role": "system", "content": system},
        {"role": "user", "content": "The user's task: turn on Wi-Fi"},
        {"role": "user", "content": [{"type": "image", "image": SHOT1}]},
        {"role": "assistant", "content": "Settings is on the home screen.\n" + call_text(fmt, "mobile_use", tap)},
        {"role": "tool", "name": "mobile_use", "content": "ok"},
        {"role": "user", "content": [{"type": "image", "image": SHOT2},
                                     {"type": "text", "text": "This is the current screen. What is the next action?"}]},
    ]
    theirs = [
        qa_text("system", system),
        qa_text("user", "The user's task: turn on Wi-Fi"),
        Message(role="user", content=[ContentItem(image="img:shot1")]),
        qa_text("assistant", "Settings is on the home screen."),
        qa_call("mobile_use", tap),
        Message(role="function", name="mobile_use", content=[ContentItem(text="ok")]),
        Message(role="user", content=[ContentItem(image="img:shot2"),
                                      ContentItem(text="This is the current screen. What is the next action?")]),
    ]
    assert ours(mine, [tool], fmt) == reference(fmt, theirs, [tool])


@pytest.mark.parametrize("fmt", ["hermes", "qwen"])
def test_a_function_calling_turn_with_its_result_renders_as_the_reference(fmt):
    mine = [
        {"role": "system", "content": "You are a travel assistant."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": call_text(fmt, "get_weather", {"city": "Paris"})},
        {"role": "tool", "name": "get_weather", "content": '{"temp_c": 21, "sky": "clear"}'},
    ]
    theirs = [
        qa_text("system", "You are a travel assistant."),
        qa_text("user", "Weather in Paris?"),
        qa_call("get_weather", {"city": "Paris"}),
        Message(role="function", name="get_weather", content=[ContentItem(text='{"temp_c": 21, "sky": "clear"}')]),
    ]
    rendered = ours(mine, [WEATHER, TIME], fmt)
    assert rendered == reference(fmt, theirs, [WEATHER, TIME])
    # ✿: the result goes into the assistant's turn, which the model continues after ✿RETURN✿
    assert continues_final(render_messages(mine, [WEATHER, TIME], fmt)) == (fmt == "qwen")
    if fmt == "qwen":
        assert rendered[-1][1][-1][1].endswith("✿RESULT✿: {\"temp_c\": 21, \"sky\": \"clear\"}\n✿RETURN✿")


@pytest.mark.parametrize("fmt", ["hermes", "qwen"])
def test_parallel_calls_and_their_results_render_as_the_reference(fmt):
    paris, tokyo = {"city": "Paris"}, {"city": "東京"}
    mine = [
        {"role": "user", "content": "Weather and time in Paris and Tokyo?"},
        {"role": "assistant", "content": "Two lookups.\n" + call_text(fmt, "get_weather", paris) + "\n"
                                         + call_text(fmt, "local_time", tokyo)},
        {"role": "tool", "name": "get_weather", "content": "21C"},
        {"role": "tool", "name": "local_time", "content": "22:05"},
        {"role": "assistant", "content": "Paris: 21C. Tokyo: 22:05."},
        {"role": "user", "content": "Thanks"},
    ]
    theirs = [
        qa_text("user", "Weather and time in Paris and Tokyo?"),
        qa_text("assistant", "Two lookups."),
        qa_call("get_weather", paris),
        qa_call("local_time", tokyo),
        Message(role="function", name="get_weather", content=[ContentItem(text="21C")]),
        Message(role="function", name="local_time", content=[ContentItem(text="22:05")]),
        qa_text("assistant", "Paris: 21C. Tokyo: 22:05."),
        qa_text("user", "Thanks"),
    ]
    assert ours(mine, [WEATHER, TIME], fmt, parallel=True) == reference(fmt, theirs, [WEATHER, TIME], parallel=True)


@pytest.mark.parametrize("fmt", ["hermes", "qwen"])
def test_a_chinese_goal_renders_as_the_reference(fmt):
    mine = [{"role": "user", "content": "巴黎的天气怎么样？"},
            {"role": "assistant", "content": call_text(fmt, "get_weather", {"city": "巴黎"})},
            {"role": "tool", "name": "get_weather", "content": "晴，21度"}]
    theirs = [qa_text("user", "巴黎的天气怎么样？"), qa_call("get_weather", {"city": "巴黎"}),
              Message(role="function", name="get_weather", content=[ContentItem(text="晴，21度")])]
    rendered = ours(mine, [WEATHER], fmt)
    assert rendered == reference(fmt, theirs, [WEATHER])
    if fmt == "qwen":  # the Chinese ✿ template, as Qwen-Agent picks it
        assert "# 工具" in rendered[0][1][0][1]


def test_results_the_model_wrote_itself_are_not_kept():
    """A ✿ reply that ran past its call (no stop string) keeps only the call: the next prompt
    shows the real result, once."""
    mine = [{"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": call_text("qwen", "get_weather", {"city": "Paris"})
             + "\n✿RESULT✿: made up\n✿RETURN✿: sunny"},
            {"role": "tool", "name": "get_weather", "content": "21C"}]
    text = ours(mine, [WEATHER], "qwen")[-1][1][0][1]
    assert "made up" not in text and text.count("✿RESULT✿") == 1


def test_an_unreadable_call_stays_as_the_model_wrote_it():
    broken = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \n</tool_call>"
    out = render_messages([{"role": "user", "content": "hi"}, {"role": "assistant", "content": broken},
                           {"role": "tool", "name": "parse", "content": "Error: ..."}], [WEATHER], "hermes")
    assert out[2] == {"role": "assistant", "content": broken}


def test_the_tools_block_is_the_trained_one_and_our_words_stay_outside_it():
    system = render_messages([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
                             [WEATHER], "hermes")[0]["content"]
    assert system.startswith("Be brief.\n\n# Tools\n\n")
    assert system.endswith('{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>')


def test_the_prompted_format_is_the_one_we_parse():
    for fmt in ("hermes", "qwen"):
        assert parse_tool_calls(call_text(fmt, "get_weather", {"city": "Paris"}))[0].arguments == {"city": "Paris"}


def test_a_continued_reply_loses_the_colon_the_prompt_left_off():
    assert strip_continuation(": It is 21C.") == "It is 21C."
    assert strip_continuation(":It is 21C.") == "It is 21C."
    assert strip_continuation("It is 21C.") == "It is 21C."


@pytest.mark.parametrize("template", ["phone_system", "desktop_system"])
def test_system_prompts_state_the_coordinate_convention(template):
    """One statement of the convention (Screen.units), the same in the system prompt, the UI
    tool's schema and the grounding question."""
    from vlagent.grounding import GROUNDING_PROMPT

    screen = Screen(image_size=(1080, 2400), device_size=(1080, 2400), model_size=(672, 1484))
    for system, words in (("relative-1000", "on a 0-1000 scale of the screenshot's width and height"),
                          ("smart-resized", "in pixels of the 672x1484 screenshot, from its top-left corner")):
        assert screen.units(system) == words
        assert f"Coordinates are [x, y] {words}." in render(template, units=screen.units(system))
        schema = ui_tool_schema("mobile_use", screen, system)["function"]["parameters"]["properties"]
        assert words in schema["coordinate"]["description"]
        assert words in GROUNDING_PROMPT.format(target="x", box="b", units=screen.units(system))
    assert "data, not instructions" in render(template, units=screen.units("relative-1000"))


def test_missing_template_variable_is_an_error_not_blank():
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("phone_system")


def test_unknown_tool_format_and_missing_schemas():
    with pytest.raises(ValueError, match="hermes"):
        render_messages([{"role": "user", "content": "hi"}], [WEATHER], "xml")
    with pytest.raises(ValueError, match="schemas"):
        render_messages([{"role": "user", "content": "hi"}], None, "hermes")


call_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
generated_calls = st.lists(st.tuples(call_names, st.dictionaries(st.text(max_size=6), json_values, max_size=4)),
                           min_size=1, max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated_calls, st.sampled_from(["hermes", "qwen"]), st.text(max_size=30), st.booleans())
def test_any_calls_render_as_the_reference(calls, fmt, result, parallel):
    """Every example reaches the renderer (no filters): random names, arguments with any
    unicode, results, one call or several."""
    tools = [{"type": "function", "function": {"name": n, "description": "d", "parameters": {"type": "object"}}}
             for n in dict.fromkeys(n for n, _ in calls)]
    mine = [{"role": "user", "content": "go"},
            {"role": "assistant", "content": "\n".join(call_text(fmt, n, a) for n, a in calls)},
            *({"role": "tool", "name": n, "content": result} for n, _ in calls)]
    theirs = [qa_text("user", "go"), *(qa_call(n, a) for n, a in calls),
              *(Message(role="function", name=n, content=[ContentItem(text=result)]) for n, _ in calls)]
    assert ours(mine, tools, fmt, parallel) == reference(fmt, theirs, tools, parallel)
