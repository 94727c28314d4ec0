"""Calibration sweeps over saved QA rows: no model, so the arithmetic is checked by hand."""

import pytest

from assistant.eval.calibrate import (abstain_sweep, choose_abstain, choose_learn_gate, choose_support, learn_gate_sweep,
                                     support_sweep)


def row(best, answerable=True, contains=None, scores=()):
    return {"best_evidence": best, "answerable": answerable,
            "conditions": {"evidence": {"contains": contains, "claim_scores": list(scores)}}}  # fmt: skip


ROWS = [row(0.6, contains=True, scores=[0.8]), row(0.5, contains=True, scores=[0.7, 0.5]),
        row(0.45, contains=False, scores=[0.3]), row(0.4, contains=False, scores=[0.55]),
        row(0.2, answerable=False), row(0.3, answerable=False), row(0.42, answerable=False)]  # fmt: skip


def test_abstention_is_chosen_within_the_false_abstention_cap():
    sweep = abstain_sweep(ROWS, thresholds=[0.25, 0.35, 0.41, 0.43, 0.55])
    assert [(s["abstention"], s["false_abstention"]) for s in sweep] == [
        (1 / 3, 0.0), (2 / 3, 0.0), (2 / 3, 0.25), (1.0, 0.25), (1.0, 0.75)]
    assert choose_abstain(sweep)["threshold"] == 0.35  # 0.43 catches all three but wrongly abstains on one answerable in four


def test_support_threshold_flags_wrong_answers_not_right_ones():
    sweep = support_sweep(ROWS, "evidence", thresholds=[0.4, 0.6, 0.75])
    assert [(s["wrong_flagged"], s["right_flagged"]) for s in sweep] == [(0.5, 0.0), (1.0, 0.5), (1.0, 0.5)]
    assert choose_support(sweep)["threshold"] == 0.4


def test_the_unmentioned_check_adds_to_the_score_threshold():
    rows = [*ROWS, {**row(0.9, answerable=False), "unmentioned": ["q4"]}, {**row(0.7), "unmentioned": ["2024"]}]
    alone, both = (abstain_sweep(rows, thresholds=[0.35], unmentioned=u)[0] for u in (False, True))
    assert (alone["abstention"], alone["false_abstention"]) == (2 / 4, 0.0)
    assert (both["abstention"], both["false_abstention"]) == (3 / 4, 1 / 5)


def test_the_learning_gate_uses_the_learned_answer_only_below_the_threshold():
    def qa(best, base, learned):  # (contains, gold bits) without and with learning
        return {"best_evidence": best, "answerable": True, "conditions": {
            "quoted": {"contains": base[0], "answer_bits_per_byte": base[1]},
            "learn+quoted": {"contains": learned[0], "answer_bits_per_byte": learned[1]}}}  # fmt: skip

    rows = [qa(0.5, (False, 2.0), (True, 1.0)), qa(0.6, (True, 1.0), (True, 0.8)), qa(0.9, (True, 1.0), (False, 3.0))]
    sweep = learn_gate_sweep(rows, "learn+quoted", "quoted", thresholds=[0.55, 0.7, 1.0])
    assert [s["learns"] for s in sweep] == [1, 2, 3]
    assert [s["contains"][0] for s in sweep] == pytest.approx([1 / 3, 1 / 3, 0.0])
    assert [s["bits"][0] for s in sweep] == pytest.approx([-1 / 3, -0.4, (-1.0 - 0.2 + 2.0) / 3])
    assert choose_learn_gate(sweep)["threshold"] == 0.7  # learning on the confident third raised its bits by 2
