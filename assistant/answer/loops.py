"""Stop a looping answer at its first repeated sentence or line, before the user sees the repeat.

Text is released as it streams, except while the sentence being written could still turn out to be a
repeat (it is a prefix of an earlier one). When it completes as a repeat, it is dropped and generation stops.
"""

from __future__ import annotations

import re

_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_MIN_CHARS = 12  # "Yes." twice is not a loop; a repeated clause of this length is


def sentence_key(text: str) -> str:
    """Lower case, punctuation gone, spaces collapsed: two sentences with the same key are the same sentence."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


class LoopGuard:
    """Feed streamed pieces in; get back what may be shown. ``stopped`` turns true at the first repeat."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.current = ""  # the sentence being written
        self.released = 0  # how much of it has been shown
        self.stopped = False

    def _held(self, partial: str) -> bool:
        norm = sentence_key(partial)
        return bool(norm) and any(s.startswith(norm) for s in self.seen)

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
        """What is left when generation ends on its own: shown unless it repeats a whole earlier sentence."""
        rest, norm = self.current[self.released :], sentence_key(self.current)
        self.current, self.released = "", 0
        if self.stopped or (len(norm) >= _MIN_CHARS and norm in self.seen):
            return ""
        if len(norm) >= _MIN_CHARS and self._held(norm):  # the budget ran out in the middle of a repeat
            self.stopped = True
            return ""
        return rest
