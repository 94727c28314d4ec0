"""Stop a looping answer at its first repeated sentence or line, before the user sees the repeat.

Text is released as it streams, except while the sentence being written could still turn out to be a
repeat (it is a prefix of an earlier one). When it completes as a repeat, it is dropped and generation stops.
"""

from __future__ import annotations

import re

from assistant.answer.prompt import CITATION

_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_MIN_CHARS = 12  # "Yes." twice is not a loop; a repeated clause of this length is


def sentence_key(text: str) -> str:
    """Lower case, citations and punctuation gone, spaces collapsed: the same key is the same sentence."""
    return " ".join(re.sub(r"[^\w\s]", " ", CITATION.sub(" ", text.lower())).split())


class LoopGuard:
    """Feed streamed pieces in; get back what may be shown. ``stopped`` turns true at the first repeat."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.current = ""  # the sentence being written
        self.released = 0  # how much of it has been shown
        self.stopped = False

    def _held(self, partial: str) -> bool:
        norm = sentence_key(partial)
        return not norm or any(s.startswith(norm) for s in self.seen)  # "[2] " alone may open a repeat

    def feed(self, piece: str) -> str:
        """The text that is safe to show now ('' once stopped)."""
        if self.stopped:
            return ""
        self.current += piece
        shown = ""
        while (match := _END.search(self.current)) is not None:
            sentence, rest = self.current[: match.end()], self.current[match.end() :]
            norm = sentence_key(sentence)
            if len(norm) >= _MIN_CHARS and norm in self.seen:
                # every prefix of a repeat was a prefix of its first copy, so none of it was shown
                self.stopped, self.current, self.released = True, "", 0
                return shown
            if len(norm) >= _MIN_CHARS:
                self.seen.add(norm)
            shown += sentence[self.released :]
            self.current, self.released = rest, 0
        if not self._held(self.current):
            shown += self.current[self.released :]
            self.released = len(self.current)
        return shown

    def flush(self) -> str:
        """What is left when generation ends: shown unless it repeats an earlier sentence, whole or cut short."""
        rest, norm = self.current[self.released :], sentence_key(self.current)
        self.current, self.released = "", 0
        if self.stopped:
            return ""
        if len(norm) >= _MIN_CHARS and (norm in self.seen or self._held(norm)):  # whole, or cut by the budget
            self.stopped = True
            return ""
        return rest
