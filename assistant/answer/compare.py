"""What learning changed: the answer with the adapter, sentence by sentence, against the one without it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer.attribute import sentences


@dataclass(frozen=True)
class ComparedLine:
    text: str
    changed: bool  # no sentence of the other answer says the same (case, spacing and citations aside)


def _key(sentence: str) -> str:
    return " ".join(re.sub(r"\[\d+\]", "", sentence).lower().split()).rstrip(".!?")


def compare_answers(with_adapter: str, without_adapter: str) -> tuple[list[ComparedLine], list[ComparedLine]]:
    """Both answers as sentences, each marked when the other answer does not contain it."""
    mine, theirs = sentences(with_adapter), sentences(without_adapter)
    mine_keys, their_keys = {_key(s) for s in mine}, {_key(s) for s in theirs}
    return ([ComparedLine(s, _key(s) not in their_keys) for s in mine],
            [ComparedLine(s, _key(s) not in mine_keys) for s in theirs])  # fmt: skip
