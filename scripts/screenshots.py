"""Save SVG screenshots of the main screens under docs/, from the app itself, on real use.

It indexes corpus/ into a temporary home, asks one question through the real pipeline (SIFT, a
fresh LoRA, llama.cpp), then captures the Ask, History (with the session open), Index and Settings
screens at 120x40.

    python scripts/screenshots.py [--question "..."]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def capture(question: str, out: Path) -> list[Path]:
    from assistant.config import load_config
    from assistant.pipeline import Assistant
    from assistant.tui.app import AssistantApp

    home = Path(tempfile.mkdtemp(prefix="screenshots-"))
    assistant = Assistant(load_config(home=home, n=8))
    for _ in assistant.index([ROOT / "corpus"]):
        pass
    app = AssistantApp(assistant.config, assistant=assistant)
    written = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#question").value = question
        await pilot.press("enter")
        for _ in range(2400):  # the real run: learning and answering on the CPU
            await pilot.pause(0.05)
            if app.query_one("#sources").nn:
                break
        await pilot.pause(0.5)
        app.query_one("#question").blur()
        await pilot.wait_for_scheduled_animations()
        (out / "tui-ask.svg").write_text(app.export_screenshot(title="assistant — ask"))
        written.append(out / "tui-ask.svg")
    # The other screens from fresh app instances on the same home, as a returning user sees them.
    for name, keys in (("history", ["f2"]), ("session", []), ("index", ["f3"]), ("settings", ["f4"])):
        app = AssistantApp(assistant.config, assistant=assistant)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(10):
                await pilot.pause(0.1)
            for key in keys:
                await pilot.press(key)
                await pilot.pause(0.3)
            if name == "session":
                from assistant.tui.screens.session import SessionScreen

                latest = assistant.store.sessions()[0]["id"]
                await app.push_screen(SessionScreen(assistant, assistant.store.session(latest)))
                await pilot.pause(0.5)
            await pilot.wait_for_scheduled_animations()
            path = out / f"tui-{name}.svg"
            path.write_text(app.export_screenshot(title=f"assistant — {name}"))
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--question", default="What database did Project Heron move to, and why?")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(capture(args.question, args.out)):
        print(path)


if __name__ == "__main__":
    main()
