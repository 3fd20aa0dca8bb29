"""What a phone knows of each SimPhone package and the Phone does not: its uid, whether it came with
the system image (FLAG_SYSTEM), the permissions its manifest requests, its APK path and the
activity an intent for it resolves to. Read by pm, dumpsys, am stack and the process table.
"""

from __future__ import annotations

_P = "android.permission."
# Runtime ("dangerous") permissions: the ones `pm grant` can change (PermissionInfo.PROTECTION_DANGEROUS).
RUNTIME = frozenset(_P + p for p in (
    "READ_CONTACTS", "WRITE_CONTACTS", "GET_ACCOUNTS", "CALL_PHONE", "READ_PHONE_STATE", "READ_CALL_LOG",
    "WRITE_CALL_LOG", "SEND_SMS", "RECEIVE_SMS", "READ_SMS", "CAMERA", "RECORD_AUDIO", "ACCESS_FINE_LOCATION",
    "ACCESS_COARSE_LOCATION", "ACCESS_BACKGROUND_LOCATION", "POST_NOTIFICATIONS", "READ_EXTERNAL_STORAGE",
    "WRITE_EXTERNAL_STORAGE", "READ_MEDIA_IMAGES", "READ_MEDIA_VIDEO", "READ_MEDIA_AUDIO", "READ_CALENDAR",
    "WRITE_CALENDAR", "BODY_SENSORS", "ACTIVITY_RECOGNITION", "BLUETOOTH_CONNECT", "BLUETOOTH_SCAN",
    "NEARBY_WIFI_DEVICES"))
# Development permissions: also changeable with pm grant (signature|development in the platform manifest).
DEVELOPMENT = frozenset(_P + p for p in ("WRITE_SECURE_SETTINGS", "DUMP", "READ_LOGS", "SET_DEBUG_APP",
                                         "CHANGE_CONFIGURATION", "PACKAGE_USAGE_STATS"))
# Install-time (normal, signature, appop) permissions: known, never changeable.
INSTALL_TIME = frozenset(_P + p for p in (
    "INTERNET", "ACCESS_NETWORK_STATE", "ACCESS_WIFI_STATE", "VIBRATE", "WAKE_LOCK", "RECEIVE_BOOT_COMPLETED",
    "FOREGROUND_SERVICE", "SCHEDULE_EXACT_ALARM", "USE_EXACT_ALARM", "SYSTEM_ALERT_WINDOW", "WRITE_SETTINGS",
    "QUERY_ALL_PACKAGES", "BIND_INPUT_METHOD", "MANAGE_EXTERNAL_STORAGE")) | {"com.android.alarm.permission.SET_ALARM"}

# package -> (uid, preinstalled in the system image, requested permissions). uids are Android's:
# 1000 system, 10000+ apps. Preinstalled apps carry FLAG_SYSTEM, so `pm list packages -3` lists the rest.
_PACKAGES: dict[str, tuple[int, bool, tuple[str, ...]]] = {
    "android": (1000, True, ()),
    "com.android.systemui": (10125, True, (_P + "POST_NOTIFICATIONS",)),
    "com.android.shell": (2000, True, (_P + "READ_LOGS", _P + "DUMP", _P + "WRITE_SECURE_SETTINGS")),
    "com.android.providers.settings": (1000, True, ()),
    "com.android.inputmethod.latin": (10110, True, (_P + "VIBRATE", _P + "READ_CONTACTS")),
    "com.android.launcher3": (10112, True, (_P + "CALL_PHONE", _P + "POST_NOTIFICATIONS")),
    "com.android.settings": (1000, True, (_P + "WRITE_SETTINGS", _P + "WRITE_SECURE_SETTINGS")),
    "com.android.contacts": (10118, True, (_P + "READ_CONTACTS", _P + "WRITE_CONTACTS", _P + "GET_ACCOUNTS",
                                           _P + "CALL_PHONE", _P + "POST_NOTIFICATIONS")),
    "com.google.android.apps.messaging": (10121, True, (_P + "SEND_SMS", _P + "RECEIVE_SMS", _P + "READ_SMS",
                                                        _P + "READ_CONTACTS", _P + "READ_PHONE_STATE",
                                                        _P + "POST_NOTIFICATIONS", _P + "INTERNET")),
    "com.android.deskclock": (10115, True, ("com.android.alarm.permission.SET_ALARM", _P + "SCHEDULE_EXACT_ALARM",
                                            _P + "POST_NOTIFICATIONS", _P + "VIBRATE", _P + "WAKE_LOCK")),
    "com.android.calculator2": (10116, True, ()),
    "com.android.chrome": (10127, True, (_P + "INTERNET", _P + "ACCESS_NETWORK_STATE", _P + "CAMERA",
                                         _P + "RECORD_AUDIO", _P + "ACCESS_FINE_LOCATION",
                                         _P + "ACCESS_COARSE_LOCATION", _P + "POST_NOTIFICATIONS")),
    "com.android.dialer": (10119, True, (_P + "CALL_PHONE", _P + "READ_CONTACTS", _P + "READ_PHONE_STATE",
                                         _P + "READ_CALL_LOG", _P + "WRITE_CALL_LOG", _P + "POST_NOTIFICATIONS")),
    "com.android.packageinstaller": (10113, True, ()),
    "com.android.vpndialogs": (1000, True, ()),
    # installed by the user (adb install), so not system apps
    "com.simphone.notes": (10150, False, (_P + "POST_NOTIFICATIONS", _P + "READ_EXTERNAL_STORAGE")),
    "com.android.adbkeyboard": (10151, False, ()),
}


def package_info(pkg: str, phone=None) -> tuple[int, bool, tuple[str, ...]]:
    """(uid, system, requested permissions); an app `phone` installed from an APK is a user app
    (surfaces.py), any other package this table does not list a system app."""
    if phone is not None:
        entry = next((e for e in phone.world.installed if e["package"] == pkg), None)
        if entry is not None:
            return (entry["uid"], False, (_P + "INTERNET", _P + "POST_NOTIFICATIONS"))
    return _PACKAGES.get(pkg, (10199, True, ()))


def apk_path(pkg: str) -> str:
    return f"/data/app/~~SimPhone==/{pkg}-1/base.apk"


def _short(pkg: str, name: str) -> str:
    """ComponentName.flattenToShortString: the class relative to the package where it can be."""
    if name.startswith(pkg + "."):
        name = name[len(pkg):]
    return f"{pkg}/{name}"


def resolve_component(target: str) -> str | None:
    """The activity an intent for `target` (a package: its launcher activity; or PKG/CLASS) resolves
    to, as pm prints it; None when nothing on the phone handles it."""
    from ..apps import registry

    pkg, _, cls = target.partition("/")
    app = registry().get(pkg)
    if app is None:
        return None
    if not cls:
        return _short(pkg, app.root.name)
    short = _short(pkg, pkg + cls if cls.startswith(".") else cls).split("/", 1)[1]
    return f"{pkg}/{short}" if short in app.activities or cls in app.activities else None
