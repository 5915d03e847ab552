//! The security controls, each shown to refuse what it should, on each backend: CSRF, session
//! fixation and expiry, lockout, TOTP replay and recovery codes, the append-only audit log,
//! security headers, and bad input answered with the right 4xx and no change.

mod common;

use common::{Backend, Client, PASSWORD, TestServer, backends, totp_now};
use portcullis_server::accounts::Role;

fn advisories_count(server: &TestServer) -> i64 {
    server.count("SELECT COUNT(*) FROM advisories")
}

fn csrf(backend: Backend) {
    let server = TestServer::start(backend);
    let officer = server.user("officer@example.org", Role::Officer);
    let mut client = server.signed_in(&officer);
    let form = [
        ("title", "t"),
        ("body", "b"),
        ("severity", "low"),
        ("everyone", "1"),
    ];
    // No token, a wrong token, a token from another session: 403, nothing written.
    let no_token = client.post_raw(
        "/advisories",
        "application/x-www-form-urlencoded",
        "title=t&body=b&severity=low&everyone=1",
        &[],
    );
    assert_eq!(no_token.status, 403);
    let mut wrong = form.to_vec();
    wrong.push(("csrf", "not-the-token"));
    assert_eq!(client.post_form("/advisories", &wrong).status, 403);
    let other = server.signed_in(&officer);
    let mut foreign = form.to_vec();
    foreign.push(("csrf", &other.csrf));
    assert_eq!(client.post_form("/advisories", &foreign).status, 403);
    // A form posted from another site is refused even with the token.
    let body = format!(
        "title=t&body=b&severity=low&everyone=1&csrf={}",
        client.csrf
    );
    let cross = client.post_raw(
        "/advisories",
        "application/x-www-form-urlencoded",
        &body,
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(cross.status, 403);
    let fetch = client.post_raw(
        "/advisories",
        "application/x-www-form-urlencoded",
        &body,
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(fetch.status, 403);
    // JSON calls with the session need the header.
    let json = r#"{"title":"t","body_markdown":"b","severity":"low","audience":{"everyone":true}}"#;
    assert_eq!(
        client
            .post_raw("/api/advisories", "application/json", json, &[])
            .status,
        403
    );
    assert_eq!(advisories_count(&server), 0);
    let token = client.csrf.clone();
    assert_eq!(
        client
            .post_raw(
                "/api/advisories",
                "application/json",
                json,
                &[("X-CSRF-Token", &token)]
            )
            .status,
        201
    );
    assert_eq!(client.post_form("/advisories", &form).status, 303);
    assert_eq!(advisories_count(&server), 2);

    // A token replayed after logout (its session is gone) is refused.
    let mut member_client = Client::new(&server.base);
    server.user("member@example.org", Role::Member);
    member_client.login("member@example.org", PASSWORD, None);
    member_client.get("/account");
    let old_cookie = member_client.cookie.clone();
    let old_token = member_client.csrf.clone();
    assert_eq!(member_client.post_form("/logout", &[]).status, 303);
    member_client.cookie = old_cookie;
    let replay = member_client.post_form("/account/tokens", &[("name", "x"), ("csrf", &old_token)]);
    assert_eq!(replay.status, 401);
    assert_eq!(server.count("SELECT COUNT(*) FROM api_tokens"), 0);
}

#[test]
fn state_changes_need_the_sessions_csrf_token() {
    for backend in backends() {
        csrf(backend);
    }
}

fn fixation_and_expiry(backend: Backend) {
    let server = TestServer::start(backend);
    server.user("member@example.org", Role::Member);
    let mut client = Client::new(&server.base);
    client.get("/login");
    let planted = client
        .cookie
        .clone()
        .expect("an anonymous session for the form");
    let planted_csrf = client.csrf.clone();
    let reply = client.post_form(
        "/login",
        // A `next` that is not a plain local path (this one carries a header) goes home.
        &[
            ("email", "member@example.org"),
            ("password", PASSWORD),
            ("next", "/x\r\nSet-Cookie: a=b"),
        ],
    );
    assert_eq!(reply.status, 303);
    assert_eq!(reply.location.as_deref(), Some("/advisories"));
    let signed_in = client.cookie.clone().unwrap();
    assert_ne!(planted, signed_in, "login issues a new session id");
    let cookie = &reply.set_cookie[0];
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // The planted id is worthless, its CSRF token too.
    let mut attacker = Client::new(&server.base);
    attacker.cookie = Some(planted);
    assert_eq!(
        attacker.get("/advisories").location.as_deref(),
        Some("/login?next=%2Fadvisories")
    );
    assert_eq!(client.get("/advisories").status, 200);
    assert_ne!(client.csrf, planted_csrf);

    // Idle for longer than the limit: the session is gone.
    server
        .block_on(
            sqlx::query("UPDATE sessions SET last_seen = last_seen - 3600")
                .execute(&server.db.pool),
        )
        .unwrap();
    assert_eq!(
        client.get("/advisories").location.as_deref(),
        Some("/login?next=%2Fadvisories")
    );
    assert_eq!(
        server.count("SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL"),
        0
    );
}

#[test]
fn login_rotates_the_session_and_idle_sessions_end() {
    for backend in backends() {
        fixation_and_expiry(backend);
    }
}

fn lockout(backend: Backend) {
    let server = TestServer::start(backend);
    server.user("member@example.org", Role::Member);
    let mut client = Client::new(&server.base);
    for attempt in 0..5 {
        let reply = client.login("member@example.org", "wrong password!!", None);
        assert_eq!(reply.status, 401, "attempt {attempt}");
        assert!(
            reply
                .body
                .contains("The e-mail address or password is wrong.")
        );
    }
    // Locked: even the right password is refused now, and the lock is audited.
    let locked = client.login("member@example.org", PASSWORD, None);
    assert_eq!(locked.status, 429);
    assert!(locked.body.contains("locked for 15 minutes"));
    assert_eq!(
        server.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.locked'"),
        1
    );
    assert_eq!(
        server.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'"),
        5
    );
    // An unknown account fails the same way (no hint which accounts exist).
    let unknown = Client::new(&server.base).login("nobody@example.org", PASSWORD, None);
    assert_eq!(unknown.status, 401);
    assert!(
        unknown
            .body
            .contains("The e-mail address or password is wrong.")
    );
    // An admin's reset clears the lock.
    server
        .block_on(portcullis_server::admin::reset_password(
            &server.db,
            "member@example.org",
            "a new long password",
        ))
        .unwrap();
    assert_eq!(
        client
            .login("member@example.org", "a new long password", None)
            .status,
        303
    );

    // The address limit: 20 failures from one address across accounts → 429 for everything.
    for i in 0..14 {
        Client::new(&server.base).login(&format!("guess{i}@example.org"), "wrong password!!", None);
    }
    let limited =
        Client::new(&server.base).login("member@example.org", "a new long password", None);
    assert_eq!(limited.status, 429);
    assert!(
        limited
            .body
            .contains("Too many failed attempts from your address")
    );
}

#[test]
fn repeated_failures_lock_the_account_and_the_address() {
    for backend in backends() {
        lockout(backend);
    }
}

fn second_factor(backend: Backend) {
    let server = TestServer::start(backend);
    let officer = server.user("officer@example.org", Role::Officer);
    let secret = officer.secret.clone().unwrap();
    let mut client = Client::new(&server.base);
    let half = client.login("officer@example.org", PASSWORD, None);
    assert_eq!(half.location.as_deref(), Some("/login/second-factor"));
    // Half signed in reaches nothing else.
    assert_eq!(
        client.get("/advisories").location.as_deref(),
        Some("/login/second-factor")
    );
    assert_eq!(client.get("/api/me").status, 401);
    client.get("/login/second-factor");
    assert_eq!(
        client
            .post_form("/login/second-factor", &[("code", "000000")])
            .status,
        401
    );
    let code = totp_now(&secret);
    let ok = client.post_form("/login/second-factor", &[("code", &code)]);
    assert_eq!(ok.location.as_deref(), Some("/advisories"));
    assert_eq!(client.get("/advisories").status, 200);
    // The same code cannot be used again (replay), even in a new login.
    let mut second = Client::new(&server.base);
    second.login("officer@example.org", PASSWORD, None);
    second.get("/login/second-factor");
    assert_eq!(
        second
            .post_form("/login/second-factor", &[("code", &code)])
            .status,
        401
    );

    // Recovery codes: each works once.
    let codes = server
        .block_on(portcullis_server::accounts::enable_second_factor(
            &server.db, officer.id, &secret,
        ))
        .unwrap();
    let mut third = Client::new(&server.base);
    third.login("officer@example.org", PASSWORD, None);
    third.get("/login/second-factor");
    assert_eq!(
        third
            .post_form("/login/second-factor", &[("code", &codes[0])])
            .status,
        303
    );
    let mut fourth = Client::new(&server.base);
    fourth.login("officer@example.org", PASSWORD, None);
    fourth.get("/login/second-factor");
    assert_eq!(
        fourth
            .post_form("/login/second-factor", &[("code", &codes[0])])
            .status,
        401
    );
    assert_eq!(
        server.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'"),
        3
    );
}

#[test]
fn officers_need_a_fresh_authenticator_code() {
    for backend in backends() {
        second_factor(backend);
    }
}

fn audit_append_only(backend: Backend) {
    let server = TestServer::start(backend);
    let admin = server.user("admin@example.org", Role::Admin);
    let member = server.user("member@example.org", Role::Member);
    let mut client = server.signed_in(&admin);
    client.get("/admin/users");
    assert_eq!(
        client
            .post_form(&format!("/admin/users/{}/disable", member.id), &[])
            .status,
        303
    );
    let entries = server.count("SELECT COUNT(*) FROM audit_log");
    assert!(entries >= 2);
    let page = client.get("/admin/audit");
    assert!(page.body.contains("user.disabled") && page.body.contains("member@example.org"));
    let update = server
        .block_on(sqlx::query("UPDATE audit_log SET action = 'nothing'").execute(&server.db.pool));
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = server.block_on(sqlx::query("DELETE FROM audit_log").execute(&server.db.pool));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(server.count("SELECT COUNT(*) FROM audit_log"), entries);
    // The disabled account's sessions ended with it.
    let mut member_client = server.signed_in(&member);
    assert_eq!(
        member_client.get("/advisories").location.as_deref(),
        Some("/login?next=%2Fadvisories")
    );
}

#[test]
fn the_audit_log_records_admin_actions_and_refuses_changes() {
    for backend in backends() {
        audit_append_only(backend);
    }
}

fn bad_input(backend: Backend) {
    let server = TestServer::start(backend);
    let officer = server.user("officer@example.org", Role::Officer);
    let mut client = server.signed_in(&officer);
    let token = client.csrf.clone();
    let json_headers = [("X-CSRF-Token", token.as_str())];
    let replies = [
        // Oversized body.
        (413, client.post_raw("/api/advisories", "application/json", &"x".repeat(600 * 1024), &json_headers)),
        // Malformed JSON, wrong shape, unknown field, wrong content type.
        (400, client.post_raw("/api/advisories", "application/json", "{\"title\": ", &json_headers)),
        (422, client.post_raw("/api/advisories", "application/json", "{\"title\": 5}", &json_headers)),
        (422, client.post_raw("/api/advisories", "application/json", r#"{"title":"t","body_markdown":"b","severity":"low","audience":{"everyone":true},"evil":1}"#, &json_headers)),
        (415, client.post_raw("/api/advisories", "text/plain", "{}", &json_headers)),
        // A form with a value out of range, and one that is not a form.
        (422, client.post_form("/advisories", &[("title", "t"), ("body", "b"), ("severity", "apocalyptic"), ("everyone", "1")])),
        (422, client.post_form("/advisories", &[("title", "t"), ("body", "b"), ("severity", "low")])),
        (403, client.post_raw("/advisories", "multipart/form-data; boundary=x", "--x--", &[])),
        // Unknown and malformed ids.
        (404, client.get("/advisories/999999")),
        (404, client.get("/advisories/-1")),
        (404, client.get("/advisories/1%27%20OR%201=1")),
        (404, client.get("/api/advisories/abc")),
        (404, client.get("/no/such/page")),
    ];
    for (expected, reply) in &replies {
        assert_eq!(reply.status, *expected, "{}", reply.body);
        for leak in [
            "sqlx",
            "SELECT",
            "panicked",
            "error returned from database",
            "at src/",
        ] {
            assert!(!reply.body.contains(leak), "{leak:?} in {}", reply.body);
        }
    }
    assert_eq!(advisories_count(&server), 0);
    // Every response carries the security headers.
    let page = client.get("/advisories");
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(!page.body.contains("<script"));
}

#[test]
fn bad_input_gets_the_right_4xx_and_changes_nothing() {
    for backend in backends() {
        bad_input(backend);
    }
}

fn reset_link(backend: Backend) {
    let server = TestServer::start(backend);
    let admin = server.user("admin@example.org", Role::Admin);
    let member = server.user("member@example.org", Role::Member);
    let mut old_session = server.signed_in(&member);
    assert_eq!(old_session.get("/advisories").status, 200);
    let mut admin_client = server.signed_in(&admin);
    admin_client.get("/admin/users");
    let page = admin_client.post_form(&format!("/admin/users/{}/invite", member.id), &[]);
    let at = page.body.find("/invite/").expect("a new invitation link");
    let link = page.body[at..].split('<').next().unwrap().to_string();
    let mut visitor = Client::new(&server.base);
    visitor.get(&link);
    let set = visitor.post_form(
        &link,
        &[
            ("password", "a brand new password"),
            ("confirm", "a brand new password"),
        ],
    );
    assert_eq!(set.location.as_deref(), Some("/login?welcome=1"));
    // The session made with the old password is over; the new password works.
    assert_eq!(
        old_session.get("/advisories").location.as_deref(),
        Some("/login?next=%2Fadvisories")
    );
    assert_eq!(
        Client::new(&server.base)
            .login("member@example.org", "a brand new password", None)
            .status,
        303
    );
    assert_eq!(
        Client::new(&server.base)
            .login("member@example.org", PASSWORD, None)
            .status,
        401
    );
}

#[test]
fn a_password_reset_link_ends_the_old_sessions() {
    for backend in backends() {
        reset_link(backend);
    }
}
