"""Training recipes: how the picks of one question become the examples a fresh LoRA takes steps on.

Every recipe gives one ``Example`` per step. The loss is on ``reply`` only; ``prompt`` (already in the
model's chat template, or empty) is what the model reads first. ``raw`` is the paper's protocol and the
recipe every adapter made before recipes existed used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.answer.evidence import TOP_LINES
from assistant.records import Evidence, Pick

EVIDENCE_LINES = TOP_LINES  # the lines the answer prompt leads with: the evidence recipe cycles over these


@dataclass(frozen=True)
class Example:
    prompt: str  # conditioning text, not trained on ("" for plain causal-LM text)
    reply: str  # the tokens the loss is taken on
    pick: int | None = None  # the index of the pick whose text this is: its training loss is that pick's (the review)


def topic_request(pick: Pick) -> str:
    """A neutral user turn for a chunk: what it is about, from its heading or file name."""
    topic = pick.heading or Path(pick.path).stem.replace("-", " ").replace("_", " ")
    return f"What do my notes say about {topic}?"


def build_examples(recipe: str, question: str, picks: list[Pick], evidence: list[Evidence], chat) -> list[Example]:
    """The examples for ``recipe``; ``chat(messages) -> str`` renders a user turn in the model's template
    with the assistant's turn opened. One example per pick, re-picks included (SIFT learns a re-picked chunk
    again): the CPU budget per question stays the same whatever the recipe."""
    steps = len(picks)
    if recipe == "raw":
        return [Example("", p.text, i) for i, p in enumerate(picks)]
    if recipe == "chat":
        return [Example(chat(topic_request(p)), p.text, i) for i, p in enumerate(picks)]
    if recipe == "distill":
        return [Example(chat(question), p.text, i) for i, p in enumerate(picks)]
    if recipe == "evidence":  # the lines the answer prompt leads with, cycled; no lines: the chunks, as distill
        lines = evidence[:EVIDENCE_LINES]
        if not lines:
            return build_examples("distill", question, picks, evidence, chat)
        return [Example(chat(question), lines[i % len(lines)].text) for i in range(steps)]
    if recipe == "reach":
        # The prompt already holds the evidence lines' chunks; learn from the picks it cannot hold.
        shown = {e.chunk_id for e in evidence[:EVIDENCE_LINES]}
        unseen = [i for i, p in enumerate(picks) if p.chunk_id not in shown] or list(range(len(picks)))
        return [Example("", picks[i].text, i) for i in unseen]
    raise ValueError(f"unknown recipe {recipe!r}")
