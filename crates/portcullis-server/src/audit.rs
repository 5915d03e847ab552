//! The append-only audit log: who did what to which record, from where. Every officer and admin
//! action and every login attempt is written here; the table refuses UPDATE and DELETE.

use serde::Serialize;
use sqlx::Row;

use crate::accounts::User;
use crate::{Db, ServerError, now};

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub details: String,
}

/// Appends one entry. `details` must never hold a secret (passwords, tokens, codes).
pub async fn record(
    db: &Db,
    actor: Option<&User>,
    action: &str,
    target: Option<String>,
    address: Option<std::net::IpAddr>,
    details: serde_json::Value,
) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor_email, action, target, address, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(now())
    .bind(actor.map(|u| u.id))
    .bind(actor.map(|u| u.email.clone()))
    .bind(action)
    .bind(target)
    .bind(address.map(|a| a.to_string()))
    .bind(details.to_string())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The newest entries first, optionally only one action.
pub async fn recent(
    db: &Db,
    action: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEntry>, ServerError> {
    let rows = sqlx::query(
        "SELECT id, at, actor_email, action, target, address, details FROM audit_log \
         WHERE ($1 = '' OR action = $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(action.unwrap_or(""))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                actor_email: row.try_get("actor_email")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                address: row.try_get("address")?,
                details: row.try_get("details")?,
            })
        })
        .collect()
}
