#!/usr/bin/env bash
# Sets up medallion (the OASIS TAXII 2.1 reference server, from PyPI) in a virtualenv for the
# real-server TAXII test, and prints the path of its `medallion` program. The venv goes to
# $MEDALLION_VENV, or target/medallion-venv; a second run reuses it and needs no network.
# Use: export PORTCULLIS_MEDALLION=$(scripts/medallion-venv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${MEDALLION_VENV:-target/medallion-venv}
if [ ! -x "$venv/bin/medallion" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet medallion >&2
fi
echo "$(cd "$venv/bin" && pwd)/medallion"
