#!/usr/bin/env bash
# CLI start-up and `list --json` latency, measured with hyperfine (https://github.com/sharkdp/hyperfine).
#
#   bench/cli_startup.sh            # uses ./.venv
#
# 1. `novictl --help` against `python -c "import typer"`: the ratio of the means should stay <= 1.5.
# 2. `novictl list --json` against a local emulator with 50 instances: the median should stay <= 0.6 s
#    (the store is kept fresh, as it is within list's 30 s TTL; a second run refreshes every time).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
NOVICTL="$VENV/bin/novictl"
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }

WORK="$(mktemp -d)"
PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
KEY="bench-$RANDOM$RANDOM"
"$NOVICTL" emulator --port "$PORT" --api-key "$KEY" --instances 50 --step-delay 1s >"$WORK/emulator.log" 2>&1 &
EMULATOR=$!
trap 'kill $EMULATOR 2>/dev/null; rm -rf "$WORK"' EXIT

export HOME="$WORK" XDG_CONFIG_HOME="$WORK/config" XDG_STATE_HOME="$WORK/state"
export NOVITA_API_KEY="$KEY" NOVITA_API_BASE_URL="http://127.0.0.1:$PORT/gpu-instance/openapi/v1"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/_emulator/health" >/dev/null && break; sleep 0.1; done

# An installed package has its bytecode compiled; a checkout may not (PYTHONDONTWRITEBYTECODE, edits), and
# compiling novictl's modules on every run would be measured as start-up.
unset PYTHONDONTWRITEBYTECODE
"$PY" -m compileall -q "$ROOT/novictl" >/dev/null

echo "== start-up: novictl --help vs python -c 'import typer'"
hyperfine --warmup 5 --runs 60 --export-json "$WORK/help.json" \
  "$PY -c 'import typer'" "$NOVICTL --help"
"$PY" - "$WORK/help.json" <<'PYEOF'
import json, sys
base, cli = (r["mean"] for r in json.load(open(sys.argv[1]))["results"])
print(f"ratio novictl --help / import typer: {cli / base:.2f} (target <= 1.5)")
PYEOF

echo "== novictl list --json, 50 instances"
"$NOVICTL" list --refresh -q >/dev/null
hyperfine --warmup 2 --runs 20 --export-json "$WORK/list.json" \
  "$NOVICTL list --json" "$NOVICTL list --refresh --json"
"$PY" - "$WORK/list.json" <<'PYEOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']}: median {r['median']:.3f}s (target <= 0.6 s)")
PYEOF
