"""Stop strings: where a reply is cut, and (in-process) when generation stops for one.

A stop string can end inside a token and need several tokens to appear, so generation checks
the decoded text of its last few tokens after each new token: a bounded amount of work per
token, however long the prompt and the reply. (transformers' `StopStringCriteria` also checks a
bounded tail, but builds a table over the whole vocabulary, 151k tokens for Qwen, at every
`generate` call.) The cut itself is shared with the OpenAI-compatible client, which cuts
replies of servers that ignore `stop`.
"""

from __future__ import annotations

from typing import Any, Sequence

BYTES_PER_CHAR = 4  # a byte-level BPE may spend a token on each byte of a UTF-8 character


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """`text` up to the earliest stop string in it, and whether one was found."""
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return (text[:min(found)], True) if found else (text, False)


def stop_strings_criteria(tokenizer: Any, stops: Sequence[str], prompt_length: int) -> Any:
    """A StoppingCriteria that stops once the generated text contains one of `stops`: it
    decodes only the generated tail long enough to hold the longest of them."""
    import torch
    from transformers import StoppingCriteria

    stops = [s for s in stops if s]
    tail = BYTES_PER_CHAR * max((len(s) for s in stops), default=0) + 1

    class StopOnStrings(StoppingCriteria):
        def __init__(self) -> None:
            self.stops, self.tokenizer = stops, tokenizer

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            start = max(prompt_length, input_ids.shape[1] - tail)
            done = [any(s in tokenizer.decode(row[start:].tolist()) for s in stops) for row in input_ids]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopOnStrings()
