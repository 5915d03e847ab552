//! Android `adb backup` files (`.ab`) and their extracted trees.
//!
//! An `.ab` file is a short text header, an optional AES-256 layer (keyed from the backup
//! password), an optional zlib layer and a tar archive. [`open_backup`] streams through all
//! three and keeps the tar's files in a bounded in-memory [`TarEvidence`], so the modules of
//! [`modules`] read a `.ab` file exactly as they read an extracted folder (a `FolderEvidence`).
//!
//! Every layer is hostile input: header lines, key-derivation rounds, inflated bytes, tar entry
//! sizes and names are all capped or checked, and a damaged tail keeps what was read before it.

mod ab;
mod crypto;
mod sms;
mod tar_evidence;

use std::io::Read;

use crate::AndroidModule;

pub use ab::{
    BackupHeader, Encryption, open_backup, open_backup_file, open_backup_with, probe_file,
    read_header,
};
pub use tar_evidence::{TarEvidence, TarLimits};

/// Every module run on an Android backup, in MVT's order.
pub fn modules() -> Vec<&'static AndroidModule> {
    vec![&sms::Sms]
}

/// Why a backup could not be opened. The messages are meant for the person running the check.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not an Android backup: the file does not start with \"ANDROID BACKUP\"")]
    NotABackup,
    #[error("damaged backup header: {0}")]
    BadHeader(String),
    #[error("unsupported Android backup format version {0} (versions 1 to 5 are known)")]
    UnsupportedVersion(u64),
    #[error("unsupported Android backup encryption \"{0}\" (only AES-256 is known)")]
    UnsupportedEncryption(String),
    #[error(
        "the backup is encrypted: give the password that was typed on the phone when the backup \
         was made"
    )]
    PasswordRequired,
    #[error(
        "Invalid backup password: it does not unlock this backup (check the password typed on the \
         phone when the backup was made)"
    )]
    WrongPassword,
    #[error("damaged backup: {0}")]
    Corrupt(String),
    #[error("{what} is larger than the {limit}-byte limit")]
    TooLarge { what: String, limit: u64 },
    #[error("reading the backup: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Evidence(#[from] portcullis_evidence::EvidenceError),
}

impl BackupError {
    /// Whether asking for a (different) password could help.
    pub fn is_password_problem(&self) -> bool {
        matches!(
            self,
            BackupError::PasswordRequired | BackupError::WrongPassword
        )
    }

    /// Recovers the precise error a reader deep in the decoding chain wrapped into an
    /// `io::Error`; anything else is damage to the stream.
    fn from_stream(err: std::io::Error) -> BackupError {
        if !err.get_ref().is_some_and(|inner| inner.is::<StreamFault>()) {
            return BackupError::Corrupt(err.to_string());
        }
        let text = err.to_string();
        match err
            .into_inner()
            .map(|inner| inner.downcast::<StreamFault>())
        {
            Some(Ok(fault)) => fault.0,
            _ => BackupError::Corrupt(text),
        }
    }
}

/// A [`BackupError`] travelling through `std::io::Read` layers.
#[derive(Debug)]
struct StreamFault(BackupError);

impl std::fmt::Display for StreamFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StreamFault {}

impl StreamFault {
    fn into_io(error: BackupError) -> std::io::Error {
        std::io::Error::other(StreamFault(error))
    }
}

/// Fails once more than `limit` bytes came through: a small zlib stream can inflate to
/// terabytes (a "zlib bomb").
struct CappedReader<R> {
    inner: R,
    left: u64,
    limit: u64,
    what: &'static str,
}

impl<R: Read> CappedReader<R> {
    fn new(inner: R, limit: u64, what: &'static str) -> Self {
        CappedReader {
            inner,
            left: limit,
            limit,
            what,
        }
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Ask for one byte more than allowed, so reaching the limit exactly is not an error.
        let want = buf.len().min(
            usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        );
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(StreamFault::into_io(BackupError::TooLarge {
                what: self.what.to_string(),
                limit: self.limit,
            }));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Inflates a whole zlib stream held in memory, refusing more than `limit` output bytes.
fn inflate_capped(bytes: &[u8], limit: u64, what: &'static str) -> Result<Vec<u8>, BackupError> {
    let decoder = flate2::read::ZlibDecoder::new(bytes);
    let mut out = Vec::new();
    CappedReader::new(decoder, limit, what)
        .read_to_end(&mut out)
        .map_err(BackupError::from_stream)?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// zlib-compresses `data` (the form of `.ab` payloads and SMS/MMS backup files).
    pub(crate) fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn inflate_stops_at_the_cap() {
        let bomb = zlib(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 4096);
        let err = inflate_capped(&bomb, 1000, "test stream").unwrap_err();
        assert!(
            matches!(&err, BackupError::TooLarge { limit: 1000, .. }),
            "{err}"
        );
        assert_eq!(inflate_capped(&bomb, 1 << 20, "x").unwrap().len(), 1 << 20);
        assert!(matches!(
            inflate_capped(b"not zlib at all", 100, "x"),
            Err(BackupError::Corrupt(_))
        ));
        assert!(inflate_capped(&bomb[..bomb.len() / 2], 1 << 21, "x").is_err());
    }

    #[test]
    fn password_problems_are_told_apart() {
        assert!(BackupError::WrongPassword.is_password_problem());
        assert!(BackupError::PasswordRequired.is_password_problem());
        assert!(!BackupError::NotABackup.is_password_problem());
        assert!(
            BackupError::WrongPassword
                .to_string()
                .starts_with("Invalid backup password")
        );
    }
}
