"""Summaries, Markdown tables and plots of the language-modelling results."""

from __future__ import annotations

import json
import math
from pathlib import Path


from assistant.eval.stats import fmt, mean_se, paired, pearson
from assistant.eval.lm import CHECKPOINTS, LM_METHODS, STOP_THRESHOLDS

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
