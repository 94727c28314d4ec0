"""Does the evidence mention what the question pins down? The second signal for abstaining.

The best evidence score cannot tell "the notes say" from "the notes say something close": a question about
Q4 scores as high against the line about Q3 as a question about Q3 does. What separates them is a specific
the question names and no close line mentions: a number, a date or season, or a name the retrieved notes
never use. So a question whose numbers or dates appear in none of the top evidence lines (with their
headings), or whose names appear in none of the picked chunks, is one the notes do not answer.

Names are checked against every pick and numbers only against the top lines: the author's own name or a
product may sit in another chunk than the line that answers, while "at 30 °C" must be in the line itself.
"""

from __future__ import annotations

import re

from assistant.records import Evidence, Pick

MONTHS = "january february march april may june july august september october november december".split()
TEMPORAL = frozenset(MONTHS) | frozenset("spring summer autumn fall winter q1 q2 q3 q4".split())
TOP_LINES = 3  # the lines the user is shown
_TOKEN = re.compile(r"\w(?:[\w\-.:/']*\w)?", re.UNICODE)
_NUMBER = re.compile(r"[\d.,:/\-]*\d[\d.,:/\-]*")  # 30, 2024, 3.8, 07:40, 1,390
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})(?:-\d{2})?\b")
# Words a question opens with or leans on; capitalised only because they start a clause.
_COMMON = frozenset(
    "a an and are as at be by can could did do does for from has have how i in is it its me my of on or our "
    "should so that the their them there these this to was we were what when where which who whom whose why "
    "will with would you your".split()
)


def _spelled_dates(text: str) -> str:
    """2024-03-12 also reads as "march 2024", so a question that says "in March 2024" finds it."""

    def spell(m: re.Match) -> str:
        month = int(m.group(2))
        return f"{m.group(0)} {MONTHS[month - 1]} {m.group(1)}" if 1 <= month <= 12 else m.group(0)

    return _ISO_DATE.sub(spell, text)


def specifics(question: str) -> tuple[set[str], set[str]]:
    """(numbers and dates, names) the question pins down, lower-cased."""
    values, names = set(), set()
    for i, token in enumerate(_TOKEN.findall(question)):
        word = token.lower().removesuffix("'s")
        if word in _COMMON:
            continue
        if _NUMBER.fullmatch(word) or word in TEMPORAL:
            values.add(word)
        elif (i > 0 and token[0].isupper()) or any(ch.isdigit() or ch in "._" for ch in token):
            names.add(word)  # a name, or code like zlib.compress or BLAKE2b
    return values, names


def unmentioned(question: str, evidence: list[Evidence], picks: list[Pick]) -> list[str]:
    """The question's numbers and dates that no top evidence line mentions, and its names no pick mentions."""
    values, names = specifics(question)
    if not values and not names:
        return []
    lines = _spelled_dates(" ".join(f"{e.heading} {e.text}" for e in evidence[:TOP_LINES])).lower()
    chunks = lines + " " + _spelled_dates(" ".join(f"{p.heading} {p.text}" for p in picks)).lower()
    missing = {v for v in values if v not in lines}
    # Documentation writes zlib.compress as "compress" under a zlib heading: each dotted part must appear.
    missing |= {n for n in names if not all(part in chunks for part in n.split(".") if part)}
    return sorted(missing)


def best_score(evidence: list[Evidence]) -> float:
    """The best evidence line's score (0 with no lines): what abstention and the learning gate read."""
    return evidence[0].score if evidence else 0.0


def learns(best: float, learn_below: float) -> bool:
    """The one learning gate, for the ask and the calibration sweep: learn unless the best line already
    scores ``learn_below`` or more (1: always learn)."""
    return learn_below >= 1.0 or best < learn_below


def abstains(best_score: float, missing: list[str], abstain_below: float, check_unmentioned: bool = True) -> bool:
    """The one abstention rule, for the ask and the eval: weak best evidence, or a specific no line mentions."""
    return (bool(abstain_below) and best_score < abstain_below) or (check_unmentioned and bool(missing))
