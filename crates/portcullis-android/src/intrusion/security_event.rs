//! `security_event`: Android's SecurityLog events (ADB use, app starts, keys, certificates,
//! policies…). Heuristics flag key-integrity violations, certificate authorities installed
//! (interception), failed cryptographic self tests, certificate validation failures and failed
//! wipes; app ids, ADB commands and transferred paths are checked against indicators.

use std::collections::BTreeMap;

use portcullis_core::{Alert, Level, ModuleOutput};
use portcullis_indicators::IndicatorMatch;
use serde_json::{Map, Value};

use super::{Seen, field, py_str, run_events, truthy};
use crate::{Context, Module, ModuleError};

/// The SecurityLog tags (ids 210001 to 210046) this tool knows.
const TAGS: [&str; 46] = [
    "adb_shell_interactive",
    "adb_shell_cmd",
    "adb_sync_recv_file",
    "adb_sync_send_file",
    "app_process_start",
    "keyguard_dismissed",
    "keyguard_dismiss_auth_attempt",
    "keyguard_secured",
    "os_startup",
    "os_shutdown",
    "logging_started",
    "logging_stopped",
    "media_mount",
    "media_unmount",
    "log_buffer_size_critical",
    "password_expiration_set",
    "password_complexity_set",
    "password_history_length_set",
    "max_screen_lock_timeout_set",
    "max_password_attempts_set",
    "keyguard_disabled_features_set",
    "remote_lock",
    "wipe_failure",
    "key_generated",
    "key_import",
    "key_destruction",
    "user_restriction_added",
    "user_restriction_removed",
    "cert_authority_installed",
    "cert_authority_removed",
    "crypto_self_test_completed",
    "key_integrity_violation",
    "cert_validation_failure",
    "camera_policy_set",
    "password_complexity_required",
    "password_changed",
    "wifi_connection",
    "wifi_disconnection",
    "bluetooth_connection",
    "bluetooth_disconnection",
    "package_installed",
    "package_updated",
    "package_uninstalled",
    "backup_service_toggled",
    "nfc_enabled",
    "nfc_disabled",
];

/// Keys of a security event that are not its tag.
const METADATA: [&str; 4] = ["event_id", "event_time", "event_type", "timestamp"];

/// The event's tag: its first key that is not metadata.
fn tag(record: &Map<String, Value>) -> Option<&str> {
    record
        .keys()
        .map(String::as_str)
        .find(|k| !METADATA.contains(k))
}

/// Whether a `crypto_self_test_completed` value says the test passed; `missing` is what an
/// absent `success` means (MVT's check and timeline disagree on it).
fn self_test_passed(info: &Value, missing: bool) -> bool {
    match info {
        Value::Object(map) => map.get("success").map_or(missing, truthy),
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() == Some(1.0),
        _ => false,
    }
}

/// The timeline text of an event with `tag` and value `info`.
fn describe(tag: &str, info: &Value) -> String {
    let get = |key: &str, default: &str| field(info, key, default);
    let yes = |key: &str| info.get(key).is_some_and(truthy);
    let pick = |key: &str, on: &'static str, off: &'static str| if yes(key) { on } else { off };
    let admin = || get("admin_package", "");
    let with_reason = |text: String| match info.get("reason") {
        Some(reason) if truthy(reason) => format!("{text} - {}", py_str(reason)),
        _ => text,
    };
    match tag {
        "adb_shell_interactive" => "ADB interactive shell opened".into(),
        "adb_shell_cmd" => format!("ADB shell command: {}", get("command", "")),
        "adb_sync_recv_file" => format!("File pulled via ADB: {}", get("path", "")),
        "adb_sync_send_file" => format!("File pushed via ADB: {}", get("path", "")),
        "app_process_start" => format!(
            "Process started: {} (UID: {}, PID: {})",
            get("process", ""),
            get("uid", ""),
            get("pid", "")
        ),
        "keyguard_dismiss_auth_attempt" => format!(
            "Auth attempt: {} (method strength: {})",
            pick("success", "Success", "Failed"),
            get("method_strength", "0")
        ),
        "keyguard_dismissed" => "Keyguard dismissed".into(),
        "keyguard_secured" => "Device locked".into(),
        "keyguard_disabled_features_set" => format!(
            "Keyguard features disabled by {}: {}",
            admin(),
            get("disabled_features", "")
        ),
        "key_generated" => format!(
            "Key {}: {} (UID: {})",
            pick("success", "generated", "generation failed"),
            get("key_id", "unknown"),
            get("uid", "")
        ),
        "key_destruction" => format!(
            "Key {}: {} (UID: {})",
            pick("success", "destroyed", "destruction failed"),
            get("key_id", "unknown"),
            get("uid", "")
        ),
        "key_import" => format!(
            "Key {}: {}",
            pick("success", "imported", "import failed"),
            get("key_id", "unknown")
        ),
        "key_integrity_violation" => {
            format!("Key integrity violation: {}", get("key_id", "unknown"))
        }
        "cert_authority_installed" => format!(
            "Cert {}: {}",
            pick("success", "installed", "install failed"),
            get("subject", "unknown")
        ),
        "cert_authority_removed" => format!(
            "Cert {}: {}",
            pick("success", "removed", "removal failed"),
            get("subject", "unknown")
        ),
        "cert_validation_failure" => format!("Certificate validation failure: {}", py_str(info)),
        "crypto_self_test_completed" => format!(
            "Crypto self test: {}",
            if self_test_passed(info, false) {
                "passed"
            } else {
                "FAILED"
            }
        ),
        "package_installed" | "package_updated" | "package_uninstalled" => {
            let action = match tag {
                "package_installed" => "Installed",
                "package_updated" => "Updated",
                _ => "Uninstalled",
            };
            format!(
                "Package {action}: {} (v{}, user: {})",
                get("package_name", ""),
                get("version_code", ""),
                get("user_id", "")
            )
        }
        "os_startup" => format!(
            "OS startup (verified boot: {}, dm-verity: {})",
            get("verified_boot_state", ""),
            get("dm_verity_mode", "")
        ),
        "os_shutdown" => "OS shutdown".into(),
        "logging_started" => "Audit logging started".into(),
        "logging_stopped" => "Audit logging stopped".into(),
        "log_buffer_size_critical" => "Log buffer at 90% capacity".into(),
        "media_mount" | "media_unmount" => format!(
            "Media {}: {} ({})",
            if tag == "media_mount" {
                "mounted"
            } else {
                "unmounted"
            },
            get("mount_point", ""),
            get("volume_label", "")
        ),
        "password_expiration_set" => format!(
            "Password expiration set by {}: {}ms",
            admin(),
            get("timeout_ms", "")
        ),
        "password_complexity_set" => format!("Password complexity set by {}", admin()),
        "password_complexity_required" => format!(
            "Password complexity required by {}: {}",
            admin(),
            get("complexity", "")
        ),
        "password_history_length_set" => format!(
            "Password history length set by {}: {}",
            admin(),
            get("length", "")
        ),
        "password_changed" => format!(
            "Password changed (complexity: {}, user: {})",
            get("complexity", ""),
            get("user_id", "")
        ),
        "max_screen_lock_timeout_set" => format!(
            "Max screen lock timeout set by {}: {}ms",
            admin(),
            get("timeout_ms", "")
        ),
        "max_password_attempts_set" => format!(
            "Max password attempts set by {}: {}",
            admin(),
            get("max_attempts", "")
        ),
        "remote_lock" => format!("Device remotely locked by {}", admin()),
        "wipe_failure" => "Device wipe failed".into(),
        "user_restriction_added" | "user_restriction_removed" => format!(
            "User restriction {} by {}: {}",
            if tag == "user_restriction_added" {
                "added"
            } else {
                "removed"
            },
            admin(),
            get("restriction", "")
        ),
        "wifi_connection" => with_reason(format!(
            "WiFi connection: {} (BSSID: {})",
            get("event_type", ""),
            get("bssid", "")
        )),
        "wifi_disconnection" => {
            with_reason(format!("WiFi disconnection (BSSID: {})", get("bssid", "")))
        }
        "bluetooth_connection" => with_reason(format!(
            "Bluetooth {}: {}",
            pick("success", "connected", "connection failed"),
            get("mac_address", "")
        )),
        "bluetooth_disconnection" => with_reason(format!(
            "Bluetooth disconnected: {}",
            get("mac_address", "")
        )),
        "camera_policy_set" => format!(
            "Camera {} by {}",
            pick("disabled", "disabled", "enabled"),
            admin()
        ),
        "backup_service_toggled" => format!(
            "Backup service {} by {}",
            pick("enabled", "enabled", "disabled"),
            admin()
        ),
        "nfc_enabled" => "NFC enabled".into(),
        "nfc_disabled" => "NFC disabled".into(),
        _ => format!("{tag}: {}", py_str(info)),
    }
}

/// A MEDIUM finding: (message, advice).
type Finding = (String, &'static str);

/// The heuristics, which need no indicators.
fn heuristics(record: &Map<String, Value>) -> Vec<Finding> {
    let mut found = Vec::new();
    if let Some(info) = record.get("cert_validation_failure") {
        found.push((
            format!("Certificate validation failure detected: {}", py_str(info)),
            "The phone rejected a certificate, which happens when someone intercepts its \
             connections. If it recurs, ask your security office to look at the networks used.",
        ));
    }
    if let Some(info) = record.get("key_integrity_violation") {
        found.push((
            format!("Key integrity violation detected: {}", py_str(info)),
            "A key kept in the phone's secure hardware failed an integrity check, which can mean \
             tampering. Ask your security office to examine the phone.",
        ));
    }
    if let Some(info) = record.get("cert_authority_installed") {
        if info.get("success").is_none_or(truthy) {
            found.push((
                format!(
                    "Certificate authority installed: {}",
                    field(info, "subject", "unknown")
                ),
                "A new trusted certificate authority lets whoever holds it read the phone's \
                 encrypted traffic. If neither you nor your employer installed it, remove it \
                 (Settings > Security > Encryption & credentials) and tell your security office.",
            ));
        } else {
            tracing::warn!(
                "Certificate authority installation failed: {}",
                field(info, "subject", "unknown")
            );
        }
    }
    if record.contains_key("wipe_failure") {
        found.push((
            "Device wipe failure detected".into(),
            "A wipe of the phone or of a user's data failed. Ask your security office to find out \
             who asked for it and why.",
        ));
    }
    if let Some(info) = record.get("crypto_self_test_completed")
        && !self_test_passed(info, true)
    {
        found.push((
            "Cryptographic self test failed".into(),
            "The phone's cryptography failed its self test, so its encryption may not protect \
             your data. Ask your security office to examine the phone.",
        ));
    }
    if let Some(info) = record.get("key_generated")
        && !info.get("success").is_none_or(truthy)
    {
        let key = field(info, "key_id", "unknown");
        // Android fails to make this key on every boot of some devices: not a finding.
        let routine = key == "PinStorage_crossReboot_key" && field(info, "uid", "") == "1001";
        if !routine {
            tracing::warn!("Failed key generation detected for key_id: {key}");
        }
    }
    found
}

/// Indicator checks: started processes, installed packages, ADB commands and file transfers.
fn indicator_hits(ctx: &Context<'_>, record: &Map<String, Value>) -> Vec<(String, IndicatorMatch)> {
    let mut hits = Vec::new();
    let text = |tag: &str, key: &str| {
        record
            .get(tag)?
            .get(key)?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(process) = text("app_process_start", "process") {
        if let Some(hit) = ctx.indicators.check_app_id(&process) {
            hits.push(("app_process_start.process".to_string(), hit));
        }
        // `package:sandboxed_process0:…`: the parts after the package name too.
        let part_hit = process
            .split(':')
            .skip(1)
            .filter(|p| !p.is_empty())
            .find_map(|p| ctx.indicators.check_app_id(p));
        if let Some(hit) = part_hit {
            hits.push(("app_process_start.process".to_string(), hit));
        }
    }
    for tag in [
        "package_installed",
        "package_updated",
        "package_uninstalled",
    ] {
        if let Some(hit) = text(tag, "package_name").and_then(|p| ctx.indicators.check_app_id(&p)) {
            hits.push((format!("{tag}.package_name"), hit));
        }
    }
    if let Some(hit) =
        text("adb_shell_cmd", "command").and_then(|c| ctx.indicators.check_app_id(&c))
    {
        hits.push(("adb_shell_cmd.command".to_string(), hit));
    }
    for tag in ["adb_sync_recv_file", "adb_sync_send_file"] {
        if let Some(hit) = text(tag, "path").and_then(|p| ctx.indicators.check_file_path(&p)) {
            hits.push((format!("{tag}.path"), hit));
        }
    }
    hits
}

pub struct SecurityEvent;

impl Module<Context<'_>> for SecurityEvent {
    fn name(&self) -> &'static str {
        "SecurityEvent"
    }

    fn slug(&self) -> &'static str {
        "security_event"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let out = run_events(
            ctx,
            self,
            "security_event",
            1_000_000_000,
            false,
            |record, timestamp, source| {
                let (event, data) = match tag(record) {
                    Some(tag) => {
                        *counts.entry(tag.to_string()).or_default() += 1;
                        (tag.to_string(), describe(tag, &record[tag]))
                    }
                    None => (
                        "unknown".to_string(),
                        super::py_repr(&Value::Object(record.clone())),
                    ),
                };
                let value = Value::Object(record.clone());
                let alerts = heuristics(record)
                    .into_iter()
                    .map(|(message, advice)| {
                        Alert::heuristic(
                            Level::Medium,
                            self.slug(),
                            message,
                            timestamp,
                            value.clone(),
                        )
                        .with_field("tag", event.clone())
                        .with_advice(advice)
                        .with_source(source)
                    })
                    .collect();
                Seen {
                    hits: indicator_hits(ctx, record),
                    event,
                    data,
                    alerts,
                }
            },
        )?;
        for (tag, n) in &counts {
            tracing::info!("security events: {tag}: {n}");
        }
        let unknown: Vec<&str> = counts
            .keys()
            .map(String::as_str)
            .filter(|t| !TAGS.contains(t))
            .collect();
        if !unknown.is_empty() {
            tracing::warn!(
                "Found unknown intrusion logging security event type(s): {}",
                unknown.join(", ")
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::FolderEvidence;
    use portcullis_indicators::Indicators;
    use serde_json::json;

    use super::*;
    use crate::androidqf::test_support::{count, indicators, run_on, test_stix2, with_folder};
    use crate::intrusion::events::tests::with_appendix_a;

    #[test]
    fn appendix_a() {
        with_appendix_a(|ev| {
            for ind in [Indicators::new(), test_stix2()] {
                let out = run_on(&SecurityEvent, ev, &ind).unwrap();
                assert_eq!(out.results.len(), 6);
                let data: Vec<&str> = out.timeline.iter().map(|t| t.data.as_str()).collect();
                assert_eq!(
                    data,
                    [
                        "Process started: com.example.app (UID: 10000, PID: 1234)",
                        "Cert installed: CN=Evil Root CA",
                        "Crypto self test: FAILED",
                        "File pushed via ADB: /var/foobar/txt",
                        "future_google_event: {'field': 'value'}",
                        "Key integrity violation: k1",
                    ]
                );
                assert_eq!(out.timeline[0].event, "app_process_start");
                assert_eq!(out.timeline[0].timestamp, "2023-11-14 22:13:22.000000");
                let messages: Vec<&str> = out.alerts.iter().map(|a| a.message.as_str()).collect();
                assert_eq!(
                    messages,
                    [
                        "Certificate authority installed: CN=Evil Root CA",
                        "Cryptographic self test failed",
                        "Key integrity violation detected: {'key_id': 'k1', 'uid': 1000}",
                    ]
                );
                assert_eq!(count(&out.alerts, Level::Medium), 3);
                assert_eq!(out.alerts[2].source.as_deref(), Some("sub/day2.txt"));
            }
        });
    }

    #[test]
    fn indicator_checks() {
        let lines = r#"{"security_event": {"event_time": 1, "app_process_start": {"process": "com.google.android.webview:sandboxed_process0:com.spy.svc:0"}}}
{"security_event": {"event_time": 2, "package_installed": {"package_name": "COM.SPY.SVC", "version_code": 3, "user_id": 0}}}
{"security_event": {"event_time": 3, "adb_shell_cmd": {"command": "com.spy.svc"}}}
{"security_event": {"event_time": 4, "adb_sync_recv_file": {"path": "/data/local/tmp/spy/x"}}}
{"security_event": {"event_id": 9}}
"#;
        with_folder(&[("x.txt", lines)], |root| {
            let ind = indicators(&[
                "[app:id = 'com.spy.svc']",
                "[file:path = '/data/local/tmp/spy']",
            ]);
            let out = run_on(&SecurityEvent, &FolderEvidence::new(root), &ind).unwrap();
            let fields: Vec<&str> = out
                .alerts
                .iter()
                .map(|a| a.matched_field.as_deref().unwrap())
                .collect();
            assert_eq!(
                fields,
                [
                    "app_process_start.process",
                    "package_installed.package_name",
                    "adb_shell_cmd.command",
                    "adb_sync_recv_file.path",
                ]
            );
            assert_eq!(
                out.timeline[1].data,
                "Package Installed: COM.SPY.SVC (v3, user: 0)"
            );
            assert_eq!(out.timeline[4].event, "unknown");
            assert_eq!(out.timeline[4].data, "{'event_id': 9, 'timestamp': None}");
        });
    }

    #[test]
    fn heuristics_and_texts() {
        let find = |v: Value| {
            let Value::Object(m) = v else { panic!() };
            heuristics(&m)
                .into_iter()
                .map(|(m, _)| m)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            find(json!({"cert_validation_failure": "bad chain"})),
            ["Certificate validation failure detected: bad chain"]
        );
        assert_eq!(
            find(json!({"wipe_failure": {}})),
            ["Device wipe failure detected"]
        );
        assert_eq!(
            find(json!({"cert_authority_installed": {"subject": "CN=x"}})),
            ["Certificate authority installed: CN=x"]
        );
        assert!(find(json!({"cert_authority_installed": {"success": false}})).is_empty());
        assert_eq!(find(json!({"crypto_self_test_completed": 0})).len(), 1);
        assert!(find(json!({"crypto_self_test_completed": 1})).is_empty());
        assert!(find(json!({"crypto_self_test_completed": {}})).is_empty());
        assert!(find(json!({"key_generated": {"success": false, "key_id": "k"}})).is_empty());

        assert_eq!(
            describe(
                "key_generated",
                &json!({"success": true, "key_id": "k", "uid": 7})
            ),
            "Key generated: k (UID: 7)"
        );
        assert_eq!(
            describe(
                "wifi_connection",
                &json!({"bssid": "aa", "event_type": "CONNECT", "reason": "x"})
            ),
            "WiFi connection: CONNECT (BSSID: aa) - x"
        );
        assert_eq!(
            describe("bluetooth_disconnection", &json!({})),
            "Bluetooth disconnected: "
        );
        assert_eq!(
            describe(
                "camera_policy_set",
                &json!({"disabled": true, "admin_package": "p"})
            ),
            "Camera disabled by p"
        );
        assert_eq!(
            describe("keyguard_dismiss_auth_attempt", &json!("odd")),
            "Auth attempt: Failed (method strength: 0)"
        );
        assert_eq!(
            describe("user_restriction_removed", &json!({"restriction": "r"})),
            "User restriction removed by : r"
        );
        assert_eq!(describe("new_tag", &json!([1, "a"])), "new_tag: [1, 'a']");
        for tag in TAGS {
            assert!(
                !describe(tag, &json!({})).starts_with(tag),
                "{tag} has a text"
            );
        }
    }
}
