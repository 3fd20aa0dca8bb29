"""SimPhone's `settings` (SettingsService's shell command): get, put and list over the
system, secure and global tables, answering as Android 14 does.

The Phone owns the settings it acts on (radios, brightness, rotation, IME, ...). A phone's tables
hold many more keys, with defaults from the platform's SettingsProvider; the ones scripts read most
are here, so `settings get system screen_brightness_mode` is `0`, not `null`, and `settings list`
shows a phone-like table. Values written with `put` are kept by the Phone's World.
"""

from __future__ import annotations

from ..command import CommandTable, UsageError

COMMANDS = CommandTable()

NAMESPACES = ("system", "secure", "global")

# Platform defaults (SettingsProvider's defaults.xml and DatabaseHelper) for keys the Phone does not own.
_DEFAULTS: dict[str, dict[str, str]] = {
    "system": {
        "screen_brightness_mode": "0", "screen_off_timeout": "60000", "font_scale": "1.0",
        "haptic_feedback_enabled": "1", "sound_effects_enabled": "1", "dtmf_tone": "1",
        "lockscreen_sounds_enabled": "1", "pointer_speed": "0", "show_touches": "0", "pointer_location": "0",
        "time_12_24": "24", "notification_sound": "content://media/internal/audio/media/27",
        "ringtone": "content://media/internal/audio/media/30", "alarm_alert": "content://media/internal/audio/media/21",
        "volume_ring": "5", "volume_alarm": "6", "volume_notification": "5", "volume_system": "7",
        "volume_voice": "4", "vibrate_when_ringing": "0", "mode_ringer_streams_affected": "422",
        "mute_streams_affected": "111",
    },
    "secure": {
        "android_id": "5f3e2a1b9c0d7e64", "bluetooth_address": "02:00:00:00:00:00",
        "location_providers_allowed": "", "install_non_market_apps": "1",
        "accessibility_enabled": "0", "enabled_accessibility_services": "", "touch_exploration_enabled": "0",
        "show_ime_with_hard_keyboard": "0", "selected_input_method_subtype": "-1",
        "screensaver_enabled": "0", "user_setup_complete": "1", "skip_first_use_hints": "0",
        "immersive_mode_confirmations": "", "lockscreen.disabled": "1", "navigation_mode": "2",
    },
    "global": {
        "stay_on_while_plugged_in": "0",
        "window_animation_scale": "1.0", "transition_animation_scale": "1.0", "animator_duration_scale": "1.0",
        "auto_time": "1", "auto_time_zone": "1", "data_roaming": "0",
        "device_provisioned": "1", "package_verifier_enable": "1", "install_non_market_apps": "1",
        "wifi_sleep_policy": "2", "network_preference": "1", "boot_count": "1", "heads_up_notifications_enabled": "1",
        "airplane_mode_radios": "cell,bluetooth,wifi,nfc,wimax", "usb_mass_storage_enabled": "1",
    },
}
# Keys the Phone itself answers for (Phone.settings_get / World.setting), listed by `settings list`.
_PHONE_KEYS = {
    "system": ("screen_brightness", "accelerometer_rotation", "user_rotation", "volume_music"),
    "secure": ("default_input_method", "enabled_input_methods", "ui_night_mode", "location_mode"),
    "global": ("wifi_on", "bluetooth_on", "airplane_mode_on", "device_name", "mobile_data", "adb_enabled",
               "development_settings_enabled"),
}
_USAGE = ("usage:  settings [--user <USER_ID> | current] get namespace key\n"
          "        settings [--user <USER_ID> | current] put namespace key value\n"
          "        settings [--user <USER_ID> | current] list namespace\n"
          "\n'namespace' is one of {system, secure, global}, case-insensitive")


def get(phone, namespace: str, key: str) -> str | None:
    value = phone.settings_get(namespace, key)
    return value if value is not None else _DEFAULTS[namespace].get(key)


def listing(phone, namespace: str) -> dict[str, str | None]:
    keys = set(_DEFAULTS[namespace]) | set(_PHONE_KEYS[namespace])
    keys |= {k.split("/", 1)[1] for k in phone.world.extra_settings if k.startswith(namespace + "/")}
    return {k: get(phone, namespace, k) for k in keys}


@COMMANDS.add("settings")
def _settings(sh, args, io_):
    if len(args) >= 2 and args[0] == "--user":
        args = args[2:]
    verb = args[0] if args else ""
    arity = {"get": 3, "put": 4, "list": 2}.get(verb)
    if arity is None or len(args) < arity:
        raise UsageError(_USAGE)
    namespace = args[1].lower()
    if namespace not in NAMESPACES:
        raise UsageError(f"Invalid namespace '{args[1]}'")
    phone = sh.phone
    if verb == "get":
        v = get(phone, namespace, args[2])
        io_.out(f"{'null' if v is None else v}\n")
    elif verb == "put":
        phone.settings_put(namespace, args[2], args[3])
    else:
        # SettingsService.listForUser: `name=value` lines in sorted order
        io_.out("".join(f"{k}={'null' if v is None else v}\n" for k, v in sorted(listing(phone, namespace).items())))
    return 0
