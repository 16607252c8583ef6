#!/usr/bin/env bash
# Load benchmark: hello-api (Portcullis) against a no-auth twin and twins protected by
# jwt-authorizer and tower-oauth2-resource-server, side by side in one run.
#
#   bench/load.sh                     # DURATION=10 ROUNDS=3 CONNECTIONS=32 by default
#
# Every server runs pinned to CPU 0 with one tokio worker; wrk runs pinned to CPU 1. Tokens come
# from the test IdP (RS256, RFC 9068). Two workloads: one token; 1000 rotating tokens. Rounds
# alternate the servers; the table gives the median req/s and p99 of the rounds and the ratio to
# the no-auth twin. Writes bench/results.md and docs/benchmarks.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in wrk taskset node python3 curl cargo; do
  command -v "$tool" >/dev/null || { echo "load.sh needs $tool (wrk: apt-get install wrk)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "load.sh needs 2 CPUs (server on one, load on the other)" >&2; exit 1; }
DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-3}; CONNECTIONS=${CONNECTIONS:-32}

[ -d tests/idp/node_modules/oidc-provider ] || npm ci --prefix tests/idp
cargo build -q --release -p hello-api
cargo build -q --release --manifest-path bench/Cargo.toml -p twin-noauth -p twin-jwt-authorizer -p twin-tower-oauth2

tmp=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

node tests/idp/server.mjs --keys "$tmp/keys.json" --port 4200 >"$tmp/idp.out" 2>"$tmp/idp.err" &
for _ in $(seq 50); do [ -s "$tmp/idp.out" ] && break; sleep 0.1; done
[ -s "$tmp/idp.out" ] || { cat "$tmp/idp.err" >&2; exit 1; }
ISSUER=http://127.0.0.1:4200 AUDIENCE=urn:portcullis:hello

python3 - "$ISSUER" "$tmp/tokens.txt" <<'PY'
import sys, urllib.request, urllib.parse, base64, json
issuer, out = sys.argv[1], sys.argv[2]
auth = "Basic " + base64.b64encode(b"portcullis-test:test-secret").decode()
with open(out, "w") as f:
    for i in range(1000):
        body = urllib.parse.urlencode({"grant_type": "urn:portcullis:grant-type:test-password", "username": f"user-{i}",
                                       "scope": "hello:read", "resource": "urn:portcullis:hello"}).encode()
        req = urllib.request.Request(issuer + "/token", data=body, headers={"Authorization": auth})
        f.write(json.load(urllib.request.urlopen(req))["access_token"] + "\n")
PY
TOKEN=$(head -1 "$tmp/tokens.txt")
cat > "$tmp/rotate.lua" <<LUA
local tokens = {}
for line in io.lines("$tmp/tokens.txt") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/hello", { ["Authorization"] = "Bearer " .. tokens[i] })
end
LUA

export TOKIO_WORKER_THREADS=1 RUST_LOG=error
start() { # name port command...
  local name=$1 port=$2; shift 2
  ADDR=127.0.0.1:$port taskset -c 0 "$@" >"$tmp/$name.log" 2>&1 &
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/hello")" = 200 ] && return
    sleep 0.1
  done
  echo "$name did not answer 200 on :$port" >&2; cat "$tmp/$name.log" >&2; exit 1
}
start noauth 4201 bench/target/release/twin-noauth
PORTCULLIS_ISSUER=$ISSUER PORTCULLIS_AUDIENCE=$AUDIENCE start portcullis 4202 target/release/hello-api
ISSUER=$ISSUER JWKS_URL=$ISSUER/jwks AUDIENCE=$AUDIENCE start jwt-authorizer 4203 bench/target/release/twin-jwt-authorizer
ISSUER=$ISSUER JWKS_URL=$ISSUER/jwks AUDIENCE=$AUDIENCE start tower-oauth2 4204 bench/target/release/twin-tower-oauth2
for port in 4202 4203 4204; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/hello")
  [ "$code" = 401 ] || { echo "server on :$port answered $code without a token" >&2; exit 1; }
done

servers=(noauth:4201 portcullis:4202 jwt-authorizer:4203 tower-oauth2:4204)
: >"$tmp/results.tsv"
for round in $(seq "$ROUNDS"); do
  # Alternate the order each round.
  if [ $((round % 2)) = 0 ]; then order=("${servers[@]}"); else order=($(printf '%s\n' "${servers[@]}" | tac)); fi
  for workload in one-token 1000-tokens; do
    for entry in "${order[@]}"; do
      name=${entry%%:*} port=${entry##*:}
      if [ "$workload" = one-token ]; then args=(-H "Authorization: Bearer $TOKEN"); else args=(-s "$tmp/rotate.lua"); fi
      taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "${args[@]}" "http://127.0.0.1:$port/hello" >/dev/null
      out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${args[@]}" "http://127.0.0.1:$port/hello")
      rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
      p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
      non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
      echo -e "$round\t$workload\t$name\t$rps\t$p99\t${non2xx:-0}" | tee -a "$tmp/results.tsv"
    done
  done
done

python3 - "$tmp/results.tsv" <<'PY'
import sys, statistics, collections, platform, subprocess, datetime
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def ms(v):
    return float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000
data = collections.defaultdict(list)
errors = collections.Counter()
for _, workload, name, rps, p99, non2xx in rows:
    data[(workload, name)].append((float(rps), ms(p99)))
    errors[(workload, name)] += int(non2xx)
names = ["noauth", "portcullis", "jwt-authorizer", "tower-oauth2"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
lines = [f"Measured {datetime.date.today()} on {cpu}, {subprocess.check_output(['nproc']).decode().strip()} CPUs; server pinned to CPU 0 "
         "(one tokio worker), wrk pinned to CPU 1; median of the rounds.", "",
         "| workload | server | req/s | p99 (ms) | ratio to no-auth | non-2xx |", "|---|---|---|---|---|---|"]
chart = []
for workload in ["one-token", "1000-tokens"]:
    base = statistics.median(r for r, _ in data[(workload, "noauth")])
    for name in names:
        rps = statistics.median(r for r, _ in data[(workload, name)])
        p99 = statistics.median(p for _, p in data[(workload, name)])
        lines.append(f"| {workload} | {name} | {rps:,.0f} | {p99:.2f} | {rps / base:.2f} | {errors[(workload, name)]} |")
        chart.append((workload, name, rps / base))
open("bench/results.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
# A bar chart of the ratios, as plain SVG.
w, bar, gap = 640, 22, 6
h = 60 + len(chart) * (bar + gap) + 20
colors = {"noauth": "#999", "portcullis": "#2a7", "jwt-authorizer": "#c63", "tower-oauth2": "#36c"}
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
       f'<text x="10" y="20" font-size="14">Throughput relative to the no-auth twin (median of rounds, RS256)</text>']
y = 40
for workload, name, ratio in chart:
    length = max(1, int(ratio * 360))
    svg.append(f'<text x="10" y="{y + 15}">{workload} · {name}</text>')
    svg.append(f'<rect x="210" y="{y}" width="{length}" height="{bar}" fill="{colors[name]}"/>')
    svg.append(f'<text x="{215 + length}" y="{y + 15}">{ratio:.2f}×</text>')
    y += bar + gap
svg.append(f'<line x1="570" y1="35" x2="570" y2="{y}" stroke="#000" stroke-dasharray="4"/><text x="555" y="{y + 14}">1.0×</text></svg>')
open("docs/benchmarks.svg", "w").write("\n".join(svg) + "\n")
PY
