"""`assistant ask` end to end on the real stack: real index, real SIFT, real LoRA, real llama.cpp."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli.main import cli
from assistant.errors import AdapterError, AssistantError
from assistant.eval.questions import parse_questions
from assistant.events import Done, Selected, Stage, Step, Token
from assistant.learn import adapters as adapter_files
from tests.conftest import CORPUS, drain

pytestmark = pytest.mark.slow
SMALL = dict(n=3, max_tokens=24, max_train_tokens=96)


def small_notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "heron.md").write_text("# Project Heron\n\nOn 2024-03-12 we moved Project Heron's database from Postgres 14 to SQLite, "
                                   "because the whole deployment runs on one laptop.\n")  # fmt: skip
    (root / "heron-copy.md").write_text("# Heron (copy)\n\nOn 2024-03-12 we moved Project Heron's database from Postgres 14 to SQLite, "
                                        "because the whole deployment runs on one laptop.\n")  # fmt: skip
    (root / "buns.md").write_text("# Cardamom buns\n\nThe dough rests 45 minutes at 24 degrees.\n")
    (root / "ferry.md").write_text("# Ferry\n\nThe ferry to Vis leaves Split at 06:15.\n")
    return root


def test_ask_records_a_complete_session_with_adapter(tmp_path, warm_assistant):
    a = warm_assistant(**SMALL)
    drain(a.index([small_notes(tmp_path)]))
    events = list(a.ask("Which database does Project Heron use?"))
    kinds = [type(e) for e in events]
    assert Selected in kinds and Step in kinds and Token in kinds and kinds[-1] is Done
    stages = [e.name for e in events if isinstance(e, Stage) and e.done]
    assert stages == ["retrieving", "selecting", "learning", "answering"]
    result = events[-1].result
    assert result.status == "complete" and result.answer == "".join(e.text for e in events if isinstance(e, Token))
    session = a.store.session(result.id)
    assert len(session.picks) == len(result.picks) >= 1
    assert all(p.loss is not None for p in session.picks)
    adapter = session.adapter
    assert Path(adapter.gguf_path).is_file() and adapter.steps == len(session.picks)
    assert adapter_files.sha256_file(Path(adapter.gguf_path)) == adapter.sha256
    assert (Path(adapter.path) / "adapter_model.safetensors").is_file()
    assert session.params["method"] == "sift" and session.device == "cpu"
    peft_config = json.loads((Path(adapter.path) / "adapter_config.json").read_text())
    assert session.params["lora_layers"] == 0.5 and peft_config["layers_to_transform"] == list(range(15, 30))  # SmolLM2's top 15 of 30
    assert Path(session.picks[0].path).name.startswith("heron")
    distinct = {p.chunk_id for p in result.picks}
    nn_sims = [p.similarity for p in result.nn]
    assert len(result.nn) == len(distinct) and nn_sims == sorted(nn_sims, reverse=True)
    assert result.nn == a.explain("Which database does Project Heron use?").nn  # the same as `assistant explain`


def test_a_recipe_that_skips_picks_shows_the_loss_of_the_picks_it_learned(tmp_path, warm_assistant):
    """`reach` learns only the picks the prompt's evidence lines do not come from; the review shows their losses."""
    a = warm_assistant(**{**SMALL, "n": 4})
    drain(a.index([small_notes(tmp_path)]))
    session = drain(a.ask("Which database does Project Heron use?", recipe="reach"))
    shown = {e.chunk_id for e in session.evidence[:3]}
    unseen = [p for p in session.picks if p.chunk_id not in shown] or session.picks
    assert session.adapter.recipe == "reach" and session.adapter.steps == len(unseen)
    assert all(p.loss is not None for p in unseen)
    assert all(p.loss is None for p in session.picks if p not in unseen and p.chunk_id in shown)


def test_adapter_reuse_reproduces_the_answer(tmp_path, warm_assistant):
    a = warm_assistant(**SMALL)
    drain(a.index([small_notes(tmp_path)]))
    first = drain(a.ask("When does the ferry to Vis leave?"))
    again = drain(a.ask("When does the ferry to Vis leave?", adapter=first.id))
    assert again.answer == first.answer
    assert again.params["learn"] is False and again.params["adapter_from"] == first.session_id
    Path(first.adapter.gguf_path).write_bytes(b"tampered")
    with pytest.raises(AdapterError, match="sha256"):
        drain(a.ask("When does the ferry leave?", adapter=first.id))


def test_no_learn_and_no_context(tmp_path, warm_assistant):
    a = warm_assistant(**SMALL)
    drain(a.index([small_notes(tmp_path)]))
    events = list(a.ask("How long does the dough rest?", learn=False))
    assert not any(isinstance(e, Step) for e in events)
    skipped = [e for e in events if isinstance(e, Stage) and e.skipped]
    assert [(e.name, e.detail) for e in skipped] == [("learning", "learning is off (--no-learn, or learn = false)")]
    result = events[-1].result
    assert result.adapter is None and a.store.session(result.id).adapter is None
    no_ctx = drain(a.ask("How long does the dough rest?", context=False))
    assert no_ctx.params["context"] is False and no_ctx.adapter is not None


def test_learning_waits_on_the_evidence_and_says_why(tmp_path, warm_assistant):
    """Past `learn_below` the quoted line already answers: no adapter, and the ask says so; below it, or with
    --learn, the adapter is trained and the learning line says why."""
    question = "When does the ferry to Vis leave?"
    a = warm_assistant(**SMALL)
    drain(a.index([small_notes(tmp_path)]))
    best = drain(a.ask(question, learn=False)).evidence[0].score

    def learning_stage(options=None, **settings):
        events = list(warm_assistant(**{**SMALL, **settings}).ask(question, **(options or {})))
        return next(e for e in events if isinstance(e, Stage) and e.name == "learning" and e.done), events[-1].result

    stage, session = learning_stage(learn_below=round(best - 0.01, 4))
    assert stage.skipped and session.adapter is None
    assert stage.detail == f"the best line already answers (score {best:.2f} ≥ learn_below {best - 0.01:.2f}; --learn learns anyway)"
    stage, session = learning_stage(learn_below=round(best + 0.01, 4))
    assert not stage.skipped and session.adapter is not None
    assert stage.detail.endswith(f"(the best line scores {best:.2f} < learn_below {best + 0.01:.2f})")
    stage, session = learning_stage(learn_below=round(best - 0.01, 4), options={"learn": True})
    assert not stage.skipped and session.adapter is not None and stage.detail.endswith("(asked for by --learn)")


def test_weak_evidence_abstains_without_learning_and_shows_the_closest_lines(tmp_path, make_assistant):
    """Below `abstain_below` the answer says the notes do not answer; nothing is trained or generated."""
    from assistant.core.asker import ABSTAIN_TEXT

    a = make_assistant(**SMALL, abstain_below=0.99, abstain_unmentioned=False)
    drain(a.index([small_notes(tmp_path)]))
    events = list(a.ask("What is the guest Wi-Fi password?"))
    session = events[-1].result
    assert session.abstained and session.answer == ABSTAIN_TEXT and session.adapter is None
    assert session.evidence and session.evidence[0].score < 0.99  # the closest lines come anyway
    skipped = [(e.name, e.detail) for e in events if isinstance(e, Stage) and e.skipped]
    assert skipped == [("learning", "no line of your notes answers the question")]
    assert not any(isinstance(e, Step) for e in events) and a.store.session(session.id).abstained


def test_a_month_no_line_mentions_abstains_and_says_which(tmp_path, make_assistant):
    """The ferry line scores high for an October question too; what it lacks is October, and the ask says so."""
    a = make_assistant(**SMALL)
    drain(a.index([small_notes(tmp_path)]))
    session = list(a.ask("When does the ferry to Vis leave in October?"))[-1].result
    assert session.abstained and session.adapter is None and "“october”" in session.answer
    assert session.evidence and "Vis" in session.evidence[0].text  # the closest line is still shown
    kept = list(a.ask("When does the ferry to Vis leave?", learn=False))[-1].result
    assert not kept.abstained and "06:15" in kept.answer


def test_a_rare_name_the_best_lines_note_lacks_and_a_missing_number_abstain(tmp_path, make_assistant):
    """The travel-insurance line is the closest to a question about the Volvo's insurance, but its note never
    says Volvo (a name in 1 chunk of 20); the garage line names Janne but gives no phone number."""
    root = small_notes(tmp_path)
    for i in range(20):  # enough notes that Volvo and Janne are rare names, not the notes' background
        (root / f"day-{i}.md").write_text(f"# Day {i}\n\nWalked {i + 2} km by the river and read about birds.\n")
    (root / "travel.md").write_text("# Travel insurance\n\nThe deductible of the travel insurance is 1,500 SEK.\n")
    (root / "car.md").write_text("# Car\n\nThe Volvo goes to the garage in May. The mechanic there is Janne.\n")
    a = make_assistant(**SMALL, learn=False)
    drain(a.index([root]))
    volvo = list(a.ask("What is the deductible of the Volvo's insurance?"))[-1].result
    assert volvo.abstained and "“volvo”" in volvo.answer and "travel" in volvo.evidence[0].path
    travel = list(a.ask("What is the deductible of the travel insurance?"))[-1].result
    assert not travel.abstained and "1,500" in travel.answer
    phone = list(a.ask("What is the phone number of Janne, the mechanic?"))[-1].result
    assert phone.abstained and "gives no number" in phone.answer and "Janne" in phone.evidence[0].text


def test_the_quoted_line_is_shown_before_llama_cpp_loads(tmp_path, make_assistant):
    """A cold ask shows the notes' own line first: the first token needs no LLM, only the evidence."""
    a = make_assistant(**SMALL, learn=False)
    drain(a.index([small_notes(tmp_path)]))
    loaded_at_first_token = None
    for event in a.ask("When does the ferry to Vis leave?"):
        if isinstance(event, Token) and loaded_at_first_token is None:
            loaded_at_first_token, first = "llama.cpp" in a.models.loaded(), event.text
    session = event.result
    assert loaded_at_first_token is False and "06:15" in first and first.rstrip().endswith("[1]")
    # the model then ran from it (it may add nothing: an echo of the prompt ends the answer)
    assert session.answer.startswith(first) and "llama.cpp" in a.models.loaded()


def test_learning_failure_still_answers_and_records_why(tmp_path, warm_assistant, monkeypatch):
    import assistant.learn.tune

    def broken(*args, **kwargs):
        raise RuntimeError("simulated training failure")

    monkeypatch.setattr(assistant.learn.tune, "fit_lora", broken)
    a = warm_assistant(**SMALL)
    drain(a.index([small_notes(tmp_path)]))
    result = drain(a.ask("When does the ferry to Vis leave?"))
    assert result.status == "complete" and result.answer and result.adapter is None
    assert "learning failed" in a.store.session(result.id).note
    assert not any(p.name.startswith(".partial") for p in (a.config.adapters_dir).glob("*"))


def test_cancel_during_learning_records_an_interrupted_session_without_adapter(tmp_path, warm_assistant):
    import threading

    a = warm_assistant(**SMALL)
    drain(a.index([small_notes(tmp_path)]))
    cancel = threading.Event()
    stream = a.ask("Which database does Project Heron use?", cancel=cancel)
    with pytest.raises(AssistantError):
        for event in stream:
            if isinstance(event, Step):
                cancel.set()
    sessions = a.store.sessions()
    assert [s.status for s in sessions] == ["interrupted"]
    assert a.store.session(sessions[0].id).adapter is None
    assert list(a.config.adapters_dir.glob("*")) == []


def test_cancel_during_selection_stops_before_learning(tmp_path, warm_assistant):
    import threading

    a = warm_assistant(**SMALL)
    drain(a.index([small_notes(tmp_path)]))
    cancel = threading.Event()
    seen = []
    with pytest.raises(AssistantError, match="before learning"):
        for event in a.ask("Which database does Project Heron use?", cancel=cancel):
            seen.append(event)
            if isinstance(event, Selected):
                cancel.set()
    assert not any(isinstance(e, Step) for e in seen)
    assert [s.status for s in a.store.sessions()] == ["interrupted"]


def test_three_corpus_questions_pick_the_right_files(warm_assistant):
    questions = parse_questions(CORPUS / "QUESTIONS.md")[:3]
    # Picks and adapters, not abstention: with only 4 picks the March 2024 line is not among the top lines.
    a = warm_assistant(n=4, max_tokens=16, max_train_tokens=128, abstain_unmentioned=False)
    drain(a.index([CORPUS]))
    for q in questions:
        result = drain(a.ask(q.question))
        picked = {str(Path(p.path).relative_to(CORPUS)) for p in result.picks}
        assert picked & set(q.sources), (q.question, picked, q.sources)
        session = a.store.session(result.id)
        assert [p.chunk_id for p in session.picks] == [p.chunk_id for p in result.picks]
        assert adapter_files.sha256_file(Path(session.adapter.gguf_path)) == session.adapter.sha256


def test_cli_ask_json_history_show_export(tmp_path, warm_assistant, monkeypatch):
    import assistant.core.facade

    a = warm_assistant(**SMALL)
    drain(a.index([small_notes(tmp_path)]))
    monkeypatch.setattr(assistant.core.facade, "Assistant", lambda config: a)
    runner = CliRunner()
    out = runner.invoke(cli, ["ask", "When does the ferry to Vis leave?", "--json", "--recipe", "chat", "--compare"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    sid = payload["id"]
    assert payload["status"] == "complete" and payload["picks"]
    assert payload["adapter"]["recipe"] == "chat" and payload["params"]["recipe"] == "chat"
    assert isinstance(payload["without_adapter"], str) and payload["without_adapter"]  # the same prompt, no adapter
    assert a.store.session(sid).without_adapter == payload["without_adapter"]
    out = runner.invoke(cli, ["history"])
    assert out.exit_code == 0 and "ferry" in out.output
    out = runner.invoke(cli, ["show", str(sid)])
    assert out.exit_code == 0 and "uncertainty curve" in out.output and "recipe=chat" in out.output
    assert "What learning changed" in out.output and "without learning" in out.output
    out = runner.invoke(cli, ["export", str(sid), str(tmp_path / "exp")])
    assert out.exit_code == 0 and (tmp_path / "exp" / "adapter.gguf").exists()
    out = runner.invoke(cli, ["explain", "When does the ferry to Vis leave?"])
    assert out.exit_code == 0 and "Plain nearest neighbours" in out.output
    ferry = str(tmp_path / "notes" / "ferry.md")
    out = runner.invoke(cli, ["forget", "--source", ferry, "--yes"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["show", str(sid)])
    assert "adapter forgotten" in out.output


# kill -9 at each stage of a real `assistant ask` process: tests/test_faults.py
