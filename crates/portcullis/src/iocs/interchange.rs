//! `iocs import` (plain trail lists, CSV, MISP events, Zeek Intel files installed as STIX
//! collections) and `iocs export` (the installed indicators for Zeek, Suricata, a hosts file,
//! CSV or one STIX bundle); the formats are portcullis-interchange's.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use portcullis_feeds::SourceKind;
use portcullis_indicators::Indicators;
use portcullis_interchange::export::{self, Dataset, ExportFormat, Tlp};
use portcullis_interchange::{Format, ImportOptions, stix_time};

use super::installed::{NewCollection, install_new, name_from_file, read_bounded};
use super::store;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ImportFormat {
    /// One domain, IP, CIDR, URL or URL path per line, `# Reference:` lines (Maltrail's trails).
    Plain,
    /// CSV with a header naming its columns (value, type, actor, reference…).
    Csv,
    /// A MISP event as JSON.
    Misp,
    /// A Zeek Intel file.
    ZeekIntel,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The file to import.
    file: PathBuf,
    #[arg(long, value_enum)]
    format: ImportFormat,
    /// The collection's name, and its actor's when the file names none (default: from the
    /// file name).
    #[arg(long)]
    name: Option<String>,
    /// Its licence, shown by `iocs list` and carried in the bundle.
    #[arg(long)]
    licence: Option<String>,
    /// The date of the indicators (YYYY-MM-DD) when the file gives none (default: the
    /// file's modification date; never today, so importing twice gives the same bundle).
    #[arg(long)]
    date: Option<String>,
    /// Also import MISP attributes whose to_ids is false (context, not detections).
    #[arg(long)]
    include_non_ids: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportKind {
    ZeekIntel,
    SuricataDataset,
    Hosts,
    Stix2,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DatasetKind {
    /// Domain names, base64 (a `string` dataset for dns.query, tls.sni, http.host).
    Domains,
    /// URL paths, base64 (a `string` dataset for http.uri).
    UrlPaths,
    /// IP addresses (an `ip` dataset; CIDR networks are left out).
    Ips,
    Md5,
    Sha256,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TlpLevel {
    Clear,
    Green,
    Amber,
    #[value(name = "amber+strict")]
    AmberStrict,
    Red,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    format: ExportKind,
    /// The values of a Suricata dataset (one type per dataset).
    #[arg(long, value_enum, default_value = "domains")]
    dataset: DatasetKind,
    /// Only this installed collection (as `iocs list` names it).
    #[arg(long)]
    collection: Option<String>,
    /// Leave out indicators marked above this TLP level (unmarked ones count as clear).
    #[arg(long, value_enum)]
    tlp_max: Option<TlpLevel>,
    /// Write here instead of to standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn import(args: &ImportArgs) -> Result<ExitCode> {
    let bytes = read_bounded(&args.file)?;
    let source = args.file.display().to_string();
    let name = match &args.name {
        Some(n) => n.clone(),
        None => name_from_file(&source),
    };
    let date = match &args.date {
        Some(d) => d.clone(),
        None => modified_date(&args.file)?,
    };
    let format = match args.format {
        ImportFormat::Plain => Format::Plain,
        ImportFormat::Csv => Format::Csv,
        ImportFormat::Misp => Format::Misp,
        ImportFormat::ZeekIntel => Format::ZeekIntel,
    };
    let options = ImportOptions {
        name: name.clone(),
        date,
        licence: args.licence.clone(),
        include_non_ids: args.include_non_ids,
    };
    let imported = portcullis_interchange::import(format, &bytes, &options)
        .with_context(|| format!("importing {source}"))?;
    for skipped in &imported.skipped {
        eprintln!("skipped {skipped}");
    }
    if imported.collection.indicators() == 0 {
        bail!("{source}: no indicator could be imported");
    }
    let file_name = args
        .file
        .file_name()
        .map_or_else(|| source.clone(), |n| n.to_string_lossy().into_owned());
    let new = NewCollection {
        name: &name,
        source: &source,
        kind: SourceKind::File,
        licence: args.licence.as_deref(),
        etag: None,
        last_modified: None,
    };
    install_new(&new, &imported.bundle(&file_name))?;
    Ok(ExitCode::SUCCESS)
}

/// The file's modification date (UTC), as the import's date.
fn modified_date(path: &Path) -> Result<String> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("reading {}", path.display()))?;
    let stamp = jiff::Timestamp::try_from(modified).context("the file's modification time")?;
    let day = stamp.strftime("%Y-%m-%d").to_string();
    stix_time(&day)
        .map(|_| day)
        .context("the file's modification time")
}

pub fn export(args: &ExportArgs) -> Result<ExitCode> {
    let store = store();
    let files = match &args.collection {
        Some(name) => {
            let manifest = store.manifest()?;
            let Some(installed) = manifest.collections.get(name) else {
                bail!("no installed collection is named \"{name}\" (see `portcullis iocs list`)");
            };
            vec![store.collections_dir().join(&installed.file)]
        }
        None => store.installed_files(),
    };
    if files.is_empty() {
        bail!("no collection is installed: run `portcullis iocs update` first");
    }
    let mut indicators = Indicators::new();
    for file in &files {
        if let Err(e) = indicators.load_file(file) {
            eprintln!("skipped {e}");
        }
    }
    let format = match args.format {
        ExportKind::ZeekIntel => ExportFormat::ZeekIntel,
        ExportKind::SuricataDataset => ExportFormat::SuricataDataset(match args.dataset {
            DatasetKind::Domains => Dataset::Domains,
            DatasetKind::UrlPaths => Dataset::UrlPaths,
            DatasetKind::Ips => Dataset::Ips,
            DatasetKind::Md5 => Dataset::Md5,
            DatasetKind::Sha256 => Dataset::Sha256,
        }),
        ExportKind::Hosts => ExportFormat::Hosts,
        ExportKind::Stix2 => ExportFormat::Stix2,
        ExportKind::Csv => ExportFormat::Csv,
    };
    let tlp_max = args.tlp_max.map(|t| match t {
        TlpLevel::Clear => Tlp::Clear,
        TlpLevel::Green => Tlp::Green,
        TlpLevel::Amber => Tlp::Amber,
        TlpLevel::AmberStrict => Tlp::AmberStrict,
        TlpLevel::Red => Tlp::Red,
    });
    let summary = match &args.output {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("writing {}", path.display()))?;
            let mut out = BufWriter::new(file);
            let summary = export::export(&indicators, format, tlp_max, &mut out)?;
            out.flush()
                .and_then(|()| out.get_ref().sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            summary
        }
        None => export::export(
            &indicators,
            format,
            tlp_max,
            BufWriter::new(std::io::stdout().lock()),
        )?,
    };
    eprintln!(
        "Exported {} value(s) from {} collection file(s); {} the format cannot express, {} above the TLP limit left out.",
        summary.written,
        files.len(),
        summary.not_expressible,
        summary.above_tlp
    );
    Ok(ExitCode::SUCCESS)
}
