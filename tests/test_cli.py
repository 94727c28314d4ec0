import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from assistant.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent


def test_import_hygiene():
    """`assistant --help` must stay instant: no heavy library is imported by the CLI module."""
    code = "import sys, assistant.cli.main; print(sorted(m for m in ('torch','transformers','peft','llama_cpp','textual','hnswlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in cli.commands:
        assert re.search(rf"assistant {name}\b", readme), f"`assistant {name}` is not documented in README.md"


def test_missing_path_is_one_line_and_exit_1(tmp_path):
    result = CliRunner().invoke(cli, ["index", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "path not found" in result.output
    assert "Traceback" not in result.output


def test_index_and_status_json(tmp_path, warm_models, home):
    notes = tmp_path / "n"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nThe ferry leaves at 06:15.\n")
    result = CliRunner().invoke(cli, ["index", str(notes)])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    result = CliRunner().invoke(cli, ["status", "--json"])
    facts = json.loads(result.output)
    assert {"documents", "chunks", "home", "model", "embedder", "device"} <= set(facts)
    assert (facts["documents"], facts["chunks"], facts["home"]) == (1, 1, str(home))


def test_status_reports_an_unavailable_device_instead_of_failing(home, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DEVICE", "mps")  # no Apple GPU on a Linux machine
    result = CliRunner().invoke(cli, ["status", "--json"])
    assert result.exit_code == 0, result.output
    problems = json.loads(result.output)["problems"]
    assert [(p["kind"], p["what"]) for p in problems] == [("unavailable", "device")]
    assert problems[0]["message"].startswith("device 'mps' is not available")


def test_empty_index_and_empty_question_are_clear(warm_models):
    result = CliRunner().invoke(cli, ["ask", "what is the ferry time?"])
    assert result.exit_code == 1 and "index is empty" in result.output
    result = CliRunner().invoke(cli, ["explain", "   "])
    assert result.exit_code == 1 and "empty" in result.output


def test_unknown_session_is_clear():
    for args in (["show", "42"], ["forget", "42"], ["export", "42", "/tmp/x"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and "no session with id 42" in result.output, args
