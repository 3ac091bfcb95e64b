#!/usr/bin/env bash
# Throughput of GET /api/v1/effective with a read token (200 keys over all five levels and
# 3 groups) against
# GET /healthz on the same server, measured with wrk on loopback. Usage: http_load.sh STRATA_BIN
set -euo pipefail
strata=${1:?usage: http_load.sh path/to/strata}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
export STRATA_DATABASE_URL="sqlite://$work/bench.db?mode=rwc" STRATA_DATA_DIR="$work" STRATA_LOG=warn
export STRATA_ADMIN_PASSWORD="bench-password-123"

# 200 keys; entries at every level for the user u1 of tenant t (department d, groups g1-g3).
python3 - "$work/doc.json" <<'PY'
import json, sys
keys = [{"key": f"bench.k{i:03}", "type": "integer", "default": i} for i in range(200)]
entries = []
for i in range(200):
    entries.append({"level": "global", "key": f"bench.k{i:03}", "value": i + 1000})
    if i % 2 == 0: entries.append({"level": "tenant", "tenant": "t", "key": f"bench.k{i:03}", "value": i + 2000})
    if i % 4 == 0: entries.append({"level": "department", "tenant": "t", "department": "d", "key": f"bench.k{i:03}", "value": i + 3000})
    for g in range(1, 4):
        if i % 7 == g: entries.append({"level": "group", "tenant": "t", "group": f"g{g}", "key": f"bench.k{i:03}", "value": i + 4000})
    if i % 10 == 0: entries.append({"level": "user", "user": "u1", "key": f"bench.k{i:03}", "value": i + 5000})
doc = {"format": "strata/v1", "keys": keys,
       "tenants": [{"id": "t", "name": "T", "departments": [{"id": "d", "name": "D"}],
                    "groups": [{"id": f"g{g}", "name": f"G{g}", "priority": g} for g in range(1, 4)]}],
       "users": [{"id": "u1", "name": "U1", "tenant": "t", "department": "d", "groups": ["g1", "g2", "g3"]}],
       "entries": entries}
json.dump(doc, open(sys.argv[1], "w"))
PY
"$strata" import "$work/doc.json" >/dev/null
"$strata" serve --addr 127.0.0.1:3999 > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:3999/readyz >/dev/null && break; sleep 0.2; done
cookie=$(curl -s -o /dev/null -D - -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench-password-123"}' http://127.0.0.1:3999/api/v1/session \
  | awk -F'[ ;]' 'tolower($1)=="set-cookie:" {print $2}')
token=$(curl -s -H "cookie: $cookie" -H 'content-type: application/json' \
  -d '{"name":"bench","scopes":["read"]}' http://127.0.0.1:3999/api/v1/tokens \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
keys=$(curl -s -H "authorization: Bearer $token" 'http://127.0.0.1:3999/api/v1/effective?user=u1' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "effective configuration of u1: $keys keys"
run() { wrk -t2 -c32 -d10s "$@" | awk '/Requests\/sec/ {print $2}'; }
health=$(run http://127.0.0.1:3999/healthz)
effective=$(run -H "authorization: Bearer $token" 'http://127.0.0.1:3999/api/v1/effective?user=u1')
echo "GET /healthz:             $health req/s"
echo "GET /api/v1/effective:    $effective req/s"
python3 -c "print(f'ratio effective/healthz: {float($effective)/float($health):.2f}')"
