//! The fast STIX readers against serde on the same bytes. Loading a bundle of 8 MiB or more
//! uses a threaded parse built on a flat object reader, and relies on this: wherever either
//! gives an answer, it is what the ordinary serde parse gives. Checked here on small inputs
//! (the threaded parse in 2 and 3 pieces, the flat reader at every `{`), and the ordinary parse's
//! indicators against a plain `serde_json::Value` reading whenever serde_json takes the input.
//! Both parses also check what they prove of the relationships (see `fuzzing::aligned`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_indicators::fuzzing::{
    Reused, flat_object, ordinary_parse, serde_object, threaded_parse,
};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// Most `{` offsets given to the flat reader per input (keeps each run short).
const MAX_OBJECT_STARTS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let by_serde = ordinary_parse(data);
    for pieces in [2, 3] {
        if let Some(by_threads) = threaded_parse(data, pieces) {
            assert_eq!(Ok(&by_threads), by_serde.as_ref(), "{pieces} pieces");
        }
    }
    let mut reused = Reused::default();
    let starts = data.iter().enumerate().filter(|&(_, &b)| b == b'{');
    for (at, _) in starts.take(MAX_OBJECT_STARTS) {
        if let Some(flat) = flat_object(&data[at..], &mut reused) {
            assert_eq!(Some(flat), serde_object(&data[at..]), "object at {at}");
        }
    }
    if let (Ok(summary), Ok(FirstObjects(Some(Value::Array(objects))))) =
        (&by_serde, serde_json::from_slice::<FirstObjects>(data))
        && objects.iter().all(Value::is_object)
    {
        assert_eq!(summary.indicators, indicators(&objects));
    }
});

/// Each indicator's id (`""` when it has none) and pattern, read from plain JSON values.
fn indicators(objects: &[Value]) -> Vec<(String, Option<String>)> {
    let text =
        |object: &Value, key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
    objects
        .iter()
        .filter(|object| object.get("type").and_then(Value::as_str) == Some("indicator"))
        .map(|object| {
            (
                text(object, "id").unwrap_or_default(),
                text(object, "pattern"),
            )
        })
        .collect()
}

/// The top level's first `objects` value. A JSON object with a repeated key keeps its last
/// value in a `serde_json::Map`, while the bundle reader (like MVT) uses the first: this reads
/// the top level key by key to do the same.
struct FirstObjects(Option<Value>);

impl<'de> Deserialize<'de> for FirstObjects {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopLevel;
        impl<'de> Visitor<'de> for TopLevel {
            type Value = FirstObjects;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirstObjects, A::Error> {
                let mut objects = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<Value>()?;
                    if key == "objects" && objects.is_none() {
                        objects = Some(value);
                    }
                }
                Ok(FirstObjects(objects))
            }
        }
        deserializer.deserialize_map(TopLevel)
    }
}
