//! Advisories are written in Markdown and shown to members as HTML. The renderer is the
//! sanitiser: raw HTML in the source is shown as text, link targets are limited to web, mail and
//! same-site addresses, and images become links (nothing loads from elsewhere). No script or
//! raw HTML from an advisory can reach the page.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// A link target kept when it is http(s), mailto, or same-site, with its scheme in lower case;
/// `#` for anything else, and for any target with a space or control character in it.
fn safe_destination(dest: &str) -> CowStr<'static> {
    let dest = dest.trim();
    if dest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return CowStr::from("#");
    }
    if (dest.starts_with('/') && !dest.starts_with("//")) || dest.starts_with('#') {
        return CowStr::from(dest.to_string());
    }
    for scheme in ["https://", "http://", "mailto:"] {
        if let Some(prefix) = dest.get(..scheme.len())
            && prefix.eq_ignore_ascii_case(scheme)
        {
            return CowStr::from(format!("{scheme}{}", &dest[scheme.len()..]));
        }
    }
    CowStr::from("#")
}

/// The advisory as HTML that is safe to put in a page as is.
pub fn render(markdown: &str) -> String {
    let events = Parser::new_ext(markdown, options()).map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_destination(&dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_destination(&dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// The steps of the advisory's checklist (`- [ ] Turn on Lockdown Mode`), in order, as plain
/// text: what a member confirms having done before acknowledging.
pub fn checklist(markdown: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let mut current: Option<String> = None;
    let mut depth = 0usize;
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::TaskListMarker(_) => current = Some(String::new()),
            Event::Start(Tag::Item) => depth += 1,
            Event::End(TagEnd::Item) => {
                depth = depth.saturating_sub(1);
                if let Some(step) = current.take() {
                    let step = step.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !step.is_empty() {
                        steps.push(step);
                    }
                }
            }
            Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => {
                if let Some(step) = current.as_mut() {
                    step.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(step) = current.as_mut() {
                    step.push(' ');
                }
            }
            _ => {}
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_markdown_renders() {
        let html = render(
            "# Update now\n\nInstall **iOS 26.1** from [Apple](https://support.apple.com/en-gb/118575).\n",
        );
        assert_eq!(
            html,
            "<h1>Update now</h1>\n<p>Install <strong>iOS 26.1</strong> from <a href=\"https://support.apple.com/en-gb/118575\">Apple</a>.</p>\n"
        );
    }

    /// The elements the renderer may produce; anything else in the output is a failure.
    const ALLOWED_ELEMENTS: &[&str] = &[
        "a",
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "em",
        "code",
        "pre",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "blockquote",
        "hr",
        "br",
        "del",
        "input",
    ];

    /// One tag of the output: its name, its text with quoted attribute values removed (so only
    /// attribute names remain), and its (attribute, value) pairs.
    struct Tag {
        name: String,
        names: String,
        values: Vec<(String, String)>,
    }

    fn tags(html: &str) -> Vec<Tag> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let close = after
                .find('>')
                .expect("every tag the renderer writes is closed");
            let tag = &after[..close];
            rest = &after[close + 1..];
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let mut names = String::new();
            let mut values = Vec::new();
            let mut parts = tag.split('"');
            while let Some(outside) = parts.next() {
                names.push_str(outside);
                let attribute = outside
                    .trim()
                    .trim_end_matches('=')
                    .rsplit(' ')
                    .next()
                    .unwrap_or("");
                if let Some(value) = parts.next() {
                    values.push((attribute.to_string(), value.to_string()));
                }
            }
            out.push(Tag {
                name: name.to_ascii_lowercase(),
                names: names.to_ascii_lowercase(),
                values,
            });
        }
        out
    }

    /// Every payload of the corpus comes out inert: only allowed elements, no event-handler or
    /// style attribute, link targets only http(s), mailto or same-site, no `<` outside a tag.
    #[test]
    fn the_xss_corpus_renders_inert() {
        let corpus = include_str!("../tests/xss-corpus.md");
        let cases: Vec<&str> = corpus.split("\n---\n").collect();
        assert!(cases.len() >= 40, "{} cases", cases.len());
        for case in cases {
            let html = render(case);
            for Tag {
                name,
                names,
                values,
            } in tags(&html)
            {
                assert!(
                    ALLOWED_ELEMENTS.contains(&name.as_str()),
                    "<{name}> in {html:?} from {case:?}"
                );
                assert!(
                    !names.contains(" on") && !names.contains("style") && !names.contains("src"),
                    "attribute in <{names}> of {html:?} from {case:?}"
                );
                for (attribute, value) in values {
                    if attribute == "href" {
                        let ok = ["https://", "http://", "mailto:", "/", "#"]
                            .iter()
                            .any(|p| value.starts_with(p))
                            && !value.starts_with("//");
                        assert!(ok, "href {value:?} in {html:?} from {case:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn checklist_steps_are_the_task_items() {
        let md = "Do these:\n\n- [ ] Update to **iOS 26.1**\n- [x] Turn on\n  Lockdown Mode\n- not a step\n\n1. [ ] Restart the phone\n";
        assert_eq!(
            checklist(md),
            vec![
                "Update to iOS 26.1",
                "Turn on Lockdown Mode",
                "Restart the phone"
            ]
        );
        assert!(checklist("no steps here").is_empty());
    }
}
