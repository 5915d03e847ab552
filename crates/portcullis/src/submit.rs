//! `check --submit`: sends the check's findings to the security office's server.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use portcullis_report::{Report, Submission};

/// What the server said it did with the submission.
pub struct Receipt {
    pub submission: i64,
    pub incidents_opened: usize,
}

/// The server's submissions address for a base URL; plain http only to this machine, so
/// findings never cross a network unencrypted.
fn endpoint(base: &str) -> Result<url::Url> {
    let url = url::Url::parse(base.trim_end_matches('/'))
        .with_context(|| format!("--submit {base:?}"))?;
    let local = matches!(url.host(), Some(url::Host::Domain("localhost")))
        || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => bail!("--submit needs an https:// address (plain http only to this machine): {base}"),
    }
    url.join(&format!(
        "{}/api/submissions",
        url.path().trim_end_matches('/')
    ))
    .with_context(|| format!("--submit {base:?}"))
}

pub fn submit(report: &Report, base: &str, token_file: &Path) -> Result<Receipt> {
    let url = endpoint(base)?;
    let token = std::fs::read_to_string(token_file)
        .with_context(|| format!("reading the device token from {}", token_file.display()))?;
    let token = token.trim();
    if !token.starts_with("pcd_") {
        bail!(
            "{} does not hold a device upload token (pcd_…) from the server's device page",
            token_file.display()
        );
    }
    let body = serde_json::to_string(&Submission::from_report(report))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent
        .post(url.as_str())
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(&body)
        .with_context(|| format!("sending the findings to {url}"))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let reply: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if status != 201 {
        let why = reply["error"].as_str().unwrap_or("no reason given");
        bail!("the server at {url} refused the findings (HTTP {status}): {why}");
    }
    Ok(Receipt {
        submission: reply["submission"].as_i64().unwrap_or_default(),
        incidents_opened: reply["incidents_opened"].as_array().map_or(0, Vec::len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_go_only_over_https_or_to_this_machine() {
        assert_eq!(
            endpoint("https://security.example.org/").unwrap().as_str(),
            "https://security.example.org/api/submissions"
        );
        assert_eq!(
            endpoint("https://example.org/office").unwrap().as_str(),
            "https://example.org/office/api/submissions"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8443").unwrap().as_str(),
            "http://127.0.0.1:8443/api/submissions"
        );
        assert!(endpoint("http://security.example.org").is_err());
        assert!(endpoint("ftp://x").is_err());
    }
}
