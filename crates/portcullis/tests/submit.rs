//! `check --submit`: the real CLI checks a self-made backup with a planted indicator hit and
//! sends the findings to a real server; the server opens an incident and holds no message text.

mod common;

use common::{backup_with_sms, portcullis};
use portcullis_server::accounts::Role;
use portcullis_server::{ConfigFile, Db};

/// A running server on SQLite in `dir` with a member (and their registered device) and an
/// officer; returns the runtime it runs on, its database, address, the device's token and the
/// officer.
fn start_server(
    dir: &std::path::Path,
) -> (
    tokio::runtime::Runtime,
    Db,
    std::net::SocketAddr,
    String,
    portcullis_server::accounts::User,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("server.db").display());
    let config = ConfigFile {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: Some(url.clone()),
        ..ConfigFile::default()
    }
    .resolve()
    .unwrap();
    let (db, address, token, officer) = runtime.block_on(async {
        let db = Db::connect(&url).await.unwrap();
        let account = |email: &'static str, role| {
            let db = db.clone();
            async move {
                portcullis_server::admin::create_user(
                    &db,
                    email,
                    email,
                    role,
                    Some("a long enough password"),
                )
                .await
                .unwrap()
                .0
            }
        };
        let member = account("ann@example.org", Role::Member).await;
        let officer = account("officer@example.org", Role::Officer).await;
        let (_, token) =
            portcullis_server::devices::register(&db, member.id, "Ann's iPhone", member.id)
                .await
                .unwrap();
        let server = portcullis_server::start(db.clone(), config).await.unwrap();
        (db, server.address, token, officer)
    });
    (runtime, db, address, token, officer)
}

#[test]
fn findings_reach_the_server_and_open_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let (backup, stix) = backup_with_sms(dir.path());
    let (runtime, db, address, token, _) = start_server(dir.path());
    let token_file = dir.path().join("token.txt");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();

    let out = portcullis()
        .arg("check")
        .arg(&backup)
        .arg("--iocs")
        .arg(&stix)
        .arg("--output")
        .arg(dir.path().join("results"))
        .arg("--submit")
        .arg(format!("http://{address}"))
        .arg("--token-file")
        .arg(&token_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Findings sent to http://{address} (check 1; 1 new incident(s) opened; 2 digests of \
             what the check saw kept for re-checking, not the values)."
        )),
        "{stderr}"
    );
    let (incidents, document, digests): (i64, String, i64) = runtime.block_on(async {
        let incidents = sqlx::query_scalar("SELECT COUNT(*) FROM incidents")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let document = sqlx::query_scalar("SELECT document FROM submissions")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let digests = sqlx::query_scalar("SELECT COUNT(*) FROM observations")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        (incidents, document, digests)
    });
    assert_eq!(incidents, 1);
    // The link's host and its parent domain, kept apart from the document.
    assert_eq!(digests, 2);
    assert!(!document.contains("observed"), "{document}");
    assert!(
        document.contains("https://evil.example.net/x"),
        "{document}"
    );
    assert!(
        !document.contains("see https://evil") && !document.contains("+15550100"),
        "{document}"
    );

    // A token that is not a device token is refused before anything is sent; so is plain http
    // to another machine.
    std::fs::write(&token_file, "pc_not_a_device_token").unwrap();
    let refused = portcullis()
        .arg("check")
        .arg(&backup)
        .arg("--iocs")
        .arg(&stix)
        .arg("--output")
        .arg(dir.path().join("results-2"))
        .arg("--submit")
        .arg("http://security.example.org")
        .arg("--token-file")
        .arg(&token_file)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs an https:// address"));
}

/// The hub round trip through the real CLI: a check with no indicators is submitted; the
/// office later adds the link's domain to its hub; the re-check opens an incident; and
/// `iocs update --server` installs the hub's collection, with which a new check alerts.
#[test]
fn the_hub_rechecks_earlier_checks_and_serves_its_indicators() {
    let dir = tempfile::tempdir().unwrap();
    let (backup, _) = backup_with_sms(dir.path());
    let (runtime, db, address, token, officer) = start_server(dir.path());
    let token_file = dir.path().join("token.txt");
    std::fs::write(&token_file, &token).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();

    let out = portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .arg("check")
        .arg(&backup)
        .arg("--output")
        .arg(dir.path().join("results"))
        .arg("--submit")
        .arg(format!("http://{address}"))
        .arg("--token-file")
        .arg(&token_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(check 1; 0 new incident(s) opened; 2 digests"),
        "{stderr}"
    );

    runtime
        .block_on(portcullis_server::hub::add(
            &db,
            portcullis_server::hub::FeedFields {
                name: "Partner disclosure".into(),
                kind: "upload".into(),
                format: Some("plain".into()),
                content: Some("example.net\n".into()),
                ..Default::default()
            }
            .into_new_feed()
            .unwrap(),
            officer.id,
        ))
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let title = loop {
        let found = runtime
            .block_on(portcullis_server::incidents::list(&db, None))
            .unwrap();
        if let Some(incident) = found.first() {
            break incident.title.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no re-check incident");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(
        title.starts_with("Re-check: a check saw example.net ("),
        "{title}"
    );

    let out = portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .args(["iocs", "update", "--server"])
        .arg(format!("http://{address}"))
        .arg("--token-file")
        .arg(&token_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "office: 1 indicators from the security office at http://{address}"
        )),
        "{stdout}"
    );
    let out = portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .arg("check")
        .arg(&backup)
        .arg("--output")
        .arg(dir.path().join("results-2"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the installed office collection alerts"
    );
}
