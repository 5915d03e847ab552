//! `check --submit`: the real CLI checks a self-made backup with a planted indicator hit and
//! sends the findings to a real server; the server opens an incident and holds no message text.

mod common;

use common::{backup_with_sms, portcullis};
use portcullis_server::accounts::Role;
use portcullis_server::{ConfigFile, Db};

#[test]
fn findings_reach_the_server_and_open_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let (backup, stix) = backup_with_sms(dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("server.db").display()
    );
    let config = ConfigFile {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: Some(url.clone()),
        ..ConfigFile::default()
    }
    .resolve()
    .unwrap();
    let (db, address, token) = runtime.block_on(async {
        let db = Db::connect(&url).await.unwrap();
        let (member, _) = portcullis_server::admin::create_user(
            &db,
            "ann@example.org",
            "Ann",
            Role::Member,
            Some("a long enough password"),
        )
        .await
        .unwrap();
        let (_, token) =
            portcullis_server::devices::register(&db, member.id, "Ann's iPhone", member.id)
                .await
                .unwrap();
        let server = portcullis_server::start(db.clone(), config).await.unwrap();
        (db, server.address, token)
    });
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
            "Findings sent to http://{address} (check 1; 1 new incident(s) opened)."
        )),
        "{stderr}"
    );
    let (incidents, document): (i64, String) = runtime.block_on(async {
        let incidents = sqlx::query_scalar("SELECT COUNT(*) FROM incidents")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let document = sqlx::query_scalar("SELECT document FROM submissions")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        (incidents, document)
    });
    assert_eq!(incidents, 1);
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
