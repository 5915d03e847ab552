//! BIND 9: the real security/xfer samples (../shared) counted line by line, and a self-made
//! `queries` channel log in every prefix style BIND writes, with planted hits and look-alikes.

mod common;

use common::{counts, hits, indicators, read, sample, write};

#[test]
fn real_security_and_xfer_lines_are_all_read() {
    let Some(dir) = sample("dns-server-logs/bind") else {
        return;
    };
    let ind = indicators(&["[domain-name:value = 'example.com']"]);
    // (file, lines, records, hits): every line names a client and what it asked for (denied
    // queries, zone transfers, a bad transfer request), with or without BIND's time and
    // category, native or in syslog; the only lines not read are the 3 blank ones.
    for (file, lines, records, found) in [
        ("crowdsec_bind9-logs.log", 13, 13, 11),
        ("crowdsec_bind9-refused.log", 26, 23, 23),
        ("crowdsec_bind9-syslog.log", 12, 12, 11),
    ] {
        let run = read(&dir.join(file), &ind);
        assert_eq!(run.format.unwrap().1.slug, "bind_queries", "{file}");
        assert_eq!(counts(&run), (lines, records, 0), "{file}");
        assert_eq!(hits(&run).len(), found, "{file}");
    }
    let logs = read(&dir.join("crowdsec_bind9-logs.log"), &ind);
    let found = hits(&logs);
    assert_eq!(found[0], "1 query example.com→example.com 192.168.1.1");
    // `(wr_test)` lines (10 and 13) asked for another name.
    assert!(
        !found
            .iter()
            .any(|h| h.starts_with("10 ") || h.starts_with("13 "))
    );
    assert!(found.contains(&"9 query example.com→example.com ::1".to_string()));
    let tally = &logs.outcome.as_ref().unwrap().tally;
    // 19-Oct-2022 05:34:02.425; line 8 has no time at all.
    assert_eq!(tally.hits[0].time, Some(1_666_157_642_425_000));
    assert_eq!(tally.hits[0].client_port.as_deref(), Some("3076"));
    assert!(tally.hits.iter().any(|h| h.line == 8 && h.time.is_none()));
    assert_eq!(tally.clients.len(), 3);

    let syslog = read(&dir.join("crowdsec_bind9-syslog.log"), &ind);
    let tally = &syslog.outcome.as_ref().unwrap().tally;
    // BIND's own time (with its year) wins over the syslog header's.
    assert_eq!(tally.hits[0].time, Some(1_666_157_642_425_000));
    assert_eq!(
        tally.hits[3].client.as_deref(),
        Some("2003:f8:733:b600:6018:bbe4:d0ed:22")
    );
    // Line 8 has only the syslog time, `Nov 13 10:59:46` of the file's year.
    assert!(tally.hits.iter().any(|h| h.line == 8 && h.time.is_some()));
}

const LOG: &str = "\
03-Dec-2026 10:15:02.123 queries: info: client @0x7f2c3c0a1b68 192.0.2.10#53211 (c2.evil.com): query: c2.evil.com IN A +E(0)K (192.0.2.1)
03-Dec-2026 10:15:03.000 client @0x7f2c3c0a1b68 192.0.2.11#40000 (notevil.com): query: notevil.com IN AAAA +E(0)DC (192.0.2.1)
client 192.0.2.12#1234 (evil.com.attacker.net): query: evil.com.attacker.net IN A + (192.0.2.1)
Dec  3 10:15:05 ns1 named[812]: client @0x7f2c3c0a2000 2001:db8::5#5353 (Evil.COM): query: Evil.COM IN TXT -E(0) (2001:db8::53)
03-Dec-2026 10:15:06.000 client @0x7f2c3c0a2000 192.0.2.13#999 (www.example.com): view internal: query: www.example.com IN A +E(0)K (192.0.2.1) [ECS 198.51.100.0/24/0]
2026-12-03T10:15:07.000Z security: info: client @0x7f2c3c0a3000 192.0.2.14#1 (x.evil.com): query (cache) 'x.evil.com/A/IN' denied (allow-query-cache did not match)
03-Dec-2026 10:15:08.000 general: info: zone example.com/IN: loaded serial 2026120301
client 192.0.2.15#2 (203.0.113.5): query: 203.0.113.5 IN A + (192.0.2.1)
client 192.0.2.15#3 (203.0.113.50): query: 203.0.113.50 IN A + (192.0.2.1)
03-Dec-2026 10:15:09.000 client @0x
03-Dec-2026 10:15:09.500 client 192.0.2.16#abc (a.example): query: a.example IN A + (192.0.2.1)
this is not a BIND line
BINARY
Dec  3 10:15:10 ns1 sshd[99]: Accepted publickey for root

";

#[test]
fn planted_hits_and_look_alikes_in_a_self_made_queries_log() {
    // Line 13 is binary garbage (not UTF-8).
    let (before, after) = LOG.split_once("BINARY").unwrap();
    let bytes = [
        before.as_bytes(),
        &[0xff, 0xfe, 0x00, 0x01],
        after.as_bytes(),
    ]
    .concat();
    let (_dir, path) = write("query.log", &bytes);
    let ind = indicators(&[
        "[domain-name:value = 'evil.com']",
        "[ipv4-addr:value = '203.0.113.5']",
    ]);
    let run = read(&path, &ind);
    assert_eq!(run.format.unwrap().1.slug, "bind_queries");
    // 15 lines (one blank); the zone-load line is a record with nothing to check; lines 10
    // to 14 are malformed (no addr#port, a port that is not a number, not BIND's, binary,
    // another program's syslog line).
    assert_eq!(counts(&run), (15, 9, 5));
    assert_eq!(
        hits(&run),
        [
            "1 query c2.evil.com→evil.com 192.0.2.10",
            "4 query Evil.COM→evil.com 2001:db8::5",
            "6 query x.evil.com→evil.com 192.0.2.14",
            "8 query 203.0.113.5→203.0.113.5 192.0.2.15",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].time, Some(1_796_292_902_123_000));
    assert_eq!(tally.hits[0].client_port.as_deref(), Some("53211"));
    assert_eq!(tally.hits[0].server.as_deref(), Some("192.0.2.1"));
    // Syslog time without a year: the file's modification year (now).
    assert!(tally.hits[1].time.is_some());
    assert_eq!(tally.hits[2].time, Some(1_796_292_907_000_000));
    let reasons: Vec<_> = tally
        .malformed_listed
        .iter()
        .map(|n| (n.first_line, n.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (10, "a client line without the client's addr#port"),
            (12, "not a BIND log line"),
            (13, "not text (binary data in the log)"),
            (14, "a syslog line from a program other than named"),
        ]
    );
    assert_eq!(tally.malformed_listed[0].count, 2);
}
