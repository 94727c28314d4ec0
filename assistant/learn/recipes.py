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

# Recipes whose i-th example comes from the i-th pick: each pick's training loss is its own (the review shows it).
PER_PICK = ("raw", "chat", "distill")


@dataclass(frozen=True)
class Example:
    prompt: str  # conditioning text, not trained on ("" for plain causal-LM text)
    reply: str  # the tokens the loss is taken on


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
        return [Example("", p.text) for p in picks]
    if recipe == "chat":
        return [Example(chat(topic_request(p)), p.text) for p in picks]
    if recipe == "distill":
        return [Example(chat(question), p.text) for p in picks]
    if recipe == "evidence":  # the lines the answer prompt leads with, cycled; no lines: the chunks, as distill
        lines = evidence[:EVIDENCE_LINES]
        if not lines:
            return build_examples("distill", question, picks, evidence, chat)
        return [Example(chat(question), lines[i % len(lines)].text) for i in range(steps)]
    if recipe == "reach":
        # The prompt already holds the evidence lines' chunks; learn from the picks it cannot hold.
        shown = {e.chunk_id for e in evidence[:EVIDENCE_LINES]}
        unseen = [p for p in picks if p.chunk_id not in shown]
        return [Example("", p.text) for p in (unseen or picks)]
    raise ValueError(f"unknown recipe {recipe!r}")
