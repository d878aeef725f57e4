"""The metrics against values computed by hand."""

from __future__ import annotations

import pytest

from commands.evaluation.metrics import (
    Score,
    chrf,
    exact_match,
    most_different,
    normalize,
    score,
    summarize,
    tally,
    token_f1,
)


def test_normalize_drops_case_punctuation_articles_and_extra_spaces() -> None:
    assert normalize("  The  Order, shipped!  ") == "order shipped"


def test_exact_match_is_after_normalisation() -> None:
    assert exact_match("Order 7 ships tomorrow.", "order 7 ships tomorrow") == 1.0
    assert exact_match("Order 7 ships today.", "order 7 ships tomorrow") == 0.0


def test_token_f1_by_hand() -> None:
    # reply: order 7 ships today (4 tokens); reference: order 7 ships tomorrow (4); common 3
    # precision 3/4, recall 3/4, F1 = 0.75
    assert token_f1("Order 7 ships today.", "Order 7 ships tomorrow.") == pytest.approx(0.75)
    # reply: order 7 (2); reference: order 7 ships tomorrow (4): P = 1, R = 1/2, F1 = 2/3
    assert token_f1("Order 7", "Order 7 ships tomorrow.") == pytest.approx(2 / 3)
    assert token_f1("nothing alike", "Order 7") == 0.0
    assert token_f1("", "") == 1.0 and token_f1("", "x") == 0.0


def test_chrf_is_100_for_identical_text_and_0_for_disjoint_characters() -> None:
    assert chrf("ships tomorrow", "ships tomorrow") == pytest.approx(100.0)
    assert chrf("xyz", "abc") == pytest.approx(0.0)


def test_chrf_by_hand_on_a_short_pair() -> None:
    # "ab" vs "abc": character n-grams (spaces removed) for n = 1..6; only n = 1, 2 exist in "ab".
    # n=1: hyp {a, b}, ref {a, b, c}: P = 2/2, R = 2/3; n=2: hyp {ab}, ref {ab, bc}: P = 1, R = 1/2.
    # sacrebleu averages P and R over the n-gram orders the hypothesis has (n = 1, 2):
    # P = 1, R = (2/3 + 1/2) / 2 = 7/12; chrF (beta 2) = 5PR / (4P + R) * 100
    p, r = 1.0, 7 / 12
    assert chrf("ab", "abc") == pytest.approx(100 * 5 * p * r / (4 * p + r), abs=0.01)


def test_a_failed_reply_scores_zero_and_counts_as_a_failure() -> None:
    failed = score(None, "Order 7 ships tomorrow.")
    assert failed.failed and failed.chrf == 0 and failed.length == 0
    good = score("Order 7 ships tomorrow.", "Order 7 ships tomorrow.")
    summary = summarize([good, failed])
    assert summary.examples == 2 and summary.failures == 1
    assert summary.exact == pytest.approx(50.0)
    assert summary.f1 == pytest.approx(50.0)
    assert summary.chrf == pytest.approx(50.0)
    assert summary.mean_length == pytest.approx(len("Order 7 ships tomorrow."))  # failures not counted


def _s(value: float) -> Score:
    return Score(exact=0, f1=0, chrf=value, length=1)


def test_tally_counts_wins_ties_within_a_point_and_losses() -> None:
    tuned = [_s(60), _s(30), _s(50.5), _s(10)]
    base = [_s(20), _s(30.4), _s(50), _s(40)]
    found = tally(tuned, base)
    assert (found.wins, found.ties, found.losses) == (1, 2, 1)


def test_most_different_orders_by_the_gap_and_skips_equal_pairs() -> None:
    tuned = [_s(60), _s(30), _s(50), _s(10)]
    base = [_s(20), _s(30), _s(45), _s(90)]
    assert most_different(tuned, base) == [3, 0, 2]
