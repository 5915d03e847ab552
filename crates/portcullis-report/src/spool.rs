//! Records of large modules written to the results folder as they are produced, instead of
//! being held until the check ends: a heavily used phone has millions of messages and visits,
//! and holding them as JSON values made memory grow with the data.
//!
//! A module pushes records into a [`RecordSpool`]. Until [`SPILL_AFTER`] records it keeps them
//! in memory (small results, tests and library users see an ordinary [`Results::List`]); past
//! that, when the program has named a spool folder with [`set_dir`] (the CLI names the
//! results folder, where the records are written anyway), it writes them to a file there,
//! one compact record per line, and [`ResultsDir::write_check`](crate::sink::ResultsDir) moves
//! that file into place as `<slug>.json`. Nothing is ever spooled anywhere else: decrypted
//! records must not land outside the folder the user chose.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::Results;

/// Timeline rows a module holds before writing them to a run file.
pub const TIMELINE_SPILL_AFTER: usize = 20_000;

/// Records kept in memory before a spool moves to a file.
pub const SPILL_AFTER: usize = 1_000;

static SPOOL_DIR: RwLock<Option<PathBuf>> = RwLock::new(None);
static NEXT_FILE: AtomicUsize = AtomicUsize::new(0);

/// Names the folder large modules may write their records to (`None`: keep them in memory).
pub fn set_dir(dir: Option<&Path>) {
    if let Ok(mut slot) = SPOOL_DIR.write() {
        *slot = dir.map(Path::to_path_buf);
    }
}

fn spool_dir() -> Option<PathBuf> {
    SPOOL_DIR.read().ok().and_then(|dir| dir.clone())
}

/// A module's records, as they come.
pub struct RecordSpool {
    slug: &'static str,
    held: Vec<Value>,
    file: Option<SpoolFile>,
    count: usize,
}

struct SpoolFile {
    path: PathBuf,
    writer: BufWriter<File>,
    written: bool,
}

/// Records already written to a file by a [`RecordSpool`]: the file holds a complete JSON list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledRecords {
    pub path: PathBuf,
    pub count: usize,
}

/// A spooled list serialises as its file's path (it is never meant to be serialised inline:
/// the sink moves the file into place).
impl Serialize for SpooledRecords {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.path.to_string_lossy())
    }
}

impl RecordSpool {
    pub fn new(slug: &'static str) -> Self {
        Self {
            slug,
            held: Vec::new(),
            file: None,
            count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds one record. A record that cannot be written to the spool file (disk full) is an
    /// error naming the file.
    pub fn push(&mut self, record: Value) -> std::io::Result<()> {
        self.count += 1;
        if let Some(file) = &mut self.file {
            return file.write(&record);
        }
        self.held.push(record);
        // Checked once per full batch: with no spool folder the records stay in memory.
        if self.held.len().is_multiple_of(SPILL_AFTER)
            && let Some(dir) = spool_dir()
        {
            let mut file = SpoolFile::create(&dir, self.slug)?;
            for held in self.held.drain(..) {
                file.write(&held)?;
            }
            self.held = Vec::new();
            self.file = Some(file);
        }
        Ok(())
    }

    /// The module's results: the records in memory, or the finished spool file.
    pub fn finish(mut self) -> std::io::Result<Results> {
        match self.file.take() {
            None => Ok(Results::List(std::mem::take(&mut self.held))),
            Some(file) => {
                let count = self.count;
                file.finish(count).map(Results::Spooled)
            }
        }
    }
}

impl SpoolFile {
    fn create(dir: &Path, slug: &str) -> std::io::Result<Self> {
        let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{slug}.{}.{n}.partial.json", std::process::id()));
        let file = File::options().write(true).create_new(true).open(&path)?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        writer.write_all(b"[")?;
        Ok(Self {
            path,
            writer,
            written: false,
        })
    }

    fn write(&mut self, record: &Value) -> std::io::Result<()> {
        // One record per line: `[` then `\n{…}` `,\n{…}` … then `\n]`.
        self.writer
            .write_all(if self.written { b",\n" } else { b"\n" })?;
        serde_json::to_writer(&mut self.writer, record).map_err(std::io::Error::other)?;
        self.written = true;
        Ok(())
    }

    fn finish(mut self, count: usize) -> std::io::Result<SpooledRecords> {
        self.writer.write_all(b"\n]\n")?;
        self.writer.flush()?;
        let path = std::mem::take(&mut self.path);
        Ok(SpooledRecords { path, count })
    }
}

/// Timeline rows written to a file in the spool folder, sorted by time (ties in the order
/// they were produced), as CSV rows. The file is removed when the last handle goes.
#[derive(Debug, Clone)]
pub struct TimelineRun {
    file: std::sync::Arc<RunFile>,
    pub rows: usize,
}

#[derive(Debug)]
struct RunFile(PathBuf);

impl Drop for RunFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl TimelineRun {
    /// Sorts `rows` and writes them to a new run file, emptying `rows`. `None` (rows kept)
    /// when no spool folder is set or the file cannot be written.
    pub(crate) fn spill(rows: &mut Vec<crate::TimelineEvent>) -> Option<Self> {
        let dir = spool_dir()?;
        let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".timeline.{}.{n}.partial.csv", std::process::id()));
        let file = RunFile(path);
        rows.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
        let written = (|| -> Result<(), csv::Error> {
            let out = File::options().write(true).create_new(true).open(&file.0)?;
            let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, out));
            for row in rows.iter() {
                w.write_record([&row.timestamp, &row.module, &row.event, &row.data])?;
            }
            w.flush()?;
            Ok(())
        })();
        if let Err(e) = written {
            tracing::warn!("cannot write timeline rows to {}: {e}", file.0.display());
            return None;
        }
        let run = Self {
            file: std::sync::Arc::new(file),
            rows: rows.len(),
        };
        rows.clear();
        Some(run)
    }

    /// The run's rows, in order.
    pub fn read(
        &self,
    ) -> Result<impl Iterator<Item = Result<crate::TimelineEvent, csv::Error>>, csv::Error> {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(&self.file.0)?;
        Ok(reader.into_records().map(|record| {
            let record = record?;
            let field = |i| record.get(i).unwrap_or_default().to_string();
            Ok(crate::TimelineEvent {
                timestamp: field(0),
                module: field(1),
                event: field(2),
                data: field(3),
            })
        }))
    }

    pub fn path(&self) -> &Path {
        &self.file.0
    }
}

/// A spool file that was never finished (its module failed) is removed.
impl Drop for SpoolFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fill(n: usize) -> Results {
        let mut spool = RecordSpool::new("big_module");
        for i in 0..n {
            spool.push(json!({"n": i, "text": "line\nbreak"})).unwrap();
        }
        assert_eq!(spool.len(), n);
        spool.finish().unwrap()
    }

    /// One test, as the spool folder is process-wide.
    #[test]
    fn spools_past_the_threshold_only_when_a_folder_is_named() {
        set_dir(None);
        assert!(matches!(fill(SPILL_AFTER + 5), Results::List(l) if l.len() == SPILL_AFTER + 5));

        let dir = tempfile::tempdir().unwrap();
        set_dir(Some(dir.path()));
        assert!(matches!(fill(3), Results::List(l) if l.len() == 3));
        let Results::Spooled(spooled) = fill(SPILL_AFTER + 5) else {
            panic!("expected a spool file");
        };
        assert_eq!(spooled.count, SPILL_AFTER + 5);
        assert!(spooled.path.starts_with(dir.path()));
        let back: Vec<Value> =
            serde_json::from_slice(&std::fs::read(&spooled.path).unwrap()).unwrap();
        assert_eq!(back.len(), SPILL_AFTER + 5);
        assert_eq!(
            back[SPILL_AFTER + 4],
            json!({"n": SPILL_AFTER + 4, "text": "line\nbreak"})
        );

        // A spool whose module fails (dropped unfinished) leaves nothing behind.
        let mut unfinished = RecordSpool::new("failed_module");
        for i in 0..SPILL_AFTER + 1 {
            unfinished.push(json!(i)).unwrap();
        }
        drop(unfinished);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the finished spool remains");

        let out = crate::sink::ResultsDir::create(dir.path()).unwrap();
        let output = crate::ModuleOutput {
            results: Results::Spooled(spooled.clone()),
            ..Default::default()
        };
        out.write_check(
            &crate::Report::default(),
            &[("big_module", &output)],
            crate::sink::TimeBasis::Utc,
        )
        .unwrap();
        assert!(!spooled.path.exists());
        let moved: Vec<Value> =
            serde_json::from_slice(&std::fs::read(dir.path().join("big_module.json")).unwrap())
                .unwrap();
        assert_eq!(moved.len(), SPILL_AFTER + 5);
        set_dir(None);

        // The timeline: rows spilled to run files and merged give the same timeline.csv as
        // rows held in memory.
        let spilled = tempfile::tempdir().unwrap();
        let held = tempfile::tempdir().unwrap();
        set_dir(Some(spilled.path()));
        let outputs = timeline_outputs();
        assert!(!outputs[0].timeline_runs().is_empty());
        assert_eq!(outputs[0].timeline_len(), 2 * TIMELINE_SPILL_AFTER + 7);
        write_timeline(spilled.path(), &outputs);
        drop(outputs);
        set_dir(None);
        let outputs = timeline_outputs();
        assert!(outputs[0].timeline_runs().is_empty());
        write_timeline(held.path(), &outputs);
        let read =
            |dir: &tempfile::TempDir| std::fs::read(dir.path().join("timeline.csv")).unwrap();
        assert_eq!(read(&spilled), read(&held));
        let names: Vec<_> = std::fs::read_dir(spilled.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["timeline.csv"], "run files are removed");
    }

    /// Two modules' timelines: the first large, in scrambled time order, with duplicates and
    /// many equal timestamps; the second small, interleaving with it.
    fn timeline_outputs() -> Vec<crate::ModuleOutput> {
        let event = |t: usize, module: &str, n: usize| crate::TimelineEvent {
            timestamp: format!("2024-01-01 00:{:02}:{:02}", t / 60 % 60, t % 60),
            module: module.into(),
            event: "e".into(),
            data: format!("row {n}, \"quoted\",\nsecond line"),
        };
        let mut big = crate::ModuleOutput::default();
        for n in 0..2 * TIMELINE_SPILL_AFTER + 7 {
            big.push_timeline(event(n * 7919 % 3001, "Big", n));
            if n % 10 == 0 {
                big.push_timeline(event(n * 7919 % 3001, "Big", n)); // a duplicate
            }
        }
        let mut small = crate::ModuleOutput::default();
        for n in 0..500 {
            small.push_timeline(event(n * 6, "Small", n));
        }
        vec![big, small]
    }

    fn write_timeline(dir: &Path, outputs: &[crate::ModuleOutput]) {
        let out = crate::sink::ResultsDir::create(dir).unwrap();
        let modules = [("big", &outputs[0]), ("small", &outputs[1])];
        out.write_check(
            &crate::Report::default(),
            &modules,
            crate::sink::TimeBasis::Utc,
        )
        .unwrap();
        for name in [
            "alerts.json",
            "alerts_timeline.csv",
            "info.json",
            "report.json",
            "report.html",
        ] {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
    }
}
