//! JSON artifacts (AndroidQF's `packages.json`, `files.json`…) parsed as a stream from the
//! evidence, never read whole into memory first, with every string bounded: a hostile file of
//! one 500 MB string would otherwise cost that much several times over (the file, the string,
//! the value). Nesting is bounded by `serde_json`'s own limit of 128 levels.

use std::io::{self, BufReader, Read};

use serde_json::Value;

use crate::{Evidence, EvidenceError, Result};

/// Longest string (in bytes, as written in the file) a JSON artifact may hold. Real ones hold
/// names, paths, hashes and certificates: kilobytes at most.
pub const MAX_STRING: usize = 4 << 20;

/// Parses the JSON file at `path` of `evidence` as a stream. A file that is not valid JSON is
/// still read to its end, so that its SHA-256 is recorded like any other input's.
pub fn read_value(evidence: &dyn Evidence, path: &str) -> Result<Value> {
    let mut reader = BufReader::with_capacity(1 << 16, BoundedStrings::new(evidence.open(path)?));
    let parsed = serde_json::from_reader(&mut reader);
    parsed.map_err(|e| {
        let _ = io::copy(&mut reader.into_inner().inner, &mut io::sink());
        EvidenceError::Unreadable {
            path: path.to_string(),
            reason: format!("not valid JSON ({e})"),
        }
    })
}

/// Passes JSON text through, failing once a string runs longer than [`MAX_STRING`].
pub struct BoundedStrings<R> {
    inner: R,
    in_string: bool,
    escaped: bool,
    run: usize,
    limit: usize,
}

impl<R> BoundedStrings<R> {
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_STRING)
    }

    pub fn with_limit(inner: R, limit: usize) -> Self {
        BoundedStrings {
            inner,
            in_string: false,
            escaped: false,
            run: 0,
            limit,
        }
    }
}

impl<R: Read> Read for BoundedStrings<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if !self.in_string {
                if b == b'"' {
                    self.in_string = true;
                    self.run = 0;
                }
                continue;
            }
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                continue;
            }
            self.run += 1;
            if self.run > self.limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a string longer than {} bytes", self.limit),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8], limit: usize) -> std::result::Result<Value, String> {
        serde_json::from_reader(BoundedStrings::with_limit(text, limit)).map_err(|e| e.to_string())
    }

    #[test]
    fn strings_up_to_the_limit_pass_escapes_included() {
        assert_eq!(
            parse(br#"{"a": "12345", "b": ["x\"yz"]}"#, 5).unwrap(),
            serde_json::json!({"a": "12345", "b": ["x\"yz"]})
        );
        let err = parse(br#"{"a": "123456"}"#, 5).unwrap_err();
        assert!(err.contains("a string longer than 5 bytes"), "{err}");
        // A quote escaped inside a string does not end it.
        assert!(parse(br#"["\"\"\"\"\"\""]"#, 5).is_err());
    }

    #[test]
    fn truncated_or_broken_files_are_errors_naming_the_file_and_still_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"[{"name": "com.example.app", "files": [{"path": "/data/app/base.apk"}]}]"#;
        for cut in [1, 10, text.len() / 2, text.len() - 1] {
            std::fs::write(dir.path().join("packages.json"), &text[..cut]).unwrap();
            let evidence = crate::FolderEvidence::new(dir.path());
            let err = read_value(&evidence, "packages.json")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("packages.json: not valid JSON ("), "{err}");
            assert_eq!(evidence.hashes().len(), 1, "cut at {cut}");
        }
        std::fs::write(dir.path().join("packages.json"), b"\xff\xfe[1]").unwrap();
        let evidence = crate::FolderEvidence::new(dir.path());
        assert!(read_value(&evidence, "packages.json").is_err());
        std::fs::write(dir.path().join("packages.json"), text).unwrap();
        let evidence = crate::FolderEvidence::new(dir.path());
        assert_eq!(
            read_value(&evidence, "packages.json").unwrap()[0]["name"],
            "com.example.app"
        );
    }

    #[test]
    fn nesting_is_bounded_by_serde_json() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(deep.as_bytes(), MAX_STRING).unwrap_err();
        assert!(err.contains("recursion limit exceeded"), "{err}");
    }
}
