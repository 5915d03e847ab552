//! Native crash reports (tombstones), in text or protobuf form: which process crashed, as which
//! user, with which signal. Exploits often crash their target, so crashes of privileged
//! processes are flagged, and crashing processes are checked against indicators.

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use portcullis_evidence::FileEntry;
use portcullis_indicators::Indicators;
use prost::Message;
use serde_json::{Value, json};

use super::tombstone_proto::{ARCHITECTURES, MEMORY_ERRORS, MEMORY_TOOLS, Tombstone, enum_name};
use super::{text, wall_clock_or_raw};
use crate::modified_iso;
use crate::{Context, Module, ModuleError};

/// Line between the sections of a text tombstone.
const DELIMITER: &str = "*** *** *** *** *** *** *** *** *** *** *** *** *** *** *** ***";
/// root, system and shell: a crash of a process running as one of them is worth a look.
const SUSPICIOUS_UIDS: &[i64] = &[0, 1000, 2000];

pub struct Tombstones;

impl Module<Context<'_>> for Tombstones {
    fn name(&self) -> &'static str {
        "Tombstones"
    }

    fn slug(&self) -> &'static str {
        "tombstones"
    }

    /// Every `*/tombstone_*` entry, in path order. Android 12+ writes each crash twice
    /// (`tombstone_NN` and `tombstone_NN.pb`): the protobuf one is read, and its text twin only
    /// when the protobuf is unreadable, so a crash is reported once (MVT reports both). A file
    /// that is not a tombstone is logged and skipped; the module fails only when none could be
    /// read.
    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let files = ctx.find("*/tombstone_*");
        if files.is_empty() {
            return Err(ModuleError::NotFound("no tombstone files".into()));
        }
        let by_path = |path: &str| files.iter().copied().find(|f| f.path == path);
        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::new();
        let mut failure = None;
        for file in &files {
            if by_path(&format!("{}.pb", file.path)).is_some() {
                continue;
            }
            let mut parsed = read_tombstone(ctx, file);
            if parsed.is_err()
                && let Some(twin) = file.path.strip_suffix(".pb").and_then(by_path)
                && let Ok(record) = read_tombstone(ctx, twin)
            {
                parsed = Ok(record);
            }
            match parsed {
                Ok((record, path)) => {
                    out.alerts
                        .extend(check(&record, ctx.indicators, self.slug(), &path));
                    out.push_timeline(timeline_row(&record, self.name()));
                    records.push(record);
                }
                Err(e) => {
                    tracing::error!("{e}");
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) if records.is_empty() => Err(e),
            _ => {
                out.results = Results::List(records);
                Ok(out)
            }
        }
    }
}

/// One tombstone file as a record (with its path), protobuf when it ends in `.pb`.
fn read_tombstone(ctx: &Context<'_>, file: &FileEntry) -> Result<(Value, String), ModuleError> {
    let bytes = ctx.evidence.read(&file.path)?;
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    let when = modified_iso(file.modified);
    let record = if file.path.ends_with(".pb") {
        parse_protobuf(name, &when, &bytes)
    } else {
        parse_text(name, &when, &String::from_utf8_lossy(&bytes))
    };
    record
        .map(|r| (r, file.path.clone()))
        .map_err(|reason| ModuleError::Parse {
            path: file.path.clone(),
            reason,
        })
}

/// A record in MVT's field order; absent values are `null`.
#[derive(Default)]
struct Crash {
    build_fingerprint: Option<String>,
    revision: Option<String>,
    arch: Option<String>,
    timestamp: Option<String>,
    process_uptime: Option<i64>,
    command_line: Option<Vec<String>>,
    pid: Option<i64>,
    tid: Option<i64>,
    process_name: Option<String>,
    binary_path: Option<String>,
    selinux_label: Option<String>,
    uid: Option<i64>,
    signal_info: Option<Value>,
    cause: Option<String>,
    causes: Option<Vec<Value>>,
    abort_message: Option<String>,
}

impl Crash {
    fn into_record(self, file_name: &str, file_timestamp: &str) -> Value {
        json!({
            "file_name": file_name,
            "file_timestamp": file_timestamp,
            "build_fingerprint": self.build_fingerprint,
            "revision": self.revision,
            "arch": self.arch,
            "timestamp": self.timestamp,
            "process_uptime": self.process_uptime,
            "command_line": self.command_line,
            "pid": self.pid,
            "tid": self.tid,
            "process_name": self.process_name,
            "binary_path": self.binary_path,
            "selinux_label": self.selinux_label,
            "uid": self.uid,
            "signal_info": self.signal_info,
            "cause": self.cause,
            "causes": self.causes,
            "abort_message": self.abort_message,
            "extra": null,
        })
    }
}

/// `signal N (NAME), code N (NAME), …` → `{code, code_name, name, number}`.
fn signal_line(line: &str) -> Value {
    let part = |prefix: &str| -> (Option<i64>, String) {
        let Some(found) = line.split(',').find_map(|p| p.trim().strip_prefix(prefix)) else {
            return (None, "UNKNOWN".into());
        };
        let number = found.split_whitespace().next().and_then(|n| n.parse().ok());
        let name = found
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map_or("UNKNOWN", |(n, _)| n);
        (number, name.to_string())
    };
    let (number, name) = part("signal ");
    let (code, code_name) = part("code ");
    json!({"code": code, "code_name": code_name, "name": name, "number": number})
}

/// `pid: N, tid: N, name: X  >>> /path <<<` into `crash`.
fn pid_line(line: &str, crash: &mut Crash) {
    let (info, binary) = line.split_once(">>>").unwrap_or((line, ""));
    for part in info.split(',') {
        let Some((key, value)) = part.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "pid" => crash.pid = value.parse().ok(),
            "tid" => crash.tid = value.parse().ok(),
            "name" => crash.process_name = Some(value.to_string()),
            _ => {}
        }
    }
    let binary = binary.trim().trim_end_matches('<').trim();
    if !binary.is_empty() {
        crash.binary_path = Some(binary.to_string());
    }
}

/// A text tombstone (`Key: value` header lines). The first `pid:` line is the crashing thread
/// (later ones are other threads) and the first occurrence of every key is kept; indented lines
/// (registers, backtraces) and unknown keys (`code around pc:` …) are passed over. A file with
/// no `pid:` line is not a tombstone.
pub(crate) fn parse_text(
    file_name: &str,
    file_timestamp: &str,
    content: &str,
) -> Result<Value, String> {
    let mut crash = Crash::default();
    let mut seen_pid = false;
    for line in content.lines() {
        if line.trim().is_empty()
            || line.contains(DELIMITER)
            || line.starts_with(char::is_whitespace)
        {
            continue;
        }
        if line.starts_with("pid:") {
            if !seen_pid {
                pid_line(line, &mut crash);
                seen_pid = true;
            }
            continue;
        }
        if line.starts_with("signal ") {
            crash.signal_info.get_or_insert_with(|| signal_line(line));
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches('\'');
        let set = |slot: &mut Option<String>| {
            slot.get_or_insert_with(|| value.to_string());
        };
        match key {
            "Build fingerprint" => set(&mut crash.build_fingerprint),
            "Revision" => set(&mut crash.revision),
            "ABI" => set(&mut crash.arch),
            "Cause" => set(&mut crash.cause),
            "Abort message" => set(&mut crash.abort_message),
            "Timestamp" => {
                crash
                    .timestamp
                    .get_or_insert_with(|| wall_clock_or_raw(value));
            }
            "Process uptime" => {
                crash.process_uptime = crash
                    .process_uptime
                    .or_else(|| value.trim_end_matches('s').parse().ok());
            }
            "Cmdline" => {
                crash
                    .command_line
                    .get_or_insert_with(|| vec![value.to_string()]);
            }
            "uid" => crash.uid = crash.uid.or_else(|| value.parse().ok()),
            _ => {}
        }
    }
    if !seen_pid {
        return Err("not a tombstone: no \"pid:\" line".into());
    }
    Ok(crash.into_record(file_name, file_timestamp))
}

/// A protobuf text field, decoded lossily and without the NUL padding some writers leave.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches('\0')
        .to_string()
}

/// A protobuf tombstone (AOSP `tombstone.proto`). The process name is that of the thread whose
/// id is the crashing `tid` ("Unknown" when absent), as MVT does.
pub(crate) fn parse_protobuf(
    file_name: &str,
    file_timestamp: &str,
    bytes: &[u8],
) -> Result<Value, String> {
    let t = Tombstone::decode(bytes).map_err(|e| format!("not a protobuf tombstone: {e}"))?;
    if t.pid == 0 && t.signal_info.is_none() && t.build_fingerprint.is_empty() {
        return Err("not a protobuf tombstone: no pid, signal or build".into());
    }
    let process_name = t
        .threads
        .values()
        .find(|th| i64::from(th.id) == i64::from(t.tid) && !th.name.is_empty())
        .map_or_else(|| "Unknown".to_string(), |th| lossy(&th.name));
    let signal_info = t.signal_info.as_ref().map(|s| {
        json!({"code": s.code, "code_name": lossy(&s.code_name), "name": lossy(&s.name), "number": s.number})
    });
    let causes = t
        .causes
        .iter()
        .map(|c| {
            let mut cause = json!({"human_readable": lossy(&c.human_readable)});
            if let Some(m) = &c.memory_error {
                let mut error = json!({"tool": enum_name(MEMORY_TOOLS, m.tool), "type": enum_name(MEMORY_ERRORS, m.kind)});
                if let Some(h) = &m.heap {
                    error["heap"] = json!({"address": h.address, "size": h.size,
                        "allocation_tid": h.allocation_tid, "deallocation_tid": h.deallocation_tid});
                }
                cause["memory_error"] = error;
            }
            cause
        })
        .collect();
    let crash = Crash {
        build_fingerprint: Some(lossy(&t.build_fingerprint)),
        revision: Some(lossy(&t.revision)),
        arch: Some(enum_name(ARCHITECTURES, t.arch)),
        timestamp: Some(wall_clock_or_raw(&lossy(&t.timestamp))),
        process_uptime: Some(i64::from(t.process_uptime)),
        command_line: Some(t.command_line.iter().map(|c| lossy(c)).collect()),
        pid: Some(i64::from(t.pid)),
        tid: Some(i64::from(t.tid)),
        process_name: Some(process_name),
        binary_path: None,
        selinux_label: Some(lossy(&t.selinux_label)),
        uid: Some(i64::from(t.uid)),
        signal_info,
        cause: None,
        causes: Some(causes),
        abort_message: Some(lossy(&t.abort_message)),
    };
    Ok(crash.into_record(file_name, file_timestamp))
}

/// A value as the messages show it ("Unknown" when absent).
fn shown(record: &Value, key: &str) -> String {
    match &record[key] {
        Value::String(s) => s.clone(),
        Value::Null => "Unknown".into(),
        other => other.to_string(),
    }
}

fn timeline_row(record: &Value, module: &str) -> TimelineEvent {
    let signal = &record["signal_info"];
    TimelineEvent {
        timestamp: text(record, "timestamp").to_string(),
        plugin: module.to_string(),
        event: "Tombstone".into(),
        data: format!(
            "Crash in '{}' process running as UID '{}' in file '{}' Crash type '{}' with code '{}'",
            shown(record, "process_name"),
            shown(record, "uid"),
            shown(record, "file_name"),
            shown(signal, "name"),
            shown(signal, "code_name"),
        ),
    }
}

/// CRITICAL when the process name, or else the program of the command line, is a known
/// malicious process; otherwise MEDIUM when the process ran as root, system or shell. Unlike
/// MVT, the MEDIUM check runs without indicators loaded.
fn check(record: &Value, indicators: &Indicators, slug: &str, source: &str) -> Option<Alert> {
    let when = text(record, "timestamp");
    let process = text(record, "process_name");
    let program = record["command_line"][0]
        .as_str()
        .map(|c| c.rsplit('/').next().unwrap_or(c));
    let hit = indicators
        .check_process(process)
        .map(|h| (h, "process_name"))
        .or_else(|| {
            program
                .and_then(|p| indicators.check_process(p))
                .map(|h| (h, "command_line"))
        });
    if let Some((hit, field)) = hit {
        return Some(
            Alert::indicator(Level::Critical, slug, hit, field, when, record.clone())
                .with_source(source),
        );
    }
    let uid = record["uid"].as_i64()?;
    SUSPICIOUS_UIDS.contains(&uid).then(|| {
        Alert::heuristic(
            Level::Medium,
            slug,
            format!(
                "Potentially suspicious crash in process '{}' running as UID '{uid}' in tombstone '{}' at {when}",
                shown(record, "process_name"),
                shown(record, "file_name"),
            ),
            when,
            record.clone(),
        )
        .with_advice(
            "A program with system-level rights crashed. Attacks often crash such programs, but \
             so do ordinary bugs; if several appear around the same time or the phone behaved \
             oddly then, ask your security office to review them.",
        )
        .with_field("uid", uid.to_string())
        .with_source(source)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;
    use crate::bugreport::tombstone_proto::{Signal, Thread};

    #[test]
    fn deeply_nested_protobuf_is_an_error_not_a_stack_overflow() {
        // Unknown field 99 as a start-group, 100,000 deep: prost skips unknown groups with a
        // recursion limit (100), so this fails cleanly.
        let start_group = [0x9b, 0x06]; // (99 << 3) | 3, as a varint
        let deep: Vec<u8> = start_group.repeat(100_000);
        let err = parse_protobuf("tombstone_00.pb", "", &deep).unwrap_err();
        assert!(err.starts_with("not a protobuf tombstone"), "{err}");
        // The same nesting inside a known message field (tag 10, signal_info): also an error.
        let mut nested = Vec::new();
        for _ in 0..10_000 {
            nested = [
                vec![0x52],
                varint(nested.len() + 2),
                vec![0x9b, 0x06],
                nested,
            ]
            .concat();
        }
        assert!(parse_protobuf("tombstone_01.pb", "", &nested).is_err());
    }

    fn varint(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn mvt_text_fixture() {
        let Some(content) = fixture_text("tombstone_process.txt") else {
            return;
        };
        let r = parse_text("tombstone_process.txt", "", &content).unwrap();
        assert_eq!(
            (r["pid"].as_i64(), r["tid"].as_i64()),
            (Some(25541), Some(21307))
        );
        assert_eq!(r["process_name"], "mtk.ape.decoder");
        assert_eq!(
            r["binary_path"],
            "/vendor/bin/hw/android.hardware.media.c2@1.2-mediatek"
        );
        assert_eq!(r["timestamp"], "2023-04-12 12:32:40.518290");
        assert_eq!(r["process_uptime"], 0);
        assert_eq!(
            r["command_line"],
            json!(["/vendor/bin/hw/android.hardware.media.c2@1.2-mediatek"])
        );
        assert_eq!(r["uid"], 1046);
        assert_eq!(
            r["signal_info"],
            json!({"code": 1, "code_name": "SEGV_MAPERR", "name": "SIGSEGV", "number": 0})
        );
        assert_eq!(r["cause"], "null pointer dereference");
        assert_eq!(
            r["build_fingerprint"],
            "Redmi/rosemary_global/rosemary:12/SP1A.210812.016/V13.0.13.0.SKLMIXM:user/release-keys"
        );
        assert!(check(&r, &Indicators::new(), "tombstones", "f").is_none());
        let ioc = check(
            &r,
            &indicators(&["[process:name = 'android.hardware.media.c2@1.2-mediatek']"]),
            "t",
            "f",
        );
        assert_eq!(ioc.unwrap().matched_field.as_deref(), Some("command_line"));
    }

    #[test]
    fn mvt_protobuf_fixture() {
        let Some(path) = fixture("tombstone_process.pb") else {
            return;
        };
        let r = parse_protobuf("tombstone_process.pb", "", &std::fs::read(path).unwrap()).unwrap();
        assert_eq!(
            (r["pid"].as_i64(), r["tid"].as_i64()),
            (Some(25541), Some(21307))
        );
        assert_eq!(r["process_name"], "mtk.ape.decoder");
        assert_eq!(r["uid"], 1046);
        assert_eq!(r["arch"], "ARM32");
        assert_eq!(r["timestamp"], "2023-04-12 12:32:40.518290");
        assert_eq!(r["signal_info"]["name"], "SIGSEGV");
    }

    #[test]
    fn protobuf_built_here_and_garbage() {
        let mut t = Tombstone {
            arch: 1,
            build_fingerprint: b"g/f:14".to_vec(),
            timestamp: b"2024-05-06 07:08:09.123456789+0000".to_vec(),
            pid: 10,
            tid: 11,
            uid: 0,
            command_line: vec![b"/system/bin/Launch".to_vec(), b"--x".to_vec()],
            signal_info: Some(Signal {
                number: 11,
                name: b"SIGSEGV".to_vec(),
                code: 2,
                code_name: b"SEGV_ACCERR".to_vec(),
            }),
            ..Tombstone::default()
        };
        t.threads.insert(
            11,
            Thread {
                id: 11,
                name: b"worker\xff".to_vec(),
            },
        );
        let r = parse_protobuf("tombstone_03.pb", "x", &t.encode_to_vec()).unwrap();
        assert_eq!(r["process_name"], "worker\u{fffd}");
        assert_eq!(r["arch"], "ARM64");
        assert_eq!(r["timestamp"], "2024-05-06 07:08:09.123456");
        let alert = check(&r, &Indicators::new(), "tombstones", "f").unwrap();
        assert_eq!(
            alert.message,
            "Potentially suspicious crash in process 'worker\u{fffd}' running as UID '0' in tombstone 'tombstone_03.pb' at 2024-05-06 07:08:09.123456"
        );
        assert_eq!(
            check(&r, &test_stix2(), "t", "f").unwrap().level,
            Level::Critical
        );
        assert!(parse_protobuf("x", "", b"").is_err());
        assert!(parse_protobuf("x", "", b"\xff\xff\xff\xff").is_err());
        assert!(parse_protobuf("x", "", &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn text_variants_and_garbage() {
        let text = "*** *** *** *** *** *** *** *** *** *** *** *** *** *** *** ***\r\nBuild fingerprint: 'a/b'\r\n\
                    Timestamp: garbage\r\npid: 5, tid: 6, name: x\r\nuid: notanumber\r\nsignal 9 (SIGKILL)\r\n\
                    code around pc:\r\n    00 11 22\r\npid: 7, tid: 8, name: other  >>> /bin/other <<<\r\nuid: 2000\r\n";
        let r = parse_text("t", "", text).unwrap();
        assert_eq!(
            (r["pid"].as_i64(), r["process_name"].as_str()),
            (Some(5), Some("x"))
        );
        assert_eq!(r["binary_path"], Value::Null);
        assert_eq!(r["timestamp"], "garbage");
        assert_eq!(r["uid"], 2000);
        assert_eq!(
            r["signal_info"],
            json!({"code": null, "code_name": "UNKNOWN", "name": "SIGKILL", "number": 9})
        );
        assert!(parse_text("t", "", "hello\nworld: 1\n").is_err());
        assert!(parse_text("t", "", "").is_err());
        let row = timeline_row(&r, "Tombstones");
        assert_eq!(
            row.data,
            "Crash in 'x' process running as UID '2000' in file 't' Crash type 'SIGKILL' with code 'UNKNOWN'"
        );
    }

    #[test]
    fn module_reads_one_of_each_twin_and_survives_bad_files() {
        let t = Tombstone {
            pid: 3,
            tid: 3,
            uid: 1000,
            ..Tombstone::default()
        };
        let pb = t.encode_to_vec();
        let twin = b"pid: 3, tid: 3, name: twin\nuid: 1000\n";
        with_folder(
            &[
                ("FS/data/tombstones/tombstone_00", &twin[..]),
                ("FS/data/tombstones/tombstone_00.pb", &pb[..]),
                ("FS/data/tombstones/tombstone_01", &b"garbage"[..]),
                (
                    "FS/data/tombstones/tombstone_02",
                    &b"pid: 4, tid: 4, name: y\n"[..],
                ),
                ("FS/data/tombstones/tombstone_02.pb", &b"\xff\xff"[..]),
            ],
            |root| {
                let out =
                    folder_context(root, &Default::default(), |ctx| Tombstones.run(ctx)).unwrap();
                let names: Vec<_> = records(&out).iter().map(|r| text(r, "file_name")).collect();
                // The unreadable protobuf gives way to its text twin.
                assert_eq!(names, ["tombstone_00.pb", "tombstone_02"]);
                assert_eq!(out.alerts.len(), 1);
            },
        );
        with_folder(&[("FS/data/tombstones/tombstone_09", "garbage")], |root| {
            let run = folder_context(root, &Default::default(), |ctx| Tombstones.run(ctx));
            assert!(matches!(run, Err(ModuleError::Parse { .. })));
        });
    }
}
