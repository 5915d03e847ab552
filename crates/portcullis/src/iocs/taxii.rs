//! `portcullis iocs add-taxii` (and `iocs update --server`): installs a TAXII 2.1 collection. Secrets are named (an
//! environment variable or a file), never given on the command line, where `ps` and shell
//! histories would show them; only the reference is stored, so `update` re-reads it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use portcullis_feeds::Outcome;
use portcullis_feeds::http;
use portcullis_feeds::store::name_from_title;
use portcullis_feeds::taxii::{self, AddTaxii, Auth, SecretRef};

#[derive(Args, Debug)]
pub struct AddTaxiiArgs {
    /// The discovery address or an API root address.
    pub url: String,
    /// The collection id (as the server's collections list gives it).
    #[arg(long)]
    pub collection: String,
    /// The name to install it as (default: from the collection id).
    #[arg(long)]
    pub name: Option<String>,
    /// The user for basic authentication (with --password-env or --password-file).
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long, requires = "user", conflicts_with_all = ["password_file", "token_env", "token_file"])]
    pub password_env: Option<String>,
    #[arg(long, requires = "user", conflicts_with_all = ["token_env", "token_file"])]
    pub password_file: Option<PathBuf>,
    /// An environment variable holding a bearer token.
    #[arg(long, conflicts_with_all = ["user", "token_file"])]
    pub token_env: Option<String>,
    /// A file holding a bearer token.
    #[arg(long, conflicts_with = "user")]
    pub token_file: Option<PathBuf>,
}

fn auth(args: &AddTaxiiArgs) -> Result<Option<Auth>> {
    let password = match (&args.password_env, &args.password_file) {
        (Some(var), _) => Some(SecretRef::Env(var.clone())),
        (_, Some(path)) => Some(SecretRef::File(path.clone())),
        _ => None,
    };
    let token = match (&args.token_env, &args.token_file) {
        (Some(var), _) => Some(SecretRef::Env(var.clone())),
        (_, Some(path)) => Some(SecretRef::File(path.clone())),
        _ => None,
    };
    Ok(match (&args.user, password, token) {
        (Some(user), Some(password), None) => Some(Auth::Basic {
            user: user.clone(),
            password,
        }),
        (Some(_), None, _) => bail!("--user needs --password-env or --password-file"),
        (None, None, Some(token)) => Some(Auth::Bearer { token }),
        _ => None,
    })
}

pub fn add_taxii(args: &AddTaxiiArgs) -> Result<ExitCode> {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| name_from_title(&args.collection));
    let add = AddTaxii {
        url: &args.url,
        collection: &args.collection,
        name: &name,
        auth: auth(args)?,
    };
    let (outcome, installed) =
        taxii::add(&super::store(), &http::agent(), add, &std::thread::sleep)?;
    match outcome {
        Outcome::Failed(why) => bail!("{}: {why}", args.url),
        _ => {
            println!(
                "{name}: {} indicators installed from {}",
                installed.indicators(),
                args.url
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `iocs update --server`: installs (or brings up to date) the organisation's collection from
/// its Portcullis server as `office`, authenticated with the token in `token_file`.
pub fn update_from_server(server: &str, token_file: &Path) -> Result<ExitCode> {
    let url = crate::submit::endpoint(server, "taxii2/")?;
    // Saved in the manifest: later updates read the token from the same file, wherever they run.
    let token_file = std::fs::canonicalize(token_file)
        .with_context(|| format!("the token file {}", token_file.display()))?;
    let add = AddTaxii {
        url: url.as_str(),
        collection: OFFICE_COLLECTION,
        name: OFFICE_NAME,
        auth: Some(Auth::Bearer {
            token: SecretRef::File(token_file),
        }),
    };
    let (outcome, installed) =
        taxii::add(&super::store(), &http::agent(), add, &std::thread::sleep)?;
    match outcome {
        Outcome::Failed(why) => bail!("{server}: {why}"),
        _ => {
            println!(
                "{OFFICE_NAME}: {} indicators from the security office at {server}",
                installed.indicators()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The collection id a Portcullis server's hub serves, and the name it is installed under.
const OFFICE_COLLECTION: &str = "organisation";
const OFFICE_NAME: &str = "office";
