"""The SimPhone suite runner: baselines, resuming, infrastructure failures, exact success, the CLI."""

from __future__ import annotations

import json

import pytest

from sim_fixtures import (  # noqa: F401  (adb_server is a fixture)
    SMALL, adb_server, finished_episodes, outcomes, run, run_until_interrupted,
)
from vlagent.bench.baselines import OracleModel, RandomModel, tool_call
from vlagent.bench.runner import EpisodeContext
from vlagent.models.base import Completion

CHEAP = ["settings.wifi", "settings.bluetooth", "system.open_app", "notes.delete", "clock.toggle_alarm"]


def test_random_scores_near_zero(adb_server, tmp_path):
    result = run(tmp_path / "run", models=["random"], tasks=",".join(CHEAP), jobs=2)
    summary = result.summary["all"]
    assert summary["episodes"] == len(CHEAP) and summary["infra"] == 0
    assert summary["success"] <= 1, outcomes(result)
    assert all(r.steps >= 1 for r in result.results)


def test_random_policy_is_seeded():
    a = [RandomModel(7).generate([]).text for _ in range(20)]
    b = [RandomModel(7).generate([]).text for _ in range(20)]
    c = [RandomModel(8).generate([]).text for _ in range(20)]
    assert a == b != c


def test_interrupted_run_resumes_with_the_missing_episodes(adb_server, tmp_path):
    out = tmp_path / "run"
    seen = run_until_interrupted(out, models=["oracle"], tasks=",".join(CHEAP), jobs=1)
    assert finished_episodes(out) == 2
    partial = json.loads((out / "results.json").read_text())
    assert [e["task_id"] for e in partial["episodes"]] == seen and partial["planned"] == len(CHEAP)
    unfinished = [d for d in (out / "episodes").iterdir() if not (d / "result.json").exists()]
    assert len(unfinished) <= 1, "at most the episode in flight was cut short, and it left no result"

    ran = []
    result = run(out, models=["oracle"], tasks=",".join(CHEAP), jobs=2, on_episode=lambda r: ran.append(r.task_id))
    assert sorted(ran) == sorted(set(CHEAP) - set(seen))
    assert (result.ran, result.skipped) == (len(CHEAP) - 2, 2)
    assert finished_episodes(out) == len(CHEAP)
    assert set(outcomes(result).values()) == {"success"}

    again = run(out, models=["oracle"], tasks=",".join(CHEAP), jobs=2)
    assert (again.ran, again.skipped) == (0, len(CHEAP))


def test_a_resume_with_another_model_is_refused(adb_server, tmp_path):
    from vlagent.errors import UserError

    run(tmp_path / "run", models=["oracle"], tasks="system.open_app")
    with pytest.raises(UserError, match="oracle"):
        run(tmp_path / "run", models=["random"], tasks="system.open_app")


def _offline_after_one_step(ctx: EpisodeContext):
    """The oracle, but the phone drops off adb (`cmd simphone fault offline`) during its 2nd step."""
    oracle = OracleModel(ctx.task.solution(ctx.instance.params), ctx.device.ui_tree)

    class Faulty:
        coordinate_system, min_pixels, max_pixels = "relative-1000", oracle.min_pixels, oracle.max_pixels
        calls = 0

        def generate(self, messages, tools=None, **options):
            Faulty.calls += 1
            if Faulty.calls == 2:
                ctx.device.shell("cmd simphone fault offline 0.5")
            return oracle.generate(messages, tools, **options)

    return Faulty()


def test_infrastructure_failure_is_counted_apart(adb_server, tmp_path):
    faults = {"on": True}

    def models(ctx):
        if ctx.task.id == "settings.radios" and faults["on"]:
            return _offline_after_one_step(ctx)
        return OracleModel(ctx.task.solution(ctx.instance.params), ctx.device.ui_tree)

    out = tmp_path / "run"
    result = run(out, models=[models], tasks="settings.radios,settings.wifi", jobs=2,
                 device_options={"reconnect_window": 1.0})
    by_task = {r.task_id: r for r in result.results}
    faulty = by_task["settings.radios"]
    assert faulty.outcome == "infra" and faulty.infra_stage == "run", faulty
    assert "DeviceOffline" in faulty.reason or "DeviceCommandError" in faulty.reason
    assert by_task["settings.wifi"].outcome == "success"
    summary = result.summary["all"]
    assert (summary["success"], summary["failure"], summary["infra"]) == (1, 0, 1)
    assert summary["success_rate"] == 1.0, "infrastructure failures are left out of the rate"

    faults["on"] = False   # a rerun retries the infrastructure failure, on a healthy phone, and nothing else
    ran = []
    rerun = run(out, models=[models], tasks="settings.radios,settings.wifi", on_episode=lambda r: ran.append(r.task_id))
    assert ran == ["settings.radios"] and set(outcomes(rerun).values()) == {"success"}


class _NoTerminate:
    """The oracle's actions, but it never says it is done: it waits instead of terminating."""

    def __init__(self, ctx):
        self.oracle = OracleModel(ctx.task.solution(ctx.instance.params), ctx.device.ui_tree)
        self.coordinate_system, self.min_pixels, self.max_pixels = "relative-1000", 3136, 1003520

    def generate(self, messages, tools=None, **options):
        text = self.oracle.generate(messages, tools).text
        return Completion(tool_call(action="wait", time=0) if '"terminate"' in text else text)


class _SuccessAtOnce:
    coordinate_system, min_pixels, max_pixels = "relative-1000", 3136, 1003520

    def __init__(self, answer=None):
        self.answer = answer

    def generate(self, messages, tools=None, **options):
        args = {"action": "terminate", "status": "success"} | ({"text": self.answer} if self.answer else {})
        return Completion(tool_call(**args))


def test_success_needs_terminate_and_the_check(adb_server, tmp_path):
    def models(ctx):
        if ctx.task.id == "notes.create":
            return _SuccessAtOnce()                          # claims success, did nothing
        if ctx.task.id == "notes.delete":
            return _NoTerminate(ctx)                         # did it all, never terminated
        if ctx.task.id == "notes.read_code":
            return _SuccessAtOnce(answer="1234")             # answers, wrongly
        return OracleModel(ctx.task.solution(ctx.instance.params), ctx.device.ui_tree)

    result = run(tmp_path / "run", models=[models], tasks="notes.*", jobs=2, settle_timeout=0.5)
    by_task = {r.task_id: r for r in result.results}
    created = by_task["notes.create"]
    assert created.outcome == "failure" and created.status == "success" and "new notes" in created.reason
    deleted = by_task["notes.delete"]
    assert deleted.outcome == "failure" and deleted.status == "max_steps"
    assert "the state is as asked" in deleted.reason, "the check passed, terminate was missing"
    assert by_task["notes.read_code"].outcome == "failure"
    assert by_task["notes.append"].outcome == "success"
    assert result.summary["all"]["infra"] == 0


def test_seeds_change_the_episode(adb_server, tmp_path):
    result = run(tmp_path / "run", models=["oracle"], tasks="contacts.delete", seed=4, repeats=2)
    a, b = result.results
    assert (a.seed, b.seed) == (4, 5)
    assert a.params["name"] != b.params["name"] and a.goal != b.goal
    assert {a.outcome, b.outcome} == {"success"}
    assert (tmp_path / "run" / "episodes" / "contacts.delete__s5" / "trajectory.json").exists()


def test_cli_runs_lists_and_summarises(adb_server, tmp_path):
    from typer.testing import CliRunner

    from vlagent.bench.cli import bench_app

    cli = CliRunner()
    listed = cli.invoke(bench_app, ["sim", "--list", "--tasks", "clock.*"])
    assert listed.exit_code == 0, listed.output
    assert "clock.add_alarm" in listed.output and "settings.wifi" not in listed.output
    out = tmp_path / "cli"
    ran = cli.invoke(bench_app, ["sim", "--model", "oracle", "--out", str(out), "-j", "2", "--tasks",
                                 "settings.wifi,system.open_app", "--seed", "2", "--sim-size", "x".join(map(str, SMALL))])
    assert ran.exit_code == 0, ran.output
    data = json.loads((out / "results.json").read_text())
    assert data["summary"]["all"]["success"] == 2 and (out / "report.html").exists()
    assert "SimPhone suite" in ran.output and "2 episodes run" in ran.output
    bad = cli.invoke(bench_app, ["sim", "--out", str(tmp_path / "x"), "--tasks", "nope.*"])
    assert bad.exit_code == 2 and "no task matches" in bad.output
    assert cli.invoke(bench_app, ["sim", "--model", "oracle"]).exit_code == 2, "--out is needed to run"


def test_runs_on_attached_phones_reused_between_episodes(adb_server, tmp_path):
    """--device adb:SERIAL,...: SimPhones already on adb (as `vlagent sim` serves them), one per
    worker, several episodes each: setup resets the UI, checks compare with the state after setup."""
    from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb

    servers = [SimPhoneServer(width=SMALL[0], height=SMALL[1], density=218, seed=9 + i).start() for i in range(2)]
    try:
        for server in servers:
            connect_adb(server)
        tasks = "notes.create,notes.delete,clock.add_alarm,settings.wifi,contacts.delete,messages.reply"
        result = run(tmp_path / "run", models=["oracle"], tasks=tasks, jobs=4,
                     devices=[f"adb:{s.serial}" for s in servers])
        assert set(outcomes(result).values()) == {"success"}, [(r.task_id, r.reason) for r in result.results]
        assert {r.device.rsplit("adb ", 1)[-1].rstrip(")") for r in result.results} == {s.serial for s in servers}
        import adbutils

        client = adbutils.AdbClient(port=adb_server)
        states = [json.loads(client.device(s.serial).shell("cmd simphone state")) for s in servers]
        assert all(st["foreground"]["package"] == "com.android.launcher3" and not st["background_tasks"]
                   for st in states), "teardown leaves the phone on its home screen"
    finally:
        for server in servers:
            disconnect_adb(server)
            server.stop()


def test_model_urls_spread_over_workers():
    """--model URL1,URL2: one OpenAIModel per server (vlagent.load_model), worker i on URL i mod 2."""
    from vlagent.bench.baselines import ModelPool

    pool = ModelPool(["http://gpu1:8000/v1#Qwen/Qwen2.5-VL-7B-Instruct", "http://gpu2:8000/v1"], max_pixels=800_000)
    ctx = None   # served models do not look at the episode
    models = [pool.build(i, ctx) for i in range(4)]
    assert [m.base_url for m in models] == ["http://gpu1:8000", "http://gpu2:8000"] * 2
    assert models[0] is models[2] and models[1] is models[3], "one client per server, shared by its workers"
    assert models[0].coordinate_system == "smart-resized" and models[1].coordinate_system == "relative-1000"
    assert models[0].max_pixels == 800_000
    assert pool.describe(3) == "http://gpu2:8000/v1"


def test_a_loaded_model_keeps_a_prompt_cache_per_worker_that_shares_it(tiny_model_path):
    """-j 4 on threads over one checkpoint: its four episodes take turns on it, and each keeps its
    own prompt cache (test_incremental_prefill checks what that buys); two checkpoints split them."""
    from vlagent.bench.baselines import ModelPool

    alone = ModelPool([str(tiny_model_path)], workers=4).build(0, None)
    assert alone._prefill.prompt.slots == 4
    pair = ModelPool([str(tiny_model_path), f"{tiny_model_path}/."], workers=4)
    assert [pair.build(i, None)._prefill.prompt.slots for i in range(2)] == [2, 2]


class _BuggyModel:
    """A model whose own code fails (a custom backend's bug): the agent's error, not the phone's."""

    coordinate_system, min_pixels, max_pixels = "relative-1000", 3136, 1003520

    def generate(self, messages, tools=None, **options):
        raise KeyError("logits")


def test_an_error_the_agent_causes_is_a_failure_not_infrastructure(adb_server, tmp_path):
    out = tmp_path / "run"
    result = run(out, models=[lambda ctx: _BuggyModel()], tasks="settings.wifi")
    (episode,) = result.results
    assert episode.outcome == "failure" and episode.status == "error" and episode.infra_stage is None
    assert "the agent failed: KeyError: 'logits'" in episode.reason
    summary = result.summary["all"]
    assert (summary["failure"], summary["infra"], summary["success_rate"]) == (1, 0, 0.0)
    ran = []  # scored: a rerun keeps it, unlike an infrastructure failure
    run(out, models=[lambda ctx: _BuggyModel()], tasks="settings.wifi", on_episode=lambda r: ran.append(r))
    assert ran == []
