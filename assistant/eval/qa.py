"""The question-answering protocol: does the answer a user reads contain the gold answer?

For each question of a questions file: the gold answer's log-likelihood per byte and whether the
generated answer contains it, per condition, plus recall of the gold file among the picks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


from assistant.events import Progress
from assistant.eval.stats import fmt, mean_se
from assistant.eval.lm import _append, _done_keys

QA_CONDITIONS = ("base", "context-nn", "context-sift", "learn-sift", "learn+context-sift")
QA_ANSWER_TOKENS = 64  # the gold answers are short facts; a longer reply only rambles


def run_qa(assistant, questions_path: Path, out: Path, corpus: Path, *, n: int = 8) -> Iterator:
    """The QA protocol over an indexed corpus; results go to ``out/qa.jsonl``."""
    from assistant.answer.generator import Context, build_messages
    from assistant.learn.lora_gguf import export_gguf
    from assistant.eval.questions import contains_answer, parse_questions
    from assistant.selection.sift import select
    from assistant.learn.tune import TrainConfig, fit_lora

    out.mkdir(parents=True, exist_ok=True)
    results = out / "qa.jsonl"
    done = _done_keys(results)
    questions = parse_questions(questions_path)
    cfg = assistant.config
    models = assistant.models
    (out / "qa-config.json").write_text(json.dumps({"questions": str(questions_path), "corpus": str(corpus), "n": n,
        "lam": cfg.lam, "k": cfg.k, "lr": cfg.lr, "lora_r": cfg.lora_r, "lora_alpha": cfg.lora_alpha,
        "lora_targets": cfg.lora_targets, "max_train_tokens": cfg.max_train_tokens, "seed": cfg.seed,
        "max_answer_tokens": QA_ANSWER_TOKENS, "device": models.device, "model": str(models.gguf_path),
        "embedder": models.embedder.name}, indent=2))  # fmt: skip
    for i, q in enumerate(questions, start=1):
        key = f"{q.number}|{n}|{cfg.lam}"
        if key in done:
            yield Progress(i, len(questions), "questions")
            continue
        row = {"key": key, "number": q.number, "question": q.question, "answer": q.answer, "conditions": {}}
        sel_sift, cands = assistant.asker.select(q.question, n=n, method="sift", stop=0.0)
        sel_nn = select(cands.query, cands.vectors, n, method="nn", lam=cfg.lam)
        ids, rows = cands.ids, cands.rows
        rows.update(assistant.store.chunks([int(ids[j]) for j in sel_nn.indices if int(ids[j]) not in rows]))

        def contexts(sel):
            seen, ctx = [], []
            for j in sel.indices:
                if j in seen:
                    continue
                seen.append(j)
                r = rows[int(ids[j])]
                ctx.append(Context(len(ctx) + 1, r["path"], r["start_line"], r["end_line"], r["heading"], r["text"]))
            return ctx

        gold = {str((corpus / s).resolve()) for s in q.sources}
        row["recall"] = {name: any(rows[int(ids[j])]["path"] in gold for j in sel.indices) for name, sel in (("nn", sel_nn), ("sift", sel_sift))}
        texts = [rows[int(ids[j])]["text"] for j in sel_sift.indices]
        train_cfg = TrainConfig(lr=cfg.lr, r=cfg.lora_r, alpha=cfg.lora_alpha, targets=cfg.lora_targets, max_tokens=cfg.max_train_tokens, seed=cfg.seed)
        result = fit_lora(models.training, texts, train_cfg)
        adapter = export_gguf(result, models.training, out / "qa-adapter.gguf")  # rewritten per question: the generator keys adapters by file identity
        plans = {
            "base": (None, None),
            "context-nn": (contexts(sel_nn), None),
            "context-sift": (contexts(sel_sift), None),
            "learn-sift": (None, result),
            "learn+context-sift": (contexts(sel_sift), result),
        }
        for name, (ctx, lora) in plans.items():
            messages = build_messages(q.question, ctx)
            gen = models.generator
            gen.set_adapter(adapter if lora else None)
            text = gen.generate(messages, max_tokens=QA_ANSWER_TOKENS, temperature=0.0, seed=cfg.seed)
            row["conditions"][name] = {
                "answer_bits_per_byte": answer_bits(models.training, messages, q.answer, lora),
                "contains": contains_answer(text, q.answer),
                "generated": text,
            }
        models.generator.set_adapter(None)
        _append(results, row)
        yield Progress(i, len(questions), "questions")


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


def qa_summary(rows: list[dict]) -> dict:
    out = {"n": len(rows), "conditions": {}, "recall": {}}
    for name in QA_CONDITIONS:
        bits = [r["conditions"][name]["answer_bits_per_byte"] for r in rows if name in r["conditions"]]
        hits = [float(r["conditions"][name]["contains"]) for r in rows if name in r["conditions"]]
        out["conditions"][name] = {"answer_bpb": mean_se(bits), "contains": mean_se(hits)}
    for method in ("nn", "sift"):
        out["recall"][method] = mean_se([float(r["recall"][method]) for r in rows])
    return out


def qa_markdown(s: dict) -> str:
    lines = ["| condition | gold-answer bits/byte (lower is better) | answer contains gold | n |", "|---|---|---|---|"]
    for name, m in s["conditions"].items():
        lines.append(f"| {name} | {fmt(*m['answer_bpb'][:2])} | {fmt(*m['contains'][:2], digits=2)} | {m['answer_bpb'][2]} |")
    lines.append("")
    lines.append("Recall of a gold source file among the picks: " + ", ".join(f"{m} {fmt(*v[:2], digits=2)}" for m, v in s["recall"].items()))
    return "\n".join(lines) + "\n"
