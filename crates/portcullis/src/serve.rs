//! `portcullis serve` and `portcullis admin`: flags and environment over the TOML file, then the
//! server library does the rest.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use portcullis_server::accounts::Role;
use portcullis_server::{Config, ConfigFile, Db, admin};
use zeroize::Zeroizing;

/// Where the server's settings come from: a TOML file, overridden by environment variables,
/// overridden by flags.
#[derive(Args, Debug, Clone, Default)]
pub struct ServerSettings {
    /// A TOML file with any of the settings below (and `[smtp]` for e-mail).
    #[arg(long, env = "PORTCULLIS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// `sqlite://FILE` or `postgres://user@host/db` (default: SQLite in the data directory).
    #[arg(
        long,
        env = "PORTCULLIS_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    database_url: Option<String>,
    /// Where the SQLite database is kept (default ./portcullis-server).
    #[arg(long, env = "PORTCULLIS_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The address members reach the server at, e.g. https://security.example.org (links in
    /// e-mails and invitations; the origin form posts must come from).
    #[arg(long, env = "PORTCULLIS_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    settings: ServerSettings,
    /// Address and port to listen on (default 127.0.0.1:8443).
    #[arg(long, env = "PORTCULLIS_LISTEN", value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// PEM certificate chain: serve HTTPS directly (with --tls-key).
    #[arg(
        long,
        env = "PORTCULLIS_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(
        long,
        env = "PORTCULLIS_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// A reverse proxy whose X-Forwarded-For is believed (repeat for several).
    #[arg(long, value_name = "IP")]
    trusted_proxy: Vec<IpAddr>,
    /// Check the configuration and the database, print the settings, and exit.
    #[arg(long)]
    check_config: bool,
}

impl ServerSettings {
    fn file(&self) -> Result<ConfigFile> {
        let from_file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        Ok(from_file.overlay(ConfigFile {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            public_url: self.public_url.clone(),
            ..ConfigFile::default()
        }))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The data directory, created readable by its owner only when SQLite lives there.
fn prepare_data_dir(config: &Config) -> Result<()> {
    if !config.database_url.starts_with("sqlite:") {
        return Ok(());
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", config.data_dir.display()))?;
    }
    Ok(())
}

async fn open(config: &Config) -> Result<Db> {
    prepare_data_dir(config)?;
    Ok(Db::connect(&config.database_url).await?)
}

pub fn run_serve(args: &ServeArgs) -> Result<ExitCode> {
    let flags = ConfigFile {
        listen: args.listen,
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        trusted_proxies: (!args.trusted_proxy.is_empty()).then(|| args.trusted_proxy.clone()),
        ..ConfigFile::default()
    };
    let config = args.settings.file()?.overlay(flags).resolve()?;
    runtime()?.block_on(async {
        let db = open(&config).await?;
        if let Some(tls) = &config.tls {
            portcullis_server::config::tls_acceptor(tls)?;
        }
        if args.check_config {
            print!("{}", config.describe());
            println!("{:<20} reachable, schema up to date", "database check");
            return Ok(ExitCode::SUCCESS);
        }
        let accounts = portcullis_server::accounts::all(&db).await?.len();
        let mut server = portcullis_server::start(db, config.clone()).await?;
        println!("Portcullis security office: {} (listening on {})", config.public_url, server.address);
        println!("Database: {}", portcullis_server::db::redact_url(&config.database_url));
        if accounts == 0 {
            println!(
                "No accounts yet. Create the first administrator in another terminal:\n  \
                 portcullis admin create-user --role admin --email you@example.org --name \"Your Name\"{}",
                args.settings.flags_hint()
            );
        }
        tokio::select! {
            result = &mut server.handle => { result.context("the server stopped")??; }
            _ = stop_signal() => {
                println!("Stopping: finishing the requests in flight (30 s at most).");
                server.shut_down(std::time::Duration::from_secs(30)).await?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C, or SIGTERM (what service managers and container runtimes send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl ServerSettings {
    /// The database flags to repeat in a hint, so the command reaches the same database.
    fn flags_hint(&self) -> String {
        let mut hint = String::new();
        if let Some(c) = &self.config {
            hint.push_str(&format!(" --config {}", c.display()));
        }
        if let Some(d) = &self.data_dir {
            hint.push_str(&format!(" --data-dir {}", d.display()));
        }
        if self.database_url.is_some() {
            hint.push_str(" --database-url …");
        }
        hint
    }
}

#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(flatten)]
    settings: ServerSettings,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create an account: with a password (read from a prompt or --password-file) for the first
    /// administrator, or with --invite for a one-time link the person uses to choose one.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, officer or member.
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long, value_name = "FILE", conflicts_with = "invite")]
        password_file: Option<PathBuf>,
        /// Print an invitation link instead of setting a password.
        #[arg(long)]
        invite: bool,
    },
    /// Set a new password (ends the account's sessions and clears a lockout).
    ResetPassword {
        #[arg(long)]
        email: String,
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Remove an account's authenticator (lost phone); they set up a new one at next login.
    ResetSecondFactor {
        #[arg(long)]
        email: String,
    },
    /// Disable an account: its sessions and API tokens stop working at once.
    DisableUser {
        #[arg(long)]
        email: String,
    },
}

/// A new password from a file or typed twice at a prompt; never from an argument.
fn new_password(file: &Option<PathBuf>) -> Result<Zeroizing<String>> {
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(Zeroizing::new(
            text.trim_end_matches(['\r', '\n']).to_string(),
        ));
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the password: give --password-file FILE");
    }
    let first = Zeroizing::new(rpassword::prompt_password("New password: ")?);
    let second = Zeroizing::new(rpassword::prompt_password("Again: ")?);
    if first != second {
        bail!("the two passwords are not the same");
    }
    Ok(first)
}

pub fn run_admin(args: &AdminArgs) -> Result<ExitCode> {
    let config = args.settings.file()?.resolve()?;
    runtime()?.block_on(async {
        let db = open(&config).await?;
        match &args.command {
            AdminCommand::CreateUser {
                email,
                name,
                role,
                password_file,
                invite,
            } => {
                let role = Role::parse(role)
                    .with_context(|| format!("{role:?} is not admin, officer or member"))?;
                let password = if *invite {
                    None
                } else {
                    Some(new_password(password_file)?)
                };
                let (user, invitation) = admin::create_user(
                    &db,
                    email,
                    name,
                    role,
                    password.as_deref().map(String::as_str),
                )
                .await?;
                println!(
                    "Created {} ({}) as {}.",
                    user.display_name,
                    user.email,
                    role.as_str()
                );
                if let Some(token) = invitation {
                    println!(
                        "Invitation link (works once, for {} days): {}/invite/{token}",
                        portcullis_server::accounts::INVITATION_DAYS,
                        config.public_url
                    );
                }
                if role.needs_second_factor() {
                    println!("At first sign-in they will be asked to set up an authenticator app.");
                }
            }
            AdminCommand::ResetPassword {
                email,
                password_file,
            } => {
                let password = new_password(password_file)?;
                let user = admin::reset_password(&db, email, &password).await?;
                println!(
                    "New password set for {}; their sessions have ended.",
                    user.email
                );
            }
            AdminCommand::ResetSecondFactor { email } => {
                let user = admin::reset_second_factor(&db, email).await?;
                println!(
                    "Second factor removed for {}; they set up a new one at next sign-in.",
                    user.email
                );
            }
            AdminCommand::DisableUser { email } => {
                let user = admin::disable_user(&db, email).await?;
                println!(
                    "Disabled {}; their sessions and API tokens no longer work.",
                    user.email
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
