#!/usr/bin/env bash
# Shows a user request flowing gateway → orders → inventory, against the test IdP, on loopback.
#
#   examples/microservices/run.sh
#
# Starts the test OpenID Provider (tests/idp, port 4100) and the three services (4101 gateway,
# 4102 orders, 4103 inventory: the ports in examples/microservices/config/*.toml), gets a user
# token for the orders API, calls the gateway, then sends an ID token to show the refusal.
# Needs Node.js 20+, npm and python3. Stops everything on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in node npm cargo curl python3; do
  command -v "$tool" >/dev/null || { echo "run.sh needs $tool" >&2; exit 1; }
done
[ -d tests/idp/node_modules/oidc-provider ] || npm ci --prefix tests/idp
cargo build -q -p microservices

tmp=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

node tests/idp/server.mjs --keys "$tmp/keys.json" --port 4100 >"$tmp/idp.out" 2>"$tmp/idp.err" &
for _ in $(seq 50); do [ -s "$tmp/idp.out" ] && break; sleep 0.1; done
[ -s "$tmp/idp.out" ] || { echo "the IdP did not start:" >&2; cat "$tmp/idp.err" >&2; exit 1; }
export PORTCULLIS_ISSUER=http://127.0.0.1:4100 RUST_LOG=${RUST_LOG:-warn}

ADDR=127.0.0.1:4103 target/debug/microservices inventory &
ADDR=127.0.0.1:4102 PORTCULLIS_CLIENT__CLIENT_SECRET=orders-secret target/debug/microservices orders &
ADDR=127.0.0.1:4101 target/debug/microservices gateway &
for port in 4101 4102 4103; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

tokens=$(curl -s -u portcullis-test:test-secret \
  -d grant_type=urn:portcullis:grant-type:test-password -d username=alice \
  -d 'scope=openid orders:read' -d resource=urn:portcullis:orders http://127.0.0.1:4100/token)
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
access_token=$(echo "$tokens" | field access_token)
id_token=$(echo "$tokens" | field id_token)

echo "== alice's access token (for urn:portcullis:orders) → gateway → orders (relay) → inventory (exchange)"
curl -s -H "Authorization: Bearer $access_token" http://127.0.0.1:4101/orders/7 | python3 -m json.tool

echo
echo "== orders' own stock report → inventory (client credentials)"
curl -s -H "Authorization: Bearer $access_token" http://127.0.0.1:4102/stock-report | python3 -m json.tool

echo
echo "== alice's ID token → gateway (refused at the first hop)"
curl -s -o /dev/null -D - -H "Authorization: Bearer $id_token" http://127.0.0.1:4101/orders/7 | grep -iE '^(HTTP|www-authenticate)'
