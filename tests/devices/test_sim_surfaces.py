"""The surfaces of issue #18 through the real adb binary: notifications (status bar, shade,
heads-up, `cmd statusbar`, `cmd notification`, `dumpsys notification`), the package installer
(`pm install`, the VIEW intent's dialogs, install unknown apps), the browser's address bar, the
dialer (DIAL / CALL, `dumpsys telephony.registry`) and the new settings (location, mobile data,
VPN, developer options, USB debugging, appops).

Expected shapes are the real phone's, from AOSP frameworks/base (Android 14): NotificationRecord.dump
and toString (services/.../notification/NotificationRecord.java), StatusBarShellCommand,
NotificationShellCommand, PackageManagerShellCommand.runInstall, PackageInstaller's strings
(packages/PackageInstaller res/values/strings.xml), TelephonyRegistry.dump, Uri.toSafeString,
AppOpsService's shell command and SettingsProvider's keys.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.adb

MESSAGES = "com.google.android.apps.messaging"
APK = "SimPhone APK\npackage=com.example.flashlight\nlabel=Flashlight\nversionName=2.1\n"


def _ok(out) -> str:
    assert out.returncode == 0 and out.stderr == b"", out
    return out.stdout.decode()


def _tap(adb, run, serial, **match) -> None:
    x, y = adb.tap_target(serial, **match)
    _ok(run("input", "tap", str(x), str(y)))


# --- notifications -----------------------------------------------------------------------------


def test_a_posted_notification_shows_in_the_status_bar_heads_up_and_state(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("cmd", "simphone", "notify", MESSAGES, "'Ada Lovelace'", "'Lunch at noon?'"))
    state = adb.state(serial)
    key = f"0|{MESSAGES}|1|null|10121"   # StatusBarNotification.key: user|pkg|id|tag|uid
    assert state["notifications"] == [{"key": key, "package": MESSAGES, "title": "Ada Lovelace",
                                       "text": "Lunch at noon?", "uri": None, "time": state["time"]}]
    assert state["heads_up"] == key and not state["shade_open"]
    assert 'content-desc="Messages notification"' in adb.ui(serial)   # the status bar's notification icons
    usage = run("cmd", "simphone", "notify", "com.example.nothere", "T", "x")
    assert usage.returncode == 1 and b"unknown package com.example.nothere" in usage.stderr
    assert "notify [--tag TAG] [--id N] [--uri URI] PACKAGE TITLE" in _ok(run("cmd", "simphone", "help"))


def test_dumpsys_notification_lists_records_in_notificationrecords_shape(sim_shell):
    run, _ = sim_shell
    _ok(run("cmd", "simphone", "notify", MESSAGES, "Bank", "'code 123456'"))
    _ok(run("cmd", "notification", "post", "-t", "Hello", "mytag", "'from the shell'"))   # silent, as on a phone
    out = _ok(run("dumpsys", "notification", "--noredact"))
    assert out.startswith("Current Notification Manager state:\n  Notification List:\n")
    records = re.findall(r"^    NotificationRecord\(0x[0-9a-f]{8}: pkg=(\S+) user=UserHandle\{0\} id=(\d+) tag=(\S+) "
                         r"importance=\d key=(\S+): Notification\(channel=(\S+) .*vis=PRIVATE\)\)$", out, re.M)
    # newest first; NotificationShellCommand posts as com.android.shell, id 2020, channel shell_cmd
    assert records == [("com.android.shell", "2020", "mytag", "0|com.android.shell|2020|mytag|2000", "shell_cmd"),
                       (MESSAGES, "1", "null", f"0|{MESSAGES}|1|null|10121", "default")]
    assert "\n      uid=2000 userId=0\n      opPkg=com.android.shell\n" in out
    # extras: the notification's prefix (two prefix2s, 12 spaces) and four more
    extras = "\n" + " " * 16 + "android.title=String (Hello)\n" + " " * 16 + "android.text=String (from the shell)\n"
    assert extras in out
    redacted = _ok(run("dumpsys", "notification"))   # without --noredact a text extra shows its length only
    assert "android.text=String [length=11]" in redacted and "code 123456" not in redacted


def test_the_shade_opens_from_the_status_bar_and_a_tap_opens_the_posting_app(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("cmd", "simphone", "notify", MESSAGES, "Ada", "hello"))
    _ok(run("cmd", "statusbar", "expand-notifications"))   # StatusBarShellCommand: silent
    assert adb.state(serial)["shade_open"]
    _ok(run("cmd", "statusbar", "collapse"))
    assert not adb.state(serial)["shade_open"]
    _ok(run("input", "swipe", "540", "10", "540", "1200"))   # pull down from the status bar, as a user does
    assert adb.state(serial)["shade_open"]
    _tap(adb, run, serial, text="Ada", **{"resource-id": "android:id/title"})
    state = adb.state(serial)
    assert state["foreground"]["package"] == MESSAGES and state["notifications"] == [] and not state["shade_open"]


def test_a_notification_with_a_uri_sends_it_from_the_posting_app(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("cmd", "simphone", "notify", "--uri", "https://example.com/", "com.android.chrome", "Page", "open"))
    _ok(run("input", "keyevent", "KEYCODE_NOTIFICATION"))
    _tap(adb, run, serial, text="Page")
    assert adb.state(serial)["browser_url"] == "https://example.com/"


# --- package installer -------------------------------------------------------------------------


def _push_apk(adb, serial, tmp_path, text: str = APK, name: str = "flashlight.apk") -> str:
    local = tmp_path / name
    local.write_text(text)
    assert adb("push", str(local), f"/sdcard/Download/{name}", serial=serial).returncode == 0
    return f"/sdcard/Download/{name}"


def test_pm_install_installs_a_pushed_apk_which_is_then_listed_and_launchable(adb, sim_shell, tmp_path):
    run, serial = sim_shell
    path = _push_apk(adb, serial, tmp_path)
    assert _ok(run("pm", "install", path)) == "Success\n"   # PackageManagerShellCommand.runInstall
    assert "package:com.example.flashlight\n" in _ok(run("pm", "list", "packages", "-3"))
    assert _ok(run("am", "start", "-n", "com.example.flashlight/.Main")).startswith("Starting: Intent {")
    state = adb.state(serial)
    assert state["foreground"] == {"package": "com.example.flashlight", "activity": ".Main"}
    assert state["installed_packages"] == [{"package": "com.example.flashlight", "label": "Flashlight",
                                            "installer": "com.android.shell"}]
    assert _ok(run("pm", "uninstall", "com.example.flashlight")) == "Success\n"
    assert _ok(run("pm", "list", "packages", "flashlight")) == ""


def test_pm_install_failures_answer_as_android_does(adb, sim_shell, tmp_path):
    run, serial = sim_shell
    missing = run("pm", "install", "/sdcard/Download/none.apk")
    assert missing.returncode == 255 and b"java.lang.IllegalArgumentException: Error: Can't open file: " \
        b"/sdcard/Download/none.apk" in missing.stderr
    junk = run("pm", "install", _push_apk(adb, serial, tmp_path, "not an apk\n", "junk.apk"))
    assert junk.returncode == 1 and junk.stdout.startswith(b"Failure [INSTALL_PARSE_FAILED_NOT_APK: ")
    system = _push_apk(adb, serial, tmp_path, "SimPhone APK\npackage=com.android.settings\n", "evil.apk")
    assert run("pm", "install", system).stdout.startswith(b"Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE: ")
    assert run("pm", "uninstall", "com.android.settings").stdout == b"Failure [DELETE_FAILED_INTERNAL_ERROR]\n"


def test_a_view_intent_for_an_apk_asks_before_installing(adb, sim_shell, tmp_path):
    run, serial = sim_shell
    path = _push_apk(adb, serial, tmp_path)
    out = _ok(run("am", "start", "-a", "android.intent.action.VIEW", "-d", f"file://{path}", "-t",
                  "application/vnd.android.package-archive"))
    assert out == (f"Starting: Intent {{ act=android.intent.action.VIEW dat=file://{path} "
                   "typ=application/vnd.android.package-archive }\n")   # Uri.toSafeString keeps a file path
    ui = adb.ui(serial)
    assert 'text="Do you want to install this app?"' in ui and 'text="Cancel"' in ui
    assert adb.state(serial)["installed_packages"] == []   # nothing before the user says Install
    _tap(adb, run, serial, text="Install")
    assert 'text="App installed."' in adb.ui(serial)
    _tap(adb, run, serial, text="Open")
    assert adb.state(serial)["foreground"]["package"] == "com.example.flashlight"


def test_an_apk_from_an_app_without_install_access_is_blocked_until_settings_allows_it(adb, sim_shell, tmp_path):
    run, serial = sim_shell
    path = _push_apk(adb, serial, tmp_path)
    assert _ok(run("appops", "get", "com.android.chrome", "REQUEST_INSTALL_PACKAGES")) == "No operations.\n"
    _ok(run("cmd", "simphone", "notify", "--uri", f"file://{path}", "com.android.chrome", "flashlight.apk",
            "'Download complete.'"))
    _ok(run("cmd", "statusbar", "expand-notifications"))
    _tap(adb, run, serial, text="flashlight.apk")
    ui = adb.ui(serial)
    assert "For your security, your phone currently isn&apos;t allowed to install unknown apps from this source." in ui
    _tap(adb, run, serial, text="Settings")
    _tap(adb, run, serial, **{"resource-id": "com.android.settings:id/unknown_sources_switch"})
    assert _ok(run("appops", "get", "com.android.chrome")) == "REQUEST_INSTALL_PACKAGES: allow\n"
    _ok(run("input", "keyevent", "KEYCODE_BACK"))
    _tap(adb, run, serial, text="Install")
    state = adb.state(serial)
    assert state["install_unknown_apps"] == {"com.android.chrome": True}
    assert state["installed_packages"][0]["installer"] == "com.android.chrome"


# --- browser address bar -----------------------------------------------------------------------


def test_the_address_bar_takes_a_typed_url(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("cmd", "simphone", "page", "https://fair.example.org/day", "'Room B-204 today.'"))
    _ok(run("am", "start", "-n", "com.android.chrome/com.google.android.apps.chrome.Main"))
    _tap(adb, run, serial, **{"resource-id": "com.android.chrome:id/url_bar"})
    assert adb.state(serial)["focused_field"]["text"] == "https://example.com/"   # selected, to type over
    _ok(run("input", "text", "fair.example.org/day"))
    _ok(run("input", "keyevent", "KEYCODE_ENTER"))
    assert adb.state(serial)["browser_url"] == "https://fair.example.org/day"
    assert 'text="Room B-204 today."' in adb.ui(serial)
    _tap(adb, run, serial, **{"resource-id": "com.android.chrome:id/url_bar"})
    _ok(run("input", "text", "nothere.example.net"))
    _ok(run("input", "keyevent", "KEYCODE_ENTER"))
    assert adb.state(serial)["browser_url"] == "https://nothere.example.net"   # https:// added, as Chrome does


# --- dialer ------------------------------------------------------------------------------------


def test_dial_and_call_intents_and_the_telephony_registry(adb, sim_shell):
    run, serial = sim_shell
    # Uri.toSafeString hides a tel: number's digits
    assert _ok(run("am", "start", "-a", "android.intent.action.DIAL", "-d", "tel:555-0134")) == \
        "Starting: Intent { act=android.intent.action.DIAL dat=tel:xxx-xxxx }\n"
    state = adb.state(serial)
    assert state["foreground"]["package"] == "com.android.dialer" and state["screen"]["digits"] == "555-0134"
    assert state["call"] == {"state": "idle", "number": None}
    assert "\n    mCallState=0\n" in _ok(run("dumpsys", "telephony.registry"))
    _tap(adb, run, serial, **{"content-desc": "dial"})
    state = adb.state(serial)
    assert state["call"] == {"state": "offhook", "number": "555-0134"}
    assert [c["number"] for c in state["calls"]] == ["555-0134"]
    out = _ok(run("dumpsys", "telephony.registry"))
    assert out.startswith("last known state:\n  Phone Id=0\n    mCallState=2\n")   # CALL_STATE_OFFHOOK
    _tap(adb, run, serial, **{"content-desc": "End call"})
    assert adb.state(serial)["call"]["state"] == "idle"
    _ok(run("am", "start", "-a", "android.intent.action.CALL", "-d", "tel:5550199"))
    assert adb.state(serial)["call"] == {"state": "offhook", "number": "5550199"}


# --- settings ----------------------------------------------------------------------------------


def test_new_settings_keys_get_and_put(adb, sim_shell):
    run, serial = sim_shell
    # SettingsProvider: location_mode 3 = LOCATION_MODE_ON; adb is on, so developer options are too
    assert _ok(run("settings", "get", "secure", "location_mode")) == "3\n"
    for ns, key in (("global", "mobile_data"), ("global", "adb_enabled"), ("global", "development_settings_enabled")):
        assert _ok(run("settings", "get", ns, key)) == "1\n"
    _ok(run("settings", "put", "secure", "location_mode", "0"))
    _ok(run("settings", "put", "global", "mobile_data", "0"))
    state = adb.state(serial)
    assert (state["location"], state["mobile_data"], state["usb_debugging"]) == (False, False, True)
    assert "location_mode=0\n" in _ok(run("settings", "list", "secure"))
    bad = run("appops", "set", "com.android.chrome", "REQUEST_INSTALL_PACKAGES", "maybe")
    assert bad.returncode == 255 and bad.stderr == b"Error: Mode maybe is not valid\n"


def test_vpn_asks_for_the_connection_request_and_shows_a_key(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("am", "start", "-n", "com.android.settings/.Settings"))
    _tap(adb, run, serial, text="Network & internet")
    _tap(adb, run, serial, text="VPN")
    _tap(adb, run, serial, **{"resource-id": "com.android.settings:id/vpn_switch"})
    state = adb.state(serial)
    assert state["popup"]["title"] == "Connection request" and not state["vpn"]
    _tap(adb, run, serial, text="OK")
    assert adb.state(serial)["vpn"]
    assert 'content-desc="VPN on, Battery 100 percent."' in adb.ui(serial)


def test_developer_options_appear_after_seven_build_number_taps(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("settings", "put", "global", "development_settings_enabled", "0"))
    _ok(run("am", "start", "-n", "com.android.settings/.Settings"))
    _ok(run("input", "swipe", "540", "2000", "540", "300"))
    _tap(adb, run, serial, text="System")
    assert 'text="Developer options"' not in adb.ui(serial)
    _ok(run("input", "keyevent", "KEYCODE_BACK"))
    _tap(adb, run, serial, text="About phone")
    x, y = adb.tap_target(serial, **{"resource-id": "com.android.settings:id/build_number"})
    for _ in range(6):
        _ok(run("input", "tap", str(x), str(y)))
    assert adb.state(serial)["screen"]["toast"] == "You are now 1 step away from being a developer."
    _ok(run("input", "tap", str(x), str(y)))
    assert adb.state(serial)["screen"]["toast"] == "You are now a developer!"
    assert _ok(run("settings", "get", "global", "development_settings_enabled")) == "1\n"
    _ok(run("input", "keyevent", "KEYCODE_BACK"))
    _tap(adb, run, serial, text="System")
    _tap(adb, run, serial, text="Developer options")
    _tap(adb, run, serial, **{"resource-id": "com.android.settings:id/usb_debugging_switch"})   # on -> off
    assert _ok(run("settings", "get", "global", "adb_enabled")) == "0\n"
