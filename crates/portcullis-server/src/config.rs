//! Configuration: a TOML file, then environment variables and flags (applied by the CLI, which
//! owns them), resolved and checked into a [`Config`] before anything listens.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::ServerError;
use crate::mail::SmtpConfig;

/// Every setting, each optional: what the file, the environment and the flags each say.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Address and port to listen on (default 127.0.0.1:8443).
    pub listen: Option<SocketAddr>,
    /// `sqlite://…` or `postgres://…`; default: SQLite in the data directory.
    pub database_url: Option<String>,
    /// Where the SQLite database lives (default ./portcullis-server).
    pub data_dir: Option<PathBuf>,
    /// The address members use, e.g. https://security.example.org (links in e-mails, the
    /// Origin check). Default: http://<listen>.
    pub public_url: Option<String>,
    /// PEM certificate chain and private key: serve HTTPS directly.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Minutes without a request after which a session ends (default 30).
    pub session_idle_minutes: Option<u64>,
    /// Hours after login after which a session ends whatever happens (default 12).
    pub session_max_hours: Option<u64>,
    /// Reverse proxies whose X-Forwarded-For is believed (default: none).
    pub trusted_proxies: Option<Vec<IpAddr>>,
    pub smtp: Option<SmtpConfig>,
    /// Where to announce new incidents (a JSON POST signed with HMAC-SHA256).
    pub webhook: Option<crate::notify::WebhookConfig>,
    /// The most restrictive TLP the hub serves to devices and tools (`clear`, `green`,
    /// `amber`, `amber+strict`; default `amber`). TLP:RED is never served.
    pub hub_share_up_to: Option<String>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
    }

    /// `self` with every setting `over` has replacing it.
    pub fn overlay(mut self, over: ConfigFile) -> ConfigFile {
        macro_rules! take {
            ($($field:ident),*) => { $( if over.$field.is_some() { self.$field = over.$field; } )* };
        }
        take!(
            listen,
            database_url,
            data_dir,
            public_url,
            tls_cert,
            tls_key,
            session_idle_minutes,
            session_max_hours,
            trusted_proxies,
            smtp,
            webhook,
            hub_share_up_to
        );
        self
    }

    /// Checks every setting and fills in the defaults.
    pub fn resolve(self) -> Result<Config, ServerError> {
        let listen = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
        let data_dir = self
            .data_dir
            .unwrap_or_else(|| PathBuf::from("portcullis-server"));
        let database_url = match self.database_url {
            Some(url) => {
                crate::Backend::of_url(&url)?;
                url
            }
            None => crate::db::sqlite_url_in(&data_dir),
        };
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => {
                return Err(ServerError::Config(
                    "TLS needs both tls_cert and tls_key".into(),
                ));
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = self
            .public_url
            .unwrap_or_else(|| format!("{scheme}://{listen}"));
        let parsed = url::Url::parse(&public_url)
            .map_err(|e| ServerError::Config(format!("public_url {public_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(ServerError::Config(format!(
                "public_url {public_url:?} must be an http(s) address"
            )));
        }
        let idle = self.session_idle_minutes.unwrap_or(30);
        let max = self.session_max_hours.unwrap_or(12);
        if idle == 0 || max == 0 || idle > 24 * 60 || max > 24 * 30 {
            return Err(ServerError::Config(
                "session_idle_minutes must be 1..=1440 and session_max_hours 1..=720".into(),
            ));
        }
        if let Some(smtp) = &self.smtp {
            smtp.check()?;
        }
        if let Some(webhook) = &self.webhook {
            webhook.check()?;
        }
        let share = self.hub_share_up_to.as_deref().unwrap_or("amber");
        let hub_share_up_to = match portcullis_interchange::export::Tlp::parse(share) {
            Some(portcullis_interchange::export::Tlp::Red) | None => {
                return Err(ServerError::Config(format!(
                    "hub_share_up_to {share:?}: one of clear, green, amber, amber+strict"
                )));
            }
            Some(tlp) => tlp,
        };
        Ok(Config {
            listen,
            database_url,
            data_dir,
            public_origin: parsed.origin().ascii_serialization(),
            public_url: public_url.trim_end_matches('/').to_string(),
            secure_cookies: parsed.scheme() == "https" || is_loopback(&parsed),
            tls,
            session_idle: Duration::from_secs(idle * 60),
            session_max: Duration::from_secs(max * 3600),
            trusted_proxies: self.trusted_proxies.unwrap_or_default(),
            smtp: self.smtp,
            webhook: self.webhook,
            hub_share_up_to,
        })
    }
}

/// Browsers keep `Secure` cookies for http://localhost and 127.0.0.1 (potentially trustworthy
/// origins), so only a plain-http address elsewhere runs without them.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub public_url: String,
    pub public_origin: String,
    pub secure_cookies: bool,
    pub tls: Option<TlsFiles>,
    pub session_idle: Duration,
    pub session_max: Duration,
    pub trusted_proxies: Vec<IpAddr>,
    pub smtp: Option<SmtpConfig>,
    pub webhook: Option<crate::notify::WebhookConfig>,
    pub hub_share_up_to: portcullis_interchange::export::Tlp,
}

impl Config {
    /// What `serve --check-config` prints: every setting, secrets left out.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: String| out.push_str(&format!("{k:<20} {v}\n"));
        line("listen", self.listen.to_string());
        line("database", crate::db::redact_url(&self.database_url));
        line("public url", self.public_url.clone());
        line(
            "tls",
            match &self.tls {
                Some(t) => format!("{} + {}", t.cert.display(), t.key.display()),
                None => "off (put a TLS-terminating reverse proxy in front)".into(),
            },
        );
        line("secure cookies", self.secure_cookies.to_string());
        line(
            "session idle",
            format!("{} min", self.session_idle.as_secs() / 60),
        );
        line(
            "session max",
            format!("{} h", self.session_max.as_secs() / 3600),
        );
        line(
            "trusted proxies",
            if self.trusted_proxies.is_empty() {
                "none".into()
            } else {
                self.trusted_proxies
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        line(
            "smtp",
            match &self.smtp {
                Some(s) => s.describe(),
                None => "off (reminders are recorded but not e-mailed)".into(),
            },
        );
        line(
            "webhook",
            match &self.webhook {
                Some(w) => format!(
                    "{} (signed with the secret in {})",
                    w.url,
                    w.secret_file.display()
                ),
                None => "off".into(),
            },
        );
        line(
            "hub shares up to",
            crate::hub::tlp_name(self.hub_share_up_to).to_string(),
        );
        out
    }
}

/// Loads the certificate chain and key into a TLS acceptor (rustls, ring provider).
pub fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &Path, e: String| ServerError::Config(format!("{}: {e}", path.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad(&files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(&files.cert, "no certificate in the file".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| bad(&files.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(&files.cert, e.to_string()))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}

/// A listener whose connections have finished their TLS handshake. Handshakes run in their own
/// tasks with a deadline, so a client that stalls one does not hold up the others.
pub struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        SocketAddr,
    )>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(
        listener: tokio::net::TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
    ) -> TlsListener {
        let local = listener
            .local_addr()
            .expect("a bound listener has an address");
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener { ready, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The client's address as the connection gave it, for plain and TLS listeners alike.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for ClientAddr
{
    fn connect_info(
        stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>,
    ) -> ClientAddr {
        ClientAddr(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> ClientAddr {
        ClientAddr(*stream.remote_addr())
    }
}

pub(crate) async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let service = router.into_make_service_with_connect_info::<ClientAddr>();
    axum::serve(TlsListener::new(listener, acceptor), service)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| ServerError::Internal(format!("serving: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_local_sqlite_without_tls() {
        let config = ConfigFile::default().resolve().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8443");
        assert!(config.database_url.starts_with("sqlite://"));
        assert!(
            config
                .database_url
                .ends_with("portcullis-server/portcullis.db?mode=rwc")
        );
        assert_eq!(config.public_origin, "http://127.0.0.1:8443");
        assert!(config.secure_cookies);
        assert!(config.tls.is_none());
    }

    #[test]
    fn flags_override_the_file_and_bad_values_are_named() {
        let file: ConfigFile = toml::from_str(
            "listen = \"0.0.0.0:9000\"\npublic_url = \"https://security.example.org/\"\n",
        )
        .unwrap();
        let flags = ConfigFile {
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            ..ConfigFile::default()
        };
        let config = file.overlay(flags).resolve().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(config.public_url, "https://security.example.org");
        assert_eq!(config.public_origin, "https://security.example.org");

        let err = toml::from_str::<ConfigFile>("lisen = \"x\"").unwrap_err();
        assert!(err.to_string().contains("unknown field `lisen`"), "{err}");
        let only_cert = ConfigFile {
            tls_cert: Some("c.pem".into()),
            ..ConfigFile::default()
        };
        assert!(
            only_cert
                .resolve()
                .unwrap_err()
                .to_string()
                .contains("both")
        );
        let plain_remote = ConfigFile {
            public_url: Some("http://security.example.org".into()),
            ..ConfigFile::default()
        };
        assert!(!plain_remote.resolve().unwrap().secure_cookies);
    }
}
