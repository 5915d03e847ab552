//! Suricata EVE JSON: the real samples (../shared), every DNS layout, TLS and HTTP.

mod common;

use common::{counts, hits, indicators, read, sample};

#[test]
fn real_eve_samples_parse_whole_and_hits_name_the_device() {
    let Some(dir) = sample("suricata-eve") else {
        return;
    };
    let ind = indicators(&[
        "[domain-name:value = 'yahoo.com']",
        "[domain-name:value = 'l2.io']",
        "[ipv4-addr:value = '175.16.199.1']",
    ]);
    for (file, records) in [
        ("crowdsec_suricata-logs-evelog.json", 8),
        ("elastic-integrations_test-eve-dns-4-1-4.log.json", 24),
        ("elastic-integrations_test-eve-small.log.json", 12),
        ("suricata-verify_output-eve-fileinfo_eve.json", 1),
    ] {
        let run = read(&dir.join(file), &ind);
        assert_eq!(run.format.unwrap().1.slug, "suricata_eve", "{file}");
        assert_eq!((counts(&run).1, counts(&run).2), (records, 0), "{file}");
    }
    let dns = read(
        &dir.join("elastic-integrations_test-eve-dns-4-1-4.log.json"),
        &ind,
    );
    let found = hits(&dns);
    // v1 answers (one event per record) are answers: the device is the destination.
    assert!(found.contains(&"9 query www.yahoo.com→yahoo.com 10.0.2.15".to_string()));
    assert!(
        found.contains(&"11 cname atsv2-fp-shed.wg1.b.yahoo.com→yahoo.com 10.0.2.15".to_string())
    );
    assert!(found.contains(&"4 answer 175.16.199.1→175.16.199.1 10.0.2.15".to_string()));
    assert!(
        found.iter().all(|h| h.ends_with(" 10.0.2.15")),
        "{found:#?}"
    );
    let small = read(
        &dir.join("elastic-integrations_test-eve-small.log.json"),
        &ind,
    );
    assert!(hits(&small).contains(&"2 sni l2.io→l2.io 192.168.86.85".to_string()));
}

#[test]
fn a_download_logged_on_the_servers_packet_is_the_clients() {
    let Some(dir) = sample("suricata-eve") else {
        return;
    };
    // The fileinfo event of a download has src = the web server (port 80), dest = the device.
    let ind = indicators(&["[domain-name:value = 'eicar.org']"]);
    let run = read(
        &dir.join("suricata-verify_output-eve-fileinfo_eve.json"),
        &ind,
    );
    assert_eq!(
        hits(&run),
        [
            "1 http_url http://www.eicar.org/download/eicar.com→eicar.org 10.16.1.11",
            "1 http_host www.eicar.org→eicar.org 10.16.1.11",
        ]
    );
}
