//! The `Non-Data Actions` part of a resolver table in `dumpsys package` (`Activity Resolver
//! Table:`, `Receiver Resolver Table:`): which components answer which intent.

use super::indent;

/// One intent and the components (`pkg/class`) registered for it, in dump order.
pub(crate) struct IntentComponents<'t> {
    pub(crate) intent: &'t str,
    pub(crate) components: Vec<&'t str>,
}

/// A component line: `<hex id> <pkg/class> [more]`.
fn component(trimmed: &str) -> Option<&str> {
    let mut parts = trimmed.split_whitespace();
    let id = parts.next()?;
    let name = parts.next()?;
    (id.chars().all(|c| c.is_ascii_hexdigit()) && name.contains('/')).then_some(name)
}

/// The intents of `table`'s `Non-Data Actions:` block. The table is found by its header at
/// any indentation; the block ends at the next line indented no deeper than its own header
/// (blank lines and filter details inside it are passed over).
pub(crate) fn non_data_actions<'t>(section: &'t str, table: &str) -> Vec<IntentComponents<'t>> {
    let mut out: Vec<IntentComponents<'t>> = Vec::new();
    let mut table_indent = None;
    let mut block_indent = None;
    for line in section.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let Some(table_at) = table_indent else {
            if t == table {
                table_indent = Some(indent(line));
            }
            continue;
        };
        let Some(block_at) = block_indent else {
            if indent(line) <= table_at {
                break;
            }
            if t == "Non-Data Actions:" {
                block_indent = Some(indent(line));
            }
            continue;
        };
        if indent(line) <= block_at {
            break;
        }
        if let Some(name) = component(t) {
            if let Some(current) = out.last_mut() {
                current.components.push(name);
            }
        } else if let Some(intent) = t.strip_suffix(':')
            && !intent.contains(char::is_whitespace)
        {
            out.push(IntentComponents {
                intent,
                components: Vec::new(),
            });
        }
    }
    out
}

/// `pkg` of a `pkg/class` component.
pub(crate) fn package_of(component: &str) -> &str {
    component.split('/').next().unwrap_or(component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_layout() {
        let dump = "Activity Resolver Table:\n  Full MIME Types:\n      a/b:\n        1 x.y/.Z\n\n\
                    \tNon-Data Actions:\r\n\t\tandroid.intent.action.MAIN:\r\n\t\t  4d2f0a1 p.q/.Main filter 7d3b\r\n\
                    \t\t    Action: \"android.intent.action.MAIN\"\r\n\r\n\t\t  ff r.s/r.s.Other\r\n\
                    \t\tempty.intent:\r\nReceiver Resolver Table:\n  Non-Data Actions:\n      recv:\n        1 t.u/.R\n";
        let found = non_data_actions(dump, "Activity Resolver Table:");
        let flat: Vec<_> = found
            .iter()
            .map(|i| (i.intent, i.components.clone()))
            .collect();
        assert_eq!(
            flat,
            [
                (
                    "android.intent.action.MAIN",
                    vec!["p.q/.Main", "r.s/r.s.Other"]
                ),
                ("empty.intent", vec![]),
            ]
        );
        let receivers = non_data_actions(dump, "Receiver Resolver Table:");
        assert_eq!(receivers[0].components, ["t.u/.R"]);
        assert_eq!(package_of("t.u/.R"), "t.u");
        assert!(
            non_data_actions("Activity Resolver Table:\n", "Activity Resolver Table:").is_empty()
        );
        assert!(non_data_actions("garbage\n\0\0", "Activity Resolver Table:").is_empty());
        // Components before any intent are dropped, not attached to nothing.
        assert!(
            non_data_actions(
                "Activity Resolver Table:\n Non-Data Actions:\n   1 a/b\n",
                "Activity Resolver Table:"
            )
            .is_empty()
        );
    }
}
