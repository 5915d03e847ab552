//! `portcullis iocs`: the indicator collections installed on this machine (installed,
//! updated, listed, looked up) and the formats indicators are shared in.

mod installed;

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
    /// Remove an installed collection.
    Remove {
        /// Its name, as `iocs list` shows it.
        name: String,
    },
    /// Which installed collections hold a value (a domain, URL, IP, hash, app id…) and why.
    Show(installed::ShowArgs),
}

pub fn run(cmd: &IocsCommand) -> Result<ExitCode> {
    match cmd {
        IocsCommand::Update(args) => installed::update(args),
        IocsCommand::List => installed::list(),
        IocsCommand::Add(args) => installed::add(args),
        IocsCommand::Remove { name } => installed::remove(name),
        IocsCommand::Show(args) => installed::show(args),
    }
}

/// The store in the user's data folder (`PORTCULLIS_DATA_DIR` overrides it).
pub fn store() -> Store {
    Store::new(&crate::data::data_dir())
}
