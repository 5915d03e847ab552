//! The office's whole round over HTTP, on each backend: accounts from invitations and a CSV
//! import, an advisory with a checklist to one group, members reading and acknowledging,
//! the officer's status view, and reminders the SMTP sink receives for those who have not.

mod common;

use common::{Backend, Client, SmtpSink, TestServer, backends, totp_now};
use portcullis_server::accounts::Role;

/// The invitation links on an accounts page, in order.
fn invitation_links(html: &str) -> Vec<String> {
    html.match_indices("/invite/")
        .map(|(at, _)| {
            let rest = &html[at..];
            rest[..rest.find('<').unwrap()].to_string()
        })
        .collect()
}

fn accept(server: &TestServer, link: &str, password: &str) {
    let mut visitor = Client::new(&server.base);
    assert_eq!(visitor.get(link).status, 200);
    let reply = visitor.post_form(link, &[("password", password), ("confirm", password)]);
    assert_eq!(
        reply.location.as_deref(),
        Some("/login?welcome=1"),
        "{}",
        reply.body
    );
    // The link works once.
    assert_eq!(Client::new(&server.base).get(link).status, 404);
}

fn round(backend: Backend) {
    let sink = SmtpSink::start();
    let server = TestServer::start_with(backend, Some(sink.config()));
    let admin = server.user("admin@example.org", Role::Admin);
    let mut admin_client = server.signed_in(&admin);

    // The admin creates an officer; the officer chooses a password from the link and must set
    // up an authenticator at first sign-in.
    admin_client.get("/admin/users");
    let page = admin_client.post_form(
        "/admin/users",
        &[
            ("name", "Olive Officer"),
            ("email", "olive@example.org"),
            ("role", "officer"),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let link = invitation_links(&page.body)
        .pop()
        .expect("an invitation link");
    accept(&server, &link, "officer password 1");
    let mut officer = Client::new(&server.base);
    let reply = officer.login("olive@example.org", "officer password 1", None);
    assert_eq!(reply.location.as_deref(), Some("/account/second-factor"));
    // Until enrolled, nothing else opens.
    assert_eq!(
        officer.get("/advisories").location.as_deref(),
        Some("/account/second-factor")
    );
    let enrol = officer.get("/account/second-factor");
    let secret = enrol
        .body
        .split("id=\"totp-secret\" class=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let codes = officer.post_form("/account/second-factor", &[("code", &totp_now(&secret))]);
    assert_eq!(codes.status, 200, "{}", codes.body);
    assert_eq!(codes.body.matches("<li><code>").count(), 10);
    assert_eq!(officer.get("/advisories").status, 200);

    // Groups and members: one group made by hand, members imported with their groups.
    admin_client.get("/admin/groups");
    assert_eq!(
        admin_client
            .post_form("/admin/groups", &[("name", "Commons")])
            .status,
        303
    );
    admin_client.get("/admin/users");
    let imported = admin_client.post_form(
        "/admin/users/import",
        &[("csv", "email,name,groups\nmp.one@example.org,Ann MP,Commons\nmp.two@example.org,Bob MP,Commons;Lords\npeer@example.org,Cy Peer,Lords\n")],
    );
    assert_eq!(imported.status, 200, "{}", imported.body);
    let links = invitation_links(&imported.body);
    assert_eq!(links.len(), 3);
    accept(&server, &links[0], "member one password");
    accept(&server, &links[1], "member two password");
    assert_eq!(server.count("SELECT COUNT(*) FROM group_members"), 4);

    // The officer writes an advisory with two steps for Commons and publishes it.
    let form = officer.get("/advisories/new");
    let commons = form
        .body
        .split("name=\"group\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let created = officer.post_form(
        "/advisories",
        &[
            ("title", "Turn on Lockdown Mode"),
            ("body", "Attackers are targeting members' phones.\n\n- [ ] Update to the latest iOS\n- [ ] Turn on Lockdown Mode\n\n<script>alert(1)</script>"),
            ("severity", "high"),
            ("group", &commons),
            ("acknowledge_by", "2027-01-15"),
            ("posture_rule", "IOS-005"),
        ],
    );
    assert_eq!(created.status, 303, "{}", created.body);
    let advisory = created.location.unwrap();
    let draft = officer.get(&advisory);
    assert!(
        draft.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        draft.body
    );
    assert!(!draft.body.contains("<script>"));
    // A draft is not shown to members.
    let mut one = Client::new(&server.base);
    one.login("mp.one@example.org", "member one password", None);
    assert_eq!(one.get(&advisory).status, 404);
    officer.get(&advisory);
    assert_eq!(
        officer
            .post_form(&format!("{advisory}/publish"), &[])
            .status,
        303
    );

    // Member one reads it; acknowledging without ticking the steps is refused.
    let list = one.get("/advisories");
    assert!(
        list.body.contains("Turn on Lockdown Mode") && list.body.contains("New"),
        "{}",
        list.body
    );
    let page = one.get(&advisory);
    assert!(
        page.body.contains("Update to the latest iOS")
            && page.body.contains("please act by 15 Jan 2027")
    );
    let refused = one.post_form(&format!("{advisory}/acknowledge"), &[("step", "1")]);
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("confirm all 2 steps"));
    let done = one.post_form(
        &format!("{advisory}/acknowledge"),
        &[("step", "1"), ("step", "2")],
    );
    assert_eq!(done.status, 303);
    assert!(one.get(&advisory).body.contains("You acknowledged this on"));
    // Acknowledging again changes nothing: no second receipt, no second audit entry.
    let again = one.post_form(
        &format!("{advisory}/acknowledge"),
        &[("step", "1"), ("step", "2")],
    );
    assert_eq!(again.status, 303);
    assert_eq!(
        server.count("SELECT COUNT(*) FROM audit_log WHERE action = 'advisory.acknowledged'"),
        1
    );
    // The peer (Lords only) is not in the audience.
    assert_eq!(
        server.count("SELECT COUNT(*) FROM advisory_receipts WHERE acknowledged_at IS NOT NULL"),
        1
    );

    // The officer sees one of two acknowledged and reminds the other, by e-mail.
    let status = officer.get(&format!("{advisory}/status"));
    assert!(
        status.body.contains("1 of 2 acknowledged, 1 read."),
        "{}",
        status.body
    );
    let reminded = officer.post_form(&format!("{advisory}/remind"), &[]);
    assert_eq!(reminded.status, 200, "{}", reminded.body);
    assert!(
        reminded
            .body
            .contains("Reminder e-mailed to mp.two@example.org."),
        "{}",
        reminded.body
    );
    let mail = sink.received();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, vec!["mp.two@example.org".to_string()]);
    assert!(
        mail[0]
            .data
            .contains("Subject: Reminder: Turn on Lockdown Mode")
    );
    assert!(mail[0].data.contains(&format!("{}{advisory}", server.base)));
    assert!(
        !mail[0].data.contains("Attackers are targeting"),
        "the e-mail does not carry the advisory"
    );

    // Every officer and admin action is in the audit log.
    let audit = admin_client.get("/admin/audit");
    for action in [
        "user.created",
        "invitation.accepted",
        "second_factor.enrolled",
        "users.imported",
        "group.created",
        "advisory.created",
        "advisory.published",
        "advisory.acknowledged",
        "advisory.reminded",
        "login.succeeded",
    ] {
        assert!(
            audit.body.contains(action),
            "{action} missing from the audit log"
        );
    }
}

#[test]
fn officers_advise_members_acknowledge_and_reminders_reach_the_rest() {
    for backend in backends() {
        round(backend);
    }
}

fn api_round(backend: Backend) {
    let server = TestServer::start(backend);
    let officer = server.user("officer@example.org", Role::Officer);
    let member = server.user("member@example.org", Role::Member);
    let other = server.user("other@example.org", Role::Member);
    let mut officer_web = server.signed_in(&officer);
    officer_web.get("/account");
    let page = officer_web.post_form("/account/tokens", &[("name", "script")]);
    let token = page
        .body
        .split("id=\"new-token\" class=\"wrap\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert!(token.starts_with("pc_"));
    let mut member_web = server.signed_in(&member);
    member_web.get("/account");
    let page = member_web.post_form("/account/tokens", &[("name", "phone")]);
    let member_token = page
        .body
        .split("id=\"new-token\" class=\"wrap\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();

    let mut api = Client::new(&server.base);
    let created = api.api("POST", "/api/advisories", &token, Some(r#"{"title":"Patch now","body_markdown":"- [ ] Update","severity":"critical","audience":{"members":["member@example.org"]}}"#));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_i64().unwrap();
    assert_eq!(created.json()["steps"], serde_json::json!(["Update"]));
    assert_eq!(
        api.api(
            "POST",
            &format!("/api/advisories/{id}/publish"),
            &token,
            None
        )
        .status,
        200
    );
    assert_eq!(
        api.api(
            "POST",
            &format!("/api/advisories/{id}/publish"),
            &token,
            None
        )
        .status,
        409
    );
    // The member sees it; the other member does not, and is not told it exists.
    let mine = api.api("GET", "/api/advisories", &member_token, None);
    assert_eq!(mine.json().as_array().unwrap().len(), 1);
    let mut other_web = server.signed_in(&other);
    assert_eq!(other_web.get(&format!("/api/advisories/{id}")).status, 404);
    let short = api.api(
        "POST",
        &format!("/api/advisories/{id}/acknowledge"),
        &member_token,
        Some(r#"{"steps_confirmed":0}"#),
    );
    assert_eq!(short.status, 422);
    assert_eq!(
        api.api(
            "POST",
            &format!("/api/advisories/{id}/acknowledge"),
            &member_token,
            Some(r#"{"steps_confirmed":1}"#)
        )
        .status,
        200
    );
    let status = api
        .api("GET", &format!("/api/advisories/{id}/status"), &token, None)
        .json();
    assert_eq!(
        (status["total"].as_i64(), status["acknowledged"].as_i64()),
        (Some(1), Some(1))
    );
    // Members may not use officer calls.
    assert_eq!(
        api.api(
            "GET",
            &format!("/api/advisories/{id}/status"),
            &member_token,
            None
        )
        .status,
        403
    );
    // A revoked or made-up token is refused.
    assert_eq!(api.api("GET", "/api/me", "pc_madeup", None).status, 401);
    let openapi = api.get("/api/openapi.json").json();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(
        openapi["paths"]["/api/advisories/{id}/acknowledge"]["post"]["requestBody"].is_object()
    );
    assert_eq!(openapi["paths"].as_object().unwrap().len(), 21);
}

#[test]
fn the_api_does_what_the_pages_do_for_token_holders() {
    for backend in backends() {
        api_round(backend);
    }
}
