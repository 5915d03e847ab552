//! The one HTTP client configuration of Portcullis: timeouts on every step, the proxy from
//! the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), rustls, and
//! bounded bodies. Conditional requests let a second update download nothing.

use std::time::Duration;

use ureq::Agent;

/// Longest a whole request may take (a 100 MB collection on a slow link fits).
const TOTAL_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest wait for the server to answer or to send the next bytes: a stalled server fails
/// fast instead of hanging the update.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// An agent with Portcullis' timeouts and User-Agent; the proxy comes from the environment
/// (ureq's default, kept explicit here so that it is not lost by a later edit).
pub fn agent() -> Agent {
    Agent::config_builder()
        .timeout_global(Some(TOTAL_TIMEOUT))
        .timeout_connect(Some(STEP_TIMEOUT))
        .timeout_recv_response(Some(STEP_TIMEOUT))
        .timeout_per_read(Some(STEP_TIMEOUT))
        .proxy(ureq::Proxy::try_from_env())
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .http_status_as_error(false)
        .build()
        .into()
}

/// What a server holds about a file since it was last fetched.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the copy already held is current.
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Validators of the copy already held, sent as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Validators<'a> {
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url}: the server answered {status}{}", reason(*.status))]
    Status { url: String, status: u16 },
    #[error("{url}: larger than the {limit}-byte limit for this kind of file")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: only http:// and https:// addresses can be downloaded")]
    Scheme { url: String },
}

fn reason(status: u16) -> &'static str {
    match status {
        404 => " (not found: the address is wrong or the file was moved)",
        401 | 403 => " (not allowed: check the credentials)",
        429 => " (too many requests: try again later)",
        500..=599 => " (a server error: try again later)",
        _ => "",
    }
}

/// GETs `url`, conditionally when validators are given, reading at most `limit` bytes.
pub fn get(
    agent: &Agent,
    url: &str,
    validators: Validators<'_>,
    limit: u64,
) -> Result<Fetched, HttpError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(HttpError::Scheme { url: url.into() });
    }
    let transport = |source| HttpError::Transport {
        url: url.into(),
        source: Box::new(source),
    };
    let mut request = agent.get(url);
    if let Some(etag) = validators.etag {
        request = request.header("If-None-Match", etag);
    }
    if let Some(date) = validators.last_modified {
        request = request.header("If-Modified-Since", date);
    }
    let mut response = request.call().map_err(transport)?;
    let status = response.status().as_u16();
    if status == 304 {
        return Ok(Fetched::NotModified);
    }
    if status != 200 {
        return Err(HttpError::Status {
            url: url.into(),
            status,
        });
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header("etag");
    let last_modified = header("last-modified");
    let bytes = response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => HttpError::TooLarge {
                url: url.into(),
                limit,
            },
            other => transport(other),
        })?;
    Ok(Fetched::Body {
        bytes,
        etag,
        last_modified,
    })
}
