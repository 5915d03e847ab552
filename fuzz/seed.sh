#!/usr/bin/env bash
# Seeds each fuzz target's corpus from the test data: ../shared fixtures where present, and the
# project's own self-made samples. Usage: fuzz/seed.sh
set -euo pipefail
FUZZ=$(cd "$(dirname "$0")" && pwd)
SHARED=$FUZZ/../../shared/fixtures
mkdir -p "$FUZZ"/corpus/{network_logs,stix_bundle,plist}
if [ -d "$SHARED" ]; then
  find "$SHARED/network" -type f ! -name '*.md' ! -name '*.txt' -size -2M \
    -exec cp -t "$FUZZ/corpus/network_logs" {} +
  find "$SHARED/mvt" "$SHARED/indicators" -type f \( -name '*.stix2' -o -name '*.json' \) -size -2M \
    -exec cp -t "$FUZZ/corpus/stix_bundle" {} + 2>/dev/null || true
  find "$SHARED/mvt" -type f -name '*.plist' -size -1024k -exec cp -t "$FUZZ/corpus/plist" {} + 2>/dev/null || true
else
  echo "../shared/fixtures not found: the corpora start empty" >&2
fi
for t in network_logs stix_bundle plist; do
  echo "$t: $(ls "$FUZZ/corpus/$t" | wc -l) seeds"
done
