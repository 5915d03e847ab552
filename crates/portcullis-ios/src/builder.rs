//! Builds small, realistic iOS backups in code: Info.plist, Manifest.db with real `MBFile`
//! NSKeyedArchiver blobs, and stored files under `<id[0:2]>/<id>`. Used by `portcullis demo` and
//! by tests, so neither needs a real phone's data.

use std::io;
use std::path::{Path, PathBuf};

use plist::{Dictionary, Uid, Value};
use rusqlite::Connection;

use crate::backup::{file_id, stored_path};

struct Row {
    domain: String,
    relative_path: String,
    flags: i64,
    size: u64,
}

/// A backup being written into a folder.
pub struct BackupBuilder {
    dir: PathBuf,
    info: Dictionary,
    rows: Vec<Row>,
    /// Timestamp given to every file's Birth/LastModified/LastStatusChange.
    file_time: i64,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl BackupBuilder {
    /// Starts a backup in `dir` (created if missing) with a minimal Info.plist.
    pub fn new(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut info = Dictionary::new();
        info.insert("Device Name".into(), "iPhone".into());
        info.insert("Display Name".into(), "iPhone".into());
        info.insert("Product Type".into(), "iPhone14,2".into());
        info.insert("Product Version".into(), "17.5.1".into());
        info.insert("Build Version".into(), "21F90".into());
        Ok(BackupBuilder {
            dir: dir.to_path_buf(),
            info,
            rows: Vec::new(),
            file_time: 1_700_000_000,
        })
    }

    /// Sets an Info.plist key.
    pub fn info(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.info.insert(key.into(), value.into());
        self
    }

    /// Sets the time stamped on files added after this call (Unix seconds).
    pub fn file_time(mut self, unix: i64) -> Self {
        self.file_time = unix;
        self
    }

    /// Stores a file and registers it in Manifest.db.
    pub fn file(mut self, domain: &str, relative_path: &str, contents: &[u8]) -> io::Result<Self> {
        let id = file_id(domain, relative_path);
        let path = self.dir.join(stored_path(&id));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)?;
        self.rows.push(Row {
            domain: domain.into(),
            relative_path: relative_path.into(),
            flags: 1,
            size: contents.len() as u64,
        });
        Ok(self)
    }

    /// Stores a property list (binary) as a file.
    pub fn plist(self, domain: &str, relative_path: &str, value: &Value) -> io::Result<Self> {
        let mut bytes = Vec::new();
        value.to_writer_binary(&mut bytes).map_err(other)?;
        self.file(domain, relative_path, &bytes)
    }

    /// Stores an SQLite database made by running `sql` (a batch of statements).
    pub fn sqlite(self, domain: &str, relative_path: &str, sql: &str) -> io::Result<Self> {
        let conn = Connection::open_in_memory().map_err(other)?;
        conn.execute_batch(sql).map_err(other)?;
        let bytes = conn.serialize(rusqlite::MAIN_DB).map_err(other)?.to_vec();
        self.file(domain, relative_path, &bytes)
    }

    /// Registers a Manifest.db row without a stored file (directories, files not acquired).
    pub fn manifest_only(mut self, domain: &str, relative_path: &str, flags: i64) -> Self {
        self.rows.push(Row {
            domain: domain.into(),
            relative_path: relative_path.into(),
            flags,
            size: 0,
        });
        self
    }

    /// Writes Info.plist and Manifest.db; returns the backup folder.
    pub fn finish(self) -> io::Result<PathBuf> {
        Value::Dictionary(self.info.clone())
            .to_file_xml(self.dir.join("Info.plist"))
            .map_err(other)?;
        let db = self.dir.join("Manifest.db");
        if db.exists() {
            std::fs::remove_file(&db)?;
        }
        let mut conn = Connection::open(&db).map_err(other)?;
        conn.execute_batch(
            "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, \
             flags INTEGER, file BLOB); CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
        )
        .map_err(other)?;
        let tx = conn.transaction().map_err(other)?;
        for row in &self.rows {
            let blob = mbfile_blob(&row.relative_path, row.size, row.flags, self.file_time)?;
            tx.execute(
                "INSERT OR REPLACE INTO Files VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    file_id(&row.domain, &row.relative_path),
                    row.domain,
                    row.relative_path,
                    row.flags,
                    blob
                ],
            )
            .map_err(other)?;
        }
        tx.commit().map_err(other)?;
        Ok(self.dir)
    }
}

/// An `MBFile` NSKeyedArchiver blob as iOS writes it into Manifest.db.
fn mbfile_blob(relative_path: &str, size: u64, flags: i64, time: i64) -> io::Result<Vec<u8>> {
    let mode: i64 = match flags {
        2 => 0o40755,
        4 => 0o120755,
        _ => 0o100644,
    };
    let mut file = Dictionary::new();
    file.insert("$class".into(), Value::Uid(Uid::new(3)));
    file.insert("RelativePath".into(), Value::Uid(Uid::new(2)));
    file.insert("Birth".into(), time.into());
    file.insert("LastModified".into(), time.into());
    file.insert("LastStatusChange".into(), time.into());
    file.insert("Mode".into(), mode.into());
    file.insert("UserID".into(), 501.into());
    file.insert("GroupID".into(), 501.into());
    file.insert("Size".into(), size.into());
    file.insert("InodeNumber".into(), 1000.into());
    file.insert("Flags".into(), 0.into());
    file.insert("ProtectionClass".into(), 3.into());
    let mut class = Dictionary::new();
    class.insert("$classname".into(), "MBFile".into());
    class.insert(
        "$classes".into(),
        Value::Array(vec!["MBFile".into(), "NSObject".into()]),
    );
    let mut top = Dictionary::new();
    top.insert("root".into(), Value::Uid(Uid::new(1)));
    let mut archive = Dictionary::new();
    archive.insert("$version".into(), 100000.into());
    archive.insert("$archiver".into(), "NSKeyedArchiver".into());
    archive.insert("$top".into(), Value::Dictionary(top));
    archive.insert(
        "$objects".into(),
        Value::Array(vec![
            "$null".into(),
            Value::Dictionary(file),
            relative_path.into(),
            Value::Dictionary(class),
        ]),
    );
    let mut bytes = Vec::new();
    Value::Dictionary(archive)
        .to_writer_binary(&mut bytes)
        .map_err(other)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backup;

    #[test]
    fn built_backup_opens_and_finds_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .sqlite(
                "HomeDomain",
                "Library/SMS/sms.db",
                "CREATE TABLE message(text);",
            )
            .unwrap()
            .manifest_only("HomeDomain", "Library/SMS", 2)
            .finish()
            .unwrap();
        let backup = Backup::open(&root).unwrap();
        let found = backup.find_by_relative_path("Library/SMS/*").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].file_id, "3d0d7e5fb2ce288813306e4d4636395e047a3d28");
        let conn = backup.open_sqlite(&found[0].file_id).unwrap();
        assert!(crate::values::has_table(&conn, "message"));
        let blob = found[0].file.as_deref().unwrap();
        let mbfile = crate::nskeyed::unarchive_bytes(blob).unwrap();
        let d = mbfile.as_dictionary().unwrap();
        assert_eq!(
            d.get("RelativePath").unwrap().as_string(),
            Some("Library/SMS/sms.db")
        );
        assert_eq!(d.get("$class").unwrap().as_string(), Some("MBFile"));
    }
}
