//! The installed indicators written out for an organisation's own sensors, so that the
//! network sees the same set the phones are checked against. Every format is streamed value
//! by value; values a format cannot express are counted, never written half-right.
//!
//! | format | what is written |
//! |---|---|
//! | `zeek-intel` | a Zeek Intel file: `#fields indicator indicator_type meta.source meta.desc`; `Intel::DOMAIN`, `Intel::ADDR`, `Intel::SUBNET` (CIDR), `Intel::URL` (without its scheme, as Zeek writes URLs), `Intel::EMAIL`, `Intel::FILE_NAME`, `Intel::FILE_HASH`, `Intel::CERT_HASH` (SHA-1 certificate hashes); the source is the collection, the description the indicator id |
//! | `suricata-dataset` | one Suricata dataset (`dataset:…, load FILE`), one value per line, of the kind asked for: `domains` (type `string`, so base64 as Suricata wants it: for `dns.query`, `tls.sni`, `http.host`), `url-paths` (type `string`, base64, for `http.uri`), `ips` (type `ip`; CIDR networks cannot be in a dataset and are left out), `md5` and `sha256` (hex, for `filemd5`-style file matching) |
//! | `hosts` | `0.0.0.0 domain` per domain, for a DNS sinkhole or a hosts file |
//! | `csv` | `value,type,collection,indicator_id` (RFC 4180 quoting) |
//! | `stix2` | one merged STIX 2.1 bundle: a `malware` per collection, an indicator per value of every type (id as an import would make it, with its TLP marking), `indicates` relationships |

use std::collections::HashMap;
use std::io::{self, Write};

use base64::Engine;
use portcullis_indicators::{Indicators, IocType, LoadedValue};

use crate::model::Observable;
use crate::stix::{BundleWriter, IndicatorObject, Malware, Relationship, indicator_id, stix_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    ZeekIntel,
    SuricataDataset(Dataset),
    Hosts,
    Csv,
    Stix2,
}

/// Which values a Suricata dataset holds (a dataset has one type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Domains,
    UrlPaths,
    Ips,
    Md5,
    Sha256,
}

/// Traffic Light Protocol levels, least restrictive first (TLP 1.0's WHITE is CLEAR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

impl Tlp {
    /// `clear`, `white`, `green`, `amber`, `amber+strict`, `red`, with or without `TLP:`.
    pub fn parse(text: &str) -> Option<Tlp> {
        let t = text.trim().to_ascii_lowercase();
        let t = t.strip_prefix("tlp:").unwrap_or(&t);
        Some(match t {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return None,
        })
    }

    /// The OASIS TLP 2.0 marking definition of the level, as STIX 2.1 bundles refer to it.
    pub fn marking(self) -> &'static str {
        match self {
            Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }
}

/// How many values were written, and how many left out and why.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    pub written: usize,
    /// Values the format cannot express (a process name in a hosts file…).
    pub not_expressible: usize,
    /// Values whose indicator is marked above the TLP limit.
    pub above_tlp: usize,
}

/// Writes every value of `indicators` in `format`. Values whose indicator is marked more
/// restrictively than `tlp_max` are left out; an indicator without a TLP marking counts as
/// CLEAR (public collections mark nothing).
pub fn export<W: Write>(
    indicators: &Indicators,
    format: ExportFormat,
    tlp_max: Option<Tlp>,
    out: W,
) -> io::Result<ExportSummary> {
    let mut summary = ExportSummary::default();
    let allowed = |v: &LoadedValue<'_>| {
        let level = v.tlp.and_then(Tlp::parse).unwrap_or(Tlp::Clear);
        tlp_max.is_none_or(|max| level <= max)
    };
    let values = indicators.values().filter(|v| {
        let ok = allowed(v);
        summary.above_tlp += usize::from(!ok);
        ok
    });
    let mut sink = Sink {
        out,
        summary: ExportSummary::default(),
    };
    match format {
        ExportFormat::ZeekIntel => {
            sink.out
                .write_all(b"#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n")?;
            for v in values {
                let line = zeek(&v).map(|(value, kind)| {
                    format!("{value}\t{kind}\t{}\t{}\n", zeek_meta(v.collection), v.id)
                });
                sink.line(line)?;
            }
        }
        ExportFormat::SuricataDataset(dataset) => {
            for v in values {
                sink.line(suricata(&v, dataset).map(|s| s + "\n"))?;
            }
        }
        ExportFormat::Hosts => {
            sink.out
                .write_all(b"# Indicator domains exported by Portcullis: resolve nowhere.\n")?;
            for v in values {
                let line = (v.ioc_type == IocType::Domains && plain(&v.value))
                    .then(|| format!("0.0.0.0 {}\n", v.value.to_ascii_lowercase()));
                sink.line(line)?;
            }
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut sink.out);
            w.write_record(["value", "type", "collection", "indicator_id"])?;
            for v in values {
                w.write_record([&*v.value, v.ioc_type.as_str(), v.collection, &v.id])?;
                sink.summary.written += 1;
            }
            w.flush()?;
        }
        ExportFormat::Stix2 => stix2(values, &mut sink)?,
    }
    sink.out.flush()?;
    Ok(ExportSummary {
        above_tlp: summary.above_tlp,
        ..sink.summary
    })
}

struct Sink<W> {
    out: W,
    summary: ExportSummary,
}

impl<W: Write> Sink<W> {
    /// Writes a line, or counts a value the format cannot express.
    fn line(&mut self, line: Option<String>) -> io::Result<()> {
        match line {
            Some(line) => {
                self.summary.written += 1;
                self.out.write_all(line.as_bytes())
            }
            None => {
                self.summary.not_expressible += 1;
                Ok(())
            }
        }
    }
}

/// A value any line-based format can hold: no whitespace or control characters.
fn plain(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn zeek_meta(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cleaned.trim().is_empty() {
        "-".into()
    } else {
        cleaned
    }
}

/// The Zeek Intel value and type of a value, when Zeek has one.
fn zeek(v: &LoadedValue<'_>) -> Option<(String, &'static str)> {
    let value = &*v.value;
    if !plain(value) {
        return None;
    }
    Some(match v.ioc_type {
        IocType::Domains => (value.to_ascii_lowercase(), "Intel::DOMAIN"),
        IocType::IpAddresses if value.contains('/') => (value.to_string(), "Intel::SUBNET"),
        IocType::IpAddresses => (value.to_string(), "Intel::ADDR"),
        IocType::Urls => {
            let (_, rest) = value.split_once("://")?;
            (rest.to_string(), "Intel::URL")
        }
        IocType::Emails => (value.to_lowercase(), "Intel::EMAIL"),
        IocType::FileNames => (value.to_string(), "Intel::FILE_NAME"),
        IocType::FilesMd5 | IocType::FilesSha1 | IocType::FilesSha256 => {
            (value.to_ascii_lowercase(), "Intel::FILE_HASH")
        }
        IocType::AppCertHashes | IocType::CertHashes if value.replace(':', "").len() == 40 => (
            value.replace(':', "").to_ascii_lowercase(),
            "Intel::CERT_HASH",
        ),
        _ => return None,
    })
}

/// The dataset line of a value, when it belongs to `dataset`.
fn suricata(v: &LoadedValue<'_>, dataset: Dataset) -> Option<String> {
    let value = &*v.value;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    match (dataset, v.ioc_type) {
        (Dataset::Domains, IocType::Domains) if plain(value) => {
            Some(b64(&value.to_ascii_lowercase()))
        }
        (Dataset::UrlPaths, IocType::UrlPaths) if plain(value) => Some(b64(value)),
        (Dataset::Ips, IocType::IpAddresses) if !value.contains('/') => Some(value.to_string()),
        (Dataset::Md5, IocType::FilesMd5) | (Dataset::Sha256, IocType::FilesSha256) => {
            Some(value.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// The observable a loaded value stands for, to write it back as STIX.
fn observable(v: &LoadedValue<'_>) -> Observable {
    let value = v.value.to_string();
    match v.ioc_type {
        IocType::Domains => Observable::Domain(value),
        IocType::IpAddresses => Observable::Ip(value),
        IocType::Urls => Observable::Url(value),
        IocType::UrlPaths => Observable::UrlPath(value),
        IocType::Emails => Observable::Email(value),
        IocType::FileNames => Observable::FileName(value),
        IocType::FilesMd5 => Observable::Md5(value),
        IocType::FilesSha1 => Observable::Sha1(value),
        IocType::FilesSha256 => Observable::Sha256(value),
        IocType::Processes => Observable::Process(value),
        IocType::FilePaths => Observable::FilePath(value),
        IocType::AppIds => Observable::AppId(value),
        IocType::AppCertHashes => Observable::AppCertHash(value),
        IocType::CertHashes => Observable::CertHash(value),
        IocType::IosProfileIds => Observable::ProfileId(value),
        IocType::AndroidPropertyNames => Observable::AndroidProperty(value),
    }
}

/// The merged bundle: each collection's `malware` when first met, then its values. The
/// bundle is named after nothing in particular (`portcullis-export`): its id is fixed.
fn stix2<'a, W: Write>(
    values: impl Iterator<Item = LoadedValue<'a>>,
    sink: &mut Sink<W>,
) -> io::Result<()> {
    const CREATED: &str = "1970-01-01T00:00:00.000Z";
    let mut w = BundleWriter::start(&mut sink.out, "portcullis-export")?;
    let mut malware: HashMap<&str, String> = HashMap::new();
    for v in values {
        let observable = observable(&v);
        let target = match malware.get(v.collection) {
            Some(id) => id.clone(),
            None => {
                let id = stix_id("malware", v.collection);
                w.object(&Malware::new(&id, CREATED, v.collection))?;
                malware.insert(v.collection, id.clone());
                id
            }
        };
        let id = indicator_id(&observable);
        let mut object = IndicatorObject::new(&id, CREATED, &observable);
        let markings: Vec<String> = v
            .tlp
            .and_then(Tlp::parse)
            .map(|t| t.marking().to_string())
            .into_iter()
            .collect();
        object.object_marking_refs = &markings;
        w.object(&object)?;
        w.object(&Relationship::indicates(CREATED, &id, &target))?;
        sink.summary.written += 1;
    }
    w.finish()?;
    Ok(())
}
