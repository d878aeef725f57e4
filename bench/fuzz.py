"""The hostile-input fuzzer at scale: tens of thousands of signed, malformed Slack requests against
ftbot's ASGI app in process, built by mutating REAL requests (its own card buttons, wizard, review and
Test chat views, slash commands, App Home events) and judged on every property of
``tests/reliability/fuzz/oracle.py``.

    .venv/bin/python bench/fuzz.py --examples 20000          # spread over every surface
    .venv/bin/python bench/fuzz.py --minutes 5                # as many as fit in 5 minutes
    .venv/bin/python bench/fuzz.py --surface slash --surface view_submission --examples 2000

Prints, per surface: requests tried, 5xx, generic replies, ERROR tracebacks, silent failures, invalid
Block Kit, users or channels that are not Slack ids in the store (and refused requests that changed the
store, odd statuses, hangs); then one example of each
distinct cause. Exit status 1 when any count is not 0.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.fuzz.campaign import campaign  # noqa: E402
from tests.reliability.fuzz.oracle import Oracle, Tally, Verdict  # noqa: E402
from tests.reliability.fuzz.scene import fuzz_scene  # noqa: E402

COLUMNS = [
    ("5xx", "5xx"),
    ("generic", "generic"),
    ("traceback", "tracebacks"),
    ("silent", "silent"),
    ("blockkit", "bad Block Kit"),
    ("ids", "bad ids"),
    ("state", "state"),
    ("status", "status"),
    ("hang", "hang"),
]


def _collect(tally: Tally, causes: dict[tuple[str, str], Verdict]) -> Callable[[Verdict], None]:
    def judged(verdict: Verdict) -> None:
        tally.add(verdict)
        for name, detail in verdict.problems.items():
            causes.setdefault((name, f"{verdict.request.surface}: {cause(name, detail)}"), verdict)

    return judged


def cause(name: str, detail: str) -> str:
    """What tells two failures apart: a traceback's last line, a reply's or problem's first words."""
    if name == "traceback":
        lines = [ln for ln in detail.splitlines() if ln.strip()]
        exc = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Warning|Exit)\b", ln)]
        head = lines[0] if lines else ""
        detail = f"{head[:80]} | {exc[-1] if exc else lines[-1] if lines else ''}"
    return re.sub(r"\d+|ref [0-9a-f]{4}|V[0-9A-Z]{8}|ft-[\w-]+", "#", detail)[:160]


def table(tally: Tally, final: list[str]) -> str:
    wide = max([36, *map(len, tally.tried)])
    head = f"{'surface':{wide}} {'tried':>7} " + " ".join(f"{label:>13}" for _, label in COLUMNS)
    rows = [head, "-" * len(head)]
    totals: Counter[str] = Counter()
    for surface in sorted(tally.tried):
        broken = tally.broken.get(surface, Counter())
        totals.update(broken)
        totals["tried"] += tally.tried[surface]
        rows.append(
            f"{surface:{wide}} {tally.tried[surface]:>7} " + " ".join(f"{broken[k]:>13}" for k, _ in COLUMNS)
        )
    totals["blockkit"] += len(final)
    rows.append("-" * len(head))
    rows.append(
        f"{'all surfaces':{wide}} {totals['tried']:>7} " + " ".join(f"{totals[k]:>13}" for k, _ in COLUMNS)
    )
    if final:
        rows.append(f"(bad Block Kit includes {len(final)} delivered card or thread message(s))")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=20_000, help="requests in all (default 20000)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long")
    parser.add_argument("--surface", action="append", help="only surfaces starting with this (repeatable)")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    logging.getLogger("slack_bolt").setLevel(logging.WARNING)
    deadline = time.monotonic() + (args.minutes * 60 if args.minutes else 10**9)
    started = time.monotonic()
    tally, causes = Tally(), dict[tuple[str, str], Verdict]()
    with tempfile.TemporaryDirectory(prefix="ftbot-fuzz-") as tmp, fuzz_scene(Path(tmp)) as scene:
        oracle = Oracle(scene)
        judged = _collect(tally, causes)
        surfaces = [s for s in sorted(scene.seeds) if not args.surface or s.startswith(tuple(args.surface))]
        per = max(1, args.examples // max(1, len(surfaces)))
        rounds = 0
        while True:  # with --minutes, go round the surfaces again until the time is up
            for i, surface in enumerate(surfaces):
                campaign(oracle, surface, per, args.seed + 1000 * rounds + i, deadline, judged)
            rounds += 1
            if not args.minutes or time.monotonic() > deadline:
                break
        final = oracle.final_problems()
        oracle.close()
    elapsed = time.monotonic() - started
    total = sum(tally.tried.values())
    print(table(tally, final))
    print(f"\n{total} requests in {elapsed:.0f} s ({total / max(elapsed, 1e-9):.0f}/s), seed {args.seed}")
    if causes or final:
        print(f"\n{len(causes)} distinct cause(s):")
        for (name, key), verdict in sorted(causes.items()):
            print(f"\n== {name}: {key}\n{verdict.report()}")
        for problem in final[:20]:
            print(f"\n== blockkit (delivered): {problem}")
    return 1 if causes or final else 0


if __name__ == "__main__":
    sys.exit(main())
