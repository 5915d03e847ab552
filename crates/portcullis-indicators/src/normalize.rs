//! Canonical forms shared by indicators and looked-up values, so both sides compare alike.

use std::borrow::Cow;
use std::net::IpAddr;

/// A host as compared: an address, or a lower-case ASCII (punycode) domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host<'a> {
    Ip(IpAddr),
    Name(Cow<'a, str>),
}

/// The host part of a URL, `host:port`, `user@host` or bare host name; brackets of an IPv6
/// literal are removed. Scheme, user-info, port, path, query and fragment are ignored.
pub(crate) fn host_of(input: &str) -> &str {
    let rest = after_scheme(input.trim());
    // One pass over the authority: it ends at the path, query or fragment; user-info ends at
    // its last '@'; a single ':' after that starts a port.
    let mut start = 0;
    let mut end = rest.len();
    let mut colons = 0;
    let mut first_colon = 0;
    for (i, b) in rest.bytes().enumerate() {
        match b {
            b'/' | b'?' | b'#' | b'\\' => {
                end = i;
                break;
            }
            b'@' => {
                start = i + 1;
                colons = 0;
            }
            b':' => {
                if colons == 0 {
                    first_colon = i;
                }
                colons += 1;
            }
            _ => {}
        }
    }
    let host_port = &rest[start..end];
    if let Some(bracketed) = host_port.strip_prefix('[') {
        return match bracketed.find(']') {
            Some(close) => &bracketed[..close],
            None => bracketed,
        };
    }
    // Several colons: an IPv6 literal written without brackets.
    if colons == 1 {
        &rest[start..first_colon]
    } else {
        host_port
    }
}

/// What follows `scheme://` (RFC 3986 scheme characters), or a leading `//`; else `s`.
fn after_scheme(s: &str) -> &str {
    let bytes = s.as_bytes();
    if bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        let len = bytes
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
            .unwrap_or(bytes.len());
        if let Some(rest) = s[len..].strip_prefix("://") {
            return rest;
        }
    }
    s.strip_prefix("//").unwrap_or(s)
}

/// Parses an IP address literal (an IPv6 zone suffix is ignored); IPv4-mapped IPv6 addresses
/// become IPv4 so both spellings of the same address compare equal.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let looks_like_ip = s.contains(':') || s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !looks_like_ip || s.is_empty() {
        return None;
    }
    let s = s.split_once('%').map_or(s, |(addr, _zone)| addr);
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// [`str::trim`], without its Unicode work for the usual value: once ASCII whitespace is
/// trimmed, a value that starts and ends with a visible ASCII character is done (no
/// whitespace character, ASCII or not, starts or ends with one). The full Unicode trim was a
/// surprising share of loading a million indicators.
pub(crate) fn trim(s: &str) -> &str {
    let ascii = s.trim_ascii();
    let visible = |b: Option<&u8>| b.is_some_and(|b| (0x21..0x7f).contains(b));
    if visible(ascii.as_bytes().first()) && visible(ascii.as_bytes().last()) {
        ascii
    } else {
        s.trim()
    }
}

/// A host name already in canonical form (lower-case ASCII letters, digits, `-` and inner
/// dots, at least one character that no IP address has, no leading `www.`): what
/// [`host`]`(`[`host_of`]`(s))` would return unchanged, recognised in one pass. Nearly every
/// domain indicator has this form, and a million of them must load fast.
pub(crate) fn plain_host(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    let mut not_ip = false;
    for &b in bytes {
        match b {
            b'a'..=b'z' | b'-' => not_ip = true,
            b'0'..=b'9' | b'.' => {}
            _ => return None,
        }
    }
    let plain = not_ip && !s.starts_with('.') && !s.ends_with('.') && !s.starts_with("www.");
    plain.then_some(s)
}

/// Normalises a host name or IP literal: IPs are parsed; names are lower-cased and IDNA-mapped
/// to punycode, with the trailing dot, leading dots and `*.` labels, and leading `www.` labels
/// removed (the last only while a dot remains, so `www.com` stays itself). What is left after
/// trimming is parsed as an IP again (`*.192.0.2.1.` is the address), so normalising a
/// normalised host always gives it back.
pub(crate) fn host(raw: &str) -> Option<Host<'_>> {
    let raw = raw.trim();
    if let Some(ip) = parse_ip(raw) {
        return Some(Host::Ip(ip));
    }
    let trimmed = trim_labels(raw);
    let name: Cow<'_, str> = if !trimmed.is_ascii() {
        // IDNA may map odd spellings (full-width digits, ideographic dots) to an IP or dots.
        let ascii = idna::domain_to_ascii(trimmed).unwrap_or_else(|_| trimmed.to_lowercase());
        Cow::Owned(trim_labels(&ascii).to_string())
    } else if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        // ASCII input needs no IDNA: UTS #46 maps ASCII only by lower-casing it.
        Cow::Owned(trim_labels(&trimmed.to_ascii_lowercase()).to_string())
    } else {
        Cow::Borrowed(trimmed)
    };
    if name.is_empty() {
        return None;
    }
    match parse_ip(&name) {
        Some(ip) => Some(Host::Ip(ip)),
        None => Some(Host::Name(name)),
    }
}

/// A name without what never names a host: the trailing dot (the DNS root), leading dots,
/// wildcard labels (`*.`), `www.` labels while a dot remains after them, and whitespace any
/// of these leaves exposed, trimmed until nothing changes.
fn trim_labels(mut name: &str) -> &str {
    let edge = |c: char| c == '.' || c.is_whitespace();
    loop {
        let before = name.len();
        name = name.trim_matches(edge);
        if let Some(rest) = name.strip_prefix("*.") {
            name = rest;
        }
        if let Some(rest) = name.strip_prefix("www.")
            && rest.contains('.')
        {
            name = rest;
        }
        if name.len() == before {
            return name;
        }
    }
}

/// The suffixes of a normalised domain to look up, full name first, each with its number of
/// labels: `a.b.c` → (3, `a.b.c`), (2, `b.c`). Single labels (`c`) are only ever the full name,
/// so a top-level-domain indicator cannot match every host under it.
pub(crate) fn suffixes(name: &str) -> impl Iterator<Item = (usize, &str)> {
    let labels = 1 + name.bytes().filter(|&b| b == b'.').count();
    let mut next = Some((labels, name));
    std::iter::from_fn(move || {
        let (labels, current) = next?;
        next = if labels > 2 {
            let dot = current.bytes().position(|b| b == b'.')?;
            Some((labels - 1, &current[dot + 1..]))
        } else {
            None
        };
        Some((labels, current))
    })
}

/// Canonical URL for URL indicators: scheme and host lower-cased, IDNA host, default port,
/// user-info and fragment dropped, and a trailing `/` of the path removed. `None` when the
/// text is not an absolute hierarchical URL.
pub(crate) fn url(s: &str) -> Option<String> {
    let parsed = url::Url::parse(s.trim()).ok()?;
    let host = parsed.host_str()?;
    let mut out = String::with_capacity(s.len());
    out.push_str(parsed.scheme());
    out.push_str("://");
    match parse_ip(host.trim_start_matches('[').trim_end_matches(']')) {
        Some(IpAddr::V6(v6)) => {
            out.push('[');
            out.push_str(&v6.to_string());
            out.push(']');
        }
        Some(ip) => out.push_str(&ip.to_string()),
        // `url` has already IDNA-mapped hosts of special schemes; the others are left as
        // written, so lower-case them too. No `www.` stripping: those are different URLs.
        None => out.push_str(&host.to_ascii_lowercase()),
    }
    if let Some(port) = parsed.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(parsed.path().trim_end_matches('/'));
    if let Some(query) = parsed.query() {
        out.push('?');
        out.push_str(query);
    }
    Some(out)
}

/// Whether a URL indicator is only a path (`/x.php`, `/a?b=`), with no scheme nor host.
pub(crate) fn is_url_path(value: &str) -> bool {
    value.starts_with('/') && !value.starts_with("//")
}

/// A URL-path indicator's key: one trailing `/` of a path without a query removed (as a
/// looked-up path's is), unless that leaves nothing.
pub(crate) fn url_path_key(value: &str) -> &str {
    match value.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() && !value.contains('?') => trimmed,
        _ => value,
    }
}

/// Most `/`-separated parents and query cuts of one URL looked up in the URL-path table.
const MAX_PATH_LOOKUPS: usize = 64;

/// The URL-path keys a URL is looked up under, most specific first: its path with each cut of
/// its query (after a `=`, before a `&`, and the whole), then the path, then each parent
/// folder. `https://h.example/a/b.php?u=1&v=2` → `/a/b.php?u=`, `/a/b.php?u=1`,
/// `/a/b.php?u=1&v=`, `/a/b.php?u=1&v=2`, `/a/b.php`, `/a`. The fragment is ignored; an
/// input without a scheme (`h.example/a`) or that is itself a path (`/a`) is read alike.
pub(crate) fn url_path_candidates(input: &str) -> impl Iterator<Item = &str> {
    let rest = after_scheme(input.trim());
    let at = if is_url_path(rest) {
        Some(0)
    } else {
        rest.find(['/', '?', '#'])
            .filter(|&i| rest.as_bytes()[i] == b'/')
    };
    let path_query = at.map_or("", |i| {
        let s = &rest[i..];
        s.find('#').map_or(s, |h| &s[..h])
    });
    let (path, query) = match path_query.find('?') {
        Some(q) => (&path_query[..q], Some(q)),
        None => (path_query, None),
    };
    let query_cuts = query.into_iter().flat_map(move |q| {
        let cuts = path_query[q + 1..]
            .char_indices()
            .filter_map(move |(i, c)| match c {
                '=' => Some(q + 1 + i + 1),
                '&' => Some(q + 1 + i),
                _ => None,
            })
            .chain(std::iter::once(path_query.len()));
        cuts.map(move |end| &path_query[..end])
    });
    let mut parent = Some(path.trim_end_matches('/')).filter(|p| !p.is_empty());
    let parents = std::iter::from_fn(move || {
        let current = parent?;
        parent = current
            .rfind('/')
            .map(|slash| current[..slash].trim_end_matches('/'))
            .filter(|p| !p.is_empty());
        Some(current)
    });
    query_cuts.chain(parents).take(MAX_PATH_LOOKUPS)
}

/// An IP indicator, optionally in CIDR form: the network address (host bits cleared) and prefix.
pub(crate) fn ip_network(s: &str) -> Option<(IpAddr, u8)> {
    let s = s.trim();
    let (addr, prefix) = match s.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix.trim().parse::<u8>().ok()?)),
        None => (s, None),
    };
    let addr = addr.trim().trim_start_matches('[').trim_end_matches(']');
    let ip = match prefix {
        // A CIDR is kept in its own family: a v4-mapped v6 network stays v6.
        Some(_) => addr.parse::<IpAddr>().ok()?,
        None => parse_ip(addr)?,
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then(|| (mask(ip, prefix), prefix))
}

/// Clears the host bits of `ip` beyond `prefix`.
pub(crate) fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(v4) & bits).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & bits).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_trim_is_trim() {
        for s in [
            "",
            " ",
            "a",
            " a ",
            "\ta.b\n",
            "\u{b}a",
            "a\u{c}",
            "\u{a0}a",
            "a\u{3000}",
            " é ",
            "é",
            "\u{1c}x",
            "x\u{85}",
            " \u{2028} y ",
            "'quoted' ",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    fn name(s: &str) -> Option<String> {
        match host(host_of(s))? {
            Host::Name(n) => Some(n.into_owned()),
            Host::Ip(ip) => Some(format!("ip:{ip}")),
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(host_of("https://user:pw@Bad.COM:8443/p?q#f"), "Bad.COM");
        assert_eq!(host_of("bad.com"), "bad.com");
        assert_eq!(host_of("bad.com:80/x"), "bad.com");
        assert_eq!(host_of("//bad.com/x"), "bad.com");
        assert_eq!(host_of("http://[2001:db8::1]:443/"), "2001:db8::1");
        assert_eq!(host_of("2001:db8::1"), "2001:db8::1");
        assert_eq!(host_of("mailto:me@bad.com"), "bad.com");
        assert_eq!(host_of("x?u=http://bad.com"), "x");
        assert_eq!(name("https://WWW.Bad.com./"), Some("bad.com".into()));
        assert_eq!(name("www.com"), Some("www.com".into()));
        assert_eq!(name("*.bad.com"), Some("bad.com".into()));
        assert_eq!(
            name("https://BÜCHER.example/"),
            Some("xn--bcher-kva.example".into())
        );
        assert_eq!(
            name("http://[::ffff:198.51.100.1]/"),
            Some("ip:198.51.100.1".into())
        );
        assert_eq!(
            name("１９８.５１.１００.１"),
            Some("ip:198.51.100.1".into())
        );
        assert_eq!(name("fe80::1%eth0"), Some("ip:fe80::1".into()));
        assert_eq!(name("http:///x"), None);
        assert_eq!(name("..."), None);
    }

    #[test]
    fn plain_hosts_are_what_host_returns() {
        let samples = [
            "bad.com",
            "a-b.example.org",
            "x1.y2",
            "www.bad.com",
            "www.com",
            "1.2.3.4",
            "1.2.3.4.5",
            "bad.com.",
            ".bad.com",
            "Bad.com",
            "bad..com",
            "b",
            "-",
            "xn--bcher-kva.de",
            "0x7f.1",
            "bad.com:80",
            "*.bad.com",
            "über.de",
            "a.b-",
            "1-2.3",
            "",
        ];
        for s in samples {
            if let Some(plain) = plain_host(s) {
                assert_eq!(
                    host(host_of(s)),
                    Some(Host::Name(Cow::Borrowed(plain))),
                    "{s}"
                );
            }
        }
        assert_eq!(plain_host("bad.com"), Some("bad.com"));
        assert_eq!(plain_host("www.bad.com"), None);
        assert_eq!(plain_host("1.2.3.4"), None);
        assert_eq!(plain_host("Bad.com"), None);
    }

    #[test]
    fn suffix_walk() {
        assert_eq!(
            suffixes("a.b.c.d").collect::<Vec<_>>(),
            [(4, "a.b.c.d"), (3, "b.c.d"), (2, "c.d")]
        );
        assert_eq!(suffixes("c.d").collect::<Vec<_>>(), [(2, "c.d")]);
        assert_eq!(
            suffixes("localhost").collect::<Vec<_>>(),
            [(1, "localhost")]
        );
        assert_eq!(
            suffixes("a..b").collect::<Vec<_>>(),
            [(3, "a..b"), (2, ".b")]
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            url("HTTPS://Example.ORG:443/News/").as_deref(),
            Some("https://example.org/News")
        );
        assert_eq!(
            url("https://example.org").as_deref(),
            Some("https://example.org")
        );
        assert_eq!(
            url("https://u:p@example.org/a?b=c#frag").as_deref(),
            Some("https://example.org/a?b=c")
        );
        assert_eq!(
            url("https://xn--bcher-kva.example/").as_deref(),
            Some("https://xn--bcher-kva.example")
        );
        assert_eq!(
            url("https://bücher.example/").as_deref(),
            Some("https://xn--bcher-kva.example")
        );
        assert_eq!(
            url("http://[2001:DB8::1]:8080/x").as_deref(),
            Some("http://[2001:db8::1]:8080/x")
        );
        assert_eq!(url("foo://Host.X/y").as_deref(), Some("foo://host.x/y"));
        assert_eq!(url("example.org/x"), None);
        assert_eq!(url("mailto:a@b.c"), None);
    }

    #[test]
    fn url_path_lookups() {
        fn c(s: &str) -> Vec<&str> {
            url_path_candidates(s).collect()
        }
        assert_eq!(
            c("https://h.example/a/b.php?u=1&v=2#f"),
            [
                "/a/b.php?u=",
                "/a/b.php?u=1",
                "/a/b.php?u=1&v=",
                "/a/b.php?u=1&v=2",
                "/a/b.php",
                "/a"
            ]
        );
        assert_eq!(c("h.example:8080/x/"), ["/x"]);
        assert_eq!(c("/hass/upload-log.php"), ["/hass/upload-log.php", "/hass"]);
        assert!(c("https://h.example").is_empty());
        assert!(c("https://h.example/").is_empty());
        assert!(c("https://h.example?/x").is_empty());
        assert!(c("hass").is_empty());
        assert_eq!(
            c(&format!("https://h/{}", "a/".repeat(500))).len(),
            MAX_PATH_LOOKUPS
        );
        assert_eq!(url_path_key("/a/"), "/a");
        assert_eq!(url_path_key("/"), "/");
        assert_eq!(url_path_key("/a/?b="), "/a/?b=");
    }

    #[test]
    fn ip_networks() {
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(ip_network("198.51.100.1"), Some((v4("198.51.100.1"), 32)));
        assert_eq!(
            ip_network("198.51.100.7/24"),
            Some((v4("198.51.100.0"), 24))
        );
        assert_eq!(ip_network("0.0.0.0/0"), Some((v4("0.0.0.0"), 0)));
        assert_eq!(ip_network("2001:db8::1/32"), Some((v4("2001:db8::"), 32)));
        assert_eq!(ip_network("[2001:db8::1]"), Some((v4("2001:db8::1"), 128)));
        assert_eq!(ip_network("1.2.3.4/33"), None);
        assert_eq!(ip_network("1.2.3.4/x"), None);
        assert_eq!(ip_network("bad.com"), None);
    }
}
