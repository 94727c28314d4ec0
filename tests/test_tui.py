"""The Textual app, driven with the Pilot: real flows on a small real index, plus snapshots."""

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Markdown, Switch, TabbedContent

from assistant.config import load_config
from assistant.tui.app import AssistantApp
from assistant.tui.screens.session import SessionScreen
from assistant.tui.screens.source import SourceScreen
from assistant.tui.widgets.sources import SourcesPanel
from tests.conftest import drain
from tests.tui_doubles import FrozenAssistant, ScriptedAssistant


async def wait_until(pilot, predicate, timeout=30.0):
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await pilot.pause(0.05)
    return predicate()


def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "heron.md").write_text("# Heron\n\nOn 2024-03-12 Heron moved from Postgres 14 to SQLite.\n")
    (root / "ferry.md").write_text("# Ferry\n\nThe ferry to Vis leaves Split at 06:15.\n")
    return root


@pytest.fixture
def scripted(warm_models, tmp_path):
    a = ScriptedAssistant(load_config())
    drain(a.index([notes(tmp_path)]))
    return a


async def ask(pilot, app, question="What database did Heron move to?"):
    await pilot.click("#question")
    app.query_one("#question", Input).value = question
    await pilot.press("enter")


async def answered(pilot, app) -> SourcesPanel:
    """Ask the scripted question and wait until the run and the NN comparison are done."""
    await ask(pilot, app)
    panel = app.query_one("#sources", SourcesPanel)
    assert await wait_until(pilot, lambda: panel.nn)
    return panel


async def test_ask_streams_the_answer_and_fills_sources(scripted):
    app = AssistantApp(scripted.config, assistant=scripted)
    scripted.step_delay = 0.01
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await answered(pilot, app)
        assert [s["rank"] for s in panel.sources] == [1, 2, 3, 4] and panel.row_count == 4
        answer = app.query(".answer").last()
        assert "SQLite" in answer.source and "(cite:1)" in answer.source
        assert "✓ answering" in str(app.query_one("#stage-answering").render())
        panel.action_toggle_nn()
        assert panel.showing_nn and panel.row_count == len(panel.nn)


async def test_open_a_source_and_follow_a_citation(scripted):
    app = AssistantApp(scripted.config, assistant=scripted)
    scripted.step_delay = 0.01
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await answered(pilot, app)
        panel.focus()
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, SourceScreen))
        assert app.screen.source["rank"] == 1
        await pilot.press("escape")
        app.post_message(Markdown.LinkClicked(app.query(".answer").last(), "cite:2"))
        assert await wait_until(pilot, lambda: isinstance(app.screen, SourceScreen))
        assert app.screen.source["rank"] == 2


async def test_keys_work_while_learning_and_cancel_stops_the_run(scripted):
    app = AssistantApp(scripted.config, assistant=scripted)
    scripted.step_delay = 0.5
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, app)
        assert await wait_until(pilot, lambda: "●" in str(app.query_one("#stage-learning").render()))
        await pilot.press("f4")  # the UI thread is free while the worker learns
        assert app.query_one(TabbedContent).active == "settings"
        await pilot.press("f1")
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: "cancelled" in app.query(".answer").last().source)
        assert "✓ answering" not in str(app.query_one("#stage-answering").render())


async def test_history_reopens_a_session_and_reasks_with_its_adapter(warm_assistant, tmp_path):
    real = warm_assistant(n=2, max_tokens=16, max_train_tokens=64)
    drain(real.index([notes(tmp_path)]))
    first = drain(real.ask("When does the ferry to Vis leave?"))
    app = AssistantApp(real.config, assistant=real)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        table = app.query_one("#history-table", DataTable)
        assert await wait_until(pilot, lambda: table.row_count == 1)
        table.focus()
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, SessionScreen))
        assert app.screen.session["id"] == first.session_id
        await pilot.press("r")  # re-ask through the saved adapter, with the real pipeline
        assert await wait_until(pilot, lambda: "✓ answering" in str(app.query_one("#stage-answering").render()), timeout=120)
        assert await wait_until(pilot, lambda: len(real.store.sessions()) == 2)
        newest = real.store.session(real.store.sessions()[0]["id"])
        assert newest["params"]["adapter_from"] == first.session_id and newest["answer"] == first.answer


async def test_index_a_folder_from_the_app(warm_models, tmp_path):
    from assistant.pipeline import Assistant

    a = Assistant(load_config())
    app = AssistantApp(a.config, assistant=a)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        box = app.query_one("#add-folder", Input)
        box.value = str(notes(tmp_path))
        box.focus()
        await pilot.press("enter")
        table = app.query_one("#roots-table", DataTable)
        assert await wait_until(pilot, lambda: table.row_count == 1, timeout=60)
        assert a.store.counts()["documents"] == 2
        assert "Done" in str(app.query_one("#index-rate").render())


async def test_change_a_setting_saves_config_toml(warm_models, home):
    from assistant.pipeline import Assistant

    a = Assistant(load_config())
    app = AssistantApp(a.config, assistant=a)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        app.query_one("#set-k", Input).value = "77"
        app.query_one("#set-learn", Switch).value = False
        app.query_one("#save-settings").press()
        await pilot.pause()
        await pilot.pause()
    text = (home / "config.toml").read_text()
    assert "k = 77" in text and "learn = false" in text
    assert load_config().k == 77


async def test_opens_without_an_index_and_with_a_missing_model(warm_models, home):
    from assistant.pipeline import Assistant

    a = Assistant(load_config())
    async with AssistantApp(a.config, assistant=a).run_test(size=(80, 24)) as pilot:
        hint = pilot.app.query_one("#hint")
        assert await wait_until(pilot, lambda: "Nothing indexed yet" in str(hint.render()))
    broken = Assistant(load_config(model=str(home / "missing.gguf")))
    async with AssistantApp(broken.config, assistant=broken).run_test(size=(80, 24)) as pilot:
        hint = pilot.app.query_one("#hint")
        assert await wait_until(pilot, lambda: "Model problem" in str(hint.render()))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("keys", [["enter"], ["f2"], ["f3"], ["f4"]], ids=["ask", "history", "index", "settings"])
def test_snapshots(snap_compare, size, keys, home):
    """Main screens with fixed data (FrozenAssistant), after one scripted question on the Ask screen."""
    app = AssistantApp(load_config(), assistant=FrozenAssistant(load_config()))

    async def before(pilot):
        if keys == ["enter"]:
            app.query_one("#question", Input).value = "What database did Heron move to?"
        await pilot.press(*keys)
        for _ in range(40):
            await pilot.pause(0.05)
        app.query_one("#question", Input).blur() if keys == ["enter"] else None
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)
