"""Browser tasks: reading facts off the page that setup shows with `cmd simphone reader`."""

from __future__ import annotations

import re

from .task_checks import answer_matches
from .task_plans import finish, open_app, seek
from .tasks import Task

TOWNS = ["Alderford", "Brightwater", "Coldharbour", "Dunmore", "Eastwick", "Fairhaven", "Glenrock", "Hollowmere"]
FILLER = [
    "The committee thanks every volunteer who helped set up the halls, the signs and the coffee stands.",
    "Lunch is served in the main foyer; vegetarian and vegan options are marked on each tray.",
    "Please keep your badge visible at all times, as the venue staff check them at every door.",
    "Cloakroom tickets are handed out at the entrance and must be returned when you collect your coat.",
    "Wi-Fi is available throughout the building; the password is printed on the back of your badge.",
    "Photography is allowed in the exhibition area but not during the talks themselves.",
    "Lost property is kept at the information desk until the end of the last day.",
    "Taxis wait at the east exit; the shuttle bus leaves from the west exit every twenty minutes.",
    "Speakers are asked to upload their slides to the shared folder at least an hour before their slot.",
    "Feedback forms will be sent by email after the event; every answer is read by the organisers.",
]


EVENTS = ["Opening words", "Bread baking contest", "Dog show", "Brass band", "Children's theatre", "Pie tasting",
          "Tractor parade", "Quiz", "Folk dancing", "Bake sale", "Tug of war", "Storytelling", "Choir", "Closing words"]


def programme(rng) -> str:
    """A long schedule, one line per event: pushes what follows below the first screen."""
    lines, minutes = ["Programme:"], 9 * 60 + rng.choice([0, 30])
    for event in EVENTS:
        lines.append(f"{minutes // 60:02d}:{minutes % 60:02d}  {event}, hall {rng.randint(1, 6)}")
        minutes += rng.choice([30, 45, 60])
    return "\n".join(lines)


def page(rng, fact: str, *, at_end: bool, paragraphs: int, town: str | None = None) -> str:
    town = town or rng.choice(TOWNS)
    body = rng.sample(FILLER, paragraphs)
    if at_end:
        body += [programme(rng), fact]
    else:
        body.insert(rng.randint(0, 1), fact)
    return "\n\n".join([f"Welcome to the {town} community fair.", *body])


def find_in_page(pattern: str):
    def read(nodes):
        for n in nodes:
            m = re.search(pattern, n.text)
            if m:
                return m.group(1)
        return ""
    return read


class KeynoteRoom(Task):
    id = "browser.keynote_room"
    app = "browser"
    complexity = 1.5
    info = True
    template = "The Browser shows the {town} fair's page. In which room is the keynote? Answer with the room code."
    description = "the answer is the room code on the page"

    def params(self, rng, state):
        room = f"{rng.choice('ABCDEFGH')}-{rng.randint(100, 499)}"
        hour = f"{rng.randint(9, 16)}:{rng.choice(['00', '30'])}"
        fact = f"The keynote starts at {hour} in room {room}, on the first floor."
        town = rng.choice(TOWNS)
        return {"room": room, "town": town, "page": page(rng, fact, at_end=False, paragraphs=2, town=town)}

    def prepare(self, env, p):
        env.reader(p["page"])

    def verify(self, initial, final, p, answer):
        return answer_matches("code", p["room"], answer)

    def solution(self, p):
        return [open_app("Browser"), finish(answer=find_in_page(r"in room (\S+),"))]


class RaffleNumber(Task):
    id = "browser.raffle_number"
    app = "browser"
    complexity = 2.0
    info = True
    template = ("The Browser shows the {town} fair's page. Which ticket number won the raffle? It is near the "
                "end of the page. Answer with the number.")
    description = "the answer is the winning number, which only shows after scrolling"

    def params(self, rng, state):
        number = str(rng.randint(10000, 99999))
        fact = f"Raffle result: the winning ticket is number {number}. Claim the prize at the information desk."
        town = rng.choice(TOWNS)
        return {"number": number, "town": town, "page": page(rng, fact, at_end=True, paragraphs=6, town=town)}

    def prepare(self, env, p):
        env.reader(p["page"])

    def verify(self, initial, final, p, answer):
        return answer_matches("code", p["number"], answer)

    def solution(self, p):
        return [open_app("Browser"), seek(contains="winning ticket"),
                finish(answer=find_in_page(r"winning ticket is number (\d+)"))]


TASKS = [KeynoteRoom, RaffleNumber]
