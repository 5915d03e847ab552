#!/usr/bin/env bash
# The benchmark suite in one command: bench/run.sh
#
# Builds release binaries, generates the synthetic inputs (seeded, so every run checks the same
# bytes), runs Portcullis and MVT on the same inputs with the same indicators under
# /usr/bin/time -v, checks both found the planted hits, runs the criterion micro-benchmarks in
# quick mode, and writes bench/RESULTS.md. Settings (environment):
#   SCALES="0.1 1.0"   iOS backup scales (1.0 = 500k messages, 300k visits, 5k processes, 200k files)
#   ANDROID="5000"     packages in the generated bugreports, one or more ("" to skip)
#   DOMAINS=100000     synthetic domain indicators (plus 100 URLs, 100 processes, 100 app ids)
#   REPEAT=3           runs of Portcullis per input (the median is reported)
#   MVT_REPEAT=1       runs of MVT per input
#   MVT_FRESH=0        1 to run MVT again even where a cached measurement of the same input exists
#   MVT_ON="ios android"  the input kinds MVT is run on (each MVT run first spends ~27 minutes
#                      loading the 100,000-domain bundle)
#   MVT=1              0 to run Portcullis only
#   MICRO=1            0 to skip the criterion benchmarks
#   LOAD1M=1           0 to skip loading a 1,000,000-domain bundle through the CLI
#   SEED=5             generator seed
#   TIMEOUT=3600       seconds after which a run is stopped (and not repeated)
#   EXPERIMENT=path    another portcullis binary (e.g. a build with a proposed fix) to run too
#   EXPERIMENT_LABEL   its name in the table
#   PEGASUS=path       the Pegasus STIX2 bundle (default: ../shared fixtures; a stand-in if absent)
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
cd "$ROOT"

SCALES=${SCALES:-"0.1 1.0"}
ANDROID=${ANDROID-"5000"}
DOMAINS=${DOMAINS:-100000}
REPEAT=${REPEAT:-3}
MVT_REPEAT=${MVT_REPEAT:-1}
MVT_FRESH=${MVT_FRESH:-0}
MVT_ON=${MVT_ON:-"ios android"}
MVT=${MVT:-1}
MICRO=${MICRO:-1}
LOAD1M=${LOAD1M:-1}
SEED=${SEED:-5}
TIMEOUT=${TIMEOUT:-3600}
EXPERIMENT=${EXPERIMENT:-}
EXPERIMENT_LABEL=${EXPERIMENT_LABEL:-"Portcullis (experiment)"}
DATA=$BENCH/data
RUN=$DATA/results
GEN=$ROOT/target/release/portcullis-bench-gen
PORTCULLIS=$ROOT/target/release/portcullis
export RUST_BACKTRACE=0

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

mkdir -p "$DATA" "$RUN"
rm -f "$RUN"/measurements.tsv "$RUN"/notes.txt "$RUN"/timedout-* "$RUN"/mvt-reused.txt
note() { echo "$*" >> "$RUN/notes.txt"; log "$*"; }

# --- tools -----------------------------------------------------------------------------------
if ! /usr/bin/time -v true >/dev/null 2>&1; then
  log "installing GNU time"
  (apt-get update -qq && apt-get install -y -qq time) >/dev/null 2>&1 || true
fi
/usr/bin/time -v true >/dev/null 2>&1 || { echo "GNU time (/usr/bin/time -v) is required" >&2; exit 2; }

log "building release binaries"
cargo build --release -p portcullis -p portcullis-bench-gen

if [ "$MVT" = 1 ]; then
  if [ ! -x "$BENCH/.venv/bin/mvt-ios" ]; then
    log "installing MVT into bench/.venv"
    if ! { python3 -m venv "$BENCH/.venv" && "$BENCH/.venv/bin/pip" install -q mvt; } >"$RUN/mvt-install.log" 2>&1; then
      note "MVT could not be installed (pip install mvt failed, see data/results/mvt-install.log): Portcullis only."
      MVT=0
    fi
  fi
fi
if [ "$MVT" = 1 ]; then
  MVT_HOME=$(mktemp -d)
  MVT_VERSION=$(HOME=$MVT_HOME "$BENCH/.venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mvt"))' 2>/dev/null || echo unknown)
else
  MVT_VERSION="not run"
fi

# --- inputs ----------------------------------------------------------------------------------
PEGASUS=${PEGASUS:-$ROOT/../shared/fixtures/indicators/AmnestyTech/investigations/master/2021-07-18_nso/pegasus.stix2}
if [ ! -f "$PEGASUS" ]; then
  PEGASUS=$DATA/pegasus-standin.stix2
  "$GEN" pegasus-standin --seed "$SEED" --out "$PEGASUS"
  note "The Pegasus bundle was not found: a generated stand-in of the same shape was used."
fi

# Regenerates only when the generator or its arguments changed.
generate() { # target stamp-args -- generator args...
  local target=$1 args=$2; shift 2
  local stamp
  stamp="$(sha256sum "$GEN" | cut -c1-16) $args $(sha256sum "$PEGASUS" | cut -c1-16)"
  if [ -e "$target" ] && [ "$(cat "$target.stamp" 2>/dev/null)" = "$stamp" ]; then
    log "up to date: ${target#"$ROOT"/}"
    return
  fi
  log "generating ${target#"$ROOT"/}"
  "$GEN" "$@"
  echo "$stamp" > "$target.stamp"
}

SYN=$DATA/synthetic-$DOMAINS.stix2
generate "$SYN" "iocs $DOMAINS $SEED" iocs --domains "$DOMAINS" --seed "$SEED" --out "$SYN"
for s in $SCALES; do
  generate "$DATA/ios-$s" "ios $s $SEED" ios --scale "$s" --seed "$SEED" --pegasus "$PEGASUS" --out "$DATA/ios-$s"
done
for p in $ANDROID; do
  generate "$DATA/android-$p" "android $p $SEED" android --packages "$p" --seed "$SEED" --out "$DATA/android-$p"
done
if [ "$LOAD1M" = 1 ]; then
  generate "$DATA/synthetic-1000000.stix2" "iocs 1000000 $SEED" iocs --domains 1000000 --seed "$SEED" --out "$DATA/synthetic-1000000.stix2"
  generate "$DATA/ios-tiny" "ios 0.0001 $SEED" ios --scale 0.0001 --seed "$SEED" --pegasus "$PEGASUS" --out "$DATA/ios-tiny"
fi

# --- measured runs ---------------------------------------------------------------------------
seconds() { # [h:]mm:ss.ss -> seconds
  awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }' <<<"$1"
}

# measure INPUT SCALE TOOL REP PLANTED OUTDIR -- command...
measure() {
  local input=$1 scale=$2 tool=$3 rep=$4 planted=$5 out=$6; shift 7
  local tf="$RUN/time-$input-$tool-$rep.txt" lg="$RUN/log-$input-$tool-$rep.txt"
  rm -rf "$out"
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  log "run $rep: $tool on $input (load $load)"
  set +e
  /usr/bin/time -v -o "$tf" timeout -s KILL "$TIMEOUT" "$@" >"$lg" 2>&1
  local rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    rc=timeout
    touch "$RUN/timedout-$input-$tool"
  fi
  set -e
  local wall user sys rss hits
  wall=$(seconds "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tf")")
  user=$(sed -n 's/.*User time (seconds): //p' "$tf")
  sys=$(sed -n 's/.*System time (seconds): //p' "$tf")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tf")
  if [ -n "$planted" ]; then
    hits=$("$GEN" hits --planted "$planted" "$out" 2>/dev/null | tail -n1) || hits='{"error":"no results"}'
  else
    hits='{}'
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$input" "$scale" "$tool" "$rep" "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')" "$rss" "$rc" "$load" "$hits" >> "$RUN/measurements.tsv"
  log "  wall ${wall}s, cpu $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')s, max rss ${rss} kB, exit $rc, hits $hits"
}

# Skips a run when an earlier run of the same tool on the same input timed out.
timed_out() { [ -e "$RUN/timedout-$1-$2" ]; }

run_portcullis() { # input scale rep planted target [tool binary]
  local tool=${6:-portcullis} bin=${7:-$PORTCULLIS}
  timed_out "$1" "$tool" && return 0
  measure "$1" "$2" "$tool" "$3" "$4" "$RUN/out-$1-$tool" -- \
    "$bin" check "$5" --iocs "$PEGASUS" --iocs "$SYN" --output "$RUN/out-$1-$tool"
}
# MVT's measurements do not depend on Portcullis, and each takes half an hour or more, so they are
# kept in $DATA/mvt-cache, keyed by the bytes of the input, both bundles, the MVT version and the
# run number, and reused while those are unchanged (MVT_FRESH=1 runs MVT again regardless).
content_key() { # paths... -> one SHA-256 over every file's path and bytes
  find "$@" -type f -not -name '*.stamp' -print0 | sort -z | xargs -0 sha256sum | sed "s|$ROOT/||" \
    | sha256sum | cut -c1-24
}
run_mvt() { # input scale rep planted target kind
  timed_out "$1" mvt && return 0
  local key cache
  key=$(printf '%s %s %s %s' "$(content_key "$5" "$PEGASUS" "$SYN")" "$MVT_VERSION" "$3" "$6" | sha256sum | cut -c1-24)
  cache=$DATA/mvt-cache/$1-$3-$key
  if [ "$MVT_FRESH" != 1 ] && [ -s "$cache/measurement.tsv" ]; then
    log "run $3: mvt on $1: reusing the measurement of $(cat "$cache/date") (same input, bundles and MVT)"
    cat "$cache/measurement.tsv" >> "$RUN/measurements.tsv"
    rm -rf "$RUN/out-$1-mvt" && mkdir -p "$RUN/out-$1-mvt"
    cp "$cache/command.log" "$RUN/out-$1-mvt/" 2>/dev/null || true
    cp "$cache/time.txt" "$RUN/time-$1-mvt-$3.txt"
    [ -e "$cache/timedout" ] && touch "$RUN/timedout-$1-mvt"
    echo "$1 $(cat "$cache/date")" >> "$RUN/mvt-reused.txt"
    return 0
  fi
  local cmd=(mvt-ios check-backup)
  [ "$6" = android ] && cmd=(mvt-android check-bugreport)
  rm -rf "$MVT_HOME" && mkdir -p "$MVT_HOME"
  measure "$1" "$2" mvt "$3" "$4" "$RUN/out-$1-mvt" -- \
    env HOME="$MVT_HOME" MVT_NETWORK_ACCESS_ALLOWED=false "$BENCH/.venv/bin/${cmd[0]}" \
    --disable-update-check --disable-indicator-update-check "${cmd[1]}" \
    -i "$PEGASUS" -i "$SYN" -o "$RUN/out-$1-mvt" "$5"
  rm -rf "$cache" && mkdir -p "$cache"
  tail -n1 "$RUN/measurements.tsv" > "$cache/measurement.tsv"
  cp "$RUN/out-$1-mvt/command.log" "$cache/" 2>/dev/null || true
  cp "$RUN/time-$1-mvt-$3.txt" "$cache/time.txt"
  [ -e "$RUN/timedout-$1-mvt" ] && touch "$cache/timedout"
  date -u +'%Y-%m-%d %H:%M UTC' > "$cache/date"
}

inputs=()
for s in $SCALES; do inputs+=("ios-$s:$s:ios"); done
for p in $ANDROID; do inputs+=("android-$p:$p:android"); done
# Runs of both tools alternate, so load from elsewhere on the machine falls on both alike.
max_rep=$REPEAT
[ "$MVT" = 1 ] && [ "$MVT_REPEAT" -gt "$max_rep" ] && max_rep=$MVT_REPEAT
for spec in "${inputs[@]}"; do
  IFS=: read -r input scale kind <<<"$spec"
  for rep in $(seq 1 "$max_rep"); do
    if [ "$rep" -le "$REPEAT" ]; then
      run_portcullis "$input" "$scale" "$rep" "$DATA/$input.planted.json" "$DATA/$input"
    fi
    if [ "$MVT" = 1 ] && [ "$rep" -le "$MVT_REPEAT" ] && [[ " $MVT_ON " == *" $kind "* ]]; then
      run_mvt "$input" "$scale" "$rep" "$DATA/$input.planted.json" "$DATA/$input" "$kind"
    fi
    if [ -n "$EXPERIMENT" ] && [ "$rep" -le "$REPEAT" ]; then
      run_portcullis "$input" "$scale" "$rep" "$DATA/$input.planted.json" "$DATA/$input" experiment "$EXPERIMENT"
    fi
  done
done

if [ "$LOAD1M" = 1 ]; then
  for rep in $(seq 1 "$REPEAT"); do
    measure load-1m-domains 1000000 portcullis "$rep" "" "$RUN/out-load-1m" -- \
      "$PORTCULLIS" check "$DATA/ios-tiny" --iocs "$DATA/synthetic-1000000.stix2" --output "$RUN/out-load-1m"
  done
fi

# --- micro-benchmarks ------------------------------------------------------------------------
if [ "$MICRO" = 1 ]; then
  # The indicator benchmarks (the targets closest to their goals) run in full; the slow
  # key-derivation and the others in criterion's quick mode.
  for b in "portcullis-indicators indicators" "portcullis-ios crypto --quick" "portcullis-bench-gen url_extraction --quick"; do
    set -- $b
    log "criterion: $1 --bench $2 ${3:-}"
    cargo bench -p "$1" --bench "$2" -- ${3:-} >"$RUN/criterion-$2.txt" 2>&1 \
      || note "criterion benchmark $1/$2 failed (see data/results/criterion-$2.txt)"
  done
fi

# --- the table -------------------------------------------------------------------------------
{
  echo "date=$(date -u +'%Y-%m-%d %H:%M UTC')"
  echo "nproc=$(nproc)"
  echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
  echo "ram=$(free -g | awk '/^Mem:/{print $2" GiB"}')"
  echo "kernel=$(uname -sr)"
  echo "rustc=$(rustc --version)"
  echo "portcullis=$("$PORTCULLIS" --version) ($(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ', uncommitted changes'))"
  echo "mvt=$MVT_VERSION"
  echo "python=$(python3 --version 2>&1)"
  echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "pegasus=${PEGASUS#"$ROOT"/}"
  echo "domains=$DOMAINS"
  echo "repeat=$REPEAT"
  echo "mvt_repeat=$MVT_REPEAT"
  echo "timeout=$TIMEOUT"
  echo "experiment_label=$EXPERIMENT_LABEL"
  for s in $SCALES; do
    echo "size_ios-$s=$(du -sb "$DATA/ios-$s" | cut -f1)"
  done
  for p in $ANDROID; do
    echo "size_android-$p=$(du -sb "$DATA/android-$p" | cut -f1)"
  done
} > "$RUN/machine.txt"
python3 "$BENCH/report.py" "$RUN" "$BENCH/RESULTS.md"
log "wrote bench/RESULTS.md"
cat "$BENCH/RESULTS.md"
