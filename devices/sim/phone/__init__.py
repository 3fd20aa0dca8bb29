"""The SimPhone itself: state, activities, input, system UI, the view toolkit and drawing. It knows
nothing of adb or the shell; the shell drives it through `Phone`'s methods and its parts.

The phone (phone.py's docstring says how Phone is composed of its parts):

    phone.py          Phone: the device contract, settings, IMEs, state(); holds the parts below
    lock.py           the one re-entrant lock every public method takes
    tasks.py          Tasks: the activity stack, background tasks, overview, shade, dialogs
    input.py          Input: touches, gestures, keys and text routed to the views
    keys.py           the KEYCODE table and what each key types
    screen.py         Screen: the window stack, the frame and the XML dump, cached per version
    surfaces.py       Surfaces: notifications and the heads-up, the package installer, calls
    notifications.py  notification records in the World, and their dumpsys listing
    packages.py       what a phone knows of each package (uid, permissions, APK path)
    transitions.py    Transitions: when a change animates, and the frames in between
    animation.py      the transitions' timing and drawing (Android's durations and curves)
    fling.py          fling physics (OverScroller)
    world.py          World: the persistent data (settings, contacts, messages, ...)

The view toolkit and drawing, shared with the apps:

    ui.py             View, Frame, Canvas: one tree drawn, dumped as uiautomator XML and hit-tested
    widgets.py        Material-style widgets built on ui.View
    system_ui.py      the system windows: status bar, shade, dialogs, keyboard, recents
    glyphs.py         icons drawn from primitives
    text.py           the bundled font: measuring, wrapping, eliding, rasterising
"""
