//! Squid access.log: the real native-format sample (../shared) counted exactly, and self-made
//! native and common-format logs with planted hits and look-alikes.

mod common;

use common::{counts, hits, indicators, read, sample, write};

#[test]
fn real_native_access_log_is_read_whole() {
    let Some(dir) = sample("squid") else {
        return;
    };
    let ind = indicators(&[
        "[domain-name:value = 'yahoo.com']",
        "[ipv4-addr:value = '175.16.199.115']",
    ]);
    let run = read(
        &dir.join("elastic-integrations_squid_test-access.log"),
        &ind,
    );
    assert_eq!(run.format.unwrap().1.slug, "squid_access");
    assert_eq!(counts(&run), (100, 100, 0));
    let found = hits(&run);
    let count = |seen: &str| found.iter().filter(|h| h.contains(seen)).count();
    // 38 requests to *.yahoo.com: 33 with a URL (URL and host both match), 5 CONNECTs (a host
    // only); 2 requests went DIRECT to 175.16.199.115 (lines 1 and 23), none of the others
    // to an address that merely starts the same.
    assert_eq!(count(" http_url "), 33);
    assert_eq!(count(" http_host "), 38);
    assert_eq!(
        found
            .iter()
            .filter(|h| h.contains(" destination "))
            .collect::<Vec<_>>(),
        [
            "1 destination 175.16.199.115→175.16.199.115 10.105.21.199",
            "23 destination 175.16.199.115→175.16.199.115 10.105.21.199",
        ]
    );
    assert_eq!(found.len(), 73);
    assert_eq!(
        found[0],
        "1 http_host login.yahoo.com→yahoo.com 10.105.21.199"
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].time, Some(1_157_689_312_049_000));
    assert_eq!(tally.clients.len(), 9);
}

#[test]
fn planted_hits_and_look_alikes_native_and_common() {
    let log = "\
1796292902.123    120 192.0.2.10 TCP_MISS/200 1520 GET http://c2.evil.com/gate.php?id=1 - HIER_DIRECT/203.0.113.5 text/html
1796292903.000     80 192.0.2.11 TCP_MISS/200 900 GET http://notevil.com/ - HIER_DIRECT/203.0.113.50 text/html
1796292904.000   5006 192.0.2.12 TCP_TUNNEL/200 4000 CONNECT evil.com.attacker.net:443 - HIER_DIRECT/198.51.100.3 -
1796292905.000   5006 192.0.2.13 TCP_TUNNEL/200 4000 CONNECT Evil.COM:443 alice HIER_DIRECT/198.51.100.4 -
1796292906.000      0 192.0.2.14 TCP_DENIED/403 3900 GET http://[2001:db8::1]:8080/x - HIER_NONE/- text/html
1796292907.000      1 192.0.2.15 NONE_NONE/400 3900 NONE error:transaction-end-before-headers - HIER_NONE/- -
1796292908.000     30 192.0.2.16 TCP_MISS/200 100 GET http://cdn.example.net/a - FIRSTUP_PARENT/proxy.example.net -
1796292908.500     30 2001:db8::16 TCP_MISS/200 100 GET http://cdn.example.net/b - HIER_DIRECT/2001:db8:bad::5 -
192.0.2.17 - bob [03/Dec/2026:11:15:09 +0100] \"GET http://ads.evil.com/pixel.gif HTTP/1.1\" 200 43 TCP_MISS:HIER_DIRECT
192.0.2.18 - - [03/Dec/2026:10:15:10 +0000] \"CONNECT www.evil.com:443 HTTP/1.1\" 200 0 \"-\" \"curl/8\" TCP_TUNNEL:HIER_DIRECT
1796292911.000 oops
192.0.2.19 - - [yesterday] \"GET http://x.evil.com/ HTTP/1.1\" 200 1
";
    let (_dir, path) = write("access.log", log.as_bytes());
    let ind = indicators(&[
        "[domain-name:value = 'evil.com']",
        "[ipv4-addr:value = '203.0.113.5']",
        "[ipv6-addr:value = '2001:db8:bad::5']",
    ]);
    let run = read(&path, &ind);
    assert_eq!(run.format.unwrap().1.slug, "squid_access");
    assert_eq!(counts(&run), (12, 10, 2));
    assert_eq!(
        hits(&run),
        [
            "1 http_url http://c2.evil.com/gate.php?id=1→evil.com 192.0.2.10",
            "1 http_host c2.evil.com→evil.com 192.0.2.10",
            "1 destination 203.0.113.5→203.0.113.5 192.0.2.10",
            "4 http_host Evil.COM→evil.com 192.0.2.13",
            "8 destination 2001:db8:bad::5→2001:db8:bad::5 2001:db8::16",
            "9 http_url http://ads.evil.com/pixel.gif→evil.com 192.0.2.17",
            "9 http_host ads.evil.com→evil.com 192.0.2.17",
            "10 http_host www.evil.com→evil.com 192.0.2.18",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].time, Some(1_796_292_902_123_000));
    assert_eq!(tally.hits[0].server.as_deref(), Some("203.0.113.5"));
    // 11:15:09 +0100 is 10:15:09 UTC.
    assert_eq!(tally.hits[5].time, Some(1_796_292_909_000_000));
    let reasons: Vec<_> = tally
        .malformed_listed
        .iter()
        .map(|n| (n.first_line, n.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (11, "not a Squid native access.log line"),
            (12, "not a common log format line"),
        ]
    );
}
