"""The evidence lines under an answer: quoted, with file:line; Enter opens the source at that line."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from assistant.records import Claim, Evidence


class EvidenceList(OptionList):
    """One option per evidence line."""

    class Opened(Message):
        def __init__(self, evidence: Evidence) -> None:
            super().__init__()
            self.evidence = evidence

    def __init__(self, evidence: list[Evidence], *, closest: bool = False) -> None:
        options = []
        for n, e in enumerate(evidence, 1):
            label = Text.assemble((f"[{n}] ", "bold"), (e.location(), "underline"))
            if len(e.files) > 1:
                label.append(f"  in {len(e.files)} files", style="dim")
            label.append(f"\n“{e.text}”", style="italic")
            options.append(Option(label))
        super().__init__(*options, classes="evidence-list")
        self.evidence = evidence
        self.border_title = "Closest lines (the notes do not answer this)" if closest else "Evidence"

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        # straight to the app: a message bubbling from here stops at the screen handling it
        self.app.post_message(self.Opened(self.evidence[event.option_index]))


def unsupported_note(claims: list[Claim]) -> Static | None:
    """A dim ⚠ line per answer sentence that nothing in the sources supports."""
    lines = [f"⚠ {c.text}" + (f"  ({', '.join(c.unsupported)} in no source)" if c.unsupported else "")
             for c in claims if not c.supported]  # fmt: skip
    if not lines:
        return None
    return Static("Not supported by your notes:\n" + "\n".join(lines), classes="unsupported", markup=False)
