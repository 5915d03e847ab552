//! Age-encrypted zips (`.zip.age`, as AndroidQF writes them), decrypted into memory only: the
//! plaintext of an encrypted acquisition must never land on disk.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use ::age::secrecy::SecretString;
use ::age::{DecryptError, Decryptor, Identity, IdentityFile};

use crate::zip::{ZipEvidence, sha256_reader};
use crate::{EvidenceError, FolderEvidence, Result};

/// Decrypts `path` with the X25519 identities in `identity_file` (`AGE-SECRET-KEY-1…` lines,
/// `#` comments allowed) into at most `max_bytes` of memory and serves the zip inside.
/// Records the SHA-256 of the `.age` file under its path, and of the decrypted zip under
/// "<path> (decrypted)", the name its errors carry.
pub fn open_age_zip(path: &Path, identity_file: &Path, max_bytes: u64) -> Result<ZipEvidence> {
    let identities = read_identities(identity_file)?;
    decrypt_zip(
        path,
        identities.iter().map(|i| i.as_ref() as &dyn Identity),
        "age identity",
        max_bytes,
    )
}

/// Like [`open_age_zip`] for a file encrypted to a passphrase (age's scrypt recipient).
pub fn open_age_zip_with_passphrase(
    path: &Path,
    passphrase: &str,
    max_bytes: u64,
) -> Result<ZipEvidence> {
    let identity = ::age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    decrypt_zip(
        path,
        std::iter::once(&identity as &dyn Identity),
        "passphrase",
        max_bytes,
    )
}

fn read_identities(identity_file: &Path) -> Result<Vec<Box<dyn Identity + Send + Sync>>> {
    let unreadable = |reason: String| EvidenceError::Unreadable {
        path: identity_file.display().to_string(),
        reason,
    };
    let file = File::open(identity_file).map_err(|source| io_error(identity_file, source))?;
    // age's parser names the offending line number, never its content (it may be a key).
    let parsed = IdentityFile::from_buffer(BufReader::new(file))
        .map_err(|e| unreadable(format!("not an age identity file ({e})")))?;
    let identities = parsed
        .into_identities()
        .map_err(|e| unreadable(format!("unusable age identity ({e})")))?;
    if identities.is_empty() {
        return Err(unreadable(
            "no age identity (AGE-SECRET-KEY-1…) in the file".to_string(),
        ));
    }
    Ok(identities)
}

/// Streams the decryption into memory, bounded by `max_bytes`, then opens the zip from there.
fn decrypt_zip<'a>(
    path: &Path,
    identities: impl Iterator<Item = &'a dyn Identity>,
    key_kind: &'static str,
    max_bytes: u64,
) -> Result<ZipEvidence> {
    let name = path.display().to_string();
    let unreadable = |reason: String| EvidenceError::Unreadable {
        path: name.clone(),
        reason,
    };
    let open = || File::open(path).map_err(|source| io_error(path, source));
    let sha256 = sha256_reader(open()?).map_err(|source| io_error(path, source))?;
    let file = open()?;
    let file_len = file
        .metadata()
        .map_err(|source| io_error(path, source))?
        .len();

    let decryptor = Decryptor::new_buffered(BufReader::new(file))
        .map_err(|e| unreadable(format!("not an age-encrypted file ({e})")))?;
    let plaintext = decryptor.decrypt(identities).map_err(|e| match e {
        DecryptError::NoMatchingKeys | DecryptError::DecryptionFailed => {
            EvidenceError::CannotDecrypt {
                path: name.clone(),
                key_kind,
            }
        }
        other => unreadable(format!("cannot decrypt ({other})")),
    })?;

    // The ciphertext is slightly larger than the plaintext: reserve once instead of doubling.
    let mut bytes = Vec::with_capacity(file_len.min(max_bytes) as usize);
    plaintext
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(format!("damaged or truncated age file ({e})")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(unreadable(format!(
            "decrypts to more than the {max_bytes}-byte limit"
        )));
    }

    let evidence = ZipEvidence::from_bytes(&format!("{name} (decrypted)"), bytes)?;
    evidence.record_hash(&name, sha256);
    Ok(evidence)
}

fn io_error(path: &Path, source: io::Error) -> EvidenceError {
    FolderEvidence::io_err(&path.display().to_string(), source)
}
