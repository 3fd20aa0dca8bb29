"""Browser address bar tasks: the page with the fact is served at its own address
(`cmd simphone page`); the Browser opens on its usual page, so the agent must type the address
into the address bar and go."""

from __future__ import annotations

from ..devices.adb_text import shell_quote
from .task_checks import answer_matches, fail
from .task_plans import finish, open_app, press, tap, type_text
from .tasks import Task
from .tasks_browser import TOWNS, find_in_page, page


def _same_page(a: str | None, b: str) -> bool:
    strip = lambda u: (u or "").split("://", 1)[-1].rstrip("/").lower()  # noqa: E731
    return strip(a) == strip(b)


class GoToUrl(Task):
    id = "browser.go_to_url"
    app = "browser"
    complexity = 1.5
    info = True
    template = "In the Browser, go to {url} and tell me in which room the keynote is. Answer with the room code."
    description = "the Browser shows that address and the answer is the room code on its page"

    def params(self, rng, state):
        town = rng.choice(TOWNS)
        room = f"{rng.choice('ABCDEFGH')}-{rng.randint(100, 499)}"
        fact = f"The keynote starts at {rng.randint(9, 16)}:00 in room {room}, on the first floor."
        url = f"https://{town.lower()}.example.org/fair"
        return {"url": url, "room": room, "page": page(rng, fact, at_end=False, paragraphs=2, town=town)}

    def prepare(self, env, p):
        env.shell(f"cmd simphone page {shell_quote(p['url'])} {shell_quote(p['page'])}")

    def verify(self, initial, final, p, answer):
        if not _same_page(final.get("browser_url"), p["url"]):
            return fail(f"the Browser shows {final.get('browser_url')}, not {p['url']}")
        return answer_matches("code", p["room"], answer)

    def solution(self, p):
        return [open_app("Browser"), tap(rid="url_bar"), type_text(p["url"]), press("enter"),
                finish(answer=find_in_page(r"in room (\S+),"))]


TASKS = [GoToUrl]
