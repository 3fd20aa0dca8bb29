"""Assistant with ScriptedModel (replayed outputs, no model judgement) and a loopback weather API."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from vlagent import Assistant, ScriptedModel
from vlagent.assistant import TOOL_RESULTS_NOTE
from vlagent.prompts import render_messages
from vlagent.tools import tool
from vlagent.tools.weather import make_get_weather

from fake_http import Answer, FakeAPI
from provider_fixtures import GEOCODING_PARIS, forecast

HERMES_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
QWEN_CALL = '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}'


@pytest.fixture
def weather():
    with FakeAPI() as api:
        api.route("/v1/search", Answer(200, GEOCODING_PARIS))
        api.route("/v1/forecast", lambda q: Answer(200, forecast(q)))
        yield make_get_weather(api.url, api.url, timeout=5.0, backoff=0.01), api


@pytest.mark.parametrize(
    "fmt,call,answer,result_prefix,result_role",
    [
        ("hermes", HERMES_CALL, "It is 21.4 °C and partly cloudy in Paris.", "<tool_response>\n", "user"),
        ("qwen", QWEN_CALL, "✿RETURN✿: It is 21.4 °C and partly cloudy in Paris.", QWEN_CALL + "\n✿RESULT✿: ",
         "assistant"),
    ],
)
def test_photo_to_weather_answer(weather, fmt, call, answer, result_prefix, result_role):
    get_weather, api = weather
    photo = Image.new("RGB", (640, 480), "skyblue")  # stands in for a photo of the Eiffel tower
    model = ScriptedModel([call, answer])
    assistant = Assistant(model, [get_weather])
    reply = assistant.ask("What's the weather where this photo was taken?", images=[photo])

    assert reply.text == "It is 21.4 °C and partly cloudy in Paris."
    assert reply.complete and reply.rounds == 2
    assert [c.name for c in reply.calls] == ["get_weather"] and not reply.results[0].is_error
    assert len(api.hits("/v1/forecast")) == 1

    # The second request holds: our note on tool results, the user turn (image + text), the
    # model's call, then the result.
    messages, tools = model.requests[1]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[0]["content"] == TOOL_RESULTS_NOTE
    assert messages[1]["content"][0]["type"] == "image"
    assert messages[2]["content"] == call
    assert json.loads(messages[3]["content"])["place"] == "Paris"
    assert tools[0]["function"]["name"] == "get_weather"
    # Rendered for the model: Hermes puts the result in a user turn; ✿ into the assistant's
    # own turn, ending on the ✿RETURN✿ cue the model continues from.
    rendered = render_messages(messages, tools, fmt)
    assert rendered[0]["content"].startswith(TOOL_RESULTS_NOTE + "\n\n# Tools")
    assert rendered[-1]["role"] == result_role
    text = rendered[-1]["content"]
    assert result_prefix in text and '"place": "Paris"' in text


@pytest.mark.parametrize(
    "route,match",
    [
        (Answer(500, {"error": True, "reason": "boom"}), "500"),
        (Answer(200, "{not json"), "malformed JSON"),
    ],
)
def test_provider_failures_come_back_as_errors_the_model_sees(weather, route, match):
    get_weather, api = weather
    api.route("/v1/forecast", route)
    model = ScriptedModel([HERMES_CALL, "The weather service is failing right now."])
    reply = Assistant(model, [get_weather]).ask("Weather in Paris?")
    assert reply.text == "The weather service is failing right now."
    assert reply.results[0].is_error and match in reply.results[0].text
    messages, _ = model.requests[1]
    assert messages[-1]["role"] == "tool" and messages[-1]["content"].startswith("Error: ")


def test_bad_arguments_and_timeouts_are_fed_back():
    import threading

    gate = threading.Event()

    @tool(timeout=0.2)
    def slow(x: int) -> int:
        """Waits until released."""
        gate.wait(5)
        return x

    model = ScriptedModel([
        '<tool_call>{"name": "slow", "arguments": {"x": "seven"}}</tool_call>',
        '<tool_call>{"name": "slow", "arguments": {"x": 7}}</tool_call>',
        "Gave up.",
    ])
    try:
        reply = Assistant(model, [slow]).ask("go")
    finally:
        gate.set()
    assert reply.text == "Gave up."
    bad, late = reply.results
    assert bad.is_error and "x" in bad.text
    assert late.is_error and "timed out" in late.text


def test_tool_rounds_are_bounded():
    model = ScriptedModel([HERMES_CALL] * 3)

    @tool
    def get_weather(city: str) -> str:
        """Weather."""
        return "sunny"

    reply = Assistant(model, [get_weather], max_tool_rounds=2).ask("loop forever")
    assert not reply.complete and "2 tool rounds" in reply.text
    assert len(model.requests) == 3


def test_conversation_carries_over_turns_and_reset_keeps_the_system_prompt():
    model = ScriptedModel(["Hello Ana.", "Your name is Ana."])
    assistant = Assistant(model, system="Be brief.")
    assistant.ask("I am Ana.")
    assert assistant.ask("What is my name?").text == "Your name is Ana."
    roles = [m["role"] for m in model.requests[1][0]]
    assert roles == ["system", "user", "assistant", "user"]
    assistant.reset()
    assert assistant.messages == [{"role": "system", "content": "Be brief."}]


def test_streaming_shows_the_answer_not_the_call():
    shown: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Weather."""
        return "sunny"

    model = ScriptedModel([f"Let me check. {HERMES_CALL}", "✿RETURN✿: Sunny."])
    Assistant(model, [get_weather], on_delta=shown.append).ask("Weather?")
    assert "".join(shown) == "Let me check.  Sunny."
    assert "tool_call" not in "".join(shown)


def test_an_answer_cut_at_the_token_limit_is_not_complete():
    from vlagent.models.base import Completion

    class CutOff(ScriptedModel):
        def generate(self, messages, tools=None, **options):
            text = super().generate(messages, tools, **options).text
            return Completion(text, finish_reason="stop" if text.endswith(".") else "length")

    model = CutOff(['<tool_call>{"name": "get_weather", "arguments": {"ci', "It is sunny and"])
    reply = Assistant(model, []).ask("Weather in Paris?")
    assert reply.text == "It is sunny and" and reply.complete is False
    tool_turn = [m["content"] for m in model.requests[1][0] if m["role"] == "tool"][0]
    assert "cut off at the token limit" in tool_turn and "Could not parse" in tool_turn
    whole = Assistant(ScriptedModel(["It is sunny."]), []).ask("Weather in Paris?")
    assert whole.complete is True


def test_the_assistant_is_guarded_by_the_policy(weather):
    """Under deny an undeclared tool's call is blocked and the model is told; the built-in
    weather tool declares it only reads and runs."""
    from vlagent import Policy

    get_weather, api = weather

    @tool
    def wire_money(iban: str, amount: float) -> str:
        """Send money."""
        raise AssertionError("must not run")

    model = ScriptedModel([
        '<tool_call>\n{"name": "wire_money", "arguments": {"iban": "X", "amount": 5}}\n</tool_call>\n'
        + HERMES_CALL, "Paris is mild; I did not send money."])
    reply = Assistant(model, [get_weather, wire_money], policy=Policy("deny")).ask("Pay X and check the weather")
    blocked, weather_result = reply.results
    assert blocked.is_error and "blocked by policy (deny mode)" in blocked.content and "wire_money" in blocked.content
    assert not weather_result.is_error and len(api.hits("/v1/forecast")) == 1
