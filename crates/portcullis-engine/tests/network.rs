//! A network check through the engine, as `portcullis check` runs it: a folder of Zeek logs,
//! the office's devices file and the DHCP leases in the logs tie each alert to the device
//! that held the address at the time, also when an address changed hands during the day.

use std::path::Path;

use portcullis_engine::{CheckOptions, Devices, Input, LoadedIndicators, NetworkOptions, Secrets};
use portcullis_indicators::Indicators;
use portcullis_posture::Snapshot;

/// 2026-12-03 00:00:00 UTC.
const DAY: u64 = 1_796_256_000;

fn at(hours: u64, minutes: u64) -> String {
    format!("{}.000000", DAY + hours * 3600 + minutes * 60)
}

const HEADER: &str =
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n";

/// A Zeek `dhcp.log` as Zeek 6 writes it: `10.1.1.20` leased to one phone in the morning and
/// to another in the afternoon; `10.1.1.30` to a tablet no devices row names.
fn dhcp_log() -> String {
    let mut log = format!(
        "{HEADER}#path\tdhcp\n#open\t2026-12-03-00-00-00\n\
         #fields\tts\tuids\tclient_addr\tserver_addr\tmac\thost_name\tclient_fqdn\tdomain\trequested_addr\tassigned_addr\tlease_time\tclient_message\tserver_message\tmsg_types\tduration\n\
         #types\ttime\tset[string]\taddr\taddr\tstring\tstring\tstring\tstring\taddr\taddr\tinterval\tstring\tstring\tvector[string]\tinterval\n"
    );
    for (time, mac, host, address) in [
        (at(8, 0), "aa:bb:cc:00:00:01", "annas-iphone", "10.1.1.20"),
        (at(13, 0), "aa:bb:cc:00:00:02", "Pixel-8", "10.1.1.20"),
        (at(8, 30), "aa:bb:cc:00:00:03", "tablet", "10.1.1.30"),
    ] {
        log.push_str(&format!(
            "{time}\tCx1\t-\t10.1.1.1\t{mac}\t{host}\t-\tlan\t{address}\t{address}\t14400.000000\t-\t-\tREQUEST,ACK\t0.004\n"
        ));
    }
    log.push_str("#close\t2026-12-04-00-00-00\n");
    log
}

/// A Zeek `dns.log`: one query per row, the planted ones and a look-alike.
fn dns_log() -> String {
    let mut log = format!(
        "{HEADER}#path\tdns\n#open\t2026-12-03-00-00-00\n\
         #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n\
         #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n"
    );
    for (time, client, query) in [
        (at(9, 0), "10.1.1.20", "c2.evil.com"),   // Anna's phone
        (at(9, 5), "10.1.1.20", "notevil.com"),   // look-alike: no alert
        (at(10, 0), "10.1.1.5", "evil.com"),      // the laptop's row ended yesterday
        (at(12, 30), "10.1.1.20", "evil.com"),    // between leases: nobody's
        (at(14, 0), "10.1.1.20", "cdn.evil.com"), // Ben's phone
        (at(11, 0), "10.1.1.30", "evil.com"),     // the tablet, by its DHCP host name
        (at(16, 0), "10.1.1.40", "evil.com"),     // fixed address in the devices file
    ] {
        log.push_str(&format!(
            "{time}\tCq\t{client}\t53211\t10.1.1.1\t53\tudp\t1\t0.01\t{query}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t203.0.113.9\t60.0\tF\n"
        ));
    }
    log
}

const DEVICES: &str = "address or MAC,device,owner,valid from,valid to\n\
    aa:bb:cc:00:00:01,iPhone 15,Anna Member,,\n\
    AA-BB-CC-00-00-02,Pixel 8,Ben Member,2026-12-01,\n\
    10.1.1.5,Office laptop,Carl Staff,2026-11-01,2026-12-02\n\
    10.1.1.40,Desk phone,Dana Staff,,\n";

#[test]
fn alerts_are_tied_to_the_device_that_held_the_address_then() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("dhcp.log"), dhcp_log()).unwrap();
    std::fs::write(logs.join("dns.log"), dns_log()).unwrap();
    std::fs::write(logs.join("README"), "sensor 3, rotated daily\n").unwrap();
    let devices_path = tmp.path().join("devices.csv");
    std::fs::write(&devices_path, DEVICES).unwrap();
    let devices = Devices::load(&devices_path).unwrap();

    let mut ind = Indicators::new();
    ind.load_bundle(
        portcullis_indicators::test_bundle_json("Spy", &["[domain-name:value = 'evil.com']"])
            .as_bytes(),
        Path::new("spy.stix2"),
    )
    .unwrap();
    let indicators = LoadedIndicators {
        indicators: ind,
        ..LoadedIndicators::default()
    };
    let input = Input::detect(&logs).unwrap();
    assert_eq!(input, Input::Network { kind: None });
    let snapshot = Snapshot::bundled();
    let out = tmp.path().join("out");
    let options = CheckOptions {
        network: NetworkOptions {
            kind: None,
            devices: Some(&devices),
        },
        ..CheckOptions::new(&out, &snapshot)
    };
    let checked =
        portcullis_engine::check(&logs, &input, &indicators, &Secrets::default(), &options)
            .unwrap();
    let report = &checked.report;
    assert_eq!(report.info.input_kind.as_str(), "network_logs");
    let who: Vec<(String, Option<&str>, Option<&str>, &str)> = report
        .alerts
        .iter()
        .map(|a| {
            (
                a.timestamp.clone().unwrap_or_default(),
                a.event["device"].as_str(),
                a.event["owner"].as_str(),
                a.matched_value.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            (
                "2026-12-03 09:00:00.000000".into(),
                Some("iPhone 15"),
                Some("Anna Member"),
                "c2.evil.com"
            ),
            ("2026-12-03 10:00:00.000000".into(), None, None, "evil.com"),
            ("2026-12-03 12:30:00.000000".into(), None, None, "evil.com"),
            (
                "2026-12-03 14:00:00.000000".into(),
                Some("Pixel 8"),
                Some("Ben Member"),
                "cdn.evil.com"
            ),
            (
                "2026-12-03 11:00:00.000000".into(),
                Some("tablet"),
                None,
                "evil.com"
            ),
            (
                "2026-12-03 16:00:00.000000".into(),
                Some("Desk phone"),
                Some("Dana Staff"),
                "evil.com"
            ),
        ]
    );
    let first = &report.alerts[0];
    assert_eq!(first.module, "zeek_dns");
    assert_eq!(
        first.event["attributed_by"],
        "DHCP lease of aa:bb:cc:00:00:01"
    );
    assert_eq!(report.alerts[5].event["attributed_by"], "devices file");
    assert!(
        first
            .source
            .as_deref()
            .unwrap()
            .ends_with("dns.log, line 9")
    );
    assert_eq!(
        first.message,
        "DNS query c2.evil.com from 10.1.1.20 (iPhone 15, Anna Member) matches indicator \
         \"evil.com\" from \"Spy\""
    );

    let net = report.network.as_ref().unwrap();
    assert_eq!(net.files.len(), 3);
    assert_eq!((net.lines, net.records, net.malformed), (27, 10, 0));
    assert_eq!(net.leases_seen, 3);
    assert_eq!(net.clients_seen, 4);
    let groups: Vec<(Option<&str>, usize, Vec<&str>)> = net
        .by_device
        .iter()
        .map(|g| {
            (
                g.device.as_deref(),
                g.alerts,
                g.clients.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    // Two unattributed alerts from two addresses are two groups; every device its own.
    assert_eq!(groups.len(), 6);
    assert!(groups.contains(&(Some("iPhone 15"), 1, vec!["10.1.1.20"])));
    assert!(groups.contains(&(Some("Pixel 8"), 1, vec!["10.1.1.20"])));
    assert!(groups.contains(&(None, 1, vec!["10.1.1.20"])));
    assert!(groups.contains(&(None, 1, vec!["10.1.1.5"])));
    let contact = net
        .contacts
        .iter()
        .find(|c| c.client.as_deref() == Some("10.1.1.20"))
        .unwrap();
    assert_eq!(contact.indicator, "evil.com");
    assert_eq!(contact.contacts, 3);
    assert_eq!(contact.first.as_deref(), Some("2026-12-03 09:00:00.000000"));
    assert_eq!(contact.last.as_deref(), Some("2026-12-03 14:00:00.000000"));
    // The README is listed as not a log, without making the check partial.
    assert!(
        net.files
            .iter()
            .any(|f| f.file.ends_with("README") && f.error.is_some())
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.info.hashes.len(), 3);
    assert!(report.posture.is_empty());

    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(written["network"]["leases_seen"], 3);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("id=\"net-devices\""));
    assert!(html.contains("Anna Member"));
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("zeek_dns.json")).unwrap()).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 6);
}

#[test]
fn a_devices_file_that_lies_is_refused_with_its_line() {
    let err = Devices::read(
        "aa:bb:cc:00:00:01,phone,me,2026-12-05,2026-12-01\n".as_bytes(),
        "d.csv",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "d.csv, line 1: valid to is not after valid from"
    );
}

#[test]
fn unreadable_lines_make_the_check_partial_not_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("dns.log");
    let mut text = dns_log();
    text.push_str("not\ta\tzeek\tline\n");
    std::fs::write(&log, text).unwrap();
    let input = Input::detect(&log).unwrap();
    let snapshot = Snapshot::bundled();
    let out = tmp.path().join("out");
    let checked = portcullis_engine::check(
        &log,
        &input,
        &LoadedIndicators::default(),
        &Secrets::default(),
        &CheckOptions::new(&out, &snapshot),
    )
    .unwrap();
    let report = &checked.report;
    assert_eq!(report.coverage.status.as_str(), "partial");
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("1 of 16 lines could not be read and were not checked"),
        "{}",
        report.warnings[0]
    );
}
