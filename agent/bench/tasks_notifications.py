"""Notification tasks: setup posts notifications from several apps with `cmd simphone notify`; the
agent pulls the shade down (the status bar, or the notification key) and reads or opens one."""

from __future__ import annotations

import re

from ..devices.adb_text import shell_quote
from .task_checks import answer_matches, fail, ok
from .task_env import Env
from .task_plans import finish, press, tap
from .tasks import Task

# (app label, package, title, text) of the notifications a seed picks from
SENDERS = [("Messages", "com.google.android.apps.messaging"), ("Clock", "com.android.deskclock"),
           ("Contacts", "com.android.contacts"), ("Notes", "com.simphone.notes")]
DECOYS = [("Clock", "com.android.deskclock", "Alarm in 30 minutes", "Wake up at 07:00"),
          ("Notes", "com.simphone.notes", "Backup complete", "All notes are saved"),
          ("Contacts", "com.android.contacts", "Birthday today", "Say happy birthday to a friend")]


def notify(env: Env, package: str, title: str, text: str, uri: str | None = None) -> None:
    uri_opt = f"--uri {shell_quote(uri)} " if uri else ""
    env.shell(f"cmd simphone notify {uri_opt}{package} {shell_quote(title)} {shell_quote(text)}")


class ReadCode(Task):
    id = "notifications.read_code"
    app = "notifications"
    complexity = 1.0
    info = True
    template = "A notification from Messages has a verification code in it. What is the code? Answer with the code."
    description = "the answer is the code in the Messages notification (read in the shade)"

    def params(self, rng, state):
        code = str(rng.randint(100000, 999999))
        return {"code": code, "decoys": rng.sample(range(len(DECOYS)), 2)}

    def prepare(self, env, p):
        for i in p["decoys"]:
            notify(env, *DECOYS[i][1:])
        notify(env, "com.google.android.apps.messaging", "SimBank",
               f"Your verification code is {p['code']}. Do not share it with anyone.")

    def verify(self, initial, final, p, answer):
        return answer_matches("code", p["code"], answer)

    def solution(self, p):
        def read(nodes):
            return next((m.group(1) for n in nodes if (m := re.search(r"code is (\d{6})", n.text))), "")
        return [press("notification"), finish(answer=read)]


class OpenNotification(Task):
    id = "notifications.open"
    app = "notifications"
    complexity = 1.0
    template = 'Open the notification "{title}" from {label}.'
    description = "that notification was tapped (its app is in front, the notification gone) and no other"

    def params(self, rng, state):
        label, package, title, text = DECOYS[rng.randrange(len(DECOYS))]
        others = [d for d in DECOYS if d[2] != title]
        return {"label": label, "package": package, "title": title, "text": text,
                "others": [list(d) for d in rng.sample(others, 2)]}

    def prepare(self, env, p):
        order = [*p["others"], [p["label"], p["package"], p["title"], p["text"]]]
        for label, package, title, text in order:
            notify(env, package, title, text)

    def verify(self, initial, final, p, answer):
        titles = [n["title"] for n in final["notifications"]]
        if p["title"] in titles:
            return fail(f'the notification "{p["title"]}" is still there')
        if any(o[2] not in titles for o in p["others"]):
            return fail("another notification was opened or dismissed too")
        if final["foreground"]["package"] != p["package"]:
            return fail(f"{final['foreground']['package']} is in front, not {p['label']}")
        return ok(f"the {p['label']} notification opened its app")

    def solution(self, p):
        return [press("notification"), tap(rid="expandableNotificationRow", near={"text": p["title"]}), finish()]


TASKS = [ReadCode, OpenNotification]
