//! `dumpsys package`, package list: every installed package with its versions, install times,
//! installer and permissions. Flags rooting tools and known malicious apps.
//!
//! [`root_package_alert`] and [`log_dangerous_permissions`] also serve AndroidQF's package list.

use std::collections::HashSet;
use std::sync::LazyLock;

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use portcullis_indicators::Indicators;
use regex::Regex;
use serde_json::{Map, Value, json};

use super::{app_id_alert, indent, text, wall_clock_iso, wall_clock_or_raw};
use crate::reference::{DANGEROUS_PERMISSIONS, ROOT_PACKAGES};

/// A package with this many of [`DANGEROUS_PERMISSIONS`] is noted in the log.
const DANGEROUS_PERMISSIONS_THRESHOLD: usize = 10;

static PACKAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Package \[([^\]\s]+)\]").expect("valid package pattern"));
static USER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^User (\d+):").expect("valid user pattern"));
/// `key=value` where the value runs to the next white space, or is a date and time.
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|\s)([A-Za-z]+)=(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}|\S*)")
        .expect("valid field pattern")
});

/// Fields read from a block: (dumpsys key, record key).
const FIELDS: &[(&str, &str)] = &[
    ("userId", "uid"),
    ("versionName", "version_name"),
    ("versionCode", "version_code"),
    ("timeStamp", "timestamp"),
    ("firstInstallTime", "first_install_time"),
    ("lastUpdateTime", "last_update_time"),
    ("installerPackageName", "installer"),
];

/// Values that take the rest of the line when their key starts it (they may hold spaces).
const WHOLE_LINE: &[&str] = &["versionName"];

/// The permission lists of a block and the type MVT gives their entries.
const PERMISSION_LISTS: &[(&str, &str)] = &[
    ("install permissions:", "install"),
    ("runtime permissions:", "runtime"),
    ("declared permissions:", "declared"),
    ("requested permissions:", "requested"),
];

/// Where a value was found in a block: package level, or under `User N:`.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Package,
    User(u32),
}

impl Scope {
    /// Lower is preferred: user 0, then the package level, then other users.
    fn rank(self) -> u32 {
        match self {
            Scope::User(0) => 0,
            Scope::Package => 1,
            Scope::User(n) => 1 + n,
        }
    }
}

/// Collects one package block.
struct Block<'t> {
    name: &'t str,
    fields: Vec<(&'static str, Scope, String)>,
    flags: Vec<String>,
    /// (scope, name, granted, type)
    permissions: Vec<(Scope, String, Option<bool>, &'static str)>,
    requested: Vec<String>,
}

impl<'t> Block<'t> {
    fn new(name: &'t str) -> Self {
        Block {
            name,
            fields: Vec::new(),
            flags: Vec::new(),
            permissions: Vec::new(),
            requested: Vec::new(),
        }
    }

    /// Reads the block's lines: `key=value` fields anywhere, `User N:` scopes, permission lists
    /// (entries are the lines indented deeper than their list's header).
    fn read(&mut self, lines: &[&str]) {
        let mut user: Option<(u32, usize)> = None;
        let mut list: Option<(&'static str, usize, Scope)> = None;
        for line in lines {
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            let at = indent(line);
            if user.is_some_and(|(_, u)| at <= u) {
                user = None;
            }
            if list.is_some_and(|(_, l, _)| at <= l) {
                list = None;
            }
            let scope = user.map_or(Scope::Package, |(n, _)| Scope::User(n));
            if let Some((kind, _, list_scope)) = list {
                self.permission(kind, list_scope, t);
                continue;
            }
            if let Some(&(_, kind)) = PERMISSION_LISTS.iter().find(|(h, _)| *h == t) {
                list = Some((kind, at, scope));
                continue;
            }
            if let Some(c) = USER.captures(t) {
                user = c[1].parse().ok().map(|n| (n, at));
            }
            self.fields_of(t, user.map_or(scope, |(n, _)| Scope::User(n)));
        }
    }

    fn permission(&mut self, kind: &'static str, scope: Scope, trimmed: &str) {
        let (name, rest) = trimmed.split_once(':').unwrap_or((trimmed, ""));
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return;
        }
        if kind == "requested" {
            self.requested.push(name.to_string());
        } else {
            let granted = rest
                .contains("granted=")
                .then(|| rest.contains("granted=true"));
            self.permissions
                .push((scope, name.to_string(), granted, kind));
        }
    }

    fn fields_of(&mut self, trimmed: &str, scope: Scope) {
        if let Some(flags) = trimmed.strip_prefix("pkgFlags=") {
            self.flags = flags
                .trim_matches(|c| c == '[' || c == ']' || c == ' ')
                .split_whitespace()
                .map(str::to_string)
                .collect();
            return;
        }
        for c in FIELD.captures_iter(trimmed) {
            let key = c.get(1).map_or("", |m| m.as_str());
            let Some(&(_, record_key)) = FIELDS.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            let whole = WHOLE_LINE.contains(&key) && trimmed.starts_with(key);
            let value = if whole {
                trimmed[key.len() + 1..].trim()
            } else {
                c.get(2).map_or("", |m| m.as_str())
            };
            self.fields.push((record_key, scope, value.to_string()));
        }
    }

    /// The best value of `key`: user 0's, else the package level's, else another user's.
    fn field(&self, key: &str) -> &str {
        self.fields
            .iter()
            .filter(|(k, _, _)| *k == key)
            .min_by_key(|(_, s, _)| s.rank())
            .map_or("", |(_, _, v)| v.as_str())
    }

    /// The record, with per-user runtime permissions taken from the preferred user only.
    fn record(self) -> Value {
        let mut r = Map::new();
        r.insert("package_name".into(), self.name.into());
        for (_, key) in FIELDS {
            r.insert((*key).into(), self.field(key).into());
        }
        r.insert(
            "system".into(),
            self.flags.iter().any(|f| f == "SYSTEM").into(),
        );
        let best_user = self
            .permissions
            .iter()
            .filter(|(s, ..)| *s != Scope::Package)
            .map(|(s, ..)| *s)
            .min_by_key(|s| s.rank());
        let permissions: Vec<Value> = self
            .permissions
            .iter()
            .filter(|(s, ..)| *s == Scope::Package || Some(*s) == best_user)
            .map(|(_, name, granted, kind)| {
                if *kind == "declared" {
                    json!({"name": name, "type": kind})
                } else {
                    json!({"name": name, "granted": granted, "type": kind})
                }
            })
            .collect();
        r.insert("permissions".into(), permissions.into());
        r.insert("requested_permissions".into(), self.requested.into());
        Value::Object(r)
    }
}

/// Headers of the parts after the package list that repeat `Package [name]` lines.
const LIST_ENDS: &[&str] = &["Hidden system packages:", "Queries:", "Shared users:"];

/// The first `Packages:` list that holds package blocks: (its indentation, index of its first
/// line). Without any such header (some vendors), every block of the section is read, up to
/// the first of [`LIST_ENDS`].
fn package_list(lines: &[&str]) -> (Option<usize>, usize) {
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "Packages:" {
            continue;
        }
        let at = indent(line);
        let next = lines[i + 1..].iter().find(|l| !l.trim().is_empty());
        if next.is_some_and(|l| indent(l) > at && PACKAGE.is_match(l.trim())) {
            return (Some(at), i + 1);
        }
    }
    (None, 0)
}

/// One record per `Package [name] (hash):` block of the package list, read whatever the
/// indentation, line ends or blank lines (MVT stops at the first blank line and loses the rest
/// on some vendors). The list ends at the first line indented no deeper than its `Packages:`
/// header that is not a package line, which keeps `Hidden system packages:` and `Queries:` out.
pub(crate) fn parse(section: &str) -> Vec<Value> {
    let lines: Vec<&str> = section.lines().collect();
    let (base, start) = package_list(&lines);
    let mut out = Vec::new();
    let mut current: Option<(&str, Vec<&str>)> = None;
    for line in &lines[start..] {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let package = PACKAGE
            .captures(t)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str());
        let ends = match base {
            Some(at) => package.is_none() && indent(line) <= at,
            None => LIST_ENDS.contains(&t),
        };
        if ends {
            break;
        }
        if let Some(name) = package {
            if let Some((name, lines)) = current.take() {
                out.push(block_record(name, &lines));
            }
            current = Some((name, Vec::new()));
        } else if let Some((_, block)) = current.as_mut() {
            block.push(line);
        }
    }
    if let Some((name, lines)) = current {
        out.push(block_record(name, &lines));
    }
    out
}

fn block_record(name: &str, lines: &[&str]) -> Value {
    let mut block = Block::new(name);
    block.read(lines);
    block.record()
}

/// The MEDIUM alert for a rooting or root-hiding app (MVT's ROOT_PACKAGES).
pub(crate) fn root_package_alert(
    slug: &str,
    package: &str,
    timestamp: &str,
    event: &Value,
    source: &str,
) -> Option<Alert> {
    ROOT_PACKAGES.contains(&package).then(|| {
        Alert::heuristic(
            Level::Medium,
            slug,
            format!("Found an installed package related to rooting/jailbreaking: \"{package}\""),
            timestamp,
            event.clone(),
        )
        .with_advice(
            "A rooting or root-hiding tool is installed. It switches off Android's security \
             protections and is often used to plant spyware. If you did not install it yourself, \
             ask your security office to examine the phone.",
        )
        .with_field("package_name", package)
        .with_source(source)
    })
}

/// Notes in the log a package holding at least 10 of the permissions that together open up
/// the owner's life (MVT only logs it).
pub(crate) fn log_dangerous_permissions<'p>(
    package: &str,
    permissions: impl IntoIterator<Item = &'p str>,
) {
    let held: HashSet<&str> = permissions
        .into_iter()
        .filter(|p| DANGEROUS_PERMISSIONS.contains(p))
        .collect();
    if held.len() >= DANGEROUS_PERMISSIONS_THRESHOLD {
        tracing::info!(
            "Found package \"{package}\" requested {} potentially dangerous permissions",
            held.len()
        );
    }
}

/// Records, three timeline rows per package (install, first install, last update), and alerts:
/// MEDIUM for a rooting tool (once per name, and then no indicator check, as MVT) and CRITICAL
/// for a known malicious app.
pub(crate) fn analyse(
    section: &str,
    indicators: &Indicators,
    name: &str,
    slug: &str,
    source: &str,
) -> ModuleOutput {
    let records = parse(section);
    let mut out = ModuleOutput::default();
    let mut rooted: HashSet<String> = HashSet::new();
    for record in &records {
        let package = text(record, "package_name");
        for (key, event) in [
            ("timestamp", "package_install"),
            ("first_install_time", "package_first_install"),
            ("last_update_time", "package_last_update"),
        ] {
            out.push_timeline(TimelineEvent {
                timestamp: wall_clock_or_raw(text(record, key)),
                plugin: name.to_string(),
                event: event.into(),
                data: format!("Install or update of package {package}"),
            });
        }
        let perms = record["permissions"].as_array().into_iter().flatten();
        let requested = record["requested_permissions"]
            .as_array()
            .into_iter()
            .flatten();
        log_dangerous_permissions(
            package,
            perms
                .map(|p| text(p, "name"))
                .chain(requested.filter_map(Value::as_str)),
        );
        let when = wall_clock_iso(text(record, "timestamp")).unwrap_or_default();
        if let Some(alert) = root_package_alert(slug, package, &when, record, source) {
            if rooted.insert(package.to_string()) {
                out.alerts.push(alert);
            }
            continue;
        }
        out.alerts.extend(app_id_alert(
            indicators, slug, package, &when, record, source,
        ));
    }
    out.results = Results::List(records);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;

    fn names(records: &[Value]) -> Vec<&str> {
        records.iter().map(|r| text(r, "package_name")).collect()
    }

    fn perm_count(record: &Value) -> usize {
        record["permissions"].as_array().map_or(0, Vec::len)
    }

    #[test]
    fn mvt_fixture() {
        let Some(dump) = fixture_text("dumpsys_packages.txt") else {
            return;
        };
        let records = parse(&dump);
        assert_eq!(
            names(&records),
            [
                "com.samsung.android.provider.filterprovider",
                "com.sec.android.app.DataCreate"
            ]
        );
        let r = &records[0];
        assert_eq!(
            (
                text(r, "uid"),
                text(r, "version_name"),
                text(r, "version_code"),
                text(r, "first_install_time")
            ),
            ("1000", "5.0.07", "500700000", "2008-12-31 16:00:00")
        );
        assert_eq!(r["system"], true);
        assert_eq!(
            r["permissions"][0],
            json!({"name": "com.samsung.android.provider.filterprovider.permission.READ_FILTER", "type": "declared"})
        );
        let data_create = &records[1];
        assert_eq!(perm_count(data_create), 1 + 20 + 13);
        assert_eq!(
            data_create["requested_permissions"]
                .as_array()
                .unwrap()
                .len(),
            11
        );
        assert_eq!(
            data_create["permissions"][1],
            json!({"name": "android.permission.WRITE_SETTINGS", "granted": true, "type": "install"})
        );
        assert_eq!(
            data_create["permissions"][21],
            json!({"name": "android.permission.READ_SMS", "granted": false, "type": "runtime"})
        );
        let out = analyse(
            &dump,
            &app_ioc("com.sec.android.app.DataCreate"),
            "DumpsysPackages",
            "dumpsys_packages",
            "f",
        );
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.timeline.len(), 6);
        assert_eq!(out.timeline[0].timestamp, "2008-12-31 16:00:00.000000");
    }

    /// Xiaomi-style: deeper indentation, blank lines between and inside blocks, fields sharing
    /// lines, a per-user install time, the root tool Magisk.
    #[test]
    fn xiaomi_style() {
        let dump = "Packages:\n\n    Package [com.miui.securitycenter] (a1b2c3):\n\n      userId=1000 gids=[1]\n      versionCode=40000 minSdk=30 targetSdk=33\n\
                    \n      versionName=7.4.1 (release)\n      pkgFlags=[ SYSTEM HAS_CODE ]\n      install permissions:\n\n        android.permission.INTERNET: granted=true\n\
                    \n      User 0: ceDataInode=1 installed=true firstInstallTime=2022-01-01 10:00:00 enabled=0\n\n\
                    \x20   Package [com.topjohnwu.magisk] (d4):\n      userId=10200\n      timeStamp=2023-05-01 08:00:00\n      installerPackageName=null\n\n\
                    \x20   Package [com.whatsapp] (e5):\n      userId=10201\n\n      lastUpdateTime=2023-06-01 09:30:00\n      installerPackageName=com.android.vending\n\
                    \x20     requested permissions:\n        android.permission.READ_SMS: restricted=true\n        android.permission.CAMERA\n\n\
                    Hidden system packages:\n    Package [com.miui.securitycenter] (old):\n      userId=1000\n";
        let records = parse(dump);
        assert_eq!(
            names(&records),
            [
                "com.miui.securitycenter",
                "com.topjohnwu.magisk",
                "com.whatsapp"
            ]
        );
        let miui = &records[0];
        assert_eq!(text(miui, "version_code"), "40000");
        assert_eq!(text(miui, "version_name"), "7.4.1 (release)");
        assert_eq!(text(miui, "first_install_time"), "2022-01-01 10:00:00");
        assert_eq!(perm_count(miui), 1);
        assert_eq!(
            records[2]["requested_permissions"],
            json!(["android.permission.READ_SMS", "android.permission.CAMERA"])
        );
        assert_eq!(text(&records[2], "installer"), "com.android.vending");
        let out = analyse(dump, &Indicators::new(), "N", "s", "f");
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(
            out.alerts[0].message,
            "Found an installed package related to rooting/jailbreaking: \"com.topjohnwu.magisk\""
        );
        assert_eq!(
            out.alerts[0].timestamp.as_deref(),
            Some("2023-05-01 08:00:00.000000")
        );
    }

    /// Samsung-style: CRLF, tabs, extra per-user fields and two users whose values differ
    /// (user 0 wins), permissions of the work-profile user left out.
    #[test]
    fn samsung_style() {
        let dump = "Packages:\r\n\tPackage [com.samsung.android.app.notes] (11):\r\n\t\tuserId=10150\r\n\t\tversionName=4.4.00.45\r\n\
                    \t\ttimeStamp=2023-01-01 00:00:00\r\n\t\tlastUpdateTime=2023-02-02 00:00:00\r\n\t\tpkgFlags=[ HAS_CODE ALLOW_CLEAR_USER_DATA ]\r\n\
                    \t\tUser 10: ceDataInode=9 installed=true firstInstallTime=2023-03-03 00:00:00 semEnabled=1\r\n\
                    \t\t\truntime permissions:\r\n\t\t\t\tandroid.permission.CAMERA: granted=true, flags=[ USER_SET ]\r\n\
                    \t\tUser 0: ceDataInode=8 installed=true firstInstallTime=2022-12-12 00:00:00 semEnabled=1 appCategory=x\r\n\
                    \t\t\tinstallReason=0\r\n\t\t\truntime permissions:\r\n\t\t\t\tandroid.permission.READ_CONTACTS: granted=false, flags=[ ]\r\n\
                    \t\t\t\tandroid.permission.RECORD_AUDIO: granted=true, flags=[ ]\r\n\
                    \tPackage [com.sec.android.app.launcher] (22):\r\n\t\tuserId=10060\r\n\t\tpkgFlags=[ SYSTEM HAS_CODE ]\r\n\
                    \tPackage [com.samsung.android.knox.attestation] (33):\r\n\t\tuserId=1000\r\n\t\tdeclared permissions:\r\n\
                    \t\t\tcom.samsung.android.knox.permission.KNOX_ATTESTATION: prot=signature, INSTALLED\r\n\r\nShared users:\r\n\tSharedUser [android.uid.system] (1):\r\n";
        let records = parse(dump);
        assert_eq!(names(&records).len(), 3);
        let notes = &records[0];
        assert_eq!(text(notes, "first_install_time"), "2022-12-12 00:00:00");
        assert_eq!(notes["system"], false);
        let perms: Vec<_> = notes["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| text(p, "name"))
            .collect();
        assert_eq!(
            perms,
            [
                "android.permission.READ_CONTACTS",
                "android.permission.RECORD_AUDIO"
            ]
        );
        assert_eq!(records[1]["system"], true);
        assert_eq!(perm_count(&records[2]), 1);
    }

    /// Pixel/AOSP (Android 14): `Queries:` and hidden system packages after the list, every
    /// package kept.
    #[test]
    fn pixel_style() {
        let mut dump =
            String::from("Database versions:\n  Internal:\n    sdkVersion=34\n\nPackages:\n");
        for i in 0..50 {
            dump.push_str(&format!(
                "  Package [com.example.app{i}] ({i:x}):\n    appId={i}\n    userId=1{i:04}\n    pkg=Package{{x com.example.app{i}}}\n\
                 \x20   versionCode={i} minSdk=26 targetSdk=34\n    versionName=1.{i}\n    timeStamp=2024-01-01 00:00:{:02}\n\
                 \x20   pkgFlags=[ HAS_CODE ]\n    User 0: ceDataInode=1 installed=true\n      firstInstallTime=2024-01-01 00:00:00\n\
                 \x20     runtime permissions:\n        android.permission.CAMERA: granted=true, flags=[ USER_SET ]\n",
                i % 60
            ));
        }
        dump.push_str("\nQueries:\n  system apps queryable: false\n  queries via package name:\n    Package [com.example.app1] (1):\n\n");
        dump.push_str(
            "Hidden system packages:\n  Package [com.example.app0] (0):\n    userId=10000\n",
        );
        let records = parse(&dump);
        assert_eq!(records.len(), 50);
        assert_eq!(text(&records[49], "package_name"), "com.example.app49");
        assert_eq!(
            text(&records[49], "first_install_time"),
            "2024-01-01 00:00:00"
        );
        assert_eq!(perm_count(&records[7]), 1);
    }

    /// A whole vendor dumpstate, CRLF throughout and non-UTF-8 bytes in another section, read
    /// through the module: the section is found and every package kept.
    #[test]
    fn whole_vendor_dumpstate() {
        let dump = "== dumpstate: 2024-01-01 ==\r\n\
            -------------------------------------------------------------------------------\r\n\
            DUMP OF SERVICE activity:\r\n  caf\u{e9}\r\n\
            -------------------------------------------------------------------------------\r\n\
            DUMP OF SERVICE package:\r\nPackages:\r\n  Package [a.one] (1):\r\n    userId=10001\r\n\r\n\
            \x20 Package [com.topjohnwu.magisk] (2):\r\n    userId=10002\r\n  Package [c.three] (3):\r\n    userId=10003\r\n\
            \r\n--------- 0.5s was the duration of dumpsys package\r\n\
            -------------------------------------------------------------------------------\r\n";
        let mut bytes = dump.as_bytes().to_vec();
        let cafe = bytes
            .windows(2)
            .position(|w| w == "\u{e9}".as_bytes())
            .unwrap();
        bytes[cafe] = 0xff;
        let out = with_folder(&[("bugreport-x.txt", &bytes[..])], |root| {
            folder_context(root, &Indicators::new(), |ctx| {
                crate::Module::run(&crate::bugreport::PACKAGES, ctx)
            })
            .unwrap()
        });
        assert_eq!(
            names(records(&out)),
            ["a.one", "com.topjohnwu.magisk", "c.three"]
        );
        assert_eq!(text(&records(&out)[2], "uid"), "10003");
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(
            out.alerts[0].source.as_deref(),
            Some("bugreport-x.txt (dumpsys package)")
        );
    }

    #[test]
    fn no_header_and_garbage() {
        // No `Packages:` header at all: blocks are still found.
        let records = parse(
            "Package [a.b] (1):\n userId=5\nPackage [c.d] (2):\nHidden system packages:\nPackage [e.f] (3):\n",
        );
        assert_eq!(names(&records), ["a.b", "c.d"]);
        assert!(parse("Packages:\n").is_empty());
        assert!(parse("Package [] (1):\nPackage [x\n").is_empty());
        let weird = parse(
            "Packages:\n  Package [p] (1):\n    install permissions:\n      : granted=true\n      two words: x\n    userId=\n",
        );
        assert_eq!(perm_count(&weird[0]), 0);
        assert_eq!(text(&weird[0], "uid"), "");
    }
}
