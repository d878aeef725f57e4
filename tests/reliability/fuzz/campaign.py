"""Many mutated requests of one surface, each judged, none stopping the run (``bench/fuzz.py``; the
suite's bounded profile asserts instead, in ``test_hostile_input.py``)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.reliability.fuzz.mutations import Request, requests_for
from tests.reliability.fuzz.oracle import Oracle, Verdict


class _Stop(Exception):
    pass


def campaign(
    oracle: Oracle, surface: str, examples: int, seed: int, deadline: float, judged: Callable[[Verdict], None]
) -> None:
    """``examples`` mutations of ``surface``'s seeds (fewer if ``deadline``, a ``time.monotonic()``,
    passes), generated only: no shrinking, each verdict already names its 1 to 3 mutations."""
    scene = oracle.scene

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(requests_for(scene.seeds[surface], scene.known))
    def one(request: Request) -> None:
        if time.monotonic() > deadline:
            raise _Stop
        judged(oracle.run(request))

    with contextlib.suppress(_Stop):
        hypothesis.seed(seed)(one)()
