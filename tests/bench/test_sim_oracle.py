"""The oracle model solves every task within its budget: each task is solvable and its check right."""

from __future__ import annotations

import pytest

from sim_fixtures import adb_server, outcomes, run  # noqa: F401  (adb_server is a fixture)
from vlagent.bench.tasks import all_tasks

# One task or two per app, the cheap ones: the full suite is the slow test below.
SUBSET = ["settings.brightness", "contacts.add_phone", "messages.send_contact", "clock.delete_alarm",
          "calculator.divide", "notes.append", "browser.raffle_number", "cross.share_number"]


def _assert_all_solved(result, n: int) -> None:
    assert len(result.results) == n
    bad = {r.task_id: (r.outcome, r.reason, r.status) for r in result.results if r.outcome != "success"}
    assert not bad, bad
    for r in result.results:
        assert r.steps <= r.max_steps == round(10 * r.complexity)
        assert r.goal and r.step_seconds and len(r.step_seconds) == r.steps


def test_oracle_solves_a_subset(adb_server, tmp_path):
    result = run(tmp_path / "run", models=["oracle"], tasks=",".join(SUBSET), jobs=2, seed=11)
    _assert_all_solved(result, len(SUBSET))
    assert result.summary["all"]["success_rate"] == 1.0


@pytest.mark.slow
def test_oracle_solves_every_task(adb_server, tmp_path):
    result = run(tmp_path / "run", models=["oracle"], jobs=2, seed=3)
    _assert_all_solved(result, len(all_tasks()))
    assert set(outcomes(result).values()) == {"success"}
    assert result.summary["all"]["infra"] == 0


@pytest.mark.slow  # ~12 s; the slow tier's guarded sweep covers every task over 3 seeds too
def test_the_guard_costs_the_oracle_no_task_the_user_asked_for(adb_server, tmp_path):
    """Under ask, answered by each task's user (who approves what the goal asks for), no task is
    lost to a false alarm; under deny the same guard stops the sends and deletions the goals ask for."""
    from vlagent.bench.tasks import approving_user
    from vlagent.policy import Policy

    asked = run(tmp_path / "user", models=["oracle"], tasks=",".join(SUBSET), jobs=2, seed=11, policy=approving_user)
    _assert_all_solved(asked, len(SUBSET))
    denied = run(tmp_path / "deny", models=["oracle"], tasks=",".join(SUBSET), jobs=2, seed=11, policy=Policy("deny"))
    lost = {r.task_id for r in denied.results if r.outcome != "success"}
    assert lost == {"messages.send_contact", "clock.delete_alarm", "cross.share_number"}
    assert all(r.blocked for r in denied.results if r.task_id in lost)


@pytest.mark.slow
def test_the_guard_costs_the_oracle_no_task_on_any_seed(adb_server, tmp_path):
    from vlagent.bench.tasks import approving_user

    result = run(tmp_path / "run", models=["oracle"], jobs=2, seed=3, repeats=3, policy=approving_user)
    _assert_all_solved(result, 3 * len(all_tasks()))
