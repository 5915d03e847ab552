//! Incidents: a HIGH or CRITICAL alert in a submitted check opens one, per device and indicator
//! (or heuristic); a later check raising it again is added to the same incident until it is
//! resolved or marked a false positive. Officers move it open → investigating → resolved /
//! false positive, assign it and add notes; every change is an event on its timeline.

use portcullis_core::Level;
use portcullis_report::SubmittedAlert;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Db, ServerError, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    Open,
    Investigating,
    Resolved,
    FalsePositive,
}

impl IncidentState {
    pub const ALL: [IncidentState; 4] = [
        IncidentState::Open,
        IncidentState::Investigating,
        IncidentState::Resolved,
        IncidentState::FalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Investigating => "investigating",
            IncidentState::Resolved => "resolved",
            IncidentState::FalsePositive => "false_positive",
        }
    }

    pub fn parse(text: &str) -> Option<IncidentState> {
        IncidentState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    fn is_closed(self) -> bool {
        matches!(self, IncidentState::Resolved | IncidentState::FalsePositive)
    }
}

/// What makes two alerts the same incident on one device: the indicator's STIX id, else its
/// type and value, else the heuristic's module and message.
pub fn match_key(alert: &SubmittedAlert) -> String {
    match &alert.indicator {
        Some(i) if !i.stix.id.is_empty() => format!("indicator:{}", i.stix.id),
        Some(i) => format!("indicator:{:?}:{}", i.ioc_type, i.value),
        None => format!("heuristic:{}:{}", alert.module, alert.message),
    }
}

fn title_of(alert: &SubmittedAlert) -> String {
    let text = match &alert.indicator {
        Some(i) => format!("{} ({}, {})", alert.message, i.value, i.collection),
        None => alert.message.clone(),
    };
    text.chars().take(300).collect()
}

/// Opens or updates the incidents of a check's HIGH and CRITICAL alerts, in the submission's
/// transaction. Returns (opened, updated) incident ids.
pub(crate) async fn record_alerts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    device_id: i64,
    submission_id: i64,
    alerts: &[SubmittedAlert],
) -> Result<(Vec<i64>, Vec<i64>), ServerError> {
    let mut opened = Vec::new();
    let mut updated = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for alert in alerts.iter().filter(|a| a.level >= Level::High) {
        let key = match_key(alert);
        if !seen.insert(key.clone()) {
            continue;
        }
        let finding = Finding {
            device_id,
            submission_id,
            match_key: &key,
            level: alert.level,
            title: &title_of(alert),
            event: &format!("check {submission_id}: {}", title_of(alert)),
        };
        match record(tx, &finding).await? {
            Recorded::Opened(id) => opened.push(id),
            Recorded::Updated(id) => updated.push(id),
        }
    }
    Ok((opened, updated))
}

/// One finding on one device, as an incident records it.
pub(crate) struct Finding<'a> {
    pub device_id: i64,
    pub submission_id: i64,
    pub match_key: &'a str,
    pub level: Level,
    pub title: &'a str,
    /// The timeline entry: what was found, and where.
    pub event: &'a str,
}

pub(crate) enum Recorded {
    Opened(i64),
    Updated(i64),
}

/// Adds `finding` to the device's open incident with the same key, or opens one.
pub(crate) async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    finding: &Finding<'_>,
) -> Result<Recorded, ServerError> {
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM incidents WHERE device_id = $1 AND match_key = $2 \
         AND state IN ('open', 'investigating') ORDER BY id DESC LIMIT 1",
    )
    .bind(finding.device_id)
    .bind(finding.match_key)
    .fetch_optional(&mut **tx)
    .await?;
    let recorded = match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE incidents SET last_submission_id = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(finding.submission_id)
            .bind(now())
            .bind(id)
            .execute(&mut **tx)
            .await?;
            Recorded::Updated(id)
        }
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO incidents (device_id, match_key, level, title, state, first_submission_id, \
                 last_submission_id, opened_at, updated_at) VALUES ($1, $2, $3, $4, 'open', $5, $5, $6, $6) RETURNING id",
            )
            .bind(finding.device_id)
            .bind(finding.match_key)
            .bind(finding.level.as_str())
            .bind(finding.title)
            .bind(finding.submission_id)
            .bind(now())
            .fetch_one(&mut **tx)
            .await?;
            Recorded::Opened(id)
        }
    };
    let id = match recorded {
        Recorded::Opened(id) | Recorded::Updated(id) => id,
    };
    sqlx::query(
        "INSERT INTO incident_events (incident_id, at, kind, text) VALUES ($1, $2, 'alert', $3)",
    )
    .bind(id)
    .bind(now())
    .bind(finding.event)
    .execute(&mut **tx)
    .await?;
    Ok(recorded)
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: i64,
    pub device_id: i64,
    pub device_name: String,
    pub owner_email: String,
    pub level: String,
    pub title: String,
    pub state: IncidentState,
    pub assignee_email: Option<String>,
    pub opened_at: i64,
    pub updated_at: i64,
    pub first_submission_id: i64,
    pub last_submission_id: i64,
}

const COLUMNS: &str = "i.id, i.device_id, d.name AS device_name, o.email AS owner_email, i.level, i.title, i.state, \
     a.email AS assignee_email, i.opened_at, i.updated_at, i.first_submission_id, i.last_submission_id";
const FROM: &str = "FROM incidents i JOIN devices d ON d.id = i.device_id JOIN users o ON o.id = d.owner_id \
     LEFT JOIN users a ON a.id = i.assignee_id";

fn incident_from(row: &AnyRow) -> Result<Incident, ServerError> {
    let state: String = row.try_get("state")?;
    Ok(Incident {
        id: row.try_get("id")?,
        device_id: row.try_get("device_id")?,
        device_name: row.try_get("device_name")?,
        owner_email: row.try_get("owner_email")?,
        level: row.try_get("level")?,
        title: row.try_get("title")?,
        state: IncidentState::parse(&state)
            .ok_or_else(|| ServerError::Database(format!("incident state {state:?}")))?,
        assignee_email: row.try_get("assignee_email")?,
        opened_at: row.try_get("opened_at")?,
        updated_at: row.try_get("updated_at")?,
        first_submission_id: row.try_get("first_submission_id")?,
        last_submission_id: row.try_get("last_submission_id")?,
    })
}

/// Incidents, open ones first, newest first; optionally one device's.
pub async fn list(db: &Db, device: Option<i64>) -> Result<Vec<Incident>, ServerError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE ($1 = 0 OR i.device_id = $1) \
         ORDER BY CASE WHEN i.state IN ('open', 'investigating') THEN 0 ELSE 1 END, i.id DESC LIMIT 1000"
    )))
    .bind(device.unwrap_or(0))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(incident_from).collect()
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Incident>, ServerError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE i.id = $1"
    )))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(incident_from).transpose()
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentEvent {
    pub at: i64,
    pub actor_email: Option<String>,
    pub kind: String,
    pub text: String,
}

pub async fn events(db: &Db, id: i64) -> Result<Vec<IncidentEvent>, ServerError> {
    let rows = sqlx::query(
        "SELECT e.at, u.email AS actor_email, e.kind, e.text FROM incident_events e \
         LEFT JOIN users u ON u.id = e.actor_id WHERE e.incident_id = $1 ORDER BY e.id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(IncidentEvent {
                at: r.try_get("at")?,
                actor_email: r.try_get("actor_email")?,
                kind: r.try_get("kind")?,
                text: r.try_get("text")?,
            })
        })
        .collect()
}

/// What an officer changes on an incident: any of state, assignee (by e-mail; empty to
/// unassign) and a note.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub state: Option<IncidentState>,
    pub assignee: Option<String>,
    pub note: Option<String>,
}

pub async fn change(
    db: &Db,
    id: i64,
    actor: &crate::accounts::User,
    change: &Change,
) -> Result<Incident, ServerError> {
    let incident = get(db, id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("incident {id}")))?;
    let mut tx = db.begin_write().await?;
    let mut events: Vec<(&str, String)> = Vec::new();
    if let Some(state) = change.state
        && state != incident.state
    {
        if incident.state.is_closed() && state.is_closed() {
            return Err(ServerError::Conflict(
                "the incident is already closed".into(),
            ));
        }
        sqlx::query("UPDATE incidents SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(state.as_str())
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        events.push((
            "state",
            format!("{} → {}", incident.state.as_str(), state.as_str()),
        ));
    }
    if let Some(assignee) = &change.assignee {
        let assignee_id = match assignee.trim() {
            "" => None,
            email => {
                let user = crate::accounts::by_email(db, email)
                    .await?
                    .filter(|u| u.role >= crate::accounts::Role::Officer && !u.disabled)
                    .ok_or_else(|| {
                        ServerError::Invalid(format!("{email} is not an officer's account"))
                    })?;
                Some(user.id)
            }
        };
        sqlx::query("UPDATE incidents SET assignee_id = $1, updated_at = $2 WHERE id = $3")
            .bind(assignee_id)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let text = match assignee.trim() {
            "" => "unassigned".to_string(),
            email => format!("assigned to {email}"),
        };
        events.push(("assignee", text));
    }
    if let Some(note) = change
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if note.len() > 16 * 1024 {
            return Err(ServerError::Invalid("a note is at most 16 KiB".into()));
        }
        events.push(("note", note.to_string()));
    }
    for (kind, text) in events {
        sqlx::query("INSERT INTO incident_events (incident_id, at, actor_id, kind, text) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(now())
            .bind(actor.id)
            .bind(kind)
            .bind(text)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    get(db, id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("incident {id}")))
}
