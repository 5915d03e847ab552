//! How the CLI gets an encrypted backup's password (never as a plain argument: it would show in
//! the process list and shell history).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use portcullis_ios::encrypted::Secret;
use zeroize::Zeroizing;

#[derive(Args, Debug, Clone, Default)]
pub struct PasswordArgs {
    /// Read the encrypted backup's password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read the encrypted backup's password from this file (a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The derived key printed by `portcullis extract-key` (skips the slow key derivation).
    #[arg(long, value_name = "HEX")]
    pub key_hex: Option<String>,
}

impl PasswordArgs {
    /// The password from the environment or a file, if one was given (never prompts).
    pub fn given_password(&self) -> Result<Option<Zeroizing<String>>> {
        if self.password_env.is_none() && self.password_file.is_none() {
            return Ok(None);
        }
        self.password().map(Some)
    }

    /// The password from the environment, a file, or a no-echo prompt on a terminal.
    pub fn password(&self) -> Result<Zeroizing<String>> {
        if let Some(var) = &self.password_env {
            return std::env::var(var)
                .map(Zeroizing::new)
                .with_context(|| format!("environment variable {var} is not set"));
        }
        if let Some(file) = &self.password_file {
            let text = Zeroizing::new(
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading password file {}", file.display()))?,
            );
            return Ok(Zeroizing::new(
                text.strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text)
                    .to_string(),
            ));
        }
        if std::io::stdin().is_terminal() {
            return Ok(Zeroizing::new(rpassword::prompt_password(
                "Backup password (not shown): ",
            )?));
        }
        bail!(
            "the backup is encrypted: give its password with --password-env VAR or \
             --password-file FILE, or the key from `portcullis extract-key` with --key-hex HEX"
        )
    }

    /// The key if given, else the password.
    pub fn secret(&self) -> Result<Secret> {
        match &self.key_hex {
            Some(hex) => Ok(Secret::from_key_hex(hex)?),
            None => Ok(Secret::Password(self.password()?)),
        }
    }
}
