"""The evaluation harness: does learning at question time help, and does SIFT beat the alternatives?

Language modelling (the paper's protocol): split a corpus at the file level into a data space and
held-out test documents. Each test document's opening (up to ``test_tokens``) is both the query
and the target. Each method selects from the data space, a fresh LoRA takes one step per pick,
and bits per byte of the test text are traced over the steps. ``duplicate=N`` repeats every
data-space chunk N times (exact copies), the condition the paper is about.

Question answering: for each question of a questions file, the gold answer's log-likelihood per
byte and whether the generated answer contains it, under base / context (NN) / context (SIFT) /
learning (SIFT) / learning + context (SIFT), plus recall of the gold file among the picks.

Every item is appended to a JSONL file as soon as it is known, so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .events import Progress, Stage
from .evalstats import fmt, mean_se, paired, pearson, split_files

LM_METHODS = ("none", "nn", "nn-f", "uncertainty", "random", "sift")
CHECKPOINTS = (0, 1, 2, 5, 10, 20, 50)
STOP_THRESHOLDS = (0.003, 0.01, 0.03, 0.05, 0.1)


@dataclass
class LMConfig:
    corpus: Path
    out: Path
    n_test: int = 100
    seed: int = 0
    methods: tuple[str, ...] = LM_METHODS
    steps: int = 16
    k: int = 200
    lam: float = 1.0
    duplicate: int = 1
    chunk_tokens: int = 128  # data-space chunks; the reference run used 128
    test_tokens: int = 256
    lr: float = 2e-3
    lora_r: int = 8
    lora_alpha: int = 16
    lora_targets: str = "all-linear"
    device: str = "cpu"
    model: str = ""
    embedder: str = ""
    limit_methods: dict = field(default_factory=dict)  # method -> max test docs (to spend CPU on the headline)


PYTHON_DOCS = Path("/usr/share/doc/python3.11/html/_sources")
PYTHON_DOCS_PACKAGE = "python3.11-doc"


def python_docs(folder: Path = PYTHON_DOCS, install: list[str] | None = None) -> Path:
    """The default LM corpus, Debian's Python 3.11 reST sources, installed with apt when missing.

    ``install`` is the install command; by default apt-get, when this process may run it."""
    import os
    import shutil
    import subprocess

    from .errors import ConfigError

    if folder.is_dir():
        return folder
    hint = f"install Debian's {PYTHON_DOCS_PACKAGE} or pass a folder of documents"
    if install is None:
        if not shutil.which("apt-get") or os.geteuid() != 0:
            raise ConfigError(f"{folder} is missing: {hint}.")
        install = ["apt-get", "install", "-y", "-q", PYTHON_DOCS_PACKAGE]
    done = subprocess.run(install, capture_output=True, text=True)
    if done.returncode != 0 or not folder.is_dir():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConfigError(f"could not install {PYTHON_DOCS_PACKAGE} ({last[0]}): {hint}.")
    return folder


def corpus_files(folder: Path) -> list[Path]:
    from .ingest import discover

    return discover([Path(folder)], max_bytes=20 * 2**20).files


def document_text(path: Path) -> str:
    from .ingest import file_format, read_blocks

    blocks, _ = read_blocks(path.read_bytes(), file_format(path) or "text")
    return "\n\n".join(b.text for b in blocks)


class EvalModels:
    """The training copy (unless ``training=False``), the embedder and the token counter, loaded once."""

    def __init__(self, cfg, cache_dir: Path, training: bool = True):
        from .embed import load_embedder
        from .models import resolve_embedder, resolve_gguf
        from .tokens import load_token_counter
        from .tune import TrainingModel

        self.gguf = resolve_gguf(cfg.model)
        self.tm = TrainingModel(self.gguf, cfg.device, cache_dir) if training else None
        self.embedder = load_embedder(resolve_embedder(cfg.embedder), cfg.device)
        self.tokens = load_token_counter(self.gguf, cache_dir)


def _data_space(cfg: LMConfig, models: EvalModels, files: list[Path]) -> tuple[list[str], np.ndarray]:
    """Chunk and embed the data space, cached under ``out`` by file list, budget and embedder."""
    from .ingest import UnreadableFile, chunk_blocks, file_format, read_blocks

    key = hashlib.sha256(("\n".join(map(str, files)) + f"|{cfg.chunk_tokens}|{models.embedder.name}").encode()).hexdigest()[:16]
    cache = cfg.out / f"dataspace-{key}.npz"
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        return [str(t) for t in data["texts"]], data["vectors"]
    texts: list[str] = []
    for path in files:
        try:
            blocks, _ = read_blocks(path.read_bytes(), file_format(path) or "text")
        except UnreadableFile:
            continue
        for chunk in chunk_blocks(blocks, models.tokens.count, models.tokens.split, budget=cfg.chunk_tokens, overlap=0):
            texts.append(chunk.text)
    vectors = models.embedder.embed(texts)
    cfg.out.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=np.array(texts), vectors=vectors)
    return texts, vectors


def _done_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    keys = set()
    for line in path.read_text().splitlines():
        if line.strip():
            keys.add(json.loads(line)["key"])
    return keys


def _append(path: Path, row: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def run_lm(cfg: LMConfig, models=None) -> Iterator:
    """Run the language-modelling protocol; yields progress events; results go to ``out/lm.jsonl``.

    ``models`` (gguf, tm, embedder, tokens) lets a caller that already holds the models reuse them."""
    from .sift import select
    from .tune import TrainConfig, bits_per_byte, fit_lora

    cfg.out.mkdir(parents=True, exist_ok=True)
    yield Stage("loading")
    models = models or EvalModels(cfg, cfg.out / "cache")
    yield Stage("embedding data space")
    data_files, test_files, texts, vectors = _split_and_embed(cfg, models)
    results = cfg.out / "lm.jsonl"
    done = _done_keys(results)
    (cfg.out / "lm-config.json").write_text(json.dumps({**asdict(cfg), "corpus": str(cfg.corpus), "out": str(cfg.out),
        "data_files": len(data_files), "test_files": [str(f) for f in test_files], "data_chunks": len(texts) // cfg.duplicate,
        "model": str(models.gguf), "embedder": models.embedder.name}, indent=2))  # fmt: skip
    train_cfg = TrainConfig(lr=cfg.lr, r=cfg.lora_r, alpha=cfg.lora_alpha, targets=cfg.lora_targets, max_tokens=cfg.chunk_tokens, seed=cfg.seed)
    jobs = [(doc, m) for doc in test_files for m in cfg.methods]
    yield Stage("evaluating", detail=f"{len(test_files)} test documents x {len(cfg.methods)} methods")
    per_method: dict[str, int] = {}
    for i, (doc, method) in enumerate(jobs, start=1):
        key = f"{doc}|{method}|{cfg.duplicate}|{cfg.steps}|{cfg.lam}"
        per_method[method] = per_method.get(method, 0) + 1
        if key in done or per_method[method] > cfg.limit_methods.get(method, 10**9):
            yield Progress(i, len(jobs), "items")
            continue
        target = _opening(models, document_text(doc), cfg.test_tokens)
        if not target.strip():
            continue
        start = time.perf_counter()
        base = bits_per_byte(models.tm, target, max_tokens=cfg.test_tokens)
        row = {"key": key, "doc": str(doc), "method": method, "duplicate": cfg.duplicate, "seed": cfg.seed, "curve": {"0": base}}
        if method != "none":
            query, top = _candidates(models, vectors, target, cfg.k)
            sel = select(query, vectors[top], cfg.steps, method=method, lam=cfg.lam, seed=cfg.seed)
            picks = [texts[top[j]] for j in sel.indices]
            every_step = method == "sift"  # the adaptive-compute analysis reads bpb after any number of steps

            def trace(step, picks=picks, every_step=every_step):
                if every_step or step.i in CHECKPOINTS or step.i == len(picks):
                    row["curve"][str(step.i)] = bits_per_byte(models.tm, target, lora="live", max_tokens=cfg.test_tokens)

            fit_lora(models.tm, picks, train_cfg, on_step=trace)
            row["prior"] = sel.prior
            row["variances"] = sel.variances
            row["distinct_picks"] = len(set(int(top[j]) // cfg.duplicate for j in sel.indices))
        row["seconds"] = time.perf_counter() - start
        _append(results, row)
        yield Progress(i, len(jobs), "items")


def _split_and_embed(cfg: LMConfig, models) -> tuple[list[Path], list[Path], list[str], np.ndarray]:
    """The fixed split and the embedded data space, each chunk repeated ``cfg.duplicate`` times."""
    data_files, test_files = split_files(corpus_files(cfg.corpus), cfg.n_test, cfg.seed)
    texts, vectors = _data_space(cfg, models, data_files)
    if cfg.duplicate > 1:
        vectors = np.repeat(vectors, cfg.duplicate, axis=0)
        texts = [t for t in texts for _ in range(cfg.duplicate)]
    return data_files, test_files, texts, vectors


def _candidates(models, vectors: np.ndarray, target: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The query embedding and the positions of its ``k`` nearest data-space chunks (exact search)."""
    query = models.embedder.embed([target])[0]
    return query, np.argsort(-(vectors @ query), kind="stable")[:k]


def _opening(models: EvalModels, text: str, n_tokens: int) -> str:
    pieces = models.tokens.split(text, n_tokens)
    return pieces[0] if pieces else ""


def pick_overlap(cfg: LMConfig, models) -> list[dict]:
    """Why SIFT and NN tie or differ on a corpus: per test document, the share of picks they have in
    common, and how redundant each method's picks are (mean and max pairwise cosine, distinct picks)."""
    from .sift import select

    _, test_files, _, vectors = _split_and_embed(cfg, models)
    rows = []
    for doc in test_files:
        target = _opening(models, document_text(doc), cfg.test_tokens)
        if not target.strip():
            continue
        query, top = _candidates(models, vectors, target, cfg.k)
        picks = {m: select(query, vectors[top], cfg.steps, method=m, lam=cfg.lam, seed=cfg.seed).indices for m in ("nn", "sift")}
        chunks = {m: {int(top[j]) // cfg.duplicate for j in idx} for m, idx in picks.items()}  # copies of a chunk count once
        row = {"doc": str(doc), "shared": len(chunks["nn"] & chunks["sift"]) / len(chunks["nn"])}
        for method, idx in picks.items():
            chosen = vectors[top[idx]]
            pairs = (chosen @ chosen.T)[np.triu_indices(len(idx), 1)]
            row[method] = {"pair_cosine": float(pairs.mean()), "max_pair_cosine": float(pairs.max()), "distinct": len(chunks[method])}
        rows.append(row)
    return rows


def overlap_markdown(rows: list[dict]) -> str:
    shared = mean_se([r["shared"] for r in rows])
    lines = [f"Picks NN and SIFT share: {fmt(*shared[:2], digits=2)} (n {shared[2]})", "",
             "| picks | mean pairwise cosine | max pairwise cosine | distinct chunks |", "|---|---|---|---|"]  # fmt: skip
    for method in ("nn", "sift"):
        cells = [fmt(*mean_se([r[method][key] for r in rows])[:2], digits=2) for key in ("pair_cosine", "max_pair_cosine", "distinct")]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- reporting


def load_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()] if Path(path).exists() else []


def final_bpb(row: dict) -> float:
    return row["curve"][str(max(int(k) for k in row["curve"]))]


def lm_summary(rows: list[dict], duplicate: int = 1) -> dict:
    rows = [r for r in rows if r["duplicate"] == duplicate]
    by = {}
    for r in rows:
        by.setdefault(r["method"], {})[r["doc"]] = r
    base_of = {}
    for r in rows:
        base_of[r["doc"]] = r["curve"]["0"]
    out = {"duplicate": duplicate, "methods": {}}
    for method, docs in by.items():
        finals = [final_bpb(r) for r in docs.values()]
        out["methods"][method] = {"bpb": mean_se(finals), "base": mean_se([base_of[d] for d in docs])}
    if "sift" in by and "nn" in by:
        common = sorted(set(by["sift"]) & set(by["nn"]))
        out["sift_minus_nn"] = paired([final_bpb(by["sift"][d]) for d in common], [final_bpb(by["nn"][d]) for d in common])
    if "sift" in by:
        gains, predicted = [], []
        for r in by["sift"].values():
            if r.get("prior"):
                predicted.append(1 - r["variances"][-1] / r["prior"])
                gains.append(r["curve"]["0"] - final_bpb(r))
        out["predicted_vs_realised_r"] = pearson(predicted, gains)
        out["adaptive"] = adaptive_curve(list(by["sift"].values()))
        out["fixed"] = fixed_budget_curve(list(by["sift"].values()))
    return out


def adaptive_curve(rows: list[dict]) -> list[dict]:
    """For each stop threshold: average steps SIFT would take, and the bpb after those steps."""
    points = []
    for t in STOP_THRESHOLDS:
        steps, bpbs = [], []
        for r in rows:
            prev, n = r["prior"], len(r["variances"])
            for i, v in enumerate(r["variances"]):
                if i > 0 and prev - v < t * r["prior"]:
                    n = i
                    break
                prev = v
            steps.append(n)
            bpbs.append(r["curve"].get(str(n), final_bpb(r)))
        points.append({"stop": t, "steps": mean_se(steps)[0], "bpb": mean_se(bpbs)})
    return points


def fixed_budget_curve(rows: list[dict]) -> list[dict]:
    """bpb after a fixed number of steps, at the checkpoints every row reached."""
    reached = min((max(int(k) for k in r["curve"]) for r in rows), default=0)
    steps = [c for c in CHECKPOINTS if 0 < c <= reached] + ([reached] if reached not in CHECKPOINTS else [])
    return [{"steps": n, "bpb": mean_se([r["curve"][str(n)] for r in rows])} for n in steps]


def lm_markdown(summaries: list[dict]) -> str:
    lines = []
    for s in summaries:
        lines += [f"**Data space copied {s['duplicate']}x**", "", "| method | bpb at budget (mean ± se) | base | n |", "|---|---|---|---|"]
        for method in LM_METHODS:
            if method in s["methods"]:
                m = s["methods"][method]
                lines.append(f"| {method} | {fmt(*m['bpb'][:2])} | {fmt(*m['base'][:2])} | {m['bpb'][2]} |")
        if "sift_minus_nn" in s:
            d, se, n, wins = s["sift_minus_nn"]
            lines.append(f"\nSIFT − NN: {d:+.3f} ± {se:.3f} (SIFT better in {wins} of {n})")
        if "predicted_vs_realised_r" in s and not math.isnan(s["predicted_vs_realised_r"]):
            lines.append(f"\nCorrelation of SIFT's predicted uncertainty reduction with the realised bpb gain: r = {s['predicted_vs_realised_r']:.2f}")
        if s.get("adaptive"):
            lines += ["", "| SIFT budget | average steps | bpb |", "|---|---|---|"]
            for p in s["adaptive"]:
                lines.append(f"| adaptive stop {p['stop']} | {p['steps']:.1f} | {fmt(*p['bpb'][:2])} |")
            for p in s.get("fixed", []):
                lines.append(f"| fixed {p['steps']} | {p['steps']} | {fmt(*p['bpb'][:2])} |")
        lines.append("")
    return "\n".join(lines)


def lm_plot(rows: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for duplicate in sorted({r["duplicate"] for r in rows}):
        fig, ax = plt.subplots(figsize=(6, 4))
        for method in LM_METHODS:
            mine = [r for r in rows if r["method"] == method and r["duplicate"] == duplicate]
            if not mine:
                continue
            steps = sorted({int(k) for r in mine for k in r["curve"]} & set(CHECKPOINTS) | {max(int(k) for r in mine for k in r["curve"])})
            ys = [mean_se([r["curve"][str(s)] for r in mine if str(s) in r["curve"]])[0] for s in steps]
            ax.plot(steps, ys, marker="o", label=f"{method} (n={len(mine)})")
        ax.set_xlabel("LoRA steps (one per selected chunk)")
        ax.set_ylabel("bits per byte of the test text")
        ax.set_title(f"Test-time learning, data space copied {duplicate}x")
        ax.legend()
        fig.tight_layout()
        path = out / f"lm-bpb-dup{duplicate}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    sift = [r for r in rows if r["method"] == "sift" and r.get("prior")]
    if sift:
        fig, ax = plt.subplots(figsize=(6, 4))
        pts = adaptive_curve(sift)
        ax.plot([p["steps"] for p in pts], [p["bpb"][0] for p in pts], marker="o", label="SIFT, adaptive stop")
        fixed = sorted({int(k) for r in sift for k in r["curve"]})
        ax.plot(fixed, [mean_se([r["curve"][str(s)] for r in sift if str(s) in r["curve"]])[0] for s in fixed], alpha=0.6, label="SIFT, fixed budget")
        ax.set_xlabel("average steps")
        ax.set_ylabel("bits per byte")
        ax.set_title("Compute against gain")
        ax.legend()
        fig.tight_layout()
        path = out / "lm-adaptive.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


# ---------------------------------------------------------------- question answering

QA_CONDITIONS = ("base", "context-nn", "context-sift", "learn-sift", "learn+context-sift")
QA_ANSWER_TOKENS = 64  # the gold answers are short facts; a longer reply only rambles


def run_qa(assistant, questions_path: Path, out: Path, corpus: Path, *, n: int = 8) -> Iterator:
    """The QA protocol over an indexed corpus; results go to ``out/qa.jsonl``."""
    from .answer import Context, build_messages
    from .lora_gguf import export_gguf
    from .questions import contains_answer, parse_questions
    from .sift import select
    from .tune import TrainConfig, fit_lora

    out.mkdir(parents=True, exist_ok=True)
    results = out / "qa.jsonl"
    done = _done_keys(results)
    questions = parse_questions(questions_path)
    cfg = assistant.config
    (out / "qa-config.json").write_text(json.dumps({"questions": str(questions_path), "corpus": str(corpus), "n": n,
        "lam": cfg.lam, "k": cfg.k, "lr": cfg.lr, "lora_r": cfg.lora_r, "lora_alpha": cfg.lora_alpha,
        "lora_targets": cfg.lora_targets, "max_train_tokens": cfg.max_train_tokens, "seed": cfg.seed,
        "max_answer_tokens": QA_ANSWER_TOKENS, "device": assistant.device, "model": str(assistant.gguf_path),
        "embedder": assistant.embedder.name}, indent=2))  # fmt: skip
    for i, q in enumerate(questions, start=1):
        key = f"{q.number}|{n}|{cfg.lam}"
        if key in done:
            yield Progress(i, len(questions), "questions")
            continue
        row = {"key": key, "number": q.number, "question": q.question, "answer": q.answer, "conditions": {}}
        sel_sift, ids, rows, query, cands = assistant.select(q.question, n=n, method="sift", stop=None)
        sel_nn = select(query, cands, n, method="nn", lam=cfg.lam)
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
        result = fit_lora(assistant.training_model, texts, train_cfg)
        adapter = export_gguf(result, assistant.training_model, out / "qa-adapter.gguf")  # rewritten per question: the generator keys adapters by file identity
        plans = {
            "base": (None, None),
            "context-nn": (contexts(sel_nn), None),
            "context-sift": (contexts(sel_sift), None),
            "learn-sift": (None, result),
            "learn+context-sift": (contexts(sel_sift), result),
        }
        for name, (ctx, lora) in plans.items():
            messages = build_messages(q.question, ctx)
            gen = assistant.generator
            gen.set_adapter(adapter if lora else None)
            text = gen.generate(messages, max_tokens=QA_ANSWER_TOKENS, temperature=0.0, seed=cfg.seed)
            row["conditions"][name] = {
                "answer_bits_per_byte": answer_bits(assistant.training_model, messages, q.answer, lora),
                "contains": contains_answer(text, q.answer),
                "generated": text,
            }
        assistant.generator.set_adapter(None)
        _append(results, row)
        yield Progress(i, len(questions), "questions")


def answer_bits(tm, messages: list[dict], answer: str, lora) -> float:
    """Bits per byte of the gold answer as the assistant's reply to ``messages``."""
    import torch

    from .tune import bits_from_logits

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
