//! Property tests (proptest) of normalisation, host matching and pattern reading: the rules
//! docs/matching.md states, checked on generated values rather than a few examples.

use std::borrow::Cow;
use std::path::Path;

use proptest::prelude::*;

use crate::normalize::{self, Host};
use crate::pattern::{self, Atom};
use crate::{Indicators, IocType, test_bundle_json};

/// A DNS label that no normalisation changes: starts with a letter (so no name is an IP
/// address), lower-case letters, digits and inner hyphens, and never `www`.
fn label() -> impl Strategy<Value = String> {
    (
        proptest::char::range('a', 'z'),
        proptest::collection::vec(
            prop_oneof![
                proptest::char::range('a', 'z'),
                proptest::char::range('0', '9'),
            ],
            0..6,
        ),
    )
        .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect::<String>())
        .prop_filter("www is stripped", |l| l != "www")
}

fn domain(labels: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(label(), labels).prop_map(|labels| labels.join("."))
}

/// Text of every kind a hostile log or indicator may hold: ASCII punctuation, dots, upper
/// case, non-ASCII letters, full-width forms and controls.
fn messy() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            2 => proptest::char::range('A', 'Z'),
            2 => Just('.'),
            1 => proptest::char::range('0', '9'),
            1 => proptest::sample::select(vec![
                '-', '*', ':', '/', '@', '[', ']', '%', ' ', '\t', 'é', 'ß', 'İ', 'Ｅ', '。',
                '\u{200d}', '\u{0}', '１', 'ｗ',
            ]),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn indicators(patterns: &[&str]) -> Indicators {
    let mut ind = Indicators::new();
    ind.load_bundle(
        test_bundle_json("Generated", patterns).as_bytes(),
        Path::new("generated.stix2"),
    )
    .unwrap();
    ind
}

/// The pattern a STIX writer produces for `value`: quotes and backslashes escaped.
fn escaped_pattern(object_path: &str, value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("[{object_path} = '{escaped}']")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Normalising a host twice gives what normalising it once gave.
    #[test]
    fn host_normalisation_is_idempotent(raw in messy()) {
        for raw in [raw.clone(), format!("www.www.{raw}"), format!("*.www.*.{raw}")] {
            if let Some(once) = normalize::host(&raw) {
                let text = match &once {
                    Host::Ip(ip) => ip.to_string(),
                    Host::Name(name) => name.to_string(),
                };
                prop_assert_eq!(normalize::host(&text), Some(once), "{}", raw);
            }
        }
    }

    /// The one-pass recogniser of canonical names agrees with the full normalisation.
    #[test]
    fn plain_hosts_are_their_own_normal_form(raw in messy()) {
        if let Some(plain) = normalize::plain_host(&raw) {
            prop_assert_eq!(normalize::host(plain), Some(Host::Name(Cow::Borrowed(plain))));
        }
    }

    /// URL canonicalisation is idempotent.
    #[test]
    fn url_normalisation_is_idempotent(host in messy(), path in messy()) {
        let raw = format!("HTTPS://{host}/{path}");
        if let Some(once) = normalize::url(&raw) {
            prop_assert_eq!(normalize::url(&once), Some(once));
        }
    }

    /// A host matches a domain indicator exactly when it is that domain or ends with "." and
    /// it; a single-label indicator (a top-level domain) matches only itself.
    #[test]
    fn a_host_matches_a_domain_iff_it_is_it_or_under_it(
        indicator in domain(1..4),
        host in domain(1..6),
        under in any::<bool>(),
    ) {
        // Half the cases put the host under the indicator, so both sides of the iff are seen.
        let host = if under { format!("{host}.{indicator}") } else { host };
        let ind = indicators(&[&format!("[domain-name:value = '{indicator}']")]);
        let single_label = !indicator.contains('.');
        let expected = host == indicator
            || (!single_label && host.ends_with(&format!(".{indicator}")));
        prop_assert_eq!(ind.check_host(&host).is_some(), expected, "host {} indicator {}", host, indicator);
        // Case, a trailing dot and a URL around it change nothing.
        let loud = format!("{}.", host.to_ascii_uppercase());
        prop_assert_eq!(ind.check_host(&loud).is_some(), expected);
        prop_assert_eq!(ind.check_url(&format!("https://{host}/p?q=1")).is_some(), expected);
    }

    /// Any value, written into a pattern with STIX escaping, reads back as itself.
    #[test]
    fn escaped_values_read_back_unchanged(
        value in "[^\\x00]{1,40}",
        path in proptest::sample::select(vec![
            ("domain-name:value", IocType::Domains),
            ("process:name", IocType::Processes),
            ("email-addr:value", IocType::Emails),
            ("file:name", IocType::FileNames),
        ]),
    ) {
        let pattern = escaped_pattern(path.0, &value);
        let mut atoms = Vec::new();
        let notes = pattern::parse(&pattern, &mut atoms);
        prop_assert!(notes.is_empty(), "{}: {:?}", pattern, notes);
        prop_assert_eq!(atoms, vec![Atom { ioc_type: path.1, value: Cow::Owned(value) }]);
    }

    /// An `OR` of escaped comparisons yields each value once, in order.
    #[test]
    fn or_of_values_yields_each(values in proptest::collection::vec("[a-z.']{1,12}", 1..8)) {
        let pattern = values
            .iter()
            .map(|v| escaped_pattern("domain-name:value", v))
            .map(|p| p[1..p.len() - 1].to_string())
            .collect::<Vec<_>>()
            .join(" OR ");
        let pattern = format!("[{pattern}]");
        let mut atoms = Vec::new();
        let notes = pattern::parse(&pattern, &mut atoms);
        prop_assert!(notes.is_empty(), "{}: {:?}", pattern, notes);
        let read: Vec<String> = atoms.into_iter().map(|a| a.value.into_owned()).collect();
        prop_assert_eq!(read, values);
    }
}
