"""Save SVG screenshots of the app's main screens under docs/, taken from the app itself.

The app runs headless (``App.run_test``) against ``FakeAssistant``, the test double from
tests/test_tui.py: it emits the same events as ``Assistant.ask`` and serves a realistic set of
past sessions on the sample corpus, without loading any model, so the pictures are the same on
every machine. Each screen is reached with the keys a person would press.

    python scripts/screenshots.py [--out docs] [--size 120x40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> keys pressed after the Heron question is answered (the Ask screen is the starting point)
SHOTS = {
    "ask": [],
    "nn": ["n"],  # the Sources panel shows what plain NN would have picked
    "history": ["f2"],
    "session": ["f2", "enter"],
    "index": ["f3", "r"],  # re-index all, and wait for it to finish
    "settings": ["f4"],
}


async def capture(name: str, keys: list[str], out: Path, size: tuple[int, int]) -> Path:
    from assistant.config import load_config
    from assistant.tui.app import AssistantApp
    from tests.test_tui import FakeAssistant, answered, wait_until

    fake = FakeAssistant(load_config(), step_delay=0.01)
    fake.file_delay = 0.01
    app = AssistantApp(fake.config, assistant=fake)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.facts is not None)
        await answered(pilot)
        app.ask_screen.sources.table.focus()
        await pilot.press(*keys)
        await wait_until(pilot, lambda: not app.busy)
        await pilot.pause(0.3)
        await pilot.wait_for_scheduled_animations()
        path = Path(app.save_screenshot(filename=f"tui-{name}.svg", path=str(out)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="Folder for the SVG files.")
    parser.add_argument("--size", default="120x40", help="Terminal size, COLUMNSxROWS.")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    os.environ["ASSISTANT_HOME"] = tempfile.mkdtemp(prefix="screenshots-")  # never the user's config
    for name, keys in SHOTS.items():
        print(asyncio.run(capture(name, keys, args.out, size)))


if __name__ == "__main__":
    main()
