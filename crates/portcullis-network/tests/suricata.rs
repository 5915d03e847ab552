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

/// One EVE event per line, as Suricata 7/8 writes them (field order as in its eve.json).
const SELF_MADE: &str = concat!(
    // v2 answer: the device is the destination; the CNAME chain and the address are checked.
    r#"{"timestamp":"2026-12-03T09:00:00.000100+0000","flow_id":1,"in_iface":"eth0","event_type":"dns","src_ip":"192.0.2.53","src_port":53,"dest_ip":"192.0.2.10","dest_port":53211,"proto":"UDP","dns":{"version":2,"type":"answer","id":7,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"c2.evil.com","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"c2.evil.com","rrtype":"CNAME","ttl":60,"rdata":"edge.evil.com"},{"rrname":"edge.evil.com","rrtype":"A","ttl":60,"rdata":"203.0.113.5"}]}}"#,
    "\n",
    // v3 (Suricata 8) request and response: `queries` and `answers` arrays.
    r#"{"timestamp":"2026-12-03T09:01:00.000000+0000","flow_id":2,"event_type":"dns","src_ip":"192.0.2.11","src_port":40000,"dest_ip":"192.0.2.53","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","id":9,"flags":"0100","rd":true,"opcode":0,"queries":[{"rrname":"x.evil.com","rrtype":"AAAA"}]}}"#,
    "\n",
    r#"{"timestamp":"2026-12-03T09:01:00.010000+0000","flow_id":2,"event_type":"dns","src_ip":"192.0.2.53","src_port":53,"dest_ip":"192.0.2.11","dest_port":40000,"proto":"UDP","dns":{"version":3,"type":"response","id":9,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"x.evil.com","rrtype":"AAAA"}],"answers":[{"rrname":"x.evil.com","rrtype":"AAAA","ttl":30,"rdata":"2001:db8:bad::5"}]}}"#,
    "\n",
    // Look-alikes: none may match.
    r#"{"timestamp":"2026-12-03T09:02:00.000000+0000","flow_id":3,"event_type":"dns","src_ip":"192.0.2.12","src_port":40001,"dest_ip":"192.0.2.53","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","id":10,"queries":[{"rrname":"notevil.com","rrtype":"A"},{"rrname":"evil.com.attacker.net","rrtype":"A"}]}}"#,
    "\n",
    r#"{"timestamp":"2026-12-03T09:03:00.000000+0000","flow_id":4,"event_type":"tls","src_ip":"192.0.2.12","src_port":40002,"dest_ip":"203.0.113.50","dest_port":443,"proto":"TCP","direction":"to_server","tls":{"subject":"CN=notevil.com","issuerdn":"CN=R3","serial":"01","fingerprint":"00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33","sni":"evil.com.attacker.net","version":"TLS 1.3"}}"#,
    "\n",
    // TLS by SNI and certificate fingerprint; HTTP by host and URL; a flow to a listed address.
    r#"{"timestamp":"2026-12-03T09:04:00.000000+0000","flow_id":5,"event_type":"tls","src_ip":"192.0.2.13","src_port":40003,"dest_ip":"198.51.100.7","dest_port":443,"proto":"TCP","direction":"to_server","tls":{"subject":"CN=cdn.example","issuerdn":"CN=R3","fingerprint":"cb:18:7b:2f:7c:3b:55:44:8a:04:4f:ee:e3:be:c6:44:11:5a:8b:2c","sni":"login.evil.com.","version":"TLS 1.2"}}"#,
    "\n",
    r#"{"timestamp":"2026-12-03T09:05:00.000000+0000","flow_id":6,"event_type":"http","src_ip":"192.0.2.14","src_port":40004,"dest_ip":"198.51.100.8","dest_port":80,"proto":"TCP","direction":"to_server","http":{"hostname":"files.evil.com","url":"/drop/a.apk","http_user_agent":"okhttp/4.9","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":4096}}"#,
    "\n",
    r#"{"timestamp":"2026-12-03T09:06:00.000000+0000","flow_id":7,"event_type":"flow","src_ip":"192.0.2.15","src_port":40005,"dest_ip":"203.0.113.5","dest_port":8443,"proto":"TCP","app_proto":"failed","flow":{"pkts_toserver":3,"pkts_toclient":0,"bytes_toserver":180,"bytes_toclient":0,"start":"2026-12-03T09:06:00.000000+0000","end":"2026-12-03T09:06:03.000000+0000","age":3,"state":"new","reason":"timeout","alerted":false}}"#,
    "\n",
    r#"{"timestamp":"2026-12-03T09:07:00.000000+0000","flow_id":8,"event_type":"alert","src_ip":"192.0.2.16","src_port":40006,"dest_ip":"203.0.113.50","dest_port":443,"proto":"TCP","direction":"to_server","alert":{"action":"allowed","gid":1,"signature_id":2000001,"rev":1,"signature":"ET POLICY test","category":"Misc activity","severity":3}}"#,
    "\n",
    "{\"timestamp\": not json\n",
);

#[test]
fn planted_hits_in_every_layout_and_no_look_alike() {
    let (_dir, path) = common::write("eve.json", SELF_MADE.as_bytes());
    let ind = indicators(&[
        "[domain-name:value = 'evil.com']",
        "[ipv4-addr:value = '203.0.113.5']",
        "[ipv6-addr:value = '2001:db8:bad::5']",
        "[x509-certificate:hashes.'SHA-1' = 'cb187b2f7c3b55448a044feee3bec644115a8b2c']",
    ]);
    let run = read(&path, &ind);
    assert_eq!(run.format.unwrap().1.slug, "suricata_eve");
    assert_eq!(counts(&run), (10, 9, 1));
    assert_eq!(
        hits(&run),
        [
            "1 query c2.evil.com→evil.com 192.0.2.10",
            "1 cname edge.evil.com→evil.com 192.0.2.10",
            "1 answer 203.0.113.5→203.0.113.5 192.0.2.10",
            "2 query x.evil.com→evil.com 192.0.2.11",
            "3 query x.evil.com→evil.com 192.0.2.11",
            "3 answer 2001:db8:bad::5→2001:db8:bad::5 192.0.2.11",
            "6 sni login.evil.com→evil.com 192.0.2.13",
            "6 cert_sha1 cb:18:7b:2f:7c:3b:55:44:8a:04:4f:ee:e3:be:c6:44:11:5a:8b:2c→cb187b2f7c3b55448a044feee3bec644115a8b2c 192.0.2.13",
            "7 http_url http://files.evil.com/drop/a.apk→evil.com 192.0.2.14",
            "7 http_host files.evil.com→evil.com 192.0.2.14",
            "8 destination 203.0.113.5→203.0.113.5 192.0.2.15",
        ]
    );
    let malformed = &run.outcome.as_ref().unwrap().tally.malformed_listed;
    assert_eq!(malformed[0].first_line, 10);
}
