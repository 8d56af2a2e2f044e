#!/usr/bin/env bash
# Runs every cargo-fuzz target of quic-proto for N seconds each (default 60), starting from the
# committed seeds; a finding fails the run and leaves its input under proto/fuzz/artifacts/.
#   proto/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}; shift || true
command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --version 0.13.2 --locked
# cargo-fuzz needs nightly flags (-Zsanitizer); the stable toolchain accepts them this way.
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cd "$here" && cargo fuzz list --fuzz-dir "$here")
corpus_root=${FUZZ_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/kquic/fuzz-corpus}
printf '%-18s %8s %10s %8s %s\n' target seconds execs cov result
for t in "${targets[@]}"; do
  mkdir -p "$corpus_root/$t"
  log=$(mktemp)
  if cargo fuzz run "$t" -O -a --fuzz-dir "$here" "$corpus_root/$t" "$here/seeds/$t" -- \
      -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
    res=clean
  else
    res=FINDING; failed=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo ?)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo ?)
  printf '%-18s %8s %10s %8s %s\n' "$t" "$secs" "$execs" "$cov" "$res"
  [ "$res" = clean ] || tail -30 "$log"
  rm -f "$log"
done
[ -z "${failed:-}" ]
