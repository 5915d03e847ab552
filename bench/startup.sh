#!/usr/bin/env bash
# Start-up of a check with every public collection installed: with the compiled cache, without
# it (the first check after `iocs update`, which compiles it), and with no indicators at all.
# Writes bench/RESULTS-startup.md. Needs ../shared/fixtures/indicators (the public index's
# collections). Usage: bench/startup.sh [runs]   (default 15 runs per case)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
mirror=../shared/fixtures/indicators
[ -d "$mirror" ] || { echo "$mirror not found: the public collections are needed" >&2; exit 2; }
cargo build --release -q -p portcullis
bin=target/release/portcullis
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PORTCULLIS_DATA_DIR=$work/data
find "$mirror" -name '*.stix2' | sort | while read -r f; do "$bin" iocs add "$f" >/dev/null; done
collections=$("$bin" iocs list | grep -c '^[^ ]' || true)
"$bin" demo --dir "$work/demo" >/dev/null 2>&1 || true
backup=$work/demo/backup
cache=$work/data/iocs/cache/indicators.bin

# Median wall time (ms, timed by Python around the process) and peak RSS (MB, by
# /usr/bin/time) of $runs runs of a check, after `prepare` each time.
measure() {
  local prepare=$1; shift
  for i in $(seq "$runs"); do
    eval "$prepare"
    python3 - "$work/t" /usr/bin/time -f "%M" -o "$work/t" "$bin" check "$backup" --force -o "$work/out" "$@" <<'PY'
import subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = (time.perf_counter() - start) * 1000
print(f"{wall:.1f} {open(sys.argv[1]).read().split()[-1]}")
PY
  done | python3 -c '
import sys, statistics
rows = [line.split() for line in sys.stdin if line.strip()]
wall = statistics.median(float(r[0]) for r in rows)
rss = statistics.median(int(r[1]) for r in rows) / 1024
print(f"{wall:.0f} | {rss:.0f}")'
}
"$bin" check "$backup" --force -o "$work/out" >/dev/null || true   # compiles the cache
cached=$(measure ":")
uncached=$(measure "rm -f '$cache'")
none=$(measure ":" --no-installed)
indicators=$(python3 -c "import json,sys; m=json.load(open('$work/data/iocs/manifest.json')); print(sum(sum(c['counts'].values()) for c in m['collections'].values()))")
cat > bench/RESULTS-startup.md <<MD
# Start-up with every collection installed

Written by \`bench/startup.sh\`; do not edit by hand.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), Linux $(uname -r)
- Portcullis: $("$bin" --version), release build, $(git rev-parse --short HEAD)$(git diff --quiet || echo ', uncommitted changes')
- Installed: $collections collections from the public index's mirror ($(du -sh "$work/data/iocs/collections" | cut -f1) of STIX, $indicators usable indicators); cache $(du -h "$cache" | cut -f1)
- Input: the demo's tiny synthetic iOS backup, so that the time is the start-up's; median of $runs runs each

| Case | Wall ms | Peak RSS MB |
|---|---:|---:|
| installed collections, compiled cache | $cached |
| installed collections, no cache (first check after an update: loads the files and compiles the cache) | $uncached |
| no indicators (\`--no-installed\`) | $none |
MD
cat bench/RESULTS-startup.md
