"""The evaluation harness end to end on a tiny slice, with the real models."""

import json
from types import SimpleNamespace

import pytest

from assistant.eval.lm import LMConfig, run_lm
from assistant.eval.overlap import overlap_markdown, pick_overlap
from assistant.eval.qa import plan_conditions, qa_markdown, qa_summary, run_qa
from assistant.eval.report import lm_markdown, lm_plot, lm_summary, load_rows
from tests.conftest import CORPUS, drain

pytestmark = pytest.mark.slow


def test_lm_protocol_tiny_slice_and_resume(tmp_path, training_model, embedder, token_counter):
    models = SimpleNamespace(gguf=training_model.gguf_path, tm=training_model, embedder=embedder, tokens=token_counter)
    cfg = LMConfig(corpus=CORPUS, out=tmp_path / "lm", n_test=2, steps=2, methods=("none", "nn", "sift"), chunk_tokens=64, test_tokens=64)
    drain(run_lm(cfg, models))
    rows = load_rows(cfg.out / "lm.jsonl")
    assert sorted(r["method"] for r in rows) == ["nn", "nn", "none", "none", "sift", "sift"]
    for r in rows:
        assert r["curve"]["0"] > 0
        if r["method"] != "none":
            assert set(r["curve"]) >= {"0", "1", "2"} and len(r["variances"]) == 2
    config = json.loads((cfg.out / "lm-config.json").read_text())
    assert config["seed"] == 0 and len(config["test_files"]) == 2 and config["embedder"]
    drain(run_lm(cfg, models))  # resumes: everything is done already
    assert len(load_rows(cfg.out / "lm.jsonl")) == 6
    summary = lm_summary(rows)
    assert summary["methods"]["sift"]["bpb"][2] == 2 and "sift_minus_nn" in summary
    assert "| sift |" in lm_markdown([summary])
    assert [p.name for p in lm_plot(rows, cfg.out)] == ["lm-bpb-dup1.png", "lm-adaptive.png"]
    assert [p["steps"] for p in summary["fixed"]] == [1, 2] and "| fixed 2 | 2 |" in lm_markdown([summary])
    overlap = pick_overlap(cfg, models)
    assert [r["doc"] for r in overlap] == config["test_files"]
    assert all(0 <= r["shared"] <= 1 and r["nn"]["distinct"] == 2 and -1 <= r["sift"]["pair_cosine"] <= 1 for r in overlap)
    copies = pick_overlap(LMConfig(**{**cfg.__dict__, "duplicate": 3}), models)
    assert all(r["nn"]["distinct"] == 1 and r["nn"]["max_pair_cosine"] > 0.999 for r in copies)  # NN takes copies of one chunk
    assert "| sift |" in overlap_markdown(overlap)
    again = LMConfig(**{**cfg.__dict__, "out": tmp_path / "again", "methods": ("sift",)})
    drain(run_lm(again, models))  # same seed, same device: the same numbers
    first = {r["doc"]: r["curve"] for r in rows if r["method"] == "sift"}
    assert {r["doc"]: r["curve"] for r in load_rows(again.out / "lm.jsonl")} == first


def test_qa_protocol_tiny_slice(tmp_path, warm_assistant):
    questions = tmp_path / "q.md"
    text = (CORPUS / "QUESTIONS.md").read_text()
    questions.write_text(text[: text.index("## 3.")] + "## 3. What is the guest Wi-Fi password?\n- answer: UNANSWERABLE\n")
    a = warm_assistant(max_tokens=24, max_train_tokens=96)
    drain(a.index([CORPUS]))
    conditions = ["chunks", "evidence", "quoted", "learn+evidence"]
    assert plan_conditions(["chunks", "learn[chat]+chunks", "learn+evidence"], ["raw", "evidence"]) == {
        "chunks": ("chunks", None), "learn[chat]+chunks": ("chunks", "chat"), "learn+evidence": ("evidence", "raw"),
        "learn[evidence]+evidence": ("evidence", "evidence")}  # fmt: skip
    drain(run_qa(a, questions, tmp_path / "qa", CORPUS.resolve(), n=2, conditions=conditions, recipes=["raw", "evidence"]))
    rows = load_rows(tmp_path / "qa" / "qa.jsonl")
    assert [r["number"] for r in rows] == [1, 2, 3] and [r["answerable"] for r in rows] == [True, True, False]
    for r in rows[:2]:
        assert list(r["conditions"]) == [*conditions, "learn[evidence]+evidence"]  # one learned condition per recipe
        assert set(r["learn_seconds"]) == {"raw", "evidence"}
        assert r["conditions"]["learn+evidence"]["seconds"] > r["learn_seconds"]["raw"]  # a user waits for both
    assert list(rows[2]["conditions"]) == conditions[:3] and rows[2]["learn_seconds"] == {}  # unanswerable: no learning
    for r in rows:
        assert set(r["recall"]) == {"nn", "sift"} and len(r["evidence"]) <= 3 and r["best_evidence"] > 0
        assert all(isinstance(c["looped"], bool) and isinstance(c["flagged_spans"], list) for c in r["conditions"].values())
    for r in rows[:2]:
        assert all(c["answer_bits_per_byte"] > 0 for c in r["conditions"].values())
    assert rows[2]["conditions"]["evidence"]["contains"] is None  # no gold answer to contain
    config = json.loads((tmp_path / "qa" / "qa-config.json").read_text())
    assert config["seed"] == a.config.seed and config["n"] == 2 and config["model"].endswith(".gguf")
    summary = qa_summary(rows, abstain_below=1.0)  # everything scores below 1: all abstain
    assert summary["n"] == 3 and summary["abstention"][0] == 1.0 and summary["false_abstention"][0] == 1.0
    assert "| learn+evidence |" in qa_markdown(summary) and "evidence@3" in qa_markdown(summary)
    assert set(summary["paired"]) == {"evidence − chunks", "quoted − evidence", "learn+evidence − evidence",
                                      "learn[evidence]+evidence − evidence"}  # fmt: skip
    quoted = rows[0]["conditions"]["quoted"]
    assert quoted["generated"].startswith(f"“{' '.join(rows[0]['evidence'][0].split())}” [1]")  # the best line, verbatim
    drain(run_qa(a, questions, tmp_path / "lines", CORPUS.resolve(), n=2, conditions=[]))  # --evidence-only
    lines = load_rows(tmp_path / "lines" / "qa.jsonl")
    assert all(r["conditions"] == {} and r["learn_seconds"] == {} for r in lines)
    assert [r["evidence"] for r in lines] == [r["evidence"] for r in rows]  # the same lines, nothing generated
    assert "evidence@3" in qa_markdown(qa_summary(lines))


def test_python_docs_installs_when_missing_and_says_so_when_it_cannot(tmp_path):
    from assistant.errors import ConfigError
    from assistant.eval.pydocs import python_docs

    folder = tmp_path / "_sources"
    with pytest.raises(ConfigError, match="could not install python3.11-doc"):
        python_docs(folder, install=["sh", "-c", "echo 'E: Unable to locate package' >&2; exit 100"])
    with pytest.raises(ConfigError, match="could not install"):
        python_docs(folder, install=["true"])  # "installed" but the folder is still missing
    assert python_docs(folder, install=["mkdir", "-p", str(folder)]) == folder
    assert python_docs(folder, install=["false"]) == folder  # present: nothing is run
