//! Pi-hole FTL's query database: the real v9 test seed (../shared, an SQL dump built into a
//! database here), a v9 database and a current-schema one (a `queries` view over
//! `query_storage`) with planted hits and look-alikes; never written to; refused when it is
//! not a plain file or not Pi-hole's.

mod common;

use std::path::Path;

use common::{counts, hits, indicators, read, sample};
use sha2::{Digest, Sha256};

fn build(dir: &Path, sql: &str) -> std::path::PathBuf {
    let path = dir.join("pihole-FTL.db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(sql).unwrap();
    drop(db);
    path
}

fn ind() -> portcullis_indicators::Indicators {
    indicators(&[
        "[domain-name:value = 'evil.com']",
        "[ipv4-addr:value = '203.0.113.5']",
    ])
}

fn sha256(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

#[test]
fn the_real_v9_seed_has_no_queries_and_reads_clean() {
    let Some(dump) = sample("pihole-ftl/pihole-FTL.db.sql") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path(), &std::fs::read_to_string(dump).unwrap());
    let run = read(&path, &ind());
    assert_eq!(run.format.unwrap().1.slug, "pihole_queries");
    let outcome = run.outcome.as_ref().unwrap();
    assert_eq!(outcome.stopped, None);
    // The seed's `queries` table is empty (its counters, network and alias tables are not
    // queries).
    assert_eq!(counts(&run), (0, 0, 0));
    // Its network table: two devices, one of them with two addresses.
    let devices: Vec<_> = outcome
        .tally
        .leases
        .iter()
        .map(|l| (l.address.as_str(), l.mac.as_str()))
        .collect();
    assert_eq!(
        devices,
        [
            ("127.0.0.4", "aa:bb:cc:dd:ee:ff"),
            ("127.0.0.5", "aa:bb:cc:dd:ee:ff"),
            ("127.0.0.6", "00:11:22:33:44:55"),
        ]
    );

    // The same schema with queries in it.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "INSERT INTO queries (timestamp, type, status, domain, client, forward) VALUES
           (1796292902, 1, 2, 'c2.evil.com', '192.168.1.20', '9.9.9.9'),
           (1796292903, 1, 2, 'notevil.com', '192.168.1.21', '9.9.9.9'),
           (1796292904, 1, 1, 'evil.com.attacker.net', '192.168.1.22', NULL),
           (1796292905, 1, 2, '203.0.113.50', '192.168.1.23', NULL),
           (1796292906, 1, 2, '203.0.113.5', '192.168.1.23', NULL);",
    )
    .unwrap();
    drop(db);
    let before = sha256(&path);
    let run = read(&path, &ind());
    assert_eq!(counts(&run), (5, 5, 0));
    assert_eq!(
        hits(&run),
        [
            "1 query c2.evil.com→evil.com 192.168.1.20",
            "5 query 203.0.113.5→203.0.113.5 192.168.1.23",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].time, Some(1_796_292_902_000_000));
    assert_eq!(sha256(&path), before);
}

const CURRENT: &str = "
CREATE TABLE query_storage (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL, type INTEGER NOT NULL, status INTEGER NOT NULL, domain INTEGER NOT NULL, client INTEGER NOT NULL, forward INTEGER, additional_info INTEGER, reply_type INTEGER, reply_time REAL, dnssec INTEGER, list_id INTEGER, ede INTEGER);
CREATE TABLE domain_by_id (id INTEGER PRIMARY KEY, domain TEXT NOT NULL);
CREATE TABLE client_by_id (id INTEGER PRIMARY KEY, ip TEXT NOT NULL, name TEXT);
CREATE TABLE forward_by_id (id INTEGER PRIMARY KEY, forward TEXT NOT NULL);
CREATE VIEW queries AS SELECT id, timestamp, type, status,
  CASE typeof(domain) WHEN 'integer' THEN (SELECT domain FROM domain_by_id d WHERE d.id = q.domain) ELSE domain END domain,
  CASE typeof(client) WHEN 'integer' THEN (SELECT ip FROM client_by_id c WHERE c.id = q.client) ELSE client END client,
  CASE typeof(forward) WHEN 'integer' THEN (SELECT forward FROM forward_by_id f WHERE f.id = q.forward) ELSE forward END forward,
  reply_type, reply_time, dnssec, list_id, ede
  FROM query_storage q;
INSERT INTO domain_by_id VALUES (1, 'deep.sub.evil.com'), (2, 'notevil.com'), (3, 'Evil.COM');
INSERT INTO client_by_id VALUES (1, '192.168.1.30', 'phone'), (2, 'fe80::1', NULL);
INSERT INTO forward_by_id VALUES (1, '1.1.1.1#53');
INSERT INTO query_storage (timestamp, type, status, domain, client, forward) VALUES
  (1796292902.25, 1, 2, 1, 1, 1),
  (1796292903, 1, 2, 2, 1, 1),
  (1796292904, 2, 3, 3, 2, NULL),
  (1796292905, 1, 2, 99, 1, NULL);
";

#[test]
fn a_current_schema_database_through_its_view() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path(), CURRENT);
    let before = sha256(&path);
    let run = read(&path, &ind());
    assert_eq!(run.format.unwrap().1.slug, "pihole_queries");
    // Row 4 points at a domain id that does not exist: counted, not fatal.
    assert_eq!(counts(&run), (4, 3, 1));
    assert_eq!(
        hits(&run),
        [
            "1 query deep.sub.evil.com→evil.com 192.168.1.30",
            "3 query Evil.COM→evil.com fe80::1",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].time, Some(1_796_292_902_250_000));
    assert_eq!(
        tally.malformed_listed[0].reason,
        "a query row without a domain"
    );
    // Read-only and immutable: the file is unchanged and no journal or WAL appeared.
    assert_eq!(sha256(&path), before);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["pihole-FTL.db"]);
}

#[test]
fn other_sqlite_files_and_compressed_copies_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(
        dir.path(),
        "CREATE TABLE moz_places (id INTEGER, url TEXT);",
    );
    let run = read(&path, &ind());
    let outcome = run.outcome.as_ref().unwrap();
    assert_eq!(
        outcome.stopped.as_deref(),
        Some("not a Pi-hole FTL database (no queries table)")
    );
    assert_eq!(counts(&run), (0, 0, 0));

    let good_dir = tempfile::tempdir().unwrap();
    let good = build(good_dir.path(), CURRENT);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &std::fs::read(&good).unwrap()).unwrap();
    let (_gz_dir, gz_path) = common::write("pihole-FTL.db.gz", &gz.finish().unwrap());
    let run = read(&gz_path, &ind());
    assert_eq!(run.format.unwrap().0, "pihole");
    let stopped = run.outcome.as_ref().unwrap().stopped.clone().unwrap();
    assert!(stopped.contains("plain file on disk"), "{stopped}");

    // A name with URI characters in it is a file name, not URI parameters.
    let odd_dir = tempfile::tempdir().unwrap();
    let odd = odd_dir.path().join("a?b#c%20 d.db");
    std::fs::copy(&good, &odd).unwrap();
    assert_eq!(counts(&read(&odd, &ind())), (4, 3, 1));
}
