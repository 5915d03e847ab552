//! Finding the dumpstate text of a bugreport and the `dumpsys` sections inside it.
//!
//! The dumpstate is read once per run and shared by the modules through the run's
//! [`crate::Shared`]: a bugreport's dumpstate can be over 100 MB and eleven modules read it, and
//! when it is missing or unreadable that is said once, not by every module (see [`load`]).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use portcullis_evidence::FileEntry;
use portcullis_report::MainArtifact;

use crate::{Context, ModuleError};

/// A line starting with this many dashes closes a `dumpsys` section.
const SECTION_END: &str =
    "------------------------------------------------------------------------------";
/// Largest `main_entry.txt` worth reading: it only holds a file name.
const MAX_MAIN_ENTRY: u64 = 4096;

/// The dumpstate text with an index of its `DUMP OF SERVICE` sections.
pub(crate) struct Dumpstate {
    /// Path of the dumpstate file inside the acquisition.
    pub(crate) path: String,
    text: String,
    sections: HashMap<String, Range<usize>>,
}

impl Dumpstate {
    /// Decodes `bytes` (lossily: bugreports are not always valid UTF-8) and indexes its sections.
    pub(crate) fn new(path: impl Into<String>, bytes: Vec<u8>) -> Self {
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let sections = index_sections(&text);
        Dumpstate {
            path: path.into(),
            text,
            sections,
        }
    }

    /// The text of service `name` (after its `DUMP OF SERVICE name:` line, up to the closing
    /// dashes), when the dumpstate has it.
    pub(crate) fn section(&self, name: &str) -> Option<&str> {
        self.sections
            .get(name)
            .and_then(|r| self.text.get(r.clone()))
    }

    /// The `------ SYSTEM PROPERTIES` block (getprop output), when present.
    pub(crate) fn system_properties(&self) -> Option<&str> {
        let mut start = None;
        for (offset, line, next) in lines_with_offsets(&self.text) {
            let t = line.trim();
            match start {
                None if t.starts_with("------ SYSTEM PROPERTIES") => start = Some(next),
                Some(s) if t.starts_with("------") => return self.text.get(s..offset),
                _ => {}
            }
        }
        start.and_then(|s| self.text.get(s..))
    }
}

/// `(start, line without its line end, start of the next line)` for every line; handles `\n`
/// and `\r\n` ends.
pub(crate) fn lines_with_offsets(text: &str) -> impl Iterator<Item = (usize, &str, usize)> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= text.len() {
            return None;
        }
        let start = pos;
        let end =
            memchr::memchr(b'\n', &text.as_bytes()[start..]).map_or(text.len(), |i| start + i);
        pos = end + 1;
        let line = &text[start..end];
        Some((
            start,
            line.strip_suffix('\r').unwrap_or(line),
            pos.min(text.len()),
        ))
    })
}

/// The service named by a `DUMP OF SERVICE [CRITICAL|HIGH|NORMAL] <name>:` line (already
/// trimmed).
fn service_header(trimmed: &str) -> Option<&str> {
    let rest = trimmed
        .strip_prefix("DUMP OF SERVICE ")?
        .strip_suffix(':')?;
    let rest = ["CRITICAL ", "HIGH ", "NORMAL "]
        .iter()
        .find_map(|p| rest.strip_prefix(p))
        .unwrap_or(rest);
    let name = rest.trim();
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// Byte ranges of every section, by service name. A section ends at the 78-dash line that
/// dumpstate writes after it, or at the next section header when a vendor left the dashes out.
/// A service dumped twice keeps its first non-blank dump.
fn index_sections(text: &str) -> HashMap<String, Range<usize>> {
    let mut out: HashMap<String, Range<usize>> = HashMap::new();
    let mut open: Option<(&str, usize)> = None;
    let mut close = |open: &mut Option<(&str, usize)>, end: usize| {
        if let Some((name, start)) = open.take() {
            let keep = match out.get(name) {
                None => true,
                Some(r) => text[r.clone()].trim().is_empty(),
            };
            if keep {
                out.insert(name.to_string(), start..end.max(start));
            }
        }
    };
    for (offset, line, next) in lines_with_offsets(text) {
        let t = line.trim();
        if let Some(name) = service_header(t) {
            close(&mut open, offset);
            open = Some((name, next));
        } else if t.starts_with(SECTION_END) {
            close(&mut open, offset);
        }
    }
    close(&mut open, text.len());
    out
}

/// Whether a file name is one a bugreport gives its dumpstate (`dumpstate*.txt|.log`,
/// `dumpState_*.log`, `bugreport-*.txt`).
pub(crate) fn is_dumpstate_name(name: &str) -> bool {
    (name.starts_with("dumpstate") && (name.ends_with(".txt") || name.ends_with(".log")))
        || (name.starts_with("dumpState_") && name.ends_with(".log"))
        || (name.starts_with("bugreport-") && name.ends_with(".txt"))
}

fn is_root(path: &str) -> bool {
    !path.contains('/')
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Where the dumpstate is, in MVT's order of preference with real-device names added:
/// `main_entry.txt` (at the root, or one folder down in vendor wrappers) naming it, the first
/// `dumpState_*.log`, the first `*/dumpsys.txt`, then `bugreport-*.txt` / `dumpstate*.txt` at the
/// root (not Pixel's `dumpstate_board.txt`, which holds only vendor data). A `main_entry.txt`
/// naming a missing or unsafe file is passed over.
pub(crate) fn locate(ctx: &Context<'_>) -> Option<String> {
    let files = ctx.files;
    let mains = files
        .iter()
        .filter(|f| base_name(&f.path) == "main_entry.txt" && f.path.matches('/').count() <= 1)
        .filter(|f| f.size <= MAX_MAIN_ENTRY);
    for main in mains {
        let Ok(bytes) = ctx.evidence.read(&main.path) else {
            continue;
        };
        let named = String::from_utf8_lossy(&bytes).trim().to_string();
        if named.is_empty() {
            continue;
        }
        let folder = main.path.rsplit_once('/').map(|(d, _)| d);
        let candidate = match folder {
            Some(dir) if !ctx.evidence.exists(&named) => format!("{dir}/{named}"),
            _ => named,
        };
        if ctx.evidence.exists(&candidate) {
            return Some(candidate);
        }
        ctx.shared.warn(format!(
            "{}: names {candidate}, which is not in the acquisition",
            main.path
        ));
    }
    let first =
        |pred: &dyn Fn(&FileEntry) -> bool| files.iter().find(|f| pred(f)).map(|f| f.path.clone());
    first(&|f| crate::glob_match("dumpState_*.log", &f.path))
        .or_else(|| first(&|f| crate::glob_match("*/dumpsys.txt", &f.path)))
        .or_else(|| {
            first(&|f| {
                is_root(&f.path) && f.path.starts_with("bugreport-") && f.path.ends_with(".txt")
            })
        })
        .or_else(|| {
            first(&|f| {
                is_root(&f.path)
                    && f.path.starts_with("dumpstate")
                    && !f.path.starts_with("dumpstate_board")
                    && f.path.ends_with(".txt")
            })
        })
}

/// What looking for the dumpstate gave, kept in the run's [`crate::Shared`] so that it is
/// looked for and read once, and a problem is reported once, however many modules need it.
pub(crate) enum Loaded {
    Read(Arc<Dumpstate>),
    /// No file in the acquisition is a dumpstate; the text says what was looked for (and a
    /// dumpstate-like entry that was refused, if any).
    Missing(String),
    /// The dumpstate is there but could not be read: the error, naming the file.
    Unreadable {
        path: String,
        error: String,
    },
}

impl Loaded {
    pub(crate) fn as_main_artifact(&self) -> MainArtifact {
        let (path, problem) = match self {
            Loaded::Read(d) => (Some(d.path.clone()), None),
            Loaded::Missing(why) => (None, Some(why.clone())),
            Loaded::Unreadable { path, error } => (Some(path.clone()), Some(error.clone())),
        };
        MainArtifact {
            name: "dumpstate".into(),
            path,
            problem,
        }
    }
}

const LOOKED_FOR: &str = "Unable to find dumpstate file (main_entry.txt, dumpState_*.log, \
    */dumpsys.txt, bugreport-*.txt or dumpstate*.txt)";

/// The acquisition's dumpstate, read by the first module that asks while the others wait.
pub(crate) fn load(ctx: &Context<'_>) -> Result<Arc<Dumpstate>, ModuleError> {
    match ctx.shared.dumpstate.get_or_init(|| read(ctx)) {
        Loaded::Read(dumpstate) => Ok(Arc::clone(dumpstate)),
        Loaded::Missing(why) => Err(ModuleError::NotFound(why.clone())),
        Loaded::Unreadable { error, .. } => Err(ModuleError::Shared(error.clone())),
    }
}

fn read(ctx: &Context<'_>) -> Loaded {
    let Some(path) = locate(ctx) else {
        // An entry refused as unsafe (a bomb, a link) is not listed: say so rather than
        // only "not found", since it may be the dumpstate.
        let refused: Vec<String> = ctx
            .evidence
            .refused()
            .into_iter()
            .filter(|r| {
                let name = base_name(r.split(": ").next().unwrap_or(r));
                is_dumpstate_name(name) || name == "dumpsys.txt"
            })
            .collect();
        return Loaded::Missing(if refused.is_empty() {
            LOOKED_FOR.to_string()
        } else {
            format!("{LOOKED_FOR}; refused: {}", refused.join("; "))
        });
    };
    match ctx.evidence.read(&path) {
        Ok(bytes) => Loaded::Read(Arc::new(Dumpstate::new(path, bytes))),
        Err(e) => Loaded::Unreadable {
            path,
            error: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::{folder_context, with_folder};

    const DUMP: &str = "Currently running services:\n  appops\n\
        -------------------------------------------------------------------------------\n\
        DUMP OF SERVICE appops:\nCurrent AppOps Service state:\n  Uid 0:\n\n\
        --------- 0.05s was the duration of dumpsys appops\n\
        -------------------------------------------------------------------------------\n\
        \tDUMP OF SERVICE CRITICAL package:  \r\nPackages:\r\n  Package [a] (1):\r\n\
        DUMP OF SERVICE empty:\n\
        -------------------------------------------------------------------------------\n\
        DUMP OF SERVICE empty:\nsecond\n\
        ------ SYSTEM PROPERTIES (getprop) ------\n[a]: [b]\n------ 0.1s was the duration ------\n";

    #[test]
    fn sections_are_found_whatever_the_layout() {
        let d = Dumpstate::new("x", DUMP.as_bytes().to_vec());
        let appops = d.section("appops").unwrap();
        assert!(appops.starts_with("Current AppOps"));
        assert!(appops.contains("duration of dumpsys appops"));
        assert!(!appops.contains("DUMP OF"));
        // Priority prefix, indentation, CRLF and no closing dashes.
        assert_eq!(
            d.section("package").unwrap(),
            "Packages:\r\n  Package [a] (1):\r\n"
        );
        // A blank first dump gives way to a later one.
        assert!(d.section("empty").unwrap().starts_with("second"));
        assert_eq!(d.system_properties().unwrap(), "[a]: [b]\n");
        assert!(d.section("missing").is_none());
    }

    #[test]
    fn garbage_and_invalid_utf8_do_not_break_indexing() {
        let mut bytes = b"DUMP OF SERVICE a:\n\xff\xfe body\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'-', 200));
        bytes.extend(b"\nDUMP OF SERVICE :\nDUMP OF SERVICE two words:\nDUMP OF SERVICE b:");
        let d = Dumpstate::new("x", bytes);
        assert!(d.section("a").unwrap().contains("body"));
        assert_eq!(d.section("b"), Some(""));
        assert!(d.section("two words").is_none());
        let empty = Dumpstate::new("x", Vec::new());
        assert!(empty.section("a").is_none() && empty.system_properties().is_none());
    }

    #[test]
    fn the_dumpstate_is_located_in_mvt_order() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case] = &[
            (
                &[
                    ("main_entry.txt", "dumpstate-x.txt\n"),
                    ("dumpstate-x.txt", "a"),
                    ("dumpState_1.log", "b"),
                ],
                Some("dumpstate-x.txt"),
            ),
            (
                &[("main_entry.txt", "missing.txt"), ("dumpState_1.log", "b")],
                Some("dumpState_1.log"),
            ),
            (
                &[
                    ("main_entry.txt", "../../etc/passwd"),
                    ("z/dumpsys.txt", "b"),
                ],
                Some("z/dumpsys.txt"),
            ),
            (
                &[
                    ("wrap/main_entry.txt", "bugreport-1.txt"),
                    ("wrap/bugreport-1.txt", "b"),
                ],
                Some("wrap/bugreport-1.txt"),
            ),
            (
                &[
                    ("bugreport-pixel-2024.txt", "b"),
                    ("dumpstate_board.txt", "c"),
                ],
                Some("bugreport-pixel-2024.txt"),
            ),
            (&[("dumpstate.txt", "c")], Some("dumpstate.txt")),
            (&[("dumpstate_board.txt", "c")], None),
            (&[("FS/data/dumpstate.txt", "c"), ("photo.jpg", "")], None),
        ];
        for (files, expected) in cases {
            with_folder(files, |root| {
                let found = folder_context(root, &Default::default(), locate);
                assert_eq!(found.as_deref(), *expected, "{files:?}");
            });
        }
    }

    #[test]
    fn modules_share_one_read() {
        with_folder(&[("dumpstate.txt", "DUMP OF SERVICE a:\nx\n")], |root| {
            folder_context(root, &Default::default(), |ctx| {
                let first = load(ctx).unwrap();
                let second = load(ctx).unwrap();
                assert!(Arc::ptr_eq(&first, &second));
                assert_eq!(first.section("a"), Some("x\n"));
                let main = ctx.shared.main_artifact().unwrap();
                assert_eq!(main.path.as_deref(), Some("dumpstate.txt"));
                assert_eq!(main.problem, None);
            });
        });
    }

    #[test]
    fn a_missing_dumpstate_is_looked_for_and_warned_about_once() {
        let files = [("main_entry.txt", "gone.txt"), ("other.txt", "x")];
        with_folder(&files, |root| {
            folder_context(root, &Default::default(), |ctx| {
                for _ in 0..3 {
                    assert!(matches!(load(ctx), Err(ModuleError::NotFound(_))));
                }
                assert_eq!(
                    ctx.shared.warnings(),
                    ["main_entry.txt: names gone.txt, which is not in the acquisition"]
                );
                let main = ctx.shared.main_artifact().unwrap();
                assert_eq!(main.path, None);
                assert!(
                    main.problem
                        .unwrap()
                        .starts_with("Unable to find dumpstate")
                );
            });
        });
    }
}
