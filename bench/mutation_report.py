"""Summarise a mutmut 3 run (bench/mutation.sh) and merge the runs into bench/results/mutation.json.

`collect` reads the `.meta` files mutmut leaves next to each mutated module in <workdir>/mutants, counts the
outcomes, records every survivor with its diff, and writes bench/results/mutation/<group>.<label>.json; it then
rebuilds bench/results/mutation.json from all the runs and from bench/mutation_equivalents.json, where a person
lists the survivors judged equivalent or not worth a test, one line of reason each (and, under "_notes", one
line per group that its numbers need).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RUNS = BENCH / "results" / "mutation"
EQUIVALENTS = BENCH / "mutation_equivalents.json"
# mutmut 3.3.1's own table (mutmut.__main__.status_by_exit_code), reduced to the outcomes reported here.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no_tests", 33: "no_tests", 34: "skipped",
          35: "suspicious", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
          -11: "segfault", None: "not_checked"}


def outcomes(workdir: Path, mutated: list[str]) -> dict[str, tuple[str, str]]:
    """Mutant name -> (outcome, source path) for every mutant of the mutated files."""
    found: dict[str, tuple[str, str]] = {}
    for source in mutated:
        meta = workdir / "mutants" / f"{source}.meta"
        if not meta.exists():
            continue
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            found[name] = (STATUS.get(code, f"exit_{code}"), source)
    return found


def diffs_of(workdir: Path, names: list[tuple[str, str]]) -> dict[str, str]:
    """The changed lines of each (mutant, source file), as `mutmut show` prints them; each file parsed once."""
    from difflib import unified_diff

    import libcst as cst
    from mutmut.__main__ import read_mutant_function, read_original_function

    modules: dict[str, Any] = {}
    out = {}
    for name, source in names:
        if source not in modules:
            modules[source] = cst.parse_module((workdir / "mutants" / source).read_text(encoding="utf-8"))
        module = modules[source]
        before = cst.Module([read_original_function(module, name)]).code.strip().split("\n")
        after = cst.Module([read_mutant_function(module, name)]).code.strip().split("\n")
        out[name] = "\n".join(line for line in unified_diff(before, after, lineterm="")
                              if line[:1] in "+-" and not line.startswith(("+++", "---")))
    return out


def counts(found: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Totals per outcome; the surviving rate is over the mutants whose tests ran to an end (killed, survived or
    timed out), so a run stopped by its time budget reports its checked part, with `not_checked` beside it."""
    tally: dict[str, int] = {}
    for outcome, _ in found.values():
        tally[outcome] = tally.get(outcome, 0) + 1
    main = ("killed", "survived", "timeout", "no_tests", "not_checked")
    checked = sum(tally.get(k, 0) for k in ("killed", "survived", "timeout"))
    return {"total": len(found), "checked": checked, **{k: tally.get(k, 0) for k in main},
            "other": {k: v for k, v in tally.items() if k not in main},
            "survived_rate": round(tally.get("survived", 0) / checked, 4) if checked else None}


def collect(args: argparse.Namespace) -> None:
    """Write one run's summary, then rebuild mutation.json."""
    workdir = Path(args.workdir)
    found = outcomes(workdir, args.mutated)
    if not found or all(outcome == "not_checked" for outcome, _ in found.values()):
        sys.exit(f"no checked mutants under {workdir}/mutants for {args.mutated}: the run failed, nothing written")
    rerun = carried = 0
    same_subset: dict[str, Any] = {}
    if args.carry:  # an `after` run re-ran all but the before run's kills; those keep their outcome
        before = json.loads(Path(args.carry).read_text())["outcomes"]
        for name, (outcome, source) in list(found.items()):
            if outcome == "not_checked" and name in before:
                found[name] = (before[name], source)
                carried += 1
            else:
                rerun += 1
        checked_before = {n for n, o in before.items() if o in ("killed", "survived", "timeout")}
        same_subset = {"on_mutants_checked_before": counts({n: v for n, v in found.items() if n in checked_before})}
    survivors = diffs_of(workdir, [(name, source) for name, (outcome, source) in sorted(found.items())
                                   if outcome == "survived"])
    run = {"group": args.group, "label": args.label, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "tool": "mutmut 3.3.1", "mutated": args.mutated, "tests": args.tests, "seconds": args.seconds,
           "order": args.order,
           **counts(found), **same_subset, "rerun": rerun, "carried_from_before": carried, "survivors": survivors,
           "outcomes": {name: outcome for name, (outcome, _) in sorted(found.items())}}
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / f"{args.group}.{args.label}.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in run.items() if k not in ("survivors", "outcomes")}, indent=2))
    merge()


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """The 95 % Wilson interval of a rate k/n: the checked mutants are a sample of the module's (see
    bench/mutmut_run.py on the random order), so the rate is given with its uncertainty."""
    if not n:
        return None
    p, d = k / n, 1 + z * z / n
    mid, half = (p + z * z / (2 * n)) / d, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [round(max(0.0, mid - half), 4), round(min(1.0, mid + half), 4)]


def module_of(mutant: str) -> str:
    """copilot.features.drift.x_check_text__mutmut_3 -> copilot/features/drift.py"""
    m = re.match(r"^(.*?)\.x[_ǁ]", mutant)
    return (m.group(1) if m else mutant).replace(".", "/") + ".py"


def summary(before: dict[str, str], final: dict[str, str] | None, judged: dict[str, str]) -> list[dict[str, Any]]:
    """Per module: mutants generated, checked by the before run, and how those same mutants fared before and
    after the new tests (the after runs re-check the before run's survivors; its kills cannot come back)."""
    rows = []
    for module in sorted({module_of(n) for n in before}):
        names = [n for n in before if module_of(n) == module]
        checked = [n for n in names if before[n] in ("killed", "survived", "timeout")]
        after = {n: (final or {}).get(n, before[n]) for n in checked}
        survived_before = [n for n in checked if before[n] == "survived"]
        survived_after = [n for n in checked if after[n] == "survived"]
        unexplained = [n for n in survived_after if n not in judged]
        rows.append({
            "module": module, "generated": len(names), "checked": len(checked),
            "before": {"killed": sum(before[n] == "killed" for n in checked), "survived": len(survived_before),
                       "timeout": sum(before[n] == "timeout" for n in checked),
                       "survived_rate": round(len(survived_before) / len(checked), 4) if checked else None,
                       "survived_rate_95ci": wilson(len(survived_before), len(checked))},
            "after": None if final is None else {
                "killed": sum(after[n] == "killed" for n in checked), "survived": len(survived_after),
                "timeout": sum(after[n] == "timeout" for n in checked),
                "judged_equivalent": len(survived_after) - len(unexplained), "unexplained": len(unexplained),
                "survived_rate": round(len(survived_after) / len(checked), 4) if checked else None,
                "unexplained_rate": round(len(unexplained) / len(checked), 4) if checked else None}})
        # mutants the before run never reached but an after run did (with the new tests): no before outcome
        late = [n for n in names if n not in checked and (final or {}).get(n) in ("killed", "survived", "timeout")]
        if late:
            rows[-1]["checked_only_after"] = {
                "checked": len(late), "killed": sum(final[n] == "killed" for n in late),  # type: ignore[index]
                "survived": sum(final[n] == "survived" for n in late),  # type: ignore[index]
                "judged_equivalent": sum(final[n] == "survived" and n in judged for n in late)}  # type: ignore[index]
    return rows


def table(groups: dict[str, Any]) -> str:
    """The per-module summary as a Markdown table (for the closing note)."""
    lines = ["| module | generated | checked | before: killed / survived (rate, 95% CI) | after: killed / survived"
             " (equivalent) | after rate | reached only after: killed / survived |", "|---|---|---|---|---|---|---|"]
    for entry in groups.values():
        for r in entry.get("summary", []):
            b, a = r["before"], r["after"]
            ci = b["survived_rate_95ci"]
            rate = "-" if b["survived_rate"] is None else f"{b['survived_rate']:.1%} ({ci[0]:.0%}-{ci[1]:.0%})"
            after = "not run" if a is None else f"{a['killed']} / {a['survived']} ({a['judged_equivalent']})"
            after_rate = "-" if a is None or a["survived_rate"] is None else \
                f"{a['survived_rate']:.1%} ({a['unexplained_rate']:.1%} unexplained)"
            late = r.get("checked_only_after")
            late_text = f"{late['killed']} / {late['survived']}" if late else "-"
            lines.append(f"| {r['module']} | {r['generated']} | {r['checked']} | {b['killed']} / {b['survived']} "
                         f"({rate}) | {after} | {after_rate} | {late_text} |")
    return "\n".join(lines)


def merge() -> None:
    """bench/results/mutation.json: before/after per group, and the survivors judged equivalent."""
    judged: dict[str, dict[str, str]] = json.loads(EQUIVALENTS.read_text()) if EQUIVALENTS.exists() else {}
    groups: dict[str, Any] = {}
    outcomes_of: dict[tuple[str, str], dict[str, str]] = {}
    for path in sorted(RUNS.glob("*.json")):
        run = json.loads(path.read_text())
        outcomes_of[(run["group"], run["label"])] = run["outcomes"]
        entry = groups.setdefault(run["group"], {"mutated": run["mutated"]})
        entry[run["label"]] = {k: v for k, v in run.items()
                               if k not in ("group", "label", "mutated", "survivors", "outcomes")}
        entry[run["label"]]["survivors"] = sorted(run["survivors"])
    for group, entry in groups.items():
        notes = judged.get(group, {})
        entry["judged_equivalent_or_irrelevant"] = notes
        if group in judged.get("_notes", {}):  # what a reader of this group's numbers must know (one line)
            entry["note"] = judged["_notes"][group]
        # the latest of the after and follow-up runs (a follow-up re-checks an after run's survivors)
        label = max((k for k in ("after", "followup") if k in entry), key=lambda k: entry[k]["date"], default=None)
        final = entry.get(label) if label else None
        entry["final_run"] = label
        if final is not None:
            entry["unexplained_survivors_after"] = [m for m in final["survivors"] if m not in notes]
        if (group, "before") in outcomes_of:
            entry["summary"] = summary(outcomes_of[(group, "before")], outcomes_of.get((group, label)), notes)
    out = BENCH / "results" / "mutation.json"
    how = ("survived_rate = survived / checked. 'before' ran the existing tests; 'after' re-ran every mutant the "
           "before run did not kill with the new *_mutants.py tests added (kills carried), within a time budget, so "
           "'not_checked' mutants were never reached; 'followup' re-ran the after run's survivors once more tests "
           "were written. on_mutants_checked_before restricts a run to the mutants its --carry run had checked. 'summary' "
           "gives per module the mutants generated, those the before run checked, and how those same mutants fared "
           "before and after the new tests; runs with order random:<seed> checked a uniform random sample, so the "
           "before rate comes with its 95% Wilson interval. 'judged_equivalent' survivors are explained one by one "
           "in bench/mutation_equivalents.json.")
    out.write_text(json.dumps({"benchmark": "mutation", "how_to_read": how, "groups": groups}, indent=2) + "\n",
                   encoding="utf-8")
    print(table(groups))


def rerun(group: str, *, checked_only: bool = False, not_checked: bool = False, label: str = "before") -> None:
    """Print the mutants an `after` run must check: all but those the before run killed (or, with
    `checked_only`, just its survivors and timeouts, when there is no time to check the rest); with
    `not_checked`, those the `label` run never reached (to continue it)."""
    if not_checked:
        previous = json.loads((RUNS / f"{group}.{label}.json").read_text())["outcomes"]
        print("\n".join(name for name, outcome in previous.items() if outcome == "not_checked"))
        return
    before = json.loads((RUNS / f"{group}.before.json").read_text())["outcomes"]
    skip = ("killed", "not_checked", "no_tests") if checked_only else ("killed",)
    print("\n".join(name for name, outcome in before.items() if outcome not in skip))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("group")
    c.add_argument("label")
    c.add_argument("--workdir", required=True)
    c.add_argument("--seconds", type=int, default=None)
    c.add_argument("--mutated", nargs="+", required=True)
    c.add_argument("--tests", nargs="+", required=True)
    c.add_argument("--carry", default=None, help="the before run whose outcomes the mutants not re-run keep")
    c.add_argument("--order", default="fastest", help="the order mutants were checked in (random:<seed> or fastest)")
    sub.add_parser("merge", help="rebuild bench/results/mutation.json and print the per-module table")
    r = sub.add_parser("rerun")
    r.add_argument("group")
    r.add_argument("--checked-only", action="store_true")
    r.add_argument("--not-checked", action="store_true")
    r.add_argument("--label", default="before", help="the run --not-checked continues")
    args = parser.parse_args()
    if args.command == "collect":
        collect(args)
    elif args.command == "rerun":
        rerun(args.group, checked_only=args.checked_only, not_checked=args.not_checked, label=args.label)
    else:
        merge()


if __name__ == "__main__":
    main()
