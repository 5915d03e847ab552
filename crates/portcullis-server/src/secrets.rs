//! Random tokens, their stored digests, passwords (argon2id) and constant-time comparison.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ServerError;

/// The shortest password accepted (ASVS 2.1.1 asks for at least 12 characters).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest: argon2 cost does not depend on length, but a request body should stay small.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// `bytes` random bytes from the operating system, URL-safe base64.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    URL_SAFE_NO_PAD.encode(buf)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf
}

/// What the database keeps of a bearer secret (session id, API token, invitation): its SHA-256.
/// The secrets are 256-bit random, so a fast digest is enough.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Why a password is refused, in words for the person choosing it; `None` when it is acceptable.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(format!(
            "Choose a password of at least {MIN_PASSWORD_CHARS} characters (a few unrelated words work well)."
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Some(format!(
            "Passwords are limited to {MAX_PASSWORD_CHARS} characters."
        ));
    }
    None
}

/// An argon2id hash in PHC form, with a fresh salt (the crate's defaults: m=19 MiB, t=2, p=1,
/// OWASP's recommended minimum).
pub fn hash_password(password: &str) -> Result<String, ServerError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| ServerError::Internal(format!("hashing a password: {e}")))
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so a wrong e-mail address costs
/// the same time as a wrong password and does not reveal which accounts exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token(24)).expect("argon2 hashes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &hash));
        assert!(!verify_password("correct horse battery stapl", &hash));
        assert!(!verify_password("anything", "not a phc string"));
        assert_ne!(hash, hash_password("correct horse battery staple").unwrap());
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(password_problem("short").is_some());
        assert!(password_problem(&"x".repeat(300)).is_some());
        assert!(password_problem("twelve chars").is_none());
    }

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq("same", "same"));
        assert!(!constant_time_eq("same", "sama"));
    }
}
