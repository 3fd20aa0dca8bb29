"""`adb install` against a SimPhone, as against a real Android 14 phone: the adb binary sees the
`cmd` feature and streams the APK to `exec:cmd package 'install' -S SIZE`
(packages/modules/adb client/adb_install.cpp install_app_streamed), PackageManagerShellCommand
answers `Success` or `Failure [CODE: message]`, the install is silent (no installer dialog); the
launcher then shows the app if its manifest has a launcher activity, and its icon opens it. Also
the overview with the package installer's task in the background (a regression: KeyError)."""

from __future__ import annotations

import io
import zipfile

import pytest

pytestmark = [pytest.mark.adb, pytest.mark.timeout(60)]

_LAUNCHER = """<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="{package}"
    android:versionName="2.1">
  <application android:label="{label}">
    <activity android:name=".MainActivity" android:exported="true">
      <intent-filter>
        <action android:name="android.intent.action.MAIN"/>
        <category android:name="android.intent.category.LAUNCHER"/>
      </intent-filter>
    </activity>
  </application>
</manifest>"""
_SERVICE_ONLY = """<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="{package}">
  <application android:label="{label}"><service android:name=".Sync"/></application>
</manifest>"""


def _apk(tmp_path, name: str, manifest: str | None, **fields: str) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if manifest is not None:
            z.writestr("AndroidManifest.xml", manifest.format(**fields))
        z.writestr("classes.dex", b"dex\n035\x00")
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return str(path)


def test_adb_install_streams_silently_and_the_launcher_shows_the_app(adb, sim_shell, tmp_path):
    run, serial = sim_shell
    apk = _apk(tmp_path, "hello.apk", _LAUNCHER, package="com.example.hello", label="Hello")
    out = adb("install", apk, serial=serial)
    assert (out.returncode, out.stdout, out.stderr) == (0, b"Performing Streamed Install\nSuccess\n", b"")
    assert b"package:com.example.hello\n" in run("pm", "list", "packages", "-3").stdout
    state = adb.state(serial)
    assert state["foreground"]["package"] == "com.android.launcher3"   # no installer dialog
    assert "com.android.packageinstaller" not in state["background_tasks"]
    x, y = adb.tap_target(serial, text="Hello")   # its icon on the home screen
    assert run("input", "tap", str(x), str(y)).returncode == 0
    assert adb.state(serial)["foreground"]["package"] == "com.example.hello"


def test_an_app_without_a_launcher_activity_gets_no_icon(adb, sim_shell, tmp_path):
    run, serial = sim_shell
    apk = _apk(tmp_path, "sync.apk", _SERVICE_ONLY, package="com.example.sync", label="Syncer")
    assert adb("install", apk, serial=serial).returncode == 0
    assert b"package:com.example.sync\n" in run("pm", "list", "packages").stdout
    assert 'text="Syncer"' not in adb.ui(serial)


def test_bad_apks_fail_as_on_a_phone(adb, sim_shell, tmp_path):
    run, serial = sim_shell
    junk = tmp_path / "junk.apk"
    junk.write_bytes(b"this is not an apk\n")
    out = adb("install", str(junk), serial=serial)
    assert out.returncode == 1 and out.stdout == b"Performing Streamed Install\n"
    assert out.stderr.startswith(f"adb: failed to install {junk}: Failure [INSTALL_PARSE_FAILED_NOT_APK: "
                                 "Failed to parse /data/app/vmdl".encode())
    no_manifest = _apk(tmp_path, "empty.apk", None)
    out = adb("install", no_manifest, serial=serial)
    assert out.returncode == 1 and b"Failure [INSTALL_PARSE_FAILED_UNEXPECTED_EXCEPTION: " in out.stderr
    system = _apk(tmp_path, "evil.apk", _LAUNCHER, package="com.android.settings", label="Evil")
    out = adb("install", system, serial=serial)
    assert out.returncode == 1 and b"Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE: " in out.stderr
    assert adb.state(serial)["installed_packages"] == []


def test_adbutils_and_adb_shell_installs(shared_sim, adb_client, tmp_path):
    adb_shell_device = pytest.importorskip("adb_shell.adb_device")
    device = adb_client.device(shared_sim.serial)
    device.shell("cmd simphone reset")
    device.install(_apk(tmp_path, "a.apk", _LAUNCHER, package="com.example.viautils", label="ViaUtils"))
    assert "com.example.viautils" in device.list_packages()
    direct = adb_shell_device.AdbDeviceTcp("127.0.0.1", shared_sim.port, default_transport_timeout_s=10)
    assert direct.connect(rsa_keys=None, auth_timeout_s=1, read_timeout_s=10)
    try:   # adb-shell has no streamed install: push, then pm install the file
        direct.push(_apk(tmp_path, "b.apk", _LAUNCHER, package="com.example.viashell", label="ViaShell"),
                    "/data/local/tmp/b.apk")
        assert direct.shell("pm install /data/local/tmp/b.apk", read_timeout_s=10) == "Success\n"
    finally:
        direct.close()
    assert "com.example.viashell" in device.list_packages()


def test_overview_with_the_installer_task_in_the_background(adb, sim_shell, tmp_path):
    """Regression: the overview read every background task's app from the launchable apps, which
    the package installer is not (KeyError: 'com.android.packageinstaller')."""
    run, serial = sim_shell
    (tmp_path / "t.apk").write_text("SimPhone APK\npackage=com.example.torch\nlabel=Torch\n")
    assert adb("push", str(tmp_path / "t.apk"), "/sdcard/Download/t.apk", serial=serial).returncode == 0
    assert run("am", "start", "-a", "android.intent.action.VIEW", "-d", "file:///sdcard/Download/t.apk",
               "-t", "application/vnd.android.package-archive").returncode == 0
    assert run("input", "keyevent", "KEYCODE_HOME").returncode == 0
    assert run("input", "keyevent", "KEYCODE_APP_SWITCH").returncode == 0
    shot = adb("exec-out", "screencap", "-p", serial=serial)
    assert shot.returncode == 0 and shot.stdout.startswith(b"\x89PNG")
    assert adb.state(serial)["overview_open"] is True
    x, y = adb.tap_target(serial, text="Package installer")
    assert run("input", "tap", str(x), str(y)).returncode == 0
    assert adb.state(serial)["foreground"]["package"] == "com.android.packageinstaller"
