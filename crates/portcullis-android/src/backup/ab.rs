//! The `.ab` container: the text header, then the decryption, inflation and tar layers.
//!
//! Layout (as written by Android's `BackupManagerService`): lines `ANDROID BACKUP`, format
//! version, `0`/`1` (zlib-compressed), `none`/`AES-256`; for AES-256 five more lines (see
//! [`super::crypto`]); then the payload.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::crypto;
use super::tar_evidence::{TarEvidence, TarLimits};
use super::{BackupError, CappedReader};

const MAGIC: &str = "ANDROID BACKUP";

/// Longest header line accepted (the longest real one is a hex key blob of ~200 characters).
pub(super) const MAX_HEADER_LINE: u64 = 4096;

/// How the payload is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    None,
    Aes256,
}

/// The clear-text header of an `.ab` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupHeader {
    /// Backup format version (1 to 5).
    pub version: u64,
    /// Whether the tar is zlib-compressed.
    pub compressed: bool,
    pub encryption: Encryption,
}

impl BackupHeader {
    /// Whether a password is needed to read the backup.
    pub fn is_encrypted(&self) -> bool {
        self.encryption == Encryption::Aes256
    }
}

/// Reads one `\n`-terminated header line, refusing overlong lines and non-ASCII text.
pub(super) fn header_line(input: &mut impl BufRead, what: &str) -> Result<String, BackupError> {
    let mut line = Vec::new();
    input
        .take(MAX_HEADER_LINE + 1)
        .read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(if line.len() as u64 > MAX_HEADER_LINE {
            BackupError::BadHeader(format!("the {what} line is too long"))
        } else {
            BackupError::BadHeader(format!("the file ends before the {what} line"))
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .ok()
        .filter(|s| s.is_ascii())
        .ok_or_else(|| BackupError::BadHeader(format!("the {what} line is not plain text")))
}

/// Reads the four header lines, leaving `input` at the start of the payload (or of the
/// encryption header).
pub fn read_header(input: &mut impl BufRead) -> Result<BackupHeader, BackupError> {
    let mut magic = [0u8; MAGIC.len()];
    input
        .read_exact(&mut magic)
        .map_err(|_| BackupError::NotABackup)?;
    if magic != MAGIC.as_bytes() {
        return Err(BackupError::NotABackup);
    }
    let rest = header_line(input, "magic")?;
    if !rest.is_empty() {
        return Err(BackupError::NotABackup);
    }
    let version_text = header_line(input, "format version")?;
    let version: u64 = version_text.trim().parse().map_err(|_| {
        BackupError::BadHeader(format!("format version \"{version_text}\" is not a number"))
    })?;
    if !(1..=5).contains(&version) {
        return Err(BackupError::UnsupportedVersion(version));
    }
    let compressed = match header_line(input, "compression")?.trim() {
        "0" => false,
        "1" => true,
        other => {
            return Err(BackupError::BadHeader(format!(
                "compression flag \"{other}\" is neither 0 nor 1"
            )));
        }
    };
    let encryption = match header_line(input, "encryption")?.trim() {
        "none" => Encryption::None,
        "AES-256" => Encryption::Aes256,
        other => return Err(BackupError::UnsupportedEncryption(other.to_string())),
    };
    Ok(BackupHeader {
        version,
        compressed,
        encryption,
    })
}

/// The header of the `.ab` file at `path`, to know whether to ask for a password first.
pub fn probe_file(path: &Path) -> Result<BackupHeader, BackupError> {
    read_header(&mut BufReader::new(File::open(path)?))
}

/// Opens the `.ab` file at `path`, streaming it (the file is never loaded whole).
pub fn open_backup_file(path: &Path, password: Option<&str>) -> Result<TarEvidence, BackupError> {
    open_backup(File::open(path)?, password)
}

/// Opens an `.ab` stream with the default [`TarLimits`], keeping in memory only the members
/// the backup modules read (the telephony provider's files). `password` is only used (and only
/// needed) when the backup is encrypted.
pub fn open_backup(input: impl Read, password: Option<&str>) -> Result<TarEvidence, BackupError> {
    let limits = TarLimits {
        keep: super::sms::is_telephony,
        ..TarLimits::default()
    };
    open_backup_with(input, password, &limits)
}

/// Opens an `.ab` stream: checks the header, unlocks the master key, then decrypts, inflates
/// and walks the tar in one streaming pass, keeping the files within `limits` in memory.
pub fn open_backup_with(
    input: impl Read,
    password: Option<&str>,
    limits: &TarLimits,
) -> Result<TarEvidence, BackupError> {
    let mut input = BufReader::new(input);
    let header = read_header(&mut input)?;
    let plain: Box<dyn Read + '_> = match header.encryption {
        Encryption::None => Box::new(input),
        Encryption::Aes256 => {
            let locked = crypto::read_key_header(&mut input)?;
            let password = password.ok_or(BackupError::PasswordRequired)?;
            let key = crypto::unlock(&locked, password, header.version)?;
            Box::new(crypto::CbcReader::new(input, &key))
        }
    };
    let tar: Box<dyn Read + '_> = if header.compressed {
        Box::new(flate2::read::ZlibDecoder::new(plain))
    } else {
        plain
    };
    let tar = CappedReader::new(tar, limits.max_stream, "the backup's decoded content");
    TarEvidence::from_tar(tar, limits)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Cursor;

    use portcullis_evidence::Evidence;

    use super::*;
    use crate::androidqf::test_support::fixtures;
    use crate::backup::tar_evidence::tests::tar_of;
    use crate::backup::tests::zlib;

    /// An unencrypted `.ab` file around `tar`.
    pub(crate) fn plain_ab(version: u32, compressed: bool, tar: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "ANDROID BACKUP\n{version}\n{}\nnone\n",
            u8::from(compressed)
        )
        .into_bytes();
        if compressed {
            out.extend(zlib(tar));
        } else {
            out.extend_from_slice(tar);
        }
        out
    }

    #[test]
    fn headers_are_read_and_checked() {
        let h = read_header(&mut Cursor::new(b"ANDROID BACKUP\n5\n1\nAES-256\nrest")).unwrap();
        assert_eq!(
            h,
            BackupHeader {
                version: 5,
                compressed: true,
                encryption: Encryption::Aes256
            }
        );
        assert!(h.is_encrypted());
        let bad: &[(&[u8], &str)] = &[
            (b"", "not an Android backup"),
            (b"PK\x03\x04 zip file here", "not an Android backup"),
            (b"ANDROID BACKUPX\n1\n", "not an Android backup"),
            (b"ANDROID BACKUP\n", "ends before the format version"),
            (b"ANDROID BACKUP\nfive\n0\nnone\n", "not a number"),
            (b"ANDROID BACKUP\n9\n0\nnone\n", "version 9"),
            (b"ANDROID BACKUP\n0\n0\nnone\n", "version 0"),
            (b"ANDROID BACKUP\n99999999999999999999999\n", "not a number"),
            (b"ANDROID BACKUP\n1\n2\nnone\n", "neither 0 nor 1"),
            (b"ANDROID BACKUP\n1\n0\nAES-128\n", "\"AES-128\""),
            (b"ANDROID BACKUP\n1\n0\nnon\xffe\n", "not plain text"),
        ];
        for (input, expected) in bad {
            let err = read_header(&mut Cursor::new(input)).unwrap_err();
            assert!(err.to_string().contains(expected), "{err} for {input:?}");
        }
        let mut long = b"ANDROID BACKUP\n".to_vec();
        long.extend(vec![b'1'; 10_000]);
        let err = read_header(&mut Cursor::new(long)).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
    }

    #[test]
    fn plain_backups_open_compressed_or_not() {
        let sms = "apps/com.android.providers.telephony/d_f/000000_sms_backup";
        let tar = tar_of(&[(sms, b"hello"), ("apps/a/f/x.txt", b"other app")]);
        for compressed in [false, true] {
            let ev = open_backup(&plain_ab(3, compressed, &tar)[..], None).unwrap();
            assert_eq!(ev.read(sms).unwrap(), b"hello");
            // Listed, but not held in memory: no module reads another app's files.
            assert_eq!(ev.list().unwrap().len(), 2);
            let err = ev.read("apps/a/f/x.txt").unwrap_err().to_string();
            assert!(err.contains("not kept in memory"), "{err}");
        }
        // A password given for a plain backup is simply not needed.
        let ev = open_backup(&plain_ab(1, true, &tar)[..], Some("pw")).unwrap();
        assert_eq!(ev.list().unwrap().len(), 2);
    }

    #[test]
    fn garbage_payloads_fail_cleanly() {
        let err = open_backup(&b"ANDROID BACKUP\n1\n1\nnone\nnot zlib"[..], None).unwrap_err();
        assert!(matches!(err, BackupError::Corrupt(_)), "{err}");
        let mut garbage = b"ANDROID BACKUP\n1\n0\nnone\n".to_vec();
        garbage.extend([0xFF; 600]);
        let err = open_backup(&garbage[..], None).unwrap_err();
        assert!(matches!(err, BackupError::Corrupt(_)), "{err}");
        // An empty archive is an empty backup, not an error.
        let empty = open_backup(&b"ANDROID BACKUP\n1\n0\nnone\n"[..], None).unwrap();
        assert!(empty.list().unwrap().is_empty());
        let bomb = plain_ab(1, true, &tar_of(&[("big", &vec![0u8; 4 << 20])]));
        let limits = TarLimits {
            max_stream: 1 << 20,
            ..TarLimits::default()
        };
        let err = open_backup_with(&bomb[..], None, &limits).unwrap_err();
        assert!(matches!(err, BackupError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn fixture_backups_open() {
        let Some(dir) = fixtures() else { return };
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        let sms = "apps/com.android.providers.telephony/d_f/000000_sms_backup";
        let mms = "apps/com.android.providers.telephony/d_f/000001_mms_backup";

        let ev = open_backup(&read("android_backup/backup.ab")[..], None).unwrap();
        let paths: Vec<String> = ev.list().unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(paths, [sms, mms]);

        let ev = open_backup(&read("android_backup/backup3.ab")[..], None).unwrap();
        assert!(ev.exists(sms));
        assert!(ev.exists("apps/com.android.providers.telephony/_manifest"));

        let path = dir.join("android_backup/backup2.ab");
        assert!(probe_file(&path).unwrap().is_encrypted());
        assert!(
            !probe_file(&dir.join("android_backup/backup3.ab"))
                .unwrap()
                .is_encrypted()
        );
        assert!(open_backup_file(&path, Some("123456")).unwrap().exists(sms));
        assert!(matches!(
            probe_file(&dir.join("android_backup/nope.ab")),
            Err(BackupError::Io(_))
        ));
        let encrypted = read("android_backup/backup2.ab");
        let ev = open_backup(&encrypted[..], Some("123456")).unwrap();
        assert!(ev.exists(sms));
        assert!(matches!(
            open_backup(&encrypted[..], Some("654321")),
            Err(BackupError::WrongPassword)
        ));
        assert!(matches!(
            open_backup(&encrypted[..], None),
            Err(BackupError::PasswordRequired)
        ));
        assert_eq!(
            read("androidqf_encrypted/backup.ab"),
            encrypted,
            "the AndroidQF copy is byte-identical"
        );
    }
}
