//! `portcullis iocs`: the indicator collections installed on this machine (installed,
//! updated, listed, looked up) and the formats indicators are shared in.

mod installed;
mod interchange;
mod taxii;

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use portcullis_feeds::Store;

#[derive(Subcommand, Debug)]
pub enum IocsCommand {
    /// Install or update the public collections (the index MVT reads) and those shipped with
    /// Portcullis. Downloads only what changed; a collection that fails keeps its copy.
    Update(installed::UpdateArgs),
    /// List the installed collections: indicators per type, source, licence, age.
    List,
    /// Install a STIX 2.1 collection from a file or an http(s):// address (an address is
    /// refreshed by `update`).
    Add(installed::AddArgs),
    /// Install a TAXII 2.1 collection (synchronised by `update`); secrets come from an
    /// environment variable or a file, never the command line.
    AddTaxii(taxii::AddTaxiiArgs),
    /// Remove an installed collection.
    Remove {
        /// Its name, as `iocs list` shows it.
        name: String,
    },
    /// Which installed collections hold a value (a domain, URL, IP, hash, app id…) and why.
    Show(installed::ShowArgs),
    /// Install a plain trail list, CSV, MISP event or Zeek Intel file as a STIX 2.1
    /// collection (reproducible: the same file gives the same bundle).
    Import(interchange::ImportArgs),
    /// Write the installed indicators for network sensors: Zeek Intel, a Suricata dataset, a
    /// hosts file, CSV or one STIX 2.1 bundle.
    Export(interchange::ExportArgs),
}

pub fn run(cmd: &IocsCommand) -> Result<ExitCode> {
    match cmd {
        IocsCommand::Update(args) => installed::update(args),
        IocsCommand::List => installed::list(),
        IocsCommand::Add(args) => installed::add(args),
        IocsCommand::AddTaxii(args) => taxii::add_taxii(args),
        IocsCommand::Remove { name } => installed::remove(name),
        IocsCommand::Show(args) => installed::show(args),
        IocsCommand::Import(args) => interchange::import(args),
        IocsCommand::Export(args) => interchange::export(args),
    }
}

/// The store in the user's data folder (`PORTCULLIS_DATA_DIR` overrides it).
pub fn store() -> Store {
    Store::new(&crate::data::data_dir())
}
