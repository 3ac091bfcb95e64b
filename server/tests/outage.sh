#!/usr/bin/env bash
# The database outage, as an operator would see it: a throw-away PostgreSQL cluster (never the
# machine's own), a running `strata serve` on it, then PostgreSQL stopped and started again
# under the running server. Checks what the hardening issue promises:
#   - /readyz answers 503 within 2 s while the database is down;
#   - a write answers 503 `unavailable` within 5 s;
#   - reads keep answering from memory;
#   - everything recovers without a restart when the database returns.
# Usage: server/tests/outage.sh path/to/strata   (run by `make outage-test`, part of `make test`)
set -euo pipefail

strata=$(realpath "${1:?usage: outage.sh path/to/strata}")
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || { echo "outage: no PostgreSQL server binaries found" >&2; exit 1; }

source "$(dirname "$0")/serve.sh"
# PostgreSQL refuses to run as root: run its tools as the postgres user then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d /tmp/strata-outage.XXXXXX)
chmod 755 "$work"
pg_port=$(free_port)
cluster="$work/cluster"
cleanup() {
  stop_server
  as_pg "$pg_bin/pg_ctl" -D "$cluster" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "outage: FAILED: $*" >&2
  echo "--- server log (last 30 lines) ---" >&2
  tail -n 30 "$work/server.log" >&2 || true
  exit 1
}

mkdir -p "$cluster"
[ "$(id -u)" = 0 ] && chown postgres "$cluster"
as_pg "$pg_bin/initdb" -D "$cluster" -A trust -U postgres >/dev/null
start_pg() {
  as_pg "$pg_bin/pg_ctl" -D "$cluster" -l "$cluster/log" -w \
    -o "-p $pg_port -k $cluster -c listen_addresses=127.0.0.1" start >/dev/null
}
stop_pg() { as_pg "$pg_bin/pg_ctl" -D "$cluster" -m fast -w stop >/dev/null; }
start_pg
as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres strata

database_url="postgres://postgres@127.0.0.1:$pg_port/strata"
password="outage test password"
start_server || fail "the server did not become ready"

# A read-write token, verified once so that reads need no database.
token=$(admin_token '["read","write"]' | json '["token"]')
auth=(-H "authorization: Bearer $token")
write() {  # VALUE -> "status seconds"
  curl -s -o "$work/write.json" -w '%{http_code} %{time_total}' --max-time 30 -X PUT "${auth[@]}" \
    -H 'content-type: application/json' -d "{\"value\": \"$1\"}" \
    "$base/api/v1/entries/branding.color?scope=tenant:mercy_hospital"
}
read_color() {
  curl -s -o "$work/read.json" -w '%{http_code}' --max-time 30 "${auth[@]}" \
    "$base/api/v1/effective?user=dr_house"
}
within() { python3 -c "import sys; sys.exit(0 if float('$1') <= float('$2') else 1)"; }

set -- $(write "#111111")
[ "$1" = 200 ] || fail "a write before the outage answered $1"
[ "$(read_color)" = 200 ] || fail "a read before the outage failed"

echo "outage: stopping PostgreSQL under the running server"
stop_pg

set -- $(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 30 "$base/readyz")
echo "outage: /readyz answered $1 in $2 s"
[ "$1" = 503 ] || fail "/readyz answered $1, expected 503"
within "$2" 2 || fail "/readyz took $2 s (at most 2 s)"

set -- $(write "#222222")
echo "outage: a write answered $1 in $2 s"
[ "$1" = 503 ] || fail "the write answered $1, expected 503: $(cat "$work/write.json")"
within "$2" 5 || fail "the write took $2 s (at most 5 s)"
[ "$(json '["error"]["code"]' <"$work/write.json")" = unavailable ] \
  || fail "the write's error is not unavailable: $(cat "$work/write.json")"

[ "$(read_color)" = 200 ] || fail "a read during the outage answered $(read_color)"
[ "$(json '["branding.color"]["value"]' <"$work/read.json")" = "#111111" ] \
  || fail "the read during the outage shows $(cat "$work/read.json")"
echo "outage: reads answer from memory"

echo "outage: starting PostgreSQL again"
start_pg
ready=
for _ in $(seq 100); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/readyz")" = 200 ]; then
    ready=yes
    break
  fi
  sleep 0.1
done
[ -n "$ready" ] || fail "/readyz did not recover"
set -- $(write "#333333")
[ "$1" = 200 ] || fail "a write after the outage answered $1: $(cat "$work/write.json")"
[ "$(read_color)" = 200 ] || fail "a read after the outage failed"
[ "$(json '["branding.color"]["value"]' <"$work/read.json")" = "#333333" ] \
  || fail "the read after the outage shows $(cat "$work/read.json")"
kill -0 "$server_pid" || fail "the server is gone"
echo "outage: recovered without a restart"
