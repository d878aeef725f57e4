"""`./dev mutate [MODULE…]`: mutation testing of the core (commands/) with mutmut, scored per module.

mutmut (configured under ``[tool.mutmut]`` in pyproject.toml) copies the tree into ``mutants/``, makes
one mutant per changed operator, constant, argument or string of every function in ``commands/``, and
runs the core tests (``tests/commands``) against each mutant. This script runs it on the named modules
(files such as ``commands/dataset/split.py``, dotted names such as ``commands.grammar``, or a package
folder such as ``commands/lifecycle``; none: all of ``commands/``), then reads mutmut's results and
prints, per module: the mutants killed, those that survived or that no test reached, the score, the
number of ``# pragma: no mutate`` lines (equivalent mutants, counted neither way) and the surviving
mutants (``.venv/bin/mutmut show NAME`` prints one's diff).

score = (killed + timed out) / (killed + timed out + survived + no tests + suspicious); mutants not
yet checked (an interrupted run) are listed apart and make the score provisional.

    ./dev mutate commands/dataset/split.py commands/grammar.py
    ./dev mutate --jobs 1                 # one mutant at a time (a shared machine)
    ./dev mutate --report                 # only print the scores of the last run
    ./dev mutate --fail-under 85          # exit 1 when a module scores lower (CI)
    ./dev mutate --changed-since REF      # the modules of commands/ changed between REF and HEAD (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = "commands"
MUTANTS = ROOT / "mutants"

# mutmut's exit codes per mutant (mutmut/stats.py)
KILLED = {1, 3}
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34, 37}
TIMEOUT = {24, -24, 36, 152, 255}


@dataclass
class ModuleScore:
    module: str
    killed: int = 0
    timeout: int = 0
    survived: list[str] = field(default_factory=list)
    no_tests: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)
    not_checked: int = 0
    skipped: int = 0
    pragmas: int = 0

    @property
    def counted(self) -> int:
        return self.killed + self.timeout + len(self.survived) + len(self.no_tests) + len(self.suspicious)

    @property
    def score(self) -> float | None:
        return 100.0 * (self.killed + self.timeout) / self.counted if self.counted else None


def module_of(arg: str) -> tuple[str, bool]:
    """``(dotted module name, is_package)`` for a file, a folder or a dotted name under commands/."""
    text = arg.strip().rstrip("/")
    path = ROOT / text
    if not text.endswith(".py") and (ROOT / text.replace(".", "/")).is_dir():
        path = ROOT / text.replace(".", "/")
    elif not text.endswith(".py") and not path.is_dir():
        path = ROOT / (text.replace(".", "/") + ".py")
    rel = path.resolve().relative_to(ROOT)
    if rel.parts[0] != CORE or not path.exists():
        raise SystemExit(f"mutate: {arg} is not a module or package of {CORE}/")
    if path.is_dir():
        return ".".join(rel.parts), True
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts), False


def patterns_for(args: list[str]) -> list[str]:
    """mutmut's mutant-name globs: ``pkg.mod.x*`` for a module (its functions' mangled names all start
    with ``x_`` or ``xǁ``), ``pkg.*`` for a package and everything under it."""
    if not args:
        return [f"{CORE}.*"]
    out = []
    for arg in args:
        name, package = module_of(arg)
        out.append(f"{name}.*" if package else f"{name}.x*")
    return out


def changed_modules(ref: str, root: Path = ROOT) -> list[str]:
    """The modules of commands/ (``.py`` files that still exist) that differ between ``ref`` and the work
    tree, for CI: what a change touched since the scores in TESTING.md were measured."""
    out = subprocess.run(
        ["git", "diff", "--name-only", ref, "--", f"{CORE}/"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(name for name in out.split() if name.endswith(".py") and (root / name).is_file())


def read_scores(selected: list[str]) -> list[ModuleScore]:
    scores = []
    for meta in sorted((MUTANTS / CORE).rglob("*.py.meta")):
        source = meta.relative_to(MUTANTS).with_suffix("")  # commands/x/y.py
        parts = list(source.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if selected and not any(name == s or name.startswith(s + ".") for s in selected):
            continue
        try:
            results = json.loads(meta.read_text()).get("exit_code_by_key", {})
        except (OSError, ValueError):  # a run killed while it wrote this file
            print(f"mutate: cannot read {meta.relative_to(ROOT)}; run that module again", file=sys.stderr)
            continue
        if not results:
            continue
        s = ModuleScore(str(source))
        original = ROOT / source
        if original.exists():
            s.pragmas = original.read_text().count("pragma: no mutate")
        for key, code in sorted(results.items()):
            if code is None:
                s.not_checked += 1
            elif code in KILLED:
                s.killed += 1
            elif code in TIMEOUT:
                s.timeout += 1
            elif code in SURVIVED:
                s.survived.append(key)
            elif code in NO_TESTS:
                s.no_tests.append(key)
            elif code in SKIPPED:
                s.skipped += 1
            else:
                s.suspicious.append(key)
        scores.append(s)
    return scores


def report(scores: list[ModuleScore], fail_under: float | None, show: bool) -> int:
    if not scores:
        print("mutate: no results in mutants/ for these modules; run without --report first")
        return 1
    width = max(len(s.module) for s in scores)
    print(f"\n{'module':<{width}}  killed  survived  no tests  score   pragmas")
    failing = []
    for s in scores:
        score = "  n/a" if s.score is None else f"{s.score:5.1f}%"
        note = f"  ({s.not_checked} not checked)" if s.not_checked else ""
        survived = len(s.survived) + len(s.suspicious)
        print(
            f"{s.module:<{width}}  {s.killed + s.timeout:6}  {survived:8}  {len(s.no_tests):8}  "
            f"{score}  {s.pragmas:7}{note}"
        )
        if fail_under is not None and s.score is not None and s.score < fail_under:
            failing.append(s.module)
    killed = sum(s.killed + s.timeout for s in scores)
    counted = sum(s.counted for s in scores)
    if counted:
        print(f"{'total':<{width}}  {killed:6}  {'':8}  {'':8}  {100.0 * killed / counted:5.1f}%")
    if show:
        for s in scores:
            for label, keys in (("survived", s.survived + s.suspicious), ("no tests", s.no_tests)):
                if keys:
                    print(f"\n{s.module}: {label} ({len(keys)})")
                    print("\n".join(f"  {k}" for k in keys))
        print("\nOne mutant's diff: .venv/bin/mutmut show NAME")
    if failing:
        print(f"\nbelow {fail_under:g}%: {', '.join(failing)}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev mutate", description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="files, folders or dotted names under commands/")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="mutants at a time")
    parser.add_argument("--report", action="store_true", help="print the last run's scores, run nothing")
    parser.add_argument("--fail-under", type=float, default=None, help="exit 1 below this score (%%)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no list of surviving mutants")
    parser.add_argument(
        "--changed-since", metavar="REF", help="only the modules of commands/ changed since this git commit"
    )
    args = parser.parse_args(argv)
    if args.changed_since:
        args.modules = [*args.modules, *changed_modules(args.changed_since)]
        if not args.modules:
            print(f"mutate: no module of {CORE}/ changed since {args.changed_since}")
            return 0
    patterns = patterns_for(args.modules)
    selected = [] if not args.modules else [module_of(m)[0] for m in args.modules]
    if not args.report:
        mutmut = Path(sys.executable).with_name("mutmut")
        cmd = [str(mutmut), "run", "--max-children", str(args.jobs), *patterns]
        print("$", " ".join(cmd), flush=True)
        # mutmut reruns every mutant that matches a pattern; its exit status is 0 whatever survives.
        # Its progress spinner goes to a log, shown only when the run fails.
        MUTANTS.mkdir(exist_ok=True)
        log = MUTANTS / "mutate.log"
        with log.open("w") as out:
            done = subprocess.run(cmd, cwd=ROOT, check=False, stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            print(log.read_text(errors="replace")[-6000:], file=sys.stderr)
            print(f"mutate: mutmut run failed (exit {done.returncode}); log: {log}", file=sys.stderr)
            return done.returncode
    return report(read_scores(selected), args.fail_under, show=not args.quiet)


if __name__ == "__main__":
    sys.exit(main())
