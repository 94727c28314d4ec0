"""The question-answering protocol: does the answer a user reads contain the gold answer?

For each question of a questions file: the gold answer's log-likelihood per byte and whether the
generated answer contains it, per condition, plus recall of the gold file among the picks.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path


from assistant.answer.coverage import abstains as abstain_rule, best_score
from assistant.events import Progress
from assistant.eval.stats import fmt, mean_se, paired
from assistant.eval.lm import _append, _done_keys

QA_ANSWER_TOKENS = 64  # the gold answers are short facts; a longer reply only rambles
# name -> (context: none | chunks | evidence | quoted, learning on?). "quoted" is the evidence prompt with the
# answer opening on the best line, verbatim (the product's default, `quote_first`); "evidence" is the model alone.
QA_CONDITIONS = {
    "base": ("none", False),
    "chunks": ("chunks", False),
    "evidence": ("evidence", False),
    "quoted": ("quoted", False),
    "learn+chunks": ("chunks", True),
    "learn+evidence": ("evidence", True),
    "learn+quoted": ("quoted", True),
}


def condition_name(name: str, recipe: str) -> str:
    """A learned condition under a recipe: ``learn+evidence`` for the raw recipe, ``learn[chat]+evidence``."""
    return name if recipe == "raw" or not QA_CONDITIONS[name][1] else name.replace("learn", f"learn[{recipe}]", 1)


_PINNED = re.compile(r"^learn\[(\w+)\]\+(\w+)$")


def plan_conditions(names: list[str], recipes: list[str]) -> dict[str, tuple[str, str | None]]:
    """Result name -> (context kind, recipe or None): a learned condition runs once per recipe, unless it names
    its own (``learn[raw]+chunks``)."""
    out: dict[str, tuple[str, str | None]] = {}
    for name in names:
        if pinned := _PINNED.match(name):
            out[condition_name(f"learn+{pinned[2]}", pinned[1])] = (QA_CONDITIONS[f"learn+{pinned[2]}"][0], pinned[1])
            continue
        kind, learned = QA_CONDITIONS[name]
        for recipe in recipes if learned else [None]:
            out[condition_name(name, recipe) if recipe else name] = (kind, recipe)
    return out


def valid_condition(name: str) -> bool:
    from assistant.config import RECIPES

    pinned = _PINNED.match(name)
    return name in QA_CONDITIONS or bool(pinned and pinned[1] in RECIPES and f"learn+{pinned[2]}" in QA_CONDITIONS)

def _question_setup(assistant, q, n: int, corpus: Path) -> dict:
    """Selection, evidence lines and gold-file recall for one question (shared by every condition)."""
    from assistant.answer.evidence import extract_evidence
    from assistant.core.asker import picks_of
    from assistant.eval.questions import contains_answer

    sel, cands = assistant.asker.select(q.question, n=n, method="sift", stop=0.0)
    picks = picks_of(sel, cands)
    nn = assistant.asker.nn_alternative(sel, cands)
    evidence = extract_evidence(q.question, picks + nn, assistant.models.embedder, query=cands.query)
    missing = assistant.asker.unmentioned(q.question, evidence, picks + nn)
    gold = {str((corpus / src).resolve()) for src in q.sources}
    hits = [contains_answer(e.text, q.answer) for e in evidence] if q.answerable else []
    return {
        "picks": picks, "nn": nn, "evidence": evidence,
        "row": {"recall": {"nn": any(p.path in gold for p in nn), "sift": any(p.path in gold for p in picks)},
                "evidence_at1": bool(hits[:1] and hits[0]), "evidence_at3": any(hits[:3]),
                "best_evidence": best_score(evidence),
                "evidence": [e.text for e in evidence], "unmentioned": missing},
    }  # fmt: skip


def _contexts(kind: str, setup: dict) -> list | None:
    from assistant.answer.prompt import chunk_contexts, evidence_contexts

    if kind in ("evidence", "quoted"):
        return evidence_contexts(setup["evidence"])
    return chunk_contexts(setup["picks"]) if kind == "chunks" else None


def _condition(assistant, q, setup: dict, kind: str, recipe: str | None, lora, adapter: Path, corpus_text: str) -> dict:
    from assistant.answer.attribute import attribute
    from assistant.answer.prompt import best_line_opening, build_messages
    from assistant.eval.questions import contains_answer

    models, cfg = assistant.models, assistant.config
    messages = build_messages(q.question, _contexts(kind, setup), evidence=kind in ("evidence", "quoted"))
    gen = models.generator
    gen.set_adapter(adapter if lora else None)
    opening = best_line_opening(setup["evidence"]) if kind == "quoted" else ""
    t0 = time.perf_counter()
    out = gen.generate(messages, max_tokens=QA_ANSWER_TOKENS, temperature=0.0, seed=cfg.seed, prefix=opening)
    seconds = time.perf_counter() - t0
    claims = attribute(out.text, setup["evidence"], setup["picks"] + setup["nn"], models.embedder, opening=opening)
    spans = [span for c in claims for span in c.unsupported]
    return {
        "generated": out.text, "looped": out.looped, "seconds": seconds,
        "contains": contains_answer(out.text, q.answer) if q.answerable else None,
        "model_contains": contains_answer(out.text[len(opening):], q.answer) if q.answerable else None,  # after the quote
        "answer_bits_per_byte": _cached_bits(setup, recipe, models.training, messages, q.answer, lora) if q.answerable else None,
        "quotes_evidence": any(e.text[:40].lower() in out.text.lower() for e in setup["evidence"][:1]),
        "flagged_sentences": sum(not c.supported for c in claims),
        "claim_scores": [c.score for c in claims],  # to calibrate the support threshold offline
        "flagged_spans": spans, "spans_in_no_source": [sp for sp in spans if sp.lower() not in corpus_text],
    }  # fmt: skip


def run_qa(assistant, questions_path: Path, out: Path, corpus: Path, *, n: int = 8, conditions: list[str] | None = None,
           recipes: list[str] | None = None) -> Iterator:  # fmt: skip
    """The QA protocol over an indexed corpus; results go to ``out/qa.jsonl`` (resumable). Each recipe trains
    its own adapter per question on the same picks; every condition sees the same evidence. ``conditions=[]``
    generates nothing: the rows hold retrieval, the evidence lines and abstention only."""
    from assistant.eval.questions import parse_questions
    from assistant.learn.lora_gguf import export_gguf
    from assistant.learn.recipes import build_examples
    from assistant.learn.tune import TrainConfig, fit_lora

    out.mkdir(parents=True, exist_ok=True)
    results = out / "qa.jsonl"
    done = _done_keys(results)
    questions = parse_questions(questions_path)
    cfg, models = assistant.config, assistant.models
    plan = plan_conditions(list(QA_CONDITIONS) if conditions is None else conditions, recipes or [cfg.recipe])
    recipes = list(dict.fromkeys(r for _, r in plan.values() if r))
    store = assistant.store
    corpus_text = " ".join(r["text"] for r in store.chunks(store.chunk_ids().tolist()).values()).lower()
    (out / "qa-config.json").write_text(json.dumps({"questions": str(questions_path), "corpus": str(corpus), "n": n,
        "lam": cfg.lam, "k": cfg.k, "lr": cfg.lr, "lora_r": cfg.lora_r, "lora_alpha": cfg.lora_alpha,
        "lora_targets": cfg.lora_targets, "lora_layers": cfg.lora_layers, "max_train_tokens": cfg.max_train_tokens,
        "train_dtype": cfg.train_dtype, "seed": cfg.seed,
        "abstain_below": cfg.abstain_below, "max_answer_tokens": QA_ANSWER_TOKENS, "device": models.device,
        "model": str(models.gguf_path), "embedder": models.embedder.name, "conditions": list(plan),
        "recipes": recipes}, indent=2))  # fmt: skip
    train_cfg = TrainConfig.of(cfg)
    for i, q in enumerate(questions, start=1):
        key = f"{q.number}|{n}|{cfg.lam}"
        if key in done:
            yield Progress(i, len(questions), "questions")
            continue
        setup = _question_setup(assistant, q, n, corpus)
        row = {"key": key, "number": q.number, "question": q.question, "answer": q.answer,
               "answerable": q.answerable, **setup["row"], "conditions": {}, "learn_seconds": {}}  # fmt: skip
        # An unanswerable question is judged by abstention, and the product abstains before learning: no adapters.
        for recipe in [None, *(recipes if q.answerable else [])]:
            lora, adapter = None, None
            if recipe:
                if not any(r == recipe for _, r in plan.values()):
                    continue
                t0 = time.perf_counter()
                examples = build_examples(recipe, q.question, setup["picks"], setup["evidence"], models.training.chat_prompt)
                lora = fit_lora(models.training, examples, train_cfg)
                row["learn_seconds"][recipe] = time.perf_counter() - t0
                adapter = export_gguf(lora, models.training, out / "qa-adapter.gguf")  # rewritten per adapter
            for name, (kind, r) in plan.items():
                if r == recipe:
                    result = _condition(assistant, q, setup, kind, recipe, lora, adapter, corpus_text)
                    result["seconds"] += row["learn_seconds"].get(recipe, 0.0)  # the time a user waits
                    row["conditions"][name] = result
        models.generator.set_adapter(None)
        _append(results, row)
        yield Progress(i, len(questions), "questions")

def _cached_bits(setup: dict, recipe: str | None, tm, messages: list[dict], answer: str, lora) -> float:
    """``answer_bits`` once per prompt and recipe (None: no adapter): quoted and evidence share their prompt."""
    cache = setup.setdefault("bits", {})
    key = (json.dumps(messages), recipe)
    if key not in cache:
        cache[key] = answer_bits(tm, messages, answer, lora)
    return cache[key]


def answer_bits(tm, messages: list[dict], answer: str, lora) -> float:
    """Bits per byte of the gold answer as the assistant's reply to ``messages``."""
    import torch

    from assistant.learn.tune import bits_from_logits

    prompt = tm.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    prompt_ids = tm.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tm.tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + answer_ids], device=tm.device)
    logits = tm.logits(ids, lora)[len(prompt_ids) - 1 : -1]
    return bits_from_logits(logits, ids[0, len(prompt_ids) :], len(answer.encode("utf-8")))


def _mean(rows: list[dict], fn) -> tuple[float, float, int]:
    return mean_se([float(v) for v in (fn(r) for r in rows) if v is not None])


def qa_summary(rows: list[dict], abstain_below: float | None = None, abstain_unmentioned: bool = True) -> dict:
    """Per condition: gold bits, containment (raw, and as the product shows it: an abstained answer holds
    nothing), loop rate and flags; per question set: evidence@k, abstention, recall; paired differences."""
    answerable = [r for r in rows if r.get("answerable", True)]
    unanswerable = [r for r in rows if not r.get("answerable", True)]
    floor = abstain_below if abstain_below is not None else 0.0
    abstains = lambda r: abstain_rule(r.get("best_evidence", 1.0), r.get("unmentioned", []), floor, abstain_unmentioned)  # noqa: E731
    out = {"n": len(rows), "n_answerable": len(answerable), "n_unanswerable": len(unanswerable), "conditions": {},
           "recall": {m: _mean(answerable, lambda r, m=m: r["recall"][m]) for m in ("nn", "sift")},
           "evidence_at1": _mean(answerable, lambda r: r.get("evidence_at1")),
           "evidence_at3": _mean(answerable, lambda r: r.get("evidence_at3")), "abstain_below": floor,
           "abstain_unmentioned": abstain_unmentioned,
           "abstention": _mean(unanswerable, abstains), "false_abstention": _mean(answerable, abstains)}  # fmt: skip
    names = list(dict.fromkeys(name for r in rows for name in r["conditions"]))
    for name in names:
        have = [r for r in answerable if name in r["conditions"]]
        c = lambda r, name=name: r["conditions"][name]  # noqa: E731
        wrong = [r for r in have if not c(r)["contains"]]
        spans = [(sp, sp in c(r)["spans_in_no_source"]) for r in rows if name in r["conditions"] for sp in c(r)["flagged_spans"]]
        out["conditions"][name] = {
            "answer_bpb": _mean(have, lambda r: c(r)["answer_bits_per_byte"]),
            "contains": _mean(have, lambda r: c(r)["contains"]),
            "model_contains": _mean(have, lambda r: c(r).get("model_contains", c(r)["contains"])),
            "shown_contains": _mean(have, lambda r: c(r)["contains"] and not abstains(r)),
            "loops": _mean([r for r in rows if name in r["conditions"]], lambda r: c(r)["looped"]),
            "quotes_evidence": _mean(have, lambda r: c(r)["quotes_evidence"]),
            "flag_precision": mean_se([float(in_none) for _, in_none in spans]),
            "wrong_flagged": _mean(wrong, lambda r: c(r)["flagged_sentences"] > 0),
            "seconds": _mean(have, lambda r: c(r)["seconds"]),
        }  # fmt: skip
    # Learning against the same context without it; and the evidence prompt against whole chunks.
    pairs = [("evidence − chunks", "evidence", "chunks"), ("quoted − evidence", "quoted", "evidence")] + [
        (f"{name} − {name.split('+', 1)[1]}", name, name.split("+", 1)[1]) for name in names if name.startswith("learn")
    ]
    out["paired"] = {label: _paired(answerable, a, b) for label, a, b in pairs if a in names and b in names}
    return out


def _paired(rows: list[dict], a: str, b: str) -> dict:
    have = [r for r in rows if a in r["conditions"] and b in r["conditions"]]
    contains = paired([float(r["conditions"][a]["contains"]) for r in have], [float(r["conditions"][b]["contains"]) for r in have])
    bits = paired([r["conditions"][a]["answer_bits_per_byte"] for r in have], [r["conditions"][b]["answer_bits_per_byte"] for r in have])
    won = sum(r["conditions"][a]["contains"] and not r["conditions"][b]["contains"] for r in have)
    lost = sum(r["conditions"][b]["contains"] and not r["conditions"][a]["contains"] for r in have)
    return {"contains": contains, "answer_bpb": bits, "won": won, "lost": lost}


def qa_markdown(s: dict) -> str:
    lines = ["| condition | gold-answer bits/byte | answer contains gold | ... in the model's own words | shown (after abstention) | "
             "quotes top line | loop rate | flagged spans in no source | wrong answers flagged | s/answer | n |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, m in s["conditions"].items():
        lines.append(f"| {name} | {fmt(*m['answer_bpb'][:2])} | {fmt(*m['contains'][:2], digits=2)} | "
                     f"{fmt(*m['model_contains'][:2], digits=2)} | "
                     f"{fmt(*m['shown_contains'][:2], digits=2)} | {fmt(*m['quotes_evidence'][:2], digits=2)} | "
                     f"{fmt(*m['loops'][:2], digits=2)} | {fmt(*m['flag_precision'][:2], digits=2)} (n {m['flag_precision'][2]}) | "
                     f"{fmt(*m['wrong_flagged'][:2], digits=2)} | {m['seconds'][0]:.2f} | {m['contains'][2]} |")  # fmt: skip
    lines += ["", "| paired difference | containment | gold bits/byte | won / lost |", "|---|---|---|---|"]
    for label, d in s["paired"].items():
        lines.append(f"| {label} | {fmt(*d['contains'][:2], digits=2)} | {fmt(*d['answer_bpb'][:2])} | {d['won']} / {d['lost']} |")
    lines += ["", f"evidence@1 {fmt(*s['evidence_at1'][:2], digits=2)}, evidence@3 {fmt(*s['evidence_at3'][:2], digits=2)} "
              f"(n {s['evidence_at1'][2]}); abstention (best evidence below {s['abstain_below']}"
              f"{', or a specific the close lines do not say' if s.get('abstain_unmentioned') else ''}): {fmt(*s['abstention'][:2], digits=2)} on "
              f"{s['n_unanswerable']} unanswerable, false abstention {fmt(*s['false_abstention'][:2], digits=2)} on "
              f"{s['n_answerable']} answerable. Recall of a gold file among the picks: "
              + ", ".join(f"{m} {fmt(*v[:2], digits=2)}" for m, v in s["recall"].items())]  # fmt: skip
    return "\n".join(lines) + "\n"
