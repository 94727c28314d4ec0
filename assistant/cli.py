"""Command line: thin commands that parse input, call the pipeline and render its events.

Heavy libraries (torch, transformers, llama_cpp, textual) are imported inside commands so
``assistant --help`` stays instant.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click
from click_default_group import DefaultGroup

from .config import load_config
from .errors import AssistantError


def render_index(out, events, quiet: bool = False):
    from .render import render_index as render

    return render(out, events, quiet=quiet)


def _debug() -> bool:
    return bool(os.environ.get("ASSISTANT_DEBUG"))


def user_errors(func):
    """Turn domain errors into one-line messages with exit code 1 (re-raised when debugging)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            if _debug():
                raise
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            if _debug():
                raise
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


def home_option(func):
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="ASSISTANT_HOME",
        help="Data directory (index, sessions, adapters). Env: ASSISTANT_HOME.",
    )(func)


def make_assistant(home: Path | None, **overrides):
    from .pipeline import Assistant

    return Assistant(load_config(home=home, **overrides))


def console():
    from rich.console import Console

    return Console(highlight=False)


@click.group(cls=DefaultGroup, default="tui", default_if_no_args=True)
@click.version_option(package_name="assistant")
def cli():
    """A private, local assistant that learns from your documents when you ask."""


# ---------------------------------------------------------------- index


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--prune/--no-prune", default=True, show_default=True, help="Remove documents deleted from the indexed folders.")
@click.option("--rebuild", is_flag=True, help="Rebuild the vector index from SQLite (nothing is re-embedded).")
@click.option("--watch", is_flag=True, help="Keep indexing as files change, until Ctrl-C.")
@click.option("--include-code/--no-include-code", default=None, help="Index source code files as plain text.")
@click.option("--max-file-mb", type=float, default=None, help="Skip files larger than this (default 20).")
@home_option
@user_errors
def index(paths, prune, rebuild, watch, include_code, max_file_mb, home):
    """Index documents in PATHS (folders are walked recursively)."""

    if not paths and not rebuild:
        raise click.UsageError("give at least one PATH to index (or --rebuild)")
    assistant = make_assistant(home, include_code=include_code, max_file_mb=max_file_mb)
    out = console()
    render_index(out, assistant.index(list(paths), prune=prune, rebuild=rebuild))
    if watch:
        from .watch import watch_and_index

        out.print(f"[bold]Watching[/] {', '.join(map(str, paths))} — Ctrl-C to stop.")
        watch_and_index(assistant, list(paths), lambda events: render_index(out, events, quiet=True))


# ---------------------------------------------------------------- status


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@home_option
@user_errors
def status(as_json, home):
    """Show documents, chunks, index size, models, device and the home dir."""
    from .render import render_status

    facts = make_assistant(home).status()
    if as_json:
        click.echo(json.dumps(facts, indent=2))
    else:
        render_status(console(), facts)


@cli.command()
@home_option
@user_errors
def tui(home):
    """Open the interactive app (the default command)."""
    from .tui.app import run_app

    run_app(load_config(home=home))
# ---------------------------------------------------------------- ask


def selection_options(func):
    for decorator in reversed([
        click.option("--k", type=click.IntRange(1), default=None, help="Candidates pulled from the HNSW index (default 200)."),
        click.option("--n", type=click.IntRange(1), default=None, help="Max chunks SIFT picks (default 16 on CPU, 50 on GPU)."),
        click.option("--method", type=click.Choice(["sift", "nn", "nn-f", "uncertainty", "random"]), default=None, help="Selection method (default sift)."),
        click.option("--lam", type=float, default=None, help="SIFT's lambda: higher favours diversity (default 1.0)."),
        click.option("--device", type=click.Choice(["auto", "cuda", "mps", "cpu"]), default=None, help="Where to learn and embed."),
    ]):  # fmt: skip
        func = decorator(func)
    return func


@cli.command()
@click.argument("question")
@selection_options
@click.option("--no-learn", is_flag=True, help="Skip test-time learning; answer with the base model.")
@click.option("--no-context", is_flag=True, help="Do not put the selected chunks in the prompt.")
@click.option("--steps", type=click.IntRange(1), default=None, help="Cap on LoRA steps (one per pick by default).")
@click.option("--adapter", "adapter", type=int, default=None, help="Re-use the adapter of session ID and skip learning.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result instead of live output.")
@home_option
@user_errors
def ask(question, k, n, method, lam, device, no_learn, no_context, steps, adapter, as_json, home):
    """Answer QUESTION after learning from the most informative chunks of your documents."""
    from .render import render_ask

    assistant = make_assistant(home, device=device)
    events = assistant.ask(question, k=k, n=n, method=method, lam=lam, learn=False if no_learn else None,
                           context=False if no_context else None, steps=steps, adapter=adapter)  # fmt: skip
    if as_json:
        from .events import Done

        result = next(e.result for e in events if isinstance(e, Done))
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        render_ask(console(), events)


@cli.command()
@click.argument("question")
@selection_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@home_option
@user_errors
def explain(question, k, n, method, lam, device, as_json, home):
    """Show which chunks SIFT would learn from for QUESTION, next to plain nearest neighbours."""
    from .render import render_explain

    facts = make_assistant(home, device=device).explain(question, k=k, n=n, lam=lam, method=method)
    if as_json:
        click.echo(json.dumps(facts, indent=2))
    else:
        render_explain(console(), question, facts["picks"], facts["nn"], facts["prior"])


# ---------------------------------------------------------------- sessions


@cli.command()
@click.option("--search", default=None, help="Only sessions whose question or answer contains TEXT.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="How many sessions to list.")
@home_option
@user_errors
def history(search, limit, home):
    """List past questions, newest first."""
    from .render import render_history

    render_history(console(), make_assistant(home).store.sessions(search, limit))


@cli.command()
@click.argument("session_id", type=int)
@home_option
@user_errors
def show(session_id, home):
    """Show a session: answer, sources learned from, uncertainty curve, adapter."""
    from .render import render_session
    from .review import changed_sources

    store = make_assistant(home).store
    session = store.session(session_id)
    render_session(console(), session, changed_sources(store, session))


@cli.command()
@click.argument("session_id", type=int, required=False)
@click.option("--source", type=click.Path(path_type=Path), default=None, help="Forget a document and every adapter that learned from it.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@home_option
@user_errors
def forget(session_id, source, yes, home):
    """Delete a session and its adapter, or (--source) a document and the adapters that learned from it."""
    from .review import forget_session, sessions_for_source

    if (session_id is None) == (source is None):
        raise click.UsageError("give a SESSION_ID or --source PATH")
    assistant = make_assistant(home)
    if session_id is not None:
        forget_session(assistant.store, session_id)
        click.echo(f"Forgot session {session_id} and its adapter.")
        return
    affected = sessions_for_source(assistant.store, source)
    if affected:
        click.echo(f"Adapters of {len(affected)} session(s) learned from {source}: {', '.join(map(str, affected))}")
    if not yes:
        click.confirm(f"Remove {source} from the index and delete those adapters?", abort=True)
    removed, affected = assistant.forget_source(source)
    click.echo(f"Removed {len(removed)} chunks of {source}; deleted {len(affected)} adapter(s).")


@cli.command()
@click.argument("session_id", type=int)
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@home_option
@user_errors
def export(session_id, out_dir, home):
    """Write a session's adapters (peft and GGUF) and a JSON/Markdown report to OUT_DIR."""
    from .review import export_session

    for path in export_session(make_assistant(home).store, session_id, out_dir):
        click.echo(str(path))


# ---------------------------------------------------------------- evaluation


@cli.group(name="eval")
def eval_group():
    """Measure test-time learning: bits per byte (the paper's protocol) and question answering."""


def lm_options(fn):
    """The options the language-modelling commands share: corpus, split, budget, data-space copies."""
    options = [
        click.argument("corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("eval-out"), show_default=True, help="Results folder (resumable)."),
        click.option("--n-test", type=click.IntRange(1), default=100, show_default=True, help="Held-out test documents."),
        click.option("--steps", type=click.IntRange(1), default=16, show_default=True, help="Picks = LoRA steps per test document."),
        click.option("--duplicate", type=click.IntRange(1), default=1, show_default=True, help="Copy every data-space chunk N times."),
        click.option("--lam", type=float, default=1.0, show_default=True, help="SIFT's lambda."),
        click.option("--chunk-tokens", type=click.IntRange(16), default=128, show_default=True, help="Data-space chunk size."),
        click.option("--seed", type=int, default=0, show_default=True, help="Split and selection seed."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def _lm_config(corpus, **values):
    from .evaluate import LMConfig, python_docs

    if corpus is None:
        corpus = python_docs()
        console().print(f"Corpus: {corpus}")
    return LMConfig(corpus=corpus, **values)


@eval_group.command(name="lm")
@lm_options
@click.option("--methods", default=",".join(("none", "nn", "nn-f", "uncertainty", "random", "sift")), show_default=True, help="Comma-separated methods.")
@click.option("--lr", type=float, default=2e-3, show_default=True, help="LoRA learning rate.")
@click.option("--limit", "limits", multiple=True, help="METHOD=N: evaluate METHOD on the first N test documents only.")
@user_errors
def eval_lm(corpus, methods, lr, limits, **values):
    """Bits per byte of held-out documents after learning from picks of each method.

    CORPUS defaults to Debian's Python 3.11 docs (installed with apt-get when missing and allowed)."""
    from .evaluate import lm_markdown, lm_plot, lm_summary, load_rows, run_lm
    from .render import render_eval

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    cfg = _lm_config(corpus, methods=chosen, lr=lr, limit_methods=_limits(limits), **values)
    render_eval(console(), run_lm(cfg))
    out = cfg.out
    rows = load_rows(out / "lm.jsonl")
    summaries = [lm_summary(rows, d) for d in sorted({r["duplicate"] for r in rows})]
    (out / "lm-summary.json").write_text(json.dumps(summaries, indent=2))
    (out / "lm-summary.md").write_text(lm_markdown(summaries))
    lm_plot(rows, out)
    click.echo(lm_markdown(summaries))


@eval_group.command(name="overlap")
@lm_options
@user_errors
def eval_overlap(corpus, **values):
    """How many picks NN and SIFT share per held-out document, and how redundant each one's picks are."""
    from .evaluate import EvalModels, overlap_markdown, pick_overlap

    cfg = _lm_config(corpus, **values)
    cfg.out.mkdir(parents=True, exist_ok=True)
    with console().status("Loading models and the data space"):
        rows = pick_overlap(cfg, EvalModels(cfg, cfg.out / "cache", training=False))
    name = f"overlap-dup{cfg.duplicate}"
    (cfg.out / f"{name}.json").write_text(json.dumps(rows, indent=2))
    (cfg.out / f"{name}.md").write_text(overlap_markdown(rows))
    click.echo(overlap_markdown(rows))


@eval_group.command(name="qa")
@click.argument("corpus", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--questions", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="Questions file (default CORPUS/QUESTIONS.md).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("eval-out"), show_default=True, help="Results folder (resumable).")
@click.option("--n", type=click.IntRange(1), default=8, show_default=True, help="Picks (and LoRA steps) per question.")
@home_option
@user_errors
def eval_qa(corpus, questions, out, n, home):
    """Question answering on an indexed corpus: base, context, learning, learning + context."""
    from .evaluate import load_rows, qa_markdown, qa_summary, run_qa
    from .render import render_eval

    assistant = make_assistant(home)
    render_index(console(), assistant.index([corpus]), quiet=True)
    render_eval(console(), run_qa(assistant, questions or corpus / "QUESTIONS.md", out, corpus.resolve(), n=n))
    summary = qa_summary(load_rows(out / "qa.jsonl"))
    (out / "qa-summary.json").write_text(json.dumps(summary, indent=2))
    (out / "qa-summary.md").write_text(qa_markdown(summary))
    click.echo(qa_markdown(summary))


def _limits(values) -> dict:
    out = {}
    for value in values:
        method, _, count = value.partition("=")
        if not count.isdigit():
            raise click.BadParameter(f"expected METHOD=N, got {value!r}", param_hint="--limit")
        out[method] = int(count)
    return out


if __name__ == "__main__":
    cli()
