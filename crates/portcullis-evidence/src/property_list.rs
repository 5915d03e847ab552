//! Property lists (binary, XML or ASCII) parsed without recursion and within bounds.
//!
//! The `plist` crate builds values recursively, so a plist nested tens of thousands of levels
//! (a few hundred kilobytes of `<array>`) overflows the stack and aborts the whole process; and a
//! binary plist whose containers share references can expand exponentially. A phone's files are
//! hostile input, so every plist Portcullis reads goes through [`parse`]: the crate's event
//! readers (which do not recurse) feed a builder with an explicit stack, a depth limit and a
//! budget of values and bytes proportional to the input.

use plist::stream::{Event, Reader};
use plist::{Dictionary, Value};

/// Deepest nesting accepted. Real plists (preferences, profiles, archives) nest a few dozen
/// levels at most; this also keeps dropping a value well inside the stack.
pub const MAX_DEPTH: usize = 512;

/// Values (and string/data bytes) a plist may expand to per byte of input, plus a floor for
/// tiny files. A value costs at least one byte in every encoding unless a binary plist refers to
/// it more than once, which writers only do for small shared keys and constants.
const VALUES_PER_BYTE: u64 = 8;
const BUDGET_FLOOR: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PlistError {
    #[error("{0}")]
    Syntax(#[from] plist::Error),
    #[error("nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    #[error("expands to more than {limit} values or bytes (shared references?)")]
    TooLarge { limit: u64 },
    #[error("a dictionary key is not a string")]
    KeyNotString,
    #[error("the property list is empty or ends early")]
    Truncated,
    #[error("data after the end of the property list")]
    Trailing,
}

/// A container being filled: an array, or a dictionary with the key awaiting its value.
enum Open {
    Array(Vec<Value>),
    Dictionary(Dictionary, Option<String>),
}

impl Open {
    /// Adds a finished value; in a dictionary, a value in key position must be a string.
    fn push(&mut self, value: Value) -> Result<(), PlistError> {
        match self {
            Open::Array(items) => items.push(value),
            Open::Dictionary(dict, key) => match key.take() {
                Some(k) => {
                    dict.insert(k, value);
                }
                None => match value {
                    Value::String(k) => *key = Some(k),
                    _ => return Err(PlistError::KeyNotString),
                },
            },
        }
        Ok(())
    }

    fn close(self) -> Value {
        match self {
            Open::Array(items) => Value::Array(items),
            Open::Dictionary(dict, _) => Value::Dictionary(dict),
        }
    }
}

/// Parses a property list of any encoding from memory.
pub fn parse(bytes: &[u8]) -> Result<Value, PlistError> {
    let limit = (bytes.len() as u64)
        .saturating_mul(VALUES_PER_BYTE)
        .saturating_add(BUDGET_FLOOR);
    let mut spent = 0u64;
    let mut stack: Vec<Open> = Vec::new();
    let mut events = Reader::new(std::io::Cursor::new(bytes));
    while let Some(event) = events.next() {
        let event = event?;
        let cost = match &event {
            Event::Data(d) => d.len() as u64 + 1,
            Event::String(s) => s.len() as u64 + 1,
            _ => 1,
        };
        spent = spent.saturating_add(cost);
        if spent > limit {
            return Err(PlistError::TooLarge { limit });
        }
        let value = match event {
            Event::StartArray(_) | Event::StartDictionary(_) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(PlistError::TooDeep);
                }
                // Declared lengths are not trusted for reservations.
                stack.push(match event {
                    Event::StartArray(_) => Open::Array(Vec::new()),
                    _ => Open::Dictionary(Dictionary::new(), None),
                });
                continue;
            }
            Event::EndCollection => match stack.pop() {
                Some(open) => open.close(),
                None => return Err(PlistError::Truncated),
            },
            Event::Boolean(b) => Value::Boolean(b),
            Event::Data(d) => Value::Data(d.into_owned()),
            Event::Date(d) => Value::Date(d),
            Event::Integer(i) => Value::Integer(i),
            Event::Real(r) => Value::Real(r),
            Event::String(s) => Value::String(s.into_owned()),
            Event::Uid(u) => Value::Uid(u),
            _ => return Err(PlistError::Truncated),
        };
        match stack.last_mut() {
            Some(open) => open.push(value)?,
            // The root is complete: anything after it is an error, as in the plist crate.
            None => {
                return match events.next() {
                    None => Ok(value),
                    Some(Err(e)) => Err(e.into()),
                    Some(Ok(_)) => Err(PlistError::Trailing),
                };
            }
        }
    }
    Err(PlistError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostile::{exponential_binary_plist, nested_binary_plist, nested_xml_plist};

    #[test]
    fn ordinary_plists_parse_as_the_plist_crate_parses_them() {
        let mut dict = Dictionary::new();
        dict.insert("Name".into(), "iPhone".into());
        dict.insert(
            "List".into(),
            Value::Array(vec![1.into(), true.into(), Value::Data(vec![0, 1, 2])]),
        );
        dict.insert("Uid".into(), Value::Uid(plist::Uid::new(7)));
        let value = Value::Dictionary(dict);
        let mut binary = Vec::new();
        value.to_writer_binary(&mut binary).unwrap();
        assert_eq!(parse(&binary).unwrap(), value);
        // XML has no UIDs (NSKeyedArchiver writes them as {"CF$UID": n} dictionaries).
        let mut value = value;
        if let Value::Dictionary(d) = &mut value {
            d.remove("Uid");
        }
        let mut xml = Vec::new();
        value.to_writer_xml(&mut xml).unwrap();
        assert_eq!(parse(&xml).unwrap(), value);
        let mut ascii = Dictionary::new();
        ascii.insert("Name".into(), "x".into());
        ascii.insert("List".into(), Value::Array(vec![1.into(), 2.into()]));
        assert_eq!(
            parse(br#"{ Name = "x"; List = (1, 2); }"#).unwrap(),
            Value::Dictionary(ascii)
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        assert!(parse(&nested_xml_plist(MAX_DEPTH)).is_ok());
        let err = parse(&nested_xml_plist(50_000)).unwrap_err();
        assert!(matches!(err, PlistError::TooDeep), "{err}");
        assert_eq!(err.to_string(), "nested more than 512 levels deep");
        let inner = |v: &Value| v.as_array().and_then(|a| a.first()).cloned();
        let shallow = parse(&nested_binary_plist(3)).unwrap();
        assert_eq!(
            inner(&inner(&shallow).unwrap()),
            Some(Value::Array(Vec::new()))
        );
        assert!(parse(&nested_binary_plist(MAX_DEPTH)).is_ok());
        let err = parse(&nested_binary_plist(40_000)).unwrap_err();
        assert!(matches!(err, PlistError::TooDeep), "{err}");
    }

    #[test]
    fn shared_references_cannot_expand_without_bound() {
        // 2^4 leaves: fine. 2^60 leaves from under a kilobyte: refused at the budget.
        let small = parse(&exponential_binary_plist(4)).unwrap();
        let leaves = |mut v: &Value| {
            let mut depth = 0;
            while let Value::Array(items) = v {
                assert_eq!(items.len(), 2);
                v = &items[0];
                depth += 1;
            }
            (depth, v.clone())
        };
        assert_eq!(leaves(&small), (4, Value::String("lol".into())));
        let bomb = exponential_binary_plist(60);
        assert!(bomb.len() < 1024);
        let err = parse(&bomb).unwrap_err();
        assert!(matches!(err, PlistError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn garbage_empty_and_truncated_input_are_errors() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\xff\xfe garbage").is_err());
        let xml = nested_xml_plist(3);
        assert!(parse(&xml[..xml.len() - 20]).is_err());
        let mut binary = Vec::new();
        Value::Array(vec![1.into(), 2.into()])
            .to_writer_binary(&mut binary)
            .unwrap();
        for cut in 0..binary.len() {
            assert!(parse(&binary[..cut]).is_err(), "cut at {cut}");
        }
    }
}
