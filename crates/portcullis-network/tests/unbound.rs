//! Unbound: self-made logs with `log-queries`, `log-replies` and `log-local-actions` lines in
//! each of Unbound's layouts (epoch in brackets, `log-time-ascii`, syslog), with planted hits
//! and look-alikes. There is no real Unbound sample in ../shared.

mod common;

use common::{counts, hits, indicators, read, write};

const LOG: &str = "\
[1796292902] unbound[1234:0] info: 192.0.2.10 c2.evil.com. A IN
[1796292902] unbound[1234:0] info: 192.0.2.10 c2.evil.com. A IN NOERROR 0.000123 0 45
[1796292903] unbound[1234:1] info: 192.0.2.11 notevil.com. AAAA IN
[1796292904] unbound[1234:1] info: 2001:db8::7 evil.com.attacker.net. A IN NXDOMAIN 0.021511 0 112
Dec 03 10:15:05 unbound[1234:0] info: 192.0.2.12 EVIL.com. TXT IN
Dec  3 10:15:06 resolver1 unbound: [1234:0] info: 192.0.2.13 deep.sub.evil.com. HTTPS IN SERVFAIL 1.500000 0 40
[1796292907] unbound[1234:0] info: ads.evil.com. always_nxdomain 192.0.2.14@53211 ads.evil.com. A IN
[1796292908] unbound[1234:0] info: 192.0.2.15 203.0.113.5. A IN
[1796292909] unbound[1234:0] info: 192.0.2.15 203.0.113.50. A IN
[1796292910] unbound[1234:0] notice: init module 0: validator
[1796292911] unbound[1234:0] info: server stats for thread 0: 12 queries, 3 answers from cache, 9 recursions, 0 prefetch, 0 rejected by ip ratelimiting
[1796292912] unbound[1234:0] info: not-an-address c3.evil.com. A IN
[notanepoch] unbound[1234:0] info: 192.0.2.16 c4.evil.com. A IN
[1796292913] unbound info: 192.0.2.16 c5.evil.com. A IN
just some text
Dec  3 10:15:20 resolver1 sshd[1]: [1:0] info: 192.0.2.17 c6.evil.com. A IN
[1796292920] unbound[1234:0] query: 192.0.2.18 tagged.evil.com. A IN
[1796292920] unbound[1234:0] reply: 192.0.2.18 tagged.evil.com. A IN NOERROR 0.000010 1 61
[1796292921] unbound[1234:0] reply: 192.0.2.19 - - - FORMERR - - - 
";

#[test]
fn planted_hits_and_look_alikes_in_every_layout() {
    let bytes = [LOG.as_bytes(), b"\xc3\x28 garbage\n"].concat();
    let binary_line = 20;
    let (_dir, path) = write("unbound.log", &bytes);
    let ind = indicators(&[
        "[domain-name:value = 'evil.com']",
        "[ipv4-addr:value = '203.0.113.5']",
    ]);
    let run = read(&path, &ind);
    assert_eq!(run.format.unwrap().1.slug, "unbound_queries");
    // Lines 10-12 are Unbound's, with no client query (start-up, statistics, a first field
    // that is not an address), and so is the FORMERR reply of line 19 (no name); 13-15 and
    // the binary line 20 are not Unbound's prefix. Line 16 has a syslog header and Unbound's
    // `[pid:tid]`: Unbound with another identity, read. 17 and 18 are tagged query/reply.
    assert_eq!(counts(&run), (20, 16, 4));
    assert_eq!(
        hits(&run),
        [
            "1 query c2.evil.com→evil.com 192.0.2.10",
            "2 query c2.evil.com→evil.com 192.0.2.10",
            "5 query EVIL.com→evil.com 192.0.2.12",
            "6 query deep.sub.evil.com→evil.com 192.0.2.13",
            "7 query ads.evil.com→evil.com 192.0.2.14",
            "8 query 203.0.113.5→203.0.113.5 192.0.2.15",
            "16 query c6.evil.com→evil.com 192.0.2.17",
            "17 query tagged.evil.com→evil.com 192.0.2.18",
            "18 query tagged.evil.com→evil.com 192.0.2.18",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].time, Some(1_796_292_902_000_000));
    // `log-time-ascii` and syslog write no year: the file's.
    assert!(tally.hits[2].time.is_some() && tally.hits[3].time.is_some());
    assert_eq!(tally.hits[4].client_port.as_deref(), Some("53211"));
    let reasons: Vec<_> = tally
        .malformed_listed
        .iter()
        .map(|n| (n.first_line, n.reason.as_str(), n.count))
        .collect();
    assert_eq!(
        reasons,
        [
            (13, "not an Unbound log line", 3),
            (binary_line, "not text (binary data in the log)", 1),
        ]
    );
    // 192.0.2.10-15, 192.0.2.17-18 and 2001:db8::7 asked (192.0.2.16 only on malformed
    // lines; the FORMERR line's client is not read, having no question).
    assert_eq!(tally.clients.len(), 9);
}

#[test]
fn a_bind_log_is_not_taken_for_unbound() {
    let log = "03-Dec-2026 10:15:02.123 client 192.0.2.10#53211 (a.example): query: a.example IN A + (192.0.2.1)\n";
    let (_dir, path) = write("x.log", log.as_bytes());
    let run = read(&path, &indicators(&["[domain-name:value = 'evil.com']"]));
    assert_eq!(run.format.unwrap().1.slug, "bind_queries");
    let (_dir, path) = write("y.log", LOG.as_bytes());
    let run = read(&path, &indicators(&["[domain-name:value = 'evil.com']"]));
    assert_eq!(run.format.unwrap().0, "unbound");
}
