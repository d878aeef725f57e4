"""Scores of a reply against the reference assistant answer, and the per-model summary.

Pure functions, so a team can check a figure by hand: exact match and token-level F1 as SQuAD computes
them (lower case, punctuation and articles removed, whitespace tokens), and chrF as sacrebleu computes it
(character 6-grams, beta 2, on a 0–100 scale).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sacrebleu.metrics import CHRF

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_CHRF = CHRF()
#: two chrF scores closer than this are a tie
TIE_MARGIN = 1.0


def normalize(text: str) -> str:
    """Lower case, no punctuation, no English articles, single spaces."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def exact_match(reply: str, reference: str) -> float:
    return 1.0 if normalize(reply) == normalize(reference) else 0.0


def token_f1(reply: str, reference: str) -> float:
    """Harmonic mean of token precision and recall on normalized tokens (1.0 when both are empty)."""
    got, want = normalize(reply).split(), normalize(reference).split()
    if not got or not want:  # pragma: no mutate (and: with one side empty no token is in common below: 0.0)
        return 1.0 if got == want else 0.0
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def chrf(reply: str, reference: str) -> float:
    """sacrebleu's sentence chrF (0–100)."""
    return float(_CHRF.sentence_score(reply, [reference]).score)


@dataclass(frozen=True)
class Score:
    """One reply's scores; ``failed``: the model gave no reply (its scores are then 0)."""

    exact: float
    f1: float
    chrf: float
    length: int  # characters
    failed: bool = False


def score(reply: str | None, reference: str) -> Score:
    if reply is None:
        return Score(exact=0.0, f1=0.0, chrf=0.0, length=0, failed=True)
    return Score(
        exact=exact_match(reply, reference),
        f1=token_f1(reply, reference),
        chrf=chrf(reply, reference),
        length=len(reply),
    )


@dataclass(frozen=True)
class Summary:
    """A model's figures over the examples: means on a 0–100 scale, mean reply length in characters."""

    examples: int
    exact: float
    f1: float
    chrf: float
    mean_length: float
    failures: int


def summarize(scores: Sequence[Score]) -> Summary:
    n = len(scores)
    answered = [s for s in scores if not s.failed]

    def mean(values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    return Summary(
        examples=n,
        exact=100 * mean([s.exact for s in scores]),
        f1=100 * mean([s.f1 for s in scores]),
        chrf=mean([s.chrf for s in scores]),
        mean_length=mean([float(s.length) for s in answered]),
        failures=n - len(answered),
    )


@dataclass(frozen=True)
class Tally:
    """Per example on chrF, fine-tuned against base: wins, ties (within ``TIE_MARGIN``), losses."""

    wins: int
    ties: int
    losses: int


def tally(tuned: Sequence[Score], base: Sequence[Score], margin: float = TIE_MARGIN) -> Tally:
    wins = ties = losses = 0
    for t, b in zip(tuned, base, strict=True):
        diff = t.chrf - b.chrf
        if abs(diff) < margin:
            ties += 1
        elif diff > 0:
            wins += 1
        else:
            losses += 1
    return Tally(wins=wins, ties=ties, losses=losses)


def most_different(tuned: Sequence[Score], base: Sequence[Score], count: int = 3) -> list[int]:
    """Indexes of the ``count`` examples where the two models' chrF differ most, largest first."""
    gaps = [(abs(t.chrf - b.chrf), i) for i, (t, b) in enumerate(zip(tuned, base, strict=True))]
    return [i for gap, i in sorted(gaps, key=lambda g: (-g[0], g[1]))[:count] if gap > 0]
