"""OpenAIModel against servers on loopback sockets: one written for the tests (exact request bodies,
every failure mode) and a real `transformers serve` running the tiny Qwen2-VL checkpoint."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from PIL import Image

from vlagent.errors import ModelError, ParseError, UserError
from vlagent.models.openai_model import API_KEY_ENV_VARS, OpenAIModel
from vlagent.calls import ToolCall
from vlagent.parsing import parse_tool_calls

from openai_servers import FakeOpenAIServer, Reply, chat, chunk, tool_call
from ports import free_port

FAST_RETRY = {"initial": 0.01, "maximum": 0.02}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}}
VLLM_NO_TOOLS = {"object": "error", "type": "BadRequestError", "code": 400, "message":
                 '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'}


@pytest.fixture(autouse=True)
def no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in API_KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def screenshot(size: tuple[int, int] = (1080, 2400)) -> Image.Image:
    return Image.linear_gradient("L").resize(size).convert("RGB")


def turn(image: Image.Image | None = None, text: str = "Open Settings.") -> list[dict]:
    content: list[dict] = [{"type": "image", "image": image}] if image is not None else []
    return [
        {"role": "system", "content": "You are a phone agent."},
        {"role": "user", "content": [*content, {"type": "text", "text": text}]},
    ]


def decode_data_url(url: str) -> Image.Image:
    header, data = url.split(",", 1)
    assert header in ("data:image/png;base64", "data:image/jpeg;base64")
    return Image.open(io.BytesIO(base64.b64decode(data)))


def model(server: FakeOpenAIServer, **kwargs) -> OpenAIModel:
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("profile", "qwen2.5-vl")  # Hermes, which these tests read
    return OpenAIModel(server.url, kwargs.pop("model", "fake-model"), **kwargs)


# -- request bodies ----------------------------------------------------------------------------

@pytest.mark.parametrize("image_format", ["png", "jpeg"])
def test_image_is_resized_like_the_local_path_and_sent_as_a_data_url(image_format: str) -> None:
    with FakeOpenAIServer(Reply(json=chat("hello", usage=(1300, 5)))) as server:
        out = model(server, image_format=image_format).generate(turn(screenshot()))
    assert out.text == "hello"
    assert out.usage == {"prompt_tokens": 1300, "completion_tokens": 5}
    assert {"request", "encode"} <= set(out.timings)
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    body = request.body
    assert body["model"] == "fake-model" and body["max_tokens"] == 512 and body["temperature"] == 0.0
    assert "tools" not in body and "stream" not in body
    system, user = body["messages"]
    assert system == {"role": "system", "content": "You are a phone agent."}
    image_part, text_part = user["content"]
    assert text_part == {"type": "text", "text": "Open Settings."}
    assert image_part["type"] == "image_url"
    image = decode_data_url(image_part["image_url"]["url"])
    assert image.size == (672, 1484)  # smart_resize of 1080x2400 at 1280*28*28 max pixels
    assert image.format == image_format.upper()


def test_native_tools_are_sent_and_calls_come_back_as_hermes_text() -> None:
    reply = chat(None, tool_calls=[tool_call("get_weather", '{"city": "Paris"}')])
    with FakeOpenAIServer(Reply(json=reply)) as server:
        out = model(server, native_tools=True).generate(turn(), [WEATHER])
    body = server.requests[0].body
    assert body["tools"] == [WEATHER] and body["tool_choice"] == "auto"
    assert "<tools>" not in body["messages"][0]["content"]
    assert out.text == '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    assert parse_tool_calls(out.text) == [ToolCall("get_weather", {"city": "Paris"})]


def test_native_arguments_that_are_not_json_reach_the_parser_raw() -> None:
    reply = chat("Checking.", tool_calls=[tool_call("get_weather", "{city: Paris"),
                                          tool_call("get_weather", "", "call_2")])
    with FakeOpenAIServer(Reply(json=reply)) as server:
        out = model(server, native_tools=True).generate(turn(), [WEATHER])
    assert out.text.startswith("Checking.\n<tool_call>")
    assert '"arguments": {city: Paris}' in out.text
    assert '{"name": "get_weather", "arguments": {}}' in out.text  # "" means no arguments
    with pytest.raises(ParseError, match="invalid JSON"):  # reported to the model, never dropped
        parse_tool_calls(out.text)


def test_prompted_tools_are_rendered_into_the_system_prompt() -> None:
    with FakeOpenAIServer(Reply(json=chat("ok"))) as server:
        model(server, native_tools=False).generate(turn(), [WEATHER])
    body = server.requests[0].body
    assert "tools" not in body and "tool_choice" not in body
    system = body["messages"][0]["content"]
    assert system.startswith("You are a phone agent.") and "<tools>" in system and '"get_weather"' in system


def history() -> list[dict]:
    return [
        *turn(screenshot((200, 400))),
        {"role": "assistant", "content":
            'Looking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'},
        {"role": "tool", "name": "get_weather", "content": "sunny, 21 C"},
        {"role": "assistant", "content": "no call here"},
        {"role": "tool", "name": "none", "content": "Error: no tool call"},
        {"role": "tool", "name": "parse", "content": "Error: again"},
        {"role": "user", "content": "Go on."},
    ]


def test_native_history_pairs_calls_and_results_by_tool_call_id() -> None:
    with FakeOpenAIServer(Reply(json=chat("ok"))) as server:
        model(server, native_tools=True).generate(history(), [WEATHER])
    messages = server.requests[0].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user", "user", "user"]
    call = messages[2]
    assert call["content"] == "Looking."
    (tc,) = call["tool_calls"]
    assert tc["type"] == "function" and tc["function"]["name"] == "get_weather"
    assert json.loads(tc["function"]["arguments"]) == {"city": "Paris"}
    assert messages[3] == {"role": "tool", "tool_call_id": tc["id"], "content": "sunny, 21 C"}
    # Results with no call to answer go back as user turns.
    assert messages[4] == {"role": "assistant", "content": "no call here"}
    assert messages[5:7] == [{"role": "user", "content": "Error: no tool call"}, {"role": "user", "content": "Error: again"}]


def test_prompted_history_renders_results_as_tool_response_turns() -> None:
    with FakeOpenAIServer(Reply(json=chat("ok"))) as server:
        model(server, native_tools=False).generate(history(), [WEATHER])
    messages = server.requests[0].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user", "user"]
    assert all("tool_calls" not in m and "tool_call_id" not in m for m in messages)
    assert messages[2]["content"].endswith("</tool_call>")
    assert messages[3]["content"] == "<tool_response>\nsunny, 21 C\n</tool_response>"


def test_history_images_are_encoded_once() -> None:
    image = screenshot((200, 400))
    messages = turn(image)
    with FakeOpenAIServer(Reply(json=chat("ok"))) as server:
        m = model(server)
        m.generate(messages)
        m.generate(messages + [{"role": "assistant", "content": "x"}, *turn(screenshot((300, 300)))[1:]])
    first, second = (r.body["messages"][1]["content"][0] for r in server.requests)
    assert first == second and len(m._images) == 2


def test_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("VLAGENT_API_KEY", "sk-vlagent")  # ours wins
    with FakeOpenAIServer() as server:
        model(server).generate(turn())
        OpenAIModel(server.url, "fake-model", api_key="sk-given").generate(turn())
        monkeypatch.delenv("VLAGENT_API_KEY")
        monkeypatch.delenv("OPENAI_API_KEY")
        model(server).generate(turn())
    auth = [r.headers.get("Authorization") for r in server.requests]
    assert auth == ["Bearer sk-vlagent", "Bearer sk-given", None]


def test_base_url_with_v1_and_model_from_the_server() -> None:
    with FakeOpenAIServer(models=["qwen2-vl-7b", "other"]) as server:
        m = OpenAIModel(server.url + "/v1/", retry=FAST_RETRY)
        m.generate(turn())
        m.generate(turn())
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("POST", "/v1/chat/completions")]
    assert server.requests[1].body["model"] == "qwen2-vl-7b"
    assert m.description == f"openai:qwen2-vl-7b@{server.url}"


def test_a_server_without_models_is_a_user_error() -> None:
    with FakeOpenAIServer(models=[]) as server, pytest.raises(UserError, match="lists no models"):
        OpenAIModel(server.url).generate(turn())


def test_options_and_extra_body() -> None:
    with FakeOpenAIServer() as server:
        model(server, extra_body={"skip_special_tokens": False}).generate(
            turn(), max_new_tokens=7, temperature=0.5, top_p=0.9, stop=["</tool_call>"])
    body = server.requests[0].body
    assert body["max_tokens"] == 7 and body["temperature"] == 0.5 and body["top_p"] == 0.9
    assert body["stop"] == ["</tool_call>"] and body["skip_special_tokens"] is False


# -- failures ----------------------------------------------------------------------------------

def test_429_is_retried_once_then_succeeds() -> None:
    with FakeOpenAIServer(Reply(429, json={"error": {"message": "slow down"}}), Reply(json=chat("ok"))) as server:
        assert model(server).generate(turn()).text == "ok"
    assert len(server.chat_requests) == 2


def test_5xx_is_retried_a_bounded_number_of_times() -> None:
    with FakeOpenAIServer(Reply(500, json={"error": {"message": "CUDA out of memory"}})) as server:
        with pytest.raises(ModelError, match="500.*CUDA out of memory"):
            model(server, retry={**FAST_RETRY, "attempts": 3}).generate(turn())
    assert len(server.chat_requests) == 3


def test_400_is_never_retried() -> None:
    with FakeOpenAIServer(Reply(400, json={"error": {"message": "context too long"}})) as server:
        with pytest.raises(ModelError, match="400: context too long"):
            model(server).generate(turn())
    assert len(server.chat_requests) == 1


def test_other_4xx_carry_the_server_message() -> None:
    with FakeOpenAIServer(Reply(422, json={"detail": "Unexpected fields in the request: {'top_k'}"})) as server:
        with pytest.raises(ModelError, match="422.*top_k"):
            model(server).generate(turn())
    assert len(server.chat_requests) == 1


@pytest.mark.parametrize("env", [None, "DASHSCOPE_API_KEY"])
def test_401_names_the_api_key_variable(monkeypatch: pytest.MonkeyPatch, env: str | None) -> None:
    if env:
        monkeypatch.setenv(env, "sk-wrong")
    with FakeOpenAIServer(Reply(401, json={"error": {"message": "Incorrect API key"}})) as server:
        with pytest.raises(UserError, match=env or "VLAGENT_API_KEY") as info:
            model(server).generate(turn())
    assert "Incorrect API key" in str(info.value)
    assert len(server.chat_requests) == 1


def test_404_lists_the_models_the_server_has() -> None:
    error = {"error": {"message": "The model `qwen-vl` does not exist.", "code": 404}}
    with FakeOpenAIServer(Reply(404, json=error), models=["Qwen/Qwen2-VL-2B-Instruct"]) as server:
        with pytest.raises(UserError, match="Qwen/Qwen2-VL-2B-Instruct") as info:
            model(server, model="qwen-vl").generate(turn())
    assert "qwen-vl" in str(info.value) and "/v1/models" in str(info.value)


def test_connection_refused_fails_at_once_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ModelError, match="127.0.0.1.*running"):
        OpenAIModel(url, "m", retry={"initial": 30}).generate(turn())  # a retry would wait 30 s


def test_connect_errors_are_not_retried() -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(ModelError, match="cannot connect"):
        OpenAIModel("http://model-server:8000", "m", transport=httpx.MockTransport(refuse)).generate(turn())
    assert len(calls) == 1


def test_timeouts_are_retried_then_reported() -> None:
    with FakeOpenAIServer(Reply(json=chat("late"), delay=0.5)) as server:
        with pytest.raises(ModelError, match="timed out"):
            model(server, timeout=0.1, retry={**FAST_RETRY, "attempts": 2}).generate(turn())
    assert len(server.chat_requests) == 2


def test_a_body_trickled_within_each_read_timeout_is_stopped_at_the_deadline() -> None:
    """A byte every 20 ms never trips the 5 s read timeout; the whole body would take seconds."""
    answer = Reply(json=chat("a long answer " * 20), trickle=0.02)
    with FakeOpenAIServer(answer) as server:
        with pytest.raises(ModelError, match=r"took over 0.3 s in all \(the deadline\).*raise `deadline`"):
            model(server, timeout=5, deadline=0.3, retry={**FAST_RETRY, "attempts": 2}).generate(turn())
    assert len(server.chat_requests) == 2  # retried once, like any timeout


def test_a_stream_trickled_past_the_deadline_is_cut_and_not_retried() -> None:
    events = [chunk("word ") for _ in range(40)] + [chunk(finish="stop"), "data: [DONE]\n\n"]
    with FakeOpenAIServer(Reply(events=events, trickle=0.02)) as server:
        with pytest.raises(ModelError, match=r"cut after \d+ characters .*took over 0.3 s in all"):
            model(server, timeout=5, deadline=0.3, stream=True).generate(turn())
        assert model(server, timeout=5, deadline=None, stream=True).generate(turn()).text == "word " * 40
    assert len(server.chat_requests) == 2


def test_malformed_json_body_is_a_model_error() -> None:
    with FakeOpenAIServer(Reply(raw=b'{"choices": [')) as server:
        with pytest.raises(ModelError, match="other than a chat completion"):
            model(server).generate(turn())


def test_auto_falls_back_to_prompted_tools_once_and_remembers() -> None:
    with FakeOpenAIServer(Reply(400, json=VLLM_NO_TOOLS), Reply(json=chat("ok"))) as server:
        m = model(server, native_tools="auto")
        assert m.generate(turn(), [WEATHER]).text == "ok"
        m.generate(turn(), [WEATHER])
    first, second, third = (r.body for r in server.chat_requests)
    assert first["tools"] == [WEATHER]
    for body in (second, third):
        assert "tools" not in body and "tool_choice" not in body
        assert "<tools>" in body["messages"][0]["content"]
    assert m.native_tools is False


def test_native_true_does_not_fall_back() -> None:
    with FakeOpenAIServer(Reply(400, json=VLLM_NO_TOOLS)) as server:
        with pytest.raises(ModelError, match="native_tools=False"):
            model(server, native_tools=True).generate(turn(), [WEATHER])
    assert len(server.chat_requests) == 1


def test_an_answer_cut_at_the_token_limit_says_so_streamed_or_not() -> None:
    cut = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "cli'
    events = [chunk(cut), chunk(finish="length"), chunk(usage=(40, 16)), "data: [DONE]\n\n"]
    with FakeOpenAIServer(Reply(json=chat(cut, finish="length")), Reply(events=events),
                          Reply(json=chat("Done."))) as server:
        plain = model(server).generate(turn())
        streamed = model(server).generate(turn(), stream_callback=lambda d: None)
        whole = model(server).generate(turn())
    assert (plain.finish_reason, streamed.finish_reason, whole.finish_reason) == ("length", "length", "stop")
    assert plain.text == streamed.text == cut


# -- streaming ---------------------------------------------------------------------------------

def test_streaming_calls_back_with_each_delta() -> None:
    events = [chunk(""), chunk("Hel"), chunk("lo"), chunk(finish="stop"), chunk(usage=(40, 2)), "data: [DONE]\n\n"]
    deltas: list[str] = []
    with FakeOpenAIServer(Reply(events=events)) as server:
        out = model(server).generate(turn(), stream_callback=deltas.append)
    body = server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert deltas == ["Hel", "lo"] and out.text == "Hello"
    assert out.usage == {"prompt_tokens": 40, "completion_tokens": 2}
    assert 0 < out.timings["first_token"] <= out.timings["request"]


def test_streamed_tool_calls_are_assembled() -> None:
    events = [
        chunk("Sure."),
        chunk(tool_calls=[{"index": 0, "id": "c1", "type": "function",
                           "function": {"name": "get_weather", "arguments": ""}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]),
        chunk(finish="tool_calls"),
    ]
    deltas: list[str] = []
    with FakeOpenAIServer(Reply(events=events)) as server:
        out = model(server, native_tools=True, stream=True).generate(turn(), [WEATHER], stream_callback=deltas.append)
    assert parse_tool_calls(out.text) == [ToolCall("get_weather", {"city": "Paris"})]
    assert "".join(deltas) == out.text


def test_a_stream_cut_midway_is_a_model_error_and_not_retried() -> None:
    events = [chunk("Hel"), chunk("lo"), chunk(" world"), chunk(finish="stop")]
    deltas: list[str] = []
    with FakeOpenAIServer(Reply(events=events, cut_after=2)) as server:
        with pytest.raises(ModelError, match="cut after 5 characters"):
            model(server, stream=True).generate(turn(), stream_callback=deltas.append)
    assert deltas == ["Hel", "lo"] and len(server.chat_requests) == 1


def test_a_stream_cut_before_any_text_is_retried() -> None:
    events = [chunk("ok"), chunk(finish="stop")]
    with FakeOpenAIServer(Reply(events=events, cut_after=0), Reply(events=events)) as server:
        assert model(server, stream=True).generate(turn()).text == "ok"
    assert len(server.chat_requests) == 2


def test_an_error_event_in_the_stream_is_a_model_error() -> None:
    # `transformers serve` reports a failed generation this way, inside a 200 response.
    events = [chunk(""), "data: {\"error\": \"'Qwen2VLProcessor' object has no attribute 'get_vocab'\"}\n\n"]
    with FakeOpenAIServer(Reply(events=events)) as server:
        with pytest.raises(ModelError, match="get_vocab"):
            model(server, stream=True).generate(turn())


def test_a_stream_that_just_stops_is_a_model_error() -> None:
    with FakeOpenAIServer(Reply(events=[chunk("Hel")])) as server:
        with pytest.raises(ModelError, match="ended before the answer"):
            model(server, stream=True).generate(turn())


# -- a real server: `transformers serve` with the tiny Qwen2-VL --------------------------------

@contextlib.contextmanager
def transformers_serve(work: Path) -> Iterator[str]:
    """`transformers serve` on a free loopback port, until the block ends; yields its URL."""
    for module in ("fastapi", "uvicorn", "openai"):
        pytest.importorskip(module, reason="needs transformers[serving]")
    (work / "hub").mkdir(exist_ok=True)  # serve scans HF_HUB_CACHE for /v1/models; it must exist
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(work / "hub"),
           "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-c", "from transformers.cli.transformers import main; main()",
               "serve", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    log_path = work / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not ready in 60 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def served_tiny_model(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """One server for the module, answering for the tiny checkpoint's path: it loads the model
    named in the first request (as it would a hub id), so nothing is pinned."""
    with transformers_serve(tmp_path_factory.mktemp("transformers-serve")) as url:
        yield url, str(tiny_model_path)


@pytest.mark.slow
def test_transformers_serve_answers_a_turn_with_an_image_and_tools(served_tiny_model) -> None:
    url, name = served_tiny_model
    with OpenAIModel(url, name, max_tokens=8, native_tools="auto") as m:  # the server takes `tools`
        out = m.generate(turn(screenshot()), [WEATHER])
        without_image = m.generate(turn(), [WEATHER])
    assert isinstance(out.text, str)
    assert out.usage["completion_tokens"] >= 1
    # The image arrived at the size we sent: 672x1484 is 1272 merged 28x28 patches, one token each.
    assert out.usage["prompt_tokens"] - without_image.usage["prompt_tokens"] == 1272 + 2  # + vision start/end
    assert m.native_tools == "auto"


@pytest.mark.slow
def test_transformers_serve_prompted_tools_streaming_and_history(served_tiny_model) -> None:
    url, name = served_tiny_model
    deltas: list[str] = []
    with OpenAIModel(url, name, max_tokens=8, native_tools=False) as m:
        bare = m.generate(turn())
        out = m.generate(turn(), [WEATHER], stream_callback=deltas.append)
        m.native_tools = True  # a tool_calls / tool_call_id history, as the server's template sees it
        again = m.generate(history(), [WEATHER])
    assert "".join(deltas) == out.text and "first_token" in out.timings
    assert out.usage["prompt_tokens"] > bare.usage["prompt_tokens"] + 50  # the tool schema is in the prompt
    assert again.usage["prompt_tokens"] > 0 and isinstance(again.text, str)


@pytest.mark.slow
def test_transformers_serve_lists_no_models_for_a_served_path(tmp_path: Path) -> None:
    """A server of its own: once any request has loaded a model, serve lists that one."""
    with transformers_serve(tmp_path) as url, pytest.raises(UserError, match="lists no models"):
        OpenAIModel(url).generate(turn())


# -- the profile's stop strings and ✿ continuation ---------------------------------------------

def test_the_profile_stop_strings_are_sent_and_a_server_failing_on_them_is_done_without() -> None:
    answer = '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}\n✿RESULT✿: invented'
    failing = [Reply(500, json={"error": "boom"})] * 2
    with FakeOpenAIServer(*failing, Reply(json=chat(answer)), Reply(json=chat(answer))) as server:
        m = model(server, profile="qwen2-vl", retry={**FAST_RETRY, "attempts": 2})
        first = m.generate(turn(), [WEATHER])
        m.generate(turn(), [WEATHER])
    bodies = [r.body for r in server.chat_requests]
    assert len(bodies) == 4 and bodies[0]["stop"] == bodies[1]["stop"] == ["✿RESULT✿", "✿RETURN✿"]
    # `transformers serve` 5.x answers 500 to any stop with a VLM: once, then never sent again
    assert "stop" not in bodies[-2] and "stop" not in bodies[-1] and m.server_stop is False
    assert first.text == '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}\n'  # cut here instead


def test_a_qwen_result_is_continued_in_the_assistant_turn() -> None:
    messages = [*turn(), {"role": "assistant", "content": '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Paris"}'},
                {"role": "tool", "name": "get_weather", "content": "21C"}]
    with FakeOpenAIServer(Reply(json=chat(": It is 21C."))) as server:
        out = model(server, profile="qwen2-vl").generate(messages, [WEATHER])
    body = server.chat_requests[0].body
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["messages"][-1]["role"] == "assistant" and body["messages"][-1]["content"].endswith("✿RETURN✿")
    assert out.text == "It is 21C."


# -- Retry-After ---------------------------------------------------------------------------------

@pytest.mark.parametrize("header,wait", [("2", 2.0), ("5", 5.0), ("http-date", 2.0)])
def test_retry_after_is_waited_out_before_the_next_request(header, wait) -> None:
    from email.utils import formatdate
    import time as _time

    value = formatdate(_time.time() + wait + 1, usegmt=True) if header == "http-date" else header
    limited = Reply(429, json={"error": {"message": "rate limited"}}, headers={"Retry-After": value})
    with FakeOpenAIServer(limited, Reply(json=chat("ok"))) as server:
        assert model(server).generate(turn()).text == "ok"
    first, second = server.chat_requests
    # an HTTP date has one-second resolution: it may name a moment up to a second sooner
    assert second.at - first.at >= wait - (0.05 if header != "http-date" else 0.0)


def test_a_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    limited = Reply(429, json={"error": {"message": "quota"}}, headers={"Retry-After": "3600"})
    with FakeOpenAIServer(limited) as server:
        with pytest.raises(ModelError, match="asks to wait 3600 s"):
            model(server).generate(turn())
    assert len(server.chat_requests) == 1


def test_a_server_that_ignores_stream_true_is_read_as_one_answer() -> None:
    deltas: list[str] = []
    with FakeOpenAIServer(Reply(json=chat("All at once."))) as server:
        out = model(server).generate(turn(), stream_callback=deltas.append)
    assert server.chat_requests[0].body["stream"] is True
    assert out.text == "All at once." and deltas == ["All at once."]


def test_render_shows_the_messages_the_server_gets() -> None:
    """What `vlagent prompt` prints for a server: the chat messages as sent, images as
    placeholders (the server's own template makes the text). No request is made."""
    messages = turn(screenshot((672, 1484)))
    hermes = json.loads(OpenAIModel("http://127.0.0.1:9", "Qwen2.5-VL-7B-Instruct").render(messages, [WEATHER]))
    assert [m["role"] for m in hermes] == ["system", "user"]
    assert "<tools>" in hermes[0]["content"] and hermes[1]["content"][0] == "<image 672x1484>"
    qwen = json.loads(OpenAIModel("http://127.0.0.1:9", "Qwen2-VL-7B-Instruct").render(messages, [WEATHER]))
    assert "✿FUNCTION✿" in qwen[0]["content"]
    native = OpenAIModel("http://127.0.0.1:9", "Qwen2.5-VL-7B-Instruct", native_tools=True)
    assert "<tools>" not in native.render(messages, [WEATHER])  # native tools: the server renders them
