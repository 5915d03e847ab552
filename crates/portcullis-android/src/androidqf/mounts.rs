//! `mounts.json` (the output of `mount`, one string per line): system partitions mounted
//! writable or with unusual options (signs of rooting), and mount points or devices matching
//! indicators.
//!
//! Differences from MVT: `/proc/mounts` lines (`dev mp type opts 0 0`) are read too; a
//! read-write system mount gets one HIGH alert, not also a MEDIUM one for its `rw` option; and
//! `noatime`/`nodiratime` on the allow-listed partitions are ignored alone, instead of hiding
//! the partition's other suspicious options.

use portcullis_core::{Alert, Level, ModuleOutput, Results};
use serde_json::{Value, json};

use super::{heuristic, read_json_list, require};
use crate::{Context, Module, ModuleError};

const SYSTEM_MOUNTS: [&str; 4] = ["/system", "/vendor", "/product", "/system_ext"];
const SUSPICIOUS_OPTIONS: [&str; 4] = ["rw", "remount", "noatime", "nodiratime"];
/// Partitions mounted `noatime` by stock Android.
const NOATIME_ALLOWED: [&str; 5] = [
    "/system_dlkm",
    "/system_ext",
    "/product",
    "/vendor",
    "/vendor_dlkm",
];

/// One mount, from `dev on mp type fs (opts)` or `dev mp fs opts 0 0`.
fn parse_line(line: &str) -> Option<Value> {
    let line = line.trim();
    let (device, mount_point, fs_type, options) =
        if let Some((device, rest)) = line.split_once(" on ") {
            let (mount_point, fs) = rest.split_once(" type ")?;
            let fs = fs.trim();
            let (fs_type, options) = match fs.find('(') {
                Some(i) if fs.ends_with(')') => (fs[..i].trim(), fs[i + 1..fs.len() - 1].trim()),
                _ => (fs, ""),
            };
            (device.trim(), mount_point.trim(), fs_type, options)
        } else {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let numeric = |c: &&str| c.chars().all(|ch| ch.is_ascii_digit());
            if cols.len() != 6 || !cols[4..].iter().all(numeric) {
                return None;
            }
            (cols[0], cols[1], cols[2], cols[3])
        };
    if device.is_empty() || mount_point.is_empty() || fs_type.is_empty() {
        return None;
    }
    let list: Vec<&str> = options
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    Some(json!({
        "device": device,
        "mount_point": mount_point,
        "filesystem_type": fs_type,
        "mount_options": options,
        "options_list": list,
        "is_system_partition": SYSTEM_MOUNTS.iter().any(|s| mount_point.starts_with(s)),
        "is_read_write": list.contains(&"rw"),
    }))
}

pub struct Mounts;

impl Mounts {
    fn check(&self, ctx: &Context<'_>, mount: &Value, source: &str, alerts: &mut Vec<Alert>) {
        let text = |key: &str| mount[key].as_str().unwrap_or_default();
        let mount_point = text("mount_point");
        let system = mount["is_system_partition"] == true;
        let rw = mount["is_read_write"] == true;
        if system && rw {
            let message = if mount_point == "/system" {
                "Root detected /system partition is mounted as read-write (rw)".to_string()
            } else {
                format!(
                    "System partition {mount_point} is mounted as read-write (rw). This may \
                     indicate system modifications."
                )
            };
            alerts.push(
                heuristic(
                    Level::High,
                    self.slug(),
                    message,
                    "",
                    mount,
                    source,
                    "Part of the operating system that is normally read-only is writable, a \
                     common sign of rooting or tampering. Ask your security office to examine \
                     the phone.",
                )
                .with_field("mount_point", mount_point),
            );
        }
        if system {
            let allowed = NOATIME_ALLOWED.contains(&mount_point);
            let options: Vec<&str> = mount["options_list"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|o| SUSPICIOUS_OPTIONS.contains(o))
                .filter(|o| !(rw && *o == "rw"))
                .filter(|o| !(allowed && matches!(*o, "noatime" | "nodiratime")))
                .collect();
            if !options.is_empty() {
                alerts.push(
                    heuristic(
                        Level::Medium,
                        self.slug(),
                        format!(
                            "Suspicious mount options found for {mount_point}: {}",
                            options.join(", ")
                        ),
                        "",
                        mount,
                        source,
                        "Unusual options on a system partition can be a sign of tampering. Ask \
                         your security office to look at this.",
                    )
                    .with_field("mount_options", text("mount_options")),
                );
            }
        }
        for (field, what) in [("mount_point", "Mount point"), ("device", "Device path")] {
            let value = text(field);
            if value.is_empty() {
                continue;
            }
            if let Some(hit) = ctx.indicators.check_file_path(value) {
                alerts.push(
                    Alert::indicator(Level::Critical, self.slug(), hit, field, "", mount.clone())
                        .with_message(format!("{what} matches indicator: {value}"))
                        .with_source(source),
                );
            }
        }
    }
}

impl Module<Context<'_>> for Mounts {
    fn name(&self) -> &'static str {
        "Mounts"
    }

    fn slug(&self) -> &'static str {
        "mounts"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let file = require(ctx, "mounts.json")?;
        let items = read_json_list(ctx, file, "mount lines")?;
        let mut out = ModuleOutput::default();
        let mut records = Vec::new();
        let lines = items.iter().filter_map(Value::as_str).flat_map(str::lines);
        for mount in lines.filter_map(parse_line) {
            self.check(ctx, &mount, &file.path, &mut out.alerts);
            records.push(mount);
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::FolderEvidence;
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::androidqf::test_support::{indicators, records, run_on, with_folder};

    const MOUNTS: &str = r#"[
        "/dev/block/dm-0 on /system type ext4 (rw,seclabel,relatime)",
        "/dev/block/dm-1 on /vendor type ext4 (ro,seclabel,noatime)",
        "/dev/block/dm-2 on /product type ext4 (ro,remount,noatime)",
        "/dev/block/dm-3 on /system_ext type ext4 (rw,nodiratime)",
        "/dev/block/dm-4 /data f2fs rw,lazytime,nosuid 0 0\n/dev/block/dm-5 /system_dlkm erofs ro 0 0",
        "tmpfs on /dev type tmpfs",
        "garbage",
        " on /x type y (z)",
        42
    ]"#;

    #[test]
    fn writable_and_unusual_system_mounts() {
        with_folder(&[("acq/mounts.json", MOUNTS)], |root| {
            let ev = FolderEvidence::new(root);
            let out = run_on(&Mounts, &ev, &Indicators::new()).unwrap();
            let recs = records(&out);
            assert_eq!(recs.len(), 7);
            assert_eq!(
                recs[0]["options_list"],
                json!(["rw", "seclabel", "relatime"])
            );
            assert_eq!(recs[4]["mount_point"], "/data");
            assert_eq!(recs[4]["is_read_write"], true);
            assert_eq!(recs[4]["is_system_partition"], false);
            assert_eq!(recs[6]["mount_options"], "");
            let alerts: Vec<(Level, &str)> = out
                .alerts
                .iter()
                .map(|a| (a.level, a.message.as_str()))
                .collect();
            assert_eq!(
                alerts,
                [
                    (
                        Level::High,
                        "Root detected /system partition is mounted as read-write (rw)"
                    ),
                    (
                        Level::Medium,
                        "Suspicious mount options found for /product: remount"
                    ),
                    (
                        Level::High,
                        "System partition /system_ext is mounted as read-write (rw). This may indicate system modifications."
                    ),
                ]
            );

            let ind = indicators(&["[file:path = '/dev/block/dm-4']"]);
            let out = run_on(&Mounts, &ev, &ind).unwrap();
            let hit = out
                .alerts
                .iter()
                .find(|a| a.level == Level::Critical)
                .unwrap();
            assert_eq!(
                hit.message,
                "Device path matches indicator: /dev/block/dm-4"
            );
            assert!(hit.indicator.is_some());
        });
    }

    #[test]
    fn not_a_list() {
        with_folder(&[("mounts.json", "\"one string\"")], |root| {
            let err = run_on(&Mounts, &FolderEvidence::new(root), &Indicators::new()).unwrap_err();
            assert!(err.to_string().contains("mounts.json"), "{err}");
        });
    }
}
