"""What learning changed: the answer with the adapter, sentence by sentence, against the one without it."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.answer.attribute import sentences
from assistant.answer.loops import sentence_key


@dataclass(frozen=True)
class ComparedLine:
    text: str
    changed: bool  # no sentence of the other answer says the same (case, punctuation and citations aside)


@dataclass(frozen=True)
class Comparison:
    learned: list[ComparedLine]  # the answer with the adapter
    plain: list[ComparedLine]  # the answer without it

    @property
    def changed(self) -> bool:
        return any(line.changed for line in self.learned + self.plain)


def _key(sentence: str) -> str:
    return sentence_key(sentence)  # the loop guard's notion of "the same sentence" (citations aside)


def compare_answers(with_adapter: str, without_adapter: str) -> Comparison:
    """Both answers as sentences, each marked when the other answer does not contain it."""
    mine, theirs = sentences(with_adapter), sentences(without_adapter)
    mine_keys, their_keys = {_key(s) for s in mine}, {_key(s) for s in theirs}
    return Comparison([ComparedLine(s, _key(s) not in their_keys) for s in mine],
                      [ComparedLine(s, _key(s) not in mine_keys) for s in theirs])  # fmt: skip
