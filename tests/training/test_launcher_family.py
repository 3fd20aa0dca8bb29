"""The seeded launcher family: icons placed per seed, so a model must look for them; a phone
without the layout setting (every other task) keeps the usual home screen."""

from __future__ import annotations

from vlagent.bench.task_env import parse_nodes
from vlagent.bench.tasks import select
from vlagent.bench.tasks_launcher import APPS
from vlagent.devices.sim.apps import registry
from vlagent.devices.sim.apps.launcher import HOME_APPS_SETTING, LAYOUT_SETTING, home_slots, wallpaper
from vlagent.devices.sim import Phone


def icon_centres(phone: Phone) -> dict[str, tuple[int, int]]:
    return {n.desc: n.center for n in parse_nodes(phone.ui_xml()) if n.rid == "com.android.launcher3:id/icon"}


def test_the_layout_setting_scatters_icons_by_seed_and_its_absence_keeps_the_default():
    phone = Phone(270, 600, density=105)  # as `vlagent bench sim --sim-size 270x600` makes it
    default = icon_centres(phone)
    apps = len(registry())
    assert len(default) == apps
    layouts = []
    for seed in ("1", "2", "1"):
        phone.settings_put(*LAYOUT_SETTING, seed)
        layouts.append(icon_centres(phone))
    assert layouts[0] == layouts[2] != layouts[1]  # one seed, one layout
    assert default not in layouts
    assert len(set(layouts[0].values())) == apps  # no two icons on one cell
    phone.reset(0)  # a fresh phone forgets it
    assert icon_centres(phone) == default
    assert home_slots(apps, apps, None) == list(range(apps))
    assert home_slots(apps, 20, "5")[:7] == home_slots(7, 20, "5")  # an app added later moves no other


def test_the_task_draws_app_and_layout_from_the_seed():
    (task,) = select("launcher.open_app")
    drawn = [task.instance(seed, {})[0] for seed in range(40)]
    assert len({p["layout"] for p in drawn}) == 40
    assert len({p["label"] for p in drawn}) == 7
    assert drawn[3] == task.instance(3, {})[0]


def test_the_wallpaper_tells_where_a_patch_is_across_and_down():
    # A learned model finds an icon's column and row from the colours around it (docs/training.md):
    # the wallpaper must differ from cell to cell of the scattered grid, in both directions.
    for dark in (False, True):
        paper = wallpaper(270, 600, dark)
        cells = [paper.getpixel((16 + (col * 2 + 1) * 238 // 8, 180 + row * 70)) for row in range(5) for col in range(4)]
        assert len(set(cells)) == 20
        reds = [paper.getpixel((135, y))[0] for y in range(0, 600, 60)]
        greens = [paper.getpixel((x, 300))[1] for x in range(0, 270, 27)]
        assert reds == sorted(reds) and reds[0] < reds[-1]        # down: red rises
        assert greens == sorted(greens) and greens[0] < greens[-1]  # across: green rises


def test_the_lone_app_family_keeps_one_icon_in_a_cell_of_the_same_grid_and_does_not_name_it():
    phone = Phone(270, 600, density=105)
    phone.settings_put(*LAYOUT_SETTING, "4")
    everyone = icon_centres(phone)
    phone.settings_put(*HOME_APPS_SETTING, "com.android.deskclock")
    assert icon_centres(phone) == {"Clock": everyone["Clock"]}  # the same cell as among the others
    phone.settings_put(*HOME_APPS_SETTING, "com.android.deskclock,com.android.chrome")
    assert icon_centres(phone) == {k: everyone[k] for k in ("Clock", "Browser")}
    # A cell is always in one place, whichever cells the seed leaves empty (the last row too).
    phone.settings_put(*HOME_APPS_SETTING, ",".join(registry()))
    labels = [app.label for app in registry().values()]
    where: dict[int, set[tuple[int, int]]] = {}
    for seed in range(30):
        phone.settings_put(*LAYOUT_SETTING, str(seed))
        centres = icon_centres(phone)
        for slot, label in zip(home_slots(len(labels), 20, str(seed)), labels):
            where.setdefault(slot, set()).add(centres[label])
    assert len(where) == 20 and all(len(places) == 1 for places in where.values())
    (task,) = select("launcher.open_lone_app")
    instances = [task.instance(seed, {}) for seed in range(40)]
    assert {p["label"] for p, _ in instances} == set(APPS)
    # where, not which: the goal does not name the one app on the screen
    assert {goal for _, goal in instances} == {"Open the app on the home screen."}
