#!/usr/bin/env bash
# The PostgreSQL leg of the test suite: a throwaway cluster on loopback, then the tests that go through the
# store and the API, run again against it (the SQLite leg runs first in `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."

INITDB=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$INITDB" ] || INITDB=$(command -v initdb || true)
if [ -z "$INITDB" ]; then
  # A missing PostgreSQL must not pass silently: it fails unless a skip is asked for (COPILOT_TEST_ALLOW_SKIP=1).
  echo "PostgreSQL is not installed: the PostgreSQL leg cannot run (.ci/run installs it; apt-get install postgresql)"
  [ "${COPILOT_TEST_ALLOW_SKIP:-}" = 1 ] && { echo "skipped: COPILOT_TEST_ALLOW_SKIP=1"; exit 0; }
  exit 1
fi
BIN=$(dirname "$INITDB")
WORK=$(mktemp -d)
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AS=()
if [ "$(id -u)" = 0 ]; then  # initdb refuses to run as root
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$WORK"
  AS=(runuser -u postgres --)
fi
"${AS[@]}" "$BIN/initdb" -D "$WORK/data" -A trust -U copilot >/dev/null
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w \
  -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
trap '"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U copilot copilot_test

echo "PostgreSQL leg: $("$BIN/postgres" --version) on 127.0.0.1:$PORT"
COPILOT_DATABASE_URL="postgresql+psycopg://copilot@127.0.0.1:$PORT/copilot_test" .venv/bin/python -m pytest \
  tests/test_api.py tests/test_ingest.py tests/test_tenancy.py tests/test_retrieval.py tests/test_review.py \
  tests/test_drift.py tests/test_spotlight.py tests/test_vitality.py tests/test_rituals.py tests/test_slack.py \
  tests/test_privacy.py tests/test_contract.py tests/test_review_integrity.py tests/test_untrusted.py \
  tests/test_attack_inputs.py tests/test_erasure.py tests/test_brands.py tests/test_conversation.py \
  tests/desk/test_desk_pages.py tests/test_retrieval_fusion.py tests/test_retrieval_misses.py tests/test_retrieval_eval.py tests/test_members_usage.py \
  tests/test_live_analytics.py
