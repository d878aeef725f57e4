"""The metrics against values computed by hand."""

from __future__ import annotations

import pytest

from commands.evaluation.metrics import (
    Score,
    Summary,
    Tally,
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


# --- edge cases and exact values, each figure by hand ----------------------------------------------


def test_normalize_removes_whole_articles_only_and_keeps_words_containing_them() -> None:
    assert normalize("A cat, an Apple; THE end") == "cat apple end"
    assert normalize("Theatre and antelope, another day") == "theatre and antelope another day"
    assert normalize("") == ""
    assert normalize("The, a an!") == ""
    assert normalize("x\t\ny") == "x y"


def test_exact_match_of_empty_and_article_only_texts() -> None:
    assert exact_match("", "") == 1.0
    assert exact_match("The.", "") == 1.0  # both normalise to nothing
    assert exact_match("", "x") == 0.0
    assert exact_match("x", "") == 0.0


def test_token_f1_counts_repeated_tokens_once_per_match() -> None:
    # reply: x x y (3 tokens); reference: x z (2); common: one x. P = 1/3, R = 1/2,
    # F1 = 2 * 1/6 / (1/3 + 1/2) = (1/3) / (5/6) = 0.4
    assert token_f1("x x y", "x z") == pytest.approx(0.4)
    assert token_f1("x z", "x x y") == pytest.approx(0.4)
    # reply: x y (2); reference: x (1): P = 1/2, R = 1, F1 = 2 * 1/2 / (3/2) = 2/3
    assert token_f1("x y", "x") == pytest.approx(2 / 3)
    assert token_f1("x", "x") == 1.0


def test_token_f1_of_empty_sides() -> None:
    assert token_f1("", "") == 1.0
    assert token_f1("The!", "an") == 1.0  # both normalise to no tokens
    assert token_f1("", "x") == 0.0
    assert token_f1("x", "") == 0.0
    assert token_f1("The", "x") == 0.0


def test_chrf_against_sacrebleu_on_short_pairs() -> None:
    # "abc" vs "ab": n=1 P = 2/3, R = 1; n=2 P = 1/2, R = 1 (n=3: the reference has none, not counted):
    # P = 7/12, R = 1, chrF = 5PR / (4P + R) = (35/12) / (10/3) = 87.5%
    assert chrf("abc", "ab") == pytest.approx(87.5)
    assert chrf("ab", "abc") == pytest.approx(63.6363636, abs=1e-6)
    assert chrf("hello world", "hello there world") == pytest.approx(39.906031460074075)
    assert chrf("", "abc") == 0.0
    assert isinstance(chrf("ab", "ab"), float)


def test_score_of_a_reply_and_of_none() -> None:
    assert score(None, "x") == Score(exact=0.0, f1=0.0, chrf=0.0, length=0, failed=True)
    good = score("Order 7 ships today.", "Order 7 ships tomorrow.")
    assert (good.exact, good.length, good.failed) == (0.0, 20, False)
    assert (good.f1, good.chrf) == pytest.approx((0.75, 62.59934706817257))
    empty = score("", "x")
    assert empty.failed is False and empty.length == 0 and empty.f1 == 0.0
    same = score("ab", "ab")
    assert (same.exact, same.f1, same.chrf, same.length, same.failed) == (1.0, 1.0, 100.0, 2, False)


def test_summarize_nothing_is_all_zero() -> None:
    summary = summarize([])
    assert summary == Summary(examples=0, exact=0.0, f1=0.0, chrf=0.0, mean_length=0.0, failures=0)


def test_summarize_means_by_hand() -> None:
    scores = [
        Score(exact=1.0, f1=0.5, chrf=30.0, length=10),
        Score(exact=0.0, f1=0.25, chrf=60.0, length=20),
        Score(exact=0.0, f1=0.0, chrf=0.0, length=0, failed=True),
    ]
    # exact (1 + 0 + 0) / 3 = 33.3%; f1 0.75 / 3 = 25%; chrF 90 / 3 = 30; length of the answered (10 + 20) / 2
    assert vars(summarize(scores)) == pytest.approx(
        {"examples": 3, "exact": 100 / 3, "f1": 25.0, "chrf": 30.0, "mean_length": 15.0, "failures": 1}
    )


def test_summarize_only_failures_has_no_mean_length() -> None:
    failed = Score(exact=0.0, f1=0.0, chrf=0.0, length=0, failed=True)
    assert summarize([failed, failed]) == Summary(
        examples=2, exact=0.0, f1=0.0, chrf=0.0, mean_length=0.0, failures=2
    )


def test_tally_at_the_margin_is_a_win_or_a_loss_not_a_tie() -> None:
    tuned = [_s(51), _s(50), _s(50.5), _s(49.5), _s(52.5)]
    base = [_s(50), _s(51), _s(50), _s(50), _s(50)]
    assert tally(tuned, base) == Tally(wins=2, ties=2, losses=1)


def test_tally_of_all_equal_scores_is_all_ties() -> None:
    assert tally([_s(40), _s(40), _s(0)], [_s(40), _s(40), _s(0)]) == Tally(wins=0, ties=3, losses=0)
    assert tally([], []) == Tally(wins=0, ties=0, losses=0)


def test_tally_with_another_margin() -> None:
    tuned, base = [_s(53), _s(55), _s(45), _s(50)], [_s(50), _s(50), _s(50), _s(50)]
    assert tally(tuned, base, margin=5.0) == Tally(wins=1, ties=2, losses=1)
    # no margin: an equal pair is neither a tie nor a win
    assert tally(tuned, base, margin=0.0) == Tally(wins=2, ties=0, losses=2)


def test_tally_and_most_different_need_as_many_scores_on_each_side() -> None:
    with pytest.raises(ValueError):
        tally([_s(1)], [])
    with pytest.raises(ValueError):
        most_different([_s(1)], [_s(1), _s(2)])


def test_most_different_keeps_count_and_orders_equal_gaps_by_index() -> None:
    tuned = [_s(10), _s(20), _s(30), _s(40), _s(50.5)]
    base = [_s(15), _s(10), _s(30), _s(35), _s(50)]
    # gaps: 5, 10, 0, 5, 0.5
    assert most_different(tuned, base) == [1, 0, 3]
    assert most_different(tuned, base, count=1) == [1]
    assert most_different(tuned, base, count=10) == [1, 0, 3, 4]
    assert most_different(tuned, base, count=0) == []
    assert most_different([_s(1)], [_s(1)]) == []
    assert most_different([], []) == []
