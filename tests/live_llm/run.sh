#!/usr/bin/env bash
# The live-model suite: builds (once, cached under ~/.cache) and starts the two local OpenAI-compatible servers
# of ../shared/tools/local-llm in turn — llama.cpp's llama-server (takes json_schema) and llama-cpp-python's
# server (json_object only) — and runs tests/live_llm against each. The model is a tiny base model: the suite
# asserts the plumbing (negotiation, deadlines, validation, truthful engine/degraded fields, usage), not quality.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS=${COPILOT_LOCAL_LLM_TOOLS:-../shared/tools/local-llm}
DIR=${COPILOT_LOCAL_LLM_DIR:-$HOME/.cache/copilot-local-llm}
export COPILOT_LOCAL_LLM_DIR=$DIR
for server in llama-server python-server; do
  flag=(); [ "$server" = python-server ] && flag=(--python-server)
  bash "$TOOLS/setup.sh" "${flag[@]}" >/dev/null
  PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export PORT
  # serve.sh leaves the server in the background: its output goes to a file, never to a pipe we would wait on.
  bash "$TOOLS/serve.sh" "${flag[@]}" >"$DIR/serve-$server.log" 2>&1
  pid=$(cat "$DIR/server.pid")
  trap 'kill "$pid" 2>/dev/null || true' EXIT
  echo "live LLM suite against $server on 127.0.0.1:$PORT"
  COPILOT_LIVE_LLM=$server COPILOT_TEST_LLM_BASE="http://127.0.0.1:$PORT/v1" .venv/bin/python -m pytest tests/live_llm \
    -p no:warnings -o log_cli=false
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
