//! `portcullis decrypt` and `portcullis extract-key` for encrypted iOS backups.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use portcullis_ios::backup::{is_encrypted, locate};
use portcullis_ios::encrypted::{EncryptedEvidence, check_destination, extract_key};

use crate::secret::PasswordArgs;

#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// The encrypted backup folder.
    pub backup: PathBuf,
    /// Where to write the decrypted copy (must not exist or be empty).
    pub dest: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Args, Debug)]
pub struct ExtractKeyArgs {
    /// The encrypted backup folder.
    pub backup: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
}

fn encrypted_root(path: &std::path::Path) -> Result<PathBuf> {
    let root = locate(path)?;
    if !is_encrypted(&root) {
        bail!("{} is not an encrypted backup", root.display());
    }
    Ok(root)
}

pub fn run_decrypt(args: &DecryptArgs) -> Result<ExitCode> {
    let root = encrypted_root(&args.backup)?;
    if let Err(reason) = check_destination(&root, &args.dest) {
        bail!("refusing to decrypt: {reason}");
    }
    let evidence = EncryptedEvidence::open(&root, &args.password.secret()?)?;
    let bar = crate::check::progress_bar(
        evidence.stored_files().len(),
        std::io::stderr().is_terminal(),
    );
    let summary = evidence.decrypt_backup(&args.dest, &|| bar.inc(1))?;
    bar.finish_and_clear();
    println!(
        "Decrypted {} file(s) and Manifest.db into {}",
        summary.files,
        args.dest.display()
    );
    for failure in &summary.failed {
        eprintln!("could not decrypt {failure}");
    }
    Ok(ExitCode::from(if summary.failed.is_empty() {
        0
    } else {
        1
    }))
}

pub fn run_extract_key(args: &ExtractKeyArgs) -> Result<ExitCode> {
    let root = encrypted_root(&args.backup)?;
    let key = extract_key(&root, &args.password.password()?)?;
    println!("{}", key.as_str());
    Ok(ExitCode::SUCCESS)
}
