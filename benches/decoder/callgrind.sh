#!/usr/bin/env bash
# Counts the instructions one parser spends on one workload (callgrind, repeatable on a busy machine),
# per input byte and per leaf frame. Usage, from the crate root:
#   bash benches/decoder/callgrind.sh [--features bench-hiredis] -- WORKLOAD/PARSER...
# e.g. bash benches/decoder/callgrind.sh --features bench-hiredis -- lrange600_1k/redwire lrange600_1k/hiredis
# Only drive() (feeding + parsing + walking the result) is counted, not building the inputs.
set -euo pipefail
cd "$(dirname "$0")/../.."
args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
[ $# -gt 0 ] && shift
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
# BIN=path/to/a/saved/decoder-binary compares against an older build (e.g. before an optimisation).
bin=${BIN:-$(cargo bench --bench decoder --no-run "${args[@]}" 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)}
[ -x "$bin" ] || { echo "callgrind.sh: could not build the decoder bench" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cp "$bin" "$out/decoder" # a rebuild during the run must not change what is measured
bin="$out/decoder"
printf '%-34s %14s %10s %10s\n' "workload/parser" "instructions" "per byte" "per leaf"
for spec in "$@"; do
  info=$(REDWIRE_BENCH_ONCE="$spec" valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*drive*' \
    --callgrind-out-file="$out/cg" "$bin" 2>"$out/err") || {
    if grep -q "cannot run" "$out/err"; then # a parser that does not take this workload
      printf '%-34s %14s\n' "$spec" "$(grep -o 'cannot run [^ ]*: [^"]*' "$out/err" | head -1 | sed 's/.*: //')"
      continue
    fi
    cat "$out/err" >&2
    exit 1
  }
  ir=$(grep '^summary:' "$out/cg" | awk '{print $2}')
  bytes=$(sed -n 's/.*: \([0-9]*\) bytes, .*/\1/p' <<<"$info")
  leaves=$(sed -n 's/.* replies, \([0-9]*\) leaves.*/\1/p' <<<"$info")
  awk -v s="$spec" -v ir="$ir" -v b="$bytes" -v l="$leaves" \
    'BEGIN { printf "%-34s %14d %10.2f %10s\n", s, ir, ir / b, (l > 0 ? sprintf("%.1f", ir / l) : "-") }'
done
