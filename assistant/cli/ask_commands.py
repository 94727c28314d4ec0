"""`ask` and `explain`."""

from __future__ import annotations

import json

import click

from assistant.cli.main import cli, console, home_option, user_errors
from assistant.config import DEVICES, METHODS, RECIPES, load_config
from assistant.server.client import event_source

no_server_option = click.option("--no-server", is_flag=True, help="Run in this process instead of the warm server (also: server = false).")


def selection_options(func):
    """Retrieval and selection flags. Their ranges are checked once, in ``config.check_setting``."""
    for decorator in reversed([
        click.option("--k", type=int, default=None, help="Candidates pulled from the HNSW index (default 200)."),
        click.option("--n", type=int, default=None, help="Max chunks SIFT picks (default 16 on CPU, 50 on GPU)."),
        click.option("--method", type=click.Choice(METHODS), default=None, help="Selection method (default sift)."),
        click.option("--lam", type=float, default=None, help="SIFT's lambda: higher favours diversity (default 1.0)."),
        click.option("--device", type=click.Choice(DEVICES), default=None, help="Where to learn and embed."),
    ]):  # fmt: skip
        func = decorator(func)
    return func


@cli.command()
@click.argument("question")
@selection_options
@click.option("--no-learn", is_flag=True, help="Skip test-time learning; answer with the base model.")
@click.option("--learn", "force_learn", is_flag=True, help="Learn even where the best line already answers (see learn_below).")
@click.option("--no-context", is_flag=True, help="Do not put the selected chunks in the prompt.")
@click.option("--steps", type=click.IntRange(1), default=None, help="Cap on LoRA steps (one per pick by default).")
@click.option("--adapter", "adapter", type=int, default=None, help="Re-use the adapter of session ID and skip learning.")
@click.option("--recipe", type=click.Choice(RECIPES), default=None, help="How the picks become training examples (default: the recipe setting).")
@click.option("--compare", is_flag=True, help="Also answer without the adapter, from the same evidence, and show what learning changed.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result instead of live output.")
@no_server_option
@home_option
@user_errors
def ask(question, k, n, method, lam, device, no_learn, force_learn, no_context, steps, adapter, recipe, compare, as_json, no_server, home):
    """Answer QUESTION after learning from the most informative chunks of your documents."""
    from assistant.cli.render import render_ask
    from assistant.core.asker import AskOptions
    from assistant.events import Done

    if no_learn and force_learn:
        raise click.UsageError("--learn and --no-learn contradict each other: pick one")
    assistant = event_source(load_config(home=home, device=device, k=k, n=n, method=method, lam=lam), no_server)
    options = AskOptions(learn=False if no_learn else True if force_learn else None, context=False if no_context else None, steps=steps,
                         adapter=adapter, compare=compare, recipe=recipe)  # fmt: skip
    events = assistant.ask(question, options)
    if as_json:
        session = next(e.result for e in events if isinstance(e, Done))
        click.echo(json.dumps(session.to_dict(), indent=2))
    else:
        render_ask(console(), events)


@cli.command()
@click.argument("question")
@selection_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@no_server_option
@home_option
@user_errors
def explain(question, k, n, method, lam, device, as_json, no_server, home):
    """Show which chunks SIFT would learn from for QUESTION, next to plain nearest neighbours."""
    from assistant.cli.render import render_explain

    config = load_config(home=home, device=device, k=k, n=n, method=method, lam=lam)
    explanation = event_source(config, no_server).explain(question)
    if as_json:
        click.echo(json.dumps(explanation.to_dict(), indent=2))
    else:
        render_explain(console(), explanation)
