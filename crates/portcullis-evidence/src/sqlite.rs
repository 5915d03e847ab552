//! SQLite databases from the evidence, opened so that reading them can neither change them nor
//! run what a crafted schema asks for: read-only and immutable on disk, and every connection
//! [`harden`]ed before its first query.

use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags};

use crate::{EvidenceError, Result};

/// Longest string or BLOB a query may return: real message bodies, URLs and plist BLOBs are far
/// smaller, and a crafted 1 GB cell is refused with SQLite's "string or blob too big" instead of
/// being copied into memory.
pub const MAX_VALUE_BYTES: i32 = 32 << 20;

/// Makes `conn` safe for a database an attacker wrote: no triggers, no schema-defined functions
/// with side effects (`trusted_schema` off), no writes to the schema (defensive mode), no
/// extension loading, and values capped at [`MAX_VALUE_BYTES`]. Views stay usable only when
/// `views` is set (Pi-hole's current schema reads through one); the phone databases Portcullis
/// reads are plain tables, so a view standing in for one is refused there.
pub fn harden(conn: &Connection, views: bool) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, views)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)?;
    // Deeply nested expressions are only ever in a crafted schema.
    conn.set_limit(Limit::SQLITE_LIMIT_EXPR_DEPTH, 100)?;
    conn.pragma_update(None, "cell_size_check", true)?;
    Ok(())
}

fn sidecar(full: &Path, suffix: &str) -> PathBuf {
    let mut name = full.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sqlite_err(path: &str) -> impl Fn(rusqlite::Error) -> EvidenceError + '_ {
    move |source| EvidenceError::Sqlite {
        path: path.to_string(),
        source,
    }
}

/// Opens `full` with `immutable=1`: SQLite then neither locks nor writes anything beside it.
pub(crate) fn open_immutable(path: &str, full: &Path) -> Result<Connection> {
    let uri = format!("file:{}?mode=ro&immutable=1", uri_escape(full));
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err(path))?;
    check_is_database(path, &conn)?;
    Ok(conn)
}

/// Copies the database and its WAL into a private temporary folder, lets SQLite merge them there,
/// and keeps the merged database in memory; the evidence itself is untouched.
pub(crate) fn open_with_wal(path: &str, full: &Path, wal: &Path) -> Result<Connection> {
    let io = |e| EvidenceError::Io {
        path: path.to_string(),
        source: e,
    };
    let dir = tempfile::tempdir().map_err(io)?;
    let copy = dir.path().join("db.sqlite");
    std::fs::copy(full, &copy).map_err(io)?;
    std::fs::copy(wal, sidecar(&copy, "-wal")).map_err(io)?;
    let conn = Connection::open(&copy).map_err(sqlite_err(path))?;
    check_is_database(path, &conn)?;
    let bytes = conn
        .serialize(rusqlite::MAIN_DB)
        .map_err(sqlite_err(path))?
        .to_vec();
    drop(conn);
    open_sqlite_bytes(path, bytes)
}

/// Opens an SQLite database held in memory (a decrypted file, a merged WAL), read-only.
pub fn open_sqlite_bytes(path: &str, mut bytes: Vec<u8>) -> Result<Connection> {
    // A database in WAL mode cannot be read from memory; mark the copy as rollback-journal.
    if bytes.len() >= 100 && bytes.starts_with(b"SQLite format 3\0") && bytes[18] == 2 {
        bytes[18] = 1;
        bytes[19] = 1;
    }
    let mut conn = Connection::open_in_memory().map_err(sqlite_err(path))?;
    let len = bytes.len();
    conn.deserialize_read_exact(rusqlite::MAIN_DB, &bytes[..], len, true)
        .map_err(sqlite_err(path))?;
    check_is_database(path, &conn)?;
    Ok(conn)
}

/// Hardens `conn`, then touches the schema: SQLite opens anything lazily, and this tells a real
/// database from garbage before a module's first query.
fn check_is_database(path: &str, conn: &Connection) -> Result<()> {
    harden(conn, false).map_err(sqlite_err(path))?;
    // A schema in bytes that are not UTF-8 (no SQLite writes one) would name columns rusqlite
    // panics on; such a database is refused here, found by fuzzing (`manifest_rows`).
    let mut schema = conn
        .prepare("SELECT sql FROM sqlite_master")
        .map_err(sqlite_err(path))?;
    let mut rows = schema.query([]).map_err(sqlite_err(path))?;
    while let Some(row) = rows.next().map_err(sqlite_err(path))? {
        if let Ok(rusqlite::types::ValueRef::Text(sql)) = row.get_ref(0)
            && std::str::from_utf8(sql).is_err()
        {
            return Err(EvidenceError::Unreadable {
                path: path.to_string(),
                reason: "its schema is not valid UTF-8: a crafted database, not read".into(),
            });
        }
    }
    Ok(())
}

fn uri_escape(path: &Path) -> String {
    let s = path.to_string_lossy();
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Evidence, FolderEvidence};

    /// A database in a fresh folder built by `sql`, opened as evidence; the folder's bytes
    /// before the open are returned with it to prove nothing was written.
    fn crafted(sql: &str) -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Connection::open(dir.path().join("crafted.db")).unwrap();
        db.execute_batch(sql).unwrap();
        drop(db);
        let bytes = std::fs::read(dir.path().join("crafted.db")).unwrap();
        (dir, bytes)
    }

    fn open(dir: &tempfile::TempDir) -> Connection {
        FolderEvidence::new(dir.path())
            .open_sqlite("crafted.db")
            .unwrap()
    }

    fn unchanged(dir: &tempfile::TempDir, before: &[u8]) {
        assert_eq!(
            std::fs::read(dir.path().join("crafted.db")).unwrap(),
            before
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "SQLite left a file beside the evidence");
    }

    #[test]
    fn a_view_standing_in_for_a_table_is_refused() {
        let (dir, before) = crafted(
            "CREATE TABLE real(text TEXT); INSERT INTO real VALUES ('hello');
             CREATE VIEW message AS SELECT text FROM real;
             CREATE VIEW endless AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
             SELECT i AS text FROM n;",
        );
        let conn = open(&dir);
        let count = |table: &str| {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
        };
        let error = count("message").unwrap_err();
        assert!(error.to_string().contains("prohibited"), "{error}");
        // Without the hardening this counts forever.
        assert!(count("endless").is_err());
        assert_eq!(count("real").unwrap(), 1);
        drop(conn);
        unchanged(&dir, &before);
    }

    #[test]
    fn a_value_larger_than_the_bound_is_an_error_not_an_allocation() {
        let (dir, before) = crafted(&format!(
            "CREATE TABLE message(text BLOB); INSERT INTO message VALUES (zeroblob({}));
             INSERT INTO message VALUES ('small');",
            MAX_VALUE_BYTES as i64 + 1
        ));
        let conn = open(&dir);
        let error = conn
            .query_row("SELECT text FROM message", [], |r| r.get::<_, Vec<u8>>(0))
            .unwrap_err();
        assert!(error.to_string().contains("too big"), "{error}");
        unchanged(&dir, &before);
    }

    #[test]
    fn extensions_cannot_be_loaded_triggers_are_off_and_writes_refused() {
        let (dir, before) = crafted(
            "CREATE TABLE message(text TEXT);
             CREATE TRIGGER t AFTER INSERT ON message BEGIN SELECT load_extension('/tmp/x'); END;",
        );
        let conn = open(&dir);
        let error = conn
            .query_row("SELECT load_extension('/nonexistent/evil')", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_err();
        assert!(error.to_string().contains("not authorized"), "{error}");
        assert!(
            !conn
                .db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER)
                .unwrap()
        );
        assert!(
            !conn
                .db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA)
                .unwrap()
        );
        assert!(
            conn.execute("INSERT INTO message VALUES ('x')", [])
                .is_err(),
            "the evidence connection accepted a write"
        );
        unchanged(&dir, &before);
    }

    #[test]
    fn a_schema_that_is_not_utf8_is_refused_before_any_query() {
        // `CREATE TABLE message ("a\xff" TEXT)`, written past SQLite's parser.
        let (dir, before) = crafted(
            "CREATE TABLE message (a TEXT); PRAGMA writable_schema = ON;
             UPDATE sqlite_master SET sql =
               CAST(X'435245415445205441424C45206D657373616765202822' || X'61FF' || X'22205445585429' AS TEXT)
             WHERE name = 'message';",
        );
        let error = FolderEvidence::new(dir.path())
            .open_sqlite("crafted.db")
            .err()
            .unwrap();
        assert_eq!(
            error.to_string(),
            "crafted.db: its schema is not valid UTF-8: a crafted database, not read"
        );
        unchanged(&dir, &before);
    }

    #[test]
    fn virtual_tables_read_or_fail_cleanly() {
        let (dir, before) = crafted(
            "CREATE VIRTUAL TABLE message USING fts5(text);
             INSERT INTO message VALUES ('hello from fts');",
        );
        let conn = open(&dir);
        let text: String = conn
            .query_row("SELECT text FROM message", [], |r| r.get(0))
            .unwrap();
        assert_eq!(text, "hello from fts");
        drop(conn);
        unchanged(&dir, &before);

        // A schema naming a module this build does not have: an error naming the file.
        let dir = tempfile::tempdir().unwrap();
        let db = Connection::open(dir.path().join("crafted.db")).unwrap();
        db.execute_batch(
            "CREATE TABLE message(text TEXT); PRAGMA writable_schema = ON;
             UPDATE sqlite_master SET sql = 'CREATE VIRTUAL TABLE message USING nosuchmodule(text)'
             WHERE name = 'message';",
        )
        .unwrap();
        drop(db);
        let error = FolderEvidence::new(dir.path())
            .open_sqlite("crafted.db")
            .and_then(|conn| {
                conn.query_row("SELECT text FROM message", [], |r| r.get::<_, String>(0))
                    .map_err(sqlite_err("crafted.db"))
            })
            .unwrap_err();
        assert!(error.to_string().starts_with("crafted.db: "), "{error}");
    }
}
