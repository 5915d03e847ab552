//! `portcullis check` on network logs: recognised from a file's contents, forced with
//! `--kind`, read from standard input with `-` (so `zeek-cut`/`tail` pipelines work), and
//! summarised in words with the device each alert is about.

mod common;

use common::portcullis;

/// A Zeek dns.log in JSON (`LogAscii::use_json`), as a sensor writes it.
const DNS_JSON: &str = concat!(
    r#"{"ts":1796292000.5,"uid":"C1","id.orig_h":"10.1.1.20","id.orig_p":53211,"id.resp_h":"10.1.1.1","id.resp_p":53,"proto":"udp","trans_id":7,"query":"c2.evil.com","qtype_name":"A","rcode_name":"NOERROR","answers":["203.0.113.9"]}"#,
    "\n",
    r#"{"ts":1796292001.5,"uid":"C2","id.orig_h":"10.1.1.21","id.orig_p":53212,"id.resp_h":"10.1.1.1","id.resp_p":53,"proto":"udp","trans_id":8,"query":"notevil.com","qtype_name":"A","rcode_name":"NOERROR"}"#,
    "\n",
);

fn stix(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("spy.stix2");
    std::fs::write(
        &path,
        portcullis_indicators::test_bundle_json("Spy", &["[domain-name:value = 'evil.com']"]),
    )
    .unwrap();
    path
}

#[test]
fn standard_input_is_read_as_network_logs_and_alerts_name_the_client() {
    let tmp = tempfile::tempdir().unwrap();
    let iocs = stix(tmp.path());
    let devices = tmp.path().join("devices.csv");
    std::fs::write(&devices, "10.1.1.20,iPhone 15,Anna Member,,\n").unwrap();
    let out = portcullis()
        .current_dir(tmp.path())
        .args([
            "check",
            "-",
            "--no-installed",
            "--output",
            "results",
            "--iocs",
        ])
        .arg(&iocs)
        .arg("--devices")
        .arg(&devices)
        .write_stdin(DNS_JSON)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("1 of 1 file(s) read: 2 lines, 2 records, 0 malformed"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "[zeek_dns] DNS query c2.evil.com from 10.1.1.20 (iPhone 15, Anna Member) matches \
             indicator \"evil.com\" from \"Spy\""
        ),
        "{stdout}"
    );
    assert!(stdout.contains("in -, line 1"), "{stdout}");
    assert!(
        stdout.contains("iPhone 15 (Anna Member): 1 alert(s) from 10.1.1.20"),
        "{stdout}"
    );
    assert!(!stdout.contains("notevil"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("results/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["info"]["input_kind"], "network_logs");
    assert_eq!(report["alerts"].as_array().unwrap().len(), 1);
}

#[test]
fn kind_forces_a_format_and_a_wrong_one_is_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let iocs = stix(tmp.path());
    let log = tmp.path().join("dns.json");
    std::fs::write(&log, DNS_JSON).unwrap();
    let out = portcullis()
        .args([
            "check",
            "--kind",
            "suricata",
            "--no-installed",
            "--json",
            "--output",
        ])
        .arg(tmp.path().join("out"))
        .arg("--iocs")
        .arg(&iocs)
        .arg(&log)
        .output()
        .unwrap();
    // Nothing could be read: the check is incomplete, and says why.
    assert_eq!(out.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["warnings"][0],
        format!(
            "{}: not a suricata log or capture this tool can read",
            log.display()
        )
    );
    assert_eq!(report["coverage"]["status"], "incomplete");

    let out = portcullis()
        .args(["check", "--kind", "nonsense"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("possible values:"), "{stderr}");
    assert!(
        stderr.contains("zeek") && stderr.contains("suricata"),
        "{stderr}"
    );
}
