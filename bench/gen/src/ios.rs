//! A synthetic iOS backup of a heavily used phone: `sms.db` (messages and handles), Safari's
//! `History.db` (items and visits, with redirects), `DataUsage.sqlite` (processes and their
//! network usage) and a large `Manifest.db`, with the schemas iOS writes and the planted hits of
//! [`crate::plants`].
//!
//! The big databases are written with prepared statements inside one transaction, then handed to
//! [`BackupBuilder`] which stores them and writes Info.plist and Manifest.db; the bulk of the
//! Manifest.db rows (files neither tool opens) is appended afterwards with its own `MBFile`
//! blobs, varied times, sizes and modes. Those bulk files are listed, not stored: no module of
//! either tool reads them, and writing hundreds of thousands of small files would measure the
//! file system rather than the checkers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result};
use plist::{Dictionary, Uid, Value as Plist};
use portcullis_ios::backup::{file_id, stored_path};
use portcullis_ios::builder::BackupBuilder;
use rusqlite::{Connection, params};

use crate::plants::{self, Pegasus};
use crate::pools::{self, SITES};
use crate::rng::Rng;

/// Seconds between the Unix epoch and the Mac (Cocoa) epoch, 2001-01-01.
const MAC_EPOCH: i64 = 978_307_200;
/// 2022-01-01 and 2024-01-01 in Mac absolute time: the span the data covers.
const SPAN_START: i64 = 662_688_000;
const SPAN_END: i64 = 725_846_400;

pub const SMS_REL: &str = "Library/SMS/sms.db";
pub const SAFARI_DOMAIN: &str = "AppDomain-com.apple.mobilesafari";
pub const SAFARI_REL: &str = "Library/Safari/History.db";
pub const DATAUSAGE_DOMAIN: &str = "WirelessDomain";
pub const DATAUSAGE_REL: &str = "Library/Databases/DataUsage.sqlite";

/// Row counts of one backup.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub messages: usize,
    pub visits: usize,
    pub processes: usize,
    pub manifest: usize,
}

impl Scale {
    /// Scale 1.0 is the size MVT was measured at in issue 5: 500,000 messages, 300,000 Safari
    /// visits, 5,000 DataUsage processes and 200,000 Manifest.db entries.
    pub fn of(factor: f64) -> Scale {
        let n = |base: f64| ((base * factor).round() as usize).max(10);
        Scale {
            messages: n(500_000.0),
            visits: n(300_000.0),
            processes: n(5_000.0),
            manifest: n(200_000.0),
        }
    }
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    pub root: PathBuf,
    pub bytes: u64,
    pub manifest_rows: usize,
}

fn mac_ns(secs: f64) -> i64 {
    (secs * 1e9) as i64
}

/// Sites for everyday traffic: [`SITES`] less any the Pegasus bundle lists.
fn everyday_sites(pegasus: &Pegasus) -> Vec<&'static str> {
    SITES
        .iter()
        .copied()
        .filter(|s| !pegasus.lists(s))
        .collect()
}

/// Opens a new database file tuned for bulk writing.
fn new_db(path: &Path, schema: &str) -> Result<Connection> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-200000;")?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

/// Closes a database and returns its bytes (the file is then removed: the builder stores it).
fn finish_db(conn: Connection, path: &Path) -> Result<Vec<u8>> {
    conn.close().map_err(|(_, e)| e)?;
    let bytes = std::fs::read(path)?;
    std::fs::remove_file(path)?;
    Ok(bytes)
}

/// `sms.db` as iOS 14 creates it (the `handle` and `message` tables the checkers read).
pub const SMS_SCHEMA: &str = "
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT, UNIQUE (id, service) );
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT, replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0, subject TEXT, country TEXT, attributedBody BLOB, version INTEGER DEFAULT 0, type INTEGER DEFAULT 0, service TEXT, account TEXT, account_guid TEXT, error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER, date_delivered INTEGER, is_delivered INTEGER DEFAULT 0, is_finished INTEGER DEFAULT 0, is_emote INTEGER DEFAULT 0, is_from_me INTEGER DEFAULT 0, is_empty INTEGER DEFAULT 0, is_delayed INTEGER DEFAULT 0, is_auto_reply INTEGER DEFAULT 0, is_prepared INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0, is_system_message INTEGER DEFAULT 0, is_sent INTEGER DEFAULT 0, has_dd_results INTEGER DEFAULT 0, is_service_message INTEGER DEFAULT 0, is_forward INTEGER DEFAULT 0, was_downgraded INTEGER DEFAULT 0, is_archive INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0, cache_roomnames TEXT, was_data_detected INTEGER DEFAULT 0, was_deduplicated INTEGER DEFAULT 0, is_audio_message INTEGER DEFAULT 0, is_played INTEGER DEFAULT 0, date_played INTEGER, item_type INTEGER DEFAULT 0, other_handle INTEGER DEFAULT 0, group_title TEXT, group_action_type INTEGER DEFAULT 0, share_status INTEGER DEFAULT 0, share_direction INTEGER DEFAULT 0, is_expirable INTEGER DEFAULT 0, expire_state INTEGER DEFAULT 0, message_action_type INTEGER DEFAULT 0, message_source INTEGER DEFAULT 0, associated_message_guid TEXT, associated_message_type INTEGER DEFAULT 0, balloon_bundle_id TEXT, payload_data BLOB, expressive_send_style_id TEXT, associated_message_range_location INTEGER DEFAULT 0, associated_message_range_length INTEGER DEFAULT 0, time_expressive_send_played INTEGER, message_summary_info BLOB, ck_sync_state INTEGER DEFAULT 0, ck_record_id TEXT, ck_record_change_tag TEXT, destination_caller_id TEXT, sr_ck_sync_state INTEGER DEFAULT 0, sr_ck_record_id TEXT, sr_ck_record_change_tag TEXT, is_corrupt INTEGER DEFAULT 0, reply_to_guid TEXT DEFAULT NULL, sort_id INTEGER DEFAULT 0, is_spam INTEGER DEFAULT 0, has_unseen_mention INTEGER DEFAULT 0, thread_originator_guid TEXT DEFAULT NULL, thread_originator_part TEXT DEFAULT NULL);
CREATE INDEX message_idx_handle ON message(handle_id, date);
CREATE INDEX message_idx_date ON message(date);
";

/// An `attributedBody` blob: a typedstream-archived NSAttributedString holding `text`, the
/// shape (and roughly the size) iOS stores next to every message's text.
fn attributed_body(text: &str, rng: &mut Rng) -> Vec<u8> {
    let mut b = Vec::with_capacity(text.len() + 160);
    b.extend_from_slice(b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+");
    let len = text.len();
    if len < 0x80 {
        b.push(len as u8);
    } else {
        b.push(0x81);
        b.extend_from_slice(&(len.min(0xFFFF) as u16).to_le_bytes());
    }
    b.extend_from_slice(text.as_bytes());
    b.extend_from_slice(b"\x86\x84\x02iI\x01");
    b.push((text.chars().count().min(0x7F)) as u8);
    b.extend_from_slice(b"\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01\x92\x84\x96\x96\x1d__kIMMessagePartAttributeName\x86\x92\x84\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\x84\x01*\x84\x99\x99\x00\x86\x86\x86");
    b.extend_from_slice(&rng.bytes(8));
    b
}

fn build_sms(
    path: &Path,
    n: usize,
    seed: u64,
    pegasus: &Pegasus,
    sites: &[&str],
) -> Result<Vec<u8>> {
    let mut rng = Rng::new(seed, "sms");
    let mut conn = new_db(path, SMS_SCHEMA)?;
    let handles = ((n as f64 * 0.004).round() as usize).clamp(20, 5_000);
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO _SqliteDatabaseProperties VALUES ('counter_in_all', ?1)",
        [n.to_string()],
    )?;
    {
        let mut h = tx.prepare("INSERT INTO handle VALUES (?1, ?2, ?3, ?4, NULL, ?5)")?;
        for i in 1..=handles {
            let (id, service) = if rng.chance(0.35) {
                (
                    // The row number keeps every handle unique.
                    format!(
                        "{}{i}@{}",
                        pools::made_up(&mut rng, 2),
                        rng.pick(&["icloud.com", "gmail.com", "me.com", "outlook.com"])
                    ),
                    "iMessage",
                )
            } else {
                (
                    format!(
                        "+{}{:05}{i:04}",
                        rng.pick(&["1", "44", "49", "33", "39", "52", "91", "234"]),
                        rng.below(100_000)
                    ),
                    if rng.chance(0.6) { "iMessage" } else { "SMS" },
                )
            };
            h.execute(params![
                i as i64,
                id,
                "us",
                service,
                format!("PCID-{}", rng.uuid())
            ])?;
        }
        let mut m = tx.prepare(
            "INSERT INTO message (ROWID, guid, text, handle_id, attributedBody, version, type, \
             service, account, account_guid, date, date_read, date_delivered, is_delivered, \
             is_finished, is_from_me, is_read, is_sent, cache_has_attachments, sort_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, 10, 0, ?6, ?7, ?8, ?9, ?10, ?11, 1, 1, ?12, ?13, ?14, ?15, 0)",
        )?;
        let account_guid = rng.uuid();
        let plant_synthetic = n / 3;
        let plant_pegasus = 2 * n / 3;
        let step = (SPAN_END - SPAN_START) as f64 / n as f64;
        for i in 0..n {
            let mut handle = if rng.chance(0.02) {
                0
            } else {
                1 + rng.below(handles as u64) as i64
            };
            let mut text: Option<String> = if rng.chance(0.03) {
                None
            } else {
                let words = 2 + rng.below(28) as usize;
                let mut s = pools::sentence(&mut rng, words);
                if rng.chance(0.04) {
                    s.push(' ');
                    s.push_str(&pools::benign_url(&mut rng, sites));
                    if rng.chance(0.2) {
                        s.push_str(&format!(
                            " {} {}",
                            pools::sentence(&mut rng, 3),
                            pools::benign_url(&mut rng, sites)
                        ));
                    }
                }
                if rng.chance(0.08) {
                    s.push('\n');
                    s.push_str(&pools::sentence(&mut rng, 4));
                }
                Some(s)
            };
            let mut from_me = rng.chance(0.4);
            if i == plant_synthetic {
                text = Some(format!(
                    "Your account has been locked after a suspicious sign-in. Verify now: {}",
                    plants::SMS_LINK
                ));
                handle = 1;
                from_me = false;
            } else if i == plant_pegasus
                && let Some(d) = &pegasus.domain
            {
                text = Some(format!(
                    "Your parcel could not be delivered. Reschedule: {}",
                    plants::pegasus_link(d)
                ));
                handle = 1;
                from_me = false;
            }
            let t = SPAN_START as f64 + step * i as f64 + rng.unit() * step;
            let read = !from_me && rng.chance(0.85);
            let date = mac_ns(t);
            let date_read = if read {
                mac_ns(t + 1.0 + rng.unit() * 3600.0)
            } else {
                0
            };
            let date_delivered = if from_me {
                mac_ns(t + rng.unit() * 5.0)
            } else {
                0
            };
            let service = if rng.chance(0.7) { "iMessage" } else { "SMS" };
            let account = if service == "iMessage" {
                "e:owner@icloud.com"
            } else {
                "p:+15555550100"
            };
            let body = text.as_deref().map(|t| attributed_body(t, &mut rng));
            m.execute(params![
                (i + 1) as i64,
                rng.uuid(),
                text,
                handle,
                body,
                service,
                account,
                account_guid,
                date,
                date_read,
                date_delivered,
                from_me as i64,
                (from_me || read) as i64,
                from_me as i64,
                rng.chance(0.05) as i64,
            ])?;
        }
    }
    tx.execute(
        "INSERT INTO sqlite_sequence VALUES ('message', ?1), ('handle', ?2)",
        params![n as i64, handles as i64],
    )?;
    tx.commit()?;
    finish_db(conn, path)
}

/// Safari's `History.db` (iOS 15-17 layout).
pub const SAFARI_SCHEMA: &str = "
CREATE TABLE history_items (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE, domain_expansion TEXT NULL, visit_count INTEGER NOT NULL, daily_visit_counts BLOB NOT NULL, weekly_visit_counts BLOB NULL, autocomplete_triggers BLOB NULL, should_recompute_derived_visit_counts INTEGER NOT NULL, visit_count_score INTEGER NOT NULL, status_code INTEGER NOT NULL DEFAULT 0);
CREATE TABLE history_visits (id INTEGER PRIMARY KEY AUTOINCREMENT, history_item INTEGER NOT NULL REFERENCES history_items(id) ON DELETE CASCADE, visit_time REAL NOT NULL, title TEXT NULL, load_successful BOOLEAN NOT NULL DEFAULT 1, http_non_get BOOLEAN NOT NULL DEFAULT 0, synthesized BOOLEAN NOT NULL DEFAULT 0, redirect_source INTEGER NULL UNIQUE REFERENCES history_visits(id) ON DELETE CASCADE, redirect_destination INTEGER NULL UNIQUE REFERENCES history_visits(id) ON DELETE CASCADE, origin INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0, attributes INTEGER NOT NULL DEFAULT 0, score INTEGER NOT NULL DEFAULT 0);
CREATE TABLE history_tombstones (id INTEGER PRIMARY KEY AUTOINCREMENT, start_time REAL NOT NULL, end_time REAL NOT NULL, url TEXT, generation INTEGER NOT NULL DEFAULT 0);
CREATE TABLE metadata (key TEXT NOT NULL UNIQUE, value);
CREATE INDEX history_items__domain_expansion ON history_items (domain_expansion);
CREATE INDEX history_visits__last_visit ON history_visits (history_item, visit_time DESC, synthesized ASC);
CREATE INDEX history_visits__origin ON history_visits (origin, generation);
";

fn domain_expansion(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    host.strip_prefix("www.").unwrap_or(host).to_string()
}

fn build_safari(path: &Path, visits: usize, seed: u64, sites: &[&str]) -> Result<Vec<u8>> {
    let mut rng = Rng::new(seed, "safari");
    let mut conn = new_db(path, SAFARI_SCHEMA)?;
    let items = (visits / 5).max(2);
    let mut urls: Vec<String> = Vec::with_capacity(items);
    let mut seen = HashSet::with_capacity(items);
    while urls.len() < items - 1 {
        let mut u = pools::benign_url(&mut rng, sites);
        if !seen.insert(u.clone()) {
            u = format!(
                "{u}{}p={}",
                if u.contains('?') { '&' } else { '?' },
                urls.len()
            );
            if !seen.insert(u.clone()) {
                continue;
            }
        }
        urls.push(u);
    }
    // The planted URL is the last item.
    urls.push(plants::SAFARI_URL.to_string());
    let planted_item = urls.len();
    let planted_visit = visits / 2;
    // Visits: popular items get most (a squared uniform skews towards low ids).
    let mut item_of = Vec::with_capacity(visits);
    let mut counts = vec![0i64; urls.len() + 1];
    let mut redirect_to_next = vec![false; visits];
    let mut i = 0;
    while i < visits {
        let u = rng.unit();
        let item = if i == planted_visit {
            planted_item
        } else {
            1 + ((u * u) * (items - 1) as f64) as usize
        };
        item_of.push(item);
        counts[item] += 1;
        // About 1% of visits redirect to the next one (a different page, within a second).
        if i + 1 < visits && i != planted_visit && i + 1 != planted_visit && rng.chance(0.01) {
            redirect_to_next[i] = true;
            let dest = 1 + rng.below((items - 1) as u64) as usize;
            item_of.push(dest);
            counts[dest] += 1;
            i += 1;
        }
        i += 1;
    }
    let tx = conn.transaction()?;
    tx.execute("INSERT INTO metadata VALUES ('version', 20)", [])?;
    {
        let mut st = tx.prepare(
            "INSERT INTO history_items (id, url, domain_expansion, visit_count, daily_visit_counts, \
             should_recompute_derived_visit_counts, visit_count_score, status_code) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 200)",
        )?;
        for (k, url) in urls.iter().enumerate() {
            let id = k + 1;
            let c = counts[id];
            st.execute(params![
                id as i64,
                url,
                domain_expansion(url),
                c,
                rng.bytes(4 * (1 + (c.min(8) as usize))),
                c * 100
            ])?;
        }
        let mut st = tx.prepare(
            "INSERT INTO history_visits (id, history_item, visit_time, title, load_successful, \
             redirect_source, redirect_destination, origin, generation, attributes, score) \
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, 0, 1, 0, ?7)",
        )?;
        let step = (SPAN_END - SPAN_START) as f64 / visits as f64;
        let mut t_prev = SPAN_START as f64;
        for (v, item) in item_of.iter().enumerate() {
            let id = (v + 1) as i64;
            let is_dest = v > 0 && redirect_to_next[v - 1];
            let t = if is_dest {
                t_prev + 0.05 + rng.unit() * 0.8
            } else {
                SPAN_START as f64 + step * v as f64 + rng.unit() * step * 0.5
            };
            t_prev = t;
            let words = 2 + rng.below(7) as usize;
            let title = if rng.chance(0.1) {
                None
            } else {
                Some(pools::sentence(&mut rng, words))
            };
            st.execute(params![
                id,
                *item as i64,
                t,
                title,
                is_dest.then_some(id - 1),
                redirect_to_next[v].then_some(id + 1),
                rng.below(1000) as i64,
            ])?;
        }
    }
    tx.commit()?;
    finish_db(conn, path)
}

/// `DataUsage.sqlite` (Core Data store of per-process network usage).
pub const DATAUSAGE_SCHEMA: &str = "
CREATE TABLE ZLIVEUSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZKIND INTEGER, ZMETADATA INTEGER, ZTAG INTEGER, ZHASPROCESS INTEGER, ZBILLCYCLEEND TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZWIFIIN FLOAT, ZWIFIOUT FLOAT, ZWWANIN FLOAT, ZWWANOUT FLOAT );
CREATE TABLE ZPROCESS ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFIRSTTIMESTAMP TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZBUNDLENAME VARCHAR, ZPROCNAME VARCHAR );
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE Z_MODELCACHE (Z_CONTENT BLOB);
CREATE INDEX ZLIVEUSAGE_ZHASPROCESS_INDEX ON ZLIVEUSAGE (ZHASPROCESS);
";

fn build_datausage(path: &Path, n: usize, seed: u64, pegasus: &Pegasus) -> Result<Vec<u8>> {
    let mut rng = Rng::new(seed, "datausage");
    let mut conn = new_db(path, DATAUSAGE_SCHEMA)?;
    let tx = conn.transaction()?;
    let mut live_pk = 0i64;
    let mut pk = 0i64;
    {
        let mut p = tx.prepare("INSERT INTO ZPROCESS VALUES (?1, 9, 1, ?2, ?3, ?4, ?5)")?;
        let mut l = tx.prepare(
            "INSERT INTO ZLIVEUSAGE VALUES (?1, 7, 1, 0, 0, 0, ?2, NULL, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let apps_uuid = rng.uuid();
        let step = (SPAN_END - SPAN_START) as f64 / n as f64;
        for i in 0..n {
            pk += 1;
            // About one process record in a thousand was removed (apps deleted): a gap.
            if i > 0 && rng.chance(0.001) {
                pk += 1;
            }
            let (name, bundle): (String, Option<String>) = if i == n / 2 {
                (plants::PROCESS.to_string(), None)
            } else if i == n / 4
                && let Some(p) = &pegasus.process
            {
                (p.clone(), None)
            } else if i < pools::DAEMONS.len() {
                let d = pools::DAEMONS[i];
                (d.to_string(), Some(d.to_string()))
            } else {
                let b = pools::bundle_id(&mut rng, i as u64);
                let uuid = if rng.chance(0.5) {
                    apps_uuid.clone()
                } else {
                    rng.uuid()
                };
                (format!("{uuid}/{b}"), Some(b))
            };
            let first = SPAN_START as f64 + step * i as f64 + rng.unit() * step;
            let last = first + rng.unit() * (SPAN_END as f64 - first);
            p.execute(params![pk, first, last, bundle, name])?;
            let live = match rng.below(20) {
                0..=2 => 0,
                3..=14 => 1,
                _ => 2,
            };
            for _ in 0..live {
                live_pk += 1;
                let wifi = rng.chance(0.8);
                let amount = |rng: &mut Rng| (rng.unit() * 5e8).round();
                l.execute(params![
                    live_pk,
                    pk,
                    first + rng.unit() * (last - first),
                    if wifi { amount(&mut rng) } else { 0.0 },
                    if wifi { amount(&mut rng) / 10.0 } else { 0.0 },
                    if wifi { 0.0 } else { amount(&mut rng) },
                    if wifi { 0.0 } else { amount(&mut rng) / 10.0 },
                ])?;
            }
        }
    }
    tx.execute(
        "INSERT INTO Z_PRIMARYKEY VALUES (7, 'LiveUsage', 0, ?1), (9, 'Process', 0, ?2)",
        params![live_pk, pk],
    )?;
    tx.commit()?;
    finish_db(conn, path)
}

/// An `MBFile` NSKeyedArchiver blob, as iOS writes one per Manifest.db row.
pub fn mbfile_blob(
    relative_path: &str,
    mode: i64,
    size: u64,
    times: [i64; 3],
    inode: u64,
    protection: i64,
) -> Vec<u8> {
    let mut file = Dictionary::new();
    file.insert("$class".into(), Plist::Uid(Uid::new(3)));
    file.insert("RelativePath".into(), Plist::Uid(Uid::new(2)));
    file.insert("Birth".into(), times[0].into());
    file.insert("LastModified".into(), times[1].into());
    file.insert("LastStatusChange".into(), times[2].into());
    file.insert("Mode".into(), mode.into());
    file.insert("UserID".into(), 501.into());
    file.insert("GroupID".into(), 501.into());
    file.insert("Size".into(), size.into());
    file.insert("InodeNumber".into(), inode.into());
    file.insert("Flags".into(), 0.into());
    file.insert("ProtectionClass".into(), protection.into());
    let mut class = Dictionary::new();
    class.insert("$classname".into(), "MBFile".into());
    class.insert(
        "$classes".into(),
        Plist::Array(vec!["MBFile".into(), "NSObject".into()]),
    );
    let mut top = Dictionary::new();
    top.insert("root".into(), Plist::Uid(Uid::new(1)));
    let mut archive = Dictionary::new();
    archive.insert("$version".into(), 100000.into());
    archive.insert("$archiver".into(), "NSKeyedArchiver".into());
    archive.insert("$top".into(), Plist::Dictionary(top));
    archive.insert(
        "$objects".into(),
        Plist::Array(vec![
            "$null".into(),
            Plist::Dictionary(file),
            relative_path.into(),
            Plist::Dictionary(class),
        ]),
    );
    let mut bytes = Vec::with_capacity(600);
    Plist::Dictionary(archive)
        .to_writer_binary(&mut bytes)
        .expect("writing a plist to memory cannot fail");
    bytes
}

/// A file or folder of the bulk of Manifest.db: `(domain, relative path, flags)`. `k` makes
/// each path unique.
fn bulk_entry(rng: &mut Rng, k: usize, apps: &[String], sites: &[&str]) -> (String, String, i64) {
    let app = rng.pick(apps).clone();
    let dir = rng.chance(0.12);
    let flags = if dir {
        2
    } else if rng.chance(0.01) {
        4
    } else {
        1
    };
    let (domain, path) = match rng.below(10) {
        0..=2 => (
            "CameraRollDomain".to_string(),
            if dir {
                format!("Media/DCIM/{}APPLE", 100 + k)
            } else {
                format!(
                    "Media/DCIM/{}APPLE/IMG_{:04}.{}",
                    100 + k % 50,
                    k,
                    rng.pick(&["HEIC", "JPG", "MOV", "PNG"])
                )
            },
        ),
        3 => (
            "MediaDomain".to_string(),
            format!(
                "Media/PhotoData/Thumbnails/V2/DCIM/{}APPLE/IMG_{k:04}.HEIC/{}.JPG",
                100 + k % 50,
                rng.pick(&["5005", "5003"])
            ),
        ),
        4 => (
            "HomeDomain".to_string(),
            format!(
                "Library/Caches/com.apple.{}/fsCachedData/{}-{k}",
                rng.pick(pools::APP_NAMES).to_lowercase(),
                rng.uuid()
            ),
        ),
        5 => (
            format!("AppDomainGroup-group.{app}"),
            format!(
                "Library/Caches/{}/{}-{k}.db",
                rng.pick(pools::PATH_WORDS),
                rng.hex(16)
            ),
        ),
        6 if rng.chance(0.2) => {
            let site = rng.pick(sites);
            (
                SAFARI_DOMAIN.to_string(),
                format!(
                    "Library/WebKit/WebsiteData/LocalStorage/https_{}.{site}_{k}.localstorage",
                    rng.pick(pools::SUBDOMAINS)
                ),
            )
        }
        _ => (
            format!("AppDomain-{app}"),
            if dir {
                format!(
                    "Library/{}/{k}",
                    rng.pick(&[
                        "Caches",
                        "Application Support",
                        "Preferences",
                        "Cookies",
                        "SplashBoard/Snapshots"
                    ])
                )
            } else {
                format!(
                    "{}/{}_{k}.{}",
                    rng.pick(&[
                        "Documents",
                        "Library/Caches",
                        "Library/Application Support",
                        "tmp",
                        "Library/Preferences"
                    ]),
                    rng.pick(pools::PATH_WORDS),
                    rng.pick(&["plist", "db", "sqlite", "json", "dat", "bin", "png"])
                )
            },
        ),
    };
    (domain, path, flags)
}

/// Adds `n` listed-only rows (and the real Manifest.db indexes) to a finished backup.
fn append_manifest(root: &Path, n: usize, seed: u64, sites: &[&str]) -> Result<usize> {
    let mut rng = Rng::new(seed, "manifest");
    let mut conn = Connection::open(root.join("Manifest.db"))?;
    conn.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")?;
    let apps: Vec<String> = (0..(n / 400).clamp(10, 600))
        .map(|k| pools::bundle_id(&mut rng, k as u64))
        .collect();
    let tx = conn.transaction()?;
    let mut written = 0;
    {
        let mut st = tx.prepare("INSERT OR IGNORE INTO Files VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut k = 0;
        while written < n {
            k += 1;
            let (domain, path, flags) = if written == n / 2 {
                (
                    SAFARI_DOMAIN.to_string(),
                    plants::MANIFEST_PATH.to_string(),
                    1,
                )
            } else {
                bulk_entry(&mut rng, k, &apps, sites)
            };
            let mode = match flags {
                2 => 0o40755,
                4 => 0o120755,
                _ => 0o100644,
            };
            let birth = MAC_EPOCH + SPAN_START + rng.below((SPAN_END - SPAN_START) as u64) as i64;
            let modified = if rng.chance(0.6) {
                birth
            } else {
                birth + rng.below(3_000_000) as i64
            };
            let changed = if rng.chance(0.7) {
                modified
            } else {
                modified + rng.below(1_000_000) as i64
            };
            let size = if flags == 1 { rng.below(5_000_000) } else { 0 };
            let blob = mbfile_blob(
                &path,
                mode,
                size,
                [birth, modified, changed],
                100_000 + rng.below(10_000_000),
                if flags == 1 { 3 } else { 0 },
            );
            let id = file_id(&domain, &path);
            written += st.execute(params![id, domain, path, flags, blob])?;
        }
    }
    tx.commit()?;
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS FilesDomainIdx ON Files(domain); \
         CREATE INDEX IF NOT EXISTS FilesRelativePathIdx ON Files(relativePath); \
         CREATE INDEX IF NOT EXISTS FilesFlagsIdx ON Files(flags);",
    )?;
    Ok(written)
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                total += dir_size(&p);
            } else if let Ok(m) = e.metadata() {
                total += m.len();
            }
        }
    }
    total
}

/// Writes a backup into `out` (replacing what is there).
pub fn generate(out: &Path, scale: Scale, seed: u64, pegasus: &Pegasus) -> Result<Written> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
    }
    let sites = everyday_sites(pegasus);
    let scratch = |domain: &str, rel: &str| out.join(stored_path(&file_id(domain, rel)));
    let date = plist::Date::from(UNIX_EPOCH + Duration::from_secs(1_704_067_200));
    let mut b = BackupBuilder::new(out)?
        .info("Device Name", "Bench iPhone")
        .info("Display Name", "Bench iPhone")
        .info("Serial Number", "F2LBENCH0001")
        .info("Unique Identifier", "00008110-000BENCH0000001E")
        .info("Target Identifier", "00008110-000BENCH0000001E")
        .info("Last Backup Date", Plist::Date(date))
        .info("iTunes Version", "12.13")
        .file_time(1_704_000_000);
    for (domain, rel) in [
        ("HomeDomain", "Library"),
        ("HomeDomain", "Library/SMS"),
        (SAFARI_DOMAIN, "Library"),
        (SAFARI_DOMAIN, "Library/Safari"),
        (DATAUSAGE_DOMAIN, "Library"),
        (DATAUSAGE_DOMAIN, "Library/Databases"),
    ] {
        b = b.manifest_only(domain, rel, 2);
    }
    let mut fixed_rows = 6;

    let path = scratch("HomeDomain", SMS_REL);
    let bytes =
        build_sms(&path, scale.messages, seed, pegasus, &sites).context("writing sms.db")?;
    b = b.file("HomeDomain", SMS_REL, &bytes)?;
    drop(bytes);
    let path = scratch(SAFARI_DOMAIN, SAFARI_REL);
    let bytes = build_safari(&path, scale.visits, seed, &sites).context("writing History.db")?;
    b = b.file(SAFARI_DOMAIN, SAFARI_REL, &bytes)?;
    drop(bytes);
    let path = scratch(DATAUSAGE_DOMAIN, DATAUSAGE_REL);
    let bytes = build_datausage(&path, scale.processes, seed, pegasus)
        .context("writing DataUsage.sqlite")?;
    b = b.file(DATAUSAGE_DOMAIN, DATAUSAGE_REL, &bytes)?;
    fixed_rows += 3;

    let root = b.finish()?;
    let bulk = append_manifest(
        &root,
        scale.manifest.saturating_sub(fixed_rows),
        seed,
        &sites,
    )
    .context("writing Manifest.db")?;
    Ok(Written {
        bytes: dir_size(&root),
        root,
        manifest_rows: fixed_rows + bulk,
    })
}
