//! `dumpsys adb`: the computers trusted for USB/Wi-Fi debugging (their public keys), which can
//! install apps and read data without unlocking the phone.

use std::sync::LazyLock;

use base64::Engine;
use portcullis_core::{ModuleOutput, Results};
use regex::Regex;
use serde_json::{Map, Value, json};

use super::with_section;
use crate::{Context, Module, ModuleError};

pub struct DumpsysAdbState;

impl Module<Context<'_>> for DumpsysAdbState {
    fn name(&self) -> &'static str {
        "DumpsysADBState"
    }

    fn slug(&self) -> &'static str {
        "dumpsys_adb"
    }

    /// One record, the `debugging_manager` state; no alerts (MVT only compares the keys with an
    /// AndroidQF acquisition's host key).
    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let out = with_section(ctx, "adb", |section, _| {
            let mut out = ModuleOutput::default();
            if let Some(state) = parse(section) {
                for key in state
                    .get("user_keys")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    tracing::debug!(
                        "Found trusted ADB key for user '{}' with fingerprint '{}'",
                        key["user"].as_str().unwrap_or(""),
                        key["fingerprint"].as_str().unwrap_or("")
                    );
                }
                out.results = Results::List(vec![Value::Object(state)]);
            }
            out
        })?;
        if out.results.is_empty() {
            return Err(ModuleError::NotFound(
                "Could not load ADB data from dumpsys. It may not be supported on this device."
                    .into(),
            ));
        }
        Ok(out)
    }
}

/// A `key=value` line of the indented dump.
static FIELD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$").expect("valid field pattern"));
static ADB_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"<adbKey\s[^>]*?key="([^"]*)"[^>]*?lastConnection="([^"]*)""#)
        .expect("valid adbKey pattern")
});

/// One value of the indented dump while it is being read.
enum Node {
    Text(String),
    Dict(Vec<(String, Node)>),
}

impl Node {
    fn into_json(self) -> Value {
        match self {
            Node::Text(s) => Value::String(s),
            Node::Dict(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k, v.into_json()))
                    .collect(),
            ),
        }
    }
}

/// Reads the `key={ … }` tree of `dumpsys adb` (Android's `DualDumpOutputStream` text form).
/// A value continues on the following lines that are not `key=value` lines, `}` or blank
/// (`user_keys` lists one key per line; `keystore` may be a multi-line XML document).
fn indented_tree(lines: &[&str]) -> Vec<(String, Node)> {
    let mut stack: Vec<Vec<(String, Node)>> = vec![Vec::new()];
    let mut open_keys: Vec<String> = Vec::new();
    let mut continuing = false;
    for line in lines {
        let t = line.trim();
        if t.is_empty() {
            continuing = false;
            continue;
        }
        if t == "}" {
            continuing = false;
            close_block(&mut stack, &mut open_keys);
            continue;
        }
        let current = stack.last_mut().expect("the root level is never popped");
        match FIELD.captures(t) {
            Some(c) if &c[2] == "{" => {
                stack.push(Vec::new());
                open_keys.push(c[1].to_string());
                continuing = false;
            }
            Some(c) => {
                current.push((c[1].to_string(), Node::Text(c[2].to_string())));
                continuing = true;
            }
            None if continuing => {
                if let Some((_, Node::Text(value))) = current.last_mut() {
                    value.push('\n');
                    value.push_str(t);
                }
            }
            None => {}
        }
    }
    // Blocks left open by a truncated dump keep what they had.
    while close_block(&mut stack, &mut open_keys) {}
    stack.pop().unwrap_or_default()
}

/// Closes the innermost open block into its parent; `false` at the root level (a stray `}`).
fn close_block(stack: &mut Vec<Vec<(String, Node)>>, open_keys: &mut Vec<String>) -> bool {
    let Some(key) = open_keys.pop() else {
        return false;
    };
    let fields = stack.pop().unwrap_or_default();
    if let Some(parent) = stack.last_mut() {
        parent.push((key, Node::Dict(fields)));
    }
    true
}

/// `{user, fingerprint, key}` of a `<base64 key> <user>` line; the fingerprint (MD5 of the
/// decoded key, upper-case hex pairs joined by `:`) is `null` when the key is not valid base64.
pub(crate) fn key_info(line: &str) -> Value {
    let (key, user) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
    let fingerprint = base64::engine::general_purpose::STANDARD
        .decode(key)
        .ok()
        .map(|raw| {
            md5(&raw)
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        });
    json!({"user": user, "fingerprint": fingerprint, "key": key})
}

/// The `debugging_manager` state of a `dumpsys adb` section, `None` when it has none. Values are
/// text, nested blocks objects; `user_keys` becomes `[{user, fingerprint, key}]` and an XML
/// `keystore` `[{user, fingerprint, key, last_connected}]` (milliseconds, as written); a binary
/// (ABX) keystore stays text.
pub(crate) fn parse(section: &str) -> Option<Map<String, Value>> {
    let lines: Vec<&str> = section.lines().collect();
    let Value::Object(mut tree) = Node::Dict(indented_tree(&lines)).into_json() else {
        return None;
    };
    let Some(Value::Object(mut manager)) = tree.remove("debugging_manager") else {
        return None;
    };
    if let Some(Value::String(keys)) = manager.get("user_keys") {
        let keys: Vec<Value> = keys
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(key_info)
            .collect();
        manager.insert("user_keys".into(), keys.into());
    }
    if let Some(Value::String(store)) = manager.get("keystore")
        && store.trim_start().starts_with("<?xml")
    {
        let entries: Vec<Value> = ADB_KEY
            .captures_iter(store)
            .map(|c| {
                let mut info = key_info(&c[1]);
                info["last_connected"] = c[2].into();
                info
            })
            .collect();
        manager.insert("keystore".into(), entries.into());
    }
    Some(manager)
}

/// MD5 (RFC 1321), only for ADB key fingerprints as Android shows them.
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: [u32; 64] =
        std::array::from_fn(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32);
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for chunk in message.chunks_exact(64) {
        let m: [u32; 16] = std::array::from_fn(|i| {
            u32::from_le_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ])
        });
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(k[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 16];
    for (i, word) in state.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn md5_vectors() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            )),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn mvt_fixtures() {
        let Some(plain) = fixture_text("dumpsys_adb.txt") else {
            return;
        };
        let state = parse(&plain).unwrap();
        assert_eq!(state["connected_to_adb"], "true");
        let keys = state["user_keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["user"], "user@linux");
        // Android's own fingerprint of the last key it received is the same key's.
        assert_eq!(keys[0]["fingerprint"], state["last_key_received"]);
        assert!(state["keystore"].is_string());

        let wifi = parse(&fixture_text("dumpsys_adb_wifi.txt").unwrap()).unwrap();
        assert_eq!(wifi["adb_wifi"]["enabled"], "false");
        assert_eq!(wifi["user_keys"][0]["user"], "user@linux");
        assert!(
            wifi["keystore"]
                .as_str()
                .is_some_and(|k| !k.contains("adb_wifi"))
        );

        let xml = parse(&fixture_text("dumpsys_adb_xml.txt").unwrap()).unwrap();
        assert_eq!(xml["user_keys"][0]["user"], "user@laptop");
        assert_eq!(xml["keystore"][0]["last_connected"], "1628501829898");
        assert_eq!(xml["keystore"][0]["user"], "user@laptop");
    }

    #[test]
    fn module_and_garbage() {
        let dump = "DUMP OF SERVICE adb:\r\nADB MANAGER STATE (dumpsys adb):\r\n{\r\n  debugging_manager={\r\n    connected_to_adb=false\r\n\
                    \x20   user_keys=notbase64! me@host\r\n  }\r\n}\r\n";
        let out = run_on_dumpstate(&DumpsysAdbState, dump, &Default::default());
        let state = &records(&out)[0];
        assert_eq!(state["user_keys"][0]["fingerprint"], Value::Null);
        assert_eq!(state["user_keys"][0]["user"], "me@host");
        assert!(parse("Can't find service: adb").is_none());
        assert!(parse("{\n}\n}\n}\n debugging_manager=x\n").is_none());
        // Truncated: the open block keeps what it had.
        assert_eq!(
            parse("debugging_manager={\n  a=1\n  b={\n").unwrap()["a"],
            "1"
        );
        with_folder(
            &[(
                "dumpstate.txt",
                "DUMP OF SERVICE adb:\nCan't find service: adb\n",
            )],
            |root| {
                let run = folder_context(root, &Default::default(), |ctx| DumpsysAdbState.run(ctx));
                assert!(matches!(run, Err(ModuleError::NotFound(_))));
            },
        );
    }
}
