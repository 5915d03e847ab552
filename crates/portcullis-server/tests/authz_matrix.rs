//! Every route × every role and anonymous access, walked from the route table the router is
//! built from. The expected rule of each route is written out here too: a new route fails this
//! test until its rule is added below, and a rule that differs from the table fails it too.

mod common;

use common::{Backend, Client, TestServer, backends};
use portcullis_server::accounts::Role;
use portcullis_server::{Access, route_table};

const EXPECTED: &[(&str, &str, Access)] = &[
    ("GET", "/", Access::Public),
    ("GET", "/healthz", Access::Public),
    ("GET", "/readyz", Access::Public),
    ("GET", "/metrics", Access::Public),
    ("GET", "/static/style.css", Access::Public),
    ("GET", "/login", Access::Public),
    ("POST", "/login", Access::Public),
    ("GET", "/login/second-factor", Access::SecondFactorDue),
    ("POST", "/login/second-factor", Access::SecondFactorDue),
    ("POST", "/logout", Access::SignedIn),
    ("GET", "/invite/{token}", Access::Public),
    ("POST", "/invite/{token}", Access::Public),
    ("GET", "/account", Access::SignedIn),
    ("GET", "/account/second-factor", Access::Enrolling),
    ("POST", "/account/second-factor", Access::Enrolling),
    ("POST", "/account/tokens", Access::SignedIn),
    ("POST", "/account/tokens/{id}/revoke", Access::SignedIn),
    ("GET", "/advisories", Access::SignedIn),
    ("GET", "/advisories/new", Access::Officer),
    ("POST", "/advisories", Access::Officer),
    ("GET", "/advisories/{id}", Access::SignedIn),
    ("GET", "/advisories/{id}/edit", Access::Officer),
    ("POST", "/advisories/{id}/edit", Access::Officer),
    ("POST", "/advisories/{id}/publish", Access::Officer),
    ("POST", "/advisories/{id}/archive", Access::Officer),
    ("POST", "/advisories/{id}/acknowledge", Access::SignedIn),
    ("GET", "/advisories/{id}/status", Access::Officer),
    ("POST", "/advisories/{id}/remind", Access::Officer),
    ("GET", "/devices", Access::SignedIn),
    ("POST", "/devices", Access::SignedIn),
    ("GET", "/fleet.csv", Access::Officer),
    ("GET", "/devices/{id}", Access::SignedIn),
    ("POST", "/devices/{id}/revoke", Access::SignedIn),
    ("GET", "/incidents", Access::Officer),
    ("GET", "/incidents/{id}", Access::Officer),
    ("POST", "/incidents/{id}", Access::Officer),
    ("GET", "/admin/users", Access::Admin),
    ("POST", "/admin/users", Access::Admin),
    ("POST", "/admin/users/import", Access::Admin),
    ("POST", "/admin/users/{id}/disable", Access::Admin),
    ("POST", "/admin/users/{id}/enable", Access::Admin),
    ("POST", "/admin/users/{id}/invite", Access::Admin),
    (
        "POST",
        "/admin/users/{id}/reset-second-factor",
        Access::Admin,
    ),
    ("POST", "/admin/users/{id}/groups", Access::Admin),
    ("GET", "/admin/groups", Access::Admin),
    ("POST", "/admin/groups", Access::Admin),
    ("GET", "/admin/audit", Access::Admin),
    ("GET", "/api/openapi.json", Access::Public),
    ("GET", "/api/me", Access::SignedIn),
    ("GET", "/api/advisories", Access::SignedIn),
    ("POST", "/api/advisories", Access::Officer),
    ("GET", "/api/advisories/{id}", Access::SignedIn),
    ("POST", "/api/advisories/{id}/publish", Access::Officer),
    ("POST", "/api/advisories/{id}/archive", Access::Officer),
    ("POST", "/api/advisories/{id}/acknowledge", Access::SignedIn),
    ("GET", "/api/advisories/{id}/status", Access::Officer),
    ("POST", "/api/advisories/{id}/remind", Access::Officer),
    ("POST", "/api/submissions", Access::Device),
    ("GET", "/api/observation-key", Access::Device),
    ("GET", "/api/hub/indicators", Access::Reader),
    ("GET", "/api/hub/feeds", Access::Officer),
    ("POST", "/api/hub/feeds", Access::Officer),
    ("DELETE", "/api/hub/feeds/{id}", Access::Officer),
    ("POST", "/api/hub/feeds/{id}/sync", Access::Officer),
    ("GET", "/api/devices", Access::SignedIn),
    ("GET", "/hub", Access::Officer),
    ("POST", "/hub/feeds", Access::Officer),
    ("POST", "/hub/feeds/{id}/sync", Access::Officer),
    ("POST", "/hub/feeds/{id}/delete", Access::Officer),
    ("GET", "/taxii2/", Access::Reader),
    ("GET", "/taxii2/api/", Access::Reader),
    ("GET", "/taxii2/api/collections/", Access::Reader),
    ("GET", "/taxii2/api/collections/{id}/", Access::Reader),
    (
        "GET",
        "/taxii2/api/collections/{id}/objects/",
        Access::Reader,
    ),
];

#[test]
fn every_route_has_the_expected_rule() {
    let table = route_table();
    for spec in &table {
        let expected = EXPECTED
            .iter()
            .find(|(m, p, _)| *m == spec.method.as_str() && *p == spec.path)
            .unwrap_or_else(|| {
                panic!(
                    "{} {} has no expected rule in this test: add one",
                    spec.method, spec.path
                )
            });
        assert_eq!(expected.2, spec.access, "{} {}", spec.method, spec.path);
    }
    assert_eq!(
        table.len(),
        EXPECTED.len(),
        "a route in EXPECTED is no longer in the table"
    );
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    /// Password accepted, authenticator code not yet given.
    HalfSignedIn,
    Member,
    Officer,
    Admin,
    /// A device's upload token.
    Device,
}

/// Whether `who` passes the route's rule.
fn permitted(access: Access, who: Who) -> bool {
    match access {
        Access::Public => true,
        Access::SecondFactorDue => who == Who::HalfSignedIn,
        Access::Enrolling | Access::SignedIn => {
            matches!(who, Who::Member | Who::Officer | Who::Admin)
        }
        Access::Officer => matches!(who, Who::Officer | Who::Admin),
        Access::Admin => who == Who::Admin,
        Access::Device => who == Who::Device,
        Access::Reader => matches!(who, Who::Device | Who::Officer | Who::Admin),
    }
}

fn walk(backend: Backend) {
    let server = TestServer::start(backend);
    let admin = server.user("admin@example.org", Role::Admin);
    let officer = server.user("officer@example.org", Role::Officer);
    let member = server.user("member@example.org", Role::Member);
    let target = server.user("target@example.org", Role::Member);
    // Records for the {id} routes: a published advisory for everyone, a user other than the
    // admin, a token of each account.
    let mut officer_client = server.signed_in(&officer);
    let created = officer_client.post_form(
        "/advisories",
        &[
            ("title", "Update your phone"),
            ("body", "Install the update."),
            ("severity", "high"),
            ("everyone", "1"),
        ],
    );
    let advisory = created
        .location
        .expect("created")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        officer_client
            .post_form(&format!("/advisories/{advisory}/publish"), &[])
            .status,
        303
    );

    let target_id = target.id.to_string();
    // A device of the member with a check and its incident; a spare one for the revoke route
    // (revoking the first would lock its token out of the routes after it).
    let (device, device_token) = server
        .block_on(portcullis_server::devices::register(
            &server.db, member.id, "phone", member.id,
        ))
        .unwrap();
    let (spare, _) = server
        .block_on(portcullis_server::devices::register(
            &server.db, member.id, "spare", member.id,
        ))
        .unwrap();
    let mut uploader = Client::new(&server.base);
    uploader.bearer = Some(device_token.clone());
    let submitted = uploader.post_raw(
        "/api/submissions",
        "application/json",
        &common::sample_submission("2026-12-04 10:00:00.000000"),
        &[],
    );
    assert_eq!(submitted.status, 201);
    let incident = submitted.json()["incidents_opened"][0]
        .as_i64()
        .unwrap()
        .to_string();
    let (device_id, spare_id) = (device.id.to_string(), spare.id.to_string());
    // Two hub feeds: one each for the web and the API removal routes (the first officer or
    // admin to pass removes it; later ones get 404, which is not a refusal).
    let feed = |name: &str| {
        server
            .block_on(portcullis_server::hub::add(
                &server.db,
                portcullis_server::hub::FeedFields {
                    name: name.into(),
                    kind: "upload".into(),
                    format: Some("plain".into()),
                    content: Some("evil.example\n".into()),
                    ..Default::default()
                }
                .into_new_feed()
                .unwrap(),
                officer.id,
            ))
            .unwrap()
            .to_string()
    };
    let (web_feed, api_feed) = (feed("web"), feed("api"));
    for spec in route_table() {
        for who in [
            Who::Anonymous,
            Who::HalfSignedIn,
            Who::Member,
            Who::Officer,
            Who::Admin,
            Who::Device,
        ] {
            let mut client = match who {
                Who::Anonymous => {
                    let mut c = Client::new(&server.base);
                    c.get("/login");
                    c
                }
                Who::HalfSignedIn => {
                    let mut c = Client::new(&server.base);
                    let reply = c.login(&officer.email, common::PASSWORD, None);
                    assert_eq!(reply.location.as_deref(), Some("/login/second-factor"));
                    c.get("/login/second-factor");
                    c
                }
                Who::Member => server.signed_in(&member),
                Who::Officer => server.signed_in(&officer),
                Who::Admin => server.signed_in(&admin),
                Who::Device => {
                    let mut c = Client::new(&server.base);
                    c.bearer = Some(device_token.clone());
                    c
                }
            };
            let path = spec
                .path
                .replace("{token}", "not-a-real-invitation")
                .replace(
                    "{id}",
                    if spec.path.starts_with("/admin/users/") {
                        &target_id
                    } else if spec.path.ends_with("/revoke") && spec.path.starts_with("/devices/") {
                        &spare_id
                    } else if spec.path.starts_with("/devices/") {
                        &device_id
                    } else if spec.path.starts_with("/incidents/") {
                        &incident
                    } else if spec.path.starts_with("/hub/") {
                        &web_feed
                    } else if spec.path.starts_with("/api/hub/") {
                        &api_feed
                    } else if spec.path.starts_with("/taxii2/") {
                        "organisation"
                    } else {
                        &advisory
                    },
                );
            let reply = match (spec.method.as_str(), spec.is_api()) {
                ("GET", _) => client.get(&path),
                ("DELETE", _) => client.delete(&path),
                (_, true) => {
                    let csrf = client.csrf.clone();
                    client.post_raw(&path, "application/json", "{}", &[("X-CSRF-Token", &csrf)])
                }
                _ => client.post_form(&path, &[]),
            };
            // The middleware's refusals, told apart from a handler's own 401 (a wrong password)
            // or 403 (an expired form) by their wording.
            let denied_by_rule = match reply.status {
                401 => reply.body.contains("Please sign in."),
                403 => reply.body.contains("Your account may not do this."),
                303 => reply.location.as_deref().is_some_and(|l| {
                    l.starts_with("/login?next=")
                        || l == "/login/second-factor"
                        || l == "/account/second-factor"
                }),
                _ => false,
            };
            let expected = permitted(spec.access, who);
            assert_eq!(
                !denied_by_rule, expected,
                "{backend:?} {} {path} as {who:?}: status {} location {:?} body {:.200}",
                spec.method, reply.status, reply.location, reply.body
            );
            assert!(
                reply.status < 500,
                "{} {path} as {who:?}: {}",
                spec.method,
                reply.status
            );
        }
    }
}

#[test]
fn every_route_refuses_every_role_its_rule_does_not_admit() {
    for backend in backends() {
        walk(backend);
    }
}
