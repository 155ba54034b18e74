"""`mutmut run` with time limits that fit this suite (used by bench/mutation.sh).

mutmut 3.3.1 estimates a test's duration from the last report phase pytest gives it (the teardown, a few ms),
not from the fixture set-up where this suite spends its time (an app, a SQLite file and a Chroma per test).
Its watchdog then kills, and counts as "timeout", every mutant whose tests take more than ~15 s of wall time,
which on a shared 2-core machine is nearly all of them. Here the watchdog allows MUTATION_SECONDS_PER_TEST
(default 20) per selected test plus 60 s, measured per mutant, and the CPU limit of a child is raised to match.
A mutant that loops for ever is still stopped and still counted as a timeout.

mutmut also runs the stats collection, the clean run and the forced-fail run inside its own process, then forks
one child per mutant. A child that opens a Chroma client after its parent has opened one hangs for ever (the
parent's Rust runtime threads do not survive the fork). Here those three runs go to subprocesses, and the parent
only imports the project's modules (which forks well) so each child starts warm.

mutmut checks the mutants whose tests look fastest first, so a run stopped by its time budget has checked a biased
subset (the cheap functions). With MUTATION_ORDER=random (the default here) the mutants are checked in an order
drawn from a seeded hash of their names (MUTATION_SEED, default 17): the part a time-limited run checks is then a
uniform random sample of the module's mutants, and its surviving rate an unbiased estimate of the whole module's.
MUTATION_ORDER=fastest keeps mutmut's own order.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
from datetime import datetime
from time import sleep
from types import SimpleNamespace
from pathlib import Path
from typing import Any, Callable

# This script's folder holds benchmark modules (drift.py, search.py …) that must not shadow anything.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import mutmut  # noqa: E402
import mutmut.__main__ as mm  # noqa: E402

PER_TEST = float(os.environ.get("MUTATION_SECONDS_PER_TEST", "20"))
ORDER = os.environ.get("MUTATION_ORDER", "random")
SEED = os.environ.get("MUTATION_SEED", "17")


def random_rank(mutant_name: str) -> int:
    """A stable pseudo-random sort key for a mutant (mutmut sorts by `estimated_worst_case_time`)."""
    return int.from_bytes(hashlib.sha256(f"{SEED}:{mutant_name}".encode()).digest()[:8], "big")


def budget(n_tests: int) -> float:
    """Seconds a mutant's test run may take before it counts as a timeout."""
    return 60 + PER_TEST * n_tests


def timeout_checker(mutants: list[Any]) -> Callable[[], None]:
    """The watchdog, with each running child measured against its own mutant's budget."""
    def check() -> None:
        while True:
            sleep(1)
            now = datetime.now()
            for m, _, _ in mutants:
                with mm.START_TIMES_BY_PID_LOCK:
                    started = dict(m.start_time_by_pid)
                for pid, start in started.items():
                    name = m.key_by_pid.get(pid)
                    if name is None:
                        continue
                    tests = mutmut.tests_by_mangled_function_name.get(mm.mangled_name_from_mutant_name(name), ())
                    if (now - start).total_seconds() > budget(len(tests)):
                        try:
                            os.kill(pid, signal.SIGXCPU)
                        except ProcessLookupError:
                            pass
    return check


def setrlimit(which: int, limits: tuple[int, int]) -> None:
    """The child's CPU limit, raised to the watchdog's budget for the largest test selection."""
    if which == resource.RLIMIT_CPU:
        most = max((len(t) for t in mutmut.tests_by_mangled_function_name.values()), default=1)
        cpu = int(limits[0] + budget(most))
        limits = (cpu, cpu + 1)
    resource.setrlimit(which, limits)


def _isolated(command: str, *args: str, env: dict[str, str] | None = None) -> int:
    """Run this script's `command` in a fresh interpreter (from the mutmut work dir); its exit code."""
    done = subprocess.run([sys.executable, __file__, command, *args], env={**os.environ, **(env or {})},
                          capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stdout[-5000:] + done.stderr[-5000:])
    return done.returncode


def _use_mutants_path() -> None:
    """The path set-up of `mutmut run`: mutated code first, the original code not importable."""
    sys.path.insert(0, str(Path("mutants").absolute()))
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(".").resolve()]


class IsolatedRunner(mm.PytestRunner):
    """The parent's own test runs in subprocesses; the per-mutant runs (in forked children) as mutmut does."""

    def run_tests(self, *, mutant_name: str | None, tests: Any) -> int:
        if os.environ.get("MUTANT_UNDER_TEST"):  # a forked child testing one mutant
            return super().run_tests(mutant_name=mutant_name, tests=tests)
        return _isolated("_pytest", *(sorted(tests) or mutmut.config.tests_dir), env={"MUTANT_UNDER_TEST": ""})

    def run_forced_fail(self) -> int:
        return _isolated("_pytest", *mutmut.config.tests_dir, env={"MUTANT_UNDER_TEST": "fail"})


def collect_or_load_stats(runner: Any) -> None:
    """Stats from a subprocess (saved to mutants/mutmut-stats.json), then loaded; then warm the imports."""
    if not mm.load_stats():
        if _isolated("_stats") != 0 or not mm.load_stats():
            sys.exit("failed to collect mutmut stats (see the output above)")
    import copilot.api.app  # noqa: F401  (imports fork well; Chroma clients do not)
    import copilot.runtime  # noqa: F401


class _Durations:
    """Whole test durations (set-up + call + tear-down), where mutmut keeps only the last phase's."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration


def _stats() -> None:
    """Collect mutmut's stats with real durations, so that each child runs the fastest tests first."""
    mm.ensure_config_loaded()
    _use_mutants_path()
    durations = _Durations()
    execute, save = mm.PytestRunner.execute_pytest, mm.save_stats

    def execute_with_durations(self: Any, params: list[str], **kwargs: Any) -> int:
        kwargs["plugins"] = [*kwargs.get("plugins", []), durations]
        return execute(self, params, **kwargs)

    def save_with_durations() -> None:
        mutmut.duration_by_test.update({k: v for k, v in durations.seconds.items() if k in mutmut.duration_by_test})
        save()

    mm.PytestRunner.execute_pytest = execute_with_durations  # type: ignore[method-assign]
    mm.save_stats = save_with_durations
    mm.run_stats_collection(mm.PytestRunner())


def _pytest(tests: list[str]) -> int:
    mm.ensure_config_loaded()
    _use_mutants_path()
    with mm.change_cwd("mutants"):
        return int(mm.PytestRunner().execute_pytest(["-x", "-q", *tests]))


mm.PytestRunner = IsolatedRunner  # type: ignore[misc]
mm.collect_or_load_stats = collect_or_load_stats
mm.timeout_checker = timeout_checker
if ORDER == "random":
    mm.estimated_worst_case_time = random_rank
elif ORDER != "fastest":
    sys.exit(f"MUTATION_ORDER must be random or fastest, not {ORDER!r}")
mm.resource = SimpleNamespace(setrlimit=setrlimit, RLIMIT_CPU=resource.RLIMIT_CPU)  # type: ignore[assignment]

if __name__ == "__main__":
    if sys.argv[1:2] == ["_stats"]:
        _stats()
    elif sys.argv[1:2] == ["_pytest"]:
        sys.exit(_pytest(sys.argv[2:]))
    else:
        sys.exit(mm.cli(sys.argv[1:]))
