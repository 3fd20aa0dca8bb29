"""SimPhone's `/system/bin/sh`: a small mksh-like interpreter and the Android commands agents use.

Why an interpreter and not a command table: escaping bugs in a driver only show when the far
side parses the command line the way mksh does. So quoting ('...', "...", backslashes),
expansions ($VAR, $?, $(...), backticks, globs, braces, ~), sequences (; && || &), pipes,
redirections and comments behave as on a phone, and a mis-quoted `$(touch /sdcard/pwned)`
really touches the in-memory filesystem. Anything unsupported fails loudly with a shell error,
never silently does something else.

The commands (`input`, `screencap`, `wm`, `dumpsys`, `am`, `pm`, `uiautomator`, `ime`, ...) print
what Android 14 prints in the places parsers (adbutils, scripts) look. `cmd simphone ...` is the
simulator's own control surface, reachable by any adb client: state, faults, reader text, rotation.

The room's modules (no names are re-exported here: import from the module that owns them):

    parser.py               the parser: a command line to a tree
    interpreter.py          Shell, the interpreter: expansion, redirections, pipes, and ShellResult
    command.py              what a command is: its Io, UsageError and ShellExit, its CommandTable
    commands/               the commands, one module per family; commands/__init__.py joins their
                            tables into the one a Shell runs (its docstring lists them)
    fs.py                   FakeFS, the in-memory filesystem
    device_state.py         DeviceState, what outlives one command (faults, input events,
                            permission grants, task ids, the log buffer)

docs/simphone.md ("Shell commands") lists every command with the real phone's answer it follows.
"""
