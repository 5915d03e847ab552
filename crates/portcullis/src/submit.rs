//! `check --submit`: sends the check's findings to the security office's server.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use portcullis_indicators::Indicators;
use portcullis_report::{MAX_OBSERVED, Observed, Report, Submission};

/// What the server said it did with the submission.
pub struct Receipt {
    pub submission: i64,
    pub incidents_opened: usize,
    /// Digests of what the check saw, sent for the server's re-check.
    pub digests: usize,
}

/// The server's address for `path` under a base URL; plain http only to this machine, so
/// findings never cross a network unencrypted.
pub(crate) fn endpoint(base: &str, path: &str) -> Result<url::Url> {
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
    url.join(&format!("{}/{path}", url.path().trim_end_matches('/')))
        .with_context(|| format!("--submit {base:?}"))
}

/// The organisation's observation key, or None from a server without the re-check.
fn observation_key(
    agent: &ureq::Agent,
    base: &str,
    token: &str,
) -> Result<Option<(String, Vec<u8>)>> {
    let url = endpoint(base, "api/observation-key")?;
    let mut response = agent
        .get(url.as_str())
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .with_context(|| format!("asking {url} for the observation key"))?;
    match response.status().as_u16() {
        200 => {}
        404 => return Ok(None),
        status => bail!("the server at {url} refused the device token (HTTP {status})"),
    }
    let reply: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default())
            .unwrap_or_default();
    let (Some(id), Some(key)) = (reply["key_id"].as_str(), reply["key"].as_str()) else {
        bail!("the server at {url} sent no observation key");
    };
    let key = hex::decode(key).with_context(|| format!("the observation key from {url}"))?;
    Ok(Some((id.to_string(), key)))
}

pub fn submit(
    report: &Report,
    indicators: &Indicators,
    base: &str,
    token_file: &Path,
) -> Result<Receipt> {
    let url = endpoint(base, "api/submissions")?;
    let token = std::fs::read_to_string(token_file)
        .with_context(|| format!("reading the device token from {}", token_file.display()))?;
    let token = token.trim();
    if !token.starts_with("pcd_") {
        bail!(
            "{} does not hold a device upload token (pcd_…) from the server's device page",
            token_file.display()
        );
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut submission = Submission::from_report(report);
    if let Some((key_id, key)) = observation_key(&agent, base, token)? {
        let mut digests = indicators.observed_digests(&key);
        // Sorted digests are in no meaningful order, so the first ones are a fair sample.
        let left_out = digests.len().saturating_sub(MAX_OBSERVED);
        digests.truncate(MAX_OBSERVED);
        if left_out > 0 {
            tracing::warn!(
                "{left_out} observation digests left out (at most {MAX_OBSERVED} are sent)"
            );
        }
        submission.observed = Some(Observed {
            key_id,
            digests,
            left_out,
        });
    }
    let digests = submission.observed.as_ref().map_or(0, |o| o.digests.len());
    let body = serde_json::to_string(&submission)?;
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
        digests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_go_only_over_https_or_to_this_machine() {
        assert_eq!(
            endpoint("https://security.example.org/", "api/submissions")
                .unwrap()
                .as_str(),
            "https://security.example.org/api/submissions"
        );
        assert_eq!(
            endpoint("https://example.org/office", "api/submissions")
                .unwrap()
                .as_str(),
            "https://example.org/office/api/submissions"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8443", "api/submissions")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8443/api/submissions"
        );
        assert!(endpoint("http://security.example.org", "api/submissions").is_err());
        assert!(endpoint("ftp://x", "api/submissions").is_err());
    }
}
