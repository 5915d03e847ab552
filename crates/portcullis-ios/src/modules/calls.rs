//! `CallHistory.storedata`: the phone's call log (who, when, how long, through which service).

use portcullis_core::{ModuleOutput, Results, TimelineEvent};
use serde_json::{Value, json};

use super::common::open_fixed;
use crate::values::{has_table, mac_iso, py_str, query_records};
use crate::{Context, Module, ModuleError};

/// HomeDomain-Library/CallHistoryDB/CallHistory.storedata
const BACKUP_IDS: &[&str] = &["5a4935c78a5255723f707230a451d79c540d2741"];

pub struct Calls;

impl Module<Context<'_>> for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn slug(&self) -> &'static str {
        "calls"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, BACKUP_IDS, "CallHistory.storedata")?;
        if !has_table(&conn, "ZCALLRECORD") {
            return Err(ModuleError::NotFound(format!(
                "{source}: CallHistory.storedata has no ZCALLRECORD table"
            )));
        }
        let rows = query_records(
            &conn,
            &source,
            "SELECT ZDATE, ZDURATION, ZLOCATION, ZADDRESS, ZSERVICE_PROVIDER FROM ZCALLRECORD \
             ORDER BY Z_PK",
        )?;
        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            // ZADDRESS is a BLOB holding UTF-8 text; query_records already made it text.
            let record = json!({
                "isodate": row.get("ZDATE").and_then(mac_iso).unwrap_or_default(),
                "duration": row.get("ZDURATION").cloned().unwrap_or(Value::Null),
                "location": row.get("ZLOCATION").cloned().unwrap_or(Value::Null),
                "number": row.get("ZADDRESS").cloned().unwrap_or(Value::Null),
                "provider": row.get("ZSERVICE_PROVIDER").cloned().unwrap_or(Value::Null),
            });
            out.push_timeline(TimelineEvent {
                timestamp: record["isodate"].as_str().unwrap_or_default().to_string(),
                plugin: self.name().into(),
                event: "call".into(),
                data: format!(
                    "From {} using {} during {} seconds",
                    py_str(record.get("number")),
                    py_str(record.get("provider")),
                    py_str(record.get("duration")),
                ),
            });
            records.push(record);
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::Backup;
    use crate::modules::test_support::{fixture_backup, list, run, with_file, with_sqlite};

    #[test]
    fn call_records_and_timeline() {
        let (_dir, root) = with_sqlite(
            "HomeDomain",
            "Library/CallHistoryDB/CallHistory.storedata",
            "CREATE TABLE ZCALLRECORD (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
                ZANSWERED INTEGER, ZCALLTYPE INTEGER, ZORIGINATED INTEGER, ZREAD INTEGER,
                ZDATE TIMESTAMP, ZDURATION FLOAT, ZADDRESS VARCHAR, ZISO_COUNTRY_CODE VARCHAR,
                ZLOCATION VARCHAR, ZNAME VARCHAR, ZSERVICE_PROVIDER VARCHAR, ZUNIQUE_ID VARCHAR);
             INSERT INTO ZCALLRECORD VALUES (1, 2, 1, 1, 1, 0, 1, 588901981.253102, 63.5,
                CAST('+15555550100' AS BLOB), 'us', 'California', NULL, 'com.apple.Telephony', 'U-1');
             INSERT INTO ZCALLRECORD VALUES (2, 2, 1, 0, 8, 1, 1, 600000000, 0.0,
                'alice@example.org', 'us', NULL, NULL, 'com.apple.FaceTime', 'U-2');",
        );
        let backup = Backup::open(&root).unwrap();
        let out = run(&Calls, &backup, &Indicators::new()).unwrap();
        let recs = list(&out);
        assert_eq!(recs.len(), 2);
        assert_eq!(
            recs[0],
            json!({"isodate": "2019-08-30 23:53:01.253102", "duration": 63.5, "location": "California",
                   "number": "+15555550100", "provider": "com.apple.Telephony"})
        );
        assert_eq!(recs[1]["location"], Value::Null);
        assert_eq!(out.timeline.len(), 2);
        assert_eq!(out.timeline[0].event, "call");
        assert_eq!(out.timeline[0].timestamp, "2019-08-30 23:53:01.253102");
        assert_eq!(
            out.timeline[0].data,
            "From +15555550100 using com.apple.Telephony during 63.5 seconds"
        );
        assert_eq!(
            out.timeline[1].data,
            "From alice@example.org using com.apple.FaceTime during 0.0 seconds"
        );
        assert!(out.alerts.is_empty());
    }

    #[test]
    fn corrupt_or_unexpected_database_names_the_file() {
        let (_dir, root) = with_file(
            "HomeDomain",
            "Library/CallHistoryDB/CallHistory.storedata",
            &[0x53, 0x51, 0x4c, 0xff, 0x00, 0x13, 0x37].repeat(200),
        );
        let backup = Backup::open(&root).unwrap();
        let err = run(&Calls, &backup, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("5a/5a4935c78a5255723f707230a451d79c540d2741"),
            "{err}"
        );

        // A ZCALLRECORD without the expected columns is a query error naming the file.
        let (_dir, root) = with_sqlite(
            "HomeDomain",
            "Library/CallHistoryDB/CallHistory.storedata",
            "CREATE TABLE ZCALLRECORD (Z_PK INTEGER PRIMARY KEY, ZDATE TIMESTAMP);",
        );
        let backup = Backup::open(&root).unwrap();
        let err = run(&Calls, &backup, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }), "{err}");
        assert!(err.to_string().contains("5a/5a4935c7"), "{err}");
    }

    #[test]
    fn fixture_has_no_call_history() {
        let Some(backup) = fixture_backup() else {
            return;
        };
        assert!(matches!(
            run(&Calls, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }
}
