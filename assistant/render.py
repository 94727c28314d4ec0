"""Rich rendering of pipeline events and reports for the CLI."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import events as ev


def render_index(out: Console, stream: Iterable[ev.Event], quiet: bool = False):
    """Show a progress bar (files/s, chunks/s, ETA) and the end summary. Returns the report."""
    report = None
    bar = Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=out,
        transient=True,
        disable=quiet,
    )
    with bar:
        task = None
        for event in stream:
            if isinstance(event, ev.Stage) and event.name == "rebuilding" and event.done:
                out.print(f"Rebuilt the vector index: {event.detail}.")
            elif isinstance(event, ev.Progress):
                if task is None:
                    task = bar.add_task("indexing", total=event.total, rate="")
                elapsed = bar.tasks[0].elapsed or 1e-9
                chunks = int(event.detail.split()[0]) if event.detail else 0
                rate = f"{event.done / elapsed:.1f} files/s  {chunks / elapsed:.1f} chunks/s"
                bar.update(task, completed=event.done, rate=rate)
            elif isinstance(event, ev.Done):
                report = event.result
    if report is not None:
        print_index_report(out, report, quiet=quiet)
    return report


def print_index_report(out: Console, report, quiet: bool = False) -> None:
    changed = report.added + report.updated + report.removed
    if quiet and not changed:
        return
    if report.repair:
        out.print(f"[yellow]Repaired the vector index from SQLite[/] ({report.repair.reason}: "
                  f"{report.repair.added} added, {report.repair.deleted} removed; nothing re-embedded).")  # fmt: skip
    rate = report.chunks / report.seconds if report.seconds else 0.0
    out.print(
        f"[bold green]Indexed[/] in {report.seconds:.1f}s: {report.added} added, {report.updated} updated, "
        f"{report.removed} removed, {report.unchanged} unchanged, {report.chunks} new chunks ({rate:.1f} chunks/s)."
    )
    if report.skipped:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items(), key=lambda kv: -kv[1]))
        out.print(f"Skipped: {reasons}.")
    for path, warning in report.warnings[:10]:
        out.print(f"[yellow]warning[/] {path}: {warning}")


def render_status(out: Console, facts: dict) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key in ("documents", "chunks", "sessions", "index_bytes", "model", "embedder", "device", "home"):
        value = facts[key]
        if key == "index_bytes":
            key, value = "index size", f"{value / 1e6:.2f} MB"
        table.add_row(key, str(value))
    out.print(table)
    if facts.get("roots"):
        roots = Table("folder", "documents", "chunks", "last indexed", title="Indexed folders")
        for r in facts["roots"]:
            roots.add_row(r["path"], str(r["documents"]), str(r["chunks"]), r["last_indexed_at"])
        out.print(roots)
    elif not facts["documents"]:
        out.print("Nothing indexed yet: run [bold]assistant index PATH[/].")
