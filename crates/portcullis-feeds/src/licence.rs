//! Licences of known collections. The index has no licence field, yet an office that
//! forwards indicators to partners must know what it may share: the licence of each
//! repository the public index points to, as its publisher states it.

/// (`owner/repo`, licence as the publisher states it).
const KNOWN: &[(&str, &str)] = &[
    (
        "AmnestyTech/investigations",
        "CC BY 2.0 (Amnesty International)",
    ),
    (
        "AssoEchap/stalkerware-indicators",
        "CC BY-NC-SA 4.0 (non-commercial, share alike)",
    ),
    ("stamparm/maltrail", "MIT (Maltrail developers)"),
];

/// The licence of a collection from repository `owner/repo`, when known.
pub fn known(repository: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|(repo, _)| repo.eq_ignore_ascii_case(repository))
        .map(|&(_, licence)| licence)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_repositories_have_their_licence() {
        assert_eq!(
            super::known("assoechap/stalkerware-indicators"),
            Some("CC BY-NC-SA 4.0 (non-commercial, share alike)")
        );
        assert_eq!(super::known("someone/else"), None);
    }
}
