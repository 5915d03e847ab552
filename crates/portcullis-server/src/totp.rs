//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 6 digits, 30-second
//! steps): what every authenticator app speaks. Secrets are 160 random bits, shown in base32.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;

/// A new secret, base32 without padding (as authenticator apps expect it typed).
pub fn new_secret() -> String {
    base32_encode(&crate::secrets::random_bytes::<20>())
}

/// The `otpauth://` URI an authenticator app imports (issuer "Portcullis", account = e-mail).
pub fn provisioning_uri(secret: &str, account: &str) -> String {
    let label: String =
        url::form_urlencoded::byte_serialize(format!("Portcullis:{account}").as_bytes())
            .collect::<String>()
            .replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={secret}&issuer=Portcullis&algorithm=SHA1&digits=6&period=30"
    )
}

/// The code for a time step.
pub fn code_at_step(secret: &[u8], step: i64) -> u32 {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(DIGITS)
}

pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The time step whose code `code` is, within one step of clock drift either way; `None` when it
/// matches none. The caller refuses a step already used (replay).
pub fn verify(secret_base32: &str, code: &str, unix_seconds: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let secret = base32_decode(secret_base32)?;
    let now = step_of(unix_seconds);
    [now, now - 1, now + 1].into_iter().find(|&step| {
        crate::secrets::constant_time_eq(
            &format!("{:06}", code_at_step(&secret, step)),
            &format!("{wanted:06}"),
        )
    })
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | byte as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32 (case-insensitive, spaces and `=` padding ignored); `None` on any other byte.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes().filter(|b| !matches!(b, b' ' | b'=')) {
        let value = ALPHABET
            .iter()
            .position(|&a| a == byte.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (the 8-digit values, of which ours are the last 6).
    #[test]
    fn rfc6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight_digits) in [
            (59i64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(
                code_at_step(secret, step_of(time)),
                eight_digits % 1_000_000,
                "t={time}"
            );
        }
    }

    #[test]
    fn base32_round_trips_rfc4648_vectors() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw6ytboi").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1"), None);
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        assert_eq!(base32_decode(&secret).unwrap().len(), 20);
    }

    #[test]
    fn codes_verify_within_one_step_of_drift_only() {
        let secret = base32_encode(b"12345678901234567890");
        let t = 1111111111;
        let code = format!("{:06}", code_at_step(b"12345678901234567890", step_of(t)));
        assert_eq!(verify(&secret, &code, t), Some(step_of(t)));
        assert_eq!(verify(&secret, &code, t + 30), Some(step_of(t)));
        assert_eq!(verify(&secret, &code, t + 90), None);
        assert_eq!(verify(&secret, "12345", t), None);
        assert_eq!(verify(&secret, "abcdef", t), None);
    }

    #[test]
    fn provisioning_uri_names_the_account() {
        assert_eq!(
            provisioning_uri("ABC", "a.b@example.org"),
            "otpauth://totp/Portcullis%3Aa.b%40example.org?secret=ABC&issuer=Portcullis&algorithm=SHA1&digits=6&period=30"
        );
    }
}
