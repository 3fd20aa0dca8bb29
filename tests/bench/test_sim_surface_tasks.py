"""The tasks on issue #18's surfaces (notifications, installer, browser address bar, dialer, privacy
settings): their checks on hand-made states, and the oracle solving every one of them."""

from __future__ import annotations

import copy

import pytest

from sim_fixtures import adb_server, outcomes, run  # noqa: F401  (adb_server is a fixture)
from vlagent.bench.tasks import TaskInstance, all_tasks, select

PATTERNS = "notifications.*,installer.*,browser.go_to_url,dialer.*,privacy.*"
CHROME = "com.android.chrome"


def _state(**changes) -> dict:
    """A minimal phone state with the keys the checks read (and the ones they guard)."""
    base = {"wifi": False, "bluetooth": False, "airplane": False, "dark_theme": False, "brightness": 128,
            "volume": 8, "auto_rotate": False, "location": True, "mobile_data": True, "vpn": False,
            "developer_options": True, "usb_debugging": True, "install_unknown_apps": {},
            "contacts": [], "messages": [], "alarms": [], "notes": [], "calls": [], "installed_packages": [],
            "notifications": [], "call": {"state": "idle", "number": None},
            "foreground": {"package": "com.android.launcher3", "activity": ".Launcher"}, "browser_url": None}
    base.update(copy.deepcopy(changes))
    return base


def _check(task_id: str, final: dict, initial: dict | None = None, answer: str | None = None, seed: int = 0):
    task = all_tasks()[task_id]
    initial = initial or _state()
    params, goal = task.instance(seed, initial)
    return task.check(TaskInstance(task_id, seed, goal, params, initial, task.max_steps), final, answer), params


def test_every_surface_has_tasks():
    ids = {t.id for t in select(PATTERNS)}
    assert {"notifications.read_code", "notifications.open", "installer.install_apk", "installer.unknown_source",
            "browser.go_to_url", "dialer.call_number", "privacy.location", "privacy.mobile_data", "privacy.vpn",
            "privacy.developer_options", "privacy.usb_debugging", "privacy.unknown_apps"} <= ids


def test_dialer_check_wants_one_call_to_that_number_hung_up():
    _, p = _check("dialer.call_number", _state())
    call = {"id": 1, "number": p["number"].replace("-", ""), "name": None, "direction": "outgoing", "time": "09:30"}
    assert _check("dialer.call_number", _state(calls=[call]))[0].success
    assert not _check("dialer.call_number", _state(calls=[call], call={"state": "offhook", "number": "1"}))[0].success
    wrong = {**call, "number": "5550000"}
    assert not _check("dialer.call_number", _state(calls=[wrong]))[0].success
    assert not _check("dialer.call_number", _state(calls=[call, {**call, "id": 2}]))[0].success


def test_installer_checks_want_that_package_from_the_browser_and_nothing_else():
    _, p = _check("installer.install_apk", _state())
    entry = {"package": p["package"], "label": p["label"], "installer": CHROME}
    assert _check("installer.install_apk", _state(installed_packages=[entry]))[0].success
    assert not _check("installer.install_apk", _state(installed_packages=[{**entry, "installer": "x"}]))[0].success
    # the unknown-source task also needs the Browser allowed; the plain one must leave that alone
    assert not _check("installer.install_apk", _state(installed_packages=[entry],
                                                      install_unknown_apps={CHROME: True}))[0].success
    _, q = _check("installer.unknown_source", _state())
    other = {"package": q["package"], "label": q["label"], "installer": CHROME}
    assert _check("installer.unknown_source", _state(installed_packages=[other],
                                                     install_unknown_apps={CHROME: True}))[0].success
    assert not _check("installer.unknown_source", _state(installed_packages=[other]))[0].success
    # an app installed by a task that does not ask for one is a side effect
    assert not _check("privacy.location", _state(installed_packages=[entry]))[0].success


def test_notification_open_check_wants_that_one_opened_and_the_others_kept():
    _, p = _check("notifications.open", _state())
    others = [{"title": o[2]} for o in p["others"]]
    front = {"package": p["package"], "activity": ".Main"}
    assert _check("notifications.open", _state(notifications=others, foreground=front))[0].success
    assert not _check("notifications.open", _state(notifications=others[:1], foreground=front))[0].success
    kept = others + [{"title": p["title"]}]
    assert not _check("notifications.open", _state(notifications=kept, foreground=front))[0].success


def test_privacy_checks_guard_the_other_settings():
    _, p = _check("privacy.vpn", _state())
    assert _check("privacy.vpn", _state(vpn=p["on"]))[0].success
    assert not _check("privacy.vpn", _state(vpn=p["on"], usb_debugging=False))[0].success   # not asked for
    assert not _check("privacy.developer_options", _state(developer_options=False),
                      initial=_state(developer_options=False))[0].success
    result, _ = _check("privacy.unknown_apps", _state(install_unknown_apps={CHROME: True}), seed=1)
    _, p1 = _check("privacy.unknown_apps", _state(), seed=1)
    assert result.success == p1["on"]


def test_browser_url_check_wants_the_address_and_the_answer():
    _, p = _check("browser.go_to_url", _state())
    assert _check("browser.go_to_url", _state(browser_url=p["url"]), answer=p["room"])[0].success
    assert not _check("browser.go_to_url", _state(browser_url="https://example.com/"), answer=p["room"])[0].success
    assert not _check("browser.go_to_url", _state(browser_url=p["url"]), answer="Z-999")[0].success


@pytest.mark.slow  # ~9 s; the default suite checks each task's check, the slow tier runs the oracle on all tasks
def test_the_oracle_solves_every_surface_task(adb_server, tmp_path):
    result = run(tmp_path / "run", models=["oracle"], tasks=PATTERNS, jobs=2, seed=7)
    assert len(result.results) == len(select(PATTERNS))
    assert set(outcomes(result).values()) == {"success"}, {r.task_id: r.reason for r in result.results
                                                            if r.outcome != "success"}
