#!/usr/bin/env bash
# The network benchmark (issue 15): bench/network.sh
#
# On this machine's cores, against 1,000,000 synthetic domain indicators:
#   - Zeek dns.log (TSV) and Suricata eve.json throughput of `portcullis check`, beside ripgrep
#     (`rg -F -f domains.txt`: plain text scanning for a million strings, which over-matches)
#     on the same file, as the reference ratio;
#   - pcap throughput beside tshark extracting the same DNS names, TLS SNIs and HTTP hosts from
#     the same capture, with tshark as the correctness oracle: both sets of names, and the
#     number of packets each name is in, must be equal;
#   - peak memory of a Zeek dns.log streamed through standard input at 1 GB and at 10 GB (from
#     the generator, so 10 GB is never stored): memory must not grow with the log.
# Writes bench/RESULTS-network.md. Settings (environment):
#   ZEEK_LINES=5000000  lines of the Zeek dns.log (about 900 MB)
#   EVE_LINES=2000000   eve.json DNS events (about 1 GB)
#   PCAP_FLOWS=300000   capture flows (3 packets each: DNS query, answer, TLS or HTTP)
#   STREAM_GB="1 10"    sizes streamed for the memory check ("" to skip)
#   REPEAT=3            runs per measurement (the median is reported)
#   RG=1                0 to skip ripgrep (it needs ~8 GB of memory for a million patterns)
#   SEED=5
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
cd "$ROOT"

ZEEK_LINES=${ZEEK_LINES:-5000000}
EVE_LINES=${EVE_LINES:-2000000}
PCAP_FLOWS=${PCAP_FLOWS:-300000}
STREAM_GB=${STREAM_GB-"1 10"}
REPEAT=${REPEAT:-3}
RG=${RG:-1}
SEED=${SEED:-5}

DATA=$BENCH/data/network
RUN=$(mktemp -d)
trap 'rm -rf "$RUN"' EXIT
mkdir -p "$DATA"

need() { command -v "$1" >/dev/null || { sudo=; [ "$(id -u)" = 0 ] || sudo=sudo;
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$2" >/dev/null; }; }
need rg ripgrep
need tshark tshark
need /usr/bin/time time

cargo build --release -q -p portcullis -p portcullis-bench-gen
P=$ROOT/target/release/portcullis
GEN=$ROOT/target/release/portcullis-bench-gen
# Same seed, same bytes: generated once, kept in bench/data (git-ignored).
generate() { [ -s "$1" ] || "$GEN" "${@:2}" --out "$1"; }

IOCS=$DATA/iocs-1m-$SEED.stix2
ZEEK=$DATA/dns-$ZEEK_LINES-$SEED.log
EVE=$DATA/eve-$EVE_LINES-$SEED.json
PCAP=$DATA/capture-$PCAP_FLOWS-$SEED.pcap
NAMES=$DATA/names-$SEED.stix2
generate "$IOCS" iocs --domains 1000000 --seed "$SEED"
[ -s "$DATA/domains-$SEED.txt" ] || grep -o "domain-name:value = '[^']*'" "$IOCS" |
  sed "s/domain-name:value = '//; s/'\$//" > "$DATA/domains-$SEED.txt"
generate "$ZEEK" network --kind zeek --records "$ZEEK_LINES" --seed "$SEED"
generate "$EVE" network --kind eve --records "$EVE_LINES" --seed "$SEED"
generate "$PCAP" network --kind pcap --records "$PCAP_FLOWS" --names 5000 \
  --seed "$SEED" --names-bundle "$NAMES"

# measure NAME CMD...: runs CMD REPEAT times under /usr/bin/time; prints "wall_s peak_kb" of
# the median run (by wall time). CMD's stdout goes to $RUN/NAME.out.
measure() {
  local name=$1; shift
  for i in $(seq "$REPEAT"); do
    /usr/bin/time -f "%e %M" -o "$RUN/$name.time.$i" "$@" > "$RUN/$name.out.$i" 2>"$RUN/$name.err" || true
  done
  cp "$RUN/$name.out.1" "$RUN/$name.out"
  # The last line: time writes "Command exited with non-zero status 1" first when the check
  # found alerts (exit 1), as it does here.
  for f in "$RUN/$name".time.*; do tail -n1 "$f"; done | sort -n | sed -n "$(( (REPEAT + 1) / 2 ))p"
}

# check NAME FILE [ARGS]: portcullis on FILE; prints "wall_s peak_kb lines lines_per_s alerts".
check() {
  local name=$1 file=$2; shift 2
  local t; t=$(measure "$name" "$P" check "$file" --no-installed --iocs "$IOCS" "$@" \
    --json --force --output "$RUN/out-$name")
  # lines/s: the median over the runs, as the wall time is.
  local stats; stats=$(python3 -c '
import json, statistics, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
n = runs[0]["network"]
rate = int(statistics.median(r["network"]["lines_per_second"] for r in runs))
print(n["lines"], rate, len(runs[0]["alerts"]), n["malformed"])' "$RUN/$name".out.*)
  echo "$t $stats"
}

echo "zeek dns.log ..." >&2
read -r zeek_wall zeek_kb zeek_lines zeek_lps zeek_alerts zeek_bad < <(check zeek "$ZEEK")
echo "eve.json ..." >&2
read -r eve_wall eve_kb eve_lines eve_lps eve_alerts eve_bad < <(check eve "$EVE")

rg_zeek="-"; rg_eve="-"; rg_setup="-"
if [ "$RG" = 1 ]; then
  echo "ripgrep ..." >&2
  : > "$RUN/empty"
  read -r rg_setup _ < <(measure rg-empty rg -F -f "$DATA/domains-$SEED.txt" -c "$RUN/empty")
  read -r rg_zeek rg_zeek_kb < <(measure rg-zeek rg -F -f "$DATA/domains-$SEED.txt" -c "$ZEEK")
  rg_zeek_hits=$(cat "$RUN/rg-zeek.out")
  read -r rg_eve rg_eve_kb < <(measure rg-eve rg -F -f "$DATA/domains-$SEED.txt" -c "$EVE")
  rg_eve_hits=$(cat "$RUN/rg-eve.out")
fi

echo "pcap ..." >&2
read -r pcap_wall pcap_kb pcap_packets pcap_pps pcap_alerts pcap_bad < <(
  check pcap "$PCAP" --iocs "$NAMES")
read -r tshark_wall tshark_kb < <(measure tshark tshark -r "$PCAP" -T fields \
  -e dns.qry.name -e tls.handshake.extensions_server_name -e http.host)
# The oracle: the same names, each in the same number of packets (names normalised as
# indicators are: lower case, one leading www. removed).
oracle=$(python3 - "$RUN/pcap.out" "$RUN/tshark.out" <<'EOF'
import collections, json, sys
def normal(name):
    name = name.lower()
    return name[4:] if name.startswith("www.") else name
report = json.load(open(sys.argv[1]))
ours = collections.Counter()
for c in report["network"]["contacts"]:
    ours[normal(c["indicator"])] += c["contacts"]
theirs = collections.Counter()
for line in open(sys.argv[2]):
    names = set()
    for field in line.rstrip("\n").split("\t"):
        for name in field.split(","):
            if name:
                names.add(normal(name))
    for name in names:
        theirs[name] += 1
same = ours == theirs
print(f"{len(ours)} {len(theirs)} {sum(ours.values())} {sum(theirs.values())} {'same' if same else 'DIFFERENT'}")
EOF
)
read -r ours_names tshark_names ours_packets tshark_packets verdict <<< "$oracle"

stream_rows=""
for gb in $STREAM_GB; do
  echo "streaming $gb GB ..." >&2
  # ~180 bytes a line.
  lines=$(( gb * 1000000000 / 180 ))
  /usr/bin/time -f "%e %M" -o "$RUN/stream.time" bash -c \
    "'$GEN' network --kind zeek --records $lines --seed $SEED --out - 2>/dev/null |
     '$P' check - --kind zeek --no-installed --iocs '$IOCS' --json --force --output '$RUN/out-stream' > '$RUN/stream.out'" || true
  # /usr/bin/time measures the shell; the check's own peak is the largest child.
  read -r s_wall s_kb < <(tail -n1 "$RUN/stream.time")
  s_lines=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["network"]["lines"])' "$RUN/stream.out")
  stream_rows+="| $gb GB | $s_lines | $s_wall | $(( s_kb / 1024 )) |"$'\n'
done

cores=$(nproc)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
ratio() { python3 -c "import sys; a,b=sys.argv[1:]; print('-' if '-' in (a,b) else f'{float(b)/float(a):.1f}x')" "$1" "$2"; }
cat > "$BENCH/RESULTS-network.md" <<EOF
# Network benchmark (issue 15)

Made by \`bench/network.sh\` on $(date -u +%Y-%m-%d), $cores cores ($cpu), against
1,000,000 synthetic domain indicators ($(basename "$IOCS"), seed $SEED). Times are the median
of $REPEAT runs; "wall" includes loading the million indicators, "lines/s" is the reading of the
log alone (report.json's \`network.lines_per_second\`).

## Logs, beside ripgrep

| input | lines | Portcullis wall (s) | Portcullis lines/s | peak MB | alerts | malformed | rg -F -f wall (s) | rg hits | rg / Portcullis |
|---|---|---|---|---|---|---|---|---|---|
| Zeek dns.log (TSV, $(du -m "$ZEEK" | cut -f1) MB) | $zeek_lines | $zeek_wall | $zeek_lps | $(( zeek_kb / 1024 )) | $zeek_alerts | $zeek_bad | $rg_zeek | ${rg_zeek_hits:--} | $(ratio "$zeek_wall" "$rg_zeek") |
| eve.json (DNS, $(du -m "$EVE" | cut -f1) MB) | $eve_lines | $eve_wall | $eve_lps | $(( eve_kb / 1024 )) | $eve_alerts | $eve_bad | $rg_eve | ${rg_eve_hits:--} | $(ratio "$eve_wall" "$rg_eve") |

ripgrep on an empty file with the same million patterns takes $rg_setup s (building its
automaton); its peak memory on the Zeek log was $(( ${rg_zeek_kb:-0} / 1024 )) MB. ripgrep counts
lines holding any indicator as a substring, so it also counts look-alikes (\`notevil.com\`) that
Portcullis's label-safe matching rightly leaves out; the planted hits are one line in
10,000, so both should be near lines / 10,000 here.

## Capture, beside tshark

| capture | packets | Portcullis wall (s) | packets/s | peak MB | tshark wall (s) | tshark / Portcullis |
|---|---|---|---|---|---|---|
| $(basename "$PCAP") ($(du -m "$PCAP" | cut -f1) MB) | $pcap_packets | $pcap_wall | $pcap_pps | $(( pcap_kb / 1024 )) | $tshark_wall | $(ratio "$pcap_wall" "$tshark_wall") |

Oracle (tshark \`-e dns.qry.name -e tls.handshake.extensions_server_name -e http.host\`):
Portcullis counted $ours_names names in $ours_packets packet-name pairs, tshark $tshark_names
names in $tshark_packets: **$verdict**. (Every name of the capture is an indicator of
\`names.stix2\`, none a sub-domain of another, so each extracted name is counted under exactly
one indicator.)

## Memory does not grow with the log

A Zeek dns.log streamed from the generator through \`portcullis check - --kind zeek\`:

| streamed | lines | wall (s) | peak MB (generator and check) |
|---|---|---|---|
$stream_rows
EOF
cat "$BENCH/RESULTS-network.md"
