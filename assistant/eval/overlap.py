"""How many picks NN and SIFT share per held-out document, and how redundant each one's picks are."""

from __future__ import annotations


import numpy as np

from assistant.eval.stats import fmt, mean_se
from assistant.eval.lm import LMConfig, _candidates, _opening, _split_and_embed, document_text

def pick_overlap(cfg: LMConfig, models) -> list[dict]:
    """Why SIFT and NN tie or differ on a corpus: per test document, the share of picks they have in
    common, and how redundant each method's picks are (mean and max pairwise cosine, distinct picks)."""
    from assistant.selection.sift import select

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
