"""What ActivityTaskManager knows of SimPhone's tasks, and how it prints them: `am stack list`
(RootTaskInfo.toString), `dumpsys activity activities|top|recents` (RecentTasks.dump, Task and
ActivityRecord toString), as Android 14 does.

A task's id is handed out when the task first shows up (the home task is #1, apps from #12 up, as on
a phone after boot) and kept in DeviceState while the task lives; a task that ends and starts again
gets a new id, as on a phone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...phone.packages import package_info

LAUNCHER = "com.android.launcher3"
HOME_TASK_ID = 1


@dataclass(frozen=True)
class Task:
    id: int
    package: str
    root: str        # the root activity's class, in full
    top: str         # the top activity's class, in full
    size: int        # activities in the task
    visible: bool

    @property
    def home(self) -> bool:
        return self.package == LAUNCHER

    def component(self, cls: str | None = None) -> str:
        """PKG/CLASS with the class relative to the package where it can be (flattenToShortString)."""
        cls = cls or self.root
        return f"{self.package}/{cls[len(self.package):]}" if cls.startswith(self.package + ".") \
            else f"{self.package}/{cls}"


def _full(pkg: str, name: str) -> str:
    return pkg + name if name.startswith(".") else name


def running_tasks(sh) -> list[Task]:
    """The tasks, front first: the foreground app's, the home task, then the background ones."""
    from ...apps import registry

    state = sh.state
    snap = sh.phone.state()
    stack = snap["stack"]          # the launcher, then the foreground task's activities
    front = stack[1]["package"] if len(stack) > 1 else None
    order = ([front] if front else []) + [LAUNCHER] + list(reversed(snap["background_tasks"]))
    for gone in [p for p in state.task_ids if p not in order]:
        del state.task_ids[gone]
    apps = registry()
    tasks = []
    for pkg in order:
        if pkg == LAUNCHER:
            name = _full(pkg, stack[0]["activity"])
            tasks.append(Task(HOME_TASK_ID, pkg, name, name, 1, front is None and snap["screen_on"]))
            continue
        if pkg not in state.task_ids:
            state.task_ids[pkg] = state.next_task_id
            state.next_task_id += 1
        if pkg == front:
            acts = [_full(pkg, a["activity"]) for a in stack[1:]]
        else:
            acts = [_full(pkg, apps[pkg].root.name)] if pkg in apps else [pkg + ".Main"]
        tasks.append(Task(state.task_ids[pkg], pkg, acts[0], acts[-1], len(acts), pkg == front and snap["screen_on"]))
    return tasks


def _hash(n: int) -> str:
    """A stable identity hash for a record, as Java prints System.identityHashCode in hex."""
    return f"{(n * 0x9E3779B1 + 0x5F1E2A3) & 0xFFFFFFF:07x}"


def task_record(t: Task) -> str:
    """Task.toString (Android 14)."""
    return (f"Task{{{_hash(t.id)} #{t.id} type={'home' if t.home else 'standard'} "
            f"A={package_info(t.package)[0]}:{t.package} U=0 visible={str(t.visible).lower()} "
            f"visibleRequested={str(t.visible).lower()} mode=fullscreen translucent=false sz={t.size}}}")


def activity_record(t: Task, cls: str | None = None) -> str:
    """ActivityRecord.toString: ActivityRecord{HASH u0 PKG/CLASS tID}."""
    return f"ActivityRecord{{{_hash(t.id + 7)} u0 {t.component(cls or t.top)} t{t.id}}}"


def _configuration(sh, home: bool) -> str:
    """Configuration.toString, the fields a phone shows for a fullscreen task on the built-in display."""
    phone = sh.phone
    w, h = phone.size
    cw, ch = (h, w) if phone.rotation % 2 else (w, h)
    dp = lambda px: px * 160 // phone.density  # noqa: E731
    rot = f"ROTATION_{phone.rotation * 90}"
    bounds = f"Rect(0, 0 - {cw}, {ch})"
    return (f"{{1.0 ?mcc?mnc [en_US] ldltr sw{dp(min(cw, ch))}dp w{dp(cw)}dp h{dp(ch)}dp {phone.density}dpi nrml "
            f"long {'land' if cw > ch else 'port'} finger -keyb/v/h -nav/h winConfig={{ mBounds={bounds} "
            f"mAppBounds={bounds} mMaxBounds={bounds} mDisplayRotation={rot} mWindowingMode=fullscreen "
            f"mActivityType={'home' if home else 'standard'} mAlwaysOnTop=undefined mRotation={rot}}} "
            f"s.1 fontWeightAdjustment=0}}")


def stack_list(sh) -> str:
    """`am stack list`: each root task's RootTaskInfo.toString, front first, each followed by println's newline."""
    w, h = sh.phone.size
    cw, ch = (h, w) if sh.phone.rotation % 2 else (w, h)
    out = []
    for t in running_tasks(sh):
        bounds = f"[0,0][{cw},{ch}]"
        out.append(f"RootTask id={t.id} bounds={bounds} displayId=0 userId=0\n"
                   f" configuration={_configuration(sh, t.home)}\n"
                   f"  taskId={t.id}: {t.package}/{t.root} bounds={bounds} userId=0 "
                   f"visible={str(t.visible).lower()} topActivity=ComponentInfo{{{t.package}/{t.top}}}\n\n")
    return "".join(out)


def recents_dump(sh) -> str:
    """`dumpsys activity recents`: RecentTasks.dump, the home task left out as on a phone."""
    tasks = [t for t in running_tasks(sh) if not t.home]
    out = ["ACTIVITY MANAGER RECENT TASKS (dumpsys activity recents)\n",
           f"mRecentsUid={package_info(LAUNCHER)[0]}\n",
           f"mRecentsComponent=ComponentInfo{{{LAUNCHER}/com.android.quickstep.RecentsActivity}}\n",
           "mFreezeTaskListReordering=false\n", "mFreezeTaskListReorderingPendingTimeout=false\n"]
    if tasks:
        out.append("  Recent tasks:\n")
        for i, t in enumerate(tasks):
            out.append(f"  * Recent #{i}: {task_record(t)}\n")
        out.append("\n  Visible recent tasks (most recent first):\n")
        for i, t in enumerate(tasks):
            out.append(f"  * RecentTaskInfo #{i}:\n    id={t.id} userId=0 hasTask=true lastActiveTime=0\n"
                       f"    baseIntent=Intent {{ act=android.intent.action.MAIN cat=[android.intent.category."
                       f"LAUNCHER] flg=0x10200000 cmp={t.component()} }}\n"
                       f"    baseActivity={{{t.component()}}} topActivity={{{t.component(t.top)}}} "
                       f"origActivity=null realActivity={{{t.component()}}}\n"
                       f"    isExcluded=false activityType=standard windowingMode=fullscreen "
                       f"supportsMultiWindow=true\n")
    else:
        out.append("  (nothing)\n")
    return "".join(out)


def activities_dump(sh) -> str:
    """`dumpsys activity activities`: the parts parsers read (adbutils' app_current: mResumedActivity)."""
    tasks = running_tasks(sh)
    front = tasks[0]
    lines = ["ACTIVITY MANAGER ACTIVITIES (dumpsys activity activities)\n", "Display #0 (activities from top to bottom):\n"]
    for t in tasks:
        lines.append(f"  * {task_record(t)}\n    affinity={package_info(t.package)[0]}:{t.package}\n"
                     f"    realActivity={t.component()}\n    * Hist  #0: {activity_record(t)}\n")
    lines += [f"  ResumedActivity: {activity_record(front)}\n",
              f"  mResumedActivity: {activity_record(front)}\n",
              f"  mFocusedApp={activity_record(front)}\n"]
    return "".join(lines)


def top_dump(sh) -> str:
    """`dumpsys activity top`: the front task and its top activity."""
    t = running_tasks(sh)[0]
    return f"TASK {package_info(t.package)[0]}:{t.package} id={t.id} userId=0\n  ACTIVITY {t.component(t.top)} " \
           f"{_hash(t.id + 7)} pid={4000 + t.id}\n"
