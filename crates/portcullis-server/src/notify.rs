//! Telling officers the moment an incident opens: a webhook (JSON, signed with HMAC-SHA256 over
//! the timestamp and body, so the receiver can check it came from this server and is fresh) and
//! an e-mail to every officer and admin. Both are background jobs (`jobs`), queued with the
//! incident: a slow receiver never delays the submission, a failed webhook call is retried, and
//! with several instances each announcement is sent once.

use std::path::PathBuf;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use crate::{AppState, ServerError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST (https, or http on a private network).
    pub url: String,
    /// A file holding the shared secret the signature is made with.
    pub secret_file: PathBuf,
}

impl WebhookConfig {
    pub fn check(&self) -> Result<(), ServerError> {
        let url = url::Url::parse(&self.url)
            .map_err(|e| ServerError::Config(format!("webhook.url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ServerError::Config("webhook.url must be http(s)".into()));
        }
        Ok(())
    }

    fn secret(&self) -> Result<Vec<u8>, String> {
        std::fs::read_to_string(&self.secret_file)
            .map(|s| s.trim_end().as_bytes().to_vec())
            .map_err(|e| format!("{}: {e}", self.secret_file.display()))
    }
}

/// The signature header's value for a body sent at `timestamp` (Unix seconds):
/// `sha256=` + hex HMAC-SHA256 of `"{timestamp}.{body}"`.
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Queues the announcements of newly opened incidents, in the transaction that opened them:
/// a webhook call (retried until the receiver accepts it) and the officers' e-mail.
pub(crate) async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    incident_ids: &[i64],
) -> Result<(), ServerError> {
    if incident_ids.is_empty() {
        return Ok(());
    }
    let payload = json!({ "incidents": incident_ids });
    crate::jobs::enqueue(tx, WEBHOOK_JOB, &payload).await?;
    crate::jobs::enqueue(tx, EMAIL_JOB, &payload).await
}

const WEBHOOK_JOB: &str = "incidents.webhook";
const EMAIL_JOB: &str = "incidents.email";

/// Runs one announcement job; an error means "try again later".
pub(crate) async fn run(state: &AppState, job: &crate::jobs::Job) -> Result<(), String> {
    let payload: serde_json::Value =
        serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
    let ids: Vec<i64> = payload["incidents"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
        .unwrap_or_default();
    let mut incidents = Vec::new();
    for id in ids {
        if let Some(incident) = crate::incidents::get(&state.db, id)
            .await
            .map_err(|e| e.to_string())?
        {
            incidents.push(incident);
        }
    }
    let base = state.config.public_url.clone();
    match job.kind.as_str() {
        WEBHOOK_JOB => {
            let Some(webhook) = state.config.webhook.clone() else {
                return Ok(());
            };
            let body = json!({
                "event": "incident.opened",
                "incidents": incidents.iter().map(|i| json!({
                    "id": i.id,
                    "level": i.level,
                    "title": i.title,
                    "device": i.device_name,
                    "member": i.owner_email,
                    "url": format!("{base}/incidents/{}", i.id),
                })).collect::<Vec<_>>(),
            })
            .to_string();
            tokio::task::spawn_blocking(move || post_webhook(&webhook, &body))
                .await
                .map_err(|e| e.to_string())?
        }
        EMAIL_JOB => {
            if !state.mailer.is_configured() {
                return Ok(());
            }
            let officers: Vec<String> = crate::accounts::all(&state.db)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|u| u.role >= crate::accounts::Role::Officer && !u.disabled)
                .map(|u| u.email)
                .collect();
            let lines: Vec<String> = incidents
                .iter()
                .map(|i| {
                    format!(
                        "- {} {} on {} ({}): {base}/incidents/{}",
                        i.level, i.title, i.device_name, i.owner_email, i.id
                    )
                })
                .collect();
            // Sent once: a failed recipient is logged, not retried (a retry would repeat the
            // message to everyone else).
            for to in officers {
                let message = crate::mail::Message {
                    to: to.clone(),
                    subject: format!("Portcullis: {} new incident(s)", incidents.len()),
                    body: format!(
                        "A device check submitted to the security office raised an alert that needs you:\n\n{}\n\nSign in to see the device, its check and the incident.\n",
                        lines.join("\n")
                    ),
                };
                if let Err(e) = state.mailer.send(&message).await {
                    tracing::warn!(%to, "incident e-mail not sent: {e}");
                }
            }
            Ok(())
        }
        other => Err(format!("unknown job kind {other:?}")),
    }
}

fn post_webhook(webhook: &WebhookConfig, body: &str) -> Result<(), String> {
    let secret = webhook.secret()?;
    let timestamp = crate::now();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(&webhook.url)
        .header("Content-Type", "application/json")
        .header("X-Portcullis-Timestamp", &timestamp.to_string())
        .header(
            "X-Portcullis-Signature",
            &signature(&secret, timestamp, body),
        )
        .send(body)
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    fn hmac_of(key: &[u8], message: &[u8]) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_and_body() {
        // RFC 4231 test case 2 (key "Jefe"), its message written as "{timestamp}.{body}".
        assert_eq!(
            super::signature(b"Jefe", 0, "what do ya want for nothing?").replace("sha256=", ""),
            hmac_of(b"Jefe", b"0.what do ya want for nothing?")
        );
        assert_eq!(
            hmac_of(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let a = super::signature(b"secret", 1700000000, "{}");
        assert!(a.starts_with("sha256=") && a.len() == 71);
        assert_ne!(a, super::signature(b"secret", 1700000001, "{}"));
        assert_ne!(a, super::signature(b"other", 1700000000, "{}"));
    }
}
