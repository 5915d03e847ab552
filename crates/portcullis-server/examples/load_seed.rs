//! Seeds a database for the load test (`bench/load/run.sh`): an officer, MEMBERS members with
//! API tokens, one published advisory addressed to everyone (two checklist steps), DEVICES
//! devices with upload tokens, and the submission the uploads send (the example report: one
//! CRITICAL alert and a failing setting, plus 500 observation digests; `__UNIQUE__` in its tool
//! version is replaced per request, since the server refuses the same document twice).
//!
//! Usage: load_seed DATABASE_URL OUT_DIR [MEMBERS [DEVICES]]

use portcullis_server::accounts::{self, Role};
use portcullis_server::advisories::{self, Audience, Draft, Severity, State};
use portcullis_server::{Db, admin, devices};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, out, rest @ ..] = args.as_slice() else {
        return Err("usage: load_seed DATABASE_URL OUT_DIR [MEMBERS [DEVICES]]".into());
    };
    let members: usize = rest.first().map_or(Ok(200), |n| n.parse())?;
    let device_count: usize = rest.get(1).map_or(Ok(50), |n| n.parse())?;
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out)?;
    let db = Db::connect(url).await?;

    let (officer, _) = admin::create_user(
        &db,
        "officer@load.test",
        "Load Officer",
        Role::Officer,
        None,
    )
    .await?;
    let draft = Draft {
        title: "Update your phone".into(),
        body_markdown:
            "A campaign targets members.\n\n- [ ] Update iOS\n- [ ] Turn on Lockdown Mode\n".into(),
        severity: Severity::High,
        audience: Audience {
            everyone: true,
            groups: Vec::new(),
            members: Vec::new(),
        },
        acknowledge_by: None,
        posture_rule: None,
    };
    let advisory = advisories::create(&db, &officer, &draft).await?;
    advisories::transition(&db, advisory.id, State::Published).await?;

    let mut member_lines = String::new();
    let mut member_ids = Vec::new();
    for n in 0..members {
        let (user, _) = admin::create_user(
            &db,
            &format!("member{n}@load.test"),
            &format!("Member {n}"),
            Role::Member,
            None,
        )
        .await?;
        let token = accounts::create_api_token(&db, user.id, "load test").await?;
        member_lines.push_str(&format!("{token} {}\n", advisory.id));
        member_ids.push(user.id);
    }
    std::fs::write(out.join("members.txt"), member_lines)?;

    let mut device_lines = String::new();
    for n in 0..device_count {
        let owner = member_ids[n % member_ids.len()];
        let (_, token) = devices::register(&db, owner, &format!("phone {n}"), owner).await?;
        device_lines.push_str(&format!("{token}\n"));
    }
    std::fs::write(out.join("devices.txt"), device_lines)?;
    std::fs::write(out.join("submission.json"), submission(&db).await?)?;
    println!(
        "seeded {members} members, {device_count} devices and advisory {} in {}",
        advisory.id,
        out.display()
    );
    Ok(())
}

/// What a check of a targeted phone sends, with 500 observation digests.
async fn submission(db: &Db) -> Result<String, Box<dyn std::error::Error>> {
    use portcullis_report::{Observed, Submission};
    let mut report = portcullis_report::submission::example_report(
        "2026-12-06 10:00:00.000000",
        "a message the server never sees",
    );
    report.info.version = "__UNIQUE__".into();
    let key = portcullis_server::observations::key(db).await?;
    let mut seen = portcullis_indicators::Indicators::new();
    seen.observe();
    for n in 0..250 {
        seen.check_host(&format!("host{n}.site{n}.example"));
    }
    let mut submission = Submission::from_report(&report);
    submission.observed = Some(Observed {
        key_id: key.id,
        digests: seen.observed_digests(&key.secret),
        left_out: 0,
    });
    Ok(serde_json::to_string(&submission)?)
}
