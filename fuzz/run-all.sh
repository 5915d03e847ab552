#!/usr/bin/env bash
# Runs fuzz targets one after another on one core, and appends a row per run to runs.log, in
# the form of README's Runs table: date, target, time, executions, crashes, notes.
#
# Usage: fuzz/run-all.sh [MINUTES [TARGET...]]
#   no MINUTES: each target its default time (10 minutes; 30 for plist, zip_reading and the
#   stix_* targets, the parsers issue 19 asks longer runs of); no TARGET: every target.
# Seed the corpora first (fuzz/seed.sh). Each run's full output goes to logs/<target>-<date>.log.
set -euo pipefail
FUZZ=$(cd "$(dirname "$0")" && pwd)
cd "$FUZZ"
minutes=
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
  minutes=$1
  shift
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(awk '/^\[\[bin\]\]/ { bin = 1 } bin && /^name = / { gsub(/^name = "|"$/, ""); print; bin = 0 }' Cargo.toml)
fi

default_minutes() {
  case $1 in
    plist | zip_reading | stix_*) echo 30 ;;
    *) echo 10 ;;
  esac
}

# Inputs larger than libFuzzer's default are worth it where real files are large.
max_len() {
  case $1 in
    network_logs) echo 65536 ;;
    stix_bundle | stix_differential | manifest_rows) echo 262144 ;;
    *) echo 0 ;; # 0: libFuzzer's default (the largest seed, at least 4096 bytes)
  esac
}

# taxii_pages: the HTTP client registers a thread-local destructor the first time a code path
# runs, which LeakSanitizer reports once as a 32-byte "leak" (__cxa_thread_atexit_impl); the
# reported input run alone shows none. Leak detection is off for it; ASan still checks memory.
extra_flags() {
  case $1 in
    taxii_pages) echo -detect_leaks=0 ;;
    *) echo ;;
  esac
}

mkdir -p logs
for target in "${targets[@]}"; do
  run_minutes=${minutes:-$(default_minutes "$target")}
  stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
  log=logs/$target-$stamp.log
  mkdir -p "corpus/$target" "artifacts/$target"
  before=$(find "artifacts/$target" -type f | wc -l)
  status=0
  RAYON_NUM_THREADS=1 cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time=$((run_minutes * 60)) -rss_limit_mb=2048 -timeout=10 \
    -max_len="$(max_len "$target")" -print_final_stats=1 $(extra_flags "$target") >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  crashes=$(($(find "artifacts/$target" -type f | wc -l) - before))
  note="coverage ${edges:-?} edges; $(ls "corpus/$target" | wc -l) corpus files; $log"
  [ "$status" -ne 0 ] && note="exit $status (see the log); $note"
  printf '| %s | %s | %s min (1 core, RAYON_NUM_THREADS=1) | %s | %s | %s |\n' \
    "$(date -u +%Y-%m-%d)" "$target" "$run_minutes" "$(echo "${executions:-0}" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta')" \
    "$crashes" "$note" | tee -a runs.log
done
