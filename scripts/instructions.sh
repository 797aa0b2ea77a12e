#!/usr/bin/env bash
# Instructions per call of the failing-call benchmark's tools, counted by
# valgrind's callgrind: (a run of N calls after warm-up) minus (warm-up
# alone), over N, and each monitored tool's overhead over its bare twin.
# Exact to about ±5 instructions run to run, where timings on a shared VM
# move by 3-5 ns: use it to A/B a change's instruction cost. Under valgrind
# the clock is read through clock_gettime, not the TSC, so the absolute
# counts of a success are higher than on the machine itself.
#
#   scripts/instructions.sh            # N = 1000000
#   N=100000 scripts/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --example instructions -q
bin=target/release/examples/instructions
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
    | sed -n 's/.*I[[:space:]]*refs:[[:space:]]*//p' | tr -d ,
}
declare -A per_call
for tool in ok ok-bare fail fail-bare; do
  base=$(count "$tool" 0)
  total=$(count "$tool" "$N")
  per_call[$tool]=$(echo "scale=1; ($total - $base) / $N" | bc)
  echo "$tool: ${per_call[$tool]} instructions per call"
done
ok=$(echo "${per_call[ok]} - ${per_call[ok-bare]}" | bc)
fail=$(echo "${per_call[fail]} - ${per_call[fail-bare]}" | bc)
echo "overhead: success $ok, failure $fail, ratio $(echo "scale=2; $fail / $ok" | bc)"
