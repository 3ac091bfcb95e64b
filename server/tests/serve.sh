# Sourced by the shell tests (outage.sh, schemathesis.sh): a release `strata` serving a
# database of the test's own, with the demo organisation loaded, and an API token of the first
# super admin. The caller sets `strata`, `work` (a scratch directory), `database_url` and
# `password`, and calls `stop_server` from its exit trap.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

server_pid=

# Loads the demo and serves it on a free port; sets `base` (http://127.0.0.1:PORT).
start_server() {
  local port
  port=$(free_port)
  base="http://127.0.0.1:$port"
  # Only these settings: nothing from the caller's shell or a .env file.
  local settings=(env -i PATH="$PATH" HOME="$work" STRATA_DATABASE_URL="$database_url"
    STRATA_MASTER_KEY="c3RyYXRhLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE="
    STRATA_ADMIN_PASSWORD="$password" STRATA_LOG=warn)
  (cd "$work" && exec "${settings[@]}" "$strata" demo) >/dev/null
  # exec: the background job is the server itself, so killing it stops the server.
  (cd "$work" && exec "${settings[@]}" "$strata" serve --addr "127.0.0.1:$port") \
    >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the server did not become ready:" >&2
  tail -n 20 "$work/server.log" >&2
  return 1
}

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}

# Signs in as the super admin `admin` and prints a new token with `scopes` (a JSON array) as
# `{"id", "token"}`.
admin_token() {
  curl -fsS -c "$work/cookies" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" "$base/api/v1/session" >/dev/null
  curl -fsS -b "$work/cookies" -H 'content-type: application/json' \
    -d "{\"name\":\"test\",\"scopes\":$1}" "$base/api/v1/tokens"
}
