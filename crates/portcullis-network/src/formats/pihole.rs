//! Pi-hole FTL's long-term query database (`pihole-FTL.db`): every query's time, name and
//! client, from `queries`, a table in the older schema (v9 and before) and a view over
//! `query_storage` and the `*_by_id` tables in current FTL, so one `SELECT` reads both.
//!
//! The evidence file is opened read-only and immutable (no lock, no journal, no WAL replay:
//! nothing on disk changes), which needs it as a plain file: standard input and compressed
//! copies are refused with a reason. Each row is one record; its `id` stands for the line
//! number. FTL's `network` tables (device MAC and its addresses) are given as leases.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::check::{Check, SeenLease, Tally};
use crate::format::{Format, Head, Input, Module, Outcome};
use crate::line::{Line, Malformed, RawTime, Seen};

pub struct Pihole;

const QUERIES: Module = Module {
    slug: "pihole_queries",
    name: "PiholeQueries",
};

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// Devices taken from FTL's network table at most.
const MAX_DEVICES: usize = 100_000;

/// Characters of a row's domain or client kept: a DNS name is at most 253.
const MAX_FIELD: usize = 1_024;

impl Format for Pihole {
    fn kind(&self) -> &'static str {
        "pihole"
    }

    fn recognise(&self, head: &Head<'_>) -> Option<Module> {
        head.bytes.starts_with(SQLITE_MAGIC).then_some(QUERIES)
    }

    fn read(&self, _module: Module, input: Input<'_>, check: &Check<'_>) -> Outcome {
        let mut tally = Tally::default();
        let stopped = match input.path {
            None => Some(
                "a Pi-hole database is read from a plain file on disk, not from standard input \
                 or a compressed copy"
                    .to_string(),
            ),
            Some(path) => read_db(path, check, &mut tally).err(),
        };
        Outcome { tally, stopped }
    }
}

fn read_db(path: &Path, check: &Check<'_>, tally: &mut Tally) -> Result<(), String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let db = Connection::open_with_flags(uri(path), flags)
        .map_err(|e| format!("the database could not be opened: {e}"))?;
    // Current FTL reads `queries` through a view; triggers, unsafe schema functions and huge
    // values stay refused.
    portcullis_evidence::sqlite::harden(&db, true)
        .map_err(|e| format!("the database could not be opened safely: {e}"))?;
    let has_queries: bool = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'queries' AND type IN ('table', 'view')",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| format!("not a database this tool can read: {e}"))?;
    if !has_queries {
        return Err("not a Pi-hole FTL database (no queries table)".to_string());
    }
    let failed = |e: rusqlite::Error| format!("the queries could not be read: {e}");
    let mut statement = db
        .prepare("SELECT id, timestamp, domain, client FROM queries ORDER BY id")
        .map_err(|e| format!("not a Pi-hole FTL database: {e}"))?;
    let mut rows = statement.query([]).map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        tally.lines += 1;
        let id = match row.get_ref(0) {
            Ok(ValueRef::Integer(id)) => u64::try_from(id).unwrap_or(0),
            _ => 0,
        };
        let time = row.get_ref(1).ok().and_then(micros);
        let domain = row.get_ref(2).ok().and_then(text);
        let client = row.get_ref(3).ok().and_then(text);
        let Some(domain) = domain else {
            tally.malformed(id, "", &Malformed::new("a query row without a domain"));
            continue;
        };
        let raw = format!(
            "id={id} timestamp={} domain={domain} client={}",
            time.map(crate::time::display).unwrap_or_default(),
            client.unwrap_or("-")
        );
        let mut line = Line {
            time: time.map_or(RawTime::Unknown, RawTime::Micros),
            client: client.map(Into::into),
            ..Line::default()
        };
        line.push(Seen::Query, domain);
        check.observe(tally, id, &raw, &line);
    }
    devices(&db, tally);
    Ok(())
}

/// Which device (MAC) had which address, from FTL's `network` tables, as leases: the same
/// attribution of clients to devices a DHCP log gives. Older databases without the tables
/// give none.
fn devices(db: &Connection, tally: &mut Tally) {
    let Ok(mut statement) = db.prepare(
        "SELECT a.ip, n.hwaddr, a.name, a.lastSeen FROM network_addresses a \
         JOIN network n ON n.id = a.network_id ORDER BY n.id, a.ip",
    ) else {
        return;
    };
    let Ok(mut rows) = statement.query([]) else {
        return;
    };
    while let Ok(Some(row)) = rows.next() {
        if tally.leases.len() >= MAX_DEVICES {
            break;
        }
        let address = row.get_ref(0).ok().and_then(text);
        let mac = row.get_ref(1).ok().and_then(text);
        let (Some(address), Some(mac)) = (address, mac) else {
            continue;
        };
        // FTL files devices it saw only by address under a pseudo-MAC `ip-…`.
        if !mac.contains(':') || mac.starts_with("ip-") {
            continue;
        }
        tally.leases.push(SeenLease {
            time: row.get_ref(3).ok().and_then(micros),
            address: address.to_string(),
            mac: mac.to_ascii_lowercase(),
            host_name: row.get_ref(2).ok().and_then(text).map(str::to_string),
            seconds: None,
        });
    }
}

/// Seconds since the epoch, integer (older FTL) or with a fraction (current FTL).
fn micros(value: ValueRef<'_>) -> Option<i64> {
    match value {
        ValueRef::Integer(s) => s.checked_mul(1_000_000),
        ValueRef::Real(s) if s.is_finite() && s.abs() < 1e12 => Some((s * 1e6).round() as i64),
        _ => None,
    }
}

fn text(value: ValueRef<'_>) -> Option<&str> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .ok()
            .filter(|t| !t.is_empty() && t.len() <= MAX_FIELD),
        _ => None,
    }
}

/// `file:` URI of `path`, read-only and immutable, every byte outside the unreserved set
/// percent-encoded (a `?` or `#` in a file name is not a URI parameter).
fn uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}
