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
    /// Set to write an encrypted backup protected by this password.
    password: Option<String>,
}

/// Key-derivation rounds of built encrypted backups: real ones use 10,000,000 and 10,000; small
/// counts keep tests fast while exercising the same two-stage derivation.
pub const BUILT_DPIC: u32 = 1_000;
pub const BUILT_ITER: u32 = 100;

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
            password: None,
        })
    }

    /// Sets an Info.plist key.
    pub fn info(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.info.insert(key.into(), value.into());
        self
    }

    /// Makes the backup encrypted with `password`, as iOS 10.2+ writes one (see
    /// [`crate::encrypted`]); keys are derived deterministically from the password so builds are
    /// reproducible.
    pub fn encrypt_with(mut self, password: &str) -> Self {
        self.password = Some(password.to_string());
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
        let crypto = self.password.as_deref().map(Crypto::new);
        let tx = conn.transaction().map_err(other)?;
        for row in &self.rows {
            let id = file_id(&row.domain, &row.relative_path);
            let stored = self.dir.join(stored_path(&id));
            let encryption_key = match &crypto {
                Some(c) if row.flags == 1 && stored.is_file() => {
                    Some(c.encrypt_file(&id, &stored)?)
                }
                _ => None,
            };
            let blob = mbfile_blob(
                &row.relative_path,
                row.size,
                row.flags,
                self.file_time,
                encryption_key,
            )?;
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
        drop(conn);
        if let Some(c) = &crypto {
            c.finish(&self.dir)?;
        }
        Ok(self.dir)
    }
}

/// The keys of a built encrypted backup.
struct Crypto {
    passcode_key: [u8; 32],
    salt: [u8; 20],
    dpsl: [u8; 20],
    class_keys: Vec<[u8; 32]>,
}

/// Protection class of built files (CompleteUntilFirstUserAuthentication, as iOS uses for most).
const FILE_CLASS: u32 = 3;
/// Protection class of Manifest.db's key.
const MANIFEST_CLASS: u32 = 4;

fn derived<const N: usize>(password: &str, label: &str) -> [u8; N] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("portcullis-builder/{label}/{password}"));
    let mut out = [0u8; N];
    out.copy_from_slice(&digest[..N]);
    out
}

fn wrap(kek: &[u8; 32], key: &[u8; 32]) -> io::Result<Vec<u8>> {
    use aes::cipher::KeyInit;
    let kw = aes_kw::KwAes256::new(&(*kek).into());
    let mut out = [0u8; 40];
    kw.wrap_key(key, &mut out).map_err(other)?;
    Ok(out.to_vec())
}

fn encrypt(key: &[u8; 32], plain: &[u8]) -> io::Result<Vec<u8>> {
    use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 16, 0);
    let enc = cbc::Encryptor::<aes::Aes256>::new(&(*key).into(), &[0u8; 16].into());
    let len = enc
        .encrypt_padded::<Pkcs7>(&mut buf, plain.len())
        .map_err(other)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

fn tlv(out: &mut Vec<u8>, tag: &[u8; 4], value: &[u8]) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

impl Crypto {
    fn new(password: &str) -> Crypto {
        let salt = derived(password, "salt");
        let dpsl = derived(password, "dpsl");
        let mut first = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), &dpsl, BUILT_DPIC, &mut first);
        let mut passcode_key = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(&first, &salt, BUILT_ITER, &mut passcode_key);
        let class_keys = (1..=11)
            .map(|c| derived(password, &format!("class-{c}")))
            .collect();
        Crypto {
            passcode_key,
            salt,
            dpsl,
            class_keys,
        }
    }

    fn class_key(&self, class: u32) -> &[u8; 32] {
        &self.class_keys[class as usize - 1]
    }

    /// Encrypts a stored file in place; returns its `EncryptionKey` (class + wrapped key).
    fn encrypt_file(&self, id: &str, path: &Path) -> io::Result<Vec<u8>> {
        let key: [u8; 32] = derived(id, "file");
        std::fs::write(path, encrypt(&key, &std::fs::read(path)?)?)?;
        let mut out = FILE_CLASS.to_le_bytes().to_vec();
        out.extend(wrap(self.class_key(FILE_CLASS), &key)?);
        Ok(out)
    }

    fn keybag(&self) -> io::Result<Vec<u8>> {
        let mut kb = Vec::new();
        tlv(&mut kb, b"VERS", &4u32.to_be_bytes());
        tlv(&mut kb, b"TYPE", &1u32.to_be_bytes());
        tlv(&mut kb, b"UUID", &[0x11; 16]);
        tlv(&mut kb, b"HMCK", &[0x22; 40]);
        tlv(&mut kb, b"WRAP", &0u32.to_be_bytes());
        tlv(&mut kb, b"SALT", &self.salt);
        tlv(&mut kb, b"ITER", &BUILT_ITER.to_be_bytes());
        tlv(&mut kb, b"DPWT", &1u32.to_be_bytes());
        tlv(&mut kb, b"DPIC", &BUILT_DPIC.to_be_bytes());
        tlv(&mut kb, b"DPSL", &self.dpsl);
        for class in 1..=11u32 {
            tlv(&mut kb, b"UUID", &[class as u8; 16]);
            tlv(&mut kb, b"CLAS", &class.to_be_bytes());
            tlv(&mut kb, b"WRAP", &2u32.to_be_bytes());
            tlv(&mut kb, b"KTYP", &0u32.to_be_bytes());
            tlv(
                &mut kb,
                b"WPKY",
                &wrap(&self.passcode_key, self.class_key(class))?,
            );
        }
        Ok(kb)
    }

    /// Encrypts Manifest.db and writes Manifest.plist with the keybag.
    fn finish(&self, dir: &Path) -> io::Result<()> {
        let manifest_key: [u8; 32] = derived("Manifest.db", "file");
        let db = dir.join("Manifest.db");
        std::fs::write(&db, encrypt(&manifest_key, &std::fs::read(&db)?)?)?;
        let mut wrapped = MANIFEST_CLASS.to_le_bytes().to_vec();
        wrapped.extend(wrap(self.class_key(MANIFEST_CLASS), &manifest_key)?);
        let mut lockdown = Dictionary::new();
        lockdown.insert("ProductVersion".into(), "17.5.1".into());
        let mut manifest = Dictionary::new();
        manifest.insert("BackupKeyBag".into(), Value::Data(self.keybag()?));
        manifest.insert("ManifestKey".into(), Value::Data(wrapped));
        manifest.insert("IsEncrypted".into(), true.into());
        manifest.insert("Version".into(), "10.0".into());
        manifest.insert("Lockdown".into(), Value::Dictionary(lockdown));
        Value::Dictionary(manifest)
            .to_file_binary(dir.join("Manifest.plist"))
            .map_err(other)
    }
}

/// An `MBFile` NSKeyedArchiver blob as iOS writes it into Manifest.db.
fn mbfile_blob(
    relative_path: &str,
    size: u64,
    flags: i64,
    time: i64,
    encryption_key: Option<Vec<u8>>,
) -> io::Result<Vec<u8>> {
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
    let mut objects = vec![
        "$null".into(),
        Value::Dictionary(file),
        relative_path.into(),
        Value::Dictionary(class),
    ];
    if let Some(key) = encryption_key {
        let mut data_class = Dictionary::new();
        data_class.insert("$classname".into(), "NSMutableData".into());
        let mut data = Dictionary::new();
        data.insert("$class".into(), Value::Uid(Uid::new(5)));
        data.insert("NS.data".into(), Value::Data(key));
        if let Some(Value::Dictionary(f)) = objects.get_mut(1) {
            f.insert("EncryptionKey".into(), Value::Uid(Uid::new(4)));
        }
        objects.push(Value::Dictionary(data));
        objects.push(Value::Dictionary(data_class));
    }
    let mut top = Dictionary::new();
    top.insert("root".into(), Value::Uid(Uid::new(1)));
    let mut archive = Dictionary::new();
    archive.insert("$version".into(), 100000.into());
    archive.insert("$archiver".into(), "NSKeyedArchiver".into());
    archive.insert("$top".into(), Value::Dictionary(top));
    archive.insert("$objects".into(), Value::Array(objects));
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
