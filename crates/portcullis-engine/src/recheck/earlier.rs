//! Reading an earlier results folder, written by Portcullis or by MVT: who wrote it, when, the
//! alerts it raised, and each module's saved records, streamed one record at a time.

use std::fmt;

use portcullis_evidence::{Evidence, FolderEvidence};
use portcullis_report::Device;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::RecheckError;

/// Which tool wrote the earlier results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    Portcullis,
    Mvt,
}

impl Writer {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Writer::Portcullis => "portcullis",
            Writer::Mvt => "mvt",
        }
    }
}

/// One alert of the earlier check.
#[derive(Debug, Clone)]
pub(crate) struct EarlierAlert {
    pub module: String,
    pub message: String,
    /// The indicator's type (`domains`…) and value, for an indicator alert.
    pub indicator: Option<(String, String)>,
    /// The indicator's STIX id, when the results recorded it (Portcullis does, MVT does not).
    pub indicator_id: Option<String>,
    pub matched_value: Option<String>,
    pub event: Value,
}

/// What the earlier results say about themselves.
#[derive(Debug)]
pub(crate) struct Earlier {
    pub writer: Writer,
    pub checked_at: Option<String>,
    pub alerts: Vec<EarlierAlert>,
    /// The phone, as the earlier Portcullis report described it.
    pub device: Device,
    /// The earlier indicator files, by path, for the report.
    pub ioc_files: Vec<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn json(folder: &FolderEvidence, name: &str) -> Result<Value, RecheckError> {
    let bytes = folder.read(name)?;
    serde_json::from_slice(&bytes).map_err(|e| RecheckError::Damaged {
        file: folder.root().join(name),
        reason: e.to_string(),
    })
}

/// Recognises the folder and reads its alerts.
pub(crate) fn read(folder: &FolderEvidence) -> Result<Earlier, RecheckError> {
    if folder.exists("report.json") {
        let report = json(folder, "report.json")?;
        if report["info"]["input_kind"] == "results" {
            return Err(RecheckError::IsRecheck(folder.root().to_path_buf()));
        }
        if report["info"]["tool"] == "portcullis" {
            return Ok(portcullis(&report));
        }
    }
    if folder.exists("info.json") {
        let info = json(folder, "info.json")?;
        if info.get("mvt_version").is_some() {
            return mvt(folder, Some(&info));
        }
    }
    let has_records = folder
        .list()?
        .iter()
        .any(|f| super::rules::for_slug(f.path.strip_suffix(".json").unwrap_or("")).is_some());
    if has_records {
        return mvt(folder, None);
    }
    Err(RecheckError::NotResults(folder.root().to_path_buf()))
}

fn portcullis(report: &Value) -> Earlier {
    let alerts = report["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let ind = &a["indicator"];
            EarlierAlert {
                module: text(a, "module").unwrap_or_default(),
                message: text(a, "message").unwrap_or_default(),
                indicator: text(ind, "type").zip(text(ind, "value")),
                indicator_id: text(ind, "id").filter(|id| !id.is_empty()),
                matched_value: text(a, "matched_value"),
                event: a["event"].clone(),
            }
        })
        .collect();
    Earlier {
        writer: Writer::Portcullis,
        checked_at: text(&report["info"], "started"),
        alerts,
        device: serde_json::from_value(report["device"].clone()).unwrap_or_default(),
        ioc_files: report["info"]["ioc_files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| text(f, "path"))
            .collect(),
    }
}

/// MVT's alerts: `alerts.json`, else every `<slug>_detected.json`.
fn mvt(folder: &FolderEvidence, info: Option<&Value>) -> Result<Earlier, RecheckError> {
    let mut files = vec!["alerts.json".to_string()];
    if !folder.exists("alerts.json") {
        files = folder
            .list()?
            .into_iter()
            .map(|f| f.path)
            .filter(|p| p.ends_with("_detected.json") && !p.contains('/'))
            .collect();
    }
    let mut alerts = Vec::new();
    for file in files {
        let list = json(folder, &file)?;
        for a in list.as_array().into_iter().flatten() {
            let ind = &a["matched_indicator"];
            alerts.push(EarlierAlert {
                module: text(a, "module").unwrap_or_default(),
                message: text(a, "message").unwrap_or_default(),
                indicator: text(ind, "type").zip(text(ind, "value")),
                indicator_id: None,
                matched_value: None,
                event: a["event"].clone(),
            });
        }
    }
    let info = info.cloned().unwrap_or(Value::Null);
    Ok(Earlier {
        writer: Writer::Mvt,
        checked_at: text(&info, "date"),
        alerts,
        device: Device::default(),
        ioc_files: info["ioc_files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect(),
    })
}

/// Calls `each` with every record of a module's results file, one at a time: a list's
/// elements, or for a dict-shaped result the elements of each list it holds and each object.
pub(crate) fn for_each_record(
    folder: &FolderEvidence,
    file: &str,
    mut each: impl FnMut(Value),
) -> Result<(), RecheckError> {
    let reader = std::io::BufReader::new(folder.open(file)?);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let damaged = |e: serde_json::Error| RecheckError::Damaged {
        file: folder.root().join(file),
        reason: e.to_string(),
    };
    Records(&mut each).deserialize(&mut de).map_err(damaged)?;
    // Reading to the end (only white space may follow) also records the file's SHA-256.
    de.end().map_err(damaged)
}

struct Records<'a, F>(&'a mut F);

impl<'de, F: FnMut(Value)> DeserializeSeed<'de> for Records<'_, F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Value)> Visitor<'de> for Records<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records or an object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<Value>()? {
            (self.0)(record);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some((_, value)) = map.next_entry::<de::IgnoredAny, Value>()? {
            match value {
                Value::Array(items) => items.into_iter().for_each(&mut *self.0),
                record @ Value::Object(_) => (self.0)(record),
                _ => {}
            }
        }
        Ok(())
    }
}
