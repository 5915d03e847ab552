//! Reading one file of a network check from start to end: open it, recognise its format,
//! read it into the check, hash it whole.

use crate::check::Check;
use crate::format::{self, Head, Input, Module, Outcome};
use crate::source::{Compression, Opened, Source};

/// How one file of a network check went.
pub struct FileRun {
    /// The file as given (`-` for standard input).
    pub source: String,
    pub compression: Compression,
    /// SHA-256 and size of the file as stored (before decompression); empty when it could
    /// not be opened.
    pub sha256: String,
    pub bytes: u64,
    /// The format's `--kind` name and the module the file reports under, when recognised.
    pub format: Option<(&'static str, Module)>,
    /// The file's tally, or why it could not be read at all (unreadable, not a log this
    /// tool knows).
    pub outcome: Result<Outcome, String>,
}

/// Reads `source` to the end with the format `kind` names, or the one its contents show.
pub fn read(source: &Source, kind: Option<&str>, check: &Check<'_>) -> FileRun {
    let name = source.display();
    let mut run = FileRun {
        source: name.clone(),
        compression: Compression::None,
        sha256: String::new(),
        bytes: 0,
        format: None,
        outcome: Err(String::new()),
    };
    let mut opened = match Opened::open(source) {
        Ok(opened) => opened,
        Err(e) => {
            run.outcome = Err(format!("{name}: {e}"));
            return run;
        }
    };
    run.compression = opened.compression;
    let head = Head::new(&opened.head);
    let Some((format, module)) = format::recognise(&head, kind) else {
        run.outcome = Err(match kind {
            Some(kind) => format!("{name}: not a {kind} log or capture this tool can read"),
            None => format!(
                "{name}: not a network log or capture this tool recognises (formats: {})",
                format::kinds().join(", ")
            ),
        });
        (run.sha256, run.bytes) = opened.finish();
        return run;
    };
    run.format = Some((format.kind(), module));
    let path = match (source, opened.compression) {
        (Source::File(path), Compression::None) => Some(path.as_path()),
        _ => None,
    };
    let input = Input {
        reader: &mut opened.reader,
        head: &opened.head,
        path,
        year: opened.year,
    };
    let outcome: Outcome = format.read(module, input, check);
    (run.sha256, run.bytes) = opened.finish();
    run.outcome = Ok(outcome);
    run
}
