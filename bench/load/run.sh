#!/usr/bin/env bash
# Load test of the security office server with wrk (a real load tool): MEMBERS members (default
# 200, one connection each) reading and acknowledging an advisory, and devices uploading check
# findings at about 50 per second, for DURATION (default 60s), on SQLite with one instance and on
# PostgreSQL with one and two instances (client-side round-robin: each instance gets half of the
# members and half of the uploads). Prints p50/p99 latency, rates and errors per scenario, and
# writes them to bench/load/results-<date>.md. Needs PostgreSQL at PG (default
# postgres://postgres@127.0.0.1:5432, trust auth); installs wrk with apt when missing.
#
# Usage: bench/load/run.sh [SCENARIO...]   (sqlite-1, postgres-1, postgres-2; default all)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/load"
DURATION=${DURATION:-60s}
MEMBERS=${MEMBERS:-200}
DEVICES=${DEVICES:-50}
# Uploads are paced by the clock at UPLOAD_RATE per second in all, over UPLOAD_CONNECTIONS
# connections (enough to keep the rate while an upload takes up to half a second).
UPLOAD_RATE=${UPLOAD_RATE:-50}
UPLOAD_CONNECTIONS=${UPLOAD_CONNECTIONS:-25}
export THINK_MS=${THINK_MS:-500}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(sqlite-1 postgres-1 postgres-2)

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked -p portcullis --bin portcullis -p portcullis-server --example load_seed
BIN="$ROOT/target/release/portcullis"
SEED="$ROOT/target/release/examples/load_seed"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

results="$HERE/results-$(date -u +%Y-%m-%d).md"
{
  echo "# Load test, $(date -u +%Y-%m-%d)"
  echo
  echo "\`bench/load/run.sh\` on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), release build of $(git -C "$ROOT" rev-parse --short HEAD); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), server, database and load generators on the same machine over loopback."
  echo "$MEMBERS members (one connection each, ${THINK_MS} ms between a member's requests, alternating a read of the advisory and its acknowledgement) and uploads paced at $UPLOAD_RATE per second over $UPLOAD_CONNECTIONS connections (each upload a check with a CRITICAL alert, a failing setting and 500 observation digests), for $DURATION."
  echo
  echo "| Scenario | Load | Requests | Rate (/s) | p50 (ms) | p99 (ms) | Errors |"
  echo "|---|---|---|---|---|---|---|"
} > "$results"

run_scenario() {
  local name=$1 backend=${1%-*} instances=${1#*-}
  local dir="$work/$name"
  mkdir -p "$dir"
  local url
  if [ "$backend" = sqlite ]; then
    url="sqlite://$dir/portcullis.db?mode=rwc"
  else
    psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS portcullis_load WITH (FORCE)" -c "CREATE DATABASE portcullis_load"
    url="$PG/portcullis_load"
  fi
  "$SEED" "$url" "$dir" "$MEMBERS" "$DEVICES"
  local ports=()
  for i in $(seq 1 "$instances"); do
    local port=$((18440 + i))
    ports+=("$port")
    PORTCULLIS_LISTEN="127.0.0.1:$port" PORTCULLIS_DATABASE_URL="$url" PORTCULLIS_DATA_DIR="$dir" \
      RUST_LOG=warn "$BIN" serve > "$dir/server-$i.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
      sleep 0.2
    done
  done
  # Each instance gets its share of the members and of the upload connections.
  local load=()
  for i in $(seq 1 "$instances"); do
    awk -v n="$instances" -v i="$i" 'NR % n == i % n' "$dir/members.txt" > "$dir/members-$i.txt"
    local port=${ports[$((i - 1))]}
    wrk -t1 -c $((MEMBERS / instances)) -d "$DURATION" --timeout 5s -s "$HERE/members.lua" \
      "http://127.0.0.1:$port" -- "$dir/members-$i.txt" > "$dir/members-$i.out" 2>&1 &
    load+=($!)
    UPLOAD_RATE=$((UPLOAD_RATE / instances)) \
      wrk -t1 -c $((UPLOAD_CONNECTIONS / instances)) -d "$DURATION" --timeout 5s -s "$HERE/uploads.lua" \
      "http://127.0.0.1:$port" -- "$dir/devices.txt" "$dir/submission.json" "$i" > "$dir/uploads-$i.out" 2>&1 &
    load+=($!)
  done
  wait "${load[@]}"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
  # One row per kind of load, over the instances: requests and rates add up, latencies are the
  # worst instance's, errors add up.
  for kind in members uploads; do
    cat "$dir"/$kind-*.out | awk -v name="$name" -v kind="$kind" '
      /^RESULT/ { n += $3; rate += $4; if ($5 > p50) p50 = $5; if ($6 > p99) p99 = $6; err += $7 }
      END { printf "| %s | %s | %d | %.1f | %.2f | %.2f | %d |\n", name, kind, n, rate, p50, p99, err }' \
      | tee -a "$results"
  done
  grep -h "Non-2xx\|Socket errors" "$dir"/*.out || true
}

for scenario in "${scenarios[@]}"; do
  run_scenario "$scenario"
done
echo "written to $results"
