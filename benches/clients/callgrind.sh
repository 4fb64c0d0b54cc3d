#!/usr/bin/env bash
# Counts the user-space instructions a client spends per operation of a workload of benches/clients.rs
# (callgrind: repeatable on a busy machine, unlike CPU time), against the same real server. Kernel time
# (syscalls, loopback TCP) is not counted: `strace -c -f` the same command for the syscalls per operation.
# Note: glibc's memset/memcpy use `rep stos`/`rep movs` for large sizes, which callgrind counts per byte.
# Usage, from the crate root:
#   bash benches/clients/callgrind.sh "GET 16 B, pipeline 128" "LRANGE 600 x 16 B" ...
#   CLIENTS="redwire smol,redis async" bash benches/clients/callgrind.sh "GET 16 B, 100 tasks"
# With no workload: every workload a sync client has. CLIENTS (comma-separated names as the table shows
# them) defaults to "redwire blocking,redis sync". Sync clients are counted inside their cell's function
# only; async clients run on executor threads too, so each cell runs twice (SECS and 3 x SECS) and the
# difference is divided by the difference in operations. SECS=1 by default (each cell runs that long
# under valgrind, ~50x slower than native). BIN=path/to/a/saved/clients-binary measures an older build.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
bin=${BIN:-$(cargo bench --bench clients --all-features --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)}
[ -x "$bin" ] || { echo "callgrind.sh: could not build the clients bench" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cp "$bin" "$out/clients" # a rebuild during the run must not change what is measured
bin="$out/clients"
secs=${SECS:-1}
[ $# -gt 0 ] || set -- "SET 16 B" "GET 16 B" "SET 16 B, pipeline 16" "GET 16 B, pipeline 16" \
  "SET 16 B, pipeline 128" "GET 16 B, pipeline 128" "GET 16 B, pipeline 100" "LRANGE 600 x 16 B" "GET 1 MiB"
IFS=',' read -r -a clients <<<"${CLIENTS:-redwire blocking,redis sync}"

# One run of one cell: "<ops sent> <instructions>", counted in `toggle` only when it is given.
cell() { # workload client seconds [toggle]
  local args=(--tool=callgrind --callgrind-out-file="$out/cg")
  [ -n "${4:-}" ] && args+=(--collect-atstart=no --toggle-collect="$4")
  REDWIRE_BENCH_CLIENTS="$2" REDWIRE_BENCH_ROUNDS=1 REDWIRE_BENCH_SECS="$3" \
    valgrind "${args[@]}" "$bin" "$1" >/dev/null 2>"$out/err" || { cat "$out/err" >&2; exit 1; }
  local ops
  ops=$(sed -n 's/.* \([0-9][0-9]*\) ops sent .*/\1/p' "$out/err" | tail -1)
  [ -n "$ops" ] || { echo "callgrind.sh: no cell ran for \"$1\" on $2" >&2; exit 1; }
  echo "$ops $(grep '^summary:' "$out/cg" | awk '{print $2}')"
}

printf '%-28s %-18s %10s %14s %12s\n' "workload" "client" "ops" "instructions" "per op"
for workload in "$@"; do
  for client in "${clients[@]}"; do
    case "$client" in
      "redwire blocking") read -r ops ir <<<"$(cell "$workload" "$client" "$secs" 'clients::redwire_blocking::run')" ;;
      "redis sync") read -r ops ir <<<"$(cell "$workload" "$client" "$secs" 'clients::redis_rs::run_sync')" ;;
      *)
        read -r ops1 ir1 <<<"$(cell "$workload" "$client" "$secs")"
        read -r ops3 ir3 <<<"$(cell "$workload" "$client" "$(awk -v s="$secs" 'BEGIN { print 3 * s }')")"
        ops=$((ops3 - ops1))
        ir=$((ir3 - ir1))
        ;;
    esac
    awk -v w="$workload" -v c="$client" -v ir="$ir" -v ops="$ops" \
      'BEGIN { printf "%-28s %-18s %10d %14d %12.0f\n", w, c, ops, ir, (ops > 0 ? ir / ops : 0) }'
  done
done
