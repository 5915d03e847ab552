//! Running the server: liveness and readiness, Prometheus metrics for a local scraper only, the
//! client address taken from X-Forwarded-For only from a trusted proxy, and graceful shutdown.

mod common;

use common::{Backend, Client, TestServer, backends};
use portcullis_server::ConfigFile;

fn round(backend: Backend) {
    let server = TestServer::start_custom(
        backend,
        ConfigFile {
            trusted_proxies: Some(vec!["127.0.0.1".parse().unwrap()]),
            ..ConfigFile::default()
        },
    );
    let mut client = Client::new(&server.base);
    assert_eq!(client.get("/healthz").body, "ok\n");
    let ready = client.get("/readyz");
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));

    // A failed login is counted; the scrape shows counters and gauges in the text format.
    client.login("nobody@example.org", "wrong password!!", None);
    let metrics = client.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    assert!(
        metrics.body.contains("portcullis_logins_failed_total 1\n"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("# TYPE portcullis_http_responses_total counter\n")
    );
    assert!(
        metrics
            .body
            .contains("portcullis_http_responses_total{class=\"4xx\"} 1\n"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("portcullis_accounts 0\n"));

    // Through the trusted proxy, the client's own address counts: metrics are not for it, and
    // its failed logins are recorded under its address.
    let mut outside = Client::new(&server.base);
    let from_afar = outside.get_with("/metrics", &[("X-Forwarded-For", "203.0.113.9")]);
    assert_eq!(from_afar.status, 404);
    outside.get_with("/login", &[("X-Forwarded-For", "203.0.113.9")]);
    let csrf = outside.csrf.clone();
    outside.post_raw(
        "/login",
        "application/x-www-form-urlencoded",
        &format!("email=a%40example.org&password=wrong+password%21%21&csrf={csrf}"),
        &[("X-Forwarded-For", "203.0.113.9")],
    );
    assert_eq!(
        server.count("SELECT COUNT(*) FROM login_failures WHERE key_ = 'address:203.0.113.9'"),
        1
    );
}

#[test]
fn health_readiness_metrics_and_forwarded_addresses() {
    for backend in backends() {
        round(backend);
    }
}

#[test]
fn shutdown_lets_requests_finish_then_stops_listening() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = ConfigFile {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: Some(dir.path().to_path_buf()),
        ..ConfigFile::default()
    }
    .resolve()
    .unwrap();
    let server = runtime.block_on(async {
        let db = portcullis_server::Db::connect(&config.database_url)
            .await
            .unwrap();
        portcullis_server::start(db, config).await.unwrap()
    });
    let base = format!("http://{}", server.address);
    assert_eq!(Client::new(&base).get("/healthz").status, 200);
    runtime
        .block_on(server.shut_down(std::time::Duration::from_secs(10)))
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    assert!(
        agent.get(format!("{base}/healthz")).call().is_err(),
        "still listening after shutdown"
    );
}

/// Several instances starting at once on one database apply each migration once.
fn concurrent_start(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(backend, dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let results = runtime.block_on(async {
        let starts = (0..4).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { portcullis_server::Db::connect(&url).await })
        });
        let mut out = Vec::new();
        for start in starts {
            out.push(start.await.unwrap());
        }
        out
    });
    for result in &results {
        assert!(result.is_ok(), "{backend:?}: {:?}", result.as_ref().err());
    }
    let db = results.into_iter().next().unwrap().unwrap();
    let applied: i64 = runtime
        .block_on(sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations").fetch_one(&db.pool))
        .unwrap();
    assert_eq!(applied, 4);
    runtime.block_on(db.pool.close());
    common::drop_database(backend, &url);
}

#[test]
fn migrations_run_once_when_instances_start_together() {
    for backend in backends() {
        concurrent_start(backend);
    }
}

/// On PostgreSQL the migrations wait for the advisory lock another instance holds while it
/// migrates (without it, two instances would both find a migration missing and both apply it).
#[test]
fn on_postgres_migrating_waits_for_the_lock_another_instance_holds() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(Backend::Postgres, dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
        let mut held = other.begin().await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock(7678285547)")
            .execute(&mut *held)
            .await
            .unwrap();
        let url_for_start = url.clone();
        let start =
            tokio::spawn(async move { portcullis_server::Db::connect(&url_for_start).await });
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        assert!(
            !start.is_finished(),
            "migrated while another instance held the lock"
        );
        held.commit().await.unwrap();
        let db = tokio::time::timeout(std::time::Duration::from_secs(20), start)
            .await
            .expect("migrates once the lock is free")
            .unwrap()
            .unwrap();
        db.pool.close().await;
    });
    common::drop_database(Backend::Postgres, &url);
}

/// Two instances on one database share the job queue: an incident's webhook call, refused
/// twice by its receiver, is retried and delivered once, not once per instance.
fn jobs_once(backend: Backend) {
    let webhook = common::WebhookSink::start_failing(2);
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("secret");
    std::fs::write(&secret_file, "s").unwrap();
    let hook = portcullis_server::notify::WebhookConfig {
        url: webhook.url.clone(),
        secret_file,
    };
    let server = TestServer::start_notifying(backend, None, Some(hook.clone()));
    let second_config = ConfigFile {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: Some(secrets.path().to_path_buf()),
        // Instances behind one balancer share the address members use.
        public_url: Some(server.base.clone()),
        webhook: Some(hook),
        ..ConfigFile::default()
    }
    .resolve()
    .unwrap();
    let second = server
        .block_on(portcullis_server::start(server.db.clone(), second_config))
        .unwrap();
    let member = server.user(
        "member@example.org",
        portcullis_server::accounts::Role::Member,
    );
    let (_, token) = server
        .block_on(portcullis_server::devices::register(
            &server.db, member.id, "phone", member.id,
        ))
        .unwrap();
    let mut device = Client::new(&format!("http://{}", second.address));
    device.bearer = Some(token);
    let stored = device.post_raw(
        "/api/submissions",
        "application/json",
        &common::sample_submission("2026-12-04 10:00:00.000000"),
        &[],
    );
    assert_eq!(stored.status, 201, "{}", stored.body);
    let deliveries = webhook.wait_for_within(3, 30);
    assert_eq!(deliveries.len(), 3, "two refused, one accepted");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        webhook.received.lock().unwrap().len(),
        3,
        "delivered once, not once per instance"
    );
    assert!(
        deliveries.iter().all(|d| d.body == deliveries[0].body),
        "{deliveries:?}"
    );
    assert_eq!(
        server.count("SELECT COUNT(*) FROM jobs WHERE done_at IS NOT NULL AND last_error IS NULL"),
        2
    );
    assert_eq!(server.count("SELECT MAX(attempts) FROM jobs"), 3);
}

#[test]
fn jobs_are_retried_and_run_once_across_instances() {
    for backend in backends() {
        jobs_once(backend);
    }
}
