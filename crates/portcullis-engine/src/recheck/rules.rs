//! Which fields of each module's saved records are matched against which indicators, as data.
//! The same checks the modules make while reading the evidence (docs/recheck.md lists them);
//! slugs are MVT's, so MVT's results folders are read by the same table.

use portcullis_core::Level;
use portcullis_indicators::{IndicatorMatch, Indicators};

/// How one field's value is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// A URL or a bare domain (host indicators, and URL indicators).
    Url,
    Host,
    Ip,
    /// A process name or executable path (its base name is compared).
    Process,
    /// An app id, else a process name.
    AppIdOrProcess,
    AppId,
    /// An app id in any `/`-separated part of a path (dumpsys dbinfo's database paths).
    AppIdInPath,
    FilePath,
    /// A path relative to the backup's root (Manifest.db's `relative_path`).
    RelativePath,
    FileHash,
    CertHash,
    Email,
    /// `mailto:user@host` (iOS IDStatusCache).
    MailtoEmail,
    ProfileId,
    AndroidProperty,
}

impl Check {
    pub(crate) fn lookup(self, indicators: &Indicators, value: &str) -> Option<IndicatorMatch> {
        if value.is_empty() {
            return None;
        }
        match self {
            Check::Url => indicators.check_url(value),
            Check::Host => indicators.check_host(value),
            Check::Ip => indicators.check_ip(value),
            Check::Process => indicators.check_process(value),
            Check::AppIdOrProcess => indicators
                .check_app_id(value)
                .or_else(|| indicators.check_process(value)),
            Check::AppId => indicators.check_app_id(value),
            Check::AppIdInPath => value.split('/').find_map(|p| indicators.check_app_id(p)),
            Check::FilePath => indicators.check_file_path(value),
            Check::RelativePath => indicators.check_file_path(&format!("/{value}")),
            Check::FileHash => indicators.check_file_hash(value),
            Check::CertHash => indicators.check_app_cert_hash(value),
            Check::Email => indicators.check_email(value),
            Check::MailtoEmail => value
                .strip_prefix("mailto:")
                .and_then(|e| indicators.check_email(e.trim_matches('\''))),
            Check::ProfileId => indicators.check_profile_id(value),
            Check::AndroidProperty => indicators.check_android_property(value),
        }
    }
}

/// A field of a record: `.`-separated keys, `[]` for every element of a list
/// (`files[].sha256`), a number for one element (`command_line.0`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub path: &'static str,
    pub check: Check,
}

/// The rules of the modules named by `slugs`: the level of a hit, where the record's time is,
/// and the fields checked in order (the first hit makes the record's alert).
#[derive(Debug)]
pub(crate) struct ModuleRules {
    pub slugs: &'static [&'static str],
    pub level: Level,
    pub time: &'static [&'static str],
    pub fields: &'static [Field],
}

const fn f(path: &'static str, check: Check) -> Field {
    Field { path, check }
}

use Check::*;

const CRITICAL: Level = Level::Critical;
/// MVT's level for hits in file listings, where a path alone is weaker evidence.
const HIGH: Level = Level::High;

pub(crate) const RULES: &[ModuleRules] = &[
    // iOS: messages and browsing.
    ModuleRules {
        slugs: &["sms", "whatsapp"],
        level: CRITICAL,
        time: &["isodate"],
        fields: &[f("links", Url)],
    },
    ModuleRules {
        slugs: &["safari_history", "chrome_history", "firefox_history"],
        level: CRITICAL,
        time: &["isodate"],
        fields: &[f("url", Url)],
    },
    ModuleRules {
        slugs: &["chrome_favicon", "safari_favicon"],
        level: CRITICAL,
        time: &["isodate"],
        fields: &[f("url", Url), f("icon_url", Url)],
    },
    ModuleRules {
        slugs: &["firefox_favicon"],
        level: CRITICAL,
        time: &["isodate"],
        fields: &[f("url", Url), f("history_url", Url)],
    },
    ModuleRules {
        slugs: &["safari_browser_state"],
        level: CRITICAL,
        time: &["last_viewed_timestamp"],
        fields: &[f("tab_url", Url)],
    },
    ModuleRules {
        slugs: &["webkit_resource_load_statistics"],
        level: CRITICAL,
        time: &["last_seen_isodate"],
        fields: &[f("registrable_domain", Url)],
    },
    ModuleRules {
        slugs: &["webkit_session_resource_log"],
        level: CRITICAL,
        time: &["last_seen"],
        fields: &[
            f("origin", Url),
            f("redirect_source[]", Url),
            f("redirect_destination[]", Url),
            f("subframe_under_origin[]", Url),
            f("subresource_under_origin[]", Url),
        ],
    },
    ModuleRules {
        slugs: &["shortcuts"],
        level: CRITICAL,
        time: &["isodate"],
        fields: &[f("action_urls", Url)],
    },
    // iOS: processes, apps, profiles, people.
    ModuleRules {
        slugs: &["tcc"],
        level: CRITICAL,
        time: &["last_modified"],
        fields: &[f("client", Process)],
    },
    ModuleRules {
        slugs: &["datausage", "netusage"],
        level: CRITICAL,
        time: &["isodate"],
        fields: &[f("proc_name", Process), f("bundle_id", Process)],
    },
    ModuleRules {
        slugs: &["os_analytics_ad_daily"],
        level: CRITICAL,
        time: &["ts"],
        fields: &[f("package", Process)],
    },
    ModuleRules {
        slugs: &["profile_events"],
        level: CRITICAL,
        time: &["timestamp"],
        fields: &[f("process", Process), f("profile_id", ProfileId)],
    },
    ModuleRules {
        slugs: &["configuration_profiles"],
        level: CRITICAL,
        time: &["install_date"],
        fields: &[f("plist.PayloadUUID", ProfileId)],
    },
    ModuleRules {
        slugs: &["applications"],
        level: CRITICAL,
        time: &["isodate"],
        fields: &[
            f("softwareVersionBundleId", AppIdOrProcess),
            f("name", AppIdOrProcess),
        ],
    },
    ModuleRules {
        slugs: &["calendar"],
        level: CRITICAL,
        time: &["start_date", "creation_date"],
        fields: &[f("participant_email", Email)],
    },
    ModuleRules {
        slugs: &["id_status_cache"],
        level: CRITICAL,
        time: &["isodate"],
        fields: &[f("user", MailtoEmail)],
    },
    // iOS: files.
    ModuleRules {
        slugs: &["locationd_clients"],
        level: HIGH,
        time: &[],
        fields: &[
            f("package", Process),
            f("BundleId", Process),
            f("BundlePath", FilePath),
            f("Executable", FilePath),
            f("Registered", FilePath),
        ],
    },
    ModuleRules {
        slugs: &["sms_attachments"],
        level: HIGH,
        time: &["isodate"],
        fields: &[f("filename", FilePath)],
    },
    ModuleRules {
        slugs: &["manifest"],
        level: HIGH,
        time: &["created"],
        fields: &[f("relative_path", RelativePath)],
    },
    // Android: packages named in system services.
    ModuleRules {
        slugs: &[
            "dumpsys_accessibility",
            "dumpsys_activities",
            "dumpsys_appops",
            "dumpsys_battery_daily",
            "dumpsys_battery_history",
            "dumpsys_packages",
            "dumpsys_platform_compat",
            "dumpsys_receivers",
            "packages",
        ],
        level: CRITICAL,
        time: &["timestamp"],
        fields: &[f("package_name", AppId)],
    },
    ModuleRules {
        slugs: &["dumpsys_dbinfo"],
        level: CRITICAL,
        time: &[],
        fields: &[f("path", AppIdInPath)],
    },
    ModuleRules {
        slugs: &["dumpsys_get_prop", "getprop", "aqf_get_prop"],
        level: CRITICAL,
        time: &[],
        fields: &[f("name", AndroidProperty)],
    },
    ModuleRules {
        slugs: &["tombstones"],
        level: CRITICAL,
        time: &["timestamp"],
        fields: &[f("process_name", Process), f("command_line.0", Process)],
    },
    // Android: AndroidQF's own lists.
    ModuleRules {
        slugs: &["aqf_processes", "processes"],
        level: CRITICAL,
        time: &[],
        fields: &[f("proc_name", AppIdOrProcess)],
    },
    ModuleRules {
        slugs: &["aqf_packages"],
        level: CRITICAL,
        time: &[],
        fields: &[
            f("name", AppId),
            f("files[].sha256", FileHash),
            f("files[].certificate.Md5", CertHash),
            f("files[].certificate.Sha1", CertHash),
            f("files[].certificate.Sha256", CertHash),
        ],
    },
    ModuleRules {
        slugs: &["aqf_files"],
        level: CRITICAL,
        time: &["modified_time"],
        fields: &[
            f("path", FilePath),
            f("sha256", FileHash),
            f("sha1", FileHash),
            f("md5", FileHash),
        ],
    },
    ModuleRules {
        slugs: &["mounts"],
        level: CRITICAL,
        time: &[],
        fields: &[f("mount_point", FilePath), f("device", FilePath)],
    },
    // Android: intrusion logs.
    ModuleRules {
        slugs: &["dns_event"],
        level: CRITICAL,
        time: &["timestamp"],
        fields: &[
            f("hostname", Host),
            f("ip_addresses[]", Ip),
            f("package_name", AppId),
        ],
    },
    ModuleRules {
        slugs: &["connect_event"],
        level: CRITICAL,
        time: &["timestamp"],
        fields: &[f("ip_address", Ip), f("package_name", AppId)],
    },
];

/// The rules for module `slug`, when it has any.
pub(crate) fn for_slug(slug: &str) -> Option<&'static ModuleRules> {
    RULES.iter().find(|r| r.slugs.contains(&slug))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slug_has_one_entry() {
        let mut seen = std::collections::HashSet::new();
        for rules in RULES {
            assert!(!rules.fields.is_empty());
            for slug in rules.slugs {
                assert!(seen.insert(*slug), "{slug} listed twice");
            }
        }
    }
}
