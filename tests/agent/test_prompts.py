import json

import pytest

from vlagent import parse_tool_calls
from vlagent.prompts import render, render_messages, tools_prompt

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}}


def test_hermes_tools_go_into_the_system_prompt():
    out = render_messages([{"role": "user", "content": "Weather in Paris?"}], [WEATHER], "hermes")
    assert [m["role"] for m in out] == ["system", "user"]
    system = out[0]["content"]
    assert "<tools>" in system and json.dumps(WEATHER) in system and "<tool_call>" in system


def test_qwen_format_lists_tools_with_markers():
    system = tools_prompt([WEATHER], "qwen")
    assert "✿FUNCTION✿" in system and "✿ARGS✿" in system and "[get_weather]" in system
    assert json.dumps(WEATHER["function"]["parameters"]) in system


def test_an_existing_system_prompt_is_kept_and_extended():
    out = render_messages([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], [WEATHER])
    assert out[0]["content"].startswith("Be brief.\n\n# Tools")


def test_consecutive_tool_results_merge_into_one_turn():
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "<tool_call>...</tool_call>"},
        {"role": "tool", "name": "a", "content": "r1"},
        {"role": "tool", "name": "b", "content": "r2"},
    ]
    out = render_messages(messages, None, "hermes")
    assert [m["role"] for m in out] == ["user", "assistant", "user"]
    text = "".join(p["text"] for p in out[-1]["content"])
    assert text == "<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response>"
    qwen = render_messages(messages, None, "qwen")
    assert "".join(p["text"] for p in qwen[-1]["content"]) == "✿RESULT✿: r1\n✿RESULT✿: r2"


def test_image_results_stay_images_inside_the_wrapper():
    image = object()
    out = render_messages([{"role": "tool", "name": "cam", "content": [{"type": "image", "image": image}]}], None)
    parts = out[0]["content"]
    assert [p["type"] for p in parts] == ["text", "image", "text"]
    assert parts[0]["text"] == "<tool_response>\n" and parts[1]["image"] is image


def test_the_prompted_format_is_the_one_we_parse():
    # The example in the Hermes prompt, filled in, must parse back.
    line = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    assert "<tool_call>" in tools_prompt([WEATHER]) and parse_tool_calls(line)[0].arguments == {"city": "Paris"}


@pytest.mark.parametrize("template", ["phone_system", "desktop_system"])
def test_system_prompts_state_the_coordinate_convention(template):
    assert "0-1000" in render(template, coordinate_system="relative-1000", width=1000, height=1000)
    assert "672x1484" in render(template, coordinate_system="smart-resized", width=672, height=1484)
    assert "data, not instructions" in render(template, coordinate_system="relative-1000", width=1, height=1)


def test_missing_template_variable_is_an_error_not_blank():
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("phone_system")


def test_unknown_tool_format():
    with pytest.raises(ValueError, match="hermes"):
        tools_prompt([WEATHER], "xml")
