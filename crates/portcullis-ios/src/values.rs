//! Turning SQLite rows and property-list values into JSON records, and times and values into
//! the text MVT writes (ISO times, Python-style `str()`).

use base64::Engine;
use portcullis_report::time::{from_mac_absolute, from_mac_absolute_int, from_unix};
use rusqlite::types::ValueRef;
use serde_json::{Map, Value};

use crate::ModuleError;

/// A JSON record: field name to value, in column order.
pub type Record = Map<String, Value>;

/// Bytes as text the way MVT writes them: UTF-8 where valid, `\xNN` for each invalid byte.
pub fn escaped_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One SQLite value as JSON; blobs become escaped text (see [`escaped_bytes`]).
pub fn sql_value(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(escaped_bytes(b)),
    }
}

/// Runs `sql` and returns every row as a record keyed by column name. `path` names the database
/// in errors.
pub fn query_records(
    conn: &rusqlite::Connection,
    path: &str,
    sql: &str,
) -> Result<Vec<Record>, ModuleError> {
    query_records_with_base64(conn, path, sql, &[])
}

/// [`query_records`], except that non-empty blobs of `base64_columns` (archived objects, binary
/// payloads) become base64 rather than escaped text.
pub fn query_records_with_base64(
    conn: &rusqlite::Connection,
    path: &str,
    sql: &str,
    base64_columns: &[&str],
) -> Result<Vec<Record>, ModuleError> {
    let mut out = Vec::new();
    for_each_record(conn, path, sql, base64_columns, |rec| {
        out.push(rec);
        Ok(())
    })?;
    Ok(out)
}

/// [`query_records_with_base64`] one row at a time: large tables (messages, visits) are never
/// held whole.
pub fn for_each_record(
    conn: &rusqlite::Connection,
    path: &str,
    sql: &str,
    base64_columns: &[&str],
    mut each: impl FnMut(Record) -> Result<(), ModuleError>,
) -> Result<(), ModuleError> {
    let err = ModuleError::query(path);
    let mut stmt = conn.prepare(sql).map_err(&err)?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut rows = stmt.query([]).map_err(&err)?;
    while let Some(row) = rows.next().map_err(&err)? {
        let mut rec = Record::new();
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i) {
                Ok(ValueRef::Blob(b))
                    if !b.is_empty() && base64_columns.contains(&name.as_str()) =>
                {
                    Value::String(base64(b))
                }
                Ok(v) => sql_value(v),
                Err(_) => Value::Null,
            };
            rec.insert(name.clone(), value);
        }
        each(rec)?;
    }
    Ok(())
}

/// Whether a table exists in the database.
pub fn has_table(conn: &rusqlite::Connection, table: &str) -> bool {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1",
        [table],
        |_| Ok(()),
    )
    .is_ok()
}

/// Column names of a table (empty when it does not exist).
pub fn table_columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let sql = format!("PRAGMA table_info(\"{}\")", table.replace('"', "\"\""));
    let Ok(mut stmt) = conn.prepare(&sql) else {
        return Vec::new();
    };
    stmt.query_map([], |r| r.get::<_, String>(1))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// A property-list value as JSON: data as base64, dates as ISO time, UIDs as numbers.
pub fn plist_to_json(value: &plist::Value) -> Value {
    match value {
        plist::Value::Array(a) => Value::Array(a.iter().map(plist_to_json).collect()),
        plist::Value::Dictionary(d) => Value::Object(
            d.iter()
                .map(|(k, v)| (k.clone(), plist_to_json(v)))
                .collect(),
        ),
        plist::Value::Boolean(b) => Value::Bool(*b),
        plist::Value::Data(bytes) => Value::String(base64(bytes)),
        plist::Value::Date(date) => Value::String(plist_date_iso(date)),
        plist::Value::Real(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        plist::Value::Integer(i) => i
            .as_signed()
            .map(Value::from)
            .or_else(|| i.as_unsigned().map(Value::from))
            .unwrap_or(Value::Null),
        plist::Value::String(s) => Value::String(s.clone()),
        plist::Value::Uid(u) => Value::from(u.get()),
        _ => Value::Null,
    }
}

/// A plist date as ISO time.
pub fn plist_date_iso(date: &plist::Date) -> String {
    let t: std::time::SystemTime = (*date).into();
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => portcullis_report::time::from_unix(d.as_secs_f64()),
        Err(e) => portcullis_report::time::from_unix(-e.duration().as_secs_f64()),
    }
    .unwrap_or_default()
}

/// A record field as text, or "" when absent or not a string.
pub fn text<'a>(record: &'a Record, key: &str) -> &'a str {
    record.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A record field as a float, accepting integers and reals.
pub fn number(record: &Record, key: &str) -> Option<f64> {
    record.get(key).and_then(Value::as_f64)
}

/// Mac absolute time in `record[key]` as ISO time, or "" when absent.
pub fn mac_time(record: &Record, key: &str) -> String {
    record.get(key).and_then(mac_number_iso).unwrap_or_default()
}

/// A number of Mac absolute time (seconds since 2001, or nanoseconds as `sms.db` stores them) as
/// ISO time; `None` when not a number or out of range.
pub fn mac_number_iso(value: &Value) -> Option<String> {
    let Value::Number(n) = value else {
        return None;
    };
    n.as_i64()
        .and_then(from_mac_absolute_int)
        .or_else(|| n.as_f64().and_then(from_mac_absolute))
}

/// [`mac_number_iso`], except that zero, which the phone writes for "never", is `None` too.
pub fn mac_iso(value: &Value) -> Option<String> {
    mac_number_iso(value).filter(|_| value.as_f64() != Some(0.0))
}

/// Unix time (seconds) as ISO time; `None` for null, zero or not a number.
pub fn unix_iso(value: &Value) -> Option<String> {
    value
        .as_f64()
        .filter(|f| *f != 0.0 && f.is_finite())
        .and_then(from_unix)
}

/// An optional ISO time as a JSON value (null when absent).
pub fn json_time(time: Option<String>) -> Value {
    time.map_or(Value::Null, Value::String)
}

/// A plist time given as a date or as Mac absolute seconds, as ISO time.
pub fn plist_mac_iso(value: &plist::Value) -> Option<String> {
    match value {
        plist::Value::Date(d) => Some(plist_date_iso(d)),
        plist::Value::Real(f) => from_mac_absolute(*f),
        plist::Value::Integer(i) => i.as_signed().and_then(from_mac_absolute_int),
        _ => None,
    }
}

/// A plist time given as a date or as Unix seconds, as ISO time.
pub fn plist_unix_iso(value: &plist::Value) -> Option<String> {
    match value {
        plist::Value::Date(d) => Some(plist_date_iso(d)),
        plist::Value::Real(f) => from_unix(*f),
        plist::Value::Integer(i) => i.as_signed().and_then(|s| from_unix(s as f64)),
        _ => None,
    }
}

/// A value as MVT prints it in messages and timeline rows (Python `str()`: `None`, `True`,
/// `False`), so they compare line for line with MVT's.
pub fn py_str(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "True".to_string(),
        Some(Value::Bool(false)) => "False".to_string(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invalid_utf8_is_escaped() {
        assert_eq!(escaped_bytes(b"ab\xffc"), "ab\\xffc");
        assert_eq!(escaped_bytes("é".as_bytes()), "é");
    }

    #[test]
    fn rows_become_records() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t(a INTEGER, b TEXT, c BLOB, d REAL); \
             INSERT INTO t VALUES (1, 'x', x'00ff', 1.5);",
        )
        .unwrap();
        let recs = query_records(&conn, "t.db", "SELECT * FROM t").unwrap();
        assert_eq!(
            Value::Object(recs[0].clone()),
            serde_json::json!({"a": 1, "b": "x", "c": "\u{0}\\xff", "d": 1.5})
        );
        assert!(has_table(&conn, "t"));
        assert!(!has_table(&conn, "u"));
        assert_eq!(table_columns(&conn, "t"), ["a", "b", "c", "d"]);
        assert!(query_records(&conn, "t.db", "SELECT * FROM nope").is_err());
    }

    #[test]
    fn times_treat_zero_as_never() {
        assert_eq!(mac_iso(&json!(0)), None);
        assert_eq!(mac_iso(&Value::Null), None);
        assert_eq!(
            mac_iso(&json!(778100000.0)).as_deref(),
            Some("2025-08-28 18:53:20.000000")
        );
        assert_eq!(
            mac_iso(&json!(778100000)).as_deref(),
            Some("2025-08-28 18:53:20.000000")
        );
        assert_eq!(
            unix_iso(&json!(1634560250.0)).as_deref(),
            Some("2021-10-18 12:30:50.000000")
        );
        assert_eq!(unix_iso(&json!("x")), None);
    }

    #[test]
    fn python_style_text() {
        assert_eq!(py_str(None), "None");
        assert_eq!(py_str(Some(&json!(3))), "3");
        assert_eq!(py_str(Some(&json!("a"))), "a");
        assert_eq!(py_str(Some(&json!(true))), "True");
    }
}
