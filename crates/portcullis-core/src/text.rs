//! Text helpers every source's modules share.

use std::sync::LazyLock;

use regex::Regex;

static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)https?://\S+").expect("valid link pattern"));

/// Every `http(s)://…` link in a message, up to the next white space (MVT's rule, for iOS and
/// Android messages alike).
pub fn find_links(text: &str) -> Vec<String> {
    LINK.find_iter(text)
        .map(|m| m.as_str().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_run_to_the_next_white_space() {
        assert_eq!(
            super::find_links("see HTTPS://a.example/x?y=1, and http://b.example\tthen"),
            ["HTTPS://a.example/x?y=1,", "http://b.example"]
        );
        assert!(super::find_links("ftp://c.example www.d.example").is_empty());
    }
}
