//! Encrypted iOS backups: the keybag in `Manifest.plist`, the password-derived key, and an
//! [`Evidence`] that decrypts files in memory as modules read them.
//!
//! Format (iOS 10.2 and later): `BackupKeyBag` is a list of TLV records (4-byte tag, 4-byte
//! big-endian length, value). The passcode key is PBKDF2-HMAC-SHA256(password, DPSL, DPIC) fed
//! into PBKDF2-HMAC-SHA1(…, SALT, ITER). It unwraps (RFC 3394) each protection class key; the
//! class key unwraps the per-file key stored in the file's `MBFile` record in Manifest.db (and the
//! `ManifestKey` for Manifest.db itself). Files are AES-256-CBC with a zero IV and PKCS#7 padding.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aes::cipher::array::Array;
use aes::cipher::{BlockModeDecrypt, KeyInit, KeyIvInit};
use portcullis_evidence::{Evidence, EvidenceError, FolderEvidence, open_sqlite_bytes};
use rusqlite::Connection;
use zeroize::Zeroizing;

use crate::backup::MANIFEST_DB;

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// A 32-byte key that is wiped from memory when dropped.
pub type Key32 = Zeroizing<[u8; 32]>;

#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    #[error("{path}: {reason}")]
    BadManifest { path: String, reason: String },
    #[error("the keybag is damaged: {0}")]
    BadKeybag(String),
    #[error("wrong password (or wrong key): the backup's keys could not be unwrapped")]
    WrongPassword,
    #[error("the key must be 64 hexadecimal characters")]
    BadKeyHex,
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
}

/// The password or the already derived key (so slow derivation runs once per backup).
pub enum Secret {
    Password(Zeroizing<String>),
    Key(Key32),
}

impl Secret {
    /// Parses `extract-key` output (64 hex characters).
    pub fn from_key_hex(hex_key: &str) -> Result<Secret, EncryptionError> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex_key.trim(), key.as_mut())
            .map_err(|_| EncryptionError::BadKeyHex)?;
        Ok(Secret::Key(key))
    }
}

/// One protection-class key record of the keybag.
#[derive(Debug, Clone)]
struct ClassRecord {
    class: u32,
    wrap: u32,
    wrapped_key: Vec<u8>,
}

/// The backup keybag from `Manifest.plist`.
#[derive(Debug, Clone)]
pub struct Keybag {
    salt: Vec<u8>,
    iterations: u32,
    /// The iOS 10.2+ SHA-256 stage (salt, iterations); absent on older backups.
    dpsl: Option<(Vec<u8>, u32)>,
    classes: Vec<ClassRecord>,
}

/// Longest TLV value accepted: keybags are a few kilobytes.
const MAX_TLV: usize = 1 << 16;

fn be_u32(v: &[u8]) -> Option<u32> {
    v.try_into().ok().map(u32::from_be_bytes)
}

impl Keybag {
    pub fn parse(bytes: &[u8]) -> Result<Keybag, EncryptionError> {
        let bad = |m: &str| EncryptionError::BadKeybag(m.to_string());
        let mut salt = None;
        let mut iterations = None;
        let mut dpsl = None;
        let mut dpic = None;
        let mut classes: Vec<ClassRecord> = Vec::new();
        let mut in_class = false;
        let mut seen_uuid = false;
        let mut rest = bytes;
        while !rest.is_empty() {
            if rest.len() < 8 {
                return Err(bad("truncated record header"));
            }
            let tag = &rest[..4];
            let len = be_u32(&rest[4..8]).unwrap_or(u32::MAX) as usize;
            if len > MAX_TLV || rest.len() < 8 + len {
                return Err(bad("record longer than the keybag"));
            }
            let value = &rest[8..8 + len];
            rest = &rest[8 + len..];
            match tag {
                b"UUID" => {
                    // The first UUID names the keybag; each later one starts a class key.
                    if seen_uuid {
                        in_class = true;
                        classes.push(ClassRecord {
                            class: 0,
                            wrap: 0,
                            wrapped_key: Vec::new(),
                        });
                    }
                    seen_uuid = true;
                }
                b"SALT" if !in_class => salt = Some(value.to_vec()),
                b"ITER" if !in_class => iterations = be_u32(value),
                b"DPSL" if !in_class => dpsl = Some(value.to_vec()),
                b"DPIC" if !in_class => dpic = be_u32(value),
                b"CLAS" if in_class => {
                    if let Some(c) = classes.last_mut() {
                        c.class = be_u32(value).ok_or_else(|| bad("CLAS is not 4 bytes"))?;
                    }
                }
                b"WRAP" if in_class => {
                    if let Some(c) = classes.last_mut() {
                        c.wrap = be_u32(value).ok_or_else(|| bad("WRAP is not 4 bytes"))?;
                    }
                }
                b"WPKY" if in_class => {
                    if let Some(c) = classes.last_mut() {
                        c.wrapped_key = value.to_vec();
                    }
                }
                _ => {}
            }
        }
        let salt = salt.ok_or_else(|| bad("no SALT"))?;
        let iterations = iterations
            .filter(|&i| i > 0)
            .ok_or_else(|| bad("no ITER"))?;
        let dpsl = match (dpsl, dpic) {
            (Some(s), Some(i)) if i > 0 => Some((s, i)),
            _ => None,
        };
        if classes.is_empty() {
            return Err(bad("no class keys"));
        }
        Ok(Keybag {
            salt,
            iterations,
            dpsl,
            classes,
        })
    }

    /// The passcode key: what `extract-key` prints and `--key-hex` accepts.
    pub fn derive_key(&self, password: &[u8]) -> Key32 {
        let mut key = Zeroizing::new([0u8; 32]);
        match &self.dpsl {
            Some((dpsl, dpic)) => {
                let mut first = Zeroizing::new([0u8; 32]);
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, dpsl, *dpic, first.as_mut());
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
                    first.as_ref(),
                    &self.salt,
                    self.iterations,
                    key.as_mut(),
                );
            }
            None => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
                password,
                &self.salt,
                self.iterations,
                key.as_mut(),
            ),
        }
        key
    }

    /// Unwraps every passcode-protected class key; fails on the first that does not unwrap,
    /// which means the key (password) is wrong.
    pub fn unlock(&self, key: &[u8; 32]) -> Result<HashMap<u32, Key32>, EncryptionError> {
        let mut out = HashMap::new();
        for c in self.classes.iter().filter(|c| c.wrap & 2 != 0) {
            let unwrapped =
                unwrap_key(key, &c.wrapped_key).ok_or(EncryptionError::WrongPassword)?;
            out.insert(c.class, unwrapped);
        }
        if out.is_empty() {
            return Err(EncryptionError::BadKeybag(
                "no class key is protected by the password".into(),
            ));
        }
        Ok(out)
    }
}

/// RFC 3394 AES key unwrap of a 40-byte wrapped 256-bit key.
fn unwrap_key(kek: &[u8; 32], wrapped: &[u8]) -> Option<Key32> {
    if wrapped.len() != 40 {
        return None;
    }
    let kw = aes_kw::KwAes256::new(&Array::from(*kek));
    let mut out = Zeroizing::new([0u8; 32]);
    kw.unwrap_key(wrapped, out.as_mut()).ok()?;
    Some(out)
}

/// Streams AES-256-CBC (zero IV, PKCS#7) ciphertext from `input` to `output`, holding only one
/// chunk in memory. Returns the number of plaintext bytes written.
///
/// The padding, not the `Size` recorded in Manifest.db, decides the length: backup tools keep
/// stale sizes for files rewritten after the manifest entry was made.
pub fn decrypt_stream(
    key: &[u8; 32],
    mut input: impl Read,
    mut output: impl Write,
) -> Result<u64, String> {
    /// Ciphertext read per step; a multiple of the AES block size.
    const CHUNK: usize = 1 << 20;
    const TRUNCATED: &str = "truncated ciphertext (not a whole number of AES blocks)";
    let mut dec = Aes256CbcDec::new(&Array::from(*key), &Array::from([0u8; 16]));
    let mut buf = vec![0u8; CHUNK + 16];
    let mut written = 0u64;
    let mut emit = |data: &[u8]| -> Result<(), String> {
        output.write_all(data).map_err(|e| e.to_string())?;
        written += data.len() as u64;
        Ok(())
    };
    // buf[..held] is the last decrypted block, kept back until we know whether it is the final
    // one (whose padding must be removed).
    let mut held = 0usize;
    loop {
        let mut filled = held;
        while filled < buf.len() {
            match input.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let new = filled - held;
        if new == 0 {
            break;
        }
        if !new.is_multiple_of(16) {
            return Err(TRUNCATED.into());
        }
        let (blocks, _) = Array::slice_as_chunks_mut(&mut buf[held..filled]);
        dec.decrypt_blocks(blocks);
        emit(&buf[..filled - 16])?;
        buf.copy_within(filled - 16..filled, 0);
        held = 16;
        if filled < buf.len() {
            break;
        }
    }
    if held == 0 {
        return Ok(0);
    }
    let last = &buf[..16];
    let pad = last[15] as usize;
    if pad == 0 || pad > 16 || !last[16 - pad..].iter().all(|&b| b as usize == pad) {
        return Err("bad padding: wrong key or damaged file".into());
    }
    emit(&last[..16 - pad])?;
    Ok(written)
}

/// The per-file key recorded in a Manifest.db `MBFile` blob.
struct FileKey {
    class: u32,
    wrapped: Vec<u8>,
}

fn file_key(blob: &[u8]) -> Result<Option<FileKey>, String> {
    let file = crate::nskeyed::unarchive_bytes(blob)?;
    let dict = file.as_dictionary().ok_or("MBFile is not a dictionary")?;
    let Some(key) = dict.get("EncryptionKey").and_then(plist::Value::as_data) else {
        return Ok(None);
    };
    if key.len() < 4 {
        return Err("EncryptionKey is too short".into());
    }
    let class = dict
        .get("ProtectionClass")
        .and_then(plist::Value::as_unsigned_integer)
        .map(|c| c as u32)
        .unwrap_or_else(|| u32::from_le_bytes([key[0], key[1], key[2], key[3]]));
    Ok(Some(FileKey {
        class,
        wrapped: key[4..].to_vec(),
    }))
}

/// The keys of an encrypted backup, ready to decrypt Manifest.db and files.
pub struct BackupKeys {
    class_keys: HashMap<u32, Key32>,
    manifest_key: Option<ClassWrappedKey>,
}

/// Reads `Manifest.plist`, checks the password (or key), and unwraps the class keys.
pub fn unlock(root: &Path, secret: &Secret) -> Result<BackupKeys, EncryptionError> {
    unlock_folder(&FolderEvidence::new(root), secret)
}

/// [`unlock`] reading `Manifest.plist` through `folder`, so its SHA-256 is recorded there.
fn unlock_folder(folder: &FolderEvidence, secret: &Secret) -> Result<BackupKeys, EncryptionError> {
    let (keybag, manifest_key) = read_manifest_plist(folder)?;
    let key = match secret {
        Secret::Password(p) => keybag.derive_key(p.as_bytes()),
        Secret::Key(k) => k.clone(),
    };
    Ok(BackupKeys {
        class_keys: keybag.unlock(&key)?,
        manifest_key,
    })
}

/// The passcode key derived from a password, as 64 lowercase hex characters.
pub fn extract_key(root: &Path, password: &str) -> Result<Zeroizing<String>, EncryptionError> {
    let (keybag, _) = read_manifest_plist(&FolderEvidence::new(root))?;
    let key = keybag.derive_key(password.as_bytes());
    keybag.unlock(&key)?;
    Ok(Zeroizing::new(hex::encode(&key[..])))
}

/// A wrapped key with its protection class.
type ClassWrappedKey = (u32, Vec<u8>);

fn read_manifest_plist(
    folder: &FolderEvidence,
) -> Result<(Keybag, Option<ClassWrappedKey>), EncryptionError> {
    let path = folder.root().join("Manifest.plist");
    let bad = |reason: &str| EncryptionError::BadManifest {
        path: path.display().to_string(),
        reason: reason.to_string(),
    };
    let value = folder
        .read_plist("Manifest.plist")
        .map_err(|e| bad(&e.to_string()))?;
    let dict = value
        .as_dictionary()
        .ok_or_else(|| bad("not a dictionary"))?;
    let keybag = dict
        .get("BackupKeyBag")
        .and_then(plist::Value::as_data)
        .ok_or_else(|| bad("no BackupKeyBag: the backup is not encrypted"))?;
    let manifest_key = match dict.get("ManifestKey").and_then(plist::Value::as_data) {
        Some(k) if k.len() == 44 => Some((
            u32::from_le_bytes([k[0], k[1], k[2], k[3]]),
            k[4..].to_vec(),
        )),
        Some(_) => return Err(bad("ManifestKey is not 44 bytes")),
        None => None,
    };
    Ok((Keybag::parse(keybag)?, manifest_key))
}

impl BackupKeys {
    fn unwrap_file_key(&self, class: u32, wrapped: &[u8]) -> Result<Key32, String> {
        let class_key = self
            .class_keys
            .get(&class)
            .ok_or_else(|| format!("no key for protection class {class}"))?;
        unwrap_key(class_key, wrapped).ok_or_else(|| "the file key does not unwrap".to_string())
    }

    /// Decrypts Manifest.db (in memory).
    fn decrypt_manifest(&self, folder: &FolderEvidence) -> Result<Vec<u8>, EvidenceError> {
        let bytes = folder.read(MANIFEST_DB)?;
        let Some((class, wrapped)) = &self.manifest_key else {
            return Ok(bytes); // iOS < 10.2: Manifest.db is stored in clear.
        };
        let unreadable = |reason: String| EvidenceError::Unreadable {
            path: MANIFEST_DB.to_string(),
            reason,
        };
        let key = self.unwrap_file_key(*class, wrapped).map_err(unreadable)?;
        let mut plain = Vec::with_capacity(bytes.len());
        decrypt_stream(&key, &bytes[..], &mut plain).map_err(unreadable)?;
        Ok(plain)
    }
}

/// An encrypted backup folder read through its keys. Plaintext only ever lives in memory.
pub struct EncryptedEvidence {
    folder: FolderEvidence,
    keys: BackupKeys,
    manifest_plain: Vec<u8>,
    manifest: Mutex<Connection>,
}

impl EncryptedEvidence {
    pub fn open(root: &Path, secret: &Secret) -> Result<EncryptedEvidence, EncryptionError> {
        let folder = FolderEvidence::new(root);
        let keys = unlock_folder(&folder, secret)?;
        let manifest_plain = keys.decrypt_manifest(&folder)?;
        let manifest = open_sqlite_bytes(MANIFEST_DB, manifest_plain.clone())?;
        Ok(EncryptedEvidence {
            folder,
            keys,
            manifest_plain,
            manifest: Mutex::new(manifest),
        })
    }

    pub fn root(&self) -> PathBuf {
        self.folder.root().to_path_buf()
    }

    /// The decrypted Manifest.db bytes.
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_plain
    }

    /// The key of the stored file at `path` (`xx/<fileID>`), if it is encrypted.
    fn key_for(&self, path: &str) -> Result<Option<Key32>, EvidenceError> {
        let unreadable = |reason: String| EvidenceError::Unreadable {
            path: path.to_string(),
            reason,
        };
        let id = path.rsplit('/').next().unwrap_or(path);
        let blob: Option<Vec<u8>> = {
            let conn = self.manifest.lock().unwrap_or_else(|p| p.into_inner());
            conn.query_row("SELECT file FROM Files WHERE fileID = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(|_| unreadable("not listed in Manifest.db, so its key is unknown".into()))?
        };
        let Some(blob) = blob else {
            return Ok(None);
        };
        let Some(fk) =
            file_key(&blob).map_err(|e| unreadable(format!("bad MBFile record: {e}")))?
        else {
            return Ok(None);
        };
        let key = self
            .keys
            .unwrap_file_key(fk.class, &fk.wrapped)
            .map_err(unreadable)?;
        Ok(Some(key))
    }

    /// Decrypts the stored file at `path` into `out`, streaming; returns bytes written.
    pub fn decrypt_to(&self, path: &str, out: impl Write) -> Result<u64, EvidenceError> {
        let unreadable = |reason: String| EvidenceError::Unreadable {
            path: path.to_string(),
            reason,
        };
        let full = self
            .folder
            .root()
            .join(portcullis_evidence::checked_relative(path)?);
        let file = std::fs::File::open(&full).map_err(|e| EvidenceError::Io {
            path: path.to_string(),
            source: e,
        })?;
        match self.key_for(path)? {
            Some(key) => {
                decrypt_stream(&key, std::io::BufReader::new(file), out).map_err(unreadable)
            }
            None => std::io::copy(&mut std::io::BufReader::new(file), &mut { out })
                .map_err(|e| unreadable(e.to_string())),
        }
    }
}

impl Evidence for EncryptedEvidence {
    fn list(&self) -> Result<Vec<portcullis_evidence::FileEntry>, EvidenceError> {
        self.folder.list()
    }

    fn exists(&self, path: &str) -> bool {
        self.folder.exists(path)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, EvidenceError> {
        if path == MANIFEST_DB {
            return Ok(self.manifest_plain.clone());
        }
        let cipher = self.folder.read(path)?; // size-capped, hashed as stored
        if path.ends_with(".plist") && !path.contains('/') {
            return Ok(cipher); // Info.plist, Manifest.plist, Status.plist are not encrypted.
        }
        match self.key_for(path)? {
            Some(key) => {
                let mut plain = Vec::with_capacity(cipher.len());
                decrypt_stream(&key, &cipher[..], &mut plain).map_err(|reason| {
                    EvidenceError::Unreadable {
                        path: path.to_string(),
                        reason,
                    }
                })?;
                Ok(plain)
            }
            None => Ok(cipher),
        }
    }

    fn open_sqlite(&self, path: &str) -> Result<Connection, EvidenceError> {
        let bytes = self.read(path)?;
        open_sqlite_bytes(path, bytes)
    }

    fn hashes(&self) -> Vec<(String, String)> {
        self.folder.hashes()
    }
}

/// What `decrypt_backup` did.
#[derive(Debug, Default)]
pub struct DecryptSummary {
    pub files: usize,
    /// Files that could not be decrypted, with the reason (the rest were written).
    pub failed: Vec<String>,
}

/// Whether `dest` may receive a decrypted copy of `source`: not inside it (or vice versa), and
/// absent or empty.
pub fn check_destination(source: &Path, dest: &Path) -> Result<(), String> {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (src, dst) = (abs(source), abs(dest));
    if dst.starts_with(&src) || src.starts_with(&dst) {
        return Err(format!(
            "{} overlaps the backup {}: choose a destination outside it",
            dest.display(),
            source.display()
        ));
    }
    if dest.exists() {
        let empty = std::fs::read_dir(dest)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(format!("{} exists and is not empty", dest.display()));
        }
    }
    Ok(())
}

impl EncryptedEvidence {
    /// Stored paths of every file Manifest.db lists that is present in the backup folder.
    pub fn stored_files(&self) -> Vec<String> {
        let conn = self.manifest.lock().unwrap_or_else(|p| p.into_inner());
        let ids: Vec<String> = conn
            .prepare("SELECT fileID FROM Files WHERE flags = 1 ORDER BY rowid")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_default();
        ids.iter()
            .map(|id| crate::backup::stored_path(id))
            .filter(|p| self.folder.exists(p))
            .collect()
    }

    /// Writes a decrypted copy of the backup into `dest` in the ordinary layout: Manifest.db and
    /// every file decrypted (in parallel, streaming), Info.plist and Status.plist copied, and
    /// Manifest.plist marked unencrypted. `on_file` is called once per file (for progress).
    pub fn decrypt_backup(
        &self,
        dest: &Path,
        on_file: &(dyn Fn() + Sync),
    ) -> Result<DecryptSummary, EncryptionError> {
        use rayon::prelude::*;
        check_destination(self.folder.root(), dest).map_err(|reason| {
            EncryptionError::BadManifest {
                path: dest.display().to_string(),
                reason,
            }
        })?;
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |e: std::io::Error| EvidenceError::Io {
                path: path.clone(),
                source: e,
            }
        };
        std::fs::create_dir_all(dest).map_err(io(dest))?;
        std::fs::write(dest.join(MANIFEST_DB), &self.manifest_plain).map_err(io(dest))?;
        for name in ["Info.plist", "Status.plist"] {
            if self.folder.exists(name) {
                let bytes = self.folder.read(name)?;
                std::fs::write(dest.join(name), bytes).map_err(io(dest))?;
            }
        }
        self.write_clear_manifest_plist(dest)?;
        let files = self.stored_files();
        let failed: Vec<String> = files
            .par_iter()
            .filter_map(|rel| {
                let result = self.decrypt_file_into(rel, dest);
                on_file();
                result.err().map(|e| e.to_string())
            })
            .collect();
        Ok(DecryptSummary {
            files: files.len() - failed.len(),
            failed,
        })
    }

    fn decrypt_file_into(&self, rel: &str, dest: &Path) -> Result<(), EvidenceError> {
        let target = dest.join(portcullis_evidence::checked_relative(rel)?);
        let io = |e| EvidenceError::Io {
            path: target.display().to_string(),
            source: e,
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut out = std::io::BufWriter::new(std::fs::File::create(&target).map_err(io)?);
        let result = self
            .decrypt_to(rel, &mut out)
            .and_then(|_| out.flush().map_err(io));
        if result.is_err() {
            drop(out);
            let _ = std::fs::remove_file(&target);
        }
        result
    }

    fn write_clear_manifest_plist(&self, dest: &Path) -> Result<(), EncryptionError> {
        let mut value =
            self.folder
                .read_plist("Manifest.plist")
                .map_err(|e| EncryptionError::BadManifest {
                    path: "Manifest.plist".into(),
                    reason: e.to_string(),
                })?;
        if let Some(d) = value.as_dictionary_mut() {
            d.insert("IsEncrypted".into(), false.into());
            d.remove("BackupKeyBag");
            d.remove("ManifestKey");
        }
        value
            .to_file_binary(dest.join("Manifest.plist"))
            .map_err(|e| EncryptionError::BadManifest {
                path: dest.join("Manifest.plist").display().to_string(),
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{file_id, stored_path};
    use crate::builder::BackupBuilder;

    fn build(dir: &Path) -> PathBuf {
        BackupBuilder::new(dir)
            .unwrap()
            .file("HomeDomain", "Library/notes.txt", b"hello, encrypted world")
            .unwrap()
            .sqlite(
                "HomeDomain",
                "Library/SMS/sms.db",
                "CREATE TABLE message(text); INSERT INTO message VALUES ('hi');",
            )
            .unwrap()
            .encrypt_with("s3cret")
            .finish()
            .unwrap()
    }

    fn password(p: &str) -> Secret {
        Secret::Password(Zeroizing::new(p.to_string()))
    }

    #[test]
    fn built_encrypted_backup_decrypts_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let root = build(dir.path());
        let notes = stored_path(&file_id("HomeDomain", "Library/notes.txt"));
        assert_ne!(
            std::fs::read(root.join(&notes)).unwrap(),
            b"hello, encrypted world"
        );
        let ev = EncryptedEvidence::open(&root, &password("s3cret")).unwrap();
        assert_eq!(ev.read(&notes).unwrap(), b"hello, encrypted world");
        let sms = stored_path(&file_id("HomeDomain", "Library/SMS/sms.db"));
        let conn = ev.open_sqlite(&sms).unwrap();
        let text: String = conn
            .query_row("SELECT text FROM message", [], |r| r.get(0))
            .unwrap();
        assert_eq!(text, "hi");
        // The key printed by extract-key opens the backup without the password.
        let key = extract_key(&root, "s3cret").unwrap();
        let by_key = EncryptedEvidence::open(&root, &Secret::from_key_hex(&key).unwrap()).unwrap();
        assert_eq!(by_key.read(&notes).unwrap(), b"hello, encrypted world");
        // Hashes are of the files as stored (ciphertext), the evidence.
        assert!(ev.hashes().iter().any(|(p, _)| p == &notes));
    }

    #[test]
    fn wrong_password_and_bad_key_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = build(dir.path());
        assert!(matches!(
            EncryptedEvidence::open(&root, &password("wrong")),
            Err(EncryptionError::WrongPassword)
        ));
        assert!(matches!(
            Secret::from_key_hex("abc"),
            Err(EncryptionError::BadKeyHex)
        ));
        let zero = Secret::from_key_hex(&"00".repeat(32)).unwrap();
        assert!(matches!(
            EncryptedEvidence::open(&root, &zero),
            Err(EncryptionError::WrongPassword)
        ));
    }

    #[test]
    fn damaged_keybags_are_errors_not_panics() {
        for bytes in [
            &b""[..],
            b"VERS",
            b"VERS\x00\x00\x00\x04\x00\x00\x00\x04",
            b"UUID\xff\xff\xff\xff",
            b"SALT\x00\x00\x00\x02ab",
        ] {
            assert!(Keybag::parse(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn truncated_or_badly_padded_ciphertext_is_an_error() {
        let key = [7u8; 32];
        let mut out = Vec::new();
        assert!(decrypt_stream(&key, &[0u8; 20][..], &mut out).is_err());
        // A random block almost never ends in valid PKCS#7 padding of 16 equal bytes.
        let mut out = Vec::new();
        let err = decrypt_stream(&key, &[0x55u8; 32][..], &mut out);
        assert!(err.is_err() || out.len() < 32);
        let mut out = Vec::new();
        assert_eq!(decrypt_stream(&key, &[][..], &mut out), Ok(0));
    }

    #[test]
    fn streaming_spans_chunk_boundaries() {
        use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
        let key = [9u8; 32];
        let plain: Vec<u8> = (0..(3 << 20) + 5).map(|i| (i % 251) as u8).collect();
        let mut buf = plain.clone();
        buf.resize(plain.len() + 16, 0);
        let enc = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &[0u8; 16].into());
        let n = enc
            .encrypt_padded::<Pkcs7>(&mut buf, plain.len())
            .unwrap()
            .len();
        buf.truncate(n);
        let mut out = Vec::new();
        let written = decrypt_stream(&key, &buf[..], &mut out).unwrap();
        assert_eq!(written as usize, plain.len());
        assert!(out == plain);
    }
}
