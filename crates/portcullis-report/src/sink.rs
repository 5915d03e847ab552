//! Writing a check's findings into a results folder, in the file layout MVT uses
//! (`<slug>.json`, `<slug>_detected.json`, `timeline.csv`, `alerts_timeline.csv`, `alerts.json`,
//! `urls.json`, `info.json`) plus `report.json` and `report.html`.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Report;
use portcullis_core::spool::SpooledRecords;
use portcullis_core::{Alert, ModuleOutput, Results, TimelineEvent, UrlRecord};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
}

/// The header of `timeline.csv`'s first column: iOS times are UTC, Android ones device-local.
#[derive(Debug, Clone, Copy)]
pub enum TimeBasis {
    Utc,
    DeviceLocal,
}

/// A results folder being written.
pub struct ResultsDir {
    dir: PathBuf,
}

impl ResultsDir {
    /// Creates the folder (and parents).
    pub fn create(dir: &Path) -> Result<Self, SinkError> {
        std::fs::create_dir_all(dir).map_err(|source| SinkError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(ResultsDir {
            dir: dir.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn create_file(&self, name: &str) -> Result<(PathBuf, BufWriter<File>), SinkError> {
        let path = self.dir.join(name);
        let file = File::create(&path).map_err(|source| SinkError::Io {
            path: path.clone(),
            source,
        })?;
        Ok((path, BufWriter::new(file)))
    }

    /// Writes `value` as indented JSON to `name`.
    pub fn write_json<T: Serialize + ?Sized>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), SinkError> {
        let (path, mut w) = self.create_file(name)?;
        let io = |source| SinkError::Io {
            path: path.clone(),
            source,
        };
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut w, fmt);
        value
            .serialize(&mut ser)
            .map_err(|e| io(std::io::Error::other(e)))?;
        w.write_all(b"\n").map_err(io)?;
        w.flush().map_err(io)
    }

    /// `timeline.csv`: every event sorted by timestamp (ties keep module order, so runs are
    /// reproducible).
    pub fn write_timeline(
        &self,
        events: &mut [TimelineEvent],
        basis: TimeBasis,
    ) -> Result<(), SinkError> {
        events.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
        self.write_timeline_rows(events.iter().map(|e| Ok(Cow::Borrowed(e))), basis)
    }

    /// `timeline.csv` from every module's rows, those held in memory and those already in run
    /// files: a k-way merge by timestamp, so the whole timeline is never held at once. Ties go
    /// to the earlier module, and within a module to the earlier row, as a stable sort of all
    /// rows in module order would give. Nothing is written when there are no rows.
    fn write_merged_timeline(
        &self,
        modules: &[(&str, &ModuleOutput)],
        basis: TimeBasis,
    ) -> Result<(), SinkError> {
        if modules.iter().all(|(_, o)| o.timeline_len() == 0) {
            return Ok(());
        }
        let mut sources: Vec<TimelineSource<'_>> = Vec::new();
        for (_, output) in modules {
            for run in output.timeline_runs() {
                let path = run.path().to_path_buf();
                let rows = run.read().map_err(|source| SinkError::Csv {
                    path: path.clone(),
                    source,
                })?;
                sources.push(Box::new(rows.map(move |row| {
                    row.map(Cow::Owned).map_err(|source| SinkError::Csv {
                        path: path.clone(),
                        source,
                    })
                })));
            }
            let mut held: Vec<&TimelineEvent> = output.timeline.iter().collect();
            held.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
            sources.push(Box::new(held.into_iter().map(|e| Ok(Cow::Borrowed(e)))));
        }
        self.write_timeline_rows(Merge::new(sources)?, basis)
    }

    fn write_timeline_rows<'a>(
        &self,
        rows: impl Iterator<Item = Result<Cow<'a, TimelineEvent>, SinkError>>,
        basis: TimeBasis,
    ) -> Result<(), SinkError> {
        let first = match basis {
            TimeBasis::Utc => "UTC Timestamp",
            TimeBasis::DeviceLocal => "Device Local Timestamp",
        };
        let (path, w) = self.create_file("timeline.csv")?;
        let err = |source| SinkError::Csv {
            path: path.clone(),
            source,
        };
        let mut csv = mvt_csv(w);
        csv.write_record([first, "Plugin", "Event", "Description"])
            .map_err(err)?;
        for row in rows {
            let e = row?;
            csv.write_record([&e.timestamp, &e.plugin, &e.event, &e.data])
                .map_err(err)?;
        }
        csv.flush().map_err(|source| SinkError::Io {
            path: path.clone(),
            source,
        })
    }

    /// `alerts_timeline.csv`: alerts that carry a time, sorted by it. The Event column holds the
    /// record as JSON.
    pub fn write_alerts_timeline(&self, alerts: &[Alert]) -> Result<(), SinkError> {
        let mut timed: Vec<(&str, &Alert)> = alerts
            .iter()
            .filter_map(|a| Some((a.timestamp.as_deref()?, a)))
            .collect();
        timed.sort_by(|a, b| a.0.cmp(b.0));
        self.write_csv(
            "alerts_timeline.csv",
            ["Event Time", "Module", "Message", "Event"],
            timed.iter().map(|&(time, a)| {
                [
                    time.to_string(),
                    a.module.clone(),
                    a.message.clone(),
                    a.event.to_string(),
                ]
            }),
        )
    }

    /// Writes every file of a finished check: per-module results and detections, the timelines,
    /// `alerts.json`, `urls.json`, `info.json` and `report.json`.
    pub fn write_check(
        &self,
        report: &Report,
        modules: &[(&str, &ModuleOutput)],
        basis: TimeBasis,
    ) -> Result<(), SinkError> {
        let mut urls: Vec<&UrlRecord> = Vec::new();
        for (slug, output) in modules {
            match &output.results {
                Results::Spooled(spooled) => self.move_into_place(spooled, slug)?,
                results if results.is_empty() => {}
                results => self.write_json(&format!("{slug}.json"), results)?,
            }
            if !output.alerts.is_empty() {
                self.write_json(&format!("{slug}_detected.json"), &output.alerts)?;
            }
            urls.extend(&output.urls);
        }
        self.write_merged_timeline(modules, basis)?;
        if !urls.is_empty() {
            self.write_json("urls.json", &urls)?;
        }
        self.write_alerts_timeline(&report.alerts)?;
        self.write_json("alerts.json", &report.alerts)?;
        self.write_json("info.json", &report.info)?;
        self.write_json("report.json", report)?;
        self.write_html(report)
    }

    /// Moves a module's spooled records to `<slug>.json` (they are already a JSON list),
    /// copying them when the spool file is elsewhere.
    fn move_into_place(&self, spooled: &SpooledRecords, slug: &str) -> Result<(), SinkError> {
        let target = self.dir.join(format!("{slug}.json"));
        let io = |source| SinkError::Io {
            path: target.clone(),
            source,
        };
        if std::fs::rename(&spooled.path, &target).is_err() {
            std::fs::copy(&spooled.path, &target).map_err(io)?;
            std::fs::remove_file(&spooled.path).map_err(io)?;
        }
        Ok(())
    }

    /// `report.html`: the self-contained human report (see [`crate::html`]).
    pub fn write_html(&self, report: &Report) -> Result<(), SinkError> {
        let (path, mut w) = self.create_file("report.html")?;
        let io = |source| SinkError::Io {
            path: path.clone(),
            source,
        };
        w.write_all(crate::html::render(report).as_bytes())
            .map_err(io)?;
        w.flush().map_err(io)
    }

    /// CSV in MVT's dialect: every field quoted, CRLF line ends, UTF-8.
    fn write_csv(
        &self,
        name: &str,
        header: [&str; 4],
        rows: impl Iterator<Item = [String; 4]>,
    ) -> Result<(), SinkError> {
        let (path, w) = self.create_file(name)?;
        let err = |source| SinkError::Csv {
            path: path.clone(),
            source,
        };
        let mut csv = mvt_csv(w);
        csv.write_record(header).map_err(err)?;
        for row in rows {
            csv.write_record(&row).map_err(err)?;
        }
        csv.flush().map_err(|source| SinkError::Io {
            path: path.clone(),
            source,
        })
    }
}

/// CSV in MVT's dialect: every field quoted, CRLF line ends.
fn mvt_csv(w: BufWriter<File>) -> csv::Writer<BufWriter<File>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(w)
}

/// Sorted timeline rows from one source.
type TimelineSource<'a> = Box<dyn Iterator<Item = Result<Cow<'a, TimelineEvent>, SinkError>> + 'a>;

/// Merges sorted sources into one sorted sequence; of equal timestamps, the lower source first.
struct Merge<'a> {
    sources: Vec<TimelineSource<'a>>,
    heads: Vec<Option<Cow<'a, TimelineEvent>>>,
    /// (timestamp, source) of every source's next row, smallest first.
    queue: BinaryHeap<Reverse<(String, usize)>>,
}

impl<'a> Merge<'a> {
    fn new(mut sources: Vec<TimelineSource<'a>>) -> Result<Self, SinkError> {
        let mut heads = Vec::with_capacity(sources.len());
        let mut queue = BinaryHeap::with_capacity(sources.len());
        for (i, source) in sources.iter_mut().enumerate() {
            let head = source.next().transpose()?;
            if let Some(row) = &head {
                queue.push(Reverse((row.timestamp.clone(), i)));
            }
            heads.push(head);
        }
        Ok(Self {
            sources,
            heads,
            queue,
        })
    }
}

impl<'a> Iterator for Merge<'a> {
    type Item = Result<Cow<'a, TimelineEvent>, SinkError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((_, i)) = self.queue.pop()?;
        let row = self.heads[i].take()?;
        match self.sources[i].next().transpose() {
            Ok(Some(next)) => {
                self.queue.push(Reverse((next.timestamp.clone(), i)));
                self.heads[i] = Some(next);
            }
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::Level;
    use portcullis_core::spool::{RecordSpool, SPILL_AFTER, Spool, TIMELINE_SPILL_AFTER};

    #[test]
    fn spooled_records_are_moved_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path());
        let mut records = RecordSpool::new("big_module", Some(&spool));
        for i in 0..SPILL_AFTER + 5 {
            records.push(serde_json::json!({"n": i})).unwrap();
        }
        let Results::Spooled(spooled) = records.finish().unwrap() else {
            panic!("expected a spool file");
        };
        let out = ResultsDir::create(dir.path()).unwrap();
        let output = ModuleOutput {
            results: Results::Spooled(spooled.clone()),
            ..Default::default()
        };
        out.write_check(
            &Report::default(),
            &[("big_module", &output)],
            TimeBasis::Utc,
        )
        .unwrap();
        assert!(!spooled.path.exists());
        let moved: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(dir.path().join("big_module.json")).unwrap())
                .unwrap();
        assert_eq!(moved.len(), SPILL_AFTER + 5);
    }

    /// Rows spilled to run files and merged give the same timeline.csv as rows held in memory.
    #[test]
    fn spilled_timelines_merge_to_the_same_file() {
        let spilled = tempfile::tempdir().unwrap();
        let held = tempfile::tempdir().unwrap();
        let spool = Spool::new(spilled.path());
        let outputs = timeline_outputs(Some(&spool));
        assert!(!outputs[0].timeline_runs().is_empty());
        assert_eq!(outputs[0].timeline_len(), 2 * TIMELINE_SPILL_AFTER + 7);
        write_timeline(spilled.path(), &outputs);
        drop(outputs);
        let outputs = timeline_outputs(None);
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
    fn timeline_outputs(spool: Option<&Spool>) -> Vec<ModuleOutput> {
        let event = |t: usize, module: &str, n: usize| TimelineEvent {
            timestamp: format!("2024-01-01 00:{:02}:{:02}", t / 60 % 60, t % 60),
            plugin: module.into(),
            event: "e".into(),
            data: format!("row {n}, \"quoted\",\nsecond line"),
        };
        let mut big = ModuleOutput::spilling(spool);
        for n in 0..2 * TIMELINE_SPILL_AFTER + 7 {
            big.push_timeline(event(n * 7919 % 3001, "Big", n));
            if n % 10 == 0 {
                big.push_timeline(event(n * 7919 % 3001, "Big", n)); // a duplicate
            }
        }
        let mut small = ModuleOutput::spilling(spool);
        for n in 0..500 {
            small.push_timeline(event(n * 6, "Small", n));
        }
        vec![big, small]
    }

    fn write_timeline(dir: &std::path::Path, outputs: &[ModuleOutput]) {
        let out = ResultsDir::create(dir).unwrap();
        let modules = [("big", &outputs[0]), ("small", &outputs[1])];
        out.write_check(&Report::default(), &modules, TimeBasis::Utc)
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

    #[test]
    fn duplicate_timeline_rows_are_dropped() {
        let mut out = ModuleOutput::default();
        for i in 0..1000 {
            out.push_timeline(TimelineEvent {
                timestamp: format!("t{}", i % 10),
                plugin: "M".into(),
                event: "e".into(),
                data: String::new(),
            });
        }
        assert_eq!(out.timeline.len(), 10);
        assert_eq!(out.timeline[3].timestamp, "t3");
    }

    #[test]
    fn timeline_is_sorted_quoted_and_crlf() {
        let dir = tempfile::tempdir().unwrap();
        let out = ResultsDir::create(&dir.path().join("a/b")).unwrap();
        let ev = |t: &str, d: &str| TimelineEvent {
            timestamp: t.into(),
            plugin: "SMS".into(),
            event: "sms_received".into(),
            data: d.into(),
        };
        let mut events = vec![ev("2020-01-02", "say \"hi\""), ev("2020-01-01", "x")];
        out.write_timeline(&mut events, TimeBasis::Utc).unwrap();
        let text = std::fs::read_to_string(out.path().join("timeline.csv")).unwrap();
        assert_eq!(
            text,
            "\"UTC Timestamp\",\"Plugin\",\"Event\",\"Description\"\r\n\
             \"2020-01-01\",\"SMS\",\"sms_received\",\"x\"\r\n\
             \"2020-01-02\",\"SMS\",\"sms_received\",\"say \"\"hi\"\"\"\r\n"
        );
        let alerts = vec![
            Alert::heuristic(Level::Low, "m", "untimed", "", serde_json::json!({})),
            Alert::heuristic(
                Level::High,
                "m",
                "timed",
                "2021-01-01",
                serde_json::json!({"a": 1}),
            ),
        ];
        out.write_alerts_timeline(&alerts).unwrap();
        let text = std::fs::read_to_string(out.path().join("alerts_timeline.csv")).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\"timed\",\"{\"\"a\"\":1}\""));
        out.write_json("alerts.json", &alerts).unwrap();
        let back: Vec<Alert> =
            serde_json::from_slice(&std::fs::read(out.path().join("alerts.json")).unwrap())
                .unwrap();
        assert_eq!(back.len(), 2);
    }
}
