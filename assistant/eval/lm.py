"""The language-modelling protocol (the paper's): bits per byte of held-out documents after learning.

Split a corpus at the file level into a data space and held-out test documents. Each test document's
opening (up to ``test_tokens``) is both the query and the target. Each method selects from the data
space, a fresh LoRA takes one step per pick, and bits per byte of the test text are traced over the
steps. ``duplicate=N`` repeats every data-space chunk N times (exact copies), the condition the paper
is about. Every item is appended to a JSONL file as soon as it is known, so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.config import METHODS
from assistant.events import Progress, Stage
from assistant.eval.stats import split_files

LM_METHODS = ("none", *(m for m in METHODS if m != "sift"), "sift")  # "none": the base model, no learning
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
    train_dtype: str = "auto"
    model: str = ""
    embedder: str = ""
    limit_methods: dict = field(default_factory=dict)  # method -> max test docs (to spend CPU on the headline)
    distinct: bool = False  # collapse exact copies before selection, as `assistant ask` does


def corpus_files(folder: Path) -> list[Path]:
    from assistant.index.discover import discover

    return discover([Path(folder)], max_bytes=20 * 2**20).files


def document_text(path: Path) -> str:
    from assistant.index.readers import read_blocks, reader_for

    blocks, _ = read_blocks(path, reader_for(path) or "text")
    return "\n\n".join(b.text for b in blocks)


class EvalModels:
    """The training copy (unless ``training=False``), the embedder and the token counter, loaded once."""

    def __init__(self, cfg, cache_dir: Path, training: bool = True):
        from assistant.embed import load_embedder
        from assistant.models.locate import resolve_embedder, resolve_gguf
        from assistant.index.tokens import load_token_counter
        from assistant.learn.tune import TrainingModel

        self.gguf = resolve_gguf(cfg.model)
        self.tm = TrainingModel(self.gguf, cfg.device, cache_dir, cfg.train_dtype) if training else None
        self.embedder = load_embedder(resolve_embedder(cfg.embedder), cfg.device)
        self.tokens = load_token_counter(self.gguf, cache_dir)


def _data_space(cfg: LMConfig, models: EvalModels, files: list[Path]) -> tuple[list[str], np.ndarray]:
    """Chunk and embed the data space, cached under ``out`` by file list, budget and embedder."""
    from assistant.index.chunk import chunk_blocks
    from assistant.index.readers import UnreadableFile, read_blocks, reader_for

    key = hashlib.sha256(("\n".join(map(str, files)) + f"|{cfg.chunk_tokens}|{models.embedder.name}").encode()).hexdigest()[:16]
    cache = cfg.out / f"dataspace-{key}.npz"
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        return [str(t) for t in data["texts"]], data["vectors"]
    texts: list[str] = []
    for path in files:
        try:
            blocks, _ = read_blocks(path, reader_for(path) or "text")
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
    from assistant.selection.sift import select
    from assistant.learn.tune import TrainConfig, bits_per_byte, fit_lora

    cfg.out.mkdir(parents=True, exist_ok=True)
    yield Stage("loading")
    models = models or EvalModels(cfg, cfg.out / "cache")
    yield Stage("embedding data space")
    data_files, test_files, texts, vectors = _split_and_embed(cfg, models)
    results = cfg.out / "lm.jsonl"
    done = _done_keys(results)
    (cfg.out / "lm-config.json").write_text(json.dumps({**asdict(cfg), "corpus": str(cfg.corpus), "out": str(cfg.out),
        "data_files": len(data_files), "test_files": [str(f) for f in test_files], "data_chunks": len(texts) // cfg.duplicate,
        "model": str(models.gguf), "embedder": models.embedder.name,
        "torch_dtype": str(models.tm.dtype).removeprefix("torch.") if models.tm else None}, indent=2))  # fmt: skip
    train_cfg = TrainConfig(lr=cfg.lr, r=cfg.lora_r, alpha=cfg.lora_alpha, targets=cfg.lora_targets, max_tokens=cfg.chunk_tokens, seed=cfg.seed)
    jobs = [(doc, m) for doc in test_files for m in cfg.methods]
    yield Stage("evaluating", detail=f"{len(test_files)} test documents x {len(cfg.methods)} methods")
    per_method: dict[str, int] = {}
    for i, (doc, method) in enumerate(jobs, start=1):
        key = f"{doc}|{method}|{cfg.duplicate}|{cfg.steps}|{cfg.lam}" + ("|distinct" if cfg.distinct else "")
        per_method[method] = per_method.get(method, 0) + 1
        if key in done or per_method[method] > cfg.limit_methods.get(method, 10**9):
            yield Progress(i, len(jobs), "items")
            continue
        target = _opening(models, document_text(doc), cfg.test_tokens)
        if not target.strip():
            continue
        start = time.perf_counter()
        base = bits_per_byte(models.tm, target, max_tokens=cfg.test_tokens)
        row = {"key": key, "doc": str(doc), "method": method, "duplicate": cfg.duplicate, "seed": cfg.seed,
               "distinct": cfg.distinct, "curve": {"0": base}}  # fmt: skip
        if method != "none":
            query, top = _candidates(models, vectors, target, cfg.k, texts if cfg.distinct else None)
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


def _candidates(models, vectors: np.ndarray, target: str, k: int, texts: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The query embedding and the positions of its ``k`` nearest data-space chunks (exact search); with
    ``texts``, exact copies are collapsed first so the ``k`` candidates are ``k`` distinct texts."""
    query = models.embedder.embed([target])[0]
    order = np.argsort(-(vectors @ query), kind="stable")
    if texts is None:
        return query, order[:k]
    seen: set[str] = set()
    kept = [j for j in order if not (texts[j] in seen or seen.add(texts[j]))]
    return query, np.array(kept[:k], dtype=np.int64)


def _opening(models: EvalModels, text: str, n_tokens: int) -> str:
    pieces = models.tokens.split(text, n_tokens)
    return pieces[0] if pieces else ""
