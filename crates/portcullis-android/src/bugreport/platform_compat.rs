//! `dumpsys platform_compat`: the `DOWNSCALED` change's raw overrides, which keep the names of
//! packages even after they were uninstalled.

use serde_json::{Value, json};

/// `{package_name}` for each entry of `rawOverrides={a=…, b=…}` on the
/// `ChangeId(168419799; name=DOWNSCALED; …)` line.
pub(crate) fn parse(section: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for line in section.lines() {
        let t = line.trim();
        if !t.starts_with("ChangeId(168419799; name=DOWNSCALED;") {
            continue;
        }
        let Some((_, overrides)) = t.split_once("rawOverrides={") else {
            continue;
        };
        let overrides = overrides.split('}').next().unwrap_or("");
        for entry in overrides.split(',') {
            let package = entry.split('=').next().unwrap_or("").trim();
            let record = json!({"package_name": package});
            if !package.is_empty() && !out.contains(&record) {
                out.push(record);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::records_checking_app_ids;
    use crate::bugreport::test_support::*;

    #[test]
    fn mvt_fixture() {
        let Some(dump) = fixture_text("dumpsys_platform_compat.txt") else {
            return;
        };
        let records = parse(&dump);
        assert_eq!(
            records,
            [
                json!({"package_name": "org.torproject.torbrowser"}),
                json!({"package_name": "org.article19.circulo.next"})
            ]
        );
        let ind = indicators(&[
            "[app:id = 'org.torproject.torbrowser']",
            "[app:id = 'org.article19.circulo.next']",
        ]);
        assert_eq!(
            records_checking_app_ids(parse(&dump), &ind, "s", "f")
                .alerts
                .len(),
            2
        );
    }

    #[test]
    fn garbage() {
        assert!(parse("ChangeId(168419799; name=DOWNSCALED; rawOverrides={").is_empty());
        assert!(parse("ChangeId(168419799; name=DOWNSCALED; rawOverrides={, =x}").is_empty());
        assert_eq!(
            parse("\tChangeId(168419799; name=DOWNSCALED; rawOverrides={a=1}\r\n").len(),
            1
        );
    }
}
