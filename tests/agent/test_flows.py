"""YAML flows: validation with line-numbered errors, and running steps on a session.

Runs use an in-memory device and a ScriptedModel (replayed replies, not a model's judgement);
the SimPhone runs of examples/flow_wifi.yaml are in tests/examples/test_automation_examples.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from vlagent import actions as A
from vlagent.errors import UserError
from vlagent import FlowError
from vlagent.flows import FLOW_SCHEMA, execute_flow, load_flow, parse_flow, run_flow
from vlagent.models.scripted import ScriptedModel
from vlagent import AssertionFailed
from vlagent.session import Session
from vlagent.testing import ImageDevice

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(FLOW_SCHEMA)


def test_the_example_flow_loads():
    flow = load_flow(EXAMPLES / "flow_wifi.yaml")
    assert flow.name == "Turn on Wi-Fi" and flow.device == "sim" and flow.model == "scripted:flow_wifi_scripted.json"
    assert [s.kind for s in flow.steps] == ["home", "open_app", "tap", "tap", "wait_for", "query", "back"]
    assert flow.steps[2].value == "Network & internet" and flow.steps[2].where.endswith("flow_wifi.yaml:12:5")


def test_every_step_kind_parses():
    flow = parse_flow("""\
name: all
steps:
  - open_app: Settings
  - tap: [540, 1200]
  - tap: the Wi-Fi switch
  - long_press: {target: [10, 20], duration_ms: 800}
  - type: 12345
  - key: [ctrl, c]
  - swipe: {from: [1, 2], to: the list end, duration_ms: 300}
  - swipe: up
  - wait: 0.5
  - wait_for: {condition: Wi-Fi is on, timeout: 10, interval: 0.5}
  - assert: Wi-Fi is on
  - query: {question: "what level?", schema: {type: integer}, save_as: level}
  - run: {goal: turn on Bluetooth, max_steps: 5}
  - back
  - home:
  - screenshot: done.png
""", "all.yaml")
    assert len(flow.steps) == 16 and flow.steps[13].kind == "back" and flow.steps[14].kind == "home"


BAD = [
    ("unknown step",
     "name: t\nsteps:\n  - open_app: Settings\n  - tapp: the switch\n",
     "flow.yaml:4:5: step 2: unknown step 'tapp' (did you mean 'tap'?); the steps are: open_app, tap,"),
    ("wrong type",
     "name: t\nsteps:\n  - open_app: Settings\n  - key: enter\n  - tap: {x: 1, y: 2}\n",
     "flow.yaml:5:10: step 3 'tap': expected [x, y] or a description, got {x: 1, y: 2}"),
    ("one coordinate",
     "steps:\n  - tap: [540]\n",
     "flow.yaml:2:10: step 1 'tap': expected [x, y] or a description, got [540]"),
    ("bad indentation",
     "steps:\n  - open_app: Settings\n   - tap: the switch\n",
     "flow.yaml:3:4: YAML syntax error: bad indentation"),
    ("fields level with their step",
     "steps:\n  - swipe:\n    from: [1, 2]\n    to: [3, 4]\n",
     "flow.yaml:3:5: step 1 'swipe': `from`, `to` belong to `swipe` but sit level with it; indent them two "
     "more spaces, under `swipe:`"),
    ("a field level with its step",
     "steps:\n  - back\n  - query:\n    question: level?\n",
     "flow.yaml:4:5: step 2 'query': `question` belongs to `query` but sits level with it; indent it two "
     "more spaces, under `query:`"),
    ("a tab",
     "steps:\n\t- tap: the switch\n",
     "flow.yaml:2:1: YAML syntax error: a tab: indent YAML with spaces"),
    ("unclosed bracket",
     "steps:\n  - tap: [1, 2\n  - key: enter\n",
     "flow.yaml:3:8: YAML syntax error"),
    ("two steps in one item",
     "steps:\n  - tap: the switch\n    key: enter\n",
     "flow.yaml:2:5: step 1 has 2 actions (tap, key); give each its own '- ' item"),
    ("duplicate key",
     "steps:\n  - tap: the switch\n    tap: the button\n",
     "flow.yaml:3:5: duplicate key 'tap' (also on line 2)"),
    ("missing colon",
     "steps:\n  - tap [1, 2]\n",
     "flow.yaml:2:5: step 1: 'tap [1, 2]' is not a step (did you mean `tap: ...`"),
    ("missing field",
     "steps:\n  - swipe: {from: [1, 2], duration_ms: 300}\n",
     "flow.yaml:2:12: step 1 'swipe': missing `to`"),
    ("unknown field",
     "steps:\n  - query: {question: level, schema: int, saveas: x}\n",
     "flow.yaml:2:43: step 1 'query': unknown key `saveas` (did you mean 'save_as'?)"),
    ("bad schema name",
     "steps:\n  - query:\n      question: level?\n      schema: integer2\n",
     "flow.yaml:4:15: step 1 'query': `schema`: expected one of str, string, int"),
    ("invalid inline schema",
     "steps:\n  - query: {question: level, schema: {type: intt}}\n",
     "flow.yaml:2:38: step 1 'query': `schema` is not a valid JSON Schema"),
    ("yes is a boolean",
     "steps:\n  - assert: yes\n",
     "flow.yaml:2:13: step 1 'assert': expected a condition that must hold on the screen, got true (quote it"),
    ("negative timeout",
     "steps:\n  - wait_for: {condition: on, timeout: -1}\n",
     "step 1 'wait_for': `timeout`: expected seconds, a number above 0, got -1"),
    ("top-level typo",
     "name: t\nstpes:\n  - tap: x\n",
     "flow.yaml:2:1: unknown key 'stpes' at the top level (did you mean 'steps'?)"),
    ("not a mapping",
     "- tap: x\n",
     "flow.yaml:1:1: a flow is a mapping with a `steps:` list"),
    ("empty",
     "# nothing\n",
     "flow.yaml:1:1: the flow is empty"),
    ("empty step",
     "steps:\n  - open_app: Settings\n  -\n",
     "flow.yaml:3:4: step 2: expected a step such as `tap: [x, y]`, got nothing"),
    # the end of the file is past its last line: the error points where the quote or bracket began
    ("unclosed quote",
     'steps:\n  - tap: "Settings\n',
     "flow.yaml:2:10: YAML syntax error: a quote that is never closed"),
    ("unclosed bracket",
     "steps:\n  - tap: [1, 2\n",
     "flow.yaml:2:10: YAML syntax error: a [ or { that is never closed"),
]


@pytest.mark.parametrize("case, text, message", BAD, ids=[b[0] for b in BAD])
def test_bad_flows_name_the_line_and_the_problem(case, text, message, tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert message.replace("flow.yaml", str(path)) in str(caught.value)
    assert isinstance(caught.value, UserError)


def test_every_problem_is_reported_in_line_order():
    text = "steps:\n  - tapp: a\n  - tap: {}\n  - key: 3\n"
    with pytest.raises(FlowError) as caught:
        parse_flow(text, "f.yaml")
    lines = [p.split(":")[1] for p in caught.value.problems]
    assert lines == ["2", "3", "4"]


# -- running ---------------------------------------------------------------------------------------

BOX = "<|box_start|>(500,500),(600,600)<|box_end|>"


def device() -> ImageDevice:
    im = Image.new("RGB", (360, 800), "white")
    return ImageDevice([im] * 20)


def test_a_flow_runs_its_steps_and_fills_saved_answers(tmp_path):
    flow = parse_flow("""\
steps:
  - open_app: Settings
  - tap: the switch
  - query: {question: "battery level", schema: int, save_as: level}
  - type: "battery ${level}%"
  - swipe: {from: [10, 700], to: [10, 100]}
  - key: enter
  - assert: Wi-Fi is on
""", "flow.yaml")
    model = ScriptedModel([BOX, '{"answer": 87}', '{"answer": true, "reason": "on"}'])
    dev = device()
    with Session(dev, model, cache=False, settle_timeout=0) as s:
        result = execute_flow(flow, s)
    assert result.status == "success" and result.variables == {"level": 87}
    assert dev.actions == [A.OpenApp(name="Settings"), A.Tap(x=198, y=440), A.TypeText(text="battery 87%"),
                           A.Swipe(x1=10, y1=700, x2=10, y2=100), A.Key(keys=("enter",))]
    assert [s.model_calls for s in result.steps] == [0, 1, 1, 0, 0, 0, 1]
    assert result.model_calls == 3 == len(model.requests)


def test_a_failing_step_raises_its_error_with_the_flow_line(tmp_path):
    flow = parse_flow("steps:\n  - open_app: Settings\n  - assert: Wi-Fi is on\n", "flow.yaml")
    model = ScriptedModel(['{"answer": false, "reason": "the switch is grey"}'])
    with Session(device(), model, cache=False, settle_timeout=0, out=tmp_path) as s:
        with pytest.raises(AssertionFailed) as caught:
            execute_flow(flow, s)
    assert str(caught.value).startswith("flow.yaml:3:5: step 2 'assert': assertion failed: 'Wi-Fi is on'")
    assert caught.value.screenshot.exists()
    assert caught.value.flow_result.status == "error" and len(caught.value.flow_result.steps) == 1


def test_unknown_variables_and_missing_models_name_the_step():
    flow = parse_flow("steps:\n  - type: 'hi ${name}'\n", "flow.yaml")
    with Session(device(), None, cache=False, settle_timeout=0) as s, pytest.raises(FlowError) as caught:
        execute_flow(flow, s)
    assert str(caught.value).startswith("flow.yaml:2:5: step 1 'type': no variable 'name'")

    flow = parse_flow("steps:\n  - home\n  - tap: the switch\n", "flow.yaml")
    with Session(device(), None, cache=False, settle_timeout=0) as s, pytest.raises(UserError) as caught:
        execute_flow(flow, s)
    assert str(caught.value).startswith("flow.yaml:3:5: step 2 'tap': tap 'the switch' needs a model")


def test_run_flow_takes_device_and_model_from_the_file(tmp_path):
    Image.new("RGB", (360, 800), "white").save(tmp_path / "screen.png")
    (tmp_path / "replies.json").write_text(json.dumps([BOX]))
    (tmp_path / "flow.yaml").write_text(
        "name: from the file\ndevice: image:" + str(tmp_path / "screen.png") + "\n"
        "model: scripted:replies.json\nsteps:\n  - tap: the switch\n", encoding="utf-8")
    result = run_flow(tmp_path / "flow.yaml", out=tmp_path / "out", cache=tmp_path / "cache.json")
    assert result.status == "success" and result.model_calls == 1 and result.name == "from the file"
    assert result.steps[0].value == (198, 440)
    assert result.trajectory == tmp_path / "out" / "trajectory.json"
    again = run_flow(tmp_path / "flow.yaml", model_spec=ScriptedModel([]), cache=tmp_path / "cache.json")
    assert again.model_calls == 0 and again.steps[0].cached


def _alias_bomb(levels: int = 9) -> str:
    """Each anchor lists the one before nine times: 9**levels values from a few hundred bytes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines + ["steps:", f"  - tap: *a{levels - 1}"]) + "\n"


@pytest.mark.parametrize("text,message", [
    ("steps:\n  - tap: " + "[" * 5000 + "]" * 5000 + "\n", "nest too deep"),
    ("steps:\n  - tap: " + "[" * 60 + "]" * 60 + "\n", "values nest 63 deep"),
    (_alias_bomb(), "expand to more than 100,000 values"),
    ("a: &a [*a]\nsteps:\n  - wait: 1\n", "<flow>:1:4: this alias names a value that contains it"),
])
def test_hostile_yaml_is_refused_quickly(text, message):
    """A RecursionError and minutes of work before; now one FlowError saying what is wrong."""
    with pytest.raises(FlowError, match=message):
        parse_flow(text)


def test_aliases_within_reason_still_work():
    flow = parse_flow("steps:\n  - wait: &pause 1\n  - wait: *pause\n")
    assert [(s.kind, s.value) for s in flow.steps] == [("wait", 1), ("wait", 1)]


def test_fields_level_with_their_step_are_one_problem_not_an_unknown_step_each():
    text = "steps:\n  - swipe:\n    from: [1, 2]\n    to: [3, 4]\n    duration_ms: 300\n  - tapp: x\n"
    with pytest.raises(FlowError) as caught:
        parse_flow(text, "f.yaml")
    assert [p.split(":")[1] for p in caught.value.problems] == ["3", "6"]
    assert "unknown step 'from'" not in str(caught.value)
