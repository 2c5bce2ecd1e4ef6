#!/usr/bin/env bash
# Ping throughput: PUT /api/instances/{id}/last-used over 1,000 ids vs a trivial JSON route of the same
# daemon (GET /api/version), in the same run, with wrk at 32 connections. Targets: ratio >= 0.7,
# p99 <= 50 ms, zero non-2xx. Needs wrk (apt-get install -y wrk). Usage: bench/ping_load.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
py=.venv/bin/python
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

emu_port=$(free_port); daemon_port=$(free_port)
"$py" -m novictl emulator --port "$emu_port" --api-key bench --instances 1000 --step-delay 1h >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$emu_port/_emulator/health"

export HOME="$work/home" NOVITA_API_KEY=bench
export NOVITA_API_BASE_URL="http://127.0.0.1:$emu_port/gpu-instance/openapi/v1"
export NOVICTL_STORE__URL="sqlite:///$work/state.db" NOVICTL_DAEMON__RATE_LIMIT_PER_MINUTE=100000000
export NOVICTL_DAEMON__PING_RATE_LIMIT_PER_MINUTE=100000000  # measure the route, not the limiter
export NOVICTL_AUTOSTOP__DRY_RUN=true
"$py" -m novictl daemon --port "$daemon_port" >"$work/daemon.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$daemon_port"
wait_for "$base/health"
for _ in $(seq 100); do
  total=$(curl -fs "$base/api/instances" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  [ "$total" -ge 1000 ] && break; sleep 0.2
done

curl -fs "$base/api/instances" | "$py" -c '
import json, sys
ids = [i["id"] for i in json.load(sys.stdin)["instances"]][:1000]
print("ids = {" + ",".join(f"\"{i}\"" for i in ids) + "}")
print("""counter = 0
request = function()
  counter = counter + 1
  return wrk.format("PUT", "/api/instances/" .. ids[(counter % #ids) + 1] .. "/last-used",
                    {["Content-Type"] = "application/json"}, "{}")
end""")' >"$work/ping.lua"

run() { wrk -t2 -c32 -d"${duration}s" --latency "$@" 2>&1; }
summarize() {
  "$py" -c '
import re, sys
text = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
socket_errors = errors.group(1).strip().replace(" ", "") if errors else "none"
print(f"{rps:.0f} {p99_ms:.1f} {bad.group(1) if bad else 0} {socket_errors}")'
}

read -r base_rps base_p99 base_bad base_err < <(run "$base/api/version" | summarize)
read -r ping_rps ping_p99 ping_bad ping_err < <(run -s "$work/ping.lua" "$base" | summarize)
echo "GET /api/version          : ${base_rps} req/s  p99 ${base_p99} ms  non-2xx ${base_bad}  socket errors ${base_err}"
echo "PUT …/last-used (1,000 ids): ${ping_rps} req/s  p99 ${ping_p99} ms  non-2xx ${ping_bad}  socket errors ${ping_err}"
"$py" -c "print(f'ratio ping/baseline: {${ping_rps}/${base_rps}:.2f} (target >= 0.7); p99 target <= 50 ms; non-2xx target 0')"
stored=$(curl -fs "$base/api/instances" | "$py" -c 'import json,sys; print(sum(1 for i in json.load(sys.stdin)["instances"] if i["lastUsedAt"]))')
echo "instances with a recorded ping after the run: $stored / 1000"
