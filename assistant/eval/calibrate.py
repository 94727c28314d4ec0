"""Thresholds chosen from QA results, not assumed: when to abstain, when a sentence counts as unsupported, and
when to learn.

The sweeps read only what `eval qa` saved (the best evidence score per question, the support score of every
answer sentence), so they cost no model time. Tune on one question set, then report the chosen values on another.
"""

from __future__ import annotations

from assistant.answer.coverage import abstains, learns
from assistant.eval.stats import fmt, paired

FALSE_ABSTENTION_CAP = 0.1  # the goal: at most 1 answerable question in 10 wrongly told "your notes do not say"
RIGHT_FLAGGED_CAP = 0.2  # a flag on a right answer costs trust; keep it to 1 in 5


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def abstain_sweep(rows: list[dict], thresholds=None, unmentioned: bool = False) -> list[dict]:
    """Per threshold: abstention on unanswerable questions and false abstention on answerable ones;
    ``unmentioned``: also abstain where the question names something no close line mentions (the product's rule)."""
    thresholds = thresholds or [round(0.15 + 0.025 * i, 3) for i in range(15)]
    answerable = [r for r in rows if r.get("answerable", True)]
    unanswerable = [r for r in rows if not r.get("answerable", True)]

    def share(group: list[dict], t: float) -> float:
        return _share([abstains(r["best_evidence"], r.get("unmentioned", []), t, unmentioned) for r in group])

    return [{"threshold": t, "abstention": share(unanswerable, t), "false_abstention": share(answerable, t)}
            for t in thresholds]  # fmt: skip


def choose_abstain(sweep: list[dict]) -> dict:
    """The threshold that abstains most on unanswerable questions within the false-abstention cap."""
    allowed = [s for s in sweep if s["false_abstention"] <= FALSE_ABSTENTION_CAP]
    return max(allowed, key=lambda s: (s["abstention"], -s["false_abstention"])) if allowed else sweep[0]


def support_sweep(rows: list[dict], condition: str, thresholds=None) -> list[dict]:
    """Per threshold: the share of wrong answers with a flagged sentence, and of right answers with one."""
    thresholds = thresholds or [round(0.3 + 0.05 * i, 2) for i in range(9)]
    have = [r["conditions"][condition] for r in rows if r.get("answerable", True) and condition in r["conditions"]]
    have = [c for c in have if "claim_scores" in c]
    out = []
    for t in thresholds:
        flagged = lambda c: any(s < t for s in c["claim_scores"])  # noqa: E731
        out.append({"threshold": t, "wrong_flagged": _share([flagged(c) for c in have if not c["contains"]]),
                    "right_flagged": _share([flagged(c) for c in have if c["contains"]])})  # fmt: skip
    return out


def choose_support(sweep: list[dict]) -> dict:
    """The threshold that flags most wrong answers while flagging few right ones."""
    allowed = [s for s in sweep if s["right_flagged"] <= RIGHT_FLAGGED_CAP]
    return max(allowed, key=lambda s: (s["wrong_flagged"], -s["right_flagged"])) if allowed else sweep[0]


def learn_gate_sweep(rows: list[dict], learned: str, base: str, thresholds=None) -> list[dict]:
    """Per ``learn_below`` threshold: what the product would show if it learned only on questions whose best
    evidence scores below it (``learned``'s answer there, ``base``'s elsewhere), paired against never learning."""
    thresholds = thresholds or [0.55, 0.6, 0.65, 0.7, 0.75, 1.0]
    have = [r for r in rows if r.get("answerable", True) and learned in r["conditions"] and base in r["conditions"]]
    out = []
    for t in thresholds:
        gated = [r["conditions"][learned if learns(r["best_evidence"], t) else base] for r in have]
        never = [r["conditions"][base] for r in have]
        contains = paired([float(g["contains"]) for g in gated], [float(b["contains"]) for b in never])
        bits = paired([g["answer_bits_per_byte"] for g in gated], [b["answer_bits_per_byte"] for b in never])
        out.append({"threshold": t, "learns": sum(learns(r["best_evidence"], t) for r in have), "n": len(have),
                    "contains": contains[:2], "bits": bits[:2]})  # fmt: skip
    return out


def choose_learn_gate(sweep: list[dict]) -> dict:
    """The threshold whose gated answers beat never learning on gold bits by the most standard errors."""
    return min(sweep, key=lambda s: s["bits"][0] / s["bits"][1] if s["bits"][1] > 0 else 0.0)


def calibration_markdown(rows: list[dict], condition: str) -> str:
    abstain, support = abstain_sweep(rows, unmentioned=True), support_sweep(rows, condition)
    alone = abstain_sweep(rows)  # the score without the unmentioned check, to show what each signal adds
    a, s = choose_abstain(abstain), choose_support(support)
    lines = ["| abstain below | abstention (unanswerable) | false abstention (answerable) | ... score alone | ... score alone |",
             "|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {x['threshold']:.3f}{' ←' if x is a else ''} | {x['abstention']:.2f} | {x['false_abstention']:.2f} "
              f"| {y['abstention']:.2f} | {y['false_abstention']:.2f} |" for x, y in zip(abstain, alone)]  # fmt: skip
    lines += ["", f"| support threshold ({condition}) | wrong answers flagged | right answers flagged |", "|---|---|---|"]
    lines += [f"| {x['threshold']:.2f}{' ←' if x is s else ''} | {x['wrong_flagged']:.2f} | {x['right_flagged']:.2f} |" for x in support]
    names = dict.fromkeys(c for r in rows for c in r["conditions"])  # unanswerable rows have no learned conditions
    for learned in [c for c in names if c.startswith("learn") and c.endswith(f"+{condition}")]:
        lines += ["", f"| learn_below ({learned} where the best line scores below it, else {condition}) | questions that learn "
                  f"| containment − {condition} | gold bits/byte − {condition} |", "|---|---|---|---|"]  # fmt: skip
        gate = learn_gate_sweep(rows, learned, condition)
        g = choose_learn_gate(gate)
        lines += [f"| {x['threshold']:.2f}{' ←' if x is g else ''} | {x['learns']} / {x['n']} | {fmt(*x['contains'], 3)} "
                  f"| {fmt(*x['bits'], 3)} |" for x in gate]  # fmt: skip
    return "\n".join(lines) + "\n"
