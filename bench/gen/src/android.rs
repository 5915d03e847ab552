//! A synthetic unpacked `adb bugreport`: `main_entry.txt` naming `dumpstate.txt`, whose
//! `dumpsys package` section lists many installed packages (one of them the planted app), plus
//! the system properties block.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::plants;
use crate::pools;
use crate::rng::Rng;

const PERMISSIONS: &[&str] = &[
    "android.permission.INTERNET",
    "android.permission.ACCESS_NETWORK_STATE",
    "android.permission.ACCESS_WIFI_STATE",
    "android.permission.WAKE_LOCK",
    "android.permission.RECEIVE_BOOT_COMPLETED",
    "android.permission.FOREGROUND_SERVICE",
    "android.permission.VIBRATE",
    "android.permission.POST_NOTIFICATIONS",
    "com.google.android.c2dm.permission.RECEIVE",
];

const RUNTIME: &[&str] = &[
    "android.permission.CAMERA",
    "android.permission.RECORD_AUDIO",
    "android.permission.ACCESS_FINE_LOCATION",
    "android.permission.READ_CONTACTS",
    "android.permission.READ_SMS",
    "android.permission.READ_CALL_LOG",
    "android.permission.READ_EXTERNAL_STORAGE",
];

fn time(rng: &mut Rng) -> String {
    format!(
        "20{:02}-{:02}-{:02} {:02}:{:02}:{:02}",
        21 + rng.below(3),
        1 + rng.below(12),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60)
    )
}

fn package_block(out: &mut String, rng: &mut Rng, name: &str, uid: u64, system: bool) {
    let h = rng.hex(7);
    let installed = time(rng);
    let _ = writeln!(out, "  Package [{name}] ({h}):");
    let _ = writeln!(out, "    userId={uid}");
    let _ = writeln!(out, "    pkg=Package{{{} {name}}}", rng.hex(7));
    let code = if system {
        format!("/system/app/{}", name.rsplit('.').next().unwrap_or(name))
    } else {
        format!("/data/app/~~{}==/{name}-{}==", rng.hex(22), rng.hex(22))
    };
    let _ = writeln!(out, "    codePath={code}\n    resourcePath={code}");
    let _ = writeln!(out, "    primaryCpuAbi=arm64-v8a\n    secondaryCpuAbi=null");
    let _ = writeln!(
        out,
        "    versionCode={} minSdk=26 targetSdk=34",
        1 + rng.below(900_000_000)
    );
    let _ = writeln!(
        out,
        "    versionName={}.{}.{}",
        rng.below(20),
        rng.below(50),
        rng.below(300)
    );
    let _ = writeln!(out, "    splits=[base]\n    apkSigningVersion=3");
    let _ = writeln!(
        out,
        "    flags=[ {}HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]",
        if system { "SYSTEM " } else { "" }
    );
    let _ = writeln!(out, "    dataDir=/data/user/0/{name}");
    let _ = writeln!(out, "    timeStamp={installed}");
    let _ = writeln!(out, "    firstInstallTime={installed}");
    let _ = writeln!(out, "    lastUpdateTime={}", time(rng));
    if !system {
        let _ = writeln!(out, "    installerPackageName=com.android.vending");
    }
    let _ = writeln!(
        out,
        "    signatures=PackageSignatures{{{} version:3, signatures:[{}], past signatures:[]}}",
        rng.hex(7),
        rng.hex(8)
    );
    let _ = writeln!(out, "    installPermissionsFixed=true");
    let _ = writeln!(out, "    requested permissions:");
    let perms = 1 + rng.below(PERMISSIONS.len() as u64) as usize;
    for p in &PERMISSIONS[..perms] {
        let _ = writeln!(out, "      {p}");
    }
    let _ = writeln!(out, "    install permissions:");
    for p in &PERMISSIONS[..perms] {
        let _ = writeln!(out, "      {p}: granted=true");
    }
    let _ = writeln!(
        out,
        "    User 0: ceDataInode={} installed=true hidden=false suspended=false stopped=false notLaunched=false enabled=0 instant=false virtual=false",
        rng.below(1 << 40)
    );
    let _ = writeln!(out, "      runtime permissions:");
    for p in RUNTIME
        .iter()
        .take(rng.below(RUNTIME.len() as u64) as usize)
    {
        let _ = writeln!(
            out,
            "        {p}: granted={}, flags=[ USER_SET|USER_SENSITIVE_WHEN_GRANTED ]",
            rng.chance(0.5)
        );
    }
}

/// Writes the bugreport folder (replacing what is there); returns the dumpstate's size.
pub fn generate(out: &Path, packages: usize, seed: u64) -> Result<u64> {
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let mut rng = Rng::new(seed, "android");
    let mut s = String::with_capacity(packages * 2_500);
    s.push_str("========================================================\n== dumpstate: 2024-03-01 10:00:00\n========================================================\n\n");
    s.push_str("Build: UP1A.231005.007\nBuild fingerprint: 'google/bench/bench:14/UP1A.231005.007/10754064:user/release-keys'\nBootloader: bench-1.0\nRadio: g5300-bench\nNetwork: Bench\n\n");
    s.push_str("------ SYSTEM PROPERTIES (getprop) ------\n");
    for (k, v) in [
        ("persist.sys.timezone", "Europe/Berlin"),
        ("ro.build.version.release", "14"),
        ("ro.build.version.sdk", "34"),
        ("ro.build.version.security_patch", "2023-11-05"),
        ("ro.product.model", "Bench Phone"),
        ("ro.product.manufacturer", "Bench"),
        ("ro.boot.verifiedbootstate", "green"),
    ] {
        let _ = writeln!(s, "[{k}]: [{v}]");
    }
    s.push_str("------ 0.052s was the duration of 'SYSTEM PROPERTIES' ------\n");
    s.push_str("-------------------------------------------------------------------------------\nDUMP OF SERVICE package:\n");
    s.push_str("Database versions:\n  Internal:\n    sdkVersion=34 databaseVersion=3\n\n");
    s.push_str("Packages:\n");
    let planted = packages / 2;
    for i in 0..packages {
        let system = i < packages / 5;
        let name = if i == planted {
            plants::ANDROID_APP_ID.to_string()
        } else if system {
            format!(
                "com.android.{}{i}",
                pools::PATH_WORDS[i % pools::PATH_WORDS.len()]
            )
        } else {
            pools::bundle_id(&mut rng, i as u64)
        };
        package_block(&mut s, &mut rng, &name, 10_000 + i as u64, system);
    }
    s.push_str(
        "--------- 0.512s was the duration of dumpsys package, ending at: 2024-03-01 10:00:05\n",
    );
    s.push_str("-------------------------------------------------------------------------------\n");
    std::fs::write(out.join("dumpstate.txt"), &s)?;
    std::fs::write(out.join("main_entry.txt"), "dumpstate.txt")?;
    Ok(s.len() as u64)
}
