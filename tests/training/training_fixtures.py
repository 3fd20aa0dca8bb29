"""What the training tests share besides fixtures (those are in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

REPLIES = {
    "qwen2-vl": [
        '✿FUNCTION✿: mobile_use\n✿ARGS✿: {"action": "click", "coordinate": [500, 300]}',
        'The field is open.\n✿FUNCTION✿: mobile_use\n✿ARGS✿: {"action": "type", "text": "hello"}',
        '✿FUNCTION✿: mobile_use\n✿ARGS✿: {"action": "swipe", "coordinate": [500, 800], "coordinate2": [500, 200]}',
        '✿FUNCTION✿: mobile_use\n✿ARGS✿: {"action": "terminate", "status": "success"}',
    ],
    "qwen2.5-vl": [
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [100, 150]}}\n</tool_call>',
        'The field is open.\n<tool_call>\n{"name": "mobile_use", "arguments": {"action": "type", "text": "hello"}}\n</tool_call>',
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "swipe", "coordinate": [140, 500], "coordinate2": [140, 100]}}\n</tool_call>',
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>',
    ],
}


def screens() -> list[Image.Image]:
    """Four distinct phone-shaped frames (not black: black frames are never shown to models)."""
    frames = []
    for i, colour in enumerate([(30, 90, 200), (200, 60, 40), (40, 160, 80), (120, 120, 120)]):
        im = Image.new("RGB", (270, 600), colour)
        ImageDraw.Draw(im).rectangle((30 + 20 * i, 100, 150 + 20 * i, 250), fill=(250, 250, 250))
        frames.append(im)
    return frames


def samples(dataset: Path, split: str = "train") -> list[dict]:
    with open(dataset / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]
