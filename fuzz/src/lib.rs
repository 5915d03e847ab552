//! What several fuzz targets share: indicators for the matching code to run against, and an
//! in-memory evidence so that the parsers reachable only through a module are fed the fuzzer's
//! bytes as the file the module looks for.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use portcullis_evidence::{Evidence, EvidenceError, FileEntry, Result, open_sqlite_bytes};
use portcullis_indicators::Indicators;

/// A few indicators of every kind the modules match (domains, IPs, URLs, apps, processes), so
/// that matching runs on whatever the parsers extract.
pub fn indicators() -> &'static Indicators {
    static INDICATORS: OnceLock<Indicators> = OnceLock::new();
    INDICATORS.get_or_init(|| {
        let bundle = portcullis_indicators::test_bundle_json(
            "Fuzz",
            &[
                "[domain-name:value = 'evil.com']",
                "[ipv4-addr:value = '203.0.113.5']",
                "[url:value = 'http://evil.com/x']",
                "[app:id = 'com.evil.app']",
                "[process:name = 'evil']",
            ],
        );
        let mut indicators = Indicators::new();
        indicators
            .load_bundle(bundle.as_bytes(), Path::new("fuzz.stix2"))
            .expect("the fuzz indicators load");
        indicators
    })
}

/// Lists `evidence` and reads each file, whole and then as a stream (the two ways modules read).
pub fn read_every_file(evidence: &dyn Evidence) {
    let Ok(files) = evidence.list() else {
        return;
    };
    for file in files {
        let _ = evidence.read(&file.path);
        if let Ok(mut stream) = evidence.open(&file.path) {
            let _ = std::io::copy(&mut stream, &mut std::io::sink());
        }
    }
    let _ = evidence.refused();
}

/// Files held in memory under their paths: the acquisition a module is run on.
pub struct MemoryEvidence {
    files: BTreeMap<String, Vec<u8>>,
}

impl MemoryEvidence {
    /// An evidence holding each file under its path.
    pub fn from_files(files: BTreeMap<String, Vec<u8>>) -> Self {
        MemoryEvidence { files }
    }

    /// An evidence holding `contents` under each of `paths`.
    pub fn with_files(paths: &[&str], contents: &[u8]) -> Self {
        let files = paths
            .iter()
            .map(|path| (path.to_string(), contents.to_vec()))
            .collect();
        MemoryEvidence { files }
    }

    fn get(&self, path: &str) -> Result<&[u8]> {
        self.files
            .get(path)
            .map(Vec::as_slice)
            .ok_or_else(|| EvidenceError::NotFound {
                path: path.to_string(),
            })
    }
}

impl Evidence for MemoryEvidence {
    fn list(&self) -> Result<Vec<FileEntry>> {
        Ok(self
            .files
            .iter()
            .map(|(path, bytes)| FileEntry {
                path: path.clone(),
                size: bytes.len() as u64,
                modified: None,
            })
            .collect())
    }

    fn exists(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>> {
        self.get(path).map(<[u8]>::to_vec)
    }

    fn open_sqlite(&self, path: &str) -> Result<rusqlite::Connection> {
        open_sqlite_bytes(path, self.get(path)?.to_vec())
    }

    fn hashes(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Runs each of `modules` whose slug is in `slugs` (all of them when `slugs` is empty) on an
/// acquisition holding `contents` under each of `paths`, one after another on this thread.
pub fn run_android_modules(
    modules: Vec<&'static portcullis_android::AndroidModule>,
    slugs: &[&str],
    paths: &[&str],
    contents: &[u8],
) {
    let evidence = MemoryEvidence::with_files(paths, contents);
    let files = evidence.list().expect("memory lists");
    let shared = portcullis_android::Shared::default();
    let ctx = portcullis_android::Context {
        evidence: &evidence,
        files: &files,
        indicators: indicators(),
        timezone: None,
        shared: &shared,
        spool: None,
    };
    let wanted = modules
        .into_iter()
        .filter(|module| slugs.is_empty() || slugs.contains(&module.slug()));
    for module in wanted {
        let _ = module.run(&ctx);
    }
}

/// The input cut into fields, each a little-endian u16 length and that many bytes (the last
/// field takes what is left when its length runs past the end): how targets that need several
/// values (rows, pages) read them from one input.
pub fn length_prefixed(mut data: &[u8]) -> Vec<&[u8]> {
    let mut fields = Vec::new();
    while let [low, high, rest @ ..] = data {
        let len = usize::from(u16::from_le_bytes([*low, *high])).min(rest.len());
        let (field, after) = rest.split_at(len);
        fields.push(field);
        data = after;
    }
    fields
}
