//! `check-androidqf`: the modules reading an AndroidQF acquisition (folder, zip, or decrypted
//! age zip), one file per artifact, and access to what the acquisition nests (its `backup.ab`,
//! `bugreport.zip` and intrusion logs).
//!
//! Where the files are: MVT only finds AndroidQF files one folder down (`*/packages.json`), so a
//! folder given directly works (paths are taken relative to its parent) but a zip whose files sit
//! at its root finds nothing. Here every file is accepted at the acquisition's root **or** one
//! folder down (`packages.json` or `<dir>/packages.json`, the root preferred), so a folder given
//! directly, a folder holding the acquisition folder, and a zip with or without a top folder all
//! work.

mod aqf_files;
mod aqf_get_prop;
mod aqf_log_timestamps;
mod aqf_packages;
mod aqf_processes;
mod aqf_settings;
mod mounts;
mod nested;
mod root_binaries;
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod wall_clock;

use portcullis_core::{Alert, Level};
use portcullis_evidence::FileEntry;
use serde_json::Value;

use crate::AndroidModule;
use crate::{Context, ModuleError};

pub use nested::{
    NestedBackup, NestedBackupError, NestedBugreport, SubEvidence, nested_backup, nested_bugreport,
    nested_intrusion_logs,
};

/// Every AndroidQF module, in MVT's order. The nested bugreport, backup and intrusion-log
/// modules run separately on the evidence [`nested_bugreport`], [`nested_backup`] and
/// [`nested_intrusion_logs`] give.
pub fn modules() -> Vec<&'static AndroidModule> {
    vec![
        &aqf_packages::AqfPackages,
        &aqf_processes::AqfProcesses,
        &aqf_get_prop::AqfGetProp,
        &aqf_settings::AqfSettings,
        &aqf_files::AqfFiles,
        &aqf_log_timestamps::AqfLogTimestamps,
        &root_binaries::RootBinaries,
        &mounts::Mounts,
    ]
}

/// The folder depth of a path (`a` is 0, `d/a` is 1).
fn depth(path: &str) -> usize {
    path.matches('/').count()
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Every file at the acquisition root or one folder down whose base name satisfies `wanted`,
/// root files first.
pub fn locate_all(files: &[FileEntry], wanted: impl Fn(&str) -> bool) -> Vec<&FileEntry> {
    let mut found: Vec<&FileEntry> = files
        .iter()
        .filter(|f| depth(&f.path) <= 1 && wanted(base_name(&f.path)))
        .collect();
    found.sort_by_key(|f| depth(&f.path));
    found
}

/// The AndroidQF file `name` at the root, else the first one folder down.
pub fn locate<'a>(files: &'a [FileEntry], name: &str) -> Option<&'a FileEntry> {
    locate_all(files, |base| base == name).into_iter().next()
}

/// Finds `name` or explains that the acquisition does not have it.
fn require<'a>(ctx: &Context<'a>, name: &str) -> Result<&'a FileEntry, ModuleError> {
    locate(ctx.files, name).ok_or_else(|| {
        ModuleError::NotFound(format!(
            "no {name} at the acquisition root or one folder down"
        ))
    })
}

/// Reads a located file as text: UTF-8 (invalid bytes replaced), or UTF-16 with a byte-order
/// mark as Windows shells save command output.
fn read_text(ctx: &Context<'_>, file: &FileEntry) -> Result<String, ModuleError> {
    let bytes = ctx.evidence.read(&file.path)?;
    Ok(portcullis_evidence::decode_text(&bytes))
}

/// Reads a located file holding a JSON list of `what` (AndroidQF writes `null` for an empty
/// list), naming the file when it is not one. Parsed as a stream, with bounded strings.
fn read_json_list(
    ctx: &Context<'_>,
    file: &FileEntry,
    what: &str,
) -> Result<Vec<Value>, ModuleError> {
    match portcullis_evidence::json::read_value(ctx.evidence, &file.path)? {
        Value::Array(list) => Ok(list),
        Value::Null => Ok(Vec::new()),
        _ => Err(ModuleError::Parse {
            path: file.path.clone(),
            reason: format!("not a JSON list of {what}"),
        }),
    }
}

/// The device's time zone (`persist.sys.timezone` in the acquisition's `getprop.txt`), when
/// recorded.
pub fn acquisition_timezone(ctx: &Context<'_>) -> Option<String> {
    let file = locate(ctx.files, "getprop.txt")?;
    let text = read_text(ctx, file).ok()?;
    aqf_get_prop::property(&text, "persist.sys.timezone")
}

/// A heuristic alert about `event` read from `source`.
fn heuristic(
    level: Level,
    slug: &str,
    message: String,
    timestamp: &str,
    event: &Value,
    source: &str,
    advice: &str,
) -> Alert {
    Alert::heuristic(level, slug, message, timestamp, event.clone())
        .with_source(source)
        .with_advice(advice)
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::{Evidence, FolderEvidence};

    use super::test_support::{fixtures, with_context, with_folder};
    use super::*;

    #[test]
    fn files_are_found_at_the_root_or_one_folder_down() {
        let files = [
            ("a/b/ps.txt", ""),
            ("acq/getprop.txt", ""),
            ("getprop.txt", ""),
            ("x/ps.txt", ""),
            ("q/settings_secure.txt", ""),
            ("settings_global.txt", ""),
            ("a/b/settings_x.txt", ""),
        ];
        with_folder(&files, |root| {
            let listing = FolderEvidence::new(root).list().unwrap();
            assert_eq!(locate(&listing, "getprop.txt").unwrap().path, "getprop.txt");
            assert_eq!(locate(&listing, "ps.txt").unwrap().path, "x/ps.txt");
            assert!(locate(&listing, "packages.json").is_none());
            let settings = locate_all(&listing, |b| b.starts_with("settings_"));
            let paths: Vec<&str> = settings.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(paths, ["settings_global.txt", "q/settings_secure.txt"]);
        });
    }

    #[test]
    fn timezone_from_getprop() {
        let props = "[ro.x]: [1]\n[persist.sys.timezone]: [Europe/Paris]\n";
        with_folder(&[("acq/getprop.txt", props)], |root| {
            let zone = with_context(&FolderEvidence::new(root), None, acquisition_timezone);
            assert_eq!(zone.as_deref(), Some("Europe/Paris"));
        });
        let Some(dir) = fixtures() else { return };
        let ev = FolderEvidence::new(dir.join("androidqf"));
        let zone = with_context(&ev, None, acquisition_timezone);
        assert_eq!(zone, None, "the fixture records no zone");
    }

    /// Per module slug, its record count (`None` when it found no data).
    type Counts = Vec<(&'static str, Option<usize>)>;

    /// Runs `modules` on `evidence`: the counts, then the alert, timeline and URL totals.
    fn run_all(
        evidence: &dyn Evidence,
        modules: &[&'static AndroidModule],
    ) -> (Counts, usize, usize, usize) {
        with_context(evidence, None, |ctx| {
            let runs = crate::run_modules(ctx, modules, &Default::default());
            let outputs: Vec<_> = runs
                .iter()
                .filter_map(|r| r.outcome.as_ref().ok())
                .collect();
            let counts = runs
                .iter()
                .map(|r| match &r.outcome {
                    Ok(out) => (r.slug, Some(out.results.len())),
                    Err(ModuleError::NotFound(_)) => (r.slug, None),
                    Err(e) => panic!("{}: {e}", r.slug),
                })
                .collect();
            let total =
                |f: fn(&portcullis_core::ModuleOutput) -> usize| outputs.iter().map(|o| f(o)).sum();
            (
                counts,
                total(|o| o.alerts.len()),
                total(|o| o.timeline.len()),
                total(|o| o.urls.len()),
            )
        })
    }

    /// §7.6: the acquisition folder, its zip, and the encrypted acquisition, as the CLI runs
    /// them (AndroidQF modules, then the nested backup's).
    #[test]
    fn fixture_acquisitions() {
        let Some(dir) = fixtures() else { return };
        let ev = FolderEvidence::new(dir.join("androidqf"));
        let (counts, alerts, timeline, _) = run_all(&ev, &modules());
        assert_eq!(
            counts,
            [
                ("aqf_packages", Some(7)),
                ("aqf_processes", Some(15)),
                ("aqf_get_prop", Some(10)),
                ("aqf_settings", Some(1)),
                ("aqf_files", Some(3)),
                ("aqf_log_timestamps", None),
                ("root_binaries", Some(4)),
                ("mounts", None),
            ]
        );
        assert_eq!((alerts, timeline), (10, 10));
        let backup = nested_backup(&ev, &ev.list().unwrap(), None)
            .unwrap()
            .unwrap();
        let (counts, alerts, _, urls) = run_all(&backup.evidence, &crate::backup::modules());
        assert_eq!(counts, [("sms", Some(2))]);
        assert_eq!((alerts, urls), (0, 2));

        let zip = portcullis_evidence::ZipEvidence::open(&dir.join("androidqf.zip")).unwrap();
        let (counts, alerts, _, _) = run_all(&zip, &modules());
        let found: Vec<_> = counts.iter().filter(|(_, n)| n.is_some()).collect();
        assert_eq!(found, [&("aqf_get_prop", Some(10))]);
        assert_eq!(alerts, 0);

        let ev = FolderEvidence::new(dir.join("androidqf_encrypted"));
        let (counts, ..) = run_all(&ev, &modules());
        assert!(
            counts.iter().all(|(_, n)| n.is_none()),
            "only a backup.ab there"
        );
        let backup = nested_backup(&ev, &ev.list().unwrap(), Some("123456"))
            .unwrap()
            .unwrap();
        let (counts, alerts, _, urls) = run_all(&backup.evidence, &crate::backup::modules());
        assert_eq!(counts, [("sms", Some(1))]);
        assert_eq!((alerts, urls), (0, 1));
    }
}
