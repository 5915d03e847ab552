//! A decoder for NSKeyedArchiver property lists (Manifest.db's `file` blobs and others).
//!
//! An archive is a plist with `$objects` (a flat table) and `$top` (roots), where objects point
//! at each other by UID. UIDs come as `Value::Uid` in binary plists and as `{"CF$UID": n}` in XML
//! ones. Archives from a phone are hostile: references can loop, so depth is capped.

use plist::{Dictionary, Value};

/// Deepest nesting followed before giving up (real archives are a few levels deep).
const MAX_DEPTH: usize = 64;

/// Most values produced from one archive: shared references can otherwise expand exponentially.
const MAX_NODES: usize = 100_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("not an NSKeyedArchiver archive: {0}")]
    NotAnArchive(&'static str),
    #[error("object reference {0} is outside the archive")]
    BadReference(u64),
    #[error("archive nests deeper than {MAX_DEPTH} levels (a reference loop?)")]
    TooDeep,
    #[error("archive expands to more than {MAX_NODES} values")]
    TooLarge,
}

/// Decodes the archive's root object (`$top.root`) into plain plist values: dictionaries for
/// NSDictionary and custom classes (keeping `$class` as the class name), arrays for
/// NSArray/NSSet, and the wrapped value for NSString, NSData, NSDate and NSNumber.
pub fn unarchive(archive: &Value) -> Result<Value, ArchiveError> {
    let dict = archive
        .as_dictionary()
        .ok_or(ArchiveError::NotAnArchive("top level is not a dictionary"))?;
    let objects = dict
        .get("$objects")
        .and_then(Value::as_array)
        .ok_or(ArchiveError::NotAnArchive("no $objects array"))?;
    let top = dict
        .get("$top")
        .and_then(Value::as_dictionary)
        .ok_or(ArchiveError::NotAnArchive("no $top dictionary"))?;
    let root = top
        .get("root")
        .or_else(|| top.values().next())
        .ok_or(ArchiveError::NotAnArchive("empty $top"))?;
    Decoder {
        objects,
        nodes: std::cell::Cell::new(0),
    }
    .resolve(root, 0)
}

/// Decodes an archive from bytes (binary or XML plist).
pub fn unarchive_bytes(bytes: &[u8]) -> Result<Value, String> {
    let value = portcullis_evidence::property_list::parse(bytes).map_err(|e| e.to_string())?;
    unarchive(&value).map_err(|e| e.to_string())
}

struct Decoder<'a> {
    objects: &'a [Value],
    nodes: std::cell::Cell<usize>,
}

fn uid_of(value: &Value) -> Option<u64> {
    match value {
        Value::Uid(uid) => Some(uid.get()),
        Value::Dictionary(d) if d.len() == 1 => {
            d.get("CF$UID").and_then(Value::as_unsigned_integer)
        }
        _ => None,
    }
}

impl Decoder<'_> {
    fn object(&self, uid: u64) -> Result<&Value, ArchiveError> {
        usize::try_from(uid)
            .ok()
            .and_then(|i| self.objects.get(i))
            .ok_or(ArchiveError::BadReference(uid))
    }

    fn class_name(&self, dict: &Dictionary) -> Option<String> {
        let class_ref = dict.get("$class")?;
        let class = self.object(uid_of(class_ref)?).ok()?;
        class
            .as_dictionary()?
            .get("$classname")?
            .as_string()
            .map(str::to_string)
    }

    fn resolve(&self, value: &Value, depth: usize) -> Result<Value, ArchiveError> {
        if depth > MAX_DEPTH {
            return Err(ArchiveError::TooDeep);
        }
        self.nodes.set(self.nodes.get() + 1);
        if self.nodes.get() > MAX_NODES {
            return Err(ArchiveError::TooLarge);
        }
        if let Some(uid) = uid_of(value) {
            let target = self.object(uid)?;
            if let Value::String(s) = target
                && s == "$null"
            {
                return Ok(Value::String(String::new()));
            }
            return self.resolve(target, depth + 1);
        }
        match value {
            Value::Array(items) => items
                .iter()
                .map(|v| self.resolve(v, depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Dictionary(dict) => self.resolve_dict(dict, depth),
            other => Ok(other.clone()),
        }
    }

    fn resolve_dict(&self, dict: &Dictionary, depth: usize) -> Result<Value, ArchiveError> {
        let class = self.class_name(dict);
        match class.as_deref() {
            Some("NSDictionary" | "NSMutableDictionary") => {
                let keys = dict.get("NS.keys").and_then(Value::as_array);
                let values = dict.get("NS.objects").and_then(Value::as_array);
                let mut out = Dictionary::new();
                if let (Some(keys), Some(values)) = (keys, values) {
                    for (k, v) in keys.iter().zip(values) {
                        let key = match self.resolve(k, depth + 1)? {
                            Value::String(s) => s,
                            other => format!("{other:?}"),
                        };
                        out.insert(key, self.resolve(v, depth + 1)?);
                    }
                }
                Ok(Value::Dictionary(out))
            }
            Some("NSArray" | "NSMutableArray" | "NSSet" | "NSMutableSet") => {
                match dict.get("NS.objects") {
                    Some(objects) => self.resolve(objects, depth + 1),
                    None => Ok(Value::Array(Vec::new())),
                }
            }
            Some("NSString" | "NSMutableString") => Ok(dict
                .get("NS.string")
                .cloned()
                .unwrap_or(Value::String(String::new()))),
            Some("NSData" | "NSMutableData") => Ok(dict
                .get("NS.data")
                .or_else(|| dict.get("NS.bytes"))
                .cloned()
                .unwrap_or(Value::Data(Vec::new()))),
            Some("NSDate") => Ok(dict.get("NS.time").cloned().unwrap_or(Value::Real(0.0))),
            _ => {
                let mut out = Dictionary::new();
                for (k, v) in dict {
                    if k == "$class" {
                        if let Some(name) = &class {
                            out.insert(k.clone(), Value::String(name.clone()));
                        }
                        continue;
                    }
                    out.insert(k.clone(), self.resolve(v, depth + 1)?);
                }
                Ok(Value::Dictionary(out))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plist::Uid;

    fn archive(objects: Vec<Value>) -> Value {
        let mut top = Dictionary::new();
        top.insert("root".into(), Value::Uid(Uid::new(1)));
        let mut d = Dictionary::new();
        d.insert("$archiver".into(), "NSKeyedArchiver".into());
        d.insert("$objects".into(), Value::Array(objects));
        d.insert("$top".into(), Value::Dictionary(top));
        Value::Dictionary(d)
    }

    fn class(name: &str) -> Value {
        let mut d = Dictionary::new();
        d.insert("$classname".into(), name.into());
        Value::Dictionary(d)
    }

    #[test]
    fn decodes_custom_class_with_nested_data() {
        let mut file = Dictionary::new();
        file.insert("$class".into(), Value::Uid(Uid::new(2)));
        file.insert("Size".into(), 42.into());
        file.insert("RelativePath".into(), Value::Uid(Uid::new(3)));
        file.insert("EncryptionKey".into(), Value::Uid(Uid::new(4)));
        let mut data = Dictionary::new();
        data.insert("$class".into(), Value::Uid(Uid::new(5)));
        data.insert("NS.data".into(), Value::Data(vec![1, 2, 3]));
        let v = unarchive(&archive(vec![
            "$null".into(),
            Value::Dictionary(file),
            class("MBFile"),
            "Library/SMS/sms.db".into(),
            Value::Dictionary(data),
            class("NSMutableData"),
        ]))
        .unwrap();
        let d = v.as_dictionary().unwrap();
        assert_eq!(d.get("$class").unwrap().as_string(), Some("MBFile"));
        assert_eq!(d.get("Size").unwrap().as_signed_integer(), Some(42));
        assert_eq!(
            d.get("RelativePath").unwrap().as_string(),
            Some("Library/SMS/sms.db")
        );
        assert_eq!(
            d.get("EncryptionKey").unwrap().as_data(),
            Some(&[1, 2, 3][..])
        );
    }

    #[test]
    fn xml_style_uids_resolve() {
        let mut uid = Dictionary::new();
        uid.insert("CF$UID".into(), 2.into());
        let mut root = Dictionary::new();
        root.insert("name".into(), Value::Dictionary(uid));
        let v = unarchive(&archive(vec![
            "$null".into(),
            Value::Dictionary(root),
            "x".into(),
        ]))
        .unwrap();
        assert_eq!(
            v.as_dictionary().unwrap().get("name").unwrap().as_string(),
            Some("x")
        );
    }

    #[test]
    fn loops_and_bad_references_are_errors_not_panics() {
        let mut looping = Dictionary::new();
        looping.insert("self".into(), Value::Uid(Uid::new(1)));
        assert_eq!(
            unarchive(&archive(vec!["$null".into(), Value::Dictionary(looping)])),
            Err(ArchiveError::TooDeep)
        );
        let mut dangling = Dictionary::new();
        dangling.insert("x".into(), Value::Uid(Uid::new(99)));
        assert_eq!(
            unarchive(&archive(vec!["$null".into(), Value::Dictionary(dangling)])),
            Err(ArchiveError::BadReference(99))
        );
        assert!(unarchive(&Value::Array(vec![])).is_err());
        assert!(unarchive_bytes(b"garbage").is_err());
    }
}
