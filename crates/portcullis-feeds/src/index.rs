//! The public indicator index (`indicators.yaml`, the list MVT's `download-iocs` reads): each
//! entry a named collection on GitHub (`type: github`, fetched through a raw-content base) or
//! at a `download_url`.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::{Yaml, YamlLoader};

/// The index MVT uses.
pub const DEFAULT_INDEX_URL: &str =
    "https://raw.githubusercontent.com/mvt-project/mvt-indicators/main/indicators.yaml";
/// Where `type: github` entries are fetched from: `<base>/<owner>/<repo>/<branch>/<path>`.
pub const DEFAULT_RAW_BASE: &str = "https://raw.githubusercontent.com";

/// Most bytes read of an index (the real one is 7 KB).
pub const MAX_INDEX_BYTES: u64 = 1 << 20;
/// Most entries taken from an index.
const MAX_ENTRIES: usize = 1_000;
/// Deepest nesting accepted (the index needs 4).
const MAX_DEPTH: usize = 16;

/// One collection listed by the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The entry's name (`NSO Group Pegasus Indicators of Compromise`).
    pub title: String,
    /// Who published the indicators.
    pub authors: Vec<String>,
    /// Reports the indicators come from.
    pub references: Vec<String>,
    pub url: String,
    /// `owner/repo` for GitHub entries, for the table of known licences.
    pub repository: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the index is not YAML: {0}")]
    Yaml(String),
    #[error(
        "the index uses YAML aliases (`*name`), which an indicator index has no need of and \
         which can expand without bound; refused"
    )]
    Alias,
    #[error("the index nests deeper than {MAX_DEPTH} levels; refused")]
    TooDeep,
    #[error("the index has no `indicators:` list")]
    NoList,
}

/// Parses an index; entries that cannot be used (no name, an unknown type, no address) are
/// returned as warnings naming the entry, and the rest are kept.
pub fn parse(text: &str, raw_base: &str) -> Result<(Vec<IndexEntry>, Vec<String>), IndexError> {
    refuse_expansion(text)?;
    let docs = YamlLoader::load_from_str(text).map_err(|e| IndexError::Yaml(e.to_string()))?;
    let list = docs
        .first()
        .and_then(|d| d["indicators"].as_vec())
        .ok_or(IndexError::NoList)?;
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for (i, item) in list.iter().enumerate().take(MAX_ENTRIES) {
        match entry(item, raw_base) {
            Ok(e) => entries.push(e),
            Err(why) => warnings.push(format!("index entry {}: {why}; skipped", i + 1)),
        }
    }
    if list.len() > MAX_ENTRIES {
        warnings.push(format!(
            "the index lists {} entries; only the first {MAX_ENTRIES} were read",
            list.len()
        ));
    }
    Ok((entries, warnings))
}

/// A first pass over the events, before the loader builds a tree: the loader copies aliased
/// nodes, so a few hundred bytes of aliases could fill the memory.
fn refuse_expansion(text: &str) -> Result<(), IndexError> {
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    loop {
        let (event, _) = parser
            .next_token()
            .map_err(|e| IndexError::Yaml(e.to_string()))?;
        match event {
            Event::StreamEnd => return Ok(()),
            Event::Alias(_) => return Err(IndexError::Alias),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(IndexError::TooDeep);
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
}

fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.trim().to_string()),
        Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

fn texts(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Array(items) => items.iter().filter_map(text).collect(),
        other => text(other).into_iter().collect(),
    }
}

fn entry(item: &Yaml, raw_base: &str) -> Result<IndexEntry, String> {
    let title = text(&item["name"]).ok_or("it has no name")?;
    let named = |why: &str| format!("\"{title}\": {why}");
    let (url, repository) = if let Some(url) = text(&item["download_url"]) {
        (url, None)
    } else {
        let kind = text(&item["type"]).unwrap_or_default();
        if kind != "github" {
            return Err(named(&format!(
                "type \"{kind}\" without a download_url is not known"
            )));
        }
        let gh = &item["github"];
        let part = |key: &str| text(&gh[key]).ok_or_else(|| named(&format!("no github.{key}")));
        let (owner, repo, path) = (part("owner")?, part("repo")?, part("path")?);
        let branch = text(&gh["branch"]).unwrap_or_else(|| "main".into());
        if [&owner, &repo, &branch]
            .iter()
            .any(|p| p.contains('/') || p.contains("..") || p.contains('?'))
            || path.split('/').any(|c| c == ".." || c.is_empty())
        {
            return Err(named(
                "its github location is not a plain owner/repo/branch/path",
            ));
        }
        (
            format!(
                "{}/{owner}/{repo}/{branch}/{path}",
                raw_base.trim_end_matches('/')
            ),
            Some(format!("{owner}/{repo}")),
        )
    };
    Ok(IndexEntry {
        authors: texts(&item["sources"]),
        references: texts(&item["references"]),
        title,
        url,
        repository,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "indicators:
  -
    type: github
    name: NSO Group Pegasus Indicators of Compromise
    sources:
      - Amnesty International
    references:
      - https://www.amnesty.org/report
    github:
      owner: AmnestyTech
      repo: investigations
      branch: master
      path: 2021-07-18_nso/pegasus.stix2
  - type: github
    name: Default branch
    github: {owner: mvt-project, repo: mvt-indicators, path: a/b.stix2}
  - name: Direct
    download_url: https://example.org/x.stix2
  - name: Broken
    type: github
    github: {owner: x, repo: ../y, path: z.stix2}
  - type: gitlab
    name: Other host
";

    #[test]
    fn github_and_download_entries_become_addresses() {
        let (entries, warnings) = parse(INDEX, "http://127.0.0.1:9/").unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[0].url,
            "http://127.0.0.1:9/AmnestyTech/investigations/master/2021-07-18_nso/pegasus.stix2"
        );
        assert_eq!(entries[0].authors, ["Amnesty International"]);
        assert_eq!(entries[0].references, ["https://www.amnesty.org/report"]);
        assert_eq!(
            entries[0].repository.as_deref(),
            Some("AmnestyTech/investigations")
        );
        assert_eq!(
            entries[1].url,
            "http://127.0.0.1:9/mvt-project/mvt-indicators/main/a/b.stix2"
        );
        assert_eq!(entries[2].url, "https://example.org/x.stix2");
        assert_eq!(entries[2].repository, None);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("\"Broken\""), "{warnings:?}");
        assert!(warnings[1].contains("gitlab"), "{warnings:?}");
    }

    #[test]
    fn aliases_depth_and_non_yaml_are_refused() {
        let bomb = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nindicators: [*b]\n";
        assert!(matches!(
            parse(bomb, DEFAULT_RAW_BASE),
            Err(IndexError::Alias)
        ));
        let deep = format!("indicators: {}{}", "[".repeat(40), "]".repeat(40));
        assert!(matches!(
            parse(&deep, DEFAULT_RAW_BASE),
            Err(IndexError::TooDeep)
        ));
        assert!(matches!(
            parse("<html>{ not: [yaml", DEFAULT_RAW_BASE),
            Err(IndexError::Yaml(_))
        ));
        assert!(matches!(
            parse("other: 1", DEFAULT_RAW_BASE),
            Err(IndexError::NoList)
        ));
    }

    #[test]
    fn the_public_index_lists_fifteen_collections() {
        let Some(path) = portcullis_testkit::shared_fixture("indicators/indicators.yaml") else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let (entries, warnings) = parse(&text, DEFAULT_RAW_BASE).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(entries.len(), 15);
        assert_eq!(
            entries[3].url,
            "https://raw.githubusercontent.com/AssoEchap/stalkerware-indicators/master/generated/stalkerware.stix2"
        );
        assert_eq!(entries[1].authors.len(), 6);
    }
}
