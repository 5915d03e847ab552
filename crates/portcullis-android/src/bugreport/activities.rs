//! `dumpsys package`, `Activity Resolver Table`: which app activities answer which intent.

use serde_json::{Value, json};

use super::resolver::{non_data_actions, package_of};

/// `{intent, package_name, activity}` for every activity of the `Non-Data Actions` block.
pub(crate) fn parse(section: &str) -> Vec<Value> {
    non_data_actions(section, "Activity Resolver Table:")
        .into_iter()
        .flat_map(|i| {
            i.components.into_iter().map(move |activity| {
                json!({"intent": i.intent, "package_name": package_of(activity), "activity": activity})
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::records_checking_app_ids;
    use crate::bugreport::test_support::*;

    #[test]
    fn mvt_fixture() {
        let Some(dump) = fixture_text("dumpsys_packages.txt") else {
            return;
        };
        let records = parse(&dump);
        assert_eq!(records.len(), 4);
        assert_eq!(records[0]["package_name"], "com.samsung.android.app.social");
        assert_eq!(
            records[0]["intent"],
            "com.samsung.android.intent.SOCIAL_UPDATES_FEED_VIEW"
        );
        assert_eq!(
            records[0]["activity"],
            "com.samsung.android.app.social/.feed.FeedsActivity"
        );
        let out = records_checking_app_ids(
            parse(&dump),
            &app_ioc("com.google.android.gms"),
            "dumpsys_activities",
            "f",
        );
        assert_eq!(out.alerts.len(), 1);
        assert!(parse("").is_empty());
    }
}
