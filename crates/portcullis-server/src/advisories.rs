//! Advisories: written by officers in Markdown, sent to an audience (everyone, groups, named
//! members), read and acknowledged by members, with the officer's view of who has and has not.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::accounts::{Role, User};
use crate::{Db, ServerError, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Draft,
    Published,
    Archived,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Published => "published",
            State::Archived => "archived",
        }
    }

    fn parse(text: &str) -> Option<State> {
        Some(match text {
            "draft" => State::Draft,
            "published" => State::Published,
            "archived" => State::Archived,
            _ => return None,
        })
    }
}

/// Who an advisory is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Every member account.
    #[serde(default)]
    pub everyone: bool,
    /// Group ids: every account in them.
    #[serde(default)]
    pub groups: Vec<i64>,
    /// Account e-mail addresses.
    #[serde(default)]
    pub members: Vec<String>,
}

/// What an officer writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub title: String,
    pub body_markdown: String,
    pub severity: Severity,
    pub audience: Audience,
    /// Unix seconds, or absent.
    #[serde(default)]
    pub acknowledge_by: Option<i64>,
    /// A posture rule id (portcullis-posture's rules files) the advisory asks members to satisfy.
    #[serde(default)]
    pub posture_rule: Option<String>,
}

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_BYTES: usize = 64 * 1024;

impl Draft {
    fn check(&self) -> Result<(), ServerError> {
        let title = self.title.trim();
        if title.is_empty()
            || title.chars().count() > MAX_TITLE_CHARS
            || title.chars().any(char::is_control)
        {
            return Err(ServerError::Invalid(format!(
                "a title of 1 to {MAX_TITLE_CHARS} characters is needed"
            )));
        }
        if self.body_markdown.trim().is_empty() || self.body_markdown.len() > MAX_BODY_BYTES {
            return Err(ServerError::Invalid(format!(
                "the text must be 1 byte to {} KiB",
                MAX_BODY_BYTES / 1024
            )));
        }
        let a = &self.audience;
        if !a.everyone && a.groups.is_empty() && a.members.is_empty() {
            return Err(ServerError::Invalid(
                "choose an audience: everyone, groups or named members".into(),
            ));
        }
        if a.groups.len() > 1000 || a.members.len() > 10_000 {
            return Err(ServerError::Invalid(
                "the audience lists are too long".into(),
            ));
        }
        if let Some(rule) = &self.posture_rule
            && !posture_rules().iter().any(|(id, _)| id == rule)
        {
            return Err(ServerError::Invalid(format!(
                "{rule:?} is not a posture rule"
            )));
        }
        Ok(())
    }
}

/// Every posture rule an advisory can ask for: (id, the good state in words), iOS then Android.
pub fn posture_rules() -> Vec<(String, String)> {
    [
        portcullis_posture::Platform::Ios,
        portcullis_posture::Platform::Android,
    ]
    .into_iter()
    .flat_map(|p| portcullis_posture::rules::for_platform(p).iter())
    .map(|r| (r.rule.id.clone(), r.rule.title.clone()))
    .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Advisory {
    pub id: i64,
    pub title: String,
    pub body_markdown: String,
    pub severity: Severity,
    pub state: State,
    pub audience: Audience,
    pub acknowledge_by: Option<i64>,
    pub posture_rule: Option<String>,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
    pub archived_at: Option<i64>,
}

impl Advisory {
    pub fn html(&self) -> String {
        crate::markdown::render(&self.body_markdown)
    }

    pub fn steps(&self) -> Vec<String> {
        crate::markdown::checklist(&self.body_markdown)
    }
}

const COLUMNS: &str = "id, title, body_markdown, severity, state, audience, acknowledge_by, posture_rule, \
                       created_by, created_at, updated_at, published_at, archived_at";

async fn from_row(db: &Db, row: &AnyRow) -> Result<Advisory, ServerError> {
    let id: i64 = row.try_get("id")?;
    let groups = sqlx::query_scalar(
        "SELECT group_id FROM advisory_groups WHERE advisory_id = $1 ORDER BY group_id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    let members = sqlx::query_scalar(
        "SELECT u.email FROM advisory_members a JOIN users u ON u.id = a.user_id \
         WHERE a.advisory_id = $1 ORDER BY u.email",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    let bad = |what: &str| ServerError::Database(format!("advisory {id}: unknown {what}"));
    Ok(Advisory {
        id,
        title: row.try_get("title")?,
        body_markdown: row.try_get("body_markdown")?,
        severity: Severity::parse(&row.try_get::<String, _>("severity")?)
            .ok_or_else(|| bad("severity"))?,
        state: State::parse(&row.try_get::<String, _>("state")?).ok_or_else(|| bad("state"))?,
        audience: Audience {
            everyone: row.try_get::<String, _>("audience")? == "everyone",
            groups,
            members,
        },
        acknowledge_by: row.try_get("acknowledge_by")?,
        posture_rule: row.try_get("posture_rule")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        published_at: row.try_get("published_at")?,
        archived_at: row.try_get("archived_at")?,
    })
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Advisory>, ServerError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM advisories WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    match row {
        Some(row) => Ok(Some(from_row(db, &row).await?)),
        None => Ok(None),
    }
}

/// Writes the audience lists of an advisory, checking that each group and member exists.
async fn write_audience(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    audience: &Audience,
) -> Result<(), ServerError> {
    sqlx::query("DELETE FROM advisory_groups WHERE advisory_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM advisory_members WHERE advisory_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for group in &audience.groups {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM groups_ WHERE id = $1")
            .bind(group)
            .fetch_optional(&mut **tx)
            .await?;
        if exists.is_none() {
            return Err(ServerError::Invalid(format!("there is no group {group}")));
        }
        sqlx::query("INSERT INTO advisory_groups (advisory_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(group)
            .execute(&mut **tx)
            .await?;
    }
    for email in &audience.members {
        let email = crate::accounts::normalise_email(email)?;
        let user: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&mut **tx)
            .await?;
        let user =
            user.ok_or_else(|| ServerError::Invalid(format!("there is no account {email}")))?;
        sqlx::query("INSERT INTO advisory_members (advisory_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(user)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub async fn create(db: &Db, author: &User, draft: &Draft) -> Result<Advisory, ServerError> {
    draft.check()?;
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO advisories (title, body_markdown, severity, state, audience, acknowledge_by, \
         posture_rule, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(draft.title.trim())
    .bind(&draft.body_markdown)
    .bind(draft.severity.as_str())
    .bind(if draft.audience.everyone {
        "everyone"
    } else {
        "selected"
    })
    .bind(draft.acknowledge_by)
    .bind(draft.posture_rule.clone())
    .bind(author.id)
    .bind(now())
    .fetch_one(&mut *tx)
    .await?;
    write_audience(&mut tx, id, &draft.audience).await?;
    tx.commit().await?;
    get(db, id)
        .await?
        .ok_or_else(|| ServerError::Internal("the new advisory vanished".into()))
}

/// Changes a draft; a published or archived advisory is not rewritten under its readers.
pub async fn update(db: &Db, id: i64, draft: &Draft) -> Result<Advisory, ServerError> {
    draft.check()?;
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query(
        "UPDATE advisories SET title = $1, body_markdown = $2, severity = $3, audience = $4, \
         acknowledge_by = $5, posture_rule = $6, updated_at = $7 WHERE id = $8 AND state = 'draft'",
    )
    .bind(draft.title.trim())
    .bind(&draft.body_markdown)
    .bind(draft.severity.as_str())
    .bind(if draft.audience.everyone {
        "everyone"
    } else {
        "selected"
    })
    .bind(draft.acknowledge_by)
    .bind(draft.posture_rule.clone())
    .bind(now())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() != 1 {
        return Err(match get(db, id).await? {
            None => ServerError::NotFound(format!("advisory {id}")),
            Some(_) => ServerError::Conflict("only a draft can be edited".into()),
        });
    }
    write_audience(&mut tx, id, &draft.audience).await?;
    tx.commit().await?;
    get(db, id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("advisory {id}")))
}

/// draft → published → archived; any other move is refused.
pub async fn transition(db: &Db, id: i64, to: State) -> Result<Advisory, ServerError> {
    let (from, column) = match to {
        State::Published => ("draft", "published_at"),
        State::Archived => ("published", "archived_at"),
        State::Draft => {
            return Err(ServerError::Conflict(
                "an advisory cannot go back to draft".into(),
            ));
        }
    };
    let changed = sqlx::query(AssertSqlSafe(format!(
        "UPDATE advisories SET state = $1, {column} = $2, updated_at = $2 WHERE id = $3 AND state = $4"
    )))
    .bind(to.as_str())
    .bind(now())
    .bind(id)
    .bind(from)
    .execute(&db.pool)
    .await?;
    let advisory = get(db, id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("advisory {id}")))?;
    if changed.rows_affected() != 1 {
        return Err(ServerError::Conflict(format!(
            "a {} advisory cannot be {}",
            advisory.state.as_str(),
            to.as_str()
        )));
    }
    Ok(advisory)
}

/// The SQL condition "user :u is in advisory a's audience" (for `a` the advisories table).
const IN_AUDIENCE: &str = "((a.audience = 'everyone' AND u.role = 'member') \
     OR EXISTS (SELECT 1 FROM advisory_members am WHERE am.advisory_id = a.id AND am.user_id = u.id) \
     OR EXISTS (SELECT 1 FROM advisory_groups ag JOIN group_members gm ON gm.group_id = ag.group_id \
                WHERE ag.advisory_id = a.id AND gm.user_id = u.id))";

pub async fn in_audience(db: &Db, advisory_id: i64, user_id: i64) -> Result<bool, ServerError> {
    let found: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT a.id FROM advisories a, users u WHERE a.id = $1 AND u.id = $2 AND {IN_AUDIENCE}"
    )))
    .bind(advisory_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.is_some())
}

/// One advisory as a member sees it in a list.
#[derive(Debug, Clone, Serialize)]
pub struct MemberItem {
    pub advisory: Advisory,
    pub read_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
}

/// The published advisories addressed to an account, newest first.
pub async fn for_member(db: &Db, user: &User) -> Result<Vec<MemberItem>, ServerError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT a.id, r.read_at, r.acknowledged_at FROM advisories a JOIN users u ON u.id = $1 \
         LEFT JOIN advisory_receipts r ON r.advisory_id = a.id AND r.user_id = u.id \
         WHERE a.state = 'published' AND {IN_AUDIENCE} ORDER BY a.published_at DESC, a.id DESC"
    )))
    .bind(user.id)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::new();
    for row in rows {
        let id: i64 = row.try_get("id")?;
        if let Some(advisory) = get(db, id).await? {
            out.push(MemberItem {
                advisory,
                read_at: row.try_get("read_at")?,
                acknowledged_at: row.try_get("acknowledged_at")?,
            });
        }
    }
    Ok(out)
}

/// Every advisory, for officers, newest first.
pub async fn all(db: &Db) -> Result<Vec<Advisory>, ServerError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM advisories ORDER BY id DESC"
    )))
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::new();
    for row in &rows {
        out.push(from_row(db, row).await?);
    }
    Ok(out)
}

/// Whether `user` may see advisory `advisory`: officers and admins see all, members only
/// published ones addressed to them.
pub async fn may_view(db: &Db, user: &User, advisory: &Advisory) -> Result<bool, ServerError> {
    if user.role >= Role::Officer {
        return Ok(true);
    }
    Ok(advisory.state == State::Published && in_audience(db, advisory.id, user.id).await?)
}

/// Records that a member opened the advisory (the first time only).
pub async fn mark_read(db: &Db, advisory_id: i64, user_id: i64) -> Result<(), ServerError> {
    // Most reads are of an advisory already read: a lookup, not a write (writers queue on SQLite).
    let read: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT read_at FROM advisory_receipts WHERE advisory_id = $1 AND user_id = $2",
    )
    .bind(advisory_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    if matches!(read, Some(Some(_))) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO advisory_receipts (advisory_id, user_id, read_at) VALUES ($1, $2, $3) \
         ON CONFLICT (advisory_id, user_id) DO UPDATE \
         SET read_at = COALESCE(advisory_receipts.read_at, $3)",
    )
    .bind(advisory_id)
    .bind(user_id)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A member acknowledges; with a checklist, every step must be confirmed. Returns whether this
/// was the first acknowledgement (a repeated one changes nothing).
pub async fn acknowledge(
    db: &Db,
    advisory: &Advisory,
    user: &User,
    steps_confirmed: usize,
) -> Result<bool, ServerError> {
    if advisory.state != State::Published {
        return Err(ServerError::Conflict(
            "only a published advisory can be acknowledged".into(),
        ));
    }
    let steps = advisory.steps().len();
    if steps_confirmed < steps {
        return Err(ServerError::Invalid(format!(
            "confirm all {steps} steps before acknowledging ({steps_confirmed} ticked)"
        )));
    }
    mark_read(db, advisory.id, user.id).await?;
    let acknowledged: Option<i64> = sqlx::query_scalar(
        "SELECT acknowledged_at FROM advisory_receipts WHERE advisory_id = $1 AND user_id = $2",
    )
    .bind(advisory.id)
    .bind(user.id)
    .fetch_one(&db.pool)
    .await?;
    if acknowledged.is_some() {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE advisory_receipts SET acknowledged_at = $1, steps_confirmed = $2 \
         WHERE advisory_id = $3 AND user_id = $4 AND acknowledged_at IS NULL",
    )
    .bind(now())
    .bind(steps as i64)
    .bind(advisory.id)
    .bind(user.id)
    .execute(&db.pool)
    .await?;
    Ok(true)
}

/// One member of the audience, as the officer's status view shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub read_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
    pub last_reminded_at: Option<i64>,
}

/// Everyone the advisory is for (enabled accounts), with what they have done.
pub async fn recipients(db: &Db, advisory_id: i64) -> Result<Vec<Recipient>, ServerError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT u.id, u.email, u.display_name, r.read_at, r.acknowledged_at, r.last_reminded_at \
         FROM advisories a JOIN users u ON u.disabled = 0 \
         LEFT JOIN advisory_receipts r ON r.advisory_id = a.id AND r.user_id = u.id \
         WHERE a.id = $1 AND {IN_AUDIENCE} ORDER BY u.display_name, u.email"
    )))
    .bind(advisory_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Recipient {
                user_id: r.try_get("id")?,
                email: r.try_get("email")?,
                display_name: r.try_get("display_name")?,
                read_at: r.try_get("read_at")?,
                acknowledged_at: r.try_get("acknowledged_at")?,
                last_reminded_at: r.try_get("last_reminded_at")?,
            })
        })
        .collect()
}

/// What a round of reminders did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReminderOutcome {
    pub sent: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Recorded but not e-mailed (no SMTP configured).
    pub recorded_only: Vec<String>,
}

/// E-mails every recipient who has not acknowledged, and records each attempt.
pub async fn remind(
    db: &Db,
    mailer: &crate::mail::Mailer,
    advisory: &Advisory,
    officer: &User,
    public_url: &str,
) -> Result<ReminderOutcome, ServerError> {
    if advisory.state != State::Published {
        return Err(ServerError::Conflict(
            "reminders are for published advisories".into(),
        ));
    }
    let mut outcome = ReminderOutcome::default();
    for recipient in recipients(db, advisory.id).await? {
        if recipient.acknowledged_at.is_some() {
            continue;
        }
        let message = crate::mail::Message {
            to: recipient.email.clone(),
            subject: format!("Reminder: {}", advisory.title),
            body: reminder_text(advisory, &recipient, public_url),
        };
        let result = if mailer.is_configured() {
            match mailer.send(&message).await {
                Ok(()) => {
                    outcome.sent.push(recipient.email.clone());
                    "sent".to_string()
                }
                Err(e) => {
                    tracing::warn!(to = %recipient.email, "reminder not sent: {e}");
                    outcome
                        .failed
                        .push((recipient.email.clone(), e.to_string()));
                    format!("failed: {e}")
                }
            }
        } else {
            outcome.recorded_only.push(recipient.email.clone());
            "not sent: e-mail is not configured".to_string()
        };
        sqlx::query("INSERT INTO reminders (advisory_id, user_id, sent_at, sent_by, outcome) VALUES ($1, $2, $3, $4, $5)")
            .bind(advisory.id)
            .bind(recipient.user_id)
            .bind(now())
            .bind(officer.id)
            .bind(result)
            .execute(&db.pool)
            .await?;
        sqlx::query(
            "INSERT INTO advisory_receipts (advisory_id, user_id, read_at, last_reminded_at) VALUES ($1, $2, NULL, $3) \
             ON CONFLICT (advisory_id, user_id) DO UPDATE SET last_reminded_at = $3",
        )
        .bind(advisory.id)
        .bind(recipient.user_id)
        .bind(now())
        .execute(&db.pool)
        .await?;
    }
    Ok(outcome)
}

fn reminder_text(advisory: &Advisory, recipient: &Recipient, public_url: &str) -> String {
    let due = advisory
        .acknowledge_by
        .map(|t| format!(" by {}", crate::web::date(t)))
        .unwrap_or_default();
    format!(
        "Dear {name},\n\nThe security office asked you to read and acknowledge an advisory{due}:\n\n  {title}\n\n\
         Read it here (you will be asked to sign in):\n{public_url}/advisories/{id}\n\n\
         This message does not contain the advisory itself. If you did not expect it, contact the \
         security office by a channel you already know rather than replying.\n",
        name = recipient.display_name,
        title = advisory.title,
        id = advisory.id,
    )
}
