#!/bin/sh
# Regenerates data/indicators/iran-state-linked.stix2, the Iran-focused collection shipped
# with Portcullis, from Maltrail's trails (MIT). The output is byte-identical run to run; the
# test `iran_collection_regenerates_byte_identically` checks the committed file.
#
#   scripts/iran-collection.sh [TRAILS_DIR]
#
# TRAILS_DIR holds the trail files and Maltrail's LICENSE (default: the shared fixtures,
# ../shared/fixtures/indicators-plain/maltrail, a copy of maltrail's trails/static/malware).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
trails=${1:-$root/../shared/fixtures/indicators-plain/maltrail}
cd "$root"
cargo run --quiet -p portcullis-interchange --bin iran-collection -- \
    "$trails" data/indicators/iran-state-linked.stix2
