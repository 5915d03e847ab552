//! Age-encrypted zips: X25519 and passphrase round trips, wrong keys, bounds and damage.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use common::{err_text, zip_bytes};
use portcullis_evidence::{
    Evidence, EvidenceError, ZipEvidence, open_age_zip, open_age_zip_with_passphrase,
};
use sha2::{Digest, Sha256};

const MAX: u64 = 1 << 30;

fn plain_zip() -> Vec<u8> {
    zip_bytes(&[
        (
            "androidqfzip/getprop.txt",
            b"[ro.build.version.sdk]: [33]\n",
        ),
        ("androidqfzip/packages.json", b"[]"),
    ])
}

fn encrypt(recipient: &dyn age::Recipient, plaintext: &[u8]) -> Vec<u8> {
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient)).unwrap();
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).unwrap();
    writer.write_all(plaintext).unwrap();
    writer.finish().unwrap();
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// An identity file as `age-keygen` writes it: comments, then the secret key.
fn identity_file(dir: &Path, name: &str, identity: &age::x25519::Identity) -> PathBuf {
    let text = format!(
        "# created: 2024-01-01T00:00:00Z\n# public key: {}\n\n{}\n",
        identity.to_public(),
        identity.to_string().expose_secret()
    );
    write(dir, name, text.as_bytes())
}

#[test]
fn x25519_round_trip_matches_the_plain_zip() {
    let dir = tempfile::tempdir().unwrap();
    let identity = age::x25519::Identity::generate();
    let plain = plain_zip();
    let encrypted = encrypt(&identity.to_public(), &plain);
    let age_path = write(dir.path(), "acq.zip.age", &encrypted);
    let key_path = identity_file(dir.path(), "key.txt", &identity);

    let decrypted = open_age_zip(&age_path, &key_path, MAX).unwrap();
    let reference = ZipEvidence::from_bytes("plain.zip", plain).unwrap();
    assert_eq!(decrypted.list().unwrap(), reference.list().unwrap());
    for entry in reference.list().unwrap() {
        assert_eq!(
            decrypted.read(&entry.path).unwrap(),
            reference.read(&entry.path).unwrap()
        );
    }
    let age_hash = hex::encode(Sha256::digest(&encrypted));
    let key = age_path.display().to_string();
    assert!(decrypted.hashes().contains(&(key, age_hash)));
    // Nothing but the inputs is in the folder: the plaintext never went to disk.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn wrong_identity_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let right = age::x25519::Identity::generate();
    let wrong = age::x25519::Identity::generate();
    let age_path = write(
        dir.path(),
        "acq.zip.age",
        &encrypt(&right.to_public(), &plain_zip()),
    );
    let key_path = identity_file(dir.path(), "wrong.txt", &wrong);

    let err = open_age_zip(&age_path, &key_path, MAX).unwrap_err();
    assert!(matches!(err, EvidenceError::CannotDecrypt { .. }));
    assert_eq!(
        err.to_string(),
        format!("this age identity cannot decrypt {}", age_path.display())
    );

    let err = err_text(open_age_zip_with_passphrase(&age_path, "guess", MAX));
    assert!(err.starts_with("this passphrase cannot decrypt"), "{err}");
}

#[test]
fn passphrase_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut recipient = age::scrypt::Recipient::new(SecretString::from("correct horse".to_owned()));
    recipient.set_work_factor(10);
    let plain = plain_zip();
    let age_path = write(dir.path(), "acq.zip.age", &encrypt(&recipient, &plain));

    let decrypted = open_age_zip_with_passphrase(&age_path, "correct horse", MAX).unwrap();
    assert_eq!(decrypted.read("androidqfzip/packages.json").unwrap(), b"[]");
    let err = err_text(open_age_zip_with_passphrase(
        &age_path,
        "battery staple",
        MAX,
    ));
    assert_eq!(
        err,
        format!("this passphrase cannot decrypt {}", age_path.display())
    );
}

#[test]
fn size_bound_damage_and_bad_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let identity = age::x25519::Identity::generate();
    let key_path = identity_file(dir.path(), "key.txt", &identity);
    let plain = plain_zip();
    let encrypted = encrypt(&identity.to_public(), &plain);
    let age_path = write(dir.path(), "acq.zip.age", &encrypted);

    let err = err_text(open_age_zip(&age_path, &key_path, plain.len() as u64 - 1));
    assert!(
        err.contains("acq.zip.age") && err.contains("limit"),
        "{err}"
    );
    assert!(open_age_zip(&age_path, &key_path, plain.len() as u64).is_ok());

    let text_age = encrypt(&identity.to_public(), b"just text");
    let garbage_key = write(dir.path(), "garbage.txt", b"# c\nAGE-SECRET-KEY-1NOTAKEY\n");
    let empty_key = write(dir.path(), "empty.txt", b"# only a comment\n");
    let cases: [(&str, &[u8], &Path, &[&str]); 5] = [
        (
            "cut.zip.age",
            &encrypted[..encrypted.len() - 20],
            &key_path,
            &["damaged or truncated"],
        ),
        (
            "plain.zip.age",
            &plain,
            &key_path,
            &["not an age-encrypted file"],
        ),
        // Decrypts fine but is not a zip.
        (
            "text.age",
            &text_age,
            &key_path,
            &["text.age (decrypted)", "not a readable zip"],
        ),
        // age names the line, never its content (it may be a key).
        (
            "acq2.zip.age",
            &encrypted,
            &garbage_key,
            &["garbage.txt", "line 2"],
        ),
        (
            "acq3.zip.age",
            &encrypted,
            &empty_key,
            &["empty.txt", "no age identity"],
        ),
    ];
    for (name, content, key, fragments) in cases {
        let path = write(dir.path(), name, content);
        let err = err_text(open_age_zip(&path, key, MAX));
        assert!(
            fragments.iter().all(|f| err.contains(f)) && !err.contains("NOTAKEY"),
            "{err}"
        );
    }

    let missing = dir.path().join("missing.age");
    assert!(
        open_age_zip(&missing, &key_path, MAX)
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        open_age_zip(&age_path, &dir.path().join("nokey.txt"), MAX)
            .unwrap_err()
            .is_not_found()
    );
}
