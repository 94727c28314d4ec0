"""`eval lm`, `eval overlap` and `eval qa`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from assistant.cli.main import cli, console, home_option, make_assistant, user_errors
from assistant.config import RECIPES, TRAIN_DTYPES
from assistant.eval.qa import QA_CONDITIONS, valid_condition


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
        click.option("--distinct", is_flag=True, help="Collapse exact copies before selection, as `ask` does."),
        click.option("--lam", type=float, default=1.0, show_default=True, help="SIFT's lambda."),
        click.option("--chunk-tokens", type=click.IntRange(16), default=128, show_default=True, help="Data-space chunk size."),
        click.option("--seed", type=int, default=0, show_default=True, help="Split and selection seed."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def _lm_config(corpus, **values):
    from assistant.eval.lm import LMConfig
    from assistant.eval.pydocs import python_docs

    if corpus is None:
        corpus = python_docs()
        console().print(f"Corpus: {corpus}")
    return LMConfig(corpus=corpus, **values)


@eval_group.command(name="lm")
@lm_options
@click.option("--methods", default=",".join(("none", "nn", "nn-f", "uncertainty", "random", "sift")), show_default=True, help="Comma-separated methods.")
@click.option("--lr", type=float, default=2e-3, show_default=True, help="LoRA learning rate.")
@click.option("--train-dtype", type=click.Choice(TRAIN_DTYPES), default="auto", show_default=True, help="The base model's dtype for training.")
@click.option("--limit", "limits", multiple=True, help="METHOD=N: evaluate METHOD on the first N test documents only.")
@user_errors
def eval_lm(corpus, methods, lr, train_dtype, limits, **values):
    """Bits per byte of held-out documents after learning from picks of each method.

    CORPUS defaults to Debian's Python 3.11 docs (installed with apt-get when missing and allowed)."""
    from assistant.eval.lm import run_lm
    from assistant.eval.report import lm_markdown, lm_plot, lm_summary, load_rows
    from assistant.cli.render import render_eval

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    cfg = _lm_config(corpus, methods=chosen, lr=lr, train_dtype=train_dtype, limit_methods=_limits(limits), **values)
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
    from assistant.eval.lm import EvalModels
    from assistant.eval.overlap import overlap_markdown, pick_overlap

    cfg = _lm_config(corpus, **values)
    cfg.out.mkdir(parents=True, exist_ok=True)
    with console().status("Loading models and the data space"):
        rows = pick_overlap(cfg, EvalModels(cfg, cfg.out / "cache", training=False))
    name = f"overlap-dup{cfg.duplicate}"
    (cfg.out / f"{name}.json").write_text(json.dumps(rows, indent=2))
    (cfg.out / f"{name}.md").write_text(overlap_markdown(rows))
    click.echo(overlap_markdown(rows))


def _names(allowed, valid=None):
    """A click callback: a comma-separated list whose items all come from ``allowed`` (or pass ``valid``)."""

    def check(ctx, param, value):
        if value is None:
            return None
        names = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in names if not (valid(v) if valid else v in allowed)]
        if bad or not names:
            raise click.BadParameter(f"{', '.join(bad) or 'nothing'}: choose from {', '.join(allowed)}")
        return names

    return check


@eval_group.command(name="qa")
@click.argument("corpus", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--questions", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="Questions file (default CORPUS/QUESTIONS.md).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("eval-out"), show_default=True, help="Results folder (resumable).")
@click.option("--n", type=click.IntRange(1), default=8, show_default=True, help="Picks (and LoRA steps) per question.")
@click.option("--conditions", default=",".join(QA_CONDITIONS), show_default=True, callback=_names(QA_CONDITIONS, valid_condition),
              help="Conditions to run, comma-separated; learn[RECIPE]+evidence pins a learned one to one recipe.")
@click.option("--recipes", default=None, callback=_names(RECIPES), help="Training recipes, comma-separated; each learned condition runs once per recipe (default: the config's recipe).")
@click.option("--evidence-only", is_flag=True, help="Generate no answers: retrieval, evidence lines and abstention only (about a second a question).")
@home_option
@user_errors
def eval_qa(corpus, questions, out, n, conditions, recipes, evidence_only, home):
    """Question answering on an indexed corpus: base, context, learning, learning + context."""
    from assistant.eval.calibrate import calibration_markdown
    from assistant.eval.qa import qa_markdown, qa_summary, run_qa
    from assistant.eval.report import load_rows
    from assistant.cli.render import render_eval

    assistant = make_assistant(home)
    from assistant.cli.render import render_index

    render_index(console(), assistant.index([corpus]), quiet=True)
    render_eval(console(), run_qa(assistant, questions or corpus / "QUESTIONS.md", out, corpus.resolve(), n=n,
                                      conditions=[] if evidence_only else conditions, recipes=recipes))
    rows = load_rows(out / "qa.jsonl")
    summary = qa_summary(rows, assistant.config.abstain_below, assistant.config.abstain_unmentioned)
    (out / "qa-summary.json").write_text(json.dumps(summary, indent=2))
    (out / "qa-summary.md").write_text(qa_markdown(summary))
    click.echo(qa_markdown(summary))
    shown = "quoted" if "quoted" in summary["conditions"] else next(iter(summary["conditions"]), None)
    if shown:  # the thresholds these results would choose (tune on one set, report on another)
        (out / "qa-calibration.md").write_text(calibration_markdown(rows, shown))
        click.echo(f"Calibration sweeps: {out / 'qa-calibration.md'}")


def _limits(values) -> dict:
    out = {}
    for value in values:
        method, _, count = value.partition("=")
        if not count.isdigit():
            raise click.BadParameter(f"expected METHOD=N, got {value!r}", param_hint="--limit")
        out[method] = int(count)
    return out
