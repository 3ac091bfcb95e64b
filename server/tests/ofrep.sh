#!/usr/bin/env bash
# OFREP with a real OpenFeature SDK: the Python SDK and its OFREP provider (pinned in
# `make tools`) evaluate Strata's keys against a release server loaded with the demo
# organisation (server/tests/ofrep_sdk.py). Fails when any evaluation differs.
# Usage: server/tests/ofrep.sh path/to/strata path/to/python
set -euo pipefail

strata=$(realpath "${1:?usage: ofrep.sh path/to/strata path/to/python}")
python=${2:?usage: ofrep.sh path/to/strata path/to/python}
script=$(realpath "$(dirname "$0")/ofrep_sdk.py")

source "$(dirname "$0")/serve.sh"

work=$(mktemp -d /tmp/strata-ofrep.XXXXXX)
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

database_url="sqlite://$work/strata.db?mode=rwc"
password="ofrep password"
start_server
token=$(admin_token '["read","write"]' | json '["token"]')

status=0
"$python" "$script" "$base" "$token" || status=$?
if [ "$status" != 0 ]; then
  echo "--- server log (last 20 lines) ---" >&2
  tail -n 20 "$work/server.log" >&2 || true
fi
exit "$status"
