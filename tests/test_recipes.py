"""Training recipes: the examples each one makes from the same picks, and the loss on the reply only."""

import pytest

from assistant.config import RECIPES
from assistant.learn.recipes import EVIDENCE_LINES, Example, build_examples
from assistant.learn.tune import TrainConfig, fit_lora
from assistant.records import Evidence, Pick


def pick(rank: int, chunk_id: int, text: str, heading: str = "", repeat: bool = False) -> Pick:
    return Pick(rank, chunk_id, f"/notes/file-{chunk_id}.md", 1, 3, heading, 0.5, 0.1, 0.2, 1.0, repeat=repeat, text=text)


PICKS = [pick(1, 10, "The ferry to Vis leaves Split at 06:15.", "Ferry"), pick(2, 11, "Buns rest 45 minutes."),
         pick(3, 10, "The ferry to Vis leaves Split at 06:15.", "Ferry", repeat=True), pick(4, 12, "Heron uses SQLite.")]  # fmt: skip
EVIDENCE = [Evidence("The ferry to Vis leaves Split at 06:15.", "/notes/file-10.md", 3, "Ferry", 0.8, 10),
            Evidence("Buns rest 45 minutes.", "/notes/file-11.md", 3, "", 0.4, 11)]  # fmt: skip


def chat(user: str) -> str:
    return f"<user>{user}</user><assistant>"


def test_every_recipe_fits_the_same_step_budget():
    for recipe in RECIPES:
        examples = build_examples(recipe, "When does the ferry leave?", PICKS, EVIDENCE, chat)
        assert examples and all(isinstance(e, Example) and e.reply for e in examples), recipe
        assert len(examples) <= len(PICKS), recipe  # same CPU budget as raw
    raw = build_examples("raw", "q", PICKS, EVIDENCE, chat)
    assert [e.prompt for e in raw] == [""] * 4 and [e.reply for e in raw] == [p.text for p in PICKS]  # re-pick learned again
    topics = [e.prompt for e in build_examples("chat", "q", PICKS, EVIDENCE, chat)]
    assert topics[0] == chat("What do my notes say about Ferry?") and "file 11" in topics[1]  # no heading: the file name
    assert {e.prompt for e in build_examples("distill", "When?", PICKS, EVIDENCE, chat)} == {chat("When?")}
    lines = [e.reply for e in build_examples("evidence", "When?", PICKS, EVIDENCE, chat)]
    assert lines == [EVIDENCE[0].text, EVIDENCE[1].text, EVIDENCE[0].text, EVIDENCE[1].text]  # cycled, best first
    reach = build_examples("reach", "q", PICKS, EVIDENCE[:EVIDENCE_LINES], chat)
    assert [e.reply for e in reach] == ["Heron uses SQLite."]  # the prompt already shows the other two
    assert [e.pick for e in reach] == [3] and [e.pick for e in raw] == [0, 1, 2, 3]  # whose loss each step is
    assert {e.pick for e in build_examples("evidence", "q", PICKS, EVIDENCE, chat)} == {None}  # lines, not picks
    with pytest.raises(ValueError, match="unknown recipe"):
        build_examples("nope", "q", PICKS, EVIDENCE, chat)


def test_the_loss_is_on_the_reply_only(training_model):
    tm = training_model
    prompt = tm.chat_prompt("When does the ferry leave?")
    ids, labels = tm.encode_example(Example(prompt, "At 06:15."), 64)
    n_prompt = len(tm.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert (labels[0, :n_prompt] == -100).all() and (labels[0, n_prompt:] == ids[0, n_prompt:]).all()
    assert tm.tokenizer.decode(ids[0, n_prompt:]).startswith("At 06:15.")
    plain_ids, plain_labels = tm.encode_example(Example("", "At 06:15."), 64)
    assert plain_ids is plain_labels  # no prompt: every token after BOS is trained, as before recipes


def test_a_chat_recipe_teaches_the_reply_to_its_question(training_model):
    tm = training_model
    example = Example(tm.chat_prompt("When does the ferry to Vis leave Split?"), "The ferry to Vis leaves Split at 06:15.")
    result = fit_lora(tm, [example] * 4, TrainConfig(lr=2e-3, max_tokens=64))
    assert result.steps == 4 and result.losses[-1] < result.losses[0]
    ids, labels = tm.encode_example(example, 64)

    def reply_loss(lora):
        import torch

        logits = tm.logits(ids, lora)[:-1]
        return float(torch.nn.functional.cross_entropy(logits, labels[0, 1:], ignore_index=-100))

    assert reply_loss(result) < reply_loss(None) - 0.1
