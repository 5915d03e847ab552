//! Reference lists the Android heuristics use (mvt-behaviour.md §3.2).

/// Packages of rooting and root-hiding tools.
pub const ROOT_PACKAGES: &[&str] = &[
    "com.noshufou.android.su",
    "com.noshufou.android.su.elite",
    "eu.chainfire.supersu",
    "com.koushikdutta.superuser",
    "com.thirdparty.superuser",
    "com.yellowes.su",
    "com.koushikdutta.rommanager",
    "com.koushikdutta.rommanager.license",
    "com.dimonvideo.luckypatcher",
    "com.chelpus.lackypatch",
    "com.ramdroid.appquarantine",
    "com.ramdroid.appquarantinepro",
    "com.devadvance.rootcloak",
    "com.devadvance.rootcloakplus",
    "de.robv.android.xposed.installer",
    "com.saurik.substrate",
    "com.zachspong.temprootremovejb",
    "com.amphoras.hidemyroot",
    "com.amphoras.hidemyrootadfree",
    "com.formyhm.hiderootPremium",
    "com.formyhm.hideroot",
    "me.phh.superuser",
    "eu.chainfire.supersu.pro",
    "com.kingouser.com",
    "com.topjohnwu.magisk",
];

/// Permissions that together give an app broad access to the owner's life.
pub const DANGEROUS_PERMISSIONS: &[&str] = &[
    "android.permission.ACCESS_COARSE_LOCATION",
    "android.permission.ACCESS_FINE_LOCATION",
    "android.permission.AUTHENTICATE_ACCOUNTS",
    "android.permission.CAMERA",
    "android.permission.DISABLE_KEYGUARD",
    "android.permission.PROCESS_OUTGOING_CALLS",
    "android.permission.READ_CALENDAR",
    "android.permission.READ_CALL_LOG",
    "android.permission.READ_CONTACTS",
    "android.permission.READ_PHONE_STATE",
    "android.permission.READ_SMS",
    "android.permission.RECEIVE_MMS",
    "android.permission.RECEIVE_SMS",
    "android.permission.RECEIVE_WAP_PUSH",
    "android.permission.RECORD_AUDIO",
    "android.permission.SEND_SMS",
    "android.permission.SYSTEM_ALERT_WINDOW",
    "android.permission.USE_CREDENTIALS",
    "android.permission.USE_SIP",
    "com.android.browser.permission.READ_HISTORY_BOOKMARKS",
];

/// Vendor security agents; disabling one weakens the phone's defences.
pub const SECURITY_PACKAGES: &[&str] = &[
    "com.policydm",
    "com.samsung.android.app.omcagent",
    "com.samsung.android.securitylogagent",
    "com.sec.android.soagent",
];

/// System-update agents; disabling one stops security updates.
pub const SYSTEM_UPDATE_PACKAGES: &[&str] = &[
    "com.android.updater",
    "com.google.android.gms",
    "com.huawei.android.hwouc",
    "com.lge.lgdmsclient",
    "com.motorola.ccc.ota",
    "com.oneplus.opbackup",
    "com.oppo.ota",
    "com.transsion.systemupdate",
    "com.wssyncmldm",
];

/// The Play Store's installer id.
pub const PLAY_STORE: &str = "com.android.vending";
/// App stores other than Google Play.
pub const THIRD_PARTY_STORES: &[&str] = &["com.aurora.store", "org.fdroid.fdroid"];
/// Installers used when an APK is opened from a browser or file manager (side-loading).
pub const BROWSER_INSTALLERS: &[&str] = &[
    "com.google.android.packageinstaller",
    "com.android.packageinstaller",
];

/// Settings whose unsafe value weakens the phone: (key, safe value, what the unsafe value means).
pub const DANGEROUS_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "verifier_verify_adb_installs",
        "1",
        "disabled Google Play Services apps verification",
    ),
    (
        "package_verifier_enable",
        "1",
        "disabled Google Play Protect",
    ),
    (
        "package_verifier_state",
        "1",
        "disabled APK package verification",
    ),
    (
        "package_verifier_user_consent",
        "1",
        "disabled Google Play Protect",
    ),
    ("upload_apk_enable", "1", "disabled Google Play Protect"),
    (
        "adb_install_need_confirm",
        "1",
        "disabled confirmation of adb apps installation",
    ),
    (
        "send_security_reports",
        "1",
        "disabled sharing of security reports",
    ),
    (
        "samsung_errorlog_agree",
        "1",
        "disabled sharing of crash logs with manufacturer",
    ),
    (
        "send_action_app_error",
        "1",
        "disabled applications errors reports",
    ),
    (
        "accessibility_enabled",
        "0",
        "enabled accessibility services",
    ),
];

/// Root tools found as files: (lower-case base name, description).
pub const ROOT_BINARIES: &[(&str, &str)] = &[
    ("su", "SuperUser binary"),
    ("busybox", "BusyBox utilities"),
    ("supersu", "SuperSU root management"),
    ("superuser.apk", "Superuser app"),
    ("kingouser.apk", "KingRoot app"),
    ("supersu.apk", "SuperSU app"),
    ("magisk", "Magisk root framework"),
    ("magiskhide", "Magisk hide utility"),
    ("magiskinit", "Magisk init binary"),
    ("magiskpolicy", "Magisk policy binary"),
];

/// Process names never checked against indicators (known false positives).
pub const PROCESS_IOC_SKIP: &[&str] = &["gatekeeperd"];
