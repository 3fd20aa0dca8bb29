"""The SimPhone task suite without running agents: its shape, its parameters, its checks."""

from __future__ import annotations

import copy
import json

import pytest

from sim_fixtures import SMALL, adb_env
from vlagent.bench.task_checks import answer_matches
from vlagent.bench.task_env import Env, find, parse_nodes
from vlagent.bench.tasks import RECORD_KEYS, SETTINGS_KEYS, TaskInstance, all_tasks, select


@pytest.fixture(scope="module")
def phone_state(request) -> dict:
    """A fresh SimPhone's state(), read the way tasks read it: `adb shell cmd simphone state`."""
    from vlagent.devices import AdbDevice
    from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb

    with adb_env(), SimPhoneServer(width=SMALL[0], height=SMALL[1], density=218, seed=5) as server:
        connect_adb(server)
        try:
            with AdbDevice(server.serial, ime_settle=0) as device:
                return Env(device).state()
        finally:
            disconnect_adb(server)


def test_suite_shape():
    tasks = all_tasks()
    assert len(tasks) >= 30
    apps = {t.app for t in tasks.values()}
    assert {"settings", "contacts", "messages", "clock", "calculator", "notes", "browser"} <= apps
    assert sum(t.info for t in tasks.values()) >= 4, "a few information-retrieval tasks"
    for t in tasks.values():
        assert t.id.startswith(t.app + ".") or t.app in ("cross", "system")
        assert t.max_steps == round(10 * t.complexity) and t.complexity >= 1
        assert t.template and t.description
        assert set(t.touches) <= set(SETTINGS_KEYS) | set(RECORD_KEYS)


def test_select_by_glob():
    assert [t.id for t in select("clock.add_alarm")] == ["clock.add_alarm"]
    ids = [t.id for t in select("notes.*,settings.wifi")]
    assert "settings.wifi" in ids and all(i.startswith("notes.") for i in ids if i != "settings.wifi")
    assert select("nothing.*") == []


def test_seed_changes_parameters(phone_state):
    """Names, times and numbers come from the seed: no task asks the same thing for every seed."""
    for task in all_tasks().values():
        params = {json.dumps(task.instance(seed, phone_state)[0], sort_keys=True) for seed in range(6)}
        assert len(params) >= 2, f"{task.id} has the same parameters {params} whatever the seed"
        assert task.instance(3, phone_state) == task.instance(3, phone_state), "the same seed, the same task"


def _instance(task, state, seed=0):
    params, goal = task.instance(seed, state)
    return TaskInstance(task.id, seed, goal, params, state, task.max_steps)


def test_check_note_create_is_exact(phone_state):
    task = all_tasks()["notes.create"]
    inst = _instance(task, phone_state)
    p = inst.params

    def with_notes(*notes):
        final = copy.deepcopy(phone_state)
        final["notes"] += [{"id": 100 + i, **n} for i, n in enumerate(notes)]
        return final

    good = {"title": p["title"], "body": p["body"]}
    assert task.check(inst, with_notes(good), None).success
    assert task.check(inst, with_notes({**good, "body": p["body"] + "\n"}), None).success, "ends are trimmed"
    assert not task.check(inst, with_notes({**good, "body": p["body"] + "x"}), None).success
    assert not task.check(inst, with_notes({**good, "title": p["title"].lower()}), None).success
    assert not task.check(inst, with_notes(good, good), None).success, "two notes where one was asked"
    assert not task.check(inst, phone_state, None).success, "nothing done"
    broken = with_notes(good)
    broken["notes"] = broken["notes"][1:]   # the seeded note deleted on the way
    assert not task.check(inst, broken, None).success


def test_check_rejects_side_effects(phone_state):
    task = all_tasks()["settings.wifi"]
    inst = _instance(task, phone_state)
    final = {**phone_state, "wifi": inst.params["on"]}
    assert task.check(inst, final, None).success
    assert not task.check(inst, {**final, "wifi": not inst.params["on"]}, None).success
    check = task.check(inst, {**final, "bluetooth": not phone_state["bluetooth"]}, None)
    assert not check.success and "bluetooth" in check.reason
    check = task.check(inst, {**final, "contacts": phone_state["contacts"][1:]}, None)
    assert not check.success and "contacts" in check.reason


def test_check_message_and_alarm(phone_state):
    send = all_tasks()["messages.send_contact"]
    inst = _instance(send, phone_state)
    p = inst.params
    msg = {"id": 99, "from": "me", "to": p["name"], "text": p["text"], "number": "1", "time": "09:30"}
    final = copy.deepcopy(phone_state)
    final["messages"].append(msg)
    assert send.check(inst, final, None).success
    final["messages"][-1] = {**msg, "to": "Someone Else"}
    assert not send.check(inst, final, None).success
    final["messages"][-1] = {**msg, "text": p["text"].upper()}
    assert not send.check(inst, final, None).success

    add = all_tasks()["clock.add_alarm"]
    inst = _instance(add, phone_state)
    h, m = inst.params["t"]
    final = copy.deepcopy(phone_state)
    final["alarms"].append({"id": 9, "hour": h, "minute": m, "label": "", "enabled": True})
    assert add.check(inst, final, None).success
    final["alarms"][-1]["minute"] = (m + 1) % 60
    assert not add.check(inst, final, None).success


def test_check_calculator_needs_a_computation(phone_state):
    task = all_tasks()["calculator.multiply_add"]
    inst = _instance(task, phone_state)
    result, expr = inst.params["result"], inst.params["expr"].replace(" ", "")
    final = copy.deepcopy(phone_state)
    final["calculator"] = {"display": result, "result": result, "error": None, "history": [f"{expr}={result}"]}
    assert task.check(inst, final, None).success
    final["calculator"]["history"] = [f"{result}={result}"]   # typed the number in, pressed =
    assert not task.check(inst, final, None).success


@pytest.mark.parametrize("kind, expected, answer, good", [
    ("phone", "+1 555-254-1587", "It is 555-254-1587.", True),
    ("phone", "+1 555-254-1587", "+1 555 254 1588", False),
    ("email", "alice.dubois@example.com", "Alice.Dubois@example.com", True),
    ("email", "alice.dubois@example.com", "alice@example.com", False),
    ("text", "Are we still on for lunch tomorrow?", 'They wrote: "Are we still on for lunch tomorrow?"', True),
    ("text", "Are we still on for lunch tomorrow?", "Are we still on for lunch?", False),
    ("name", "Wei Garcia", "wei garcia", True),
    ("name", "Wei Garcia", "Wei", False),
    ("code", "4821", "The door code is 4821.", True),
    ("code", "4821", "48210", False),
    ("code", "F-407", "Room F-407", True),
    ("code", "F-407", "F-4070", False),
    ("number", "102.25", "102.25", True),
    ("number", "102.25", "The result is 102.250", True),
    ("number", "102.25", "102.3", False),
    ("time", "06:45", "6:45 AM", True),
    ("time", "18:05", "6:05 pm", True),
    ("time", "18:05", "06:05", False),
    ("text", "x", None, False),
])
def test_answer_matches(kind, expected, answer, good):
    assert answer_matches(kind, expected, answer).success is good


def test_info_tasks_need_the_answer(phone_state):
    task = all_tasks()["contacts.phone_lookup"]
    inst = _instance(task, phone_state)
    assert task.check(inst, phone_state, inst.params["value"]).success
    assert not task.check(inst, phone_state, None).success
    assert not task.check(inst, phone_state, "+1 555-000-0000").success


def test_find_near_picks_the_node_in_the_same_card():
    xml = ("<?xml version='1.0' ?><hierarchy rotation='0'>"
           "<node text='' content-desc='' resource-id='' class='F' bounds='[0,0][100,200]'>"
           "<node text='' content-desc='' resource-id='p:id/card' class='F' bounds='[0,0][100,100]'>"
           "<node text='06:45' content-desc='' resource-id='' class='T' bounds='[0,0][50,50]'/>"
           "<node text='' content-desc='Delete' resource-id='' class='B' bounds='[50,50][100,100]'/></node>"
           "<node text='' content-desc='' resource-id='p:id/card' class='F' bounds='[0,100][100,200]'>"
           "<node text='07:00' content-desc='' resource-id='' class='T' bounds='[0,100][50,150]'/>"
           "<node text='' content-desc='Delete' resource-id='' class='B' bounds='[50,150][100,200]'/></node>"
           "</node></hierarchy>")
    nodes = parse_nodes(xml)
    assert find(nodes, desc="Delete").center == (75, 75)
    assert find(nodes, near={"text": "07:00"}, desc="Delete").center == (75, 175)
    assert find(nodes, rid="card").bounds == (0, 0, 100, 100)
    assert json.dumps(nodes[0].bounds)


@pytest.mark.adb
def test_setup_on_a_reused_phone_starts_from_the_seeds_fresh_phone():
    """An attached phone that earlier episodes changed (a record added, a setting flipped, an app
    left open) is reset by setup: the instance equals the one a fresh phone with that seed gets."""
    from vlagent.devices import AdbDevice
    from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb

    task = all_tasks()["notes.read_code"]
    instances = []
    with adb_env():
        for phone_seed in (3, 8):  # the second phone was started with another seed and then used
            with SimPhoneServer(width=SMALL[0], height=SMALL[1], density=218, seed=phone_seed) as server:
                connect_adb(server)
                try:
                    with AdbDevice(server.serial, ime_settle=0) as device:
                        env = Env(device)
                        if phone_seed == 8:
                            env.shell("cmd simphone sms +15550100 'left over from an earlier episode'")
                            env.put("wifi", not env.state()["wifi"])
                            env.start("com.android.settings/.Settings")
                        inst = task.setup(env, seed=3)
                        task.teardown(env, inst)
                        instances.append(inst)
                finally:
                    disconnect_adb(server)
    fresh, reused = instances
    assert (reused.goal, reused.params) == (fresh.goal, fresh.params)
    for key in (*SETTINGS_KEYS, *RECORD_KEYS):
        assert reused.initial[key] == fresh.initial[key], key
