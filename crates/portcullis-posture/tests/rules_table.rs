//! Every rule, on self-made devices: a well-set-up phone passes it, one change makes it fail,
//! and a phone with no known facts leaves it "unknown" (never a silent pass).

use portcullis_posture::rules::for_platform;
use portcullis_posture::{
    AdvancedProtection, App, DeviceFacts, PermissionGrant, Platform, PostureFinding, PostureStatus,
    Profile, ProfileEvent, Snapshot, evaluate, known,
};

const TODAY: (i16, i8, i8) = (2026, 9, 1);

fn today() -> jiff::civil::Date {
    jiff::civil::date(TODAY.0, TODAY.1, TODAY.2)
}

fn s(v: &str) -> String {
    v.to_string()
}

fn app(id: &str) -> App {
    App {
        id: s(id),
        ..App::default()
    }
}

/// An iPhone with everything set as the guidance asks.
fn good_ios() -> DeviceFacts {
    let mut f = DeviceFacts::new(Platform::Ios);
    f.device_name = known(s("Member's iPhone"), "Info.plist");
    f.model = known(s("iPhone17,3"), "Info.plist");
    f.os_version = known(s("26.6.1"), "Info.plist");
    f.os_build = known(s("23G83"), "Info.plist");
    f.acquired = known(s("2026-08-30 10:00:00.000000"), "Info.plist");
    f.passcode_set = known(true, "Manifest.plist");
    f.backup_encrypted = known(true, "Manifest.plist");
    f.lockdown_mode = known(
        true,
        "HomeDomain/Library/Preferences/.GlobalPreferences.plist",
    );
    f.auto_updates = known(true, "HomeDomain/…/com.apple.softwareupdateservicesd.plist");
    f.messages_kept_forever = known(false, "HomeDomain/…/com.apple.MobileSMS.plist");
    f.profiles = known(vec![], "Manifest.db");
    f.profile_events = known(vec![], "Manifest.db");
    f.mdm_enrolled = known(false, "Manifest.db");
    f.supervised = known(false, "CloudConfigurationDetails.plist");
    f.jailbreak_files = known(vec![], "Manifest.db");
    f.permission_grants = known(
        vec![PermissionGrant {
            app: s("org.whispersystems.signal"),
            service: s("kTCCServiceMicrophone"),
        }],
        "HomeDomain/Library/TCC/TCC.db",
    );
    f.apps = known(
        vec![App {
            name: Some(s("Signal")),
            installer: Some(s("com.apple.AppStore")),
            store_identity: Some(true),
            ..app("org.whispersystems.signal")
        }],
        "Info.plist",
    );
    f
}

/// An Android phone with everything set as the guidance asks.
fn good_android() -> DeviceFacts {
    let mut f = DeviceFacts::new(Platform::Android);
    let gp = "getprop.txt";
    f.model = known(s("Pixel 8"), gp);
    f.manufacturer = known(s("Google"), gp);
    f.os_version = known(s("16"), gp);
    f.sdk_level = known(36, gp);
    f.security_patch = known(s("2026-08-05"), gp);
    f.vendor_security_patch = known(s("2026-08-05"), gp);
    f.acquired = known(s("2026-08-31 09:00:00.000000"), "acquisition");
    f.passcode_set = known(true, "dumpsys.txt");
    f.screen_lock = known(s("pin"), "dumpsys.txt");
    f.lock_timeout_secs = known(30, "settings_secure.txt");
    f.storage_encrypted = known(true, gp);
    f.advanced_protection = known(AdvancedProtection::On, "settings_secure.txt");
    f.apps = known(
        vec![
            App {
                installer: Some(s("com.android.vending")),
                system: Some(false),
                disabled: Some(false),
                permissions: Some(vec![s("android.permission.RECORD_AUDIO")]),
                ..app("org.thoughtcrime.securesms")
            },
            App {
                installer: Some(s("null")),
                system: Some(true),
                disabled: Some(false),
                permissions: Some(vec![]),
                ..app("com.google.android.gms")
            },
        ],
        "packages.json",
    );
    f.device_admins = known(
        vec![s(
            "com.google.android.gms/.mdm.receivers.MdmDeviceAdminReceiver",
        )],
        "dumpsys.txt",
    );
    f.accessibility_services = known(vec![], "settings_secure.txt");
    f.notification_listeners = known(
        vec![s("com.google.android.gms/.nearby.NotificationListener")],
        "settings_secure.txt",
    );
    f.default_sms_app = known(s("com.google.android.apps.messaging"), "dumpsys.txt");
    f.default_keyboard = known(
        s("com.google.android.inputmethod.latin"),
        "settings_secure.txt",
    );
    f.apps_allowed_to_install = known(vec![], "dumpsys.txt");
    f.root_binaries = known(vec![], "root_binaries.json");
    f.verified_boot_state = known(s("green"), gp);
    f.bootloader_locked = known(true, gp);
    f.oem_unlock_allowed = known(false, gp);
    f.build_type = known(s("user"), gp);
    f.build_tags = known(s("release-keys"), gp);
    f.debuggable = known(false, gp);
    f.selinux = known(s("enforcing"), "selinux.txt");
    f.adb_enabled = known(false, "settings_global.txt");
    f.developer_options = known(false, "settings_global.txt");
    f.adb_over_network = known(false, gp);
    f.adb_trusted_keys = known(1, "dumpsys.txt");
    f.play_protect = known(true, "settings_global.txt");
    f.private_dns_mode = known(s("hostname"), "settings_global.txt");
    f.private_dns_host = known(s("dns.example.gov.uk"), "settings_global.txt");
    f.security_reports = known(true, "settings_global.txt");
    f
}

type Change = fn(&mut DeviceFacts);

fn none(_: &mut DeviceFacts) {}

fn profile(name: &str, payload: &str) -> Profile {
    Profile {
        display_name: Some(s(name)),
        payload_types: vec![s(payload)],
        source: s("profile-x.stub"),
        ..Profile::default()
    }
}

/// (rule, change making it fail, change making it pass) — applied to the good phone.
fn ios_cases() -> Vec<(&'static str, Change, Change)> {
    vec![
        (
            "IOS-001",
            |f| f.os_version = known(s("18.6"), "Info.plist"),
            none,
        ),
        (
            "IOS-002",
            |f| f.model = known(s("iPhone9,3"), "Info.plist"),
            none,
        ),
        (
            "IOS-003",
            |f| f.os_version = known(s("26.5"), "Info.plist"),
            none,
        ),
        (
            "IOS-004",
            |f| f.os_version = known(s("18.7.8"), "Info.plist"),
            none,
        ),
        ("IOS-005", |f| f.lockdown_mode = known(false, "prefs"), none),
        (
            "IOS-007",
            |f| f.passcode_set = known(false, "Manifest.plist"),
            none,
        ),
        (
            "IOS-008",
            |f| f.backup_encrypted = known(false, "Manifest.plist"),
            none,
        ),
        (
            "IOS-009",
            |f| {
                f.mdm_enrolled = known(true, "MDM.plist");
                f.mdm_server = known(s("https://mdm.evil.example"), "MDM.plist");
            },
            none,
        ),
        (
            "IOS-010",
            |f| f.supervised = known(true, "Cloud.plist"),
            none,
        ),
        (
            "IOS-011",
            |f| f.profiles = known(vec![profile("CA", "com.apple.security.root")], "db"),
            none,
        ),
        (
            "IOS-012",
            |f| f.profiles = known(vec![profile("VPN", "com.apple.vpn.managed")], "db"),
            none,
        ),
        (
            "IOS-014",
            |f| {
                f.profiles = known(
                    vec![profile("Quiet", "com.apple.notificationsettings")],
                    "db",
                )
            },
            none,
        ),
        (
            "IOS-015",
            |f| {
                f.profile_events = known(
                    vec![ProfileEvent {
                        timestamp: s("2026-08-20 08:00:00.000000"),
                        profile: s("com.evil.profile"),
                        operation: s("install"),
                        process: Some(s("profiled")),
                    }],
                    "MCProfileEvents.plist",
                )
            },
            none,
        ),
        (
            "IOS-016",
            |f| {
                let mut apps = f.apps.clone().unwrap();
                apps.value.push(App {
                    installer: Some(s("com.altstore")),
                    store_identity: Some(true),
                    ..app("com.example.sideloaded")
                });
                f.apps = Some(apps);
            },
            none,
        ),
        (
            "IOS-017",
            |f| f.jailbreak_files = known(vec![s("HomeDomain/Library/Cydia/x")], "db"),
            none,
        ),
        (
            "IOS-018",
            |f| {
                let grants = (0..6)
                    .map(|i| PermissionGrant {
                        app: format!("com.app{i}"),
                        service: s("kTCCServiceCamera"),
                    })
                    .collect();
                f.permission_grants = known(grants, "TCC.db");
            },
            none,
        ),
        (
            "IOS-019",
            |f| f.auto_updates = known(false, "su.plist"),
            none,
        ),
        (
            "IOS-020",
            |f| f.apps = known(vec![app("com.other")], "Info.plist"),
            none,
        ),
        (
            "IOS-021",
            |f| f.messages_kept_forever = known(true, "sms.plist"),
            none,
        ),
        (
            "IOS-022",
            |f| f.acquired = known(s("2025-01-01 00:00:00.000000"), "Info.plist"),
            none,
        ),
        (
            "IOS-023",
            |f| {
                f.model = known(s("iPhone9,3"), "Info.plist");
                f.os_version = known(s("15.8.5"), "Info.plist");
            },
            none,
        ),
    ]
}

fn android_cases() -> Vec<(&'static str, Change, Change)> {
    vec![
        (
            "AND-001",
            |f| f.security_patch = known(s("2025-08-01"), "gp"),
            none,
        ),
        (
            "AND-002",
            |f| f.vendor_security_patch = known(s("2026-05-05"), "gp"),
            none,
        ),
        ("AND-003", |f| f.sdk_level = known(33, "gp"), none),
        ("AND-004", |f| f.model = known(s("Pixel 5"), "gp"), none),
        (
            "AND-005",
            |f| f.verified_boot_state = known(s("orange"), "gp"),
            none,
        ),
        (
            "AND-006",
            |f| f.verified_boot_state = known(s("yellow"), "gp"),
            none,
        ),
        (
            "AND-007",
            |f| f.oem_unlock_allowed = known(true, "gp"),
            none,
        ),
        (
            "AND-008",
            |f| f.build_tags = known(s("test-keys"), "gp"),
            none,
        ),
        (
            "AND-009",
            |f| f.selinux = known(s("permissive"), "selinux.txt"),
            none,
        ),
        (
            "AND-010",
            |f| f.root_binaries = known(vec![s("/system/xbin/su")], "rb"),
            none,
        ),
        ("AND-011", |f| f.adb_over_network = known(true, "gp"), none),
        ("AND-012", |f| f.developer_options = known(true, "sg"), none),
        (
            "AND-013",
            |f| f.adb_trusted_keys = known(3, "dumpsys"),
            none,
        ),
        (
            "AND-014",
            |f| f.screen_lock = known(s("none"), "dumpsys"),
            none,
        ),
        (
            "AND-015",
            |f| f.screen_lock = known(s("pattern"), "dumpsys"),
            none,
        ),
        ("AND-016", |f| f.lock_timeout_secs = known(1800, "ss"), none),
        (
            "AND-017",
            |f| f.storage_encrypted = known(false, "gp"),
            none,
        ),
        ("AND-018", |f| f.play_protect = known(false, "sg"), none),
        (
            "AND-019",
            |f| f.apps_allowed_to_install = known(vec![s("com.android.chrome")], "appops"),
            none,
        ),
        (
            "AND-020",
            |f| {
                let mut apps = f.apps.clone().unwrap();
                apps.value.push(App {
                    installer: Some(s("com.google.android.packageinstaller")),
                    system: Some(false),
                    ..app("com.spy.app")
                });
                f.apps = Some(apps);
            },
            none,
        ),
        (
            "AND-021",
            |f| {
                let mut apps = f.apps.clone().unwrap();
                apps.value.push(App {
                    installer: Some(s("org.fdroid.fdroid")),
                    system: Some(false),
                    ..app("org.example.foss")
                });
                f.apps = Some(apps);
            },
            none,
        ),
        (
            "AND-022",
            |f| f.accessibility_services = known(vec![s("com.spy.app/.Svc")], "ss"),
            none,
        ),
        (
            "AND-023",
            |f| f.device_admins = known(vec![s("com.spy.app/.Admin")], "dumpsys"),
            none,
        ),
        (
            "AND-024",
            |f| f.notification_listeners = known(vec![s("com.spy.app/.Listen")], "ss"),
            none,
        ),
        (
            "AND-025",
            |f| f.default_sms_app = known(s("com.spy.sms"), "role"),
            none,
        ),
        (
            "AND-026",
            |f| f.default_keyboard = known(s("com.spy.keys"), "ss"),
            none,
        ),
        (
            "AND-027",
            |f| {
                let perms = [
                    "READ_SMS",
                    "SEND_SMS",
                    "RECEIVE_SMS",
                    "RECORD_AUDIO",
                    "CAMERA",
                    "READ_CONTACTS",
                    "READ_CALL_LOG",
                    "ACCESS_FINE_LOCATION",
                    "ACCESS_BACKGROUND_LOCATION",
                    "READ_PHONE_STATE",
                ]
                .iter()
                .map(|p| format!("android.permission.{p}"))
                .collect();
                let mut apps = f.apps.clone().unwrap();
                apps.value.push(App {
                    installer: Some(s("com.android.vending")),
                    system: Some(false),
                    permissions: Some(perms),
                    ..app("com.greedy.app")
                });
                f.apps = Some(apps);
            },
            none,
        ),
        (
            "AND-028",
            |f| {
                let mut apps = f.apps.clone().unwrap();
                apps.value[1].disabled = Some(true); // com.google.android.gms
                f.apps = Some(apps);
            },
            none,
        ),
        (
            "AND-029",
            |f| f.advanced_protection = known(AdvancedProtection::Off, "ss"),
            none,
        ),
        (
            "AND-030",
            |f| f.advanced_protection = known(AdvancedProtection::Unsupported, "ss"),
            none,
        ),
        (
            "AND-032",
            |f| f.private_dns_mode = known(s("off"), "sg"),
            none,
        ),
        (
            "AND-033",
            |f| {
                f.manufacturer = known(s("samsung"), "gp");
                f.knox_warranty_tripped = known(true, "gp");
            },
            |f| {
                f.manufacturer = known(s("samsung"), "gp");
                f.knox_warranty_tripped = known(false, "gp");
            },
        ),
        ("AND-034", |f| f.security_reports = known(false, "sg"), none),
        (
            "AND-035",
            |f| {
                let mut apps = f.apps.clone().unwrap();
                apps.value.remove(0);
                f.apps = Some(apps);
            },
            none,
        ),
        (
            "AND-036",
            |f| {
                f.sdk_level = known(25, "gp");
                f.unknown_sources = known(true, "ss");
            },
            |f| {
                f.sdk_level = known(25, "gp");
                f.unknown_sources = known(false, "ss");
            },
        ),
    ]
}

fn find(findings: &[PostureFinding], id: &str) -> Option<PostureFinding> {
    findings.iter().find(|f| f.id == id).cloned()
}

fn run_cases(platform: Platform, good: fn() -> DeviceFacts, cases: Vec<(&str, Change, Change)>) {
    let snap = Snapshot::bundled();
    let ids: Vec<&str> = for_platform(platform)
        .iter()
        .map(|r| r.rule.id.as_str())
        .collect();
    // Every rule has a case, and every case a rule.
    for id in &ids {
        assert!(
            cases.iter().any(|(c, _, _)| c == id),
            "no test case for {id}"
        );
    }
    for (id, _, _) in &cases {
        assert!(ids.contains(id), "case for unknown rule {id}");
    }
    for (id, fail, pass) in cases {
        let mut f = good();
        pass(&mut f);
        let r = find(&evaluate(&f, &snap, today()), id)
            .unwrap_or_else(|| panic!("{id}: not evaluated on the passing variant"));
        assert_eq!(r.status, PostureStatus::Pass, "{id} should pass: {r:?}");
        assert!(!r.evidence.is_empty() && !r.advice.is_empty());

        let mut f = good();
        fail(&mut f);
        let r = find(&evaluate(&f, &snap, today()), id)
            .unwrap_or_else(|| panic!("{id}: not evaluated on the failing variant"));
        assert_eq!(r.status, PostureStatus::Fail, "{id} should fail: {r:?}");
        assert!(
            !r.evidence.contains("unknown"),
            "{id}: failing evidence names an unknown fact: {}",
            r.evidence
        );
        assert!(
            r.evidence.contains("(from "),
            "{id}: no source: {}",
            r.evidence
        );
    }
    // With nothing known, no rule passes.
    let empty = evaluate(&DeviceFacts::new(platform), &snap, today());
    assert_eq!(empty.len(), ids.len());
    for r in &empty {
        assert_eq!(r.status, PostureStatus::Unknown, "{}: {r:?}", r.id);
        assert!(r.evidence.starts_with("Unknown"), "{}", r.evidence);
    }
}

#[test]
fn every_ios_rule_fails_and_passes() {
    run_cases(Platform::Ios, good_ios, ios_cases());
}

#[test]
fn every_android_rule_fails_and_passes() {
    run_cases(Platform::Android, good_android, android_cases());
}

#[test]
fn the_good_phones_pass_everything() {
    let snap = Snapshot::bundled();
    for good in [good_ios(), good_android()] {
        for r in evaluate(&good, &snap, today()) {
            assert_eq!(r.status, PostureStatus::Pass, "{r:?}");
        }
    }
}

#[test]
fn rule_counts() {
    let ios = for_platform(Platform::Ios).len();
    let android = for_platform(Platform::Android).len();
    println!("rules: {ios} iOS, {android} Android");
    assert!(ios + android >= 40);
}

#[test]
fn findings_are_ordered_and_explain_themselves() {
    let mut f = good_ios();
    f.lockdown_mode = known(
        false,
        "HomeDomain/Library/Preferences/.GlobalPreferences.plist",
    );
    f.passcode_set = None;
    f.backup_encrypted = known(false, "Manifest.plist");
    let findings = evaluate(&f, &Snapshot::bundled(), today());
    // Failures first, by severity; then unknowns; then passes.
    assert_eq!(findings[0].id, "IOS-005");
    assert_eq!(findings[1].id, "IOS-008");
    assert_eq!(findings[2].id, "IOS-007");
    assert_eq!(findings[2].status, PostureStatus::Unknown);
    assert!(findings[2].evidence.contains("WasPasscodeSet"));
    assert!(
        findings[0]
            .evidence
            .contains("from HomeDomain/Library/Preferences/.GlobalPreferences.plist")
    );
    assert!(findings[0].advice.contains("Lockdown Mode"));
    // The JSON shape report.json gets.
    let v = serde_json::to_value(&findings[0]).unwrap();
    assert_eq!(v["status"], "fail");
    assert_eq!(v["severity"], "HIGH");
    for k in ["id", "evidence", "advice"] {
        assert!(v.get(k).is_some(), "{k}");
    }
}
