#!/usr/bin/env bash
# `make bench-scale`: Strata at the size of DESIGN §8 (1,000 tenants, 100,000 users, 200 keys,
# 1,000,000 entries; STRATA_SCALE_TENANTS=N for a smaller run), release build, real HTTP. Prints
# each figure beside its target (issue 12):
#   import time; time to ready and resident memory; write latency there vs on the demo (entries,
#   and directory writes);
#   /effective for random users vs /healthz; 1,000 /watch streams (memory, fan-out time);
#   1,000 readers with a write every 50 ms; replica A -> replica B over PostgreSQL.
# Usage: server/bench/scale.sh path/to/strata path/to/scale   (the load generator:
#        server/examples/scale.rs)
set -euo pipefail

strata=$(realpath "${1:?usage: scale.sh path/to/strata path/to/scale}")
scale=$(realpath "${2:?usage: scale.sh path/to/strata path/to/scale}")
here=$(cd "$(dirname "$0")" && pwd)
tenants=${STRATA_SCALE_TENANTS:-1000}
source "$here/../tests/serve.sh"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d /tmp/strata-scale.XXXXXX)
chmod 755 "$work"
pids=()
cluster="$work/cluster"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -d "$cluster" ] && as_pg "$pg_bin/pg_ctl" -D "$cluster" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

password="bench-scale-password"  # no spaces: settings() is word-split
settings() {  # DATABASE_URL -> the only settings a process gets
  echo env -i PATH="$PATH" HOME="$work" STRATA_DATABASE_URL="$1" \
    STRATA_MASTER_KEY="c3RyYXRhLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE=" \
    STRATA_ADMIN_PASSWORD="$password" STRATA_LOG=warn
}
figure() { printf '  %-52s %18s   %s\n' "$1" "$2" "$3"; }
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.2f}')"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])$2)" "$1"; }

# Serves DATABASE_URL on a free port; sets `base`, `pid` and `ready_s` (seconds to ready).
serve() {
  local port started
  port=$(free_port)
  base="http://127.0.0.1:$port"
  started=$(now)
  (cd "$work" && exec $(settings "$1") "$strata" serve --addr "127.0.0.1:$port") \
    >>"$work/server.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1200); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && { ready_s=$(since "$started"); return 0; }
    sleep 0.05
  done
  echo "the server did not become ready:" >&2; tail -n 20 "$work/server.log" >&2; exit 1
}
token_for() {  # a read-write token of the bootstrap super admin on `base`
  admin_token '["read","write"]' | json '["token"]'
}

echo "Strata at scale: $tenants tenants, $((tenants * 100)) users, 200 keys (release build, $(nproc) cores)"
python3 "$here/platform.py" --tenants "$tenants" >"$work/platform.json"
python3 - "$tenants" "$work" <<'PY'
import sys
tenants, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/users.txt", "w") as all_users, open(f"{work}/users_t1.txt", "w") as one:
    for t in range(tenants):
        for u in range(100):
            all_users.write(f"u{t:04}_{u:03}\n")
            if t == 1:
                one.write(f"u{t:04}_{u:03}\n")
PY
entries=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['entries']))" "$work/platform.json")

# --- SQLite, one server ----------------------------------------------------------------------
sqlite="sqlite://$work/platform.db?mode=rwc"
started=$(now)
(cd "$work" && /usr/bin/time -f '%M' -o "$work/import.kib" $(settings "$sqlite") "$strata" import "$work/platform.json") >/dev/null
import_s=$(since "$started")
import_mib=$(( $(cat "$work/import.kib") / 1024 ))
serve "$sqlite"
big_base=$base big_pid=$pid big_ready=$ready_s
rss_mib=$(( $(awk '/VmRSS/ {print $2}' "/proc/$big_pid/status") / 1024 ))
big_token=$(token_for)
tenant_list=$(python3 -c "print(' '.join(f't{t:04}' for t in range(0, $tenants, max(1, $tenants // 50))))")
big_writes=$(python3 "$here/writes.py" "$big_base" "$big_token" $tenant_list --count 300 --key bench.k000)
big_users=$(python3 "$here/writes.py" "$big_base" "$big_token" $tenant_list --count 100 --users)
effective=$("$scale" effective "$big_base" "$big_token" "$work/users.txt" 10 32)
fanout=$("$scale" watch-fanout "$big_base" "$big_token" "$work/users_t1.txt" 1000 t0001 bench.k004 "$big_pid")
mixed=$("$scale" mixed "$big_base" "$big_token" "$work/users.txt" 10 1000 t0002 bench.k008)
kill "$big_pid"; wait "$big_pid" 2>/dev/null || true

# --- the demo platform, for the write latency it is compared with ------------------------------
demo="sqlite://$work/demo.db?mode=rwc"
(cd "$work" && $(settings "$demo") "$strata" demo) >/dev/null
serve "$demo"
demo_token=$(token_for)
demo_writes=$(python3 "$here/writes.py" "$base" "$demo_token" mercy_hospital general_hospital --count 300 --key fax.retry_attempts)
demo_users=$(python3 "$here/writes.py" "$base" "$demo_token" mercy_hospital general_hospital --count 100 --users)
kill "$pid"; wait "$pid" 2>/dev/null || true

# --- PostgreSQL, two replicas (a throw-away cluster, never the machine's own) ------------------
replica="skipped: no PostgreSQL server binaries"
if [ -x "$pg_bin/initdb" ]; then
  pg_port=$(free_port)
  mkdir -p "$cluster"; [ "$(id -u)" = 0 ] && chown postgres "$cluster"
  as_pg "$pg_bin/initdb" -D "$cluster" -A trust -U postgres >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$cluster" -l "$cluster/log" -w \
    -o "-p $pg_port -k $cluster -c listen_addresses=127.0.0.1" start >/dev/null
  as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres strata
  pg="postgres://postgres@127.0.0.1:$pg_port/strata"
  python3 "$here/platform.py" --tenants $(( tenants < 100 ? tenants : 100 )) >"$work/pg.json"
  (cd "$work" && $(settings "$pg") "$strata" import "$work/pg.json") >/dev/null
  serve "$pg"; writer=$base
  pg_token=$(token_for)
  serve "$pg"; reader=$base
  replica=$("$scale" replica-lag "$writer" "$reader" "$pg_token" t0000 u0000_000 bench.k012 200)
fi

echo
echo "figure                                                              measured   target"
figure "import of $entries entries (SQLite)" "${import_s} s" "< 60 s"
figure "  peak memory of the import" "${import_mib} MiB" ""
figure "time to ready after start" "${big_ready} s" ""
figure "resident memory after start" "${rss_mib} MiB" ""
big_p50=$(field "$big_writes" '["p50_ms"]'); big_p99=$(field "$big_writes" '["p99_ms"]')
demo_p50=$(field "$demo_writes" '["p50_ms"]'); demo_p99=$(field "$demo_writes" '["p99_ms"]')
figure "write p50 / p99 at this size" "$big_p50 / $big_p99 ms" ""
figure "write p50 / p99 on the demo" "$demo_p50 / $demo_p99 ms" ""
figure "write p50 ratio (this size / demo)" "$(python3 -c "print(f'{$big_p50/$demo_p50:.2f}')")" "<= 2"
users_p50=$(field "$big_users" '["p50_ms"]'); demo_users_p50=$(field "$demo_users" '["p50_ms"]')
figure "directory write (new user) p50 / p99 at this size" "$users_p50 / $(field "$big_users" '["p99_ms"]') ms" ""
figure "directory write p50 on the demo" "$demo_users_p50 ms" ""
figure "directory write p50 ratio (this size / demo)" "$(python3 -c "print(f'{$users_p50/$demo_users_p50:.2f}')")" "<= 2"
figure "/effective (random users) vs /healthz" "$(field "$effective" '["ratio"]')" ">= 0.5"
figure "  /effective, /healthz" "$(field "$effective" '["effective_rps"]') / $(field "$effective" '["healthz_rps"]') req/s" ""
figure "1,000 /watch streams: memory per stream" "$(field "$fanout" '["kib_per_stream"]') KiB" "bounded"
figure "  one change reaches all of them" "$(field "$fanout" '["all_reached_ms"]') ms ($(field "$fanout" '["reached"]') reached)" ""
figure "1,000 readers + a write every 50 ms: read p99" "$(field "$mixed" '["read_p99_ms"]') ms" "<= 50 ms"
figure "  read failures or timeouts" "$(field "$mixed" '["read_failures"]')" "0"
figure "  writes through / expected" "$(field "$mixed" '["writes"]') / $(field "$mixed" '["writes_expected"]')" "all"
figure "  write p99" "$(field "$mixed" '["write_p99_ms"]') ms" "<= 100 ms"
if [[ "$replica" == skipped* ]]; then
  figure "replica A -> B over PostgreSQL" "$replica" ""
else
  figure "replica A -> B over PostgreSQL, p50 / p99" "$(field "$replica" '["p50_ms"]') / $(field "$replica" '["p99_ms"]') ms" "p99 <= 100 ms"
fi
echo
echo "raw: $big_writes $demo_writes $big_users $demo_users $effective $fanout $mixed $replica"
