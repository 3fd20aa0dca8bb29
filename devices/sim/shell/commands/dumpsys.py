"""SimPhone's `dumpsys SERVICE`: the sections of Android 14's service dumps that clients parse, in
their real shapes: window (DisplayContent, DisplayRotation, the policy's awake state), display
(DisplayViewport.toString), input (the native InputReader's viewports), activity (activity_tasks.py),
power (PowerManagerService.dumpInternal), battery, package, input_method, SurfaceFlinger
(--display-id), notification (NotificationRecord.dump, phone/notifications.py; redacted unless
--noredact) and telephony.registry (TelephonyRegistry.dump's call state). An unknown service is
`Can't find service: NAME`, as dumpsys says.
"""

from __future__ import annotations

from ...phone import notifications
from ...phone.packages import RUNTIME, package_info
from ..command import CommandTable
from . import activity_tasks
from .android_system import DISPLAY_UNIQUE_ID, PHYSICAL_DISPLAY_ID

COMMANDS = CommandTable()


def _dims(phone) -> tuple[int, int, int, int, int]:
    w, h = phone.size
    r = phone.rotation
    cw, ch = (h, w) if r % 2 else (w, h)
    return w, h, cw, ch, r


def _java_viewport(phone) -> str:
    """android.hardware.display.DisplayViewport.toString: Java Rects print as Rect(l, t - r, b)."""
    _, _, cw, ch, r = _dims(phone)
    return (f"DisplayViewport{{type=INTERNAL, valid=true, isActive=true, displayId=0, "
            f"uniqueId='{DISPLAY_UNIQUE_ID}', physicalPort=0, orientation={r}, "
            f"logicalFrame=Rect(0, 0 - {cw}, {ch}), physicalFrame=Rect(0, 0 - {cw}, {ch}), "
            f"deviceWidth={cw}, deviceHeight={ch}}}")


def _native_viewport(phone) -> str:
    """The input stack's DisplayViewport::toString (frameworks/native include/input/DisplayViewport.h)."""
    _, _, cw, ch, r = _dims(phone)
    return (f"Viewport INTERNAL: displayId=0, uniqueId={DISPLAY_UNIQUE_ID}, port=0, orientation={r}, "
            f"logicalFrame=[0, 0, {cw}, {ch}], physicalFrame=[0, 0, {cw}, {ch}], deviceSize=[{cw}, {ch}], "
            f"isActive=[1]")


def _rot(r: int) -> str:
    return f"ROTATION_{r * 90}"   # Surface.rotationToString


def _window(sh, awake: bool) -> str:
    phone = sh.phone
    w, h, cw, ch, r = _dims(phone)
    pkg, act = phone.current()
    front = activity_tasks.running_tasks(sh)[0]
    full = pkg + act if act.startswith(".") else act
    user_rot = "USER_ROTATION_FREE" if phone.settings_get("system", "accelerometer_rotation") == "1" \
        else "USER_ROTATION_LOCKED"
    return (
        "WINDOW MANAGER POLICY STATE (dumpsys window policy)\n"
        f"    mAwake={str(awake).lower()}\n    mScreenOnEarly={str(awake).lower()} "
        f"mScreenOnFully={str(awake).lower()}\n    mKeyguardDrawComplete=true mWindowManagerDrawComplete=true\n"
        "\nWINDOW MANAGER DISPLAY CONTENTS (dumpsys window displays)\n"
        "  Display: mDisplayId=0 rootTasks=1\n"
        f"    init={w}x{h} {phone.density}dpi base={w}x{h} {phone.density}dpi cur={cw}x{ch} "
        f"app={cw}x{ch} rng={min(cw, ch)}x{min(cw, ch)}-{max(cw, ch)}x{max(cw, ch)}\n"
        f"    mRotation={r} mAltRotation={r}\n"
        "    DisplayRotation\n"
        "      mCurrentAppOrientation=SCREEN_ORIENTATION_UNSPECIFIED\n"
        "      mLastOrientation=-1\n"
        f"      mRotation={r} mDeferredRotationPauseCount=0\n"
        f"      mLandscapeRotation={_rot(1)} mSeascapeRotation={_rot(3)}\n"
        f"      mPortraitRotation={_rot(0)} mUpsideDownRotation={_rot(2)}\n"
        "      mSupportAutoRotation=true\n"
        "      WindowOrientationListener\n"
        f"        mEnabled={'true' if user_rot == 'USER_ROTATION_FREE' else 'false'}\n"
        f"        mCurrentRotation={_rot(r)}\n"
        f"      mUserRotationMode={user_rot} mUserRotation={_rot(r)} mCameraRotationMode=0\n"
        f"  mCurrentFocus=Window{{5f1e2a3 u0 {pkg}/{full}}}\n"
        f"  mFocusedApp={activity_tasks.activity_record(front)}\n"
    )


def _power(awake: bool) -> str:
    """PowerManagerService.dumpInternal: the state lines, then the display's state as
    DisplayPowerCallbacks.toString gives it."""
    wakefulness = "Awake" if awake else "Asleep"
    return (
        "POWER MANAGER (dumpsys power)\n\nPower Manager State:\n"
        "  Settings power_manager_constants:\n    no_cached_wake_locks=true\n"
        f"  mDirty=0x0\n  mWakefulness={wakefulness}\n  mWakefulnessChanging=false\n"
        "  mIsPowered=true\n  mPlugType=2\n  mBatteryLevel=87\n  mDockState=0\n  mStayOn=false\n"
        "  mProximityPositive=false\n  mBootCompleted=true\n  mSystemReady=true\n"
        f"  mLastSleepReason={'none' if awake else 'power_button'}\n"
        f"  mHoldingWakeLockSuspendBlocker=false\n  mHoldingDisplaySuspendBlocker={str(awake).lower()}\n"
        f"  mDisplayReady=true\n  mRequestWaitForNegativeProximity=false\n\n"
        "Settings and Configuration:\n  mScreenOffTimeoutSetting=60000\n  mStayOnWhilePluggedInSetting=0\n\n"
        "Wake Locks: size=0\n\nSuspend Blockers: size=4\n"
        "  PowerManagerService.WakeLocks: ref count=0\n"
        f"  PowerManagerService.Display: ref count={1 if awake else 0}\n"
        "  PowerManagerService.Broadcasts: ref count=0\n  PowerManagerService.WirelessChargerDetector: ref count=0\n\n"
        f"Display Power: state={'ON' if awake else 'OFF'}\n"
    )


def _package(sh, pkg: str) -> str:
    uid, system, requested = package_info(pkg, sh.phone)
    granted = sh.state.permissions.get(pkg, set())
    flags = "SYSTEM HAS_CODE ALLOW_CLEAR_USER_DATA" if system else "HAS_CODE ALLOW_CLEAR_USER_DATA"
    out = [f"Packages:\n  Package [{pkg}] (c0ffee):\n    userId={uid}\n    versionCode=34 minSdk=26 targetSdk=34\n"
           f"    versionName=14\n    pkgFlags=[ {flags} ]\n"
           "    firstInstallTime=2024-01-01 00:00:00\n    lastUpdateTime=2024-01-01 00:00:00\n"]
    if requested:
        out.append("    requested permissions:\n" + "".join(f"      {p}\n" for p in requested))
    runtime = [p for p in requested if p in RUNTIME]
    out.append("    User 0: ceDataInode=0 installed=true hidden=false suspended=false stopped=false "
               "notLaunched=false enabled=0\n")
    if runtime:
        out.append("      runtime permissions:\n" + "".join(
            f"        {p}: granted={str(p in granted).lower()}, flags=[ {'USER_SET ' if p in granted else ''}]\n"
            for p in runtime))
    return "".join(out)


def _surface_flinger(args: list[str]) -> str:
    # SurfaceFlinger::dumpDisplayIdentificationData: the physical display id, its HWC id, port and EDID name
    ident = f"Display {PHYSICAL_DISPLAY_ID} (HWC display 0): port=0 pnpId=GGL displayName=\"SimPhone\"\n"
    if "--display-id" in args:
        return ident
    return "Display identification data:\n" + ident


_CALL_STATES = {"idle": 0, "ringing": 1, "offhook": 2}   # TelephonyManager.CALL_STATE_*


def _telephony(world) -> str:
    """TelephonyRegistry.dump (Android 14): the last known state of phone 0, indented as its
    IndentingPrintWriter prints it; the incoming number only while one rings."""
    call = world.call
    state = _CALL_STATES[call["state"]]
    incoming = call["number"] if call["state"] == "ringing" else ""
    data = 2 if world.mobile_data and not world.airplane else 0   # DATA_CONNECTED / DATA_DISCONNECTED
    return ("last known state:\n  Phone Id=0\n"
            f"    mCallState={state}\n    mRingingCallState={1 if state == 1 else 0}\n"
            f"    mForegroundCallState={1 if state == 2 else 0}\n    mCallIncomingNumber={incoming}\n"
            f"    mServiceState={{mVoiceRegState=0(IN_SERVICE), mDataRegState={0 if data else 1}"
            f"({'IN_SERVICE' if data else 'OUT_OF_SERVICE'}), mOperatorAlphaLong=SimCarrier}}\n"
            "    mMessageWaiting=false\n    mCallForwarding=false\n    mDataActivity=0\n"
            f"    mDataConnectionState={data}\n")


@COMMANDS.add("dumpsys")
def _dumpsys(sh, args, io_):
    phone = sh.phone
    what = args[0] if args else ""
    awake = phone.state()["screen_on"]
    _, _, cw, ch, r = _dims(phone)
    if what == "window":
        io_.out(_window(sh, awake))
    elif what == "display":
        io_.out(
            "DISPLAY MANAGER (dumpsys display)\n"
            f"  mGlobalDisplayState={'ON' if awake else 'OFF'}\n"
            f"  mViewports=[{_java_viewport(phone)}]\n"
            f"  mDisplayDeviceInfo: DisplayDeviceInfo{{\"Built-in Screen\": uniqueId=\"{DISPLAY_UNIQUE_ID}\", "
            f"{phone.size[0]} x {phone.size[1]}, modeId 1, density {phone.density}, rotation {r}}}\n"
        )
    elif what == "input":
        io_.out(
            "INPUT MANAGER (dumpsys input)\n\nInput Manager State:\n"
            f"  Interactive: {str(awake).lower()}\n  System UI Lights Out: false\n  Pointer Speed: 0\n"
            "  Show Touches: false\n\nInput Reader State (Nums of device: 1):\n"
            "  Device 2: simphone_touchscreen\n    Sources: TOUCHSCREEN\n"
            "    Touch Input Mapper (mode - DIRECT):\n"
            f"      {_native_viewport(phone)}\n"
            f"      SurfaceWidth: {cw}px\n      SurfaceHeight: {ch}px\n      SurfaceOrientation: {r}\n"
            "  Configuration:\n    Viewports:\n"
            f"      {_native_viewport(phone)}\n"
        )
    elif what == "activity":
        sub = args[1] if len(args) > 1 else "activities"
        if sub == "top":
            io_.out(activity_tasks.top_dump(sh))
        elif sub in ("recents", "r"):
            io_.out(activity_tasks.recents_dump(sh))
        else:
            io_.out(activity_tasks.activities_dump(sh))
    elif what == "input_method":
        io_.out(f"  mCurMethodId={phone.ime_current()}\n  mInputShown=true\n")
    elif what == "power":
        io_.out(_power(awake))
    elif what == "battery":
        io_.out("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n"
                "  Wireless powered: false\n  status: 2\n  health: 2\n  present: true\n  level: 87\n"
                "  scale: 100\n  voltage: 4213\n  temperature: 250\n  technology: Li-ion\n")
    elif what == "package" and len(args) > 1:
        if args[1] in phone.packages():
            io_.out(_package(sh, args[1]))
    elif what == "notification":
        io_.out(notifications.dump(phone.world, redact="--noredact" not in args))
    elif what == "telephony.registry":
        io_.out(_telephony(phone.world))
    elif what == "SurfaceFlinger":
        io_.out(_surface_flinger(args[1:]))
    else:
        io_.err(f"Can't find service: {what}\n")
    return 0
