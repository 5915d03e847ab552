//! E-mail (reminders and invitations) over SMTP (RFC 5321), with STARTTLS (rustls, ring) and
//! AUTH PLAIN when a username is configured. Plain text, UTF-8; header values are checked for
//! line breaks so no recipient or subject can inject headers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::ServerError;

const STEP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The From address, e.g. "Security Office <security@example.org>".
    pub from: String,
    /// Upgrade with STARTTLS before sending (default true; turn off only for a relay on the
    /// same host).
    #[serde(default = "default_true")]
    pub starttls: bool,
    pub username: Option<String>,
    /// A file holding the password (read when sending, never logged).
    pub password_file: Option<PathBuf>,
}

fn default_port() -> u16 {
    587
}

fn default_true() -> bool {
    true
}

impl SmtpConfig {
    pub fn check(&self) -> Result<(), ServerError> {
        if self.host.trim().is_empty() {
            return Err(ServerError::Config("smtp.host is empty".into()));
        }
        header_safe(&self.from).map_err(|e| ServerError::Config(format!("smtp.from: {e}")))?;
        address_of(&self.from).map_err(|e| ServerError::Config(format!("smtp.from: {e}")))?;
        if self.username.is_some() && !self.starttls {
            return Err(ServerError::Config(
                "smtp.username needs starttls: a password is never sent in clear".into(),
            ));
        }
        Ok(())
    }

    pub fn describe(&self) -> String {
        format!(
            "{}:{} from {}{}{}",
            self.host,
            self.port,
            self.from,
            if self.starttls {
                ", STARTTLS"
            } else {
                ", no TLS"
            },
            if self.username.is_some() {
                ", AUTH"
            } else {
                ""
            }
        )
    }
}

#[derive(Debug, Error)]
pub enum MailError {
    #[error("e-mail is not configured (smtp in the server's configuration)")]
    NotConfigured,
    #[error("{0}")]
    Invalid(String),
    #[error("SMTP server {0}")]
    Protocol(String),
    #[error("SMTP connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("SMTP server did not answer within {0:?}")]
    Timeout(Duration),
}

/// One e-mail.
#[derive(Debug, Clone)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Clone)]
pub struct Mailer {
    config: Option<Arc<SmtpConfig>>,
}

impl Mailer {
    pub fn new(config: Option<SmtpConfig>) -> Mailer {
        Mailer {
            config: config.map(Arc::new),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.config.is_some()
    }

    pub async fn send(&self, message: &Message) -> Result<(), MailError> {
        let config = self.config.as_ref().ok_or(MailError::NotConfigured)?;
        header_safe(&message.to).map_err(MailError::Invalid)?;
        header_safe(&message.subject).map_err(MailError::Invalid)?;
        let recipient = address_of(&message.to).map_err(MailError::Invalid)?;
        let sender = address_of(&config.from).map_err(MailError::Invalid)?;
        let tcp = timed(TcpStream::connect((config.host.as_str(), config.port))).await??;
        let mut plain = BufReader::new(tcp);
        expect(&mut plain, 220).await?;
        command(&mut plain, "EHLO portcullis", 250).await?;
        let data = compose(config, message);
        if config.starttls {
            command(&mut plain, "STARTTLS", 220).await?;
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| MailError::Invalid(e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(config.host.clone())
                .map_err(|e| MailError::Invalid(format!("smtp.host: {e}")))?;
            let stream = timed(
                tokio_rustls::TlsConnector::from(Arc::new(tls)).connect(name, plain.into_inner()),
            )
            .await??;
            let mut secure = BufReader::new(stream);
            command(&mut secure, "EHLO portcullis", 250).await?;
            if let Some(user) = &config.username {
                let password = match &config.password_file {
                    Some(path) => std::fs::read_to_string(path)?.trim_end().to_string(),
                    None => String::new(),
                };
                let token = STANDARD.encode(format!("\0{user}\0{password}"));
                command(&mut secure, &format!("AUTH PLAIN {token}"), 235).await?;
            }
            transaction(&mut secure, &sender, &recipient, &data).await
        } else {
            transaction(&mut plain, &sender, &recipient, &data).await
        }
    }
}

async fn timed<F: std::future::Future>(future: F) -> Result<F::Output, MailError> {
    tokio::time::timeout(STEP_TIMEOUT, future)
        .await
        .map_err(|_| MailError::Timeout(STEP_TIMEOUT))
}

async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    sender: &str,
    recipient: &str,
    data: &str,
) -> Result<(), MailError> {
    command(stream, &format!("MAIL FROM:<{sender}>"), 250).await?;
    command(stream, &format!("RCPT TO:<{recipient}>"), 250).await?;
    command(stream, "DATA", 354).await?;
    timed(stream.get_mut().write_all(data.as_bytes())).await??;
    timed(stream.get_mut().write_all(b".\r\n")).await??;
    expect(stream, 250).await?;
    // The message is accepted; a failed QUIT does not undo that.
    let _ = command(stream, "QUIT", 221).await;
    Ok(())
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    line: &str,
    want: u16,
) -> Result<(), MailError> {
    timed(stream.get_mut().write_all(format!("{line}\r\n").as_bytes())).await??;
    timed(stream.get_mut().flush()).await??;
    expect(stream, want).await.map_err(|e| match e {
        // Never echo credentials into an error message.
        MailError::Protocol(reply) if line.starts_with("AUTH") => {
            MailError::Protocol(format!("refused the login: {reply}"))
        }
        other => other,
    })
}

/// Reads one (possibly multi-line) reply and checks its code. Lines are bounded.
async fn expect<S: AsyncRead + Unpin>(
    stream: &mut BufReader<S>,
    want: u16,
) -> Result<(), MailError> {
    let mut lines = 0;
    loop {
        let mut line = String::new();
        let read = timed((&mut *stream).take(4096).read_line(&mut line)).await??;
        if read == 0 {
            return Err(MailError::Protocol("closed the connection".into()));
        }
        lines += 1;
        let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| {
            MailError::Protocol(format!(
                "sent a line that is not a reply: {:?}",
                line.trim_end()
            ))
        })?;
        let last = line.as_bytes().get(3) != Some(&b'-');
        if last || lines > 100 {
            return if code == want {
                Ok(())
            } else {
                Err(MailError::Protocol(format!(
                    "answered {} (expected {want})",
                    line.trim_end()
                )))
            };
        }
    }
}

use tokio::io::AsyncReadExt;

/// The message as sent after DATA: headers, a blank line, the body with CRLF line ends and
/// leading dots doubled (RFC 5321 §4.5.2).
fn compose(config: &SmtpConfig, message: &Message) -> String {
    let mut out = String::new();
    out.push_str(&format!("From: {}\r\n", config.from));
    out.push_str(&format!("To: {}\r\n", message.to));
    out.push_str(&format!("Subject: {}\r\n", encode_header(&message.subject)));
    out.push_str(&format!(
        "Date: {}\r\n",
        jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000")
    ));
    let domain = address_of(&config.from)
        .ok()
        .and_then(|a| a.rsplit('@').next().map(str::to_string))
        .unwrap_or_else(|| "portcullis.invalid".into());
    out.push_str(&format!(
        "Message-ID: <{}@{domain}>\r\n",
        crate::secrets::random_token(18)
    ));
    out.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    for line in message.body.lines() {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// RFC 2047 encoded-word for a header that is not plain ASCII.
fn encode_header(value: &str) -> String {
    if value.is_ascii() {
        value.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(value))
    }
}

fn header_safe(value: &str) -> Result<(), String> {
    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        Err("contains a line break".into())
    } else {
        Ok(())
    }
}

/// The bare address of `Name <a@b>` or `a@b`.
pub fn address_of(value: &str) -> Result<String, String> {
    let address = match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value,
    }
    .trim();
    let valid = address.len() <= 254
        && address.matches('@').count() == 1
        && !address.starts_with('@')
        && !address.ends_with('@')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c));
    if valid {
        Ok(address.to_string())
    } else {
        Err(format!("{value:?} is not an e-mail address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SmtpConfig {
        SmtpConfig {
            host: "localhost".into(),
            port: 25,
            from: "Security Office <security@example.org>".into(),
            starttls: false,
            username: None,
            password_file: None,
        }
    }

    #[test]
    fn messages_are_dot_stuffed_with_crlf_and_encoded_subjects() {
        let data = compose(
            &config(),
            &Message {
                to: "a@example.org".into(),
                subject: "Réglages de sécurité".into(),
                body: "Hello\n.hidden line\nBye".into(),
            },
        );
        assert!(data.contains("Subject: =?UTF-8?B?UsOpZ2xhZ2VzIGRlIHPDqWN1cml0w6k=?=\r\n"));
        assert!(data.contains("\r\n\r\nHello\r\n..hidden line\r\nBye\r\n"));
        assert!(data.contains("Message-ID: <") && data.contains("@example.org>\r\n"));
    }

    #[test]
    fn addresses_and_headers_are_checked() {
        assert_eq!(
            address_of("Office <x@example.org>").unwrap(),
            "x@example.org"
        );
        assert_eq!(address_of("x@example.org").unwrap(), "x@example.org");
        assert!(address_of("no at sign").is_err());
        assert!(address_of("a@b@c").is_err());
        assert!(header_safe("Subject\r\nBcc: x@evil.example").is_err());
        let mut auth_in_clear = config();
        auth_in_clear.username = Some("office".into());
        assert!(auth_in_clear.check().is_err());
    }
}
