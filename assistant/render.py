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


# ---------------------------------------------------------------- ask


def _loc(path: str, start: int, end: int, fmt: str | None = None, width: int = 48) -> str:
    from pathlib import Path

    try:
        shown = str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        shown = path
    if len(shown) > width:
        shown = "…" + shown[-(width - 1) :]
    if fmt == "pdf" or path.endswith(".pdf"):
        return f"{shown}:p{start}" if start == end else f"{shown}:p{start}-{end}"
    return f"{shown}:{start}-{end}"


def reduction_pct(prev: float, cur: float, prior: float) -> float:
    return 100.0 * (prev - cur) / prior if prior else 0.0


def sources_table(selections: list[dict], prior: float | None, title: str = "Sources learned from") -> Table:
    table = Table("#", "source", "heading", "uncertainty ↓", "loss", "", title=title, title_justify="left")
    prev = prior or 0.0
    for s in selections:
        cut = reduction_pct(prev, s["variance_after"], prior or 0.0)
        prev = s["variance_after"]
        loss = "" if s.get("loss") is None else f"{s['loss']:.2f}"
        table.add_row(
            str(s["rank"]), _loc(s["document_path"], s["start_line"], s["end_line"]), (s["heading"] or "")[:32],
            f"{cut:5.1f}%", loss, "repeat" if s["repeat"] else "",
        )  # fmt: skip
    return table


def render_ask(out: Console, stream: Iterable[ev.Event], *, quiet: bool = False):
    """Live stages, a learning bar with the loss, the streamed answer, then sources and timings."""
    result = None
    bar = None
    task = None
    selected: list[ev.Selected] = []
    status = None
    for event in stream:
        if isinstance(event, ev.Stage) and not event.done:
            if event.name == "learning":
                bar = Progress(TextColumn("[bold blue]learning"), BarColumn(), MofNCompleteColumn(),
                               TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), console=out, transient=True)  # fmt: skip
                bar.start()
            elif event.name == "answering":
                out.print("[bold]Answer[/]")
            elif not quiet:
                status = out.status(f"{event.name}…")
                status.start()
        elif isinstance(event, ev.Stage):
            if status is not None:
                status.stop()
                status = None
            if bar is not None:
                bar.stop()
                bar = task = None
            if event.name == "answering":
                out.print()
            if not quiet:
                out.print(f"[green]✓[/] {event.name:<11} {event.seconds:6.2f}s  [dim]{event.detail}[/]")
        elif isinstance(event, ev.Selected):
            selected.append(event)
        elif isinstance(event, ev.Step) and bar is not None:
            if task is None:
                task = bar.add_task("learning", total=event.n, loss="")
            bar.update(task, completed=event.i, loss=f"{event.loss:.3f}")
        elif isinstance(event, ev.Token):
            out.file.write(event.text)
            out.file.flush()
        elif isinstance(event, ev.Warning):
            out.print(f"[yellow]warning:[/] {event.message}")
        elif isinstance(event, ev.Done):
            result = event.result
    if status is not None:
        status.stop()
    if bar is not None:
        bar.stop()
    if result is not None and not quiet:
        out.print(sources_table(result.selections, result.prior))
        timings = "  ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
        out.print(f"[dim]session {result.session_id} · {result.device} · {timings}[/]")
    return result


def render_explain(out: Console, question: str, sift_picks: list[dict], nn_picks: list[dict], prior: float) -> None:
    table = Table("#", "source", "similarity", "variance after", "", title=f"SIFT picks for: {question}", title_justify="left")
    for p in sift_picks:
        table.add_row(str(p["rank"]), _loc(p["path"], p["start_line"], p["end_line"]), f"{p['similarity']:.3f}",
                      f"{p['variance']:.4f}", "repeat" if p["repeat"] else "")  # fmt: skip
    out.print(table)
    out.print(f"[dim]prior variance {prior:.4f} → {sift_picks[-1]['variance']:.4f} after {len(sift_picks)} picks[/]")
    chosen = {p["chunk_id"] for p in sift_picks}
    nn = Table("#", "source", "similarity", "", title="Plain nearest neighbours would pick", title_justify="left")
    for p in nn_picks:
        skipped = p["chunk_id"] not in chosen
        style = "dim" if skipped else ""
        nn.add_row(str(p["rank"]), _loc(p["path"], p["start_line"], p["end_line"]), f"{p['similarity']:.3f}",
                   "skipped by SIFT (redundant)" if skipped else "", style=style)  # fmt: skip
    out.print(nn)


def sparkline(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(bars[int((v - lo) / span * (len(bars) - 1))] for v in values)


def render_history(out: Console, rows: list[dict]) -> None:
    import json

    if not rows:
        out.print("No sessions yet: ask something with [bold]assistant ask \"...\"[/].")
        return
    table = Table("id", "date", "question", "sources", "device", "total", "status")
    for r in rows:
        total = json.loads(r["timings_json"]).get("total")
        table.add_row(str(r["id"]), r["created_at"][:16].replace("T", " "), r["question"][:48], str(r["sources"]),
                      r["device"], f"{total:.1f}s" if total else "", r["status"])  # fmt: skip
    out.print(table)


def render_session(out: Console, session: dict, changed: dict[int, str]) -> None:
    from rich.panel import Panel

    out.print(f"[bold]Session {session['id']}[/] · {session['created_at']} · {session['status']} · {session['device']}")
    out.print(Panel(session["question"], title="question", title_align="left"))
    out.print(Panel(session["answer"] or "[dim](no answer)[/]", title="answer", title_align="left"))
    if session.get("note"):
        out.print(f"[yellow]note:[/] {session['note']}")
    sels = session["selections"]
    if sels:
        out.print(sources_table(sels, session["prior"]))
        curve = [session["prior"] or 0.0] + [s["variance_after"] for s in sels]
        out.print(f"uncertainty curve  {sparkline(curve)}  {curve[0]:.3f} → {curve[-1]:.3f}")
        for s in sels:
            if s["repeat"]:
                continue
            mark = f" [red]({changed[s['rank']]})[/]" if s["rank"] in changed else ""
            excerpt = " ".join(s["text"].split())[:160]
            out.print(f"[bold][{s['rank']}][/] {_loc(s['document_path'], s['start_line'], s['end_line'])}{mark}\n    [dim]{excerpt}…[/]")
    adapter = session.get("adapter")
    if adapter:
        if adapter.get("forgotten_at"):
            out.print(f"[yellow]adapter forgotten[/] {adapter['forgotten_at']}: {adapter['forgotten_reason']}")
        else:
            out.print(f"adapter  {adapter['gguf_path']}  r={adapter['rank']} alpha={adapter['alpha']:g} "
                      f"steps={adapter['steps']} {adapter['bytes'] / 1e6:.2f} MB sha256={adapter['sha256'][:12]}")  # fmt: skip
    else:
        out.print("[dim]no adapter (learning was off or failed)[/]")


def render_eval(out: Console, stream: Iterable[ev.Event]) -> None:
    """A progress bar over evaluation items; each item is saved as soon as it is known."""
    bar = Progress(TextColumn("[bold blue]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), console=out)  # fmt: skip
    with bar:
        task = None
        for event in stream:
            if isinstance(event, ev.Stage):
                out.print(f"[dim]{event.name}[/] {event.detail}")
            elif isinstance(event, ev.Progress):
                if task is None:
                    task = bar.add_task(event.unit, total=event.total)
                bar.update(task, completed=event.done)
