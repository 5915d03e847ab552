//! dnsmasq: self-made `log-queries` and `log-queries=extra` logs (dnsmasq's own file, syslog,
//! bare), with planted hits and look-alikes, CNAME chains and DHCP leases. There is no real
//! dnsmasq sample in ../shared.

mod common;

use common::{counts, hits, indicators, read, write};

fn ind() -> portcullis_indicators::Indicators {
    indicators(&[
        "[domain-name:value = 'evil.com']",
        "[ipv4-addr:value = '203.0.113.5']",
    ])
}

#[test]
fn plain_log_queries_with_chains_and_look_alikes() {
    let log = "\
Dec  3 10:15:02 dnsmasq[812]: query[A] c2.evil.com from 192.0.2.10
Dec  3 10:15:02 dnsmasq[812]: forwarded c2.evil.com to 9.9.9.9
Dec  3 10:15:02 dnsmasq[812]: reply c2.evil.com is 198.51.100.7
Dec  3 10:15:03 dnsmasq[812]: query[AAAA] notevil.com from 192.0.2.11
Dec  3 10:15:03 dnsmasq[812]: cached notevil.com is 203.0.113.50
Dec  3 10:15:04 dnsmasq[812]: query[A] evil.com.attacker.net from 192.0.2.12
Dec  3 10:15:04 dnsmasq[812]: reply evil.com.attacker.net is NXDOMAIN
Dec  3 10:15:05 dnsmasq[812]: query[A] www.example.net from 192.0.2.13
Dec  3 10:15:05 dnsmasq[812]: reply www.example.net is <CNAME>
Dec  3 10:15:05 dnsmasq[812]: reply edge.evil.com is <CNAME>
Dec  3 10:15:05 dnsmasq[812]: reply last.example.org is 203.0.113.5
Dec  3 10:15:06 dnsmasq[812]: config router.lan is 192.168.1.1
Dec  3 10:15:06 dnsmasq[812]: /etc/hosts printer.lan is 192.168.1.2
Dec  3 10:15:06 dnsmasq[812]: reply one.example is 198.51.100.9
Dec  3 10:15:07 dnsmasq[812]: started, version 2.90 cachesize 150
Dec  3 10:15:08 dnsmasq-dhcp[812]: DHCPACK(eth0) 192.168.1.50 AA:BB:CC:DD:EE:FF phone
Dec  3 10:15:09 dnsmasq[812]: query[A] from 192.0.2.14
Dec  3 10:15:10 router sshd[1]: Accepted publickey for root
random words
";
    let (_dir, path) = write("dnsmasq.log", log.as_bytes());
    let run = read(&path, &ind());
    assert_eq!(run.format.unwrap().1.slug, "dnsmasq_queries");
    // Line 15 (start-up) and 16 (a lease) are records with no name; 17-19 are malformed.
    assert_eq!(counts(&run), (19, 16, 3));
    assert_eq!(
        hits(&run),
        [
            "1 query c2.evil.com→evil.com 192.0.2.10",
            // The chain after a `<CNAME>`: a target name and the final address.
            "10 cname edge.evil.com→evil.com -",
            "11 answer 203.0.113.5→203.0.113.5 -",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.leases.len(), 1);
    assert_eq!(tally.leases[0].mac, "aa:bb:cc:dd:ee:ff");
    assert_eq!(tally.leases[0].address, "192.168.1.50");
    assert_eq!(tally.leases[0].host_name.as_deref(), Some("phone"));
    let reasons: Vec<_> = tally
        .malformed_listed
        .iter()
        .map(|n| (n.first_line, n.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (17, "a dnsmasq query line without its name or client"),
            (18, "a syslog line from a program other than dnsmasq"),
            (19, "not a dnsmasq log line"),
        ]
    );
}

#[test]
fn extra_mode_attributes_replies_to_the_client_that_asked() {
    let log = "\
dnsmasq[812]: 42 192.0.2.10/53211 query[A] cdn.example.net from 192.0.2.10
dnsmasq[812]: 43 192.0.2.11/40000 query[A] notevil.com from 192.0.2.11
dnsmasq[812]: 42 192.0.2.10/53211 forwarded cdn.example.net to 9.9.9.9
dnsmasq[812]: 43 192.0.2.11/40000 reply notevil.com is 203.0.113.50
dnsmasq[812]: 42 192.0.2.10/53211 reply cdn.example.net is <CNAME>
dnsmasq[812]: 42 192.0.2.10/53211 reply edge.evil.com is 203.0.113.5
dnsmasq[812]: 44 2001:db8::9/5353 query[AAAA] x.evil.com from 2001:db8::9
dnsmasq[812]: 44 2001:db8::9/5353 cached x.evil.com is NODATA-IPv6
dnsmasq[812]: 45 192.0.2.12/1111 query[A] www.example.org from 192.0.2.12
dnsmasq[812]: 45 reply www.example.org is <CNAME>
dnsmasq[812]: 45 reply tracker.evil.com is 198.51.100.20 (EDE: filtered)
dnsmasq[812]: * 192.0.2.13/2222 reply old.example is 203.0.113.5
BINARY
";
    // Line 13 is binary garbage (not UTF-8).
    let (before, after) = log.split_once("BINARY").unwrap();
    let bytes = [before.as_bytes(), &[0xff, 0xfe], after.as_bytes()].concat();
    let (_dir, path) = write("dnsmasq.log", &bytes);
    let run = read(&path, &ind());
    assert_eq!(run.format.unwrap().1.slug, "dnsmasq_queries");
    assert_eq!(counts(&run), (13, 12, 1));
    assert_eq!(
        hits(&run),
        [
            "6 cname edge.evil.com→evil.com 192.0.2.10",
            "6 answer 203.0.113.5→203.0.113.5 192.0.2.10",
            "7 query x.evil.com→evil.com 2001:db8::9",
            // Lines without the client's address: the serial names the client.
            "11 cname tracker.evil.com→evil.com 192.0.2.12",
            // dnsmasq before 2.86: `*` and the address, no serial.
            "12 answer 203.0.113.5→203.0.113.5 192.0.2.13",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[1].client_port.as_deref(), Some("53211"));
    // Bare lines (as journald prints them) have no time.
    assert_eq!(tally.hits[0].time, None);
}

#[test]
fn extra_mode_replies_after_the_bound_lose_only_their_chain() {
    // More queries in flight than the memory holds: the first query is forgotten, its reply
    // still names its client (extra mode writes it on every line) but not its chain.
    let mut log = String::from("dnsmasq[1]: 1 192.0.2.10/1 query[A] a.example from 192.0.2.10\n");
    for serial in 2..=5000 {
        log.push_str(&format!(
            "dnsmasq[1]: {serial} 192.0.2.20/1 query[A] q{serial}.example from 192.0.2.20\n"
        ));
    }
    log.push_str("dnsmasq[1]: 1 192.0.2.10/1 reply b.evil.com is 198.51.100.1\n");
    log.push_str("dnsmasq[1]: 5000 192.0.2.20/1 reply c.evil.com is 198.51.100.1\n");
    let (_dir, path) = write("dnsmasq.log", log.as_bytes());
    let run = read(&path, &ind());
    assert_eq!(counts(&run), (5002, 5002, 0));
    assert_eq!(hits(&run), ["5002 cname c.evil.com→evil.com 192.0.2.20"]);
}

#[test]
fn an_overlong_line_is_counted_and_the_next_line_still_read() {
    // dnsmasq is read by its own in-order reader: it must bound lines like the shared one.
    let mut log = String::from("dnsmasq[1]: query[A] a.example from 192.0.2.1\n");
    log.push_str("dnsmasq[1]: query[A] ");
    log.push_str(&"x".repeat(3 * 1024 * 1024));
    log.push_str(" from 192.0.2.2\r\n");
    log.push_str("dnsmasq[1]: query[A] c2.evil.com from 192.0.2.3\r\n");
    log.push_str("dnsmasq[1]: query[A] last.evil.com from 192.0.2.4");
    let (_dir, path) = write("dnsmasq.log", log.as_bytes());
    let run = read(&path, &ind());
    assert_eq!(counts(&run), (4, 3, 1));
    assert_eq!(
        hits(&run),
        [
            "3 query c2.evil.com→evil.com 192.0.2.3",
            "4 query last.evil.com→evil.com 192.0.2.4",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.malformed_listed[0].first_line, 2);
    assert_eq!(
        tally.malformed_listed[0].reason,
        format!(
            "a line longer than {} bytes",
            portcullis_network::text::MAX_LINE
        )
    );
}
