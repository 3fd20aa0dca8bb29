"""A small Tk form for the desktop driver tests: real widgets that report what landed on them.

    python desktop_app.py STATE.json X Y

opens an undecorated 560x420 window at (X, Y) (no window manager runs under Xvfb, so the
geometry is exact) and rewrites STATE.json atomically after every change: the entry's text,
the checkbox, button presses, the scale, the listbox's first visible row, every mouse press on
the pad (button, root coordinates, double-click flag, hold time) and recent key presses, plus
each widget's box in root coordinates so a test can aim at it. `seq` grows with every write.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tkinter as tk

BACKGROUND = "#2a7f62"  # the window's colour, which the screenshot test looks for
PAD_COLOUR = "#f0c020"
WIDTH, HEIGHT = 560, 420


def main(state_path: str, x: int, y: int) -> None:
    root = tk.Tk()
    root.overrideredirect(True)
    root.geometry(f"{WIDTH}x{HEIGHT}+{x}+{y}")
    root.configure(background=BACKGROUND)
    state: dict = {"ready": False, "seq": 0, "entry": "", "agree": False, "submitted": 0,
                   "scale": 0, "list_top": 0, "presses": [], "keys": [], "widgets": {}}
    pending = [False]

    def write() -> None:
        pending[0] = False
        state["seq"] += 1
        tmp = f"{state_path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, ensure_ascii=False)
        os.replace(tmp, state_path)

    def changed() -> None:
        # Coalesce bursts (typing, wheel clicks) into one write once Tk is idle.
        if not pending[0]:
            pending[0] = True
            root.after_idle(write)

    def key(event) -> None:
        mods = [name for bit, name in ((0x4, "ctrl"), (0x1, "shift"), (0x8, "alt")) if event.state & bit]
        state["keys"] = (state["keys"] + ["+".join(mods + [event.keysym])])[-20:]
        changed()

    entry_var = tk.StringVar()
    # insertofftime=0: no blinking caret, so screenshots of a still form are identical.
    entry = tk.Entry(root, textvariable=entry_var, width=30, font=("TkDefaultFont", 14),
                     insertofftime=0)
    entry.place(x=20, y=20, width=360, height=34)
    entry_var.trace_add("write", lambda *_: (state.update(entry=entry_var.get()), changed()))

    def select_all(event) -> str:
        # Tk's own Control-a moves to the line start (emacs style); most apps select all.
        key(event)  # "break" below keeps the toplevel's recorder from seeing it
        entry.selection_range(0, "end")
        entry.icursor("end")
        return "break"

    entry.bind("<Control-a>", select_all)

    def submit() -> None:
        state["submitted"] += 1
        changed()

    button = tk.Button(root, text="Submit", command=submit)
    button.place(x=400, y=20, width=140, height=34)

    agree_var = tk.BooleanVar()
    check = tk.Checkbutton(root, text="I agree", variable=agree_var,
                           command=lambda: (state.update(agree=agree_var.get()), changed()))
    check.place(x=20, y=70, width=140, height=30)

    scale = tk.Scale(root, from_=0, to=100, orient="horizontal", showvalue=True,
                     command=lambda v: (state.update(scale=int(float(v))), changed()))
    scale.place(x=180, y=64, width=360, height=44)

    frame = tk.Frame(root)
    frame.place(x=20, y=120, width=240, height=150)
    scrollbar = tk.Scrollbar(frame)
    listbox = tk.Listbox(frame, yscrollcommand=scrollbar.set, font=("TkDefaultFont", 12))
    for i in range(100):
        listbox.insert("end", f"item {i}")
    scrollbar.configure(command=listbox.yview)
    scrollbar.pack(side="right", fill="y")
    listbox.pack(side="left", fill="both", expand=True)

    def list_moved(first, last) -> None:
        scrollbar.set(first, last)
        top = listbox.nearest(0)
        if top != state["list_top"]:
            state["list_top"] = top
            changed()

    listbox.configure(yscrollcommand=list_moved)

    pad = tk.Canvas(root, background=PAD_COLOUR, highlightthickness=0)
    pad.place(x=280, y=120, width=260, height=150)
    pressed_at: dict[int, float] = {}

    def press(event, double: bool = False) -> None:
        pressed_at[event.num] = time.monotonic()
        state["presses"].append({"button": event.num, "x": event.x_root, "y": event.y_root,
                                 "double": double, "held_ms": None})
        changed()

    def release(event) -> None:
        started = pressed_at.pop(event.num, None)
        for p in reversed(state["presses"]):
            if p["button"] == event.num and p["held_ms"] is None and started is not None:
                p["held_ms"] = round((time.monotonic() - started) * 1000)
                break
        changed()

    for n in (1, 2, 3):
        pad.bind(f"<ButtonPress-{n}>", press)
        pad.bind(f"<ButtonRelease-{n}>", release)
    pad.bind("<Double-ButtonPress-1>", lambda e: press(e, double=True))

    root.bind("<KeyPress>", key)  # the toplevel tag: "all" has its own Alt-Key binding

    def ready() -> None:
        root.update_idletasks()
        for name, widget in (("entry", entry), ("button", button), ("check", check),
                             ("scale", scale), ("listbox", listbox), ("pad", pad), ("window", root)):
            state["widgets"][name] = [widget.winfo_rootx(), widget.winfo_rooty(),
                                      widget.winfo_width(), widget.winfo_height()]
        # Where the scale's slider sits for a few values, to drag it precisely.
        state["scale_points"] = {str(v): [scale.winfo_rootx() + scale.coords(v)[0],
                                          scale.winfo_rooty() + scale.coords(v)[1]] for v in (0, 50, 100)}
        # Like a real app's startup: keyboard focus goes to the window, not to whatever
        # lies under the pointer (no window manager here hands it over).
        root.focus_force()
        entry.focus_set()
        state["ready"] = True
        write()

    root.after(50, ready)
    root.mainloop()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
