//! `serve` with a certificate speaks HTTPS itself (rustls): a client that trusts the test
//! certificate gets the login page over TLS with HSTS, and plain HTTP to the same port fails.

use std::sync::Arc;

use portcullis_server::{ConfigFile, Db};

#[test]
fn a_certificate_turns_on_https() {
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = ConfigFile {
        listen: Some(format!("127.0.0.1:{port}").parse().unwrap()),
        data_dir: Some(dir.path().to_path_buf()),
        tls_cert: Some(testdata.join("tls-test-cert.pem")),
        tls_key: Some(testdata.join("tls-test-key.pem")),
        ..ConfigFile::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(config.public_url, format!("https://127.0.0.1:{port}"));
    runtime.block_on(async {
        let db = Db::connect(&config.database_url).await.unwrap();
        portcullis_server::start(db, config).await.unwrap();
    });

    let certificate =
        ureq::tls::Certificate::from_pem(&std::fs::read(testdata.join("tls-test-ca.pem")).unwrap())
            .unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![certificate])))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(format!("https://127.0.0.1:{port}/login"))
        .call()
        .expect("HTTPS answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000; includeSubDomains")
    );
    assert!(
        response
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("Sign in")
    );

    // Plain HTTP on the TLS port gets no page.
    let plain: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    assert!(
        plain
            .get(format!("http://127.0.0.1:{port}/login"))
            .call()
            .is_err()
    );
    // A client that does not trust the certificate refuses the connection.
    assert!(
        ureq::get(format!("https://127.0.0.1:{port}/login"))
            .call()
            .is_err()
    );
}
