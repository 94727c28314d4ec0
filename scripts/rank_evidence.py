"""Which score ranks evidence lines best? evidence@1 / @3 per weighting, on an indexed question set.

    ASSISTANT_HOME=.eval/qa-home python scripts/rank_evidence.py corpus [--questions FILE] [--n 8]

The corpus must be indexed in that home first (`assistant index corpus`). Prints a table and writes JSON to
.bench/rank-evidence.json. Unanswerable questions are left out (they have no gold line).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

WEIGHTINGS = {
    "bare cosine": {"context": 0.0, "bare": 1.0, "lexical": 0.0},
    "cosine with heading + previous line": {"context": 1.0, "bare": 0.0, "lexical": 0.0},
    "lexical only": {"context": 0.0, "bare": 0.0, "lexical": 1.0},
    "context + bare": {"context": 0.6, "bare": 0.4, "lexical": 0.0},
    "context + lexical": {"context": 0.6, "bare": 0.0, "lexical": 0.4},
    "context + bare + lexical (default)": {"context": 0.4, "bare": 0.2, "lexical": 0.4},
}


def main() -> None:
    from assistant.answer import evidence as ev
    from assistant.config import load_config
    from assistant.core.asker import picks_of
    from assistant.core.facade import Assistant
    from assistant.eval.questions import contains_answer, parse_questions

    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--questions", type=Path, default=None)
    parser.add_argument("--n", type=int, default=8)
    args = parser.parse_args()
    questions = [q for q in parse_questions(args.questions or args.corpus / "QUESTIONS.md") if q.answerable]
    assistant = Assistant(load_config())
    hits: dict[str, list] = {}
    for q in questions:
        sel, cands = assistant.asker.select(q.question, n=args.n, stop=0.0)
        sift = picks_of(sel, cands)
        both = sift + assistant.asker.nn_alternative(sel, cands)
        for name, weights in WEIGHTINGS.items():
            ev.WEIGHTS.update(weights)
            for source, picks in (("SIFT picks", sift), ("SIFT + NN picks", both)):
                lines = ev.extract_evidence(q.question, picks, assistant.models.embedder, top=3)
                hits.setdefault(f"{name}, {source}", []).append([contains_answer(x.text, q.answer) for x in lines])
    rows = []
    for name, per_q in hits.items():
        at1 = np.mean([bool(h[:1]) and h[0] for h in per_q])
        at3 = np.mean([any(h[:3]) for h in per_q])
        rows.append({"weighting": name, "evidence@1": float(at1), "evidence@3": float(at3), "n": len(per_q)})
    print("| weighting | evidence@1 | evidence@3 | n |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['weighting']} | {r['evidence@1']:.2f} | {r['evidence@3']:.2f} | {r['n']} |")
    out = Path(".bench")
    out.mkdir(exist_ok=True)
    (out / "rank-evidence.json").write_text(json.dumps({"corpus": str(args.corpus), "n_picks": args.n, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
