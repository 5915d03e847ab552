//! The security office server: accounts (admin, officer, member) in groups, advisories members
//! read and acknowledge, and an append-only audit log, behind a server-rendered web UI and a JSON
//! API. It stores findings and posture, never a phone's raw data.
//!
//! Library first: `portcullis serve` and `portcullis admin` are thin shells over [`serve`],
//! [`Config`] and [`admin`]; the tests start the same server on a random port.

pub mod accounts;
mod actions;
pub mod admin;
pub mod advisories;
mod api;
pub mod audit;
mod authz;
pub mod config;
pub mod db;
pub mod devices;
mod error;
pub mod hub;
mod hub_api;
pub mod incidents;
pub mod jobs;
pub mod mail;
pub mod markdown;
pub mod metrics;
mod middleware;
pub mod notify;
pub mod observations;
pub mod secrets;
pub mod sessions;
pub mod totp;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;

pub use authz::{Access, RouteSpec, route_table};
pub use config::{Config, ConfigFile};
pub use db::{Backend, Db};
pub use error::ServerError;

/// Unix seconds now.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub mailer: mail::Mailer,
    pub metrics: Arc<metrics::Metrics>,
    access: Arc<authz::AccessTable>,
}

impl AppState {
    pub fn new(db: Db, config: Config) -> AppState {
        let mailer = mail::Mailer::new(config.smtp.clone());
        AppState {
            db,
            config: Arc::new(config),
            mailer,
            metrics: Arc::new(metrics::Metrics::default()),
            access: Arc::new(authz::AccessTable::from_specs(&authz::route_table())),
        }
    }
}

/// The whole application, routes and middleware, ready to serve.
pub fn app(state: AppState) -> axum::Router {
    authz::router(state)
}

/// A server bound to its address and running in the background.
pub struct RunningServer {
    pub address: SocketAddr,
    pub handle: tokio::task::JoinHandle<Result<(), ServerError>>,
    shutdown: Arc<tokio::sync::Notify>,
}

impl RunningServer {
    /// Stops accepting connections, lets the requests in flight finish (up to `grace`), and
    /// returns when the server has stopped.
    pub async fn shut_down(self, grace: std::time::Duration) -> Result<(), ServerError> {
        self.shutdown.notify_one();
        match tokio::time::timeout(grace, self.handle).await {
            Ok(joined) => joined.map_err(|e| ServerError::Internal(e.to_string()))?,
            Err(_) => Err(ServerError::Internal(format!(
                "requests still running after {grace:?}"
            ))),
        }
    }
}

/// Binds `config.listen` and serves until the task is dropped or the process ends. TLS is used
/// when the configuration names a certificate and key.
pub async fn start(db: Db, config: Config) -> Result<RunningServer, ServerError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServerError::Config(format!("cannot listen on {}: {e}", config.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let tls = config.tls.clone();
    let state = AppState::new(db, config);
    jobs::spawn_worker(state.clone());
    let router = app(state);
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let stop = shutdown.clone();
    let signal = async move { stop.notified().await };
    let handle = match tls {
        None => tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<config::ClientAddr>();
            axum::serve(listener, service)
                .with_graceful_shutdown(signal)
                .await
                .map_err(|e| ServerError::Internal(format!("serving: {e}")))
        }),
        Some(tls) => {
            let acceptor = config::tls_acceptor(&tls)?;
            tokio::spawn(config::serve_tls(listener, acceptor, router, signal))
        }
    };
    Ok(RunningServer {
        address,
        handle,
        shutdown,
    })
}
