#!/usr/bin/env bash
# aioquic interop: makes the venv (once, under ~/.cache/kquic/aioquic-venv), then runs the
# aioquic tests of interop/tests/aioquic.rs (kquic and quinn against our aioquic programs).
#   interop/aioquic/run.sh [extra cargo test filter/args...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
KQUIC_AIOQUIC_PYTHON="$("$here/venv.sh")"
export KQUIC_AIOQUIC_PYTHON
echo "[kquic] aioquic $("$KQUIC_AIOQUIC_PYTHON" -c 'import importlib.metadata as m; print(m.version("aioquic"))') in $KQUIC_AIOQUIC_PYTHON"
cd "$root"
# One test at a time: each runs two QUIC stacks that need the CPU (2 cores here).
exec "${CARGO:-cargo}" test --release -p quic-interop --features aioquic --test aioquic "$@" -- --test-threads=1
