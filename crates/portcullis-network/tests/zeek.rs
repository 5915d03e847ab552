//! Zeek logs: the real samples Zeek wrote (../shared) and self-made logs in both of Zeek's
//! formats, with planted hits and look-alikes.

mod common;

use common::{counts, hits, indicators, read, sample, write};

const HEADER: &str =
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n";

fn dns_log(rows: &[&str]) -> String {
    let mut log = format!(
        "{HEADER}#path\tdns\n#open\t2026-12-01-00-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n"
    );
    for row in rows {
        log.push_str(row);
        log.push('\n');
    }
    log.push_str("#close\t2026-12-01-01-00-00\n");
    log
}

/// A dns.log row from client `client` asking `query`, answered with `answers`.
fn dns_row(ts: &str, client: &str, query: &str, answers: &str) -> String {
    format!(
        "{ts}\tC1\t{client}\t53124\t192.168.1.1\t53\tudp\t1\t0.01\t{query}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t{answers}\t60.000000\tF"
    )
}

#[test]
fn wikipedia_dns_conn_http_as_zeek_wrote_them() {
    let Some(dir) = sample("zeek-tsv") else {
        return;
    };
    let ind = indicators(&[
        "[domain-name:value = 'wikimedia.org']",
        "[ipv4-addr:value = '208.80.152.3']",
    ]);
    let dns = read(&dir.join("zeek-btest_wikipedia_dns.log"), &ind);
    assert_eq!(dns.format.unwrap().1.slug, "zeek_dns");
    // 34 rows, 10 header lines (the btest banner, 8 directives, no #close).
    assert_eq!(counts(&dns), (44, 34, 0));
    let found = hits(&dns);
    // 10 queries for meta./upload.wikimedia.org, 6 of them answered with CNAMEs on the
    // same domain, 4 answers with 208.80.152.3; upload.wikimedia.org.ncsa.uiuc.edu (4 rows)
    // is a look-alike and is not there.
    let count = |seen: &str| found.iter().filter(|h| h.contains(seen)).count();
    assert_eq!(count(" query "), 10, "{found:#?}");
    assert_eq!(count(" cname "), 6);
    assert_eq!(count(" answer 208.80.152.3→208.80.152.3 "), 4);
    assert!(found.iter().all(|h| h.ends_with(" 141.142.220.118")));
    assert!(!found.iter().any(|h| h.contains("ncsa.uiuc.edu")));
    let tally = &dns.outcome.as_ref().unwrap().tally;
    // btest masks times: unknown, not invented.
    assert!(tally.hits.iter().all(|h| h.time.is_none()));
    assert_eq!(tally.clients.len(), 8);

    let conn = read(&dir.join("zeek-btest_wikipedia_conn.log"), &ind);
    assert_eq!(conn.format.unwrap().1.slug, "zeek_conn");
    assert_eq!((counts(&conn).1, counts(&conn).2), (34, 0));
    let conn_hits = hits(&conn);
    assert!(
        conn_hits
            .iter()
            .all(|h| h.contains(" destination 208.80.152.3→"))
    );
    assert!(!conn_hits.is_empty());

    let http = read(&dir.join("zeek-btest_wikipedia_http.log"), &ind);
    assert_eq!(http.format.unwrap().1.slug, "zeek_http");
    assert_eq!((counts(&http).1, counts(&http).2), (14, 0));
    let http_hits = hits(&http);
    // Every request's Host is on wikimedia.org; the URL is rebuilt from host and uri.
    assert_eq!(
        http_hits
            .iter()
            .filter(|h| h.contains(" http_host "))
            .count(),
        14
    );
    assert!(http_hits.iter().any(|h| h.contains(
        " http_url http://upload.wikimedia.org/wikipedia/commons/6/63/Wikipedia-logo.png→wikimedia.org "
    )));
}

#[test]
fn tls_sessions_and_certificates_by_name_and_fingerprint() {
    let Some(dir) = sample("zeek-tsv") else {
        return;
    };
    let ind = indicators(&[
        "[domain-name:value = 'www.google.com']",
        "[x509-certificate:hashes.'SHA-256' = 'C4D4C1FDE956A63916E6886DF676570DA046396D31EE1F8AAD5D59C8865D274D']",
    ]);
    let ssl = read(&dir.join("zeek-btest_google-cert-repeat_ssl.log"), &ind);
    assert_eq!(ssl.format.unwrap().1.slug, "zeek_ssl");
    assert_eq!((counts(&ssl).1, counts(&ssl).2), (8, 0));
    let found = hits(&ssl);
    // 4 of the 8 sessions sent SNI www.google.com; those 4 got the certificate whose
    // fingerprint is the indicator (the others got 7c4cb8…).
    assert_eq!(found.iter().filter(|h| h.contains(" sni ")).count(), 4);
    assert_eq!(
        found.iter().filter(|h| h.contains(" cert_sha256 ")).count(),
        4
    );
    assert_eq!(found.len(), 8, "{found:#?}");

    let x509 = read(&dir.join("zeek-btest_google-cert-repeat_x509.log"), &ind);
    assert_eq!(x509.format.unwrap().1.slug, "zeek_x509");
    assert_eq!((counts(&x509).1, counts(&x509).2), (4, 0));
    let found = hits(&x509);
    // Two certificates for www.google.com (subject CN and SAN: one hit per line), one of
    // them also by fingerprint (matched whatever the case; the indicator as written).
    assert_eq!(
        found,
        [
            "10 cert_name www.google.com→www.google.com -",
            "13 cert_sha256 c4d4c1fde956a63916e6886df676570da046396d31ee1f8aad5d59c8865d274d→C4D4C1FDE956A63916E6886DF676570DA046396D31EE1F8AAD5D59C8865D274D -",
            "13 cert_name www.google.com→www.google.com -",
        ]
    );
}

#[test]
fn dhcp_logs_give_leases_only_for_acknowledged_addresses() {
    let Some(dir) = sample("zeek-tsv") else {
        return;
    };
    let ind = indicators(&["[domain-name:value = 'evil.example']"]);
    let all = read(&dir.join("zeek-btest_dhcp-all-msg-types_dhcp.log"), &ind);
    assert_eq!(all.format.unwrap().1.slug, "zeek_dhcp");
    assert_eq!((counts(&all).1, counts(&all).2), (3, 0));
    // The one exchange with an address ended in DECLINE: no lease.
    assert!(all.outcome.as_ref().unwrap().tally.leases.is_empty());

    let flood = read(
        &dir.join("zeek-btest_dhcp-prevent-large-uids_dhcp.log"),
        &ind,
    );
    assert_eq!((counts(&flood).1, counts(&flood).2), (63, 0));
    let leases = &flood.outcome.as_ref().unwrap().tally.leases;
    // 63 INFORM/ACK exchanges, each from a client naming its own address.
    assert_eq!(leases.len(), 63);
    assert_eq!(leases[0].mac, "90:b1:1c:99:49:29");
    assert_eq!(leases[0].address, "128.2.5.239");
}

#[test]
fn a_2011_bro_browsing_session() {
    let Some(dir) = sample("zeek-tsv") else {
        return;
    };
    let ind = indicators(&["[domain-name:value = 'doubleclick.net']"]);
    let conn = read(&dir.join("lnav_bro_conn.log"), &ind);
    assert_eq!((counts(&conn).1, counts(&conn).2), (92, 0));
    let http = read(&dir.join("lnav_bro_http.log"), &ind);
    assert_eq!((counts(&http).1, counts(&http).2), (197, 0));
    let tally = &http.outcome.as_ref().unwrap().tally;
    let first = &tally.hits[0];
    assert_eq!(first.indicator.input, "ad.doubleclick.net");
    // Real epoch times are read.
    assert!(first.time.is_some_and(|t| t > 1_320_000_000_000_000));
}

#[test]
fn planted_hits_and_look_alikes_in_a_self_made_dns_log() {
    let log = dns_log(&[
        &dns_row(
            "1764547200.000001",
            "10.0.0.5",
            "c2.evil.com",
            "203.0.113.7",
        ),
        &dns_row("1764547201.5", "10.0.0.6", "notevil.com", "198.51.100.1"),
        &dns_row(
            "1764547202.0",
            "10.0.0.6",
            "evil.com.attacker.net",
            "203.0.11.3",
        ),
        &dns_row(
            "1764547203.0",
            "10.0.0.7",
            "cdn.example.net",
            "edge.evil.com,203.0.113.9",
        ),
        &dns_row(
            "1764547204.0",
            "10.0.0.8",
            "host\\x09with\\x2ctab.example",
            "-",
        ),
        "1764547205.0\ttoo\tfew\tcolumns",
    ]);
    let (_dir, path) = write("dns.log", log.as_bytes());
    let ind = indicators(&[
        "[domain-name:value = 'evil.com']",
        "[ipv4-addr:value = '203.0.113.0/24']",
    ]);
    let run = read(&path, &ind);
    assert_eq!(counts(&run), (15, 5, 1));
    assert_eq!(
        hits(&run),
        [
            "9 query c2.evil.com→evil.com 10.0.0.5",
            "9 answer 203.0.113.7→203.0.113.0/24 10.0.0.5",
            "12 cname edge.evil.com→evil.com 10.0.0.7",
            "12 answer 203.0.113.9→203.0.113.0/24 10.0.0.7",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].time, Some(1_764_547_200_000_001));
    assert_eq!(tally.hits[0].client_port.as_deref(), Some("53124"));
    assert_eq!(tally.hits[0].server.as_deref(), Some("192.168.1.1"));
    assert_eq!(tally.malformed_listed[0].first_line, 14);
    assert_eq!(
        tally.malformed_listed[0].reason,
        "4 columns where the #fields header names 24"
    );
}

#[test]
fn a_lying_header_is_reported_once_and_a_new_header_mid_file_is_followed() {
    let mut log = dns_log(&[&dns_row("1.0", "10.0.0.1", "a.example", "-")]);
    for _ in 0..50 {
        log.push_str("1.0\tonly\tthree\n");
    }
    // Concatenated logs: a second header block, with fewer fields.
    log.push_str("#separator \\x09\n#fields\tts\tid.orig_h\tquery\n1.0\t10.0.0.9\tc2.evil.com\n");
    let (_dir, path) = write("dns.log", log.as_bytes());
    let run = read(&path, &indicators(&["[domain-name:value = 'evil.com']"]));
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.malformed, 50);
    assert_eq!(tally.malformed_listed.len(), 1);
    assert_eq!(tally.malformed_listed[0].count, 50);
    assert_eq!(hits(&run), ["63 query c2.evil.com→evil.com 10.0.0.9"]);
}

#[test]
fn zeek_json_logs_nested_or_flat_gzip_or_not() {
    let log = concat!(
        r#"{"ts":1764547200.25,"uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":5353,"id.resp_h":"192.168.1.1","id.resp_p":53,"proto":"udp","query":"c2.evil.com","qtype_name":"A","answers":["edge.example.net","203.0.113.7"],"TTLs":[60.0,60.0]}"#,
        "\n",
        r#"{"ts":"2025-12-01T00:00:01.000000Z","uid":"C2","id":{"orig_h":"10.0.0.6","orig_p":1,"resp_h":"192.168.1.1","resp_p":53},"query":"notevil.com","qtype_name":"A"}"#,
        "\n",
        "{not json\n",
    );
    let ind = indicators(&[
        "[domain-name:value = 'evil.com']",
        "[ipv4-addr:value = '203.0.113.0/24']",
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, log.as_bytes()).unwrap();
    for (name, bytes) in [
        ("dns.json", log.as_bytes().to_vec()),
        ("dns.json.gz", gz.finish().unwrap()),
    ] {
        let (_dir, path) = write(name, &bytes);
        let run = read(&path, &ind);
        assert_eq!(run.format.unwrap().1.slug, "zeek_dns", "{name}");
        assert_eq!(counts(&run), (3, 2, 1), "{name}");
        assert_eq!(
            hits(&run),
            [
                "1 query c2.evil.com→evil.com 10.0.0.5",
                "1 answer 203.0.113.7→203.0.113.0/24 10.0.0.5",
            ]
        );
        let tally = &run.outcome.as_ref().unwrap().tally;
        assert_eq!(tally.hits[0].time, Some(1_764_547_200_250_000));
        assert_eq!(tally.clients.len(), 2);
    }
}
