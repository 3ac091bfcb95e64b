#!/usr/bin/env bash
# The served OpenAPI document against the server that serves it: schemathesis runs every
# operation with all its checks against a release server loaded with the demo organisation,
# as a super admin's read-write-secrets token, with path parameters pointing at real objects
# (server/tests/schemathesis.toml). Fails when any check fails.
# Usage: server/tests/schemathesis.sh path/to/strata path/to/schemathesis [schemathesis args…]
set -euo pipefail

strata=$(realpath "${1:?usage: schemathesis.sh path/to/strata path/to/schemathesis}")
st=$(realpath "${2:?usage: schemathesis.sh path/to/strata path/to/schemathesis}")
shift 2
config=$(realpath "$(dirname "$0")/schemathesis.toml")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

work=$(mktemp -d /tmp/strata-schemathesis.XXXXXX)
port=$(free_port)
base="http://127.0.0.1:$port"
password="schemathesis password"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

settings=(env -i PATH="$PATH" HOME="$work" STRATA_DATABASE_URL="sqlite://$work/strata.db?mode=rwc"
  STRATA_MASTER_KEY="c3RyYXRhLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE="
  STRATA_ADMIN_PASSWORD="$password" STRATA_LOG=error)
(cd "$work" && exec "${settings[@]}" "$strata" demo) >/dev/null
# exec: the background job is the server itself, so killing it stops the server.
(cd "$work" && exec "${settings[@]}" "$strata" serve --addr "127.0.0.1:$port") \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

curl -fsS -c "$work/cookies" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" "$base/api/v1/session" >/dev/null
created=$(curl -fsS -b "$work/cookies" -H 'content-type: application/json' \
  -d '{"name":"schemathesis","scopes":["read","write","secrets"]}' "$base/api/v1/tokens")
token=$(json '["token"]' <<<"$created")
# Named for the document's `bearer` scheme (schemathesis.toml), so the authentication checks
# know what to leave out.
export STRATA_TOKEN=$token
# Real objects for the parameters the config names.
export STRATA_TOKEN_ID=$(json '["id"]' <<<"$created")
export STRATA_ENTRY_EVENT=$(curl -fsS -H "authorization: Bearer $token" \
  "$base/api/v1/audit?action=entry.set&limit=1" | json '["events"][0]["id"]')

status=0
(cd "$work" && "$st" --config-file "$config" --no-color run "$base/api/v1/openapi.json" \
  --checks all "$@") || status=$?
if [ "$status" != 0 ]; then
  echo "--- server log (last 20 lines) ---" >&2
  tail -n 20 "$work/server.log" >&2 || true
fi
exit "$status"
