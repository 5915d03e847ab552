//! `AddressBook.sqlitedb`: every phone number, e-mail address and other value of each contact.

use portcullis_core::{ModuleOutput, Results};
use serde_json::{Value, json};

use super::common::open_fixed;
use crate::values::{has_table, query_records};
use crate::{Context, Module, ModuleError};

/// HomeDomain-Library/AddressBook/AddressBook.sqlitedb
const BACKUP_IDS: &[&str] = &["31bb7ba8914766d4ba40d6dfb6113c8b614be442"];

pub struct Contacts;

impl Module<Context<'_>> for Contacts {
    fn name(&self) -> &'static str {
        "Contacts"
    }

    fn slug(&self) -> &'static str {
        "contacts"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, BACKUP_IDS, "AddressBook.sqlitedb")?;
        if !has_table(&conn, "ABPerson") || !has_table(&conn, "ABMultiValue") {
            return Err(ModuleError::NotFound(format!(
                "{source}: AddressBook.sqlitedb has no ABPerson/ABMultiValue tables"
            )));
        }
        let rows = query_records(
            &conn,
            &source,
            "SELECT multi.value AS value, person.first AS first, person.middle AS middle, \
             person.last AS last, person.organization AS organization \
             FROM ABPerson person, ABMultiValue multi \
             WHERE person.rowid = multi.record_id AND multi.value NOT NULL \
             ORDER BY person.rowid ASC, multi.rowid ASC",
        )?;
        let records = rows
            .into_iter()
            .map(|r| {
                let field = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
                json!({
                    "value": field("value"),
                    "first": field("first"),
                    "middle": field("middle"),
                    "last": field("last"),
                    "organization": field("organization"),
                })
            })
            .collect();
        Ok(ModuleOutput {
            results: Results::List(records),
            ..ModuleOutput::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::Backup;
    use crate::modules::test_support::{fixture_backup, list, run, with_file, with_sqlite};

    const SCHEMA: &str = "
        CREATE TABLE ABPerson (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, Last TEXT,
            Middle TEXT, FirstPhonetic TEXT, MiddlePhonetic TEXT, LastPhonetic TEXT,
            Organization TEXT, Department TEXT, Note TEXT, Kind INTEGER, Birthday TEXT,
            JobTitle TEXT, Nickname TEXT, Prefix TEXT, Suffix TEXT, CreationDate INTEGER,
            ModificationDate INTEGER);
        CREATE TABLE ABMultiValue (UID INTEGER PRIMARY KEY, record_id INTEGER, property INTEGER,
            identifier INTEGER, label INTEGER, value TEXT, guid TEXT);";

    #[test]
    fn one_record_per_contact_value() {
        let sql = format!(
            "{SCHEMA}
            INSERT INTO ABPerson VALUES (1, 'Alice', 'Liddell', 'P', NULL, NULL, NULL, 'Wonderland Ltd',
                NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, 600000000, 600000000);
            INSERT INTO ABPerson VALUES (2, 'Bob', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0,
                NULL, NULL, NULL, NULL, NULL, 600000000, 600000000);
            INSERT INTO ABMultiValue VALUES (1, 1, 3, 0, 1, '+1 (555) 555-0100', 'g1');
            INSERT INTO ABMultiValue VALUES (2, 1, 4, 1, 2, 'alice@example.org', 'g2');
            INSERT INTO ABMultiValue VALUES (3, 2, 3, 0, 1, NULL, 'g3');
            INSERT INTO ABMultiValue VALUES (4, 2, 3, 1, 1, '+15555550199', 'g4');"
        );
        let (_dir, root) = with_sqlite(
            "HomeDomain",
            "Library/AddressBook/AddressBook.sqlitedb",
            &sql,
        );
        let backup = Backup::open(&root).unwrap();
        let out = run(&Contacts, &backup, &Indicators::new()).unwrap();
        let recs = list(&out);
        assert_eq!(recs.len(), 3, "empty values are skipped");
        assert_eq!(
            recs[0],
            json!({"value": "+1 (555) 555-0100", "first": "Alice", "middle": "P", "last": "Liddell",
                   "organization": "Wonderland Ltd"})
        );
        assert_eq!(recs[1]["value"], "alice@example.org");
        assert_eq!(recs[2]["first"], "Bob");
        assert_eq!(recs[2]["last"], Value::Null);
        assert!(out.timeline.is_empty());
        assert!(out.alerts.is_empty());
    }

    #[test]
    fn corrupt_database_names_the_file() {
        let (_dir, root) = with_file(
            "HomeDomain",
            "Library/AddressBook/AddressBook.sqlitedb",
            b"\x00garbage\xff",
        );
        let backup = Backup::open(&root).unwrap();
        let err = run(&Contacts, &backup, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("31/31bb7ba8914766d4ba40d6dfb6113c8b614be442"),
            "{err}"
        );
    }

    #[test]
    fn fixture_has_no_address_book() {
        let Some(backup) = fixture_backup() else {
            return;
        };
        assert!(matches!(
            run(&Contacts, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }
}
