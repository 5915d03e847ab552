//! What the evidence says about a device's security settings.
//!
//! Every fact is an `Option<Fact<T>>`: `None` means the evidence did not show it (an encrypted
//! backup without its password, a file that was not acquired, a setting the OS version does not
//! have). Extractors never fill in a default: a rule whose fact is `None` reports "unknown".
//! Each known fact names the evidence file it came from.

use std::collections::BTreeMap;

use portcullis_report::Device;
pub use portcullis_report::Platform;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A value read from the evidence and the file it came from (relative to the input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact<T> {
    pub value: T,
    pub source: String,
}

impl<T> Fact<T> {
    pub fn new(value: T, source: impl Into<String>) -> Self {
        Fact {
            value,
            source: source.into(),
        }
    }
}

/// Shorthand for `Some(Fact::new(value, source))`.
pub fn known<T>(value: T, source: impl Into<String>) -> Option<Fact<T>> {
    Some(Fact::new(value, source))
}

/// Android 16's Advanced Protection mode (`settings secure advanced_protection_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvancedProtection {
    On,
    Off,
    /// The setting is absent from a settings dump that was read: the device cannot use it.
    Unsupported,
}

/// An installed app and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct App {
    /// Bundle id (iOS) or package name (Android).
    pub id: String,
    /// Display name, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Who installed it: iOS `iTunesMetadata.sourceApp`, Android installer package (`"null"`
    /// kept as Android writes it). `None` when the evidence does not record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installer: Option<String>,
    /// iOS: whether the App Store metadata has a `softwareVersionBundleId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_identity: Option<bool>,
    /// Android: part of the system image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<bool>,
    /// Android: disabled by the user or an administrator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Android: granted runtime permissions (full names), when the evidence lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// First install time (ISO), when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
}

/// An installed configuration profile (iOS).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// `PayloadContent[].PayloadType`, e.g. `com.apple.security.root`.
    pub payload_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_date: Option<String>,
    /// The profile's file in the evidence.
    pub source: String,
}

impl Profile {
    /// A name to show: display name, else identifier, else UUID.
    pub fn label(&self) -> String {
        self.display_name
            .clone()
            .or_else(|| self.identifier.clone())
            .or_else(|| self.uuid.clone())
            .unwrap_or_else(|| "(unnamed profile)".into())
    }
}

/// A profile installation or removal (iOS `MCProfileEvents.plist`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProfileEvent {
    /// ISO time.
    pub timestamp: String,
    /// The profile identifier.
    pub profile: String,
    /// `install`, `remove`…
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
}

/// A privacy permission granted to an app (iOS `TCC.db`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PermissionGrant {
    pub app: String,
    /// e.g. `kTCCServiceMicrophone`.
    pub service: String,
}

/// Everything the posture rules look at. `Default` is "nothing known".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeviceFacts {
    pub platform: Platform,

    // Identity and OS.
    pub device_name: Option<Fact<String>>,
    /// iOS `Product Type` (`iPhone9,3`) or Android `ro.product.model` (`Pixel 8`).
    pub model: Option<Fact<String>>,
    /// Android `ro.product.manufacturer`.
    pub manufacturer: Option<Fact<String>>,
    pub os_version: Option<Fact<String>>,
    pub os_build: Option<Fact<String>>,
    /// Android `ro.build.version.sdk`.
    pub sdk_level: Option<Fact<u32>>,
    /// Android `ro.build.version.security_patch` (`YYYY-MM-DD`).
    pub security_patch: Option<Fact<String>>,
    /// Android `ro.vendor.build.security_patch` (may lag the system one).
    pub vendor_security_patch: Option<Fact<String>>,
    /// When the evidence was taken (backup date, acquisition time), ISO.
    pub acquired: Option<Fact<String>>,

    // Locking and encryption.
    /// iOS `Manifest.plist` `WasPasscodeSet`; Android: a credential other than NONE.
    pub passcode_set: Option<Fact<bool>>,
    /// Android lock-screen credential type, lower case: `none`, `pin`, `password`, `pattern`.
    pub screen_lock: Option<Fact<String>>,
    /// Seconds before the screen locks itself.
    pub lock_timeout_secs: Option<Fact<u64>>,
    /// iOS `Manifest.plist` `IsEncrypted`.
    pub backup_encrypted: Option<Fact<bool>>,
    /// Android `ro.crypto.state == encrypted`.
    pub storage_encrypted: Option<Fact<bool>>,

    // Extra protections.
    /// iOS `.GlobalPreferences.plist` `LDMGlobalEnabled` (absent in a file that was read: off).
    pub lockdown_mode: Option<Fact<bool>>,
    pub advanced_protection: Option<Fact<AdvancedProtection>>,
    /// iOS `SUAutomaticUpdateV2Enabled`.
    pub auto_updates: Option<Fact<bool>>,
    /// iOS `com.apple.MobileSMS.plist`: messages are never deleted.
    pub messages_kept_forever: Option<Fact<bool>>,

    // Management.
    pub profiles: Option<Fact<Vec<Profile>>>,
    pub profile_events: Option<Fact<Vec<ProfileEvent>>>,
    pub mdm_enrolled: Option<Fact<bool>>,
    pub mdm_server: Option<Fact<String>>,
    pub supervised: Option<Fact<bool>>,
    pub supervising_organization: Option<Fact<String>>,
    /// Android: enabled device admins, device owner and profile owner (`pkg/.Receiver`).
    pub device_admins: Option<Fact<Vec<String>>>,

    // Apps.
    pub apps: Option<Fact<Vec<App>>>,
    /// iOS: files of jailbreak tools seen in `Manifest.db` (e.g. `Library/Cydia/…`).
    pub jailbreak_files: Option<Fact<Vec<String>>>,
    /// iOS `TCC.db`: sensitive permissions granted.
    pub permission_grants: Option<Fact<Vec<PermissionGrant>>>,
    /// Android: enabled accessibility services (`pkg/cls`).
    pub accessibility_services: Option<Fact<Vec<String>>>,
    /// Android: enabled notification listeners (`pkg/cls`).
    pub notification_listeners: Option<Fact<Vec<String>>>,
    /// Android: package holding the SMS role.
    pub default_sms_app: Option<Fact<String>>,
    /// Android: package of the default input method.
    pub default_keyboard: Option<Fact<String>>,
    /// Android 8+: packages allowed to install other apps (`REQUEST_INSTALL_PACKAGES` allow).
    pub apps_allowed_to_install: Option<Fact<Vec<String>>>,
    /// Android ≤ 7: `install_non_market_apps=1`.
    pub unknown_sources: Option<Fact<bool>>,
    /// Android: `su`-type binaries found (AndroidQF `root_binaries.json`).
    pub root_binaries: Option<Fact<Vec<String>>>,

    // Android integrity and risky settings.
    /// `ro.boot.verifiedbootstate`: `green`, `yellow`, `orange`, `red`.
    pub verified_boot_state: Option<Fact<String>>,
    /// `ro.boot.flash.locked == 1` / `ro.boot.vbmeta.device_state == locked`.
    pub bootloader_locked: Option<Fact<bool>>,
    /// `sys.oem_unlock_allowed`.
    pub oem_unlock_allowed: Option<Fact<bool>>,
    /// `ro.build.type` (`user`, `userdebug`, `eng`).
    pub build_type: Option<Fact<String>>,
    /// `ro.build.tags` (`release-keys`, `test-keys`).
    pub build_tags: Option<Fact<String>>,
    /// `ro.debuggable == 1` or `ro.secure == 0`.
    pub debuggable: Option<Fact<bool>>,
    /// `enforcing` or `permissive`.
    pub selinux: Option<Fact<String>>,
    /// Samsung `ro.boot.warranty_bit == 1` (Knox fuse tripped).
    pub knox_warranty_tripped: Option<Fact<bool>>,
    /// `adb_enabled`.
    pub adb_enabled: Option<Fact<bool>>,
    /// `development_settings_enabled`.
    pub developer_options: Option<Fact<bool>>,
    /// ADB over TCP port set or `adb_wifi_enabled=1`.
    pub adb_over_network: Option<Fact<bool>>,
    /// Computers trusted for USB debugging, excluding the examiner's.
    pub adb_trusted_keys: Option<Fact<u32>>,
    /// Play Protect (`package_verifier_enable`).
    pub play_protect: Option<Fact<bool>>,
    /// `private_dns_mode`: `off`, `opportunistic`, `hostname`.
    pub private_dns_mode: Option<Fact<String>>,
    /// `private_dns_specifier`.
    pub private_dns_host: Option<Fact<String>>,
    /// `send_security_reports`.
    pub security_reports: Option<Fact<bool>>,
}

/// Labels of the scalar facts, in the order a report shows them.
pub const SUMMARY_FIELDS: &[(&str, &str)] = &[
    ("device_name", "name"),
    ("model", "model"),
    ("manufacturer", "manufacturer"),
    ("os_version", "os_version"),
    ("os_build", "build"),
    ("sdk_level", "sdk_level"),
    ("security_patch", "security_patch"),
    ("vendor_security_patch", "vendor_security_patch"),
    ("acquired", "last_backup"),
    ("passcode_set", "passcode_set"),
    ("screen_lock", "screen_lock"),
    ("lock_timeout_secs", "lock_timeout_secs"),
    ("backup_encrypted", "backup_encrypted"),
    ("storage_encrypted", "storage_encrypted"),
    ("lockdown_mode", "lockdown_mode"),
    ("advanced_protection", "advanced_protection"),
    ("auto_updates", "auto_updates"),
    ("messages_kept_forever", "messages_kept_forever"),
    ("mdm_enrolled", "mdm_enrolled"),
    ("mdm_server", "mdm_server"),
    ("supervised", "supervised"),
    ("supervising_organization", "supervising_organization"),
    ("verified_boot_state", "verified_boot_state"),
    ("bootloader_locked", "bootloader_locked"),
    ("oem_unlock_allowed", "oem_unlock_allowed"),
    ("build_type", "build_type"),
    ("build_tags", "build_tags"),
    ("debuggable", "debuggable"),
    ("selinux", "selinux"),
    ("knox_warranty_tripped", "knox_warranty_tripped"),
    ("adb_enabled", "adb_enabled"),
    ("developer_options", "developer_options"),
    ("adb_over_network", "adb_over_network"),
    ("adb_trusted_keys", "adb_trusted_keys"),
    ("play_protect", "play_protect"),
    ("unknown_sources", "unknown_sources"),
    ("private_dns_mode", "private_dns_mode"),
    ("private_dns_host", "private_dns_host"),
    ("security_reports", "security_reports"),
    ("default_sms_app", "default_sms_app"),
    ("default_keyboard", "default_keyboard"),
];

/// List facts summarised as a count in the report's device map.
const COUNTED_FIELDS: &[(&str, &str)] = &[
    ("apps", "apps_installed"),
    ("profiles", "configuration_profiles"),
    ("device_admins", "device_admins"),
    ("accessibility_services", "accessibility_services"),
    ("notification_listeners", "notification_listeners"),
];

impl DeviceFacts {
    pub fn new(platform: Platform) -> Self {
        DeviceFacts {
            platform,
            ..Default::default()
        }
    }

    /// Every fact as JSON (`null` when unknown), by field name.
    pub fn to_json_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }

    /// The facts for `report.device`: each known scalar fact under its short name (`name`,
    /// `model`, `os_version`, `build`… as the report has always used), the counts of list
    /// facts, and the file of each. Unknown facts are left out (the HTML report lists them as
    /// unknown).
    pub fn to_summary(&self) -> Device {
        let all = self.to_json_map();
        let mut out = Map::new();
        let mut sources = BTreeMap::new();
        let fact = |field: &str| {
            all.get(field)
                .and_then(Value::as_object)
                .and_then(|f| Some((f.get("value")?.clone(), f.get("source")?.as_str()?)))
        };
        for (field, key) in SUMMARY_FIELDS {
            if let Some((value, source)) = fact(field) {
                out.insert((*key).into(), value);
                sources.insert((*key).to_string(), source.to_string());
            }
        }
        for (field, key) in COUNTED_FIELDS {
            if let Some((Value::Array(items), source)) = fact(field) {
                out.insert((*key).into(), items.len().into());
                sources.insert((*key).to_string(), source.to_string());
            }
        }
        Device::new(self.platform, out, sources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_keeps_report_keys_and_omits_unknowns() {
        let mut f = DeviceFacts::new(Platform::Ios);
        f.model = known("iPhone9,3".to_string(), "Info.plist");
        f.os_version = known("14.3".to_string(), "Info.plist");
        f.lockdown_mode = known(false, "0d/0dc9");
        f.apps = known(vec![App::default()], "Info.plist");
        let s = f.to_summary();
        assert_eq!(s.platform, Some(Platform::Ios));
        assert_eq!(s.model.as_deref(), Some("iPhone9,3"));
        assert_eq!(s.os_version.as_deref(), Some("14.3"));
        assert_eq!(s.name, None);
        assert_eq!(s.facts["lockdown_mode"], false);
        assert_eq!(s.facts["apps_installed"], 1);
        assert!(!s.facts.contains_key("passcode_set"));
        assert!(
            !s.facts.contains_key("model"),
            "a fact is in one place only"
        );
        assert_eq!(s.sources["lockdown_mode"], "0d/0dc9");
        assert_eq!(s.sources["model"], "Info.plist");
        // The report's JSON keeps the short names, flat, as it always has.
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["model"], "iPhone9,3");
        assert_eq!(json["platform"], "ios");
        assert_eq!(json["apps_installed"], 1);
        assert_eq!(json["sources"]["os_version"], "Info.plist");
        assert_eq!(serde_json::from_value::<Device>(json).unwrap(), s);
        // Unknown facts serialise as null, never as a default.
        assert_eq!(f.to_json_map()["passcode_set"], Value::Null);
    }
}
