"""Rich rendering of pipeline events and reports for the CLI."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pathlib import Path

from assistant import events as ev
from assistant.core.asker import Explanation
from assistant.records import Pick, Session, SessionSummary, StageName, Status


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
            if isinstance(event, ev.Stage) and event.name == StageName.REBUILDING and event.done:
                out.print(f"Rebuilt the vector index: {event.detail}.")
            elif isinstance(event, ev.Progress):
                if task is None:
                    task = bar.add_task("indexing", total=event.total, rate="")
                elapsed = bar.tasks[0].elapsed or 1e-9
                rate = f"{event.done / elapsed:.1f} files/s  {event.chunks / elapsed:.1f} chunks/s"
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
    if report.rechunked:
        out.print(f"Re-chunked {report.rechunked} unchanged files: the chunker or the chunk budget changed since they "
                  "were indexed.")  # fmt: skip
    if report.skipped:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items(), key=lambda kv: -kv[1]))
        out.print(f"Skipped: {reasons}.")
    if report.skipped_formats:
        by_format = ", ".join(f"{fmt} {n}" for fmt, n in sorted(report.skipped_formats.items(), key=lambda kv: (-kv[1], kv[0])))
        out.print(f"Skipped by format: {by_format}.")
    for path, warning in report.warnings[:10]:
        out.print(f"[yellow]warning[/] {path}: {warning}")


def render_status(out: Console, status: Status) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    rows = [("documents", status.documents), ("chunks", status.chunks), ("sessions", status.sessions),
            ("index size", f"{status.index_bytes / 1e6:.2f} MB")]  # fmt: skip
    for what in ("model", "embedder", "device"):
        problem = status.problem(what)
        rows.append((what, f"[red]{problem.kind}:[/] {problem.message}" if problem else getattr(status, what)))
    rows.append(("home", status.home))
    if status.formats:
        rows.append(("formats", ", ".join(status.formats)))
    if status.chat_template:
        rows.append(("chat template", status.chat_template))
    if status.server:
        rows.append(("server", status.server))
    for key, value in rows:
        table.add_row(key, str(value))
    out.print(table)
    if status.roots:
        roots = Table("folder", "documents", "chunks", "last indexed", title="Indexed folders")
        for r in status.roots:
            roots.add_row(r.path, str(r.documents), str(r.chunks), r.last_indexed_at)
        out.print(roots)
    elif not status.documents:
        out.print("Nothing indexed yet: run [bold]assistant index PATH[/].")


# ---------------------------------------------------------------- ask


def fit_path(path: str, width: int) -> str:
    """The file name always shows; the directory is what gets cut (``…/kestrel/plan.rst``)."""
    try:
        shown = str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        shown = path
    if len(shown) <= width:
        return shown
    name = Path(shown).name
    room = width - len(name) - 2
    if room <= 0:
        return name
    return "…" + str(Path(shown).parent)[-room:] + "/" + name


SOURCES_TITLE = {True: "Sources learned from", False: "Sources picked (no adapter was trained)"}


def sources_table(picks: list[Pick], title: str = SOURCES_TITLE[True]) -> Table:
    table = Table("#", "source", "uncertainty ↓", "loss", "", title=title, title_justify="left")
    table.columns[1].overflow = "fold"
    for p in picks:
        loss = "" if p.loss is None else f"{p.loss:.2f}"
        heading = f" [dim]{p.heading[:40]}[/]" if p.heading else ""
        table.add_row(str(p.rank), p.location() + heading, f"{100 * p.variance_cut():5.1f}%", loss,
                      "repeat" if p.repeat else "")  # fmt: skip
    return table


def render_ask(out: Console, stream: Iterable[ev.Event], *, quiet: bool = False):
    """Live stages, a learning bar with the loss, the streamed answer, then sources and timings."""
    result = None
    bar = None
    task = None
    status = None
    for event in stream:
        if isinstance(event, ev.Stage) and not event.done:
            if event.name == StageName.LEARNING:
                bar = Progress(TextColumn("[bold blue]learning"), BarColumn(), MofNCompleteColumn(),
                               TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), console=out, transient=True)  # fmt: skip
                bar.start()
            elif event.name == StageName.ANSWERING:
                out.print("[bold]Answer[/]")
            elif not quiet:
                status = out.status(f"{event.name}…")
                status.start()
        elif isinstance(event, ev.Stage) and event.skipped:
            if not quiet:
                out.print(f"[dim]– {event.name:<11} skipped: {event.detail}[/]")
        elif isinstance(event, ev.Stage):
            if status is not None:
                status.stop()
                status = None
            if bar is not None:
                bar.stop()
                bar = task = None
            if event.name == StageName.ANSWERING:
                out.print()
            if not quiet:
                out.print(f"[green]✓[/] {event.name:<11} {event.seconds:6.2f}s  [dim]{event.detail}[/]")
        elif isinstance(event, ev.Step) and bar is not None:
            if task is None:
                task = bar.add_task("learning", total=event.n, loss="")
            bar.update(task, completed=event.i, loss=f"{event.loss:.3f}")
        elif isinstance(event, ev.Token):
            out.file.write(event.text)
            out.file.flush()
        elif isinstance(event, ev.Warning):
            out.print(f"[yellow]warning:[/] {event.message}")
        elif isinstance(event, ev.Waiting):
            out.print(f"[dim]waiting: the server is answering “{event.question}”[/]")
        elif isinstance(event, ev.Done):
            result = event.result
    if status is not None:
        status.stop()
    if bar is not None:
        bar.stop()
    if result is not None:
        render_grounding(out, result)
        render_comparison(out, result)
    if result is not None and not quiet:
        out.print(sources_table(result.picks, SOURCES_TITLE[result.adapter is not None]))
        timings = "  ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
        out.print(f"[dim]session {result.id} · {result.device} · {timings}[/]")
    return result


def render_grounding(out: Console, session: Session) -> None:
    """The evidence lines under the answer, as quotes with file:line, and what no source supports."""
    for claim in session.unsupported():
        facts = f" ({', '.join(claim.unsupported)} in no source)" if claim.unsupported else ""
        out.print(f"[yellow]⚠ not supported by your notes:[/] [dim]{claim.text}[/]{facts}", highlight=False)
    if session.evidence:
        out.print("[bold]Evidence[/]" + (" [dim](the closest lines)[/]" if session.abstained else ""))
    width = max(out.width - 4, 40)
    for n, e in enumerate(session.evidence, 1):
        also = f" [dim](in {len(e.files)} files)[/]" if len(e.files) > 1 else ""
        out.print(f" [bold][{n}][/] [cyan]{e.location()}[/]{also} [dim]{fit_path(str(Path(e.path).parent), 30)}[/]")
        out.print(f"     “{e.text[: width * 2]}”", highlight=False)
        if e.note:
            out.print(f"     [dim]{e.note}[/]")


def render_comparison(out: Console, session: Session) -> None:
    """``--compare``: the answer without the adapter beside the one with it; ▸ marks what learning changed."""
    from assistant.answer.compare import compare_answers

    if session.without_adapter is None:
        return
    comparison = compare_answers(session.answer, session.without_adapter)
    table = Table("without learning", f"with learning ({session.adapter.recipe if session.adapter else 'adapter'})",
                  title="What learning changed (▸: only in this answer)", title_justify="left", expand=True)  # fmt: skip
    cell = lambda lines: "\n".join(f"[bold]▸ {l.text}[/]" if l.changed else f"  {l.text}" for l in lines) or "[dim](empty)[/]"  # noqa: E731
    table.add_row(cell(comparison.plain), cell(comparison.learned))
    out.print(table)
    if not comparison.changed:
        out.print("[dim]learning did not change this answer[/]")


def render_explain(out: Console, explanation: Explanation) -> None:
    picks = explanation.picks
    table = Table("#", "source", "similarity", "variance after", "", title=f"SIFT picks for: {explanation.question}",
                  title_justify="left")  # fmt: skip
    for p in picks:
        table.add_row(str(p.rank), p.location(), f"{p.similarity:.3f}", f"{p.variance:.4f}", "repeat" if p.repeat else "")
    out.print(table)
    out.print(f"[dim]prior variance {explanation.prior:.4f} → {picks[-1].variance:.4f} after {len(picks)} picks[/]")
    chosen = {p.chunk_id for p in picks}
    nn = Table("#", "source", "similarity", "", title="Plain nearest neighbours would pick", title_justify="left")
    for p in explanation.nn:
        skipped = p.chunk_id not in chosen
        nn.add_row(str(p.rank), p.location(), f"{p.similarity:.3f}", "skipped by SIFT (redundant)" if skipped else "",
                   style="dim" if skipped else "")  # fmt: skip
    out.print(nn)


def sparkline(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(bars[int((v - lo) / span * (len(bars) - 1))] for v in values)


def render_history(out: Console, rows: list[SessionSummary]) -> None:
    if not rows:
        out.print("No sessions yet: ask something with [bold]assistant ask \"...\"[/].")
        return
    table = Table("id", "date", "question", "sources", "device", "total", "status")
    for r in rows:
        table.add_row(str(r.id), r.created_at[:16].replace("T", " "), r.question[:48], str(r.sources), r.device,
                      f"{r.seconds:.1f}s" if r.seconds else "", r.status)  # fmt: skip
    out.print(table)


def render_session(out: Console, session: Session, changed: dict[int, str]) -> None:
    from rich.panel import Panel

    out.print(f"[bold]Session {session.id}[/] · {session.created_at} · {session.status} · {session.device}")
    out.print(Panel(session.question, title="question", title_align="left"))
    out.print(Panel(session.answer or "[dim](no answer)[/]", title="answer", title_align="left"))
    if session.note:
        out.print(f"[yellow]note:[/] {session.note}")
    render_grounding(out, session)
    render_comparison(out, session)
    if session.picks:
        out.print(sources_table(session.picks, SOURCES_TITLE[session.adapter is not None]))
        curve = [session.prior or 0.0] + [p.variance for p in session.picks]
        out.print(f"uncertainty curve  {sparkline(curve)}  {curve[0]:.3f} → {curve[-1]:.3f}")
        for p in session.sources():
            mark = f" [red]({changed[p.rank]})[/]" if p.rank in changed else ""
            excerpt = " ".join(p.text.split())[:160]
            out.print(f"[bold][{p.rank}][/] {p.location()}{mark}\n    [dim]{excerpt}…[/]")
    adapter = session.adapter
    if adapter and not adapter.usable:
        out.print(f"[yellow]adapter forgotten[/] {adapter.forgotten_at}: {adapter.forgotten_reason}")
    elif adapter:
        out.print(f"adapter  {adapter.gguf_path}  r={adapter.rank} alpha={adapter.alpha:g} steps={adapter.steps} "
                  f"recipe={adapter.recipe} {adapter.bytes / 1e6:.2f} MB sha256={adapter.sha256[:12]}")  # fmt: skip
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
