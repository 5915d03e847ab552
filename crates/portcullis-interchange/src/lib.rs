//! Indicator interchange: the formats indicators are really shared in, turned into named,
//! reproducible STIX 2.1 bundles Portcullis installs (plain trail lists as Maltrail publishes
//! them, CSV, MISP events, Zeek Intel files), and the installed indicators written out again
//! for an organisation's network sensors (Zeek, Suricata, hosts files, CSV, STIX).
//!
//! An import is deterministic: ids are UUIDv5 of what the object stands for, times come from
//! the input or are given, and objects come in input order, so the same input gives the same
//! bytes on every run and machine. Inputs are bounded and every error names its line.

mod model;
mod stix;

pub mod csv;
pub mod export;
pub mod iran;
pub mod misp;
pub mod plain;
pub mod zeek;

pub use model::{Actor, Collection, Indicator, MAX_VALUE, Observable, Reference, stix_time};
pub use stix::{bundle_bytes, write_bundle};

/// Most bytes of one input accepted (the largest public trail list is a few megabytes).
pub const MAX_INPUT: usize = 64 << 20;

/// Most indicators one import produces.
pub const MAX_INDICATORS: usize = 2_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the input is larger than {MAX_INPUT} bytes")]
    TooLarge,
    #[error("line {line}: not UTF-8 text")]
    NotUtf8 { line: usize },
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("more than {MAX_INDICATORS} indicators")]
    TooMany,
}

/// The formats [`import`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Csv,
    Misp,
    ZeekIntel,
}

/// What an import is told besides the input.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The collection's name, and the actor's when the input names none.
    pub name: String,
    /// `created` of every object when the input gives no date (`YYYY-MM-DD` or a STIX time).
    pub date: String,
    /// A licence notice carried in the bundle.
    pub licence: Option<String>,
    /// Import MISP attributes whose `to_ids` is false too (left out by default: MISP marks
    /// context that way, not detections).
    pub include_non_ids: bool,
}

/// What an import made: the collection, and the entries it could not use (with their line).
#[derive(Debug, Clone)]
pub struct Imported {
    pub collection: Collection,
    pub skipped: Vec<String>,
}

impl Imported {
    /// The STIX 2.1 bundle, `source` naming its external references.
    pub fn bundle(&self, source: &str) -> Vec<u8> {
        bundle_bytes(&self.collection, source)
    }
}

/// Imports `input` in `format`.
pub fn import(
    format: Format,
    input: &[u8],
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let text = text(input)?;
    let created = stix_time(&options.date).ok_or_else(|| {
        ImportError::Invalid(format!("{:?} is not a date (YYYY-MM-DD)", options.date))
    })?;
    let mut imported = match format {
        Format::Plain => plain::parse(text, &options.name, &created),
        Format::Csv => csv::parse(text, &options.name, &created),
        Format::Misp => misp::parse(text, options, &created),
        Format::ZeekIntel => zeek::parse(text, &options.name, &created),
    }?;
    imported.collection.licence = options.licence.clone();
    if imported.collection.indicators() > MAX_INDICATORS {
        return Err(ImportError::TooMany);
    }
    Ok(imported)
}

/// The input as text, bounded; the error names the first line that is not UTF-8.
fn text(input: &[u8]) -> Result<&str, ImportError> {
    if input.len() > MAX_INPUT {
        return Err(ImportError::TooLarge);
    }
    let input = input.strip_prefix("\u{feff}".as_bytes()).unwrap_or(input);
    std::str::from_utf8(input).map_err(|e| ImportError::NotUtf8 {
        line: 1 + input[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
    })
}

/// A skipped entry's note: `line N: "value": why`.
fn skipped(line: usize, value: &str, why: &str) -> String {
    let shown: String = value.chars().take(80).collect();
    format!("line {line}: {shown:?}: {why}")
}
