#!/usr/bin/env bash
# Mutation check (issue 17): run mutmut 3 on one module group, in a scratch copy, with only that group's tests.
#
#   bash bench/mutation.sh review|drift|spotlight|rituals|vitality|feed|rewrite|shoutout|drift_rules|charters|drift_judge|charter_reading|snapshot [before|after]
#
# `after` re-runs every mutant the group's `before` run did not kill (with the test files
# added since): adding tests cannot revive a killed mutant, so those keep their `before` outcome.
# MUTATION_AFTER_SCOPE=checked limits it to the before run's survivors and timeouts (what it did not reach stays
# not checked). MUTATION_TIMEOUT (seconds, default 1500) is the time budget of one run; a run stopped by it reports the
# mutants it checked and counts the rest as not checked. MUTATION_CONTINUE=1 checks only what the group's earlier
# run of the same label (before, after, followup) did not reach, with that label's tests, and keeps that run's
# outcomes for the rest.
# Mutants are checked in a seeded random order (MUTATION_ORDER, MUTATION_SEED: see bench/mutmut_run.py), so the
# part a time-limited run reaches is a random sample of the group's mutants. One child at a time by default
# (MUTATION_CHILDREN): the machine is shared; run the script under `nice -n 19`.
#
# The run happens in a scratch directory (MUTATION_WORKDIR, default /tmp/mutation-<group>) so the checkout never
# gets a `mutants/` tree or a `[tool.mutmut]` section that would change what `make test` does. Every copilot
# module is copied, but only the group's files are mutated (`do_not_mutate` lists the others). The summary and
# the survivors go to bench/results/mutation/<group>.<label>.json; bench/mutation_report.py merges them into
# bench/results/mutation.json with the survivors judged equivalent.
#
# mutmut is not a dev dependency: its 3.3.1 wheel installs a top-level `tests` package into site-packages, which
# shadows this project's `tests` namespace (`from tests.conftest import ...` then fails). Install it with
# `pip install mutmut==3.3.1` and remove `site-packages/tests/` afterwards; this script copes either way by
# making the scratch copy's `tests/` a regular package, which comes first on the path.
set -euo pipefail

group="${1:?usage: bench/mutation.sh review|drift|spotlight|rituals|vitality|feed|rewrite|shoutout|drift_rules|charters|drift_judge|charter_reading|snapshot [before|after]}"
label="${2:-run}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY=/work/main/.venv/bin/python
"$PY" -c "import mutmut" 2>/dev/null || { echo "mutmut is not installed: $PY -m pip install mutmut==3.3.1" >&2; exit 2; }

case "$group" in
  review)    mutate=(copilot/review.py)
             tests=(tests/test_review.py tests/test_review_integrity.py tests/test_review_mutants.py) ;;
  # tests/test_phrases.py is left out: it reads the phrase keys from the source files, and mutmut's copy of a
  # mutated file holds every mutant's variant of them ("XXdrift.bannedXX"), so it fails before any mutant runs.
  drift)     mutate=(copilot/features/drift.py copilot/features/charter_checks.py)
             tests=(tests/test_drift.py tests/test_charter.py tests/test_charter_corpus.py tests/test_charter_reading.py
                    tests/test_drift_mutants.py) ;;
  spotlight) mutate=(copilot/features/spotlight.py)
             tests=(tests/test_spotlight.py tests/test_spotlight_mutants.py) ;;
  rituals)   mutate=(copilot/features/rituals.py)
             tests=(tests/test_rituals.py tests/test_rituals_mutants.py) ;;
  # tests/test_redos.py is left out of the groups below: its assertions are timings, which a busy machine running
  # mutants under `nice` can fail without any mutant being at fault.
  vitality)  mutate=(copilot/features/vitality.py)
             tests=(tests/test_vitality.py tests/test_brands.py tests/test_live_analytics.py tests/test_live_snapshots.py
                    tests/test_vitality_mutants.py) ;;
  # the feed audit and the service that wires it to the store and the snapshots (GET .../drift/report, checks)
  feed)      mutate=(copilot/features/feed.py copilot/features/drift_service.py)
             tests=(tests/test_drift.py tests/test_brands.py tests/test_live_analytics.py tests/test_live_snapshots.py
                    tests/test_feed_mutants.py) ;;
  rewrite)   mutate=(copilot/features/rewrite.py)
             tests=(tests/test_drift.py tests/test_drift_mutants.py tests/test_review.py tests/test_rewrite_mutants.py) ;;
  shoutout)  mutate=(copilot/features/shoutout.py)
             tests=(tests/test_spotlight.py tests/test_spotlight_mutants.py tests/test_privacy.py
                    tests/test_shoutout_mutants.py) ;;
  # drift_rules.py is data: mutmut mutates functions only, so its 15 mutants are all in `_p`, the pattern builder
  drift_rules) mutate=(copilot/features/drift_rules.py)
             tests=(tests/test_drift.py tests/test_drift_mutants.py tests/test_drift_rules_mutants.py) ;;
  charters)  mutate=(copilot/features/charters.py)
             tests=(tests/test_review.py tests/test_charters_mutants.py) ;;
  drift_judge) mutate=(copilot/features/drift_judge.py)
             tests=(tests/test_drift_judge.py tests/test_drift.py tests/test_drift_judge_mutants.py) ;;
  charter_reading) mutate=(copilot/features/charter_reading.py)
             tests=(tests/test_charter_reading.py tests/test_charter_reading_mutants.py) ;;
  # snapshot.py is the in-memory columnar snapshot every analytics feature reads; these are the files that build,
  # extend, save, load and erase it
  snapshot)  mutate=(copilot/features/snapshot.py)
             tests=(tests/test_live_snapshots.py tests/test_live_analytics.py tests/test_erasure.py
                    tests/test_snapshot_mutants.py) ;;
  *) echo "unknown group '$group' (review, drift, spotlight, rituals, vitality, feed, rewrite, shoutout, drift_rules, charters, drift_judge, charter_reading, snapshot)" >&2; exit 2 ;;
esac

existing=()
for t in "${tests[@]}"; do
  # `before` measures the suite as it was: the tests written from this group's survivors
  # (tests/test_<group>_mutants.py) are left out; another group's, already in the suite, stay.
  [ "$label" = before ] && [ "$t" = "tests/test_${group}_mutants.py" ] && continue
  [ -f "$ROOT/$t" ] && existing+=("$t")
done

work="${MUTATION_WORKDIR:-/tmp/mutation-$group}"
rm -rf "$work"
mkdir -p "$work"
cp -r "$ROOT/copilot" "$ROOT/tests" "$ROOT/prompts" "$ROOT/knowledge" "$ROOT/pyproject.toml" "$work/"
find "$work" -name __pycache__ -prune -exec rm -rf {} +
touch "$work/tests/__init__.py"
# tests/conftest.py finds the shared datasets at <checkout>/../shared/data; inside mutmut the checkout is
# <work>/mutants, so <work>/shared must lead there.
ln -s "$(cd "$ROOT/../shared" && pwd)" "$work/shared"

toml_list() { local out="" x; for x in "$@"; do out+="\"$x\", "; done; printf '[%s]' "${out%, }"; }
others=()
while IFS= read -r f; do
  keep=0; for m in "${mutate[@]}"; do [ "$f" = "$m" ] && keep=1; done
  [ $keep = 1 ] || others+=("$f")
done < <(cd "$work" && find copilot -name '*.py' | sort)
cat >> "$work/pyproject.toml" <<EOF

[tool.mutmut]
paths_to_mutate = ["copilot/"]
do_not_mutate = $(toml_list "${others[@]}")
also_copy = ["prompts/", "knowledge/"]
tests_dir = $(toml_list "${existing[@]}")
EOF

names=()
carry=()
if [ "${MUTATION_CONTINUE:-0}" = 1 ]; then
  previous="$ROOT/bench/results/mutation/$group.$label.json"
  [ -f "$previous" ] || { echo "MUTATION_CONTINUE=1 needs $previous" >&2; exit 2; }
  cp "$previous" "$work/previous.$label.json"  # collect rewrites $previous
  mapfile -t names < <("$PY" "$ROOT/bench/mutation_report.py" rerun "$group" --not-checked --label "$label")
  carry=(--carry "$work/previous.$label.json")
  [ ${#names[@]} -gt 0 ] || { echo "the $label run of $group checked every mutant"; exit 0; }
elif [ "$label" = after ] && [ -f "$ROOT/bench/results/mutation/$group.before.json" ]; then
  scope=(); [ "${MUTATION_AFTER_SCOPE:-all}" = checked ] && scope=(--checked-only)
  mapfile -t names < <("$PY" "$ROOT/bench/mutation_report.py" rerun "$group" "${scope[@]}")
  carry=(--carry "$ROOT/bench/results/mutation/$group.before.json")
  [ ${#names[@]} -gt 0 ] || { echo "nothing survived the before run of $group"; exit 0; }
fi
echo "mutating ${mutate[*]} with ${existing[*]} in $work (${#names[@]} named mutants; none named = all)"
start=$(date +%s)
(cd "$work" && env -u PYTHONPATH COPILOT_TEST_ALLOW_SKIP=0 timeout "${MUTATION_TIMEOUT:-1500}" \
   "$PY" "$ROOT/bench/mutmut_run.py" run --max-children "${MUTATION_CHILDREN:-1}" "${names[@]}") || echo "mutmut run ended with status $?" >&2
elapsed=$(( $(date +%s) - start ))
"$PY" "$ROOT/bench/mutation_report.py" collect "$group" "$label" --workdir "$work" --seconds "$elapsed" \
  --mutated "${mutate[@]}" --tests "${existing[@]}" --order "${MUTATION_ORDER:-random}:${MUTATION_SEED:-17}" "${carry[@]}"
