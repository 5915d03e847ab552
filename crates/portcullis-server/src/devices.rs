//! Members' devices and the checks submitted for them. A device has an upload token (shown
//! once, stored as a digest); `portcullis check --submit` sends a check's findings with it. The
//! server keeps each submission's findings document and the figures the fleet view shows.

use portcullis_report::{PostureStatus, Submission};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::secrets::{digest, random_token};
use crate::{Db, ServerError, now};

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub id: i64,
    pub owner_id: i64,
    pub owner_email: String,
    pub owner_name: String,
    pub name: String,
    pub created_at: i64,
    pub last_submission_at: Option<i64>,
    pub revoked: bool,
}

const DEVICE_COLUMNS: &str = "d.id, d.owner_id, u.email AS owner_email, u.display_name AS owner_name, \
     d.name, d.created_at, d.last_submission_at, d.revoked";

fn device_from(row: &AnyRow) -> Result<Device, ServerError> {
    Ok(Device {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        owner_email: row.try_get("owner_email")?,
        owner_name: row.try_get("owner_name")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        last_submission_at: row.try_get("last_submission_at")?,
        revoked: row.try_get::<i64, _>("revoked")? != 0,
    })
}

/// Registers a device for `owner_id`; returns it and its upload token (`pcd_` + 256 bits).
pub async fn register(
    db: &Db,
    owner_id: i64,
    name: &str,
    created_by: i64,
) -> Result<(Device, String), ServerError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ServerError::Invalid(
            "a device name of 1 to 200 characters is needed".into(),
        ));
    }
    let token = format!("pcd_{}", random_token(32));
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO devices (owner_id, name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(owner_id)
    .bind(name)
    .bind(digest(&token))
    .bind(created_by)
    .bind(now())
    .fetch_one(&db.pool)
    .await?;
    let device = get(db, id)
        .await?
        .ok_or_else(|| ServerError::Internal("the new device vanished".into()))?;
    Ok((device, token))
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Device>, ServerError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.owner_id WHERE d.id = $1"
    )))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(device_from).transpose()
}

/// The device an unrevoked upload token belongs to (its owner enabled).
pub async fn by_token(db: &Db, token: &str) -> Result<Option<Device>, ServerError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.owner_id \
         WHERE d.token_hash = $1 AND d.revoked = 0 AND u.disabled = 0"
    )))
    .bind(digest(token))
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(device_from).transpose()
}

pub async fn revoke(db: &Db, id: i64) -> Result<(), ServerError> {
    sqlx::query("UPDATE devices SET revoked = 1 WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// One submitted check as the fleet view and device page show it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckSummary {
    pub id: i64,
    pub received_at: i64,
    pub checked_at: String,
    pub tool_version: String,
    pub platform: Option<String>,
    pub model: Option<String>,
    pub os_version: Option<String>,
    pub alerts: i64,
    pub highest_level: Option<String>,
    pub posture_failing: i64,
    pub coverage: String,
}

const CHECK_COLUMNS: &str = "id, received_at, checked_at, tool_version, platform, model, os_version, alerts, \
     highest_level, posture_failing, coverage";

fn check_from(row: &AnyRow) -> Result<CheckSummary, ServerError> {
    Ok(CheckSummary {
        id: row.try_get("id")?,
        received_at: row.try_get("received_at")?,
        checked_at: row.try_get("checked_at")?,
        tool_version: row.try_get("tool_version")?,
        platform: row.try_get("platform")?,
        model: row.try_get("model")?,
        os_version: row.try_get("os_version")?,
        alerts: row.try_get("alerts")?,
        highest_level: row.try_get("highest_level")?,
        posture_failing: row.try_get("posture_failing")?,
        coverage: row.try_get("coverage")?,
    })
}

/// The device's checks, newest first.
pub async fn history(db: &Db, device_id: i64) -> Result<Vec<CheckSummary>, ServerError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CHECK_COLUMNS} FROM submissions WHERE device_id = $1 ORDER BY id DESC LIMIT 200"
    )))
    .bind(device_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(check_from).collect()
}

/// The findings of the device's newest check.
pub async fn latest(db: &Db, device_id: i64) -> Result<Option<Submission>, ServerError> {
    let document: Option<String> = sqlx::query_scalar(
        "SELECT document FROM submissions WHERE device_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(device_id)
    .fetch_optional(&db.pool)
    .await?;
    document
        .map(|d| {
            serde_json::from_str(&d)
                .map_err(|e| ServerError::Database(format!("stored submission: {e}")))
        })
        .transpose()
}

/// One row of the fleet view.
#[derive(Debug, Clone, Serialize)]
pub struct FleetRow {
    pub device: Device,
    pub last: Option<CheckSummary>,
    pub open_incidents: i64,
}

/// Every device (officers), or those of one account (`owner`).
pub async fn fleet(db: &Db, owner: Option<i64>) -> Result<Vec<FleetRow>, ServerError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.owner_id \
         WHERE ($1 = 0 OR d.owner_id = $1) ORDER BY u.display_name, d.name, d.id"
    )))
    .bind(owner.unwrap_or(0))
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::new();
    for row in &rows {
        let device = device_from(row)?;
        let last = history(db, device.id).await?.into_iter().next();
        let open_incidents: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incidents WHERE device_id = $1 AND state IN ('open', 'investigating')",
        )
        .bind(device.id)
        .fetch_one(&db.pool)
        .await?;
        out.push(FleetRow {
            device,
            last,
            open_incidents,
        });
    }
    Ok(out)
}

/// The largest submission accepted: findings are small; the observation digests of a large
/// network check (up to `MAX_OBSERVED`, 35 bytes each) are most of this.
pub const MAX_SUBMISSION_BYTES: usize = 4 * 1024 * 1024;

/// What storing a submission did.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    pub submission_id: i64,
    /// Incidents opened by this check (new ones only; a known incident records the check).
    pub incidents_opened: Vec<i64>,
    pub incidents_updated: Vec<i64>,
    /// Observation digests kept for the re-check.
    pub observations: usize,
}

/// Checks and stores a submission for `device`. Not a submission → Invalid; the same document
/// twice → Conflict; nothing is stored in either case.
pub async fn receive(
    db: &Db,
    device: &Device,
    body: &[u8],
) -> Result<(Submission, Stored), ServerError> {
    if body.len() > MAX_SUBMISSION_BYTES {
        return Err(ServerError::Invalid(format!(
            "a submission is at most {} KiB",
            MAX_SUBMISSION_BYTES / 1024
        )));
    }
    let mut submission: Submission = serde_json::from_slice(body)
        .map_err(|e| ServerError::Invalid(format!("not a Portcullis submission: {e}")))?;
    if let Some(problem) = submission.problem() {
        return Err(ServerError::Invalid(format!(
            "not a Portcullis submission: {problem}"
        )));
    }
    let body_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
    let posture_failing = submission
        .posture
        .iter()
        .filter(|p| p.status == PostureStatus::Fail)
        .count();
    let level = submission.highest_level().map(|l| l.as_str().to_string());
    // The digests are kept in their own table, not in the document.
    let observed = submission.observed.take();
    let document =
        serde_json::to_string(&submission).map_err(|e| ServerError::Internal(e.to_string()))?;
    let key = match &observed {
        Some(_) => Some(crate::observations::key(db).await?),
        None => None,
    };
    let mut tx = db.begin_write().await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO submissions (device_id, received_at, checked_at, tool_version, platform, model, os_version, \
         alerts, highest_level, posture_failing, coverage, body_sha256, document) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (device_id, body_sha256) DO NOTHING RETURNING id",
    )
    .bind(device.id)
    .bind(now())
    .bind(&submission.checked_at)
    .bind(&submission.tool_version)
    .bind(submission.device.platform.map(|p| p.as_str().to_string()))
    .bind(submission.device.model.clone())
    .bind(submission.device.os_version.clone())
    .bind(submission.alerts.len() as i64)
    .bind(level)
    .bind(posture_failing as i64)
    .bind(format!("{:?}", submission.coverage.status).to_lowercase())
    .bind(&body_sha256)
    .bind(&document)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(submission_id) = inserted else {
        return Err(ServerError::Conflict(
            "this check was already submitted for this device".into(),
        ));
    };
    sqlx::query("UPDATE devices SET last_submission_at = $1 WHERE id = $2")
        .bind(now())
        .bind(device.id)
        .execute(&mut *tx)
        .await?;
    let observations = match (&observed, &key) {
        (Some(observed), Some(key)) => {
            crate::observations::store(&mut tx, submission_id, observed, &key.id).await?
        }
        _ => 0,
    };
    let (opened, updated) =
        crate::incidents::record_alerts(&mut tx, device.id, submission_id, &submission.alerts)
            .await?;
    crate::notify::enqueue(&mut tx, &opened).await?;
    tx.commit().await?;
    Ok((
        submission,
        Stored {
            submission_id,
            incidents_opened: opened,
            incidents_updated: updated,
            observations,
        },
    ))
}
