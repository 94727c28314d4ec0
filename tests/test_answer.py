"""Answering with llama.cpp on the real SmolLM2-135M GGUF."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from assistant.answer.prompt import Context, build_messages, citations

pytestmark = pytest.mark.slow


def test_build_messages_numbers_the_context():
    ctx = [Context(1, "/n/a.md", 1, 4, "Trip", "Flight TP1351 leaves at 07:40."), Context(2, "/n/b.md", 2, 2, "", "Hotel: Casa Azul.")]
    messages = build_messages("When does the flight leave?", ctx)
    user = messages[-1]["content"]
    assert "[1] a.md — Trip\nFlight TP1351" in user and "[2] b.md\nHotel" in user
    assert user.endswith("Question: When does the flight leave?")
    assert build_messages("hi", None)[-1]["content"] == "hi"


def test_citations_are_valid_and_ordered():
    assert citations("It leaves at 07:40 [2], see also [1] and [2] and [9].", 3) == [2, 1]


def test_plain_factual_question_gets_a_sane_answer(generator):
    generator.set_adapter(None)
    answer = generator.generate(build_messages("What is the capital of France?", None), max_tokens=32)
    assert "Paris" in answer.text and not answer.looped


def test_streaming_is_the_answer_and_deterministic(generator):
    generator.set_adapter(None)
    pieces = []
    messages = build_messages("Name three colours.", None)
    first = generator.generate(messages, max_tokens=24, on_token=pieces.append)
    assert "".join(pieces) == first.text and len(pieces) > 1
    assert generator.generate(messages, max_tokens=24) == first


def test_switching_adapters_matches_a_fresh_load(training_model, tmp_path):
    from llama_cpp import Llama

    from assistant.answer.generator import Generator
    from assistant.learn.lora_gguf import export_gguf
    from assistant.models.locate import default_gguf
    from assistant.learn.tune import TrainConfig, fit_lora

    paths = []
    for i, text in enumerate(["The ferry to Vis leaves Split at 06:15 every Tuesday.", "Gunnel's bakery is on Svartbäcksgatan 12."]):
        result = fit_lora(training_model, [text] * 4, TrainConfig(lr=3e-3, max_tokens=48))
        paths.append(export_gguf(result, training_model, tmp_path / f"a{i}.gguf"))
    warm = Generator(default_gguf(), n_ctx=256, logits_all=True)
    tokens = warm.llm.tokenize(b"The ferry to Vis leaves", add_bos=True)
    base = warm.token_logprobs(tokens)
    warm.set_adapter(paths[0])
    warm.token_logprobs(tokens)  # fill the KV cache with adapter 0
    warm.set_adapter(paths[1])
    switched = warm.token_logprobs(tokens)
    warm.set_adapter(None)
    cleared = warm.token_logprobs(tokens)
    same_path = tmp_path / "reused.gguf"  # a file rewritten at one path must not hit the cached adapter
    same_path.write_bytes(paths[0].read_bytes())
    warm.set_adapter(same_path)
    first = warm.token_logprobs(tokens)
    same_path.write_bytes(paths[1].read_bytes())
    os.utime(same_path, ns=(same_path.stat().st_atime_ns, same_path.stat().st_mtime_ns + 10**9))
    warm.set_adapter(same_path)
    rewritten = warm.token_logprobs(tokens)
    warm.close()
    fresh = Llama(model_path=str(default_gguf()), lora_path=str(paths[1]), n_ctx=256, logits_all=True, verbose=False)
    fresh.eval(tokens)
    scores = np.array(fresh.scores[: len(tokens)], dtype=np.float64)
    scores -= scores.max(1, keepdims=True)
    expected = scores - np.log(np.exp(scores).sum(1, keepdims=True))
    fresh.close()
    assert np.abs(switched - expected).max() < 1e-4
    assert np.abs(cleared - base).max() < 1e-4
    assert np.abs(switched - base).max() > 0.1
    assert np.abs(rewritten - expected).max() < 1e-4 and np.abs(first - rewritten).max() > 0.1


def test_missing_model_file_is_a_clear_error(tmp_path):
    from assistant.answer.generator import Generator
    from assistant.errors import ModelNotFound

    with pytest.raises(ModelNotFound, match="not found"):
        Generator(Path(tmp_path / "nope.gguf"))


def test_a_looping_answer_stops_before_the_repeat(generator):
    """Ask the model to repeat a sentence: the answer keeps one copy, and the repeat never reaches the caller."""
    generator.set_adapter(None)
    pieces = []
    messages = [{"role": "user", "content": "Write the sentence 'The backup runs at night.' ten times, one per line."}]
    out = generator.generate(messages, max_tokens=120, on_token=pieces.append)
    assert "".join(pieces) == out.text
    from assistant.answer.loops import sentence_key

    said = [sentence_key(x) for x in re.split(r"(?<=[.!?])\s+|\n+", out.text) if len(sentence_key(x)) >= 12]
    assert len(said) == len(set(said)), out.text  # DRY sampling and the loop guard: no sentence twice


def test_a_quoted_opening_comes_first_and_the_model_goes_on_from_it(generator):
    """quote_first: the best line is shown verbatim, then the model continues; it never repeats the quote."""
    from assistant.answer.prompt import Context, quote_opening

    generator.set_adapter(None)
    line = "TAP flight TP753 leaves Copenhagen at 07:40 on 2024-06-14."
    messages = build_messages("When does the TAP flight leave?", [Context(1, "/n/trip.md", 3, 3, "Lisbon", line)], evidence=True)
    pieces = []
    out = generator.generate(messages, max_tokens=32, prefix=quote_opening(line), on_token=pieces.append)
    assert out.text.startswith(f"“{line}” [1]") and "".join(pieces) == out.text
    assert out.text.count("07:40 on 2024-06-14") <= 2  # the model may restate it once, never loop on it
    plain = generator.generate(messages, max_tokens=32)
    assert out != plain  # the opening changes what the model goes on to say


def test_the_answer_ends_where_the_model_writes_the_prompt_layout_again(generator, monkeypatch):
    """Past its answer the 135M model writes a numbered note or a "Question:" of its own: ``prompt.ECHO`` ends it
    there, and no part of the echo reaches the caller, although it streams in over several tokens."""
    import assistant.answer.generator as generator_module
    from assistant.answer.prompt import ECHO, Context, quote_opening

    generator.set_adapter(None)
    lines = ["Book club pick for October 2024; we meet at Café Kanel on 2024-10-08 at 18:30.",
             'Book club: "The Salt Road" came up again because Hedda Mørk has a new book out.',
             '2024-10-08 (Café Kanel): "The Salt Road". Lively.']  # fmt: skip
    contexts = [Context(i, "/n/2024-10.md", i, i, "Journal", line) for i, line in enumerate(lines, 1)]
    messages = build_messages('Where did the book club meet for "The Salt Road"?', contexts, evidence=True)

    def answer():
        pieces = []
        out = generator.generate(messages, max_tokens=48, prefix=quote_opening(lines[0]), on_token=pieces.append)
        assert "".join(pieces) == out.text
        return out.text

    monkeypatch.setattr(generator_module, "ECHO", re.compile(r"(?!)"))  # matches nothing: no echo stop
    monkeypatch.setattr(generator_module, "echo_opening", lambda text: 0)
    echoed = answer()
    monkeypatch.undo()
    assert ECHO.search(echoed), echoed  # the model does write the layout again
    cut = answer()
    assert not ECHO.search(cut) and echoed.startswith(cut.rstrip()), (cut, echoed)
    # "\nQuest" or "\n[2" streamed so far may open an echo: they wait for the next token; a citation alone on
    # its line, then the line it cites, is no echo
    assert [generator_module._stop_opening(t, []) for t in ("Kanel.\nQuest", "Kanel.\n[2", "Kanel.\n[2]\nWe")] == [6, 3, 0]
    assert generator_module._stop_at("Kanel. [1]\n[2]\nWe meet.\n[3] 2024-10.md", []) == 23
    assert generator_module._stop_at("Kanel. [1]\n\nThe answer is: [2]", []) == 11
    assert generator_module._stop_at("Kanel. [1]\n\nThe answer is: 18:30.", []) is None
