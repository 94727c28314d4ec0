"""Thresholds chosen from QA results, not assumed: when to abstain, and when a sentence counts as unsupported.

Both sweeps read only what `eval qa` saved (the best evidence score per question, the support score of every
answer sentence), so they cost no model time. Tune on one question set, then report the chosen values on another.
"""

from __future__ import annotations

from assistant.answer.coverage import abstains

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
    return "\n".join(lines) + "\n"
