"""The per-step prompt layout: append-mostly, with the screen window rolled in chunks.

Between rolls, each step's prompt (as the model's chat template renders it, with the profile's
tool format) is the last step's prompt followed by new text: that is what lets an in-process
model reuse the last call's keys and values (test_incremental_prefill.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from vlagent.conversation import CURRENT_SCREEN_QUESTION, ROLL_STEPS, Conversation
from vlagent.coords import Screen
from vlagent.guards import Secrets
from vlagent.call_records import CallRecord, ResultRecord
from vlagent.trajectory import Step
from vlagent.ui_tools import ui_tool_schema

SIZE = (224, 448)


def step(index: int) -> Step:
    return Step(index=index, started_at=0.0, screenshot_size=SIZE, device_size=SIZE,
                model_output=f'<tool_call>\n{{"name": "mobile_use", "arguments": {{"action": "click", '
                             f'"coordinate": [{index}, 5]}}}}\n</tool_call>',
                calls=[CallRecord(name="mobile_use", arguments={"action": "click", "coordinate": [index, 5]})],
                results=[ResultRecord(name="mobile_use", content=f"clicked {index}")])


def run(steps: int, *, history_images: int = 2, black: tuple[int, ...] = (), **kwargs):
    """The messages of each step of a run, and each step's screen."""
    conversation = Conversation("Open Settings", ui_tool="mobile_use", system="relative-1000",
                                history_images=history_images, secrets=Secrets({}), **kwargs)
    screen = Screen(image_size=SIZE, device_size=SIZE, model_size=SIZE)
    history, prompts, screens = [], [], []
    for index in range(steps):
        image = None if index in black else Image.new("RGB", SIZE, (index, 0, 0))
        prompts.append(conversation.messages(history, image if image is not None else f"black {index}", screen))
        conversation.see(index, image)
        screens.append(image)
        history.append(step(index))
    return prompts, screens


def images_of(messages) -> list[Image.Image]:
    return [p["image"] for m in messages if isinstance(m["content"], list) for p in m["content"] if p["type"] == "image"]


def test_the_screen_window_grows_then_rolls_in_chunks() -> None:
    prompts, screens = run(14, history_images=2, roll=4)
    counts = [len(images_of(m)) for m in prompts]
    assert counts == [1, 2, 3, 4, 5, 2, 3, 4, 5, 2, 3, 4, 5, 2]
    for index, messages in enumerate(prompts):  # the latest screens, oldest first, the current one last
        assert images_of(messages) == screens[index - counts[index] + 1:index + 1]
        intro = messages[1]["content"]
        summarised = index - counts[index] + 1
        assert intro.count("-> clicked") == summarised  # every step left out of the window has its line


def test_between_rolls_each_prompt_extends_the_last_one() -> None:
    prompts, _ = run(10, history_images=2, roll=4)
    rolls = {5, 9}
    for index in range(1, 10):
        before, now = prompts[index - 1], prompts[index]
        extends = now[:len(before)] == before
        assert extends == (index not in rolls), index
    # the turn that showed a screen is shown again as it was, question included
    assert prompts[2][2]["content"][1]["text"] == CURRENT_SCREEN_QUESTION


@pytest.mark.parametrize("profile", ["qwen2-vl", "qwen2.5-vl"])
def test_the_rendered_prompt_extends_the_last_one_in_each_tool_format(tiny_model_path: Path, profile: str) -> None:
    from vlagent.models.transformers_model import TransformersModel

    model = TransformersModel(tiny_model_path, profile=profile)
    model.load()
    prompts, _ = run(6, history_images=2, roll=4)
    screen = Screen(image_size=SIZE, device_size=SIZE, model_size=SIZE)
    tools = [ui_tool_schema("mobile_use", screen, "relative-1000")]
    texts = [model.render(m, tools) for m in prompts]
    for index in range(1, 6):
        assert texts[index].startswith(texts[index - 1]) == (index != 5), index  # step 5 rolls


def test_a_black_frame_is_shown_again_as_the_note_it_was() -> None:
    prompts, _ = run(3, history_images=2, black=(1,), roll=4)
    assert prompts[2][:len(prompts[1])] == prompts[1]
    assert {"role": "user", "content": "black 1"} in prompts[2]


def test_one_history_image_keeps_only_the_current_screen_and_roll_1_a_fixed_window() -> None:
    prompts, _ = run(6, history_images=1)
    assert [len(images_of(m)) for m in prompts] == [1] * 6
    assert len({len(m) for m in prompts}) == 1  # the same layout every step
    prompts, _ = run(6, history_images=3, roll=1)
    assert [len(images_of(m)) for m in prompts] == [1, 2, 3, 3, 3, 3]


def test_the_default_roll() -> None:
    prompts, _ = run(ROLL_STEPS + 2, history_images=2)
    counts = [len(images_of(m)) for m in prompts]
    assert max(counts) == 2 + ROLL_STEPS - 1 and counts[-1] == 2


def test_a_bare_prompt_has_the_task_after_each_screen_and_no_text_of_ours() -> None:
    """RunConfig.prompt_style "bare": the same screens in the same places as the full prompt, no
    system turn (the model's tool block will be all of it), the task after every screen instead
    of the question, and the prompt still only grows between rolls."""
    full, _ = run(7, history_images=2, roll=4, black=(3,))
    bare, _ = run(7, history_images=2, roll=4, black=(3,), bare=True)
    for index, messages in enumerate(bare):
        assert images_of(messages) == images_of(full[index])
        assert all(m["role"] != "system" for m in messages)
        text = repr([m["content"] for m in messages])
        assert "Rules" not in text and "The user's task" not in text and CURRENT_SCREEN_QUESTION not in text
        screen_turns = [m["content"] for m in messages if isinstance(m["content"], list)]
        assert len(screen_turns) == len(images_of(messages))
        assert all(turn[-1] == {"type": "text", "text": "Open Settings"} for turn in screen_turns)
        assert (index != 5) == (index == 0 or messages[:len(bare[index - 1])] == bare[index - 1]), index
    assert {"role": "user", "content": "black 3\n\nOpen Settings"} in bare[4]  # a black frame's note too
    assert bare[0] == [bare[0][-1]]  # the first step: its screen and the task, nothing before
    assert bare[5][0]["content"].startswith("Steps taken so far") and bare[5][0]["content"].count("-> clicked") == 4
