"""SimPhone's shell commands answer as an Android 13/14 phone does (issue #18): the same output
shapes, exit codes and stdout/stderr split, through the real adb binary (shell v2 keeps the two
streams and the exit status apart) and adbutils, with each command's effect read back from
`cmd simphone state`. The expected shapes come from AOSP and toybox sources, named per test.

One SimPhone serves the whole module; every test starts from `cmd simphone reset` (sim_shell, conftest.py).
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

pytestmark = pytest.mark.adb

DISPLAY_ID = "4619827259835644672"


def _ok(out) -> str:
    assert out.returncode == 0 and out.stderr == b"", out
    return out.stdout.decode()


def _fails(out, status: int) -> str:
    assert out.returncode == status, out
    return out.stderr.decode()


# --- am: VIEW intents, the task list -----------------------------------------------------------


def test_view_intent_loads_the_url_in_the_browser(adb, adb_client, sim_shell):
    run, serial = sim_shell
    # ActivityManagerShellCommand prints Intent.toShortString; Uri.toSafeString hides a web URL's path
    assert _ok(run("am", "start", "-a", "android.intent.action.VIEW", "-d", "https://example.com")) == \
        "Starting: Intent { act=android.intent.action.VIEW dat=https://example.com/... }\n"
    state = adb.state(serial)
    assert state["foreground"]["package"] == "com.android.chrome"
    assert state["browser_url"] == "https://example.com/"   # the address as the browser normalises it
    assert 'text="The pocket calculator"' in adb.ui(serial)   # the reader page is served at example.com
    # another address: SimPhone has no internet, so Chrome's error page (Wi-Fi is off at reset)
    adb_client.device(serial).open_browser("news.example.org/today")
    assert adb.state(serial)["browser_url"] == "https://news.example.org/today"
    assert 'text="No internet"' in adb.ui(serial)


def test_am_stack_list_and_remove(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("am", "start", "-n", "com.android.settings/.Settings"))
    listing = _ok(run("am", "stack", "list"))
    # ActivityTaskManager.RootTaskInfo.toString, front first, one blank line after each (println)
    tasks = re.findall(r"^RootTask id=(\d+) bounds=\[0,0\]\[1080,2400\] displayId=0 userId=0\n"
                       r" configuration=\{.*\}\n"
                       r"  taskId=(\d+): (\S+) bounds=\[0,0\]\[1080,2400\] userId=0 visible=(true|false) "
                       r"topActivity=ComponentInfo\{(\S+)\}\n\n", listing, re.M)
    assert [(t[2], t[3]) for t in tasks] == [("com.android.settings/com.android.settings.Settings", "true"),
                                             ("com.android.launcher3/com.android.launcher3.Launcher", "false")]
    settings_id = tasks[0][0]
    assert tasks[0][1] == settings_id and tasks[1][0] == "1"
    assert _ok(run("am", "stack", "remove", settings_id)) == ""
    state = adb.state(serial)
    assert state["foreground"]["package"] == "com.android.launcher3"
    assert "com.android.settings" not in state["background_tasks"]
    # a non-number: the shell command's exception, exit status 255 (BasicShellCommandHandler)
    out = run("am", "stack", "remove", "abc")
    assert out.stdout == b"" and "java.lang.NumberFormatException: For input string: \"abc\"" in _fails(out, 255)


def test_dumpsys_activity_recents_is_the_recents_dump(sim_shell):
    run, _ = sim_shell
    for component in ("com.android.contacts/.activities.PeopleActivity", "com.android.deskclock/.DeskClock"):
        _ok(run("am", "start", "-n", component))
        _ok(run("input", "keyevent", "KEYCODE_HOME"))
    _ok(run("am", "start", "-n", "com.android.settings/.Settings"))
    dump = _ok(run("dumpsys", "activity", "recents"))
    # RecentTasks.dump: its header, then Task.toString per task, most recent first
    assert dump.startswith("ACTIVITY MANAGER RECENT TASKS (dumpsys activity recents)\nmRecentsUid=")
    recents = re.findall(r"^  \* Recent #(\d): Task\{[0-9a-f]+ #\d+ type=standard A=\d+:(\S+) U=0 ", dump, re.M)
    assert recents == [("0", "com.android.settings"), ("1", "com.android.deskclock"), ("2", "com.android.contacts")]
    assert "ACTIVITY MANAGER ACTIVITIES" not in dump


# --- display, input, window, power -------------------------------------------------------------


def test_dumpsys_input_viewport_and_window_rotation(adb_client, sim_shell):
    run, serial = sim_shell
    # frameworks/native DisplayViewport::toString: frames as [l, t, r, b], not Java's Rect(l, t - r, b)
    viewport = ("Viewport INTERNAL: displayId=0, uniqueId=local:4619827259835644672, port=0, orientation={r}, "
                "logicalFrame=[0, 0, {w}, {h}], physicalFrame=[0, 0, {w}, {h}], deviceSize=[{w}, {h}], "
                "isActive=[1]")
    dump = _ok(run("dumpsys", "input"))
    assert viewport.format(r=0, w=1080, h=2400) in dump and "Rect(" not in dump
    # WindowOrientationListener.dump inside DisplayRotation: Surface.rotationToString (degrees)
    assert re.findall(r"mCurrentRotation=(\S+)", _ok(run("dumpsys", "window"))) == ["ROTATION_0"]
    _ok(run("cmd", "simphone", "rotate", "1"))
    assert viewport.format(r=1, w=2400, h=1080) in _ok(run("dumpsys", "input"))
    assert re.findall(r"mCurrentRotation=(\S+)", _ok(run("dumpsys", "window"))) == ["ROTATION_90"]
    assert adb_client.device(serial).rotation() == 1


def _power(run) -> tuple[str, str, str]:
    dump = _ok(run("dumpsys", "power"))
    # PowerManagerService.dumpInternal; "Display Power: state=" is DisplayPowerCallbacks.toString
    return (re.search(r"^  mWakefulness=(\w+)$", dump, re.M).group(1),
            re.search(r"^  mHoldingDisplaySuspendBlocker=(\w+)$", dump, re.M).group(1),
            re.search(r"^Display Power: state=(\w+)$", dump, re.M).group(1))


def test_power_keys_sleep_and_wake_the_screen(adb, adb_client, sim_shell):
    run, serial = sim_shell
    d = adb_client.device(serial)
    assert _power(run) == ("Awake", "true", "ON") and d.is_screen_on()
    _ok(run("input", "keyevent", "KEYCODE_POWER"))
    assert _power(run) == ("Asleep", "false", "OFF") and not d.is_screen_on()
    assert adb.state(serial)["screen_on"] is False
    png = adb("exec-out", "screencap", "-p", serial=serial).stdout
    assert Image.open(io.BytesIO(png)).convert("L").getextrema() == (0, 0)   # a sleeping screen is black
    assert "mAwake=false" in _ok(run("dumpsys", "window"))
    _ok(run("input", "keyevent", "KEYCODE_POWER"))     # the power key toggles
    assert _power(run) == ("Awake", "true", "ON")
    _ok(run("input", "keyevent", "223"))               # KEYCODE_SLEEP only sleeps
    _ok(run("input", "keyevent", "223"))
    assert _power(run)[0] == "Asleep"
    d.switch_screen(True)                              # KEYCODE_WAKEUP (224)
    assert _power(run) == ("Awake", "true", "ON") and adb.state(serial)["screen_on"] is True


def test_surfaceflinger_display_id_is_what_screencap_takes(adb, adb_client, sim_shell):
    run, serial = sim_shell
    # SurfaceFlinger::dumpDisplayIdentificationData: the physical display id, HWC id, port, EDID name
    assert re.fullmatch(r"Display (\d+) \(HWC display 0\): port=0 pnpId=\w+ displayName=\"[^\"]+\"\n",
                        _ok(run("dumpsys", "SurfaceFlinger", "--display-id"))).group(1) == DISPLAY_ID
    png = adb("exec-out", "screencap", "-d", DISPLAY_ID, "-p", serial=serial).stdout
    assert Image.open(io.BytesIO(png)).size == (1080, 2400)
    assert adb_client.device(serial).screenshot(display_id=0).size == (1080, 2400)
    # screencap.cpp: an id no display has fails the capture; a non-number is refused
    out = run("screencap", "-d", "0")
    assert out.stdout == b"" and "Capturing failed." in _fails(out, 1)
    assert _fails(run("screencap", "-d", "abc"), 1) == "Invalid display ID: Out of range [0, 2^64).\n"


# --- pm --------------------------------------------------------------------------------------------


def test_pm_list_packages_filters(adb_client, sim_shell):
    run, serial = sim_shell
    # PackageManagerShellCommand.runListPackages: -3 third-party, -s system, -e enabled, -d disabled
    assert _ok(run("pm", "list", "packages", "-3")) == "package:com.android.adbkeyboard\npackage:com.simphone.notes\n"
    system = _ok(run("pm", "list", "packages", "-s")).splitlines()
    assert "package:com.android.settings" in system and "package:com.simphone.notes" not in system
    assert len(_ok(run("pm", "list", "packages", "-e")).splitlines()) == len(system) + 2
    assert _ok(run("pm", "list", "packages", "-d")) == ""
    assert _ok(run("pm", "list", "packages", "-3", "-f", "-U", "notes")) == \
        "package:/data/app/~~SimPhone==/com.simphone.notes-1/base.apk=com.simphone.notes uid:10150\n"
    out = run("pm", "list", "packages", "-z")
    assert out.returncode == 255 and out.stdout == b"Error: Unknown option: -z\n" and out.stderr == b""
    assert adb_client.device(serial).list_packages(["-3"]) == ["com.android.adbkeyboard", "com.simphone.notes"]


def test_resolve_activity_brief(sim_shell):
    run, _ = sim_shell
    # printResolveInfo with --brief: the ResolveInfo line, then ComponentName.flattenToShortString
    assert _ok(run("cmd", "package", "resolve-activity", "--brief", "com.android.settings")) == \
        "priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false\ncom.android.settings/.Settings\n"
    assert _ok(run("cmd", "package", "resolve-activity", "--brief", "com.android.chrome")).splitlines()[-1] == \
        "com.android.chrome/com.google.android.apps.chrome.Main"
    assert _ok(run("pm", "resolve-activity", "--brief", "com.nope")) == "No activity found\n"


def test_pm_grant_and_revoke(adb, sim_shell):
    run, serial = sim_shell
    camera = "android.permission.CAMERA"
    assert _ok(run("pm", "grant", "com.android.chrome", camera)) == ""
    assert adb.state(serial)["permissions"] == {"com.android.chrome": [camera]}
    assert f"{camera}: granted=true" in _ok(run("dumpsys", "package", "com.android.chrome"))
    # PermissionManagerServiceImpl.grantRuntimePermissionInternal's exceptions, as the shell shows them
    exception = "\nException occurred while executing 'grant':\njava.lang.{}\n"
    for perm, said in [("android.permission.INTERNET", "SecurityException: Permission android.permission.INTERNET "
                        "requested by com.android.chrome is not a changeable permission type"),
                       ("android.permission.READ_SMS", "SecurityException: Package com.android.chrome has not "
                        "requested permission android.permission.READ_SMS"),
                       ("android.permission.NOPE", "IllegalArgumentException: Unknown permission: "
                        "android.permission.NOPE")]:
        out = run("pm", "grant", "com.android.chrome", perm)
        assert out.stdout == b"" and _fails(out, 255).startswith(exception.format(said)), perm
    assert _ok(run("pm", "grant", "com.nope", camera)) == ""   # an unknown package is only logged
    assert _fails(run("pm", "grant", "com.android.chrome"), 1) == "Error: no permission specified\n"
    assert _ok(run("pm", "revoke", "com.android.chrome", camera)) == ""
    assert adb.state(serial)["permissions"] == {}


# --- settings ---------------------------------------------------------------------------------------


def test_settings_defaults_and_list(sim_shell):
    run, _ = sim_shell
    assert _ok(run("settings", "get", "system", "screen_brightness_mode")) == "0\n"
    _ok(run("settings", "put", "system", "screen_brightness", "200"))
    listing = _ok(run("settings", "list", "system")).splitlines()
    # SettingsService.listForUser: name=value, sorted
    assert listing == sorted(listing) and all(re.fullmatch(r"[\w.]+=.*", line) for line in listing)
    assert "screen_brightness=200" in listing and "screen_brightness_mode=0" in listing
    assert "wifi_on=0" in _ok(run("settings", "list", "global")).splitlines()
    assert "default_input_method=com.android.inputmethod.latin/.LatinIME" in _ok(run("settings", "list", "secure"))
    assert _fails(run("settings", "list", "bogus"), 1) == "Invalid namespace 'bogus'\n"


# --- network, processes, files, logs ---------------------------------------------------------------


def test_ifconfig_and_ip_follow_wifi(adb, adb_client, sim_shell):
    run, serial = sim_shell
    down = _ok(run("ifconfig", "wlan0"))
    # toybox ifconfig: no inet line and no UP flag while the interface is down
    assert down.startswith("wlan0     Link encap:UNSPEC  \n") and "inet addr:" not in down
    assert "\n          BROADCAST MULTICAST  MTU:1500  Metric:1\n" in down
    assert _ok(run("ifconfig")).startswith("lo        Link encap:Local Loopback  \n") and "wlan0" not in \
        _ok(run("ifconfig"))
    _ok(run("svc", "wifi", "enable"))
    ip = adb.state(serial)["wlan0_ip"]
    up = _ok(run("ifconfig", "wlan0"))
    assert f"\n          inet addr:{ip}  Bcast:192.168.1.255  Mask:255.255.255.0 \n" in up
    assert "\n          UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n" in up
    # iproute2 `ip addr show dev wlan0`
    addr = _ok(run("ip", "addr", "show", "dev", "wlan0"))
    assert re.match(r"\d+: wlan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP ", addr)
    assert f"\n    inet {ip}/24 brd 192.168.1.255 scope global wlan0\n" in addr
    assert adb_client.device(serial).wlan_ip() == ip
    assert _fails(run("ifconfig", "eth0"), 1) == "ifconfig: eth0: No such device\n"
    assert _fails(run("ip", "addr", "show", "dev", "eth0"), 1) == "Device \"eth0\" does not exist.\n"


def test_head(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("echo 'one\ntwo\nthree' > /sdcard/h.txt"))
    assert _ok(run("head", "-n", "2", "/sdcard/h.txt")) == "one\ntwo\n"
    assert _ok(run("head", "-1", "/sdcard/h.txt")) == "one\n"
    assert _ok(run("head", "-c", "5", "/sdcard/h.txt")) == "one\nt"
    assert _ok(run("cat /sdcard/h.txt | head -n 1")) == "one\n"
    out = run("head", "/sdcard/h.txt", "/sdcard/none")
    assert out.stdout == b"==> /sdcard/h.txt <==\none\ntwo\nthree\n"
    assert _fails(out, 1) == "head: /sdcard/none: No such file or directory\n"


def test_pkill_cannot_kill_an_app_from_the_shell(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("am", "start", "-n", "com.android.settings/.Settings"))
    pid = _ok(run("pidof", "com.android.settings")).strip()
    # toybox pkill: kill(2) fails with EPERM for another uid's process: `pkill: SIG->PID: reason`, status 1
    out = run("pkill", "-f", "com.android.settings")
    assert out.stdout == b"" and _fails(out, 1) == f"pkill: TERM->{pid}: Operation not permitted\n"
    assert adb.state(serial)["foreground"]["package"] == "com.android.settings"
    out = run("pkill", "no.such.process")
    assert out.returncode == 1 and out.stdout == out.stderr == b""


def test_logcat_dump_clear_and_tail(adb, sim_shell):
    run, serial = sim_shell
    _ok(run("logcat", "-c"))
    assert _ok(run("logcat", "-d")) == "" and adb.state(serial)["logcat_lines"] == 0
    _ok(run("am", "start", "-n", "com.android.settings/.Settings"))
    _ok(run("input", "keyevent", "KEYCODE_POWER"))
    # logcat's threadtime format (liblog logprint.cpp): date time pid tid level tag: message
    threadtime = r"\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} +\d+ +\d+ [VDIWEF] \S+ *: .*"
    dump = _ok(run("logcat", "-d")).splitlines()
    assert dump[0] == "--------- beginning of system" and all(re.fullmatch(threadtime, ln) for ln in dump[1:])
    assert "ActivityTaskManager: START u0 {cmp=com.android.settings/.Settings flg=0x10000000} from uid 2000" in dump[1]
    assert dump[2].endswith("I PowerManagerService: Going to sleep due to power_button (uid 1000)...")
    assert _ok(run("logcat", "-t", "1")).splitlines()[1:] == dump[2:]
    assert re.fullmatch(r"I/PowerManagerService\( *\d+\): Going to sleep .*",
                        _ok(run("logcat", "-d", "-v", "brief", "-s", "PowerManagerService")).splitlines()[1])
    assert adb.state(serial)["logcat_lines"] == 2
