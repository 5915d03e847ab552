//! `dumpsys dbinfo`: the SQL statements apps recently ran on their databases, with the
//! database path (which names the app).

use std::sync::LazyLock;

use portcullis_core::{Alert, Level, ModuleOutput, Results};
use portcullis_indicators::Indicators;
use regex::Regex;
use serde_json::{Map, Value};

use super::{indent, text};

/// `[(YYYY-)MM-DD HH:MM:SS.mmm] [Pid:(N)]action … sql="…"` (the pid part is optional).
static OPERATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\[((?:\d{4}-)?\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3})\]\s*(?:\[Pid:\((\d+)\)\])?\s*(\w+).*?sql="(.*)"#,
    )
    .expect("valid dbinfo pattern")
});

/// The statement of `sql="…"`: up to the quote before `, path=` when there is one (so quotes
/// inside the statement are kept), else up to the last quote.
fn statement(tail: &str) -> &str {
    match tail.rfind("\", path=") {
        Some(end) => &tail[..end],
        None => tail.rsplit_once('"').map_or(tail, |(s, _)| s),
    }
}

/// `{isodate, pid?, action, sql, path}` for each line of every `Most recently executed
/// operations:` list, `path` being the database of the enclosing `Connection pool for …:`.
pub(crate) fn parse(section: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut pool: Option<&str> = None;
    let mut ops_indent: Option<usize> = None;
    for line in section.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(path) = t.strip_prefix("Connection pool for ") {
            pool = Some(path.trim_end_matches(':'));
            ops_indent = None;
            continue;
        }
        let Some(path) = pool else { continue };
        if t == "Most recently executed operations:" {
            ops_indent = Some(indent(line));
            continue;
        }
        let Some(at) = ops_indent else { continue };
        if indent(line) <= at {
            ops_indent = None;
            continue;
        }
        let Some(c) = OPERATION.captures(t) else {
            continue;
        };
        let mut record = Map::new();
        record.insert("isodate".into(), c[1].into());
        if let Some(pid) = c.get(2) {
            record.insert("pid".into(), pid.as_str().into());
        }
        record.insert("action".into(), c[3].into());
        record.insert("sql".into(), statement(&c[4]).into());
        record.insert("path".into(), path.into());
        out.push(Value::Object(record));
    }
    out
}

/// Records, and a CRITICAL alert for every part of a database path that is a known malicious
/// app id (as MVT, a record can raise more than one).
pub(crate) fn analyse(
    section: &str,
    indicators: &Indicators,
    slug: &str,
    source: &str,
) -> ModuleOutput {
    let records = parse(section);
    let mut out = ModuleOutput::default();
    for record in &records {
        for part in text(record, "path").split('/') {
            if let Some(hit) = indicators.check_app_id(part) {
                out.alerts.push(
                    Alert::indicator(Level::Critical, slug, hit, "path", "", record.clone())
                        .with_source(source),
                );
            }
        }
    }
    out.results = Results::List(records);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;
    use serde_json::json;

    #[test]
    fn mvt_fixture() {
        let Some(dump) = fixture_text("dumpsys_dbinfo.txt") else {
            return;
        };
        let records = parse(&dump);
        assert_eq!(records.len(), 5);
        assert_eq!(
            records[0],
            json!({"isodate": "2023-07-27 12:21:44.097", "pid": "0", "action": "executeForCursorWindow",
                   "sql": "PRAGMA database_list;", "path": "/data/user/0/com.wssyncmldm/databases/idmsdk.db"})
        );
        assert!(
            text(&records[3], "sql")
                .contains("WHERE (path = './DMAcc/x6g1q14r75/AppAuth/client/AAuthName')")
        );
        let out = analyse(&dump, &app_ioc("com.wssyncmldm"), "dbinfo", "f");
        assert_eq!(out.alerts.len(), 5);
    }

    #[test]
    fn old_format_quotes_and_garbage() {
        let dump = "Connection pool for /data/data/a.b/databases/x.db:\r\n\tMost recently executed operations:\r\n\
                    \t\t0: [07-27 12:21:44.097] query took 1ms - succeeded, sql=\"SELECT \"q\" FROM t\"\r\n\r\n\
                    \t\t1: [bad] x sql=\"y\"\r\n\tConnection #1:\r\n\t\t2: [07-27 12:21:44.097] skipped sql=\"z\"\r\n";
        let records = parse(dump);
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0],
            json!({"isodate": "07-27 12:21:44.097", "action": "query", "sql": "SELECT \"q\" FROM t", "path": "/data/data/a.b/databases/x.db"})
        );
        assert!(parse("Most recently executed operations:\n        0: [2023-07-27 12:21:44.097] q sql=\"x\"").is_empty());
    }
}
