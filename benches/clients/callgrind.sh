#!/usr/bin/env bash
# Counts the user-space instructions a sync client spends per operation of a workload of
# benches/clients.rs (callgrind: repeatable on a busy machine, unlike CPU time), for redwire's blocking
# client beside the redis crate's sync client, against the same real server. Kernel time (the syscalls,
# loopback TCP) is not counted: `strace -c -f` the same command for the syscalls per operation.
# Usage, from the crate root:
#   bash benches/clients/callgrind.sh "GET 16 B, pipeline 128" "LRANGE 600 x 16 B" ...
# With no workload: every workload a sync client has. SECS=1 by default (each cell runs that long under
# valgrind, ~50x slower than native). BIN=path/to/a/saved/clients-binary measures an older build.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
bin=${BIN:-$(cargo bench --bench clients --all-features --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)}
[ -x "$bin" ] || { echo "callgrind.sh: could not build the clients bench" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cp "$bin" "$out/clients" # a rebuild during the run must not change what is measured
bin="$out/clients"
[ $# -gt 0 ] || set -- "SET 16 B" "GET 16 B" "SET 16 B, pipeline 16" "GET 16 B, pipeline 16" \
  "SET 16 B, pipeline 128" "GET 16 B, pipeline 128" "GET 16 B, pipeline 100" "LRANGE 600 x 16 B" "GET 1 MiB"
printf '%-26s %-18s %10s %14s %12s\n' "workload" "client" "ops" "instructions" "per op"
for workload in "$@"; do
  for client in "redwire blocking:clients::redwire_blocking::run" "redis sync:clients::redis_rs::run_sync"; do
    name=${client%%:*}
    run=${client#*:}
    REDWIRE_BENCH_CLIENTS="$name" REDWIRE_BENCH_ROUNDS=1 REDWIRE_BENCH_SECS="${SECS:-1}" \
      valgrind --tool=callgrind --collect-atstart=no --toggle-collect="$run" \
      --callgrind-out-file="$out/cg" "$bin" "$workload" >/dev/null 2>"$out/err" || { cat "$out/err" >&2; exit 1; }
    ops=$(sed -n 's/.* \([0-9][0-9]*\) ops sent .*/\1/p' "$out/err" | tail -1)
    [ -n "$ops" ] || { echo "callgrind.sh: no cell ran for \"$workload\" on $name" >&2; exit 1; }
    ir=$(grep '^summary:' "$out/cg" | awk '{print $2}')
    awk -v w="$workload" -v c="$name" -v ir="$ir" -v ops="$ops" \
      'BEGIN { printf "%-26s %-18s %10d %14d %12.0f\n", w, c, ops, ir, ir / ops }'
  done
done
