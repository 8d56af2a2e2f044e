#!/usr/bin/env bash
# Creates (once) the aioquic venv and prints its python interpreter path.
# The venv lives outside the tree: ${KQUIC_CACHE:-~/.cache/kquic}/aioquic-venv.
set -euo pipefail
CACHE="${KQUIC_CACHE:-$HOME/.cache/kquic}"
VENV="$CACHE/aioquic-venv"
AIOQUIC_VERSION="${AIOQUIC_VERSION:-1.7.2}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import aioquic' 2>/dev/null; then
    mkdir -p "$CACHE"
    if ! python3 -m venv "$VENV" >&2 2>/dev/null; then
        # Debian ships venv without ensurepip unless python3-venv is installed.
        if command -v apt-get >/dev/null; then
            apt-get install -y -q python3-venv >&2 || { apt-get update -q >&2 && apt-get install -y -q python3-venv >&2; }
        fi
        rm -rf "$VENV"
        python3 -m venv "$VENV" >&2
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check "aioquic==$AIOQUIC_VERSION" >&2
fi
echo "$VENV/bin/python"
