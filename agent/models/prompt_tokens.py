"""Prompt tokenizing that reuses the tokens of turns seen before.

An agent's prompt grows by a turn or two a step and keeps the rest (system prompt and tool
schemas, earlier replies, tool results): ~5,000 tokens of which a few hundred are new. Qwen's
tokenizer splits special tokens out before it runs BPE, so the text between two `<|im_start|>`
markers is tokenized on its own whatever surrounds it: the prompt's ids are the ids of its turns,
concatenated. `TurnTokenizer` keeps each turn's ids (a bounded LRU) and tokenizes only new turns.
It checks itself against the plain tokenizer on its first calls and turns itself off for good
on any difference (another tokenizer family, a normalizer that reaches across turns).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

TURN = "<|im_start|>"
CHECKED_CALLS = 3
MAX_TURNS = 512


class TurnTokenizer:
    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.enabled = TURN in getattr(tokenizer, "get_vocab", dict)()
        self._turns: OrderedDict[str, list[int]] = OrderedDict()
        self._checked = 0

    def ids(self, prompt: str) -> list[int]:
        """The prompt's token ids, as `tokenizer(prompt)["input_ids"]`."""
        if not self.enabled:
            return self._plain(prompt)
        ids: list[int] = []
        head, *turns = prompt.split(TURN)
        for turn in ([head] if head else []) + [TURN + t for t in turns]:
            cached = self._turns.get(turn)
            if cached is None:
                cached = self._turns[turn] = self._plain(turn)
                if len(self._turns) > MAX_TURNS:
                    self._turns.popitem(last=False)
            else:
                self._turns.move_to_end(turn)
            ids.extend(cached)
        if self._checked < CHECKED_CALLS:
            self._checked += 1
            plain = self._plain(prompt)
            if plain != ids:
                self.enabled, self._turns = False, OrderedDict()
                return plain
        return ids

    def _plain(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])
