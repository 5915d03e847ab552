//! A check of network logs and captures: every file read against the indicators by
//! `portcullis-network`, its hits turned into one module's alerts per log kind, and a
//! network summary saying what was read and whom the alerts are about.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use portcullis_core::{Alert, Level, ModuleOutput, ModuleRun, RunControl, TimelineEvent};
use portcullis_network::check::{Check, Hit};
use portcullis_network::devices::{Attribution, Devices, Owner};
use portcullis_network::format::Module;
use portcullis_network::run::FileRun;
use portcullis_network::scan::Scan;
use portcullis_network::source::Compression;
use portcullis_network::time::display;
use portcullis_posture::DeviceFacts;
use portcullis_report::sink::TimeBasis;
use portcullis_report::{DeviceAlerts, IndicatorContact, InputKind, NetworkFile, NetworkSummary};
use serde_json::json;

use crate::{CheckOptions, EngineError, LoadedIndicators, Progress, Ran};

/// What to do when a device on the network contacted an indicator.
const ADVICE: &str = "A device on your network contacted infrastructure named by a spyware or \
    hacking indicator. Find the device from the client address and time (the devices file or \
    DHCP leases name it when they can), keep these logs, and have that phone checked with \
    `portcullis check` before it is reset or updated.";

/// How a network check is run, beside the shared options.
#[derive(Default, Clone, Copy)]
pub struct NetworkOptions<'a> {
    /// The format every file is read as (`--kind`); otherwise each file's contents decide.
    pub kind: Option<&'a str>,
    /// Who is who on the network (`--devices`).
    pub devices: Option<&'a Devices>,
}

pub(crate) fn run(
    path: &Path,
    indicators: &LoadedIndicators,
    options: &CheckOptions<'_>,
    control: &RunControl<'_>,
) -> Result<Ran, EngineError> {
    crate::results::prepare(path, options.output, options.force)?;
    (options.progress)(Progress::Started { total: 0 });
    let check = Check {
        indicators: &indicators.indicators,
    };
    let on_file = |file: &str| (options.progress)(Progress::ModuleDone { slug: file });
    let scan = portcullis_network::scan::scan(
        path,
        options.network.kind,
        &check,
        &on_file,
        control.cancel,
    )
    .map_err(|e| EngineError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let leases = scan.leases();
    let who = Attribution::new(options.network.devices, &leases);
    let mut warnings: Vec<String> = scan.skipped.clone();
    let mut outputs: Vec<(Module, ModuleOutput)> = Vec::new();
    for file in &scan.files {
        match (&file.outcome, file.format) {
            (Ok(outcome), Some((_, module))) => {
                // Lines that could not be read were not checked: the check is partial, not clean.
                let tally = &outcome.tally;
                if tally.malformed > 0 {
                    let first = tally.malformed_listed.first().map(ToString::to_string);
                    warnings.push(format!(
                        "{}: {} of {} lines could not be read and were not checked (first: {})",
                        file.source,
                        tally.malformed,
                        tally.lines,
                        first.unwrap_or_default()
                    ));
                }
                if let Some(stopped) = &outcome.stopped {
                    warnings.push(format!("{}: read up to a problem: {stopped}", file.source));
                }
                let output = module_output(&mut outputs, module);
                for hit in &outcome.tally.hits {
                    add_hit(output, module.slug, module.name, file, hit, &who);
                }
                if outcome.tally.hits_unlisted > 0 {
                    warnings.push(format!(
                        "{}: {} more hits than the {} listed as alerts; all are counted in the \
                         network summary's contacts",
                        file.source,
                        outcome.tally.hits_unlisted,
                        portcullis_network::check::MAX_HITS_LISTED
                    ));
                }
            }
            // A file of a folder that is no log (a README, a checksum list) is listed in the
            // network summary, not counted against coverage; one that could not be read is.
            (Err(_), None) if !file.sha256.is_empty() && scan.files.len() > 1 => {}
            (Err(error), _) => warnings.push(error.clone()),
            (Ok(_), None) => {}
        }
    }
    let runs: Vec<ModuleRun> = outputs
        .into_iter()
        .map(|(module, output)| ModuleRun {
            class_name: module.name,
            slug: module.slug,
            outcome: Ok(output),
        })
        .collect();
    let summary = summary(&scan, &leases, &runs, options.network.devices);
    Ok(Ran {
        input_kind: InputKind::NetworkLogs,
        root: PathBuf::new(),
        hashes: scan
            .files
            .iter()
            .filter(|f| !f.sha256.is_empty())
            .map(|f| (f.source.clone(), f.sha256.clone()))
            .collect(),
        runs,
        facts: DeviceFacts::default(),
        basis: TimeBasis::Utc,
        warnings,
        main_artifact: None,
        network: Some(summary),
    })
}

/// The output of module `slug`, made when its first file is met.
fn module_output(outputs: &mut Vec<(Module, ModuleOutput)>, module: Module) -> &mut ModuleOutput {
    let at = match outputs.iter().position(|(m, _)| m.slug == module.slug) {
        Some(at) => at,
        None => {
            outputs.push((module, ModuleOutput::default()));
            outputs.len() - 1
        }
    };
    &mut outputs[at].1
}

fn add_hit(
    output: &mut ModuleOutput,
    slug: &str,
    class_name: &str,
    file: &FileRun,
    hit: &Hit,
    who: &Attribution<'_>,
) {
    let time = hit.time.map(display).unwrap_or_default();
    // A capture's records are packets, numbered from 1 as Wireshark numbers them; a Pi-hole
    // database's are its queries, by id.
    let unit = match file.format {
        Some(("pcap", _)) => "packet",
        Some(("pihole", _)) => "query id",
        _ => "line",
    };
    let owner: Option<Owner> = hit.client.as_deref().and_then(|c| who.who(c, hit.time));
    let value = hit.indicator.input.clone();
    let event = json!({
        "timestamp": time,
        "client": hit.client,
        "client_port": hit.client_port,
        "server": hit.server,
        "server_port": hit.server_port,
        "seen": hit.seen.as_str(),
        "value": value,
        "device": owner.as_ref().map(|o| o.device.clone()),
        "owner": owner.as_ref().map(|o| o.owner.clone()).filter(|o| !o.is_empty()),
        "attributed_by": owner.as_ref().map(|o| o.via.clone()),
        "file": file.source,
        "line": hit.line,
        "raw": hit.raw,
    });
    let from = match (&hit.client, &owner) {
        (Some(client), Some(o)) if !o.owner.is_empty() => {
            format!(" from {client} ({}, {})", o.device, o.owner)
        }
        (Some(client), Some(o)) => format!(" from {client} ({})", o.device),
        (Some(client), None) => format!(" from {client}"),
        (None, _) => String::new(),
    };
    let message = format!(
        "{} {value}{from} matches indicator \"{}\" from \"{}\"",
        hit.seen.describe(),
        hit.indicator.value,
        hit.indicator.collection
    );
    output.timeline.push(TimelineEvent {
        timestamp: time.clone(),
        plugin: class_name.to_string(),
        event: hit.seen.as_str().to_string(),
        data: format!("{}{from}: {value}", hit.seen.describe()),
    });
    output.alerts.push(
        Alert::indicator(
            Level::High,
            slug,
            hit.indicator.clone(),
            hit.seen.as_str(),
            time,
            event.clone(),
        )
        .with_message(message)
        .with_source(format!("{}, {unit} {}", file.source, hit.line))
        .with_advice(ADVICE),
    );
    if let portcullis_core::Results::List(records) = &mut output.results {
        records.push(event);
    }
}

fn summary(
    scan: &Scan,
    leases: &[portcullis_network::check::SeenLease],
    runs: &[ModuleRun],
    devices: Option<&Devices>,
) -> NetworkSummary {
    let files: Vec<NetworkFile> = scan.files.iter().map(network_file).collect();
    let lines = scan.lines();
    let seconds = scan.elapsed.as_secs_f64();
    let (clients_seen, clients_over_cap) = scan.clients();
    NetworkSummary {
        lines,
        records: files.iter().map(|f| f.records).sum(),
        malformed: files.iter().map(|f| f.malformed).sum(),
        seconds,
        lines_per_second: if seconds > 0.0 {
            (lines as f64 / seconds) as u64
        } else {
            0
        },
        clients_seen,
        clients_over_cap,
        devices_file: devices.map(|d| d.file.clone()),
        leases_seen: leases.len(),
        by_device: by_device(runs),
        contacts: contacts(scan),
        hits_not_listed: scan
            .files
            .iter()
            .filter_map(|f| f.outcome.as_ref().ok())
            .map(|o| o.tally.hits_unlisted)
            .sum(),
        files,
    }
}

fn network_file(file: &FileRun) -> NetworkFile {
    let mut out = NetworkFile {
        file: file.source.clone(),
        format: file.format.map(|(kind, _)| kind.to_string()),
        module: file.format.map(|(_, m)| m.slug.to_string()),
        compression: match file.compression {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
        .to_string(),
        sha256: file.sha256.clone(),
        bytes: file.bytes,
        ..NetworkFile::default()
    };
    match &file.outcome {
        Ok(outcome) => {
            let tally = &outcome.tally;
            out.lines = tally.lines;
            out.records = tally.records;
            out.malformed = tally.malformed;
            out.malformed_lines = tally
                .malformed_listed
                .iter()
                .map(ToString::to_string)
                .collect();
            out.stopped = outcome.stopped.clone();
        }
        Err(error) => out.error = Some(error.clone()),
    }
    out
}

/// The alerts grouped by device and owner (or by client address when no device is known),
/// most alerts first.
fn by_device(runs: &[ModuleRun]) -> Vec<DeviceAlerts> {
    // By device and owner, or (for alerts tied to no device) by client address.
    type Group = (Option<String>, Option<String>, Option<String>);
    let mut groups: BTreeMap<Group, DeviceAlerts> = BTreeMap::new();
    let text = |v: &serde_json::Value, key: &str| v[key].as_str().map(str::to_string);
    for alert in runs
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok())
        .flat_map(|o| &o.alerts)
    {
        let (device, owner, client) = (
            text(&alert.event, "device"),
            text(&alert.event, "owner"),
            text(&alert.event, "client"),
        );
        // A known device is one group whatever addresses it had; otherwise one per address.
        let key = match &device {
            Some(_) => (device.clone(), owner.clone(), None),
            None => (None, None, client.clone()),
        };
        let group = groups.entry(key).or_insert_with(|| DeviceAlerts {
            device,
            owner,
            ..DeviceAlerts::default()
        });
        group.alerts += 1;
        if let Some(client) = client
            && !group.clients.contains(&client)
        {
            group.clients.push(client);
        }
        if let Some(indicator) = &alert.indicator
            && !group.indicators.contains(&indicator.value)
        {
            group.indicators.push(indicator.value.clone());
        }
    }
    let mut groups: Vec<DeviceAlerts> = groups.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.alerts));
    groups
}

/// Every client's contacts with every indicator, over all files, earliest first.
fn contacts(scan: &Scan) -> Vec<IndicatorContact> {
    /// One contact row with its times still as numbers, to merge and sort by.
    struct Merged {
        contact: IndicatorContact,
        first: Option<i64>,
        last: Option<i64>,
    }
    let mut merged: BTreeMap<(String, Option<String>), Merged> = BTreeMap::new();
    for tally in scan
        .files
        .iter()
        .filter_map(|f| f.outcome.as_ref().ok())
        .map(|o| &o.tally)
    {
        for (key, (indicator, contact)) in &tally.contacts {
            let entry = merged
                .entry((key.indicator.clone(), key.client.clone()))
                .or_insert_with(|| Merged {
                    contact: IndicatorContact {
                        indicator: indicator.value.clone(),
                        indicator_id: indicator.stix.id.clone(),
                        collection: indicator.collection.clone(),
                        client: key.client.clone(),
                        ..IndicatorContact::default()
                    },
                    first: None,
                    last: None,
                });
            entry.contact.contacts += contact.count;
            entry.first = pick_some(entry.first, contact.first, i64::min);
            entry.last = pick_some(entry.last, contact.last, i64::max);
        }
    }
    let mut out: Vec<Merged> = merged.into_values().collect();
    out.sort_by(|a, b| (a.first, &a.contact.indicator).cmp(&(b.first, &b.contact.indicator)));
    out.into_iter()
        .map(|m| IndicatorContact {
            first: m.first.map(display),
            last: m.last.map(display),
            ..m.contact
        })
        .collect()
}

/// The earlier (or, with `pick = max`, the later) of two times, either of which may be unknown.
fn pick_some(a: Option<i64>, b: Option<i64>, pick: fn(i64, i64) -> i64) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}
