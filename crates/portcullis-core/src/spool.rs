//! Records of large modules written to the results folder as they are produced, instead of
//! being held until the check ends: a heavily used phone has millions of messages and visits,
//! and holding them as JSON values made memory grow with the data.
//!
//! A module pushes records into a [`RecordSpool`]. Until [`SPILL_AFTER`] records it keeps them
//! in memory (small results, tests and library users see an ordinary [`Results::List`]); past
//! that, when its check gave it a [`Spool`] (the check's results folder, where the records are
//! written anyway), it writes them to a file there, one compact record per line, and the
//! report's sink moves that file into place as `<slug>.json`. The spool is part of each check's
//! context, never process-wide: two checks in one process (a server) never write into each
//! other's folders, and nothing is ever spooled anywhere else, since decrypted records must not
//! land outside the folder the user chose.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::Results;

/// Timeline rows a module holds before writing them to a run file.
pub const TIMELINE_SPILL_AFTER: usize = 20_000;

/// Records kept in memory before a spool moves to a file.
pub const SPILL_AFTER: usize = 1_000;

/// Where one check's modules write what they produce past the thresholds: a folder (the
/// check's results folder) and the numbering of the hidden files written there. Cheap to clone;
/// every clone names the same folder.
#[derive(Debug, Clone)]
pub struct Spool(Arc<SpoolFolder>);

#[derive(Debug)]
struct SpoolFolder {
    dir: PathBuf,
    next_file: AtomicUsize,
}

impl Spool {
    /// A spool writing into `dir` (which must exist).
    pub fn new(dir: &Path) -> Spool {
        Spool(Arc::new(SpoolFolder {
            dir: dir.to_path_buf(),
            next_file: AtomicUsize::new(0),
        }))
    }

    /// A new hidden file name in the folder: `.<stem>.<n>.partial.<extension>`.
    fn file_path(&self, stem: &str, extension: &str) -> PathBuf {
        let n = self.0.next_file.fetch_add(1, Ordering::Relaxed);
        self.0.dir.join(format!(".{stem}.{n}.partial.{extension}"))
    }
}

/// A module's records, as they come.
pub struct RecordSpool {
    slug: &'static str,
    /// Where to write past [`SPILL_AFTER`] records; `None` keeps them all in memory.
    spool: Option<Spool>,
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
    pub fn new(slug: &'static str, spool: Option<&Spool>) -> Self {
        Self {
            slug,
            spool: spool.cloned(),
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
            && let Some(spool) = &self.spool
        {
            let mut file = SpoolFile::create(spool, self.slug)?;
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
    fn create(spool: &Spool, slug: &str) -> std::io::Result<Self> {
        let path = spool.file_path(slug, "json");
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
    /// Sorts `rows` and writes them to a new run file in `spool`, emptying `rows`. `None`
    /// (rows kept) when the file cannot be written.
    pub(crate) fn spill(spool: &Spool, rows: &mut Vec<crate::TimelineEvent>) -> Option<Self> {
        let file = RunFile(spool.file_path("timeline", "csv"));
        rows.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
        let written = (|| -> Result<(), csv::Error> {
            let out = File::options().write(true).create_new(true).open(&file.0)?;
            let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, out));
            for row in rows.iter() {
                w.write_record([&row.timestamp, &row.plugin, &row.event, &row.data])?;
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
                plugin: field(1),
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

    fn fill(n: usize, spool: Option<&Spool>) -> Results {
        let mut records = RecordSpool::new("big_module", spool);
        for i in 0..n {
            records
                .push(json!({"n": i, "text": "line\nbreak"}))
                .unwrap();
        }
        assert_eq!(records.len(), n);
        records.finish().unwrap()
    }

    #[test]
    fn records_spool_past_the_threshold_only_into_the_spool_given() {
        assert!(
            matches!(fill(SPILL_AFTER + 5, None), Results::List(l) if l.len() == SPILL_AFTER + 5)
        );
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path());
        assert!(matches!(fill(3, Some(&spool)), Results::List(l) if l.len() == 3));
        let Results::Spooled(spooled) = fill(SPILL_AFTER + 5, Some(&spool)) else {
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
        let mut unfinished = RecordSpool::new("failed_module", Some(&spool));
        for i in 0..SPILL_AFTER + 1 {
            unfinished.push(json!(i)).unwrap();
        }
        drop(unfinished);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the finished spool remains");
    }

    #[test]
    fn timeline_rows_spill_into_the_outputs_spool_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path());
        let mut out = crate::ModuleOutput::spilling(Some(&spool));
        let mut kept = crate::ModuleOutput::default();
        for n in (0..TIMELINE_SPILL_AFTER + 3).rev() {
            let row = crate::TimelineEvent {
                timestamp: format!("2024-01-01 {:08}", n),
                plugin: "M".into(),
                event: "e".into(),
                data: format!("{n}"),
            };
            out.push_timeline(row.clone());
            kept.push_timeline(row);
        }
        assert!(kept.timeline_runs().is_empty());
        assert_eq!(out.timeline_runs().len(), 1);
        assert_eq!(out.timeline_len(), TIMELINE_SPILL_AFTER + 3);
        let run = &out.timeline_runs()[0];
        assert!(run.path().starts_with(dir.path()));
        let rows: Vec<_> = run.read().unwrap().map(Result::unwrap).collect();
        assert_eq!(rows.len(), TIMELINE_SPILL_AFTER);
        assert!(rows.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    }
}
