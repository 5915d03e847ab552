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
