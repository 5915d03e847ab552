//! The office's round in a real browser (Debian's chromium, driven through chromedriver over
//! the W3C WebDriver protocol), on each backend: the admin makes an officer; the officer chooses
//! a password, sets up an authenticator and publishes an advisory to a group; a member of that
//! group signs in, reads and acknowledges it; the officer sees the acknowledgement and sends a
//! reminder that the SMTP sink receives for the member who has not. Then a check of the member's
//! phone is submitted with its device token: the fleet shows it, an incident opens for its
//! CRITICAL alert, the webhook receiver and the SMTP sink are told, and the member sees their
//! device, the advice, and the advisory that asked for the setting. Skipped (with a message)
//! where chromium or chromedriver is not installed; CI installs both.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, Proxy, SmtpSink, TestServer, backends, totp_now};
use portcullis_server::ConfigFile;
use portcullis_server::accounts::Role;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process, killed when dropped.
struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while driver
            .agent
            .get(format!("{}/status", driver.base))
            .call()
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match method {
            "GET" => self.agent.get(url).call(),
            "DELETE" => self.agent.delete(url).call(),
            _ => self
                .agent
                .post(url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        };
        let text = response
            .expect("chromedriver answers")
            .body_mut()
            .read_to_string()
            .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        if value["value"].get("error").is_some() {
            panic!("WebDriver {method} {path}: {}", value["value"]);
        }
        value["value"].clone()
    }

    /// A new browser window of its own (own profile, own cookies), phone-sized.
    fn browser(&self) -> Browser<'_> {
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=412,915"]
            }
        }}});
        let session = self.call("POST", "/session", Some(capabilities));
        Browser {
            driver: self,
            id: session["sessionId"].as_str().unwrap().to_string(),
        }
    }
}

struct Browser<'a> {
    driver: &'a Driver,
    id: String,
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.driver
                .call("DELETE", &format!("/session/{}", self.id), None)
        }));
    }
}

impl Browser<'_> {
    fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
    }

    fn open(&self, url: &str) {
        self.session("POST", "/url", Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.session("GET", "/url", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn find(&self, css: &str) -> String {
        let found = self.session(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        // The W3C web element reference: an object with one key, the element id.
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {css} on {}", self.url()))
            .to_string()
    }

    fn count(&self, css: &str) -> usize {
        self.session(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.session(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Clicks an element that does not leave the page (a checkbox, an option).
    fn click(&self, css: &str) {
        let element = self.find(css);
        self.session("POST", &format!("/element/{element}/click"), None);
    }

    /// Clicks a button or link that loads another page, and waits until the old page is gone
    /// (its element goes stale): a click returns before the navigation it starts has finished.
    fn follow(&self, css: &str) {
        let element = self.find(css);
        self.session("POST", &format!("/element/{element}/click"), None);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let url = format!(
                "{}/session/{}/element/{element}/name",
                self.driver.base, self.id
            );
            let mut response = self
                .driver
                .agent
                .get(url)
                .call()
                .expect("chromedriver answers");
            let text = response.body_mut().read_to_string().unwrap_or_default();
            if text.contains("stale element reference") || text.contains("no such element") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "clicking {css} on {} loaded no new page",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.session("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn page(&self) -> String {
        self.session("GET", "/source", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn sign_in(&self, base: &str, email: &str, password: &str) {
        self.open(&format!("{base}/login"));
        self.type_into("#email", email);
        self.type_into("#password", password);
        self.follow("main form button[type=submit]");
    }

    fn set_password(&self, link: &str, password: &str) {
        self.open(link);
        self.type_into("#password", password);
        self.type_into("#confirm", password);
        self.follow("main form button[type=submit]");
        assert!(
            self.page().contains("Your password is set"),
            "{}",
            self.url()
        );
    }
}

/// The round on `instances` servers sharing one database (two: behind a round-robin proxy,
/// as behind a load balancer).
fn round(driver: &Driver, backend: Backend, instances: usize) {
    let sink = SmtpSink::start();
    let webhook = common::WebhookSink::start();
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("webhook-secret");
    std::fs::write(&secret_file, "browser test secret").unwrap();
    let notifying = ConfigFile {
        smtp: Some(sink.config()),
        webhook: Some(portcullis_server::notify::WebhookConfig {
            url: webhook.url.clone(),
            secret_file,
        }),
        ..ConfigFile::default()
    };
    let (server, proxy, _second) = if instances == 1 {
        (TestServer::start_custom(backend, notifying), None, None)
    } else {
        let (listener, proxy_base) = Proxy::bind();
        let server = TestServer::start_custom(
            backend,
            ConfigFile {
                public_url: Some(proxy_base.clone()),
                ..notifying.clone()
            },
        );
        let second = server
            .block_on(portcullis_server::start(
                server.db.clone(),
                ConfigFile {
                    listen: Some("127.0.0.1:0".parse().unwrap()),
                    public_url: Some(proxy_base),
                    data_dir: Some(secrets.path().to_path_buf()),
                    ..notifying
                }
                .resolve()
                .unwrap(),
            ))
            .unwrap();
        let first: std::net::SocketAddr =
            server.base.trim_start_matches("http://").parse().unwrap();
        let proxy = Proxy::start(listener, vec![first, second.address]);
        (server, Some(proxy), Some(second))
    };
    let base = proxy
        .as_ref()
        .map_or_else(|| server.base.clone(), |p| p.base.clone());
    let admin = server.user("admin@example.org", Role::Admin);

    // The admin signs in with password and authenticator code, makes a group and an officer,
    // and imports two members of the group.
    let admin_browser = driver.browser();
    admin_browser.sign_in(&base, &admin.email, common::PASSWORD);
    assert!(admin_browser.url().ends_with("/login/second-factor"));
    admin_browser.type_into("#code", &totp_now(admin.secret.as_deref().unwrap()));
    admin_browser.follow("main form button[type=submit]");
    assert!(
        admin_browser.url().ends_with("/advisories"),
        "{}",
        admin_browser.url()
    );
    admin_browser.open(&format!("{base}/admin/groups"));
    admin_browser.type_into("#group-name", "Commons");
    admin_browser.follow("main form button[type=submit]");
    assert!(admin_browser.page().contains("<td>Commons</td>"));
    admin_browser.open(&format!("{base}/admin/users"));
    admin_browser.type_into("#name", "Olive Officer");
    admin_browser.type_into("#email", "olive@example.org");
    admin_browser.click("#role option[value=officer]");
    admin_browser.follow("form[action='/admin/users'] button[type=submit]");
    let officer_link = admin_browser.text("code.invitation");
    admin_browser.type_into(
        "#csv",
        "email,name,groups\nann@example.org,Ann MP,Commons\nbob@example.org,Bob MP,Commons\n",
    );
    admin_browser.follow("form[action='/admin/users/import'] button[type=submit]");
    assert_eq!(admin_browser.count("code.invitation"), 2);
    let page = admin_browser.page();
    let links: Vec<String> = page
        .match_indices(&format!("{base}/invite/"))
        .map(|(at, _)| page[at..].split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(links.len(), 2);

    // The officer chooses a password, must set up an authenticator, then writes and publishes.
    let officer = driver.browser();
    officer.set_password(&officer_link, "officer's long password");
    officer.sign_in(&base, "olive@example.org", "officer's long password");
    assert!(
        officer.url().ends_with("/account/second-factor"),
        "{}",
        officer.url()
    );
    let secret = officer.text("#totp-secret");
    officer.type_into("#code", &totp_now(&secret));
    officer.follow("main form button[type=submit]");
    assert!(officer.page().contains("Your recovery codes"));
    assert_eq!(officer.count("ul.codes li"), 10);
    officer.open(&format!("{base}/advisories/new"));
    officer.type_into("#title", "Turn on Lockdown Mode");
    officer.type_into("#body", "Members' phones are being targeted.\n\n- [ ] Update to the latest iOS\n- [ ] Turn on Lockdown Mode\n");
    officer.click("#severity option[value=high]");
    officer.click("#posture_rule option[value='IOS-005']");
    officer.click("input[name=group]");
    officer.follow("main form button[type=submit]");
    officer.follow("form[action$='/publish'] button");
    assert!(officer.page().contains("published"));
    let advisory_url = officer.url();

    // Ann signs in (members need no authenticator), reads, ticks the steps and acknowledges.
    let ann = driver.browser();
    ann.set_password(&links[0], "ann's long password");
    ann.sign_in(&base, "ann@example.org", "ann's long password");
    assert!(ann.url().ends_with("/advisories"));
    assert!(ann.page().contains("Turn on Lockdown Mode"));
    ann.follow("ul.cards a");
    assert_eq!(ann.url(), advisory_url);
    assert_eq!(ann.count("input[name=step]"), 2);
    ann.click("#step-1");
    ann.click("#step-2");
    ann.follow("form[action$='/acknowledge'] button[type=submit]");
    assert!(
        ann.text("p.done").starts_with("You acknowledged this on"),
        "{}",
        ann.page()
    );

    // The officer sees one of two acknowledged and reminds Bob, who has not.
    officer.open(&format!("{advisory_url}/status"));
    assert!(
        officer.page().contains("1 of 2 acknowledged"),
        "{}",
        officer.page()
    );
    officer.follow("form[action$='/remind'] button");
    assert!(
        officer
            .text("p.notice")
            .contains("Reminder e-mailed to bob@example.org.")
    );
    let mail = sink.received();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, vec!["bob@example.org".to_string()]);
    assert!(
        mail[0]
            .data
            .contains("Subject: Reminder: Turn on Lockdown Mode")
    );

    // The officer registers Ann's phone; a check of it is submitted with the device token.
    officer.open(&format!("{base}/devices"));
    officer.type_into("#device-name", "Ann's iPhone");
    officer.type_into("#owner", "ann@example.org");
    officer.follow("form[method=post][action='/devices'] button[type=submit]");
    let token = officer.text("#device-token");
    let mut uploader = common::Client::new(&base);
    uploader.bearer = Some(token);
    let submitted = uploader.post_raw(
        "/api/submissions",
        "application/json",
        &common::sample_submission("2026-12-04 10:00:00.000000"),
        &[],
    );
    assert_eq!(submitted.status, 201, "{}", submitted.body);

    // The fleet shows the device with its CRITICAL alert and an open incident; the incident
    // page names the indicator; the webhook and the officers' e-mail were told.
    officer.open(&format!("{base}/devices"));
    let fleet = officer.page();
    assert!(
        fleet.contains("Ann's iPhone") && fleet.contains("(worst CRITICAL)"),
        "{fleet}"
    );
    officer.open(&format!("{base}/incidents"));
    officer.follow("main table a[href^='/incidents/']");
    assert_eq!(officer.text("#incident-state"), "open");
    assert!(officer.page().contains("evil-parcel.example"));
    let hooks = webhook.wait_for(1);
    assert_eq!(hooks.len(), 1);
    assert!(hooks[0].body.contains("\"incident.opened\""));
    let mail = sink.wait_for(2);
    assert!(
        mail.iter()
            .any(|m| m.to == vec!["olive@example.org".to_string()]
                && m.data.contains("new incident")),
        "{mail:?}"
    );

    // Ann sees her device, what to change, and the advisory that asked for it.
    ann.open(&format!("{base}/devices"));
    ann.follow("main table a[href^='/devices/']");
    let device_page = ann.page();
    assert!(
        device_page.contains("Turn on Lockdown Mode in Settings"),
        "{device_page}"
    );
    assert!(
        device_page.contains("Asked for in the advisory"),
        "{device_page}"
    );
    assert!(!device_page.contains("/incidents/"));

    // The officer adds a list to the indicator hub; its sync (and re-check) runs once.
    officer.open(&format!("{base}/hub"));
    officer.type_into("#upload-name", "Partner disclosure");
    officer.click("#upload-format option[value=plain]");
    officer.type_into("#upload-content", "pegasus-infra.example\n203.0.113.7\n");
    officer.follow("form[action='/hub/feeds'] button[type=submit]");
    assert!(officer.url().ends_with("/hub"), "{}", officer.url());
    let hub = officer.page();
    assert!(
        hub.contains("Partner disclosure") && hub.contains("<td>2</td>"),
        "{hub}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.count("SELECT COUNT(*) FROM jobs WHERE kind = 'hub.sync' AND done_at IS NOT NULL")
        == 0
    {
        assert!(Instant::now() < deadline, "the hub sync did not run");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        server.count("SELECT COUNT(*) FROM jobs WHERE kind = 'hub.sync'"),
        1
    );
    assert_eq!(
        server.count("SELECT MAX(attempts) FROM jobs WHERE kind = 'hub.sync'"),
        1,
        "one instance ran it, once"
    );
    if let Some(proxy) = proxy {
        let served: Vec<usize> = proxy
            .served
            .iter()
            .map(|n| n.load(std::sync::atomic::Ordering::Relaxed))
            .collect();
        assert!(
            served.iter().all(|&n| n > 0),
            "both instances served: {served:?}"
        );
    }
}

#[test]
fn the_office_round_works_in_a_real_browser() {
    if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "browser test skipped: {CHROMIUM} and {CHROMEDRIVER} are needed (apt install chromium chromium-driver)"
        );
        return;
    }
    let driver = Driver::start();
    for backend in backends() {
        round(&driver, backend, 1);
    }
    if backends().contains(&Backend::Postgres) {
        round(&driver, Backend::Postgres, 2);
    } else {
        eprintln!("the two-instance browser round needs PostgreSQL: skipped");
    }
}
