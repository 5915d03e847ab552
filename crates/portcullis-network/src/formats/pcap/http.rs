//! The host and URL of a plain-HTTP request, read from the TCP segment that begins with its
//! request line (the headers of a request nearly always fit in its first segment).

/// Bytes of a segment looked at for the request line and headers.
const MAX_HEAD: usize = 16 * 1024;

const METHODS: &[&str] = &[
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// What a request names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The `Host` header (or `CONNECT` target) without its port.
    pub host: Option<String>,
    /// `http://host/path`, or the absolute URL a proxy was asked for.
    pub url: Option<String>,
}

/// The request at the start of `payload`, if the segment begins with one.
pub fn request(payload: &[u8]) -> Option<Request> {
    let head = &payload[..payload.len().min(MAX_HEAD)];
    let first_end = head.iter().position(|&b| b == b'\n')?;
    let first = std::str::from_utf8(&head[..first_end]).ok()?.trim_end();
    let mut parts = first.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !METHODS.contains(&method) || !version.starts_with("HTTP/1.") || target.is_empty() {
        return None;
    }
    let mut host_header = None;
    for line in head[first_end + 1..].split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("host")
        {
            host_header = Some(value.trim().to_string());
            break;
        }
    }
    let mut out = Request::default();
    if method == "CONNECT" {
        out.host = Some(without_port(target).to_string());
        return Some(out);
    }
    if target.starts_with("http://") || target.starts_with("https://") {
        out.url = Some(target.to_string());
        let authority = target.split_once("://").map_or("", |(_, r)| r);
        let authority = authority.split(['/', '?', '#']).next().unwrap_or("");
        out.host = Some(without_port(authority).to_string());
    }
    if let Some(host) = host_header.filter(|h| !h.is_empty()) {
        if out.url.is_none() && target.starts_with('/') {
            out.url = Some(format!("http://{host}{target}"));
        }
        out.host = Some(without_port(&host).to_string());
    }
    out.host = out.host.filter(|h| !h.is_empty());
    Some(out)
}

/// `example.com:8080` → `example.com`, `[2001:db8::1]:80` → `2001:db8::1`.
fn without_port(authority: &str) -> &str {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_url() {
        let r = request(b"GET /a/b?c=1 HTTP/1.1\r\nUser-Agent: x\r\nhost: evil.com:8080\r\n\r\n");
        assert_eq!(
            r,
            Some(Request {
                host: Some("evil.com".into()),
                url: Some("http://evil.com:8080/a/b?c=1".into()),
            })
        );
        let r = request(b"GET http://evil.com/x HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.host.as_deref(), Some("evil.com"));
        assert_eq!(r.url.as_deref(), Some("http://evil.com/x"));
        let r = request(b"CONNECT evil.com:443 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(r.host.as_deref(), Some("evil.com"));
        assert_eq!(request(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(request(b"GET / HTTP/1.1"), None);
    }
}
