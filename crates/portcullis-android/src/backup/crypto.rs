//! AES-256 encrypted `.ab` files.
//!
//! After the clear header come five hex/decimal lines: user-password salt, master-key checksum
//! salt, PBKDF2 rounds, user IV, and the master-key blob. The password's PBKDF2-HMAC-SHA1 key
//! decrypts the blob into `[len][master IV][len][master key][len][checksum]`; the checksum
//! (PBKDF2 of the master key with the checksum salt) proves the password right before any
//! payload is decrypted with the master key (AES-256-CBC, PKCS#7).

use std::io::{BufRead, Read};

use aes::cipher::array::Array;
use aes::cipher::{BlockModeDecrypt, KeyIvInit};
use zeroize::Zeroizing;

use super::ab::header_line;
use super::{BackupError, StreamFault};

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// Android uses 10 000 rounds; a hostile header must not make key derivation run for hours.
const MAX_ROUNDS: u32 = 5_000_000;

/// The encryption lines of the header.
pub(super) struct KeyHeader {
    user_salt: Vec<u8>,
    checksum_salt: Vec<u8>,
    rounds: u32,
    user_iv: [u8; 16],
    master_key_blob: Vec<u8>,
}

/// The payload key, proven by the checksum.
pub(super) struct MasterKey {
    key: Zeroizing<[u8; 32]>,
    iv: [u8; 16],
}

fn hex_line(input: &mut impl BufRead, what: &str) -> Result<Vec<u8>, BackupError> {
    let line = header_line(input, what)?;
    hex::decode(line.trim())
        .map_err(|_| BackupError::BadHeader(format!("the {what} is not hexadecimal")))
}

/// Reads the five encryption lines that follow the clear header.
pub(super) fn read_key_header(input: &mut impl BufRead) -> Result<KeyHeader, BackupError> {
    let user_salt = hex_line(input, "user password salt")?;
    let checksum_salt = hex_line(input, "master key checksum salt")?;
    let rounds_text = header_line(input, "PBKDF2 rounds")?;
    let rounds: u32 = rounds_text
        .trim()
        .parse()
        .ok()
        .filter(|r| (1..=MAX_ROUNDS).contains(r))
        .ok_or_else(|| {
            BackupError::BadHeader(format!(
                "PBKDF2 rounds \"{rounds_text}\" is not a number from 1 to {MAX_ROUNDS}"
            ))
        })?;
    let user_iv: [u8; 16] = hex_line(input, "user IV")?
        .try_into()
        .map_err(|_| BackupError::BadHeader("the user IV is not 16 bytes".into()))?;
    let master_key_blob = hex_line(input, "master key blob")?;
    if master_key_blob.is_empty() || !master_key_blob.len().is_multiple_of(16) {
        return Err(BackupError::BadHeader(
            "the master key blob is not a whole number of AES blocks".into(),
        ));
    }
    Ok(KeyHeader {
        user_salt,
        checksum_salt,
        rounds,
        user_iv,
        master_key_blob,
    })
}

/// Java's quirk, reproduced by Android: the master key's bytes are turned into `char`s with
/// sign extension, then UTF-8 encoded, before the checksum is computed (format versions > 1).
fn java_utf8(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * 3));
    for &b in bytes {
        if b < 0x80 {
            out.push(b);
        } else {
            // The char is 0xFF00 | b: three UTF-8 bytes.
            out.extend([0xEF, 0xBC | (b >> 6), 0x80 | (b & 0x3F)]);
        }
    }
    out
}

/// Splits the decrypted blob into its length-prefixed parts; `None` when the lengths do not
/// fit, which is what a wrong password produces.
fn blob_parts(blob: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut rest = blob;
    let mut take = || {
        let (&len, tail) = rest.split_first()?;
        let len = usize::from(len);
        if tail.len() < len {
            return None;
        }
        let (part, tail) = tail.split_at(len);
        rest = tail;
        Some(part)
    };
    Some((take()?, take()?, take()?))
}

/// Derives the password key, decrypts the master-key blob and verifies its checksum.
pub(super) fn unlock(
    header: &KeyHeader,
    password: &str,
    version: u64,
) -> Result<MasterKey, BackupError> {
    let mut user_key = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
        password.as_bytes(),
        &header.user_salt,
        header.rounds,
        user_key.as_mut(),
    );
    let mut blob = Zeroizing::new(header.master_key_blob.clone());
    let mut dec = Aes256CbcDec::new(&Array::from(*user_key), &Array::from(header.user_iv));
    let (blocks, _) = Array::slice_as_chunks_mut(&mut blob[..]);
    dec.decrypt_blocks(blocks);

    let (iv, key, checksum) = blob_parts(&blob).ok_or(BackupError::WrongPassword)?;
    let (Ok(iv), Ok(key)) = (<[u8; 16]>::try_from(iv), <[u8; 32]>::try_from(key)) else {
        return Err(BackupError::WrongPassword);
    };
    let key = Zeroizing::new(key);
    let checked = if version > 1 {
        java_utf8(key.as_ref())
    } else {
        Zeroizing::new(key.to_vec())
    };
    let mut expected = Zeroizing::new(vec![0u8; checksum.len().max(1)]);
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
        &checked,
        &header.checksum_salt,
        header.rounds,
        &mut expected,
    );
    if checksum.is_empty() || expected[..] != *checksum {
        return Err(BackupError::WrongPassword);
    }
    Ok(MasterKey { key, iv })
}

/// Streams AES-256-CBC plaintext out of ciphertext, removing the PKCS#7 padding at the end.
pub(super) struct CbcReader<R> {
    inner: R,
    dec: Aes256CbcDec,
    /// Decrypted bytes not yet handed out: `out[pos..]`.
    out: Vec<u8>,
    pos: usize,
    /// The last decrypted block, held back until it is known whether it carries the padding.
    held: Option<[u8; 16]>,
    done: bool,
}

impl<R: Read> CbcReader<R> {
    /// Ciphertext decrypted per step (a multiple of the block size).
    const CHUNK: usize = 64 * 1024;

    pub(super) fn new(inner: R, key: &MasterKey) -> Self {
        CbcReader {
            inner,
            dec: Aes256CbcDec::new(&Array::from(*key.key), &Array::from(key.iv)),
            out: Vec::with_capacity(Self::CHUNK),
            pos: 0,
            held: None,
            done: false,
        }
    }

    fn fault(reason: &str) -> std::io::Error {
        StreamFault::into_io(BackupError::Corrupt(reason.to_string()))
    }

    /// Decrypts the next chunk into `out`; at the end, strips the padding.
    fn refill(&mut self) -> std::io::Result<()> {
        let mut chunk = vec![0u8; Self::CHUNK];
        let mut filled = 0;
        while filled < chunk.len() {
            match self.inner.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        chunk.truncate(filled);
        self.out.clear();
        self.pos = 0;
        if !filled.is_multiple_of(16) {
            return Err(Self::fault(
                "the encrypted data is truncated (not a whole number of AES blocks)",
            ));
        }
        if filled > 0 {
            let (blocks, _) = Array::slice_as_chunks_mut(&mut chunk[..]);
            self.dec.decrypt_blocks(blocks);
            if let Some(held) = self.held.take() {
                self.out.extend_from_slice(&held);
            }
            let (body, last) = chunk.split_at(filled - 16);
            self.out.extend_from_slice(body);
            self.held = last.try_into().ok();
        }
        if filled < Self::CHUNK {
            self.done = true;
            let Some(last) = self.held.take() else {
                return Err(Self::fault("the encrypted data is empty"));
            };
            let pad = usize::from(last[15]);
            if pad == 0 || pad > 16 || !last[16 - pad..].iter().all(|&b| usize::from(b) == pad) {
                return Err(Self::fault("bad padding at the end of the encrypted data"));
            }
            self.out.extend_from_slice(&last[..16 - pad]);
        }
        Ok(())
    }
}

impl<R: Read> Read for CbcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use aes::cipher::BlockModeEncrypt;
    use aes::cipher::block_padding::{NoPadding, Pkcs7};

    use super::*;
    use crate::backup::tar_evidence::TarLimits;
    use crate::backup::{Encryption, open_backup, open_backup_with};

    fn encrypt(key: &[u8; 32], iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        buf.resize(plain.len() + 16, 0);
        cbc::Encryptor::<aes::Aes256>::new(&Array::from(*key), &Array::from(*iv))
            .encrypt_padded::<Pkcs7>(&mut buf, plain.len())
            .unwrap()
            .to_vec()
    }

    /// Builds an encrypted `.ab` file the way Android does, for `payload` (already compressed
    /// or not, as `compressed` says).
    pub(crate) fn encrypted_ab(
        version: u32,
        compressed: bool,
        password: &str,
        payload: &[u8],
    ) -> Vec<u8> {
        let (user_salt, checksum_salt, rounds) = ([7u8; 64], [9u8; 64], 100u32);
        let user_iv = [3u8; 16];
        // A key with high bytes exercises the Java UTF-8 quirk.
        let master_key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xA5);
        let master_iv = [0x42u8; 16];
        let checked = if version > 1 {
            java_utf8(&master_key).to_vec()
        } else {
            master_key.to_vec()
        };
        let mut checksum = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(&checked, &checksum_salt, rounds, &mut checksum);
        let mut blob = vec![16u8];
        blob.extend(master_iv);
        blob.push(32);
        blob.extend(master_key);
        blob.push(32);
        blob.extend(checksum);
        let mut user_key = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password.as_bytes(), &user_salt, rounds, &mut user_key);
        // Android pads the blob with PKCS#5 too; the reader ignores the padding.
        let blob = encrypt(&user_key, &user_iv, &blob);
        let mut out = format!(
            "ANDROID BACKUP\n{version}\n{}\nAES-256\n{}\n{}\n{rounds}\n{}\n{}\n",
            u8::from(compressed),
            hex::encode_upper(user_salt),
            hex::encode_upper(checksum_salt),
            hex::encode_upper(user_iv),
            hex::encode_upper(&blob),
        )
        .into_bytes();
        out.extend(encrypt(&master_key, &master_iv, payload));
        out
    }

    #[test]
    fn java_quirk_matches_sign_extended_chars() {
        for b in 0u8..=255 {
            let java_char = char::from_u32(if b < 0x80 {
                u32::from(b)
            } else {
                0xFF00 | u32::from(b)
            })
            .unwrap();
            let mut utf8 = [0u8; 4];
            assert_eq!(
                &java_utf8(&[b])[..],
                java_char.encode_utf8(&mut utf8).as_bytes()
            );
        }
    }

    #[test]
    fn encrypted_backups_of_every_version_open() {
        let sms = "apps/com.android.providers.telephony/d_f/000000_sms_backup";
        let tar = crate::backup::tar_evidence::tests::tar_of(&[(sms, &[0xAB; 70_000])]);
        for version in [1, 2, 5] {
            for compressed in [false, true] {
                let payload = if compressed {
                    crate::backup::tests::zlib(&tar)
                } else {
                    tar.clone()
                };
                let ab = encrypted_ab(version, compressed, "s3cret é", &payload);
                let header = crate::backup::read_header(&mut &ab[..]).unwrap();
                assert_eq!(header.encryption, Encryption::Aes256);
                let ev = open_backup(&ab[..], Some("s3cret é")).unwrap();
                use portcullis_evidence::Evidence;
                assert_eq!(ev.read(sms).unwrap(), vec![0xAB; 70_000]);
                assert!(matches!(
                    open_backup(&ab[..], Some("s3cret e")),
                    Err(BackupError::WrongPassword)
                ));
            }
        }
    }

    #[test]
    fn damaged_encryption_headers_and_payloads() {
        let tar = crate::backup::tar_evidence::tests::tar_of(&[("a", b"1")]);
        let ab = encrypted_ab(5, false, "pw", &tar);
        let text = String::from_utf8_lossy(&ab).into_owned();
        let lines: Vec<&str> = text.splitn(10, '\n').collect();
        let with_line = |i: usize, value: &str| {
            let mut l = lines.clone();
            l[i] = value;
            l.join("\n").into_bytes()
        };
        let cases = [
            (with_line(4, "zz"), "not hexadecimal"),
            (with_line(6, "4000000000"), "PBKDF2 rounds"),
            (with_line(6, "0"), "PBKDF2 rounds"),
            (with_line(7, "00"), "not 16 bytes"),
            (with_line(8, "ABCD"), "whole number of AES blocks"),
        ];
        for (input, expected) in cases {
            let err = open_backup(&input[..], Some("pw")).err().unwrap();
            assert!(err.to_string().contains(expected), "{err}");
        }
        // Cut inside the key lines, or inside the ciphertext.
        let err = open_backup(&ab[..200], Some("pw")).err().unwrap();
        assert!(matches!(err, BackupError::BadHeader(_)), "{err}");
        let err = open_backup(&ab[..ab.len() - 5], Some("pw")).err().unwrap();
        assert!(err.to_string().contains("truncated"), "{err}");
        // A flipped last byte breaks the padding: damage, not a password problem.
        let mut flipped = ab.clone();
        *flipped.last_mut().unwrap() ^= 0x55;
        let err = open_backup_with(&flipped[..], Some("pw"), &TarLimits::default())
            .err()
            .unwrap();
        assert!(!err.is_password_problem(), "{err}");
    }

    #[test]
    fn garbled_blobs_mean_a_wrong_password() {
        assert!(blob_parts(&[]).is_none());
        assert!(blob_parts(&[16, 1, 2]).is_none());
        assert_eq!(
            blob_parts(&[1, 9, 0, 2, 7, 7, 0xFF]),
            Some((&[9u8][..], &[][..], &[7u8, 7][..]))
        );
        // Unpadded decryption of a blob of the right size with the wrong key.
        let header = KeyHeader {
            user_salt: vec![1; 8],
            checksum_salt: vec![2; 8],
            rounds: 10,
            user_iv: [0; 16],
            master_key_blob: {
                let mut b = vec![0u8; 96];
                let len = b.len();
                cbc::Encryptor::<aes::Aes256>::new(
                    &Array::from([1u8; 32]),
                    &Array::from([0u8; 16]),
                )
                .encrypt_padded::<NoPadding>(&mut b, len)
                .unwrap();
                b
            },
        };
        assert!(matches!(
            unlock(&header, "anything", 5),
            Err(BackupError::WrongPassword)
        ));
    }
}
