//! Which kind of Android acquisition a path holds, from its name and the files it contains.

use std::path::Path;

use portcullis_evidence::{Evidence, FileEntry};

/// The Android inputs Portcullis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AndroidKind {
    /// `adb bugreport` output (zip or unpacked folder).
    Bugreport,
    /// An AndroidQF acquisition (folder, zip, or age-encrypted zip).
    AndroidQf,
    /// An `adb backup` file (`.ab`) or its extracted tree.
    AdbBackup,
    /// Android 16 intrusion-logging export (NDJSON `.txt` files).
    IntrusionLogs,
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Decides from a listing of the acquisition's files (paths relative to its root).
pub fn detect_from_listing(files: &[FileEntry]) -> Option<AndroidKind> {
    let has = |pred: &dyn Fn(&str) -> bool| files.iter().any(|f| pred(&f.path));
    let depth = |p: &str| p.matches('/').count();
    let qf_marker = |p: &str| {
        depth(p) <= 1
            && matches!(
                base_name(p),
                "acquisition.json"
                    | "packages.json"
                    | "getprop.txt"
                    | "ps.txt"
                    | "root_binaries.json"
                    | "backup.ab"
            )
    };
    // An extracted `adb backup` tree (apps/<package>/…), even beside .ab files.
    if has(&|p| p.starts_with("apps/")) {
        return Some(AndroidKind::AdbBackup);
    }
    if has(&qf_marker) {
        return Some(AndroidKind::AndroidQf);
    }
    let bugreport_marker = |p: &str| {
        let name = base_name(p);
        name == "main_entry.txt" || crate::bugreport::dumpstate::is_dumpstate_name(name)
    };
    if has(&bugreport_marker) {
        return Some(AndroidKind::Bugreport);
    }
    if has(&|p| p.ends_with(".txt") || p.ends_with(".zip")) {
        return Some(AndroidKind::IntrusionLogs);
    }
    None
}

/// Like [`detect_from_listing`], but only calls text files intrusion logs when one of them
/// really starts with an intrusion-logging event, so a folder of notes is not mistaken for one.
pub fn detect(evidence: &dyn Evidence, files: &[FileEntry]) -> Option<AndroidKind> {
    match detect_from_listing(files)? {
        AndroidKind::IntrusionLogs => files
            .iter()
            .filter(|f| f.path.ends_with(".txt"))
            .take(20)
            .any(|f| head(evidence, &f.path).is_some_and(|b| looks_like_intrusion_log(&b)))
            .then_some(AndroidKind::IntrusionLogs),
        kind => Some(kind),
    }
}

/// The first non-empty line is a JSON object keyed by an intrusion-logging event type.
/// The first 64 KiB of a file: enough to recognise it, without reading a large one whole.
fn head(evidence: &dyn Evidence, path: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    evidence
        .open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    Some(head)
}

fn looks_like_intrusion_log(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    String::from_utf8_lossy(head)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| {
            l.starts_with('{')
                && ["\"dns_event\"", "\"connect_event\"", "\"security_event\""]
                    .iter()
                    .any(|k| l.contains(k))
        })
}

/// Decides from the file name alone, for single-file inputs.
pub fn detect_from_name(path: &Path) -> Option<AndroidKind> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".ab") {
        Some(AndroidKind::AdbBackup)
    } else if name.ends_with(".zip.age") || name.ends_with(".age") {
        Some(AndroidKind::AndroidQf)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(paths: &[&str]) -> Vec<FileEntry> {
        paths
            .iter()
            .map(|p| FileEntry {
                path: p.to_string(),
                size: 1,
                modified: None,
            })
            .collect()
    }

    #[test]
    fn kinds_are_told_apart() {
        assert_eq!(
            detect_from_listing(&listing(&["androidqf/getprop.txt", "androidqf/ps.txt"])),
            Some(AndroidKind::AndroidQf)
        );
        assert_eq!(
            detect_from_listing(&listing(&["getprop.txt", "packages.json"])),
            Some(AndroidKind::AndroidQf)
        );
        assert_eq!(
            detect_from_listing(&listing(&["dumpstate.txt", "main_entry.txt", "FS/data/x"])),
            Some(AndroidKind::Bugreport)
        );
        assert_eq!(
            detect_from_listing(&listing(&[
                "apps/com.android.providers.telephony/d_f/000000_sms_backup"
            ])),
            Some(AndroidKind::AdbBackup)
        );
        assert_eq!(
            detect_from_listing(&listing(&["day1.txt", "sub/day2.txt"])),
            Some(AndroidKind::IntrusionLogs)
        );
        assert_eq!(detect_from_listing(&listing(&["photo.jpg"])), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
        let ev = portcullis_evidence::FolderEvidence::new(dir.path());
        assert_eq!(detect(&ev, &ev.list().unwrap()), None);
        std::fs::write(
            dir.path().join("day1.txt"),
            "\n{\"dns_event\": {\"event_time\": 1, \"hostname\": \"a.b\"}}\n",
        )
        .unwrap();
        assert_eq!(
            detect(&ev, &ev.list().unwrap()),
            Some(AndroidKind::IntrusionLogs)
        );
        assert_eq!(
            detect_from_name(Path::new("/x/backup.ab")),
            Some(AndroidKind::AdbBackup)
        );
        assert_eq!(
            detect_from_name(Path::new("acq.zip.age")),
            Some(AndroidKind::AndroidQf)
        );
    }
}
