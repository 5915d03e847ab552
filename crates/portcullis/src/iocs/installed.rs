//! The installed collections: `update`, `list`, `add`, `remove`, `show`.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use portcullis_feeds::http::{self, Fetched, Validators};
use portcullis_feeds::store::{name_from_title, now, verify};
use portcullis_feeds::update::{Bundled, MAX_COLLECTION_BYTES};
use portcullis_feeds::{Installed, Outcome, SourceKind, UpdateOptions};
use portcullis_indicators::{IndicatorMatch, Indicators};

use super::store;

/// The collections shipped inside this program, installed by `update` without the network.
const BUNDLED: &[Bundled] = &[Bundled {
    name: portcullis_interchange::iran::NAME,
    title: "Iranian state-linked actors (Charming Kitten/APT42, Domestic Kitten, RatMilad, …), from Maltrail",
    bytes: portcullis_interchange::iran::BUNDLE,
    licence: "MIT (Maltrail developers)",
    source: portcullis_interchange::iran::SOURCE,
    authors: &["Maltrail developers"],
    references: &[],
}];

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Read this index instead of the public one (remembered for later updates).
    #[arg(long, value_name = "URL")]
    index: Option<String>,
    /// Fetch the index's GitHub entries through this base instead of
    /// https://raw.githubusercontent.com (a mirror; remembered for later updates).
    #[arg(long, value_name = "URL")]
    raw_base: Option<String>,
    /// Pull the organisation's indicators from its security office's Portcullis server (its
    /// TAXII 2.1 collection, installed as `office` and kept current by later updates).
    #[arg(long, value_name = "URL", requires = "token_file", conflicts_with_all = ["index", "raw_base"])]
    server: Option<String>,
    /// The device upload token (or an officer's API token) for --server, in this file.
    #[arg(long, value_name = "FILE", requires = "server")]
    token_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// A STIX 2.1 file, or an http(s):// address to download it from.
    source: String,
    /// The name to install it under (default: from the file name).
    #[arg(long)]
    name: Option<String>,
    /// Its licence, shown by `iocs list`.
    #[arg(long)]
    licence: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The value: a domain, URL, IP address, e-mail, file hash, process, app id or path.
    value: String,
    /// Also look in these STIX 2.1 files or folders.
    #[arg(short, long = "iocs", value_name = "PATH")]
    iocs: Vec<PathBuf>,
}

pub fn update(args: &UpdateArgs) -> Result<ExitCode> {
    if let (Some(server), Some(token_file)) = (&args.server, &args.token_file) {
        return super::taxii::update_from_server(server, token_file);
    }
    let store = store();
    let bar = spinner();
    let options = UpdateOptions {
        index_url: args.index.as_deref(),
        raw_base: args.raw_base.as_deref(),
        bundled: BUNDLED,
    };
    let report = portcullis_feeds::update(&store, &http::agent(), &options, &|step| {
        bar.set_message(step.to_string())
    })?;
    bar.finish_and_clear();
    if let Some(why) = &report.index_error {
        println!("The index could not be read: {why}");
    }
    let mut failed = 0;
    for e in &report.entries {
        let what = match &e.outcome {
            Outcome::Installed => format!("installed, {} indicators", e.indicators),
            Outcome::Updated => format!("updated, {} indicators", e.indicators),
            Outcome::Unchanged => "up to date".to_string(),
            Outcome::Failed(why) => {
                failed += 1;
                let kept = if e.indicators > 0 {
                    "the installed copy is kept"
                } else {
                    "not installed"
                };
                format!("FAILED ({kept}): {why}")
            }
        };
        println!("  {:<32} {what}", e.name);
    }
    for w in &report.warnings {
        println!("  note: {w}");
    }
    println!(
        "{} collection(s) current, {failed} failed; installed in {}",
        report.entries.len() - failed,
        store.collections_dir().display()
    );
    Ok(if report.anything_current() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::check::EXIT_COULD_NOT_RUN)
    })
}

fn spinner() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

pub fn list() -> Result<ExitCode> {
    let store = store();
    let manifest = store.manifest()?;
    if manifest.collections.is_empty() {
        println!(
            "No indicator collections are installed: checks run only the built-in heuristics \
             unless given --iocs. Run `portcullis iocs update` to install the public ones."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let today = jiff::Timestamp::now();
    for (name, c) in &manifest.collections {
        let mut s = String::new();
        let _ = writeln!(s, "{name}: {} ({} indicators)", c.title, c.indicators());
        let counts: Vec<String> = c.counts.iter().map(|(t, n)| format!("{n} {t}")).collect();
        let _ = writeln!(s, "    holds:        {}", counts.join(", "));
        let _ = writeln!(s, "    source:       {} ({})", c.source, kind_text(c.kind));
        let _ = writeln!(
            s,
            "    licence:      {}",
            c.licence
                .as_deref()
                .unwrap_or("not stated by the publisher")
        );
        if let Some(tlp) = &c.tlp {
            let _ = writeln!(s, "    TLP:          {tlp}");
        }
        let _ = writeln!(
            s,
            "    installed:    {}{}",
            c.installed_at,
            age(&c.installed_at, today)
        );
        let _ = writeln!(s, "    last checked: {}", c.checked_at);
        if let Some(e) = &c.last_error {
            let _ = writeln!(s, "    LAST UPDATE FAILED: {e}");
        }
        print!("{s}");
    }
    Ok(ExitCode::SUCCESS)
}

fn kind_text(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Index => "from the public index",
        SourceKind::Bundled => "shipped with Portcullis",
        SourceKind::Url => "added from an address",
        SourceKind::File => "added from a file",
        SourceKind::Taxii => "a TAXII 2.1 collection",
    }
}

fn age(when: &str, today: jiff::Timestamp) -> String {
    when.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| {
            format!(
                " ({} days ago)",
                today.duration_since(t).as_secs().max(0) / 86_400
            )
        })
        .unwrap_or_default()
}

pub fn add(args: &AddArgs) -> Result<ExitCode> {
    let remote = args.source.starts_with("https://") || args.source.starts_with("http://");
    let (bytes, etag, last_modified) = if remote {
        match http::get(
            &http::agent(),
            &args.source,
            Validators::default(),
            MAX_COLLECTION_BYTES,
        )? {
            Fetched::Body {
                bytes,
                etag,
                last_modified,
            } => (bytes, etag, last_modified),
            Fetched::NotModified => bail!("{}: answered 304 to a plain request", args.source),
        }
    } else {
        (read_bounded(Path::new(&args.source))?, None, None)
    };
    let name = match &args.name {
        Some(n) => n.clone(),
        None => name_from_file(&args.source),
    };
    let kind = if remote {
        SourceKind::Url
    } else {
        SourceKind::File
    };
    let new = NewCollection {
        name: &name,
        source: &args.source,
        kind,
        licence: args.licence.as_deref(),
        etag,
        last_modified,
    };
    install_new(&new, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// A collection name from a file name or address (`…/Evil Campaign.stix2` → `evil-campaign`).
pub(super) fn name_from_file(source: &str) -> String {
    name_from_title(
        Path::new(source.trim_end_matches('/'))
            .file_stem()
            .map(|s| s.to_string_lossy())
            .as_deref()
            .unwrap_or("collection"),
    )
}

/// A collection added by hand (`add`, `import`) and where it came from.
pub(super) struct NewCollection<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub kind: SourceKind,
    pub licence: Option<&'a str>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Checks `bytes` loads as a check would and installs them as `new.name`; a name already
/// taken by another source is refused.
pub(super) fn install_new(new: &NewCollection<'_>, bytes: &[u8]) -> Result<()> {
    let store = store();
    let verified = verify(bytes, new.source)?;
    let name = new.name;
    let lock = store.lock()?;
    let mut manifest = store.manifest()?;
    if let Some(held) = manifest.collections.get(name)
        && held.source != new.source
    {
        bail!(
            "a collection named \"{name}\" is already installed from {}; choose another --name \
             or remove it first",
            held.source
        );
    }
    let when = now();
    let indicators: usize = verified.counts.values().sum();
    let entry = Installed {
        file: String::new(),
        title: name.to_string(),
        kind: new.kind,
        source: new.source.to_string(),
        sha256: verified.sha256.clone(),
        bytes: bytes.len() as u64,
        installed_at: when.clone(),
        checked_at: when,
        etag: new.etag.clone(),
        last_modified: new.last_modified.clone(),
        licence: new.licence.map(str::to_string),
        tlp: verified.tlp.clone(),
        authors: Vec::new(),
        references: Vec::new(),
        counts: verified.counts,
        last_error: None,
        state: None,
    };
    let path = store.install(&lock, &mut manifest, name, entry, bytes)?;
    store.save_manifest(&lock, &manifest)?;
    println!(
        "Installed \"{name}\": {indicators} indicators, SHA-256 {}, as {}",
        verified.sha256,
        path.display()
    );
    Ok(())
}

pub(super) fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        bail!("{}: not a regular file", path.display());
    }
    if meta.len() > MAX_COLLECTION_BYTES {
        bail!(
            "{}: larger than {MAX_COLLECTION_BYTES} bytes: not an indicator collection",
            path.display()
        );
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

pub fn remove(name: &str) -> Result<ExitCode> {
    let store = store();
    let lock = store.lock()?;
    let mut manifest = store.manifest()?;
    let removed = store.remove(&lock, &mut manifest, name)?;
    store.save_manifest(&lock, &manifest)?;
    println!("Removed \"{name}\" ({} indicators).", removed.indicators());
    if removed.kind == SourceKind::Index || removed.kind == SourceKind::Bundled {
        println!("Note: `iocs update` installs it again; it is listed by the index or shipped.");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(args: &ShowArgs) -> Result<ExitCode> {
    let mut files = store().installed_files();
    for p in &args.iocs {
        files.extend(portcullis_indicators::indicator_files(p)?);
    }
    if files.is_empty() {
        bail!("no collection is installed and none was given with --iocs");
    }
    let mut found = 0;
    for file in &files {
        // One file at a time: a value two collections hold shows under each.
        let mut indicators = Indicators::new().include_expired(true);
        if let Err(e) = indicators.load_file(file) {
            eprintln!("skipped {e}");
            continue;
        }
        for hit in lookups(&indicators, &args.value) {
            found += 1;
            println!("{}", describe(&hit, file));
        }
    }
    if found == 0 {
        println!(
            "\"{}\" is in none of the {} collection file(s) looked at.",
            args.value,
            files.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every kind of lookup that applies to a value typed by hand, first hit of each.
fn lookups(ind: &Indicators, value: &str) -> Vec<IndicatorMatch> {
    let mut hits: Vec<IndicatorMatch> = Vec::new();
    let checks = [
        Indicators::check_url,
        Indicators::check_host,
        Indicators::check_ip,
        Indicators::check_email,
        Indicators::check_file_hash,
        Indicators::check_app_cert_hash,
        Indicators::check_app_id,
        Indicators::check_process,
        Indicators::check_file_path,
        Indicators::check_profile_id,
        Indicators::check_android_property,
    ];
    for check in checks {
        if let Some(hit) = check(ind, value)
            && !hits
                .iter()
                .any(|h| h.stix.id == hit.stix.id && h.value == hit.value)
        {
            hits.push(hit);
        }
    }
    hits
}

fn describe(hit: &IndicatorMatch, file: &Path) -> String {
    let mut s = format!(
        "{} \"{}\" in collection \"{}\" ({})\n    why: {}\n    indicator {}",
        hit.ioc_type,
        hit.value,
        hit.collection,
        file.display(),
        hit.message(),
        hit.stix.id
    );
    if hit.stix.revoked {
        s.push_str(" (REVOKED by its author: a check leaves it out)");
    }
    if let Some(until) = &hit.stix.valid_until {
        let _ = write!(s, ", valid until {until}");
    }
    s
}
