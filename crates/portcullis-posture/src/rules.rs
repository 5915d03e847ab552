//! Posture rules as data (`rules/ios.json`, `rules/android.json`, compiled in) and the small
//! condition language they are written in. See `RULES.md` for the language and every fact name.
//!
//! A condition is one or more clauses joined by `and` or by `or` (not both, no parentheses):
//!
//! ```text
//! lockdown_mode == false
//! bootloader_locked == false or verified_boot_state in ["orange", "red"]
//! ```
//!
//! A clause is `FACT OP [VALUE]`, where VALUE is a JSON literal. A clause on a fact the evidence
//! did not show is *unknown*; `or` is true if any clause is true, else unknown if any is
//! unknown; `and` is false if any clause is false, else unknown if any is unknown. A rule whose
//! condition is unknown is reported as "unknown", never as a pass.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use portcullis_core::Level;
use serde::Deserialize;
use serde_json::Value;

use crate::facts::Platform;

/// A fact's value and the evidence it came from. Facts missing from a [`FactTable`] are
/// unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct FactValue {
    pub value: Value,
    pub source: String,
}

pub type FactTable = BTreeMap<String, FactValue>;

/// Comparison operators of a clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// The fact (a scalar) is one of the listed values.
    In,
    NotIn,
    /// The fact (a list) has the value as an item, or (a string) as a substring.
    Contains,
    NotContains,
    /// The fact (a list) shares at least one item with the listed values.
    Intersects,
    NotIntersects,
    /// The fact (a list or string) has no items.
    Empty,
    NotEmpty,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "in" => Op::In,
            "not_in" => Op::NotIn,
            "contains" => Op::Contains,
            "not_contains" => Op::NotContains,
            "intersects" => Op::Intersects,
            "not_intersects" => Op::NotIntersects,
            "empty" => Op::Empty,
            "not_empty" => Op::NotEmpty,
            _ => return None,
        })
    }

    fn takes_value(self) -> bool {
        !matches!(self, Op::Empty | Op::NotEmpty)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub fact: String,
    pub op: Op,
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joiner {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub clauses: Vec<Clause>,
    pub joiner: Joiner,
}

/// Three-valued result of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Unknown,
}

impl Condition {
    /// Parses `FACT OP [VALUE] (and|or FACT OP [VALUE])*`.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let mut rest = text.trim();
        let mut clauses = Vec::new();
        let mut joiner: Option<Joiner> = None;
        loop {
            let (fact, after) = split_word(rest);
            if fact.is_empty()
                || !fact
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!("expected a fact name at {rest:?}"));
            }
            let (op_text, after) = split_word(after);
            let op = Op::parse(op_text)
                .ok_or_else(|| format!("unknown operator {op_text:?} in {text:?}"))?;
            let mut after = after;
            let value = if op.takes_value() {
                let mut stream = serde_json::Deserializer::from_str(after).into_iter::<Value>();
                let value = match stream.next() {
                    Some(Ok(v)) => v,
                    _ => return Err(format!("expected a JSON value after {op_text} in {text:?}")),
                };
                after = &after[stream.byte_offset()..];
                if matches!(op, Op::In | Op::NotIn | Op::Intersects | Op::NotIntersects)
                    && !value.is_array()
                {
                    return Err(format!("{op_text} needs a [list] in {text:?}"));
                }
                value
            } else {
                Value::Null
            };
            clauses.push(Clause {
                fact: fact.to_string(),
                op,
                value,
            });
            let after = after.trim_start();
            if after.is_empty() {
                break;
            }
            let (word, next) = split_word(after);
            let this = match word {
                "and" => Joiner::And,
                "or" => Joiner::Or,
                _ => return Err(format!("expected `and`, `or` or the end at {after:?}")),
            };
            if joiner.is_some_and(|j| j != this) {
                return Err(format!("mixes `and` and `or` in {text:?}"));
            }
            joiner = Some(this);
            rest = next;
        }
        Ok(Condition {
            clauses,
            joiner: joiner.unwrap_or(Joiner::And),
        })
    }

    pub fn facts(&self) -> impl Iterator<Item = &str> {
        self.clauses.iter().map(|c| c.fact.as_str())
    }

    pub fn eval(&self, table: &FactTable) -> Truth {
        let results = self.clauses.iter().map(|c| c.eval(table));
        let mut unknown = false;
        for r in results {
            match (self.joiner, r) {
                (Joiner::Or, Truth::True) => return Truth::True,
                (Joiner::And, Truth::False) => return Truth::False,
                (_, Truth::Unknown) => unknown = true,
                _ => {}
            }
        }
        match (unknown, self.joiner) {
            (true, _) => Truth::Unknown,
            (false, Joiner::Or) => Truth::False,
            (false, Joiner::And) => Truth::True,
        }
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Equality with numbers compared as numbers and strings compared case-insensitively.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl Clause {
    fn eval(&self, table: &FactTable) -> Truth {
        let Some(fact) = table.get(&self.fact) else {
            return Truth::Unknown;
        };
        let v = &fact.value;
        if v.is_null() {
            return Truth::Unknown;
        }
        let list = |x: &Value| x.as_array().cloned().unwrap_or_default();
        let result = match self.op {
            Op::Eq => same(v, &self.value),
            Op::Ne => !same(v, &self.value),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                let Some(o) = order(v, &self.value) else {
                    return Truth::Unknown;
                };
                match self.op {
                    Op::Lt => o.is_lt(),
                    Op::Le => o.is_le(),
                    Op::Gt => o.is_gt(),
                    _ => o.is_ge(),
                }
            }
            Op::In | Op::NotIn => {
                let found = list(&self.value).iter().any(|x| same(v, x));
                found == (self.op == Op::In)
            }
            Op::Contains | Op::NotContains => {
                let found = match v {
                    Value::Array(items) => items.iter().any(|x| same(x, &self.value)),
                    Value::String(s) => self
                        .value
                        .as_str()
                        .is_some_and(|needle| s.to_lowercase().contains(&needle.to_lowercase())),
                    _ => return Truth::Unknown,
                };
                found == (self.op == Op::Contains)
            }
            Op::Intersects | Op::NotIntersects => {
                let wanted = list(&self.value);
                let found = match v {
                    Value::Array(items) => items.iter().any(|x| wanted.iter().any(|w| same(x, w))),
                    other => wanted.iter().any(|w| same(other, w)),
                };
                found == (self.op == Op::Intersects)
            }
            Op::Empty | Op::NotEmpty => {
                let empty = match v {
                    Value::Array(items) => items.is_empty(),
                    Value::String(s) => s.is_empty(),
                    Value::Object(m) => m.is_empty(),
                    _ => return Truth::Unknown,
                };
                empty == (self.op == Op::Empty)
            }
        };
        if result { Truth::True } else { Truth::False }
    }
}

/// One posture rule as written in the rules files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub severity: Level,
    /// What is checked, in a few words, phrased as the good state ("Lockdown Mode is on").
    pub title: String,
    /// What is wrong when the rule fails, as a headline ("Lockdown Mode is off").
    pub fail_title: String,
    /// When the rule applies at all (e.g. an Android version); omitted = always.
    #[serde(default)]
    pub applies_if: Option<String>,
    /// The condition that makes the check fail.
    pub fail_if: String,
    /// Where the fact is visible in the evidence (shown when it is unknown).
    #[serde(rename = "where")]
    pub location: String,
    /// What the evidence showed; `{fact}` placeholders are filled in.
    pub evidence: String,
    /// What to do when the check fails, in one or two plain sentences.
    pub advice: String,
    /// What to say when it passes (default: "No action needed.").
    #[serde(default)]
    pub pass: Option<String>,
    /// How to check by hand when the evidence does not show it.
    #[serde(default)]
    pub unknown: Option<String>,
    /// Guidance the rule follows (NCSC, CISA, Apple, Google, MVT…).
    pub guidance: Vec<String>,
    /// The acquisition itself may cause the observation.
    #[serde(default)]
    pub artefact: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    platform: Platform,
    rules: Vec<Rule>,
}

/// A rule with its conditions parsed.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub rule: Rule,
    pub applies_if: Option<Condition>,
    pub fail_if: Condition,
}

const IOS_RULES: &str = include_str!("../rules/ios.json");
const ANDROID_RULES: &str = include_str!("../rules/android.json");

/// Parses and checks a rules file: unique ids, known fact names in conditions and templates.
pub fn compile(json: &str, platform: Platform) -> Result<Vec<CompiledRule>, String> {
    let file: RuleFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
    if file.platform != platform {
        return Err(format!(
            "file is for {:?}, expected {platform:?}",
            file.platform
        ));
    }
    let known = crate::derive::fact_names();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for rule in file.rules {
        let ctx = |e: String| format!("{}: {e}", rule.id);
        if !seen.insert(rule.id.clone()) {
            return Err(ctx("duplicate id".into()));
        }
        let fail_if = Condition::parse(&rule.fail_if).map_err(ctx)?;
        let applies_if = rule
            .applies_if
            .as_deref()
            .map(Condition::parse)
            .transpose()
            .map_err(ctx)?;
        let mut used: Vec<String> = fail_if.facts().map(str::to_string).collect();
        used.extend(
            applies_if
                .iter()
                .flat_map(|c| c.facts().map(str::to_string)),
        );
        for template in [Some(&rule.evidence), Some(&rule.advice), rule.pass.as_ref()]
            .into_iter()
            .flatten()
        {
            used.extend(placeholders(template));
        }
        if let Some(bad) = used.iter().find(|f| !known.contains(&f.as_str())) {
            return Err(ctx(format!("unknown fact {bad:?}")));
        }
        for text in [&rule.advice, &rule.title, &rule.fail_title, &rule.location] {
            if text.trim().is_empty() {
                return Err(ctx("empty text".into()));
            }
        }
        out.push(CompiledRule {
            rule,
            applies_if,
            fail_if,
        });
    }
    Ok(out)
}

/// The compiled-in rules for a platform.
pub fn for_platform(platform: Platform) -> &'static [CompiledRule] {
    static IOS: OnceLock<Vec<CompiledRule>> = OnceLock::new();
    static ANDROID: OnceLock<Vec<CompiledRule>> = OnceLock::new();
    let (cell, json) = match platform {
        Platform::Ios => (&IOS, IOS_RULES),
        Platform::Android => (&ANDROID, ANDROID_RULES),
    };
    cell.get_or_init(|| {
        compile(json, platform).unwrap_or_else(|e| panic!("built-in {platform:?} rules: {e}"))
    })
}

/// Items of list facts found by the condition's `(not_)intersects` / `(not_)contains` clauses.
pub fn matched_items(cond: &Condition, table: &FactTable) -> Vec<Value> {
    let mut out = Vec::new();
    for c in &cond.clauses {
        let wanted: Vec<Value> = match c.op {
            Op::Intersects | Op::NotIntersects => c.value.as_array().cloned().unwrap_or_default(),
            Op::Contains | Op::NotContains => vec![c.value.clone()],
            _ => continue,
        };
        if let Some(Value::Array(items)) = table.get(&c.fact).map(|f| &f.value) {
            for item in items {
                if wanted.iter().any(|w| same(item, w)) && !out.contains(item) {
                    out.push(item.clone());
                }
            }
        }
    }
    out
}

/// `{name}` placeholders of a template.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

/// A fact value in words: yes/no, lists joined (at most 10 shown).
pub fn render_value(v: &Value) -> String {
    match v {
        Value::Null => "unknown".into(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => {
            const MAX: usize = 10;
            let mut parts: Vec<String> = items.iter().take(MAX).map(render_value).collect();
            if items.len() > MAX {
                parts.push(format!("and {} more", items.len() - MAX));
            }
            parts.join(", ")
        }
        Value::Object(_) => v.to_string(),
    }
}

/// Fills `{fact}` placeholders from the table ("not recorded" for missing facts).
pub fn render(template: &str, table: &FactTable) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        out.push_str(
            &table
                .get(name)
                .map_or_else(|| "not recorded".to_string(), |f| render_value(&f.value)),
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(pairs: &[(&str, Value)]) -> FactTable {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    FactValue {
                        value: v.clone(),
                        source: "test".into(),
                    },
                )
            })
            .collect()
    }

    fn eval(cond: &str, t: &FactTable) -> Truth {
        Condition::parse(cond).unwrap().eval(t)
    }

    #[test]
    fn clauses_and_three_valued_logic() {
        let t = table(&[
            ("a", json!(true)),
            ("n", json!(61)),
            ("s", json!("Orange")),
            ("l", json!(["x", "Y"])),
            ("e", json!([])),
        ]);
        assert_eq!(eval("a == true", &t), Truth::True);
        assert_eq!(eval("n > 60", &t), Truth::True);
        assert_eq!(eval("n <= 60", &t), Truth::False);
        assert_eq!(eval(r#"s in ["orange", "red"]"#, &t), Truth::True);
        assert_eq!(eval(r#"s not_in ["green"]"#, &t), Truth::True);
        assert_eq!(eval(r#"l contains "y""#, &t), Truth::True);
        assert_eq!(eval(r#"s contains "ran""#, &t), Truth::True);
        assert_eq!(eval(r#"l intersects ["q", "x"]"#, &t), Truth::True);
        assert_eq!(eval(r#"l not_intersects ["q"]"#, &t), Truth::True);
        assert_eq!(eval("e empty", &t), Truth::True);
        assert_eq!(eval("l not_empty", &t), Truth::True);
        // Unknown facts.
        assert_eq!(eval("missing == true", &t), Truth::Unknown);
        assert_eq!(eval("missing == true or a == true", &t), Truth::True);
        assert_eq!(eval("missing == true or a == false", &t), Truth::Unknown);
        assert_eq!(eval("missing == true and a == false", &t), Truth::False);
        assert_eq!(eval("missing == true and a == true", &t), Truth::Unknown);
        // Comparing unlike types is unknown, not false.
        assert_eq!(eval("s > 3", &t), Truth::Unknown);
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "a",
            "a === 1",
            "a in 3",
            "a == 1 and b == 2 or c == 3",
            "a == 1 but b == 2",
            "A == 1",
            "a == [1,",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad:?} should not parse");
        }
        // Literal strings may contain the joiner words.
        let c = Condition::parse(r#"a == "x and y" or b empty"#).unwrap();
        assert_eq!(c.clauses.len(), 2);
        assert_eq!(c.clauses[0].value, json!("x and y"));
    }

    #[test]
    fn templates() {
        let t = table(&[("a", json!(false)), ("l", json!(["p", "q"]))]);
        assert_eq!(
            render("A={a}; L={l}; M={m}", &t),
            "A=no; L=p, q; M=not recorded"
        );
        assert_eq!(placeholders("{a} and {b}"), vec!["a", "b"]);
    }

    #[test]
    fn builtin_rules_compile() {
        let ios = for_platform(Platform::Ios);
        let android = for_platform(Platform::Android);
        assert!(ios.len() >= 20, "{}", ios.len());
        assert!(android.len() >= 20, "{}", android.len());
        assert!(ios.len() + android.len() >= 40);
        for r in ios.iter().chain(android) {
            let words = r.rule.advice.split_whitespace().count();
            assert!(
                words <= 60,
                "{}: advice too long ({words} words)",
                r.rule.id
            );
            assert!(!r.rule.guidance.is_empty(), "{}: no guidance", r.rule.id);
        }
    }
}
