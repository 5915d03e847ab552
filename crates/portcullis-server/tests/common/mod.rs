//! Shared by the server's integration tests: a server on a random port over SQLite (always) and
//! PostgreSQL (when PORTCULLIS_TEST_POSTGRES names a server: CI sets it), an HTTP client that
//! keeps its own cookie, a local SMTP sink, and helpers to sign in with TOTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use portcullis_server::accounts::Role;
use portcullis_server::mail::SmtpConfig;
use portcullis_server::sessions::{self, Stage};
use portcullis_server::{ConfigFile, Db};

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends to run on: SQLite, and PostgreSQL when configured (said once when skipped).
pub fn backends() -> Vec<Backend> {
    if std::env::var_os("PORTCULLIS_TEST_POSTGRES").is_some() {
        vec![Backend::Sqlite, Backend::Postgres]
    } else {
        eprintln!(
            "PostgreSQL server tests skipped: set PORTCULLIS_TEST_POSTGRES=postgres://… (CI does)"
        );
        vec![Backend::Sqlite]
    }
}

/// Runs one statement on the PostgreSQL server named by PORTCULLIS_TEST_POSTGRES.
fn postgres_admin(statement: String) {
    let admin_url = std::env::var("PORTCULLIS_TEST_POSTGRES").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&admin_url)
            .await
            .expect("PORTCULLIS_TEST_POSTGRES reachable");
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

/// A fresh, empty database URL: a SQLite file in `dir`, or a new PostgreSQL database (and its
/// name, dropped with the server).
fn database_url(backend: Backend, dir: &std::path::Path) -> (String, Option<String>) {
    match backend {
        Backend::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
            None,
        ),
        Backend::Postgres => {
            let admin_url = std::env::var("PORTCULLIS_TEST_POSTGRES").unwrap();
            let name = format!(
                "portcullis_test_{}",
                portcullis_server::secrets::random_token(9)
                    .to_lowercase()
                    .replace(['-', '_'], "x")
            );
            postgres_admin(format!("CREATE DATABASE {name}"));
            let mut url = url::Url::parse(&admin_url).unwrap();
            url.set_path(&name);
            (url.to_string(), Some(name))
        }
    }
}

/// A new, empty database's URL (SQLite in `dir`, or a new PostgreSQL database).
pub fn fresh_database_url(backend: Backend, dir: &std::path::Path) -> String {
    database_url(backend, dir).0
}

/// Drops a PostgreSQL database made by [`fresh_database_url`] (SQLite: nothing to do).
pub fn drop_database(backend: Backend, url: &str) {
    if backend == Backend::Postgres {
        let name = url::Url::parse(url)
            .unwrap()
            .path()
            .trim_start_matches('/')
            .to_string();
        postgres_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// A running server and a handle on its database.
pub struct TestServer {
    pub base: String,
    pub db: Db,
    pub backend: Backend,
    pub runtime: Arc<tokio::runtime::Runtime>,
    postgres_database: Option<String>,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(name) = self.postgres_database.take() {
            self.runtime.block_on(self.db.pool.close());
            postgres_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

impl TestServer {
    pub fn start(backend: Backend) -> TestServer {
        TestServer::start_with(backend, None)
    }

    pub fn start_with(backend: Backend, smtp: Option<SmtpConfig>) -> TestServer {
        TestServer::start_notifying(backend, smtp, None)
    }

    pub fn start_notifying(
        backend: Backend,
        smtp: Option<SmtpConfig>,
        webhook: Option<portcullis_server::notify::WebhookConfig>,
    ) -> TestServer {
        TestServer::start_custom(
            backend,
            ConfigFile {
                smtp,
                webhook,
                ..ConfigFile::default()
            },
        )
    }

    /// A server with `extra`'s settings (listen address, database and data folder are the
    /// test's; the public URL is the server's own unless `extra` names one, e.g. a proxy's).
    pub fn start_custom(backend: Backend, extra: ConfigFile) -> TestServer {
        let behind_proxy = extra.public_url.is_some();
        let dir = tempfile::tempdir().unwrap();
        let (url, postgres_database) = database_url(backend, dir.path());
        let runtime = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        );
        let config = extra
            .overlay(ConfigFile {
                listen: Some("127.0.0.1:0".parse().unwrap()),
                database_url: Some(url.clone()),
                data_dir: Some(dir.path().to_path_buf()),
                ..ConfigFile::default()
            })
            .resolve()
            .unwrap();
        let (db, address) = runtime.block_on(async {
            let db = Db::connect(&url)
                .await
                .expect("database connects and migrates");
            // The public URL must name the real port, so resolve again once it is known.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap();
            drop(listener);
            let mut config = config.clone();
            config.listen = address;
            if !behind_proxy {
                config.public_url = format!("http://{address}");
                config.public_origin = config.public_url.clone();
            }
            let server = portcullis_server::start(db.clone(), config)
                .await
                .expect("server starts");
            (db, server.address)
        });
        TestServer {
            base: format!("http://{address}"),
            db,
            backend,
            runtime,
            postgres_database,
            _dir: dir,
        }
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Everything the database holds, as text: every file of the SQLite database (its pages,
    /// free ones included, and its write-ahead log), or every row of every PostgreSQL table.
    pub fn database_text(&self) -> String {
        match self.backend {
            Backend::Sqlite => {
                let mut text = String::new();
                for entry in std::fs::read_dir(self._dir.path()).unwrap().flatten() {
                    if entry.path().is_file() {
                        let bytes = std::fs::read(entry.path()).unwrap();
                        text.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                text
            }
            Backend::Postgres => self.block_on(async {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
                )
                .fetch_all(&self.db.pool)
                .await
                .unwrap();
                let mut text = String::new();
                for table in tables {
                    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT CAST(t AS TEXT) FROM \"{table}\" t"
                    )))
                    .fetch_all(&self.db.pool)
                    .await
                    .unwrap();
                    text.push_str(&rows.join("\n"));
                }
                text
            }),
        }
    }

    /// An account with a password (and, for officers and admins, an authenticator secret).
    pub fn user(&self, email: &str, role: Role) -> TestUser {
        let (user, _) = self
            .block_on(portcullis_server::admin::create_user(
                &self.db,
                email,
                email,
                role,
                Some(PASSWORD),
            ))
            .unwrap();
        let secret = if role.needs_second_factor() {
            let secret = portcullis_server::totp::new_secret();
            self.block_on(portcullis_server::accounts::enable_second_factor(
                &self.db, user.id, &secret,
            ))
            .unwrap();
            Some(secret)
        } else {
            None
        };
        TestUser {
            id: user.id,
            email: email.to_string(),
            secret,
        }
    }

    /// A client already signed in as `user` (a full session made directly in the database).
    pub fn signed_in(&self, user: &TestUser) -> Client {
        let (cookie, session) = self
            .block_on(sessions::create(&self.db, Some(user.id), Stage::Full))
            .unwrap();
        let mut client = Client::new(&self.base);
        client.cookie = Some(cookie);
        client.csrf = session.csrf_token;
        client
    }

    pub fn count(&self, sql: &'static str) -> i64 {
        self.block_on(sqlx::query_scalar::<_, i64>(sql).fetch_one(&self.db.pool))
            .unwrap()
    }
}

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub secret: Option<String>,
}

/// The current authenticator code for a base32 secret.
pub fn totp_now(secret: &str) -> String {
    let key = portcullis_server::totp::base32_decode(secret).unwrap();
    let step = portcullis_server::totp::step_of(portcullis_server::now());
    format!("{:06}", portcullis_server::totp::code_at_step(&key, step))
}

pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A browser-like client: one session cookie, no redirects followed, the CSRF token of the last
/// form page kept for the next post.
pub struct Client {
    pub base: String,
    pub cookie: Option<String>,
    pub csrf: String,
    /// Sent as `Authorization: Bearer …` with every request when set.
    pub bearer: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str) -> Client {
        // A connection per request: the server may close one after refusing a request whose
        // body it did not read, and a POST sent on it then would fail rather than be refused.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_idle_connections(0)
            .build()
            .into();
        Client {
            base: base.to_string(),
            cookie: None,
            csrf: String::new(),
            bearer: None,
            agent,
        }
    }

    fn finish(&mut self, response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut response = response.expect("the server answers");
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let set_cookie: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.clone())
            .collect();
        for cookie in &set_cookie {
            let value = cookie
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_string();
            self.cookie = if value.is_empty() { None } else { Some(value) };
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        if let Some(token) = hidden_csrf(&body) {
            self.csrf = token;
        }
        Reply {
            status: response.status().as_u16(),
            location: headers
                .iter()
                .find(|(n, _)| n == "location")
                .map(|(_, v)| v.clone()),
            set_cookie,
            headers,
            body,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookie
            .as_ref()
            .map(|c| format!("{}={c}", sessions::COOKIE))
            .unwrap_or_default()
    }

    /// The kept session cookie and bearer token, on `request`.
    fn credentials<B>(&self, mut request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        if self.cookie.is_some() {
            request = request.header("Cookie", self.cookie_header());
        }
        if let Some(token) = &self.bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        request
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.get_with(path, &[])
    }

    pub fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.credentials(request).call();
        self.finish(response)
    }

    /// Posts a form, adding the kept CSRF token unless the fields name one.
    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            pairs.push(("csrf".into(), self.csrf.clone()));
        }
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.post_raw(path, "application/x-www-form-urlencoded", &body, &[])
    }

    pub fn post_raw(
        &mut self,
        path: &str,
        content_type: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type);
        request = self.credentials(request);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send(body);
        self.finish(response)
    }

    /// A DELETE with the kept cookie, bearer token and CSRF token.
    pub fn delete(&mut self, path: &str) -> Reply {
        let request = self
            .agent
            .delete(format!("{}{path}", self.base))
            .header("X-CSRF-Token", self.csrf.clone());
        let response = self.credentials(request).call();
        self.finish(response)
    }

    /// An API call with a bearer token.
    pub fn api(&mut self, method: &str, path: &str, token: &str, json: Option<&str>) -> Reply {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let response = match method {
            "GET" => self.agent.get(url).header("Authorization", &auth).call(),
            _ => self
                .agent
                .post(url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(json.unwrap_or("{}")),
        };
        self.finish(response)
    }

    /// Signs in through the login form (and the authenticator step when `secret` is given).
    pub fn login(&mut self, email: &str, password: &str, secret: Option<&str>) -> Reply {
        self.get("/login");
        let reply = self.post_form("/login", &[("email", email), ("password", password)]);
        match (reply.location.as_deref(), secret) {
            (Some("/login/second-factor"), Some(secret)) => {
                self.get("/login/second-factor");
                self.post_form("/login/second-factor", &[("code", &totp_now(secret))])
            }
            _ => reply,
        }
    }
}

/// The value of the first hidden `csrf` field in a page.
pub fn hidden_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string()).filter(|t| !t.is_empty())
}

/// A local SMTP server that accepts every message and keeps it.
pub struct SmtpSink {
    pub address: SocketAddr,
    pub messages: Arc<Mutex<Vec<SinkMessage>>>,
}

#[derive(Debug, Clone)]
pub struct SinkMessage {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let kept = messages.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut say = |line: &str| writer.write_all(format!("{line}\r\n").as_bytes());
                    say("220 sink.test ESMTP").ok();
                    let mut current = SinkMessage {
                        from: String::new(),
                        to: Vec::new(),
                        data: String::new(),
                    };
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        let command = line.trim_end().to_string();
                        line.clear();
                        let upper = command.to_ascii_uppercase();
                        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                            say("250-sink.test").ok();
                            say("250 8BITMIME").ok();
                        } else if let Some(from) = upper.strip_prefix("MAIL FROM:") {
                            current.from = command[10..].trim().to_string();
                            let _ = from;
                            say("250 OK").ok();
                        } else if upper.starts_with("RCPT TO:") {
                            current
                                .to
                                .push(command[8..].trim().trim_matches(['<', '>']).to_string());
                            say("250 OK").ok();
                        } else if upper == "DATA" {
                            say("354 go ahead").ok();
                            let mut data = String::new();
                            loop {
                                let mut l = String::new();
                                if reader.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                                    break;
                                }
                                data.push_str(&l);
                            }
                            current.data = data;
                            kept.lock().unwrap().push(current.clone());
                            current = SinkMessage {
                                from: String::new(),
                                to: Vec::new(),
                                data: String::new(),
                            };
                            say("250 queued").ok();
                        } else if upper == "QUIT" {
                            say("221 bye").ok();
                            break;
                        } else {
                            say("502 not implemented").ok();
                        }
                    }
                });
            }
        });
        SmtpSink { address, messages }
    }

    pub fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.address.port(),
            from: "Security Office <security@example.org>".into(),
            starttls: false,
            username: None,
            password_file: None,
        }
    }

    pub fn received(&self) -> Vec<SinkMessage> {
        self.messages.lock().unwrap().clone()
    }
}

/// A check's findings as `check --submit` sends them: the shared example report (a CRITICAL
/// indicator hit in an SMS link whose text is [`RECORD_TEXT`], Lockdown Mode off).
pub fn sample_submission(checked_at: &str) -> String {
    let report = portcullis_report::submission::example_report(checked_at, RECORD_TEXT);
    serde_json::to_string(&portcullis_report::Submission::from_report(&report)).unwrap()
}

/// Text of the record behind the sample's alert: it must never reach the server.
pub const RECORD_TEXT: &str = "Your parcel is waiting, private message text";

/// One POST a [`WebhookSink`] received: its headers (names in lower case) and body.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `GET /hook HTTP/1.1`.
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A local webhook receiver: answers 200 to every POST and keeps what arrived.
pub struct WebhookSink {
    pub url: String,
    pub received: Arc<Mutex<Vec<Delivery>>>,
}

impl WebhookSink {
    pub fn start() -> WebhookSink {
        WebhookSink::start_failing(0)
    }

    /// A receiver that answers 500 to its first `failures` deliveries (and keeps them too).
    pub fn start_failing(failures: usize) -> WebhookSink {
        WebhookSink::start_answering(move |_, n| {
            let status = if n <= failures { 500 } else { 200 };
            (status, Vec::new(), String::new())
        })
    }

    /// A server at `http://…/hook` that keeps every request and answers the `n`th (from 1)
    /// with what `answer` says: (status, headers, body).
    pub fn start_answering(
        answer: impl Fn(&Delivery, usize) -> (u16, Vec<(String, String)>, String) + Send + 'static,
    ) -> WebhookSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut headers = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).ok();
                let request_line = line.trim_end().to_string();
                line.clear();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    if let Some((name, value)) = line.trim_end().split_once(": ") {
                        headers.push((name.to_ascii_lowercase(), value.to_string()));
                    }
                    line.clear();
                }
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                std::io::Read::read_exact(&mut reader, &mut body).ok();
                let delivery = Delivery {
                    request_line,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let n = {
                    let mut all = kept.lock().unwrap();
                    all.push(delivery.clone());
                    all.len()
                };
                let (status, extra, body) = answer(&delivery, n);
                let mut head = format!("HTTP/1.1 {status} Fixture\r\n");
                for (name, value) in extra {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str(&format!(
                    "content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                ));
                writer.write_all(head.as_bytes()).ok();
                writer.write_all(body.as_bytes()).ok();
            }
        });
        WebhookSink { url, received }
    }

    /// What arrived, waiting up to 10 s for at least `count` deliveries.
    pub fn wait_for(&self, count: usize) -> Vec<Delivery> {
        self.wait_for_within(count, 10)
    }

    pub fn wait_for_within(&self, count: usize, seconds: u64) -> Vec<Delivery> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= count || std::time::Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl SmtpSink {
    /// The messages received, waiting up to 10 s for at least `count`.
    pub fn wait_for(&self, count: usize) -> Vec<SinkMessage> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= count || std::time::Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// A round-robin TCP proxy in front of several instances (what a load balancer does): each
/// connection goes to the next instance, and `served` counts the connections each got.
pub struct Proxy {
    pub base: String,
    pub served: Arc<Vec<std::sync::atomic::AtomicUsize>>,
}

impl Proxy {
    /// Binds the proxy's address first, so that instances can be told it as their public URL.
    pub fn bind() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        (listener, base)
    }

    pub fn start(listener: TcpListener, instances: Vec<std::net::SocketAddr>) -> Proxy {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let served: Arc<Vec<std::sync::atomic::AtomicUsize>> =
            Arc::new(instances.iter().map(|_| Default::default()).collect());
        let counts = served.clone();
        std::thread::spawn(move || {
            for (n, client) in listener.incoming().flatten().enumerate() {
                let i = n % instances.len();
                counts[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Ok(upstream) = std::net::TcpStream::connect(instances[i]) else {
                    continue;
                };
                let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                    std::thread::spawn(move || {
                        std::io::copy(&mut from, &mut to).ok();
                        to.shutdown(std::net::Shutdown::Write).ok();
                    });
                };
                pipe(client.try_clone().unwrap(), upstream.try_clone().unwrap());
                pipe(upstream, client);
            }
        });
        Proxy { base, served }
    }
}
