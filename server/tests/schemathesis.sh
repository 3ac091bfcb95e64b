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

source "$(dirname "$0")/serve.sh"

work=$(mktemp -d /tmp/strata-schemathesis.XXXXXX)
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

database_url="sqlite://$work/strata.db?mode=rwc"
password="schemathesis password"
start_server
token=$(admin_token '["read","write","secrets"]' | json '["token"]')
# Named for the document's `bearer` scheme (schemathesis.toml), so the authentication checks
# know what to leave out.
export STRATA_TOKEN=$token

status=0
(cd "$work" && "$st" --config-file "$config" --no-color run "$base/api/v1/openapi.json" \
  --checks all "$@") || status=$?
if [ "$status" != 0 ]; then
  echo "--- server log (last 20 lines) ---" >&2
  tail -n 20 "$work/server.log" >&2 || true
fi
exit "$status"
