"""SimPhone's package manager: `pm` and `cmd package` (list packages, path, clear, grant, revoke,
resolve-activity, install/uninstall), answering as PackageManagerShellCommand and
PermissionManagerServiceImpl do on Android 14. The packages' data is in phone/packages.py; grants live in
DeviceState, so `cmd simphone reset` forgets them as a fresh install would.

`pm install PATH` installs a SimPhone APK (apps/installer.py says what one is) that adb pushed to
the phone; `pm install -S SIZE` reads the APK from stdin: what `adb install` does (it opens
`exec:cmd package 'install' -S SIZE` on a phone that advertises `cmd` and streams the file; a
streamed install is silent, no installer confirmation). `pm uninstall` removes an app installed
so (the others are part of the system image).
"""

from __future__ import annotations

import random

from ...apps.installer import is_zip, parse_apk
from ...phone.packages import DEVELOPMENT, INSTALL_TIME, RUNTIME, apk_path, package_info, resolve_component
from ..command import CommandTable, UsageError

COMMANDS = CommandTable()


def _exception(cmd: str, exc: str) -> UsageError:
    """How a ShellCommand reports an exception: a blank line, the command, the exception, exit 255."""
    return UsageError(f"\nException occurred while executing '{cmd}':\n{exc}\n\tat com.android.server.pm."
                      f"permission.PermissionManagerServiceImpl.grantRuntimePermissionInternal", 255)


def _list_packages(sh, args: list[str], io_) -> int:
    flags, filt = set(), None
    it = iter(args)
    for a in it:
        if a in ("--user", "--uid"):
            value = next(it, None)
            if value is None:
                io_.out(f"Error: java.lang.IllegalArgumentException: Argument expected after \"{a}\"\n")
                return 255
        elif a in ("-d", "-e", "-f", "-i", "-l", "-s", "-U", "-u", "-3", "-a", "--show-versioncode", "--apex-only"):
            flags.add(a)
        elif a.startswith("-"):
            io_.out(f"Error: Unknown option: {a}\n")   # on stdout, as PackageManagerShellCommand does
            return 255
        elif filt is None:
            filt = a
    for pkg in sorted(sh.phone.packages()):
        uid, system, _ = package_info(pkg, sh.phone)
        # -d lists disabled packages: SimPhone has none, and -e lists every package.
        if (filt and filt not in pkg) or "-d" in flags or ("-s" in flags and not system) or \
                ("-3" in flags and system) or "--apex-only" in flags:
            continue
        line = "package:" + (apk_path(pkg) + "=" if "-f" in flags else "") + pkg
        line += " versionCode:34" if "--show-versioncode" in flags else ""
        line += "  installer=" + ("com.android.shell" if not system else "null") if "-i" in flags else ""
        line += f" uid:{uid}" if "-U" in flags else ""
        io_.out(line + "\n")
    return 0


def _grant_revoke(sh, sub: str, args: list[str], io_) -> int:
    words = []
    it = iter(args)
    for a in it:
        if a == "--user":
            next(it, None)
        elif a != "--all-permissions":
            words.append(a)
    if not words:
        io_.err("Error: no package specified\n")
        return 1
    if len(words) < 2:
        io_.err("Error: no permission specified\n")
        return 1
    pkg, perm = words[0], words[1]
    if pkg not in sh.phone.packages():
        return 0   # PermissionManagerServiceImpl logs "Unknown package" and returns: the shell sees success
    if perm not in RUNTIME | DEVELOPMENT | INSTALL_TIME:
        raise _exception(sub, f"java.lang.IllegalArgumentException: Unknown permission: {perm}")
    if perm not in RUNTIME | DEVELOPMENT:
        raise _exception(sub, f"java.lang.SecurityException: Permission {perm} requested by {pkg} "
                              f"is not a changeable permission type")
    if perm not in package_info(pkg, sh.phone)[2]:
        raise _exception(sub, f"java.lang.SecurityException: Package {pkg} has not requested permission {perm}")
    granted = sh.state.permissions.setdefault(pkg, set())
    (granted.add if sub == "grant" else granted.discard)(perm)
    return 0


def _resolve_activity(sh, args: list[str], io_) -> int:
    brief = components = False
    target = None
    it = iter(args)
    for a in it:
        if a == "--brief":
            brief = True
        elif a == "--components":
            components = True
        elif a in ("--user", "--query-flags", "-a", "-c", "-d", "-t", "-n", "-p"):
            value = next(it, "")
            if a in ("-n", "-p"):
                target = value
        elif not a.startswith("-"):
            target = a
    comp = resolve_component(target) if target else None
    if comp is None:
        io_.out("No activity found\n")
        return 0
    pkg = comp.split("/", 1)[0]
    if brief or components:
        if not components:
            # match=0x108000: MATCH_CATEGORY_EMPTY | MATCH_ADJUSTMENT_NORMAL, what a LAUNCHER filter gives
            io_.out("priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false\n")
        io_.out(comp + "\n")
        return 0
    name = comp.split("/", 1)[1]
    full = pkg + name if name.startswith(".") else name
    io_.out(f"  priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false\n"
            f"  ActivityInfo:\n    name={full}\n    packageName={pkg}\n    enabled=true exported=true "
            f"directBootAware=false\n    taskAffinity={pkg} targetActivity=null persistableMode=PERSIST_ROOT_ONLY\n"
            f"    launchMode=0 flags=0x3 privateFlags=0x0 theme=0x0\n")
    return 0


def _streamed(sh, size: str, io_) -> int:
    """`pm install -S SIZE`: the APK from stdin into a session's base.apk, then committed."""
    if not size.isdigit():
        raise UsageError(f"\nException occurred while executing 'install':\njava.lang.NumberFormatException: "
                         f"For input string: \"{size}\"", 255)
    n = int(size)
    data = io_.stdin[:n] if len(io_.stdin) >= n else sh.session.read(n)
    where = f"/data/app/vmdl{random.Random(data).randrange(10**8, 10**9)}.tmp/base.apk"
    apk = parse_apk(data) if data else None
    if apk is None:
        if data and is_zip(data):
            io_.out(f"Failure [INSTALL_PARSE_FAILED_UNEXPECTED_EXCEPTION: Failed to parse {where}]\n")
        else:
            io_.out(f"Failure [INSTALL_PARSE_FAILED_NOT_APK: Failed to parse {where}: "
                    f"Failed to load asset path {where}]\n")
        return 1
    return _commit(sh, apk, io_)


def _commit(sh, apk: dict, io_) -> int:
    if apk["package"] in sh.phone.packages() and package_info(apk["package"], sh.phone)[1]:
        io_.out(f"Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE: Package {apk['package']} signatures do not match "
                "previously installed version; ignoring!]\n")
        return 1
    sh.phone.surfaces.install_package(apk, None)
    io_.out("Success\n")
    return 0


def _install(sh, args: list[str], io_) -> int:
    """`pm install [-r] [-g] ... PATH` (PackageManagerShellCommand.runInstall with a file) or
    `pm install -S SIZE` (the APK on stdin, as adb streams it)."""
    it = iter(args)
    paths, size = [], None
    for a in it:
        if a == "-S":
            size = next(it, "")
        elif a in ("-i", "--user", "--install-location", "-p", "--originating-uri", "--referrer"):
            next(it, None)
        elif not a.startswith("-"):
            paths.append(a)
    if not paths and size is not None:
        return _streamed(sh, size, io_)
    if not paths:
        io_.err("Error: must either specify a package size or an APK file\n")
        return 1
    data = sh.phone.surfaces.read_file(sh.fs.norm(paths[0]))
    if data is None:
        raise UsageError(f"\nException occurred while executing 'install':\njava.lang.IllegalArgumentException: "
                         f"Error: Can't open file: {paths[0]}\n\tat com.android.server.pm."
                         "PackageManagerShellCommand.setParamsSize", 255)
    apk = parse_apk(data)
    if apk is None:
        io_.out(f"Failure [INSTALL_PARSE_FAILED_NOT_APK: Failed parse during installPackageLI: {paths[0]} "
                "(at Binary XML file line #-1): Failed to parse the manifest]\n")
        return 1
    return _commit(sh, apk, io_)


_PM_USAGE = ("Package manager (package) commands:\n  help\n  path [--user USER_ID] PACKAGE\n"
             "  list packages [-f] [-d] [-e] [-s] [-3] [-i] [-l] [-u] [-U] [--show-versioncode] [FILTER]\n"
             "  resolve-activity [--brief] [--components] [--user USER_ID] INTENT\n"
             "  install [-r] [-g] PATH\n  uninstall PACKAGE\n"
             "  clear [--user USER_ID] PACKAGE\n  grant [--user USER_ID] PACKAGE PERMISSION\n"
             "  revoke [--user USER_ID] PACKAGE PERMISSION\n")


@COMMANDS.add("pm")
def _pm(sh, args, io_):
    packages = sh.phone.packages()
    sub = args[0] if args else ""
    if args[:2] == ["list", "packages"]:
        return _list_packages(sh, args[2:], io_)
    if sub == "path" and len(args) >= 2:
        if args[-1] not in packages:
            return 1
        io_.out(f"package:{apk_path(args[-1])}\n")
        return 0
    if sub == "clear":
        io_.out("Success\n")   # SimPhone keeps the apps' records in the World: nothing to clear
        return 0
    if sub in ("grant", "revoke"):
        return _grant_revoke(sh, sub, args[1:], io_)
    if sub in ("resolve-activity", "resolve-intent"):
        return _resolve_activity(sh, args[1:], io_)
    if sub == "install":
        return _install(sh, args[1:], io_)
    if sub == "uninstall":
        words = [a for a in args[1:] if not a.startswith("-")]
        if words and sh.phone.surfaces.uninstall_package(words[-1]):
            io_.out("Success\n")
            return 0
        io_.out("Failure [DELETE_FAILED_INTERNAL_ERROR]\n")   # not installed, or a system app
        return 1
    if sub in ("", "help", "-h"):
        io_.out(_PM_USAGE)
        return 0
    io_.err(f"Unknown command: {sub}\n")
    return 255
