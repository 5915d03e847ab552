#!/usr/bin/env bash
# Seeds each fuzz target's corpus from the test data: ../shared fixtures where present, and
# small samples written here where no fixture exists. Seeds drawn from plists and databases
# need python3; the age seeds need `age`. Usage: fuzz/seed.sh
set -euo pipefail
FUZZ=$(cd "$(dirname "$0")" && pwd)
SHARED=$FUZZ/../../shared/fixtures
C=$FUZZ/corpus
TARGETS=(network_logs stix_bundle plist nskeyedarchiver keybag stix_pattern stix_differential
  mvt_index dumpsys getprop_settings ab_header tar zip_reading age intrusion_ndjson
  tombstone_protobuf encrypted_file manifest_rows taxii_pages server_inputs)
for t in "${TARGETS[@]}"; do mkdir -p "$C/$t"; done
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

# Copies the files `find` lists (arguments after the destination) into a corpus.
seed_found() {
  local dest=$1
  shift
  find "$@" -type f -exec cp -t "$C/$dest" {} + 2>/dev/null || true
}

if [ -d "$SHARED" ]; then
  seed_found network_logs "$SHARED/network" ! -name '*.md' ! -name '*.txt' -size -2M
  seed_found stix_bundle "$SHARED/mvt" "$SHARED/indicators" \( -name '*.stix2' -o -name '*.json' \) -size -2M
  seed_found stix_differential "$SHARED/mvt" "$SHARED/indicators" \( -name '*.stix2' -o -name '*.json' \) -size -2M
  seed_found plist "$SHARED/mvt" "$SHARED/encrypted" -name '*.plist' -size -1024k
  seed_found mvt_index "$SHARED/indicators" -name '*.yaml'
  seed_found dumpsys "$SHARED/mvt" \( -name 'dumpstate*.txt' -o -name 'dumpsys*.txt' \)
  seed_found getprop_settings "$SHARED/mvt" \( -name 'getprop.txt' -o -name 'settings_*.txt' \)
  seed_found ab_header "$SHARED/mvt" -name '*.ab'
  seed_found zip_reading "$SHARED/mvt" -name '*.zip' -size -1024k
  seed_found tombstone_protobuf "$SHARED/mvt" -name 'tombstone_*'
  seed_found encrypted_file "$SHARED/encrypted/ios_backup_encrypted" -mindepth 2 -size -64k
  # Each bare dumpsys section also under the header a dumpstate gives it: the service is the
  # file name's (`dumpsys_adb_wifi.txt` is `adb`), `batterystats` for the battery one.
  for f in "$SHARED"/mvt/android_data/dumpsys_*.txt; do
    [ -f "$f" ] || continue
    service=$(basename "$f" .txt)
    service=${service#dumpsys_}
    service=${service%_v14_or_later}
    service=${service%_wifi}
    service=${service%_xml}
    [ "$service" = battery ] && service=batterystats
    { echo "DUMP OF SERVICE $service:"; cat "$f"; printf -- '-%.0s' {1..78}; echo; } \
      >"$C/dumpsys/section_$(basename "$f")"
  done
  if command -v python3 >/dev/null; then
    SHARED=$SHARED C=$C python3 - <<'EOF'
import glob, json, os, plistlib, sqlite3, zlib
shared, corpus = os.environ["SHARED"], os.environ["C"]

def write(target, name, data):
    with open(os.path.join(corpus, target, name), "wb") as f:
        f.write(data)

# Manifest.db `file` blobs: NSKeyedArchiver archives.
db = os.path.join(shared, "mvt/ios_backup/Manifest.db")
if os.path.exists(db):
    con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    rows = con.execute("SELECT fileID, file FROM Files WHERE file IS NOT NULL LIMIT 40")
    for file_id, blob in rows:
        write("nskeyedarchiver", f"manifest_{file_id}", blob)
# Manifest rows (manifest_rows' length-prefixed fields), each with its stored file when small:
# the whole MVT backup, and each row alone.
def field(data):
    return len(data[:65535]).to_bytes(2, "little") + data[:65535]
if os.path.exists(db):
    root = os.path.dirname(db)
    every = b""
    for file_id, domain, path, flags, blob in con.execute(
        "SELECT fileID, domain, relativePath, flags, file FROM Files"
    ):
        stored = os.path.join(root, file_id[:2], file_id)
        contents = b""
        if os.path.isfile(stored) and os.path.getsize(stored) < 65536:
            with open(stored, "rb") as f:
                contents = f.read()
        row = b"".join(field(x) for x in (file_id.encode(), (domain or "").encode(),
                                           (path or "").encode(), bytes([flags or 1]),
                                           blob or b"", contents))
        every += row
        if contents:
            write("manifest_rows", f"row_{file_id}", row)
    write("manifest_rows", "mvt_backup", every)
# The encrypted backup's keybag.
manifest = os.path.join(shared, "encrypted/ios_backup_encrypted/Manifest.plist")
if os.path.exists(manifest):
    with open(manifest, "rb") as f:
        write("keybag", "encrypted_backup", plistlib.load(f)["BackupKeyBag"])
# The STIX fixtures' distinct patterns.
patterns = set()
for path in glob.glob(os.path.join(shared, "**/*.stix2"), recursive=True) + glob.glob(
    os.path.join(shared, "**/*.json"), recursive=True
):
    try:
        with open(path, "rb") as f:
            objects = json.load(f).get("objects", [])
    except (ValueError, AttributeError, OSError):
        continue
    for o in objects:
        if isinstance(o, dict) and isinstance(o.get("pattern"), str):
            patterns.add(o["pattern"])
for i, p in enumerate(sorted(patterns)[:300]):
    write("stix_pattern", f"fixture_{i}", p.encode())
# The tar inside the plain `adb backup` fixtures (header lines, then zlib when flagged).
for path in glob.glob(os.path.join(shared, "mvt/**/*.ab"), recursive=True):
    with open(path, "rb") as f:
        lines = f.read().split(b"\n", 4)
    if len(lines) == 5 and lines[3] == b"none":
        payload = zlib.decompress(lines[4]) if lines[2] == b"1" else lines[4]
        write("tar", os.path.basename(path) + ".tar", payload)
EOF
  fi
else
  echo "../shared/fixtures not found: only the self-made samples are seeded" >&2
fi

# Self-made samples, for the formats without a fixture and for shapes the fixtures lack.
cat >"$C/nskeyedarchiver/xml_archive.plist" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>$archiver</key><string>NSKeyedArchiver</string>
<key>$top</key><dict><key>root</key><dict><key>CF$UID</key><integer>1</integer></dict></dict>
<key>$objects</key><array>
<string>$null</string>
<dict><key>NS.keys</key><array><dict><key>CF$UID</key><integer>2</integer></dict></array>
<key>NS.objects</key><array><dict><key>CF$UID</key><integer>1</integer></dict></array>
<key>$class</key><dict><key>CF$UID</key><integer>3</integer></dict></dict>
<string>self</string>
<dict><key>$classname</key><string>NSDictionary</string></dict>
</array></dict></plist>
EOF
printf '%s\n' \
  "[domain-name:value = 'evil.com'] OR [url:value = 'http://evil.com/\\'x']" \
  "[file:hashes.'SHA-256' = 'ab' AND file:name = 'x'] FOLLOWEDBY [process:name IN ('a', 'b')]" \
  "([ipv4-addr:value = '203.0.113.5/24'] AND [ipv6-addr:value = '::1']) WITHIN 5 SECONDS" \
  "[email-addr:value MATCHES '^x'] REPEATS 2 TIMES START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'" \
  "[app:id = 'com.evil.app']" >"$SCRATCH/patterns"
split -l 1 "$SCRATCH/patterns" "$C/stix_pattern/made_"
cat >"$C/stix_differential/made_flat_and_odd" <<'EOF'
{"type":"bundle","id":"b","x":{"objects":[1]},"objects":[
{"type":"malware","id":"malware--1","name":"M},{\"type\":1","is_family":false},
{"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'a.com']","pattern_type":"stix","labels":["l"],"revoked":false,"confidence":50},
{"type":"relationship","source_ref":"indicator--1","target_ref":"malware--1","relationship_type":"indicates"},
{"type":"indic\u0061tor","id":"indicator--2","pattern":"[url:value = 'http://b/']","valid_until":"2020-01-01T00:00:00Z"},
{"type":"report","id":"report--1","object_refs":["indicator--2",7],"name":null}
],"objects":[],"after":["}",{"objects":2}]}
EOF
cat >"$C/mvt_index/made_aliases.yaml" <<'EOF'
indicators:
  - &a
    type: github
    name: Example
    github: {owner: o, repo: r, branch: main, path: x.stix2}
  - type: download
    name: Other
    download_url: https://example.org/y.stix2
  - *a
EOF
{
  echo "------ SYSTEM PROPERTIES (getprop) ------"
  echo "[ro.build.version.release]: [14]"
  echo "[persist.sys.timezone]: [Europe/Paris]"
  echo "------ 0.1s was the duration of 'SYSTEM PROPERTIES' ------"
  echo "DUMP OF SERVICE package:"
  echo "Packages:"
  echo "  Package [com.evil.app] (1a2b3c):"
  echo "    userId=10123"
  echo "    versionName=1.0"
  echo "    firstInstallTime=2024-01-01 10:00:00"
  printf -- '-%.0s' {1..78}
  echo
} >"$C/dumpsys/made_dumpstate.txt"
printf '[ro.build.version.security_patch]: [2023-01-05]\n[ro.product.model]: [Pixel]\r\npackage_verifier_enable=0\nadb_enabled=1\n' \
  >"$C/getprop_settings/made_props_and_settings"
mkdir -p "$SCRATCH/files/apps/com.android.providers.telephony/d_f"
echo '[{"address": "+1555", "body": "see http://evil.com/x"}]' \
  >"$SCRATCH/files/apps/com.android.providers.telephony/d_f/000000_sms_backup"
echo "hello" >"$SCRATCH/files/readme.txt"
(cd "$SCRATCH/files" && tar -cf "$C/tar/made.tar" apps readme.txt)
(cd "$SCRATCH/files" && tar --format=pax -cf "$C/tar/made_pax.tar" apps)
{ printf 'ANDROID BACKUP\n5\n0\nnone\n'; cat "$C/tar/made.tar"; } >"$C/ab_header/made_plain.ab"
if command -v zip >/dev/null; then
  (cd "$SCRATCH/files" && zip -qr "$C/zip_reading/made_deflated.zip" . &&
    zip -qr0 "$C/zip_reading/made_stored.zip" .)
fi
if command -v age >/dev/null; then
  recipient=$(sed -n 's/^# public key: //p' "$FUZZ/age-identity.txt")
  for z in "$C"/zip_reading/*.zip; do
    [ -f "$z" ] && age -r "$recipient" -o "$C/age/$(basename "$z").age" "$z"
  done
else
  echo "age not installed: the age corpus starts empty" >&2
fi
cat >"$C/intrusion_ndjson/made_day.txt" <<'EOF'
{"dns_event": {"event_time": 1710000000000, "hostname": "evil.com", "package_name": "com.evil.app", "ip_addresses": ["/203.0.113.5"]}}
{"connect_event": {"event_time": 1710000001000, "ip_address": "evil.com/203.0.113.5", "port": 443, "package_name": "com.evil.app"}}
{"security_event": {"event_time": 1710000002000000000, "app_process_start": {"process": "evil", "uid": 10123, "pid": 99}}}
{"security_event": {"event_time": 1710000003000000000, "cert_authority_installed": {"success": true, "subject": "CN=X", "user_id": 0}}}
{"security_event": {"event_time": 1710000004000000000, "some_new_event": {"k": [1, 2]}}}
not json
EOF

# TAXII pages (taxii_pages' length-prefixed status, X-TAXII-Date-Added-Last and body): a
# collection in two pages by `next`, one paged by date alone, and a server that errs.
if command -v python3 >/dev/null; then
  C=$C python3 - <<'EOF'
import json, os
def field(data):
    return len(data).to_bytes(2, "little") + data
def page(status, added_last, body):
    return field(status.encode()) + field(added_last.encode()) + field(json.dumps(body).encode())
def indicator(n, modified):
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{n:08d}-0000-4000-8000-000000000000",
            "created": "2024-01-01T00:00:00.000Z", "modified": modified, "pattern_type": "stix",
            "pattern": f"[domain-name:value = 'evil{n}.example']", "valid_from": "2024-01-01T00:00:00Z"}
first, later = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"
seeds = {
    "two_pages_by_next":
        page("200", "2024-01-02T00:00:00.000Z", {"more": True, "next": "n1", "objects": [indicator(1, first)]})
        + page("200", "2024-01-03T00:00:00.000Z", {"more": False, "objects": [indicator(2, first)]}),
    "paged_by_date":
        page("200", "2024-01-02T00:00:00.000Z", {"more": True, "objects": [indicator(1, first)]})
        + page("200", "2024-01-02T00:00:00.000Z", {"more": True, "objects": [indicator(1, first)]})
        + page("200", "2024-01-04T00:00:00.000Z", {"more": False, "objects": [indicator(1, later)]}),
    "busy_then_page": page("503", "", {}) + page("200", "", {"objects": []}),
}
for name, data in seeds.items():
    with open(os.path.join(os.environ["C"], "taxii_pages", name), "wb") as f:
        f.write(data)
EOF
fi

# server_inputs: byte 0 then Markdown (the XSS corpus, one case a seed); byte 1 then a device
# submission (one with an indicator alert and a failing posture rule, one with nothing).
C=$C python3 - "$FUZZ/../crates/portcullis-server/tests/xss-corpus.md" <<'EOF'
import json, os, sys
out = os.path.join(os.environ["C"], "server_inputs")
for i, case in enumerate(open(sys.argv[1], encoding="utf-8").read().split("\n---\n")):
    with open(os.path.join(out, f"markdown_{i:02}"), "wb") as f:
        f.write(b"\x00" + case.encode())
coverage = {"status": "complete", "explanation": "Every module ran.", "modules_run": 1,
            "modules_with_data": 1, "modules_without_data": 0, "modules_failed": 0, "refused": 0}
alert = {"level": "CRITICAL", "module": "sms", "message": "Malicious link", "timestamp": "2026-12-01 09:00:00.000000",
         "matched_field": "links", "matched_value": "https://evil.example/x",
         "indicator": {"input": "https://evil.example/x", "value": "evil.example", "type": "domains",
                       "collection": "Test", "file": "t.stix2", "rule": "domain",
                       "id": "indicator--00000000-0000-4000-8000-000000000001"},
         "source": "sms.db, ROWID 7", "advice": "Contact the security office."}
posture = {"id": "IOS-005", "severity": "HIGH", "status": "fail", "title": "Lockdown Mode is off",
           "evidence": "absent", "advice": "Turn it on.", "guidance": []}
base = {"schema": "portcullis-submission/1", "tool_version": "0.1.0", "input_kind": "ios_backup",
        "checked_at": "2026-12-04 10:00:00.000000", "indicator_files": [],
        "device": {"platform": "ios", "model": "iPhone14,2"}, "posture": [], "alerts": [],
        "modules": [{"name": "sms", "records": 1, "alerts": 1, "error": None}], "coverage": coverage}
for name, extra in {"submission_hit": {"alerts": [alert], "posture": [posture]}, "submission_clean": {}}.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\x01" + json.dumps({**base, **extra}).encode())
EOF

for t in "${TARGETS[@]}"; do
  echo "$t: $(ls "$C/$t" | wc -l) seeds"
done
