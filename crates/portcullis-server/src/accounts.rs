//! Accounts, groups, invitations, API tokens, second factors and the login throttle.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::secrets::{digest, hash_password, random_token};
use crate::{Db, ServerError, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Officer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Officer => "officer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "member" => Role::Member,
            "officer" => Role::Officer,
            "admin" => Role::Admin,
            _ => return None,
        })
    }

    /// Officers and admins hold the organisation's data: both must use a second factor.
    pub fn needs_second_factor(self) -> bool {
        self != Role::Member
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    #[serde(skip)]
    pub password_hash: Option<String>,
    #[serde(skip)]
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub disabled: bool,
    pub created_at: i64,
}

const USER_COLUMNS: &str =
    "id, email, display_name, role, password_hash, totp_secret, totp_enabled, disabled, created_at";

fn user_from(row: &AnyRow) -> Result<User, ServerError> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role)
            .ok_or_else(|| ServerError::Database(format!("unknown role {role:?}")))?,
        password_hash: row.try_get("password_hash")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_enabled: row.try_get::<i64, _>("totp_enabled")? != 0,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// E-mail addresses are compared without case and surrounding space.
pub fn normalise_email(email: &str) -> Result<String, ServerError> {
    let email = email.trim().to_lowercase();
    crate::mail::address_of(&email).map_err(ServerError::Invalid)?;
    if email.contains('<') {
        return Err(ServerError::Invalid(format!(
            "{email:?} is not a bare e-mail address"
        )));
    }
    Ok(email)
}

fn check_display_name(name: &str) -> Result<String, ServerError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ServerError::Invalid(
            "a name of 1 to 200 characters is needed".into(),
        ));
    }
    Ok(name.to_string())
}

pub async fn by_email(db: &Db, email: &str) -> Result<Option<User>, ServerError> {
    let Ok(email) = normalise_email(email) else {
        return Ok(None);
    };
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    )))
    .bind(email)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(user_from).transpose()
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<User>, ServerError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(user_from).transpose()
}

pub async fn all(db: &Db) -> Result<Vec<User>, ServerError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY display_name, email"
    )))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(user_from).collect()
}

/// Creates an account; with no password it can only be entered through an invitation.
pub async fn create_user(
    db: &Db,
    email: &str,
    display_name: &str,
    role: Role,
    password: Option<&str>,
) -> Result<User, ServerError> {
    let email = normalise_email(email)?;
    let display_name = check_display_name(display_name)?;
    if by_email(db, &email).await?.is_some() {
        return Err(ServerError::Invalid(format!(
            "an account for {email} already exists"
        )));
    }
    let hash = match password {
        Some(p) => {
            if let Some(problem) = crate::secrets::password_problem(p) {
                return Err(ServerError::Invalid(problem));
            }
            Some(hash_blocking(p).await?)
        }
        None => None,
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email, display_name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&email)
    .bind(&display_name)
    .bind(role.as_str())
    .bind(hash)
    .bind(now())
    .fetch_one(&db.pool)
    .await?;
    by_id(db, id)
        .await?
        .ok_or_else(|| ServerError::Internal("the new account vanished".into()))
}

/// argon2 takes tens of milliseconds of CPU: off the async workers.
pub async fn hash_blocking(password: &str) -> Result<String, ServerError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?
}

pub async fn verify_blocking(password: &str, stored: Option<&str>) -> bool {
    let password = password.to_string();
    let stored = stored
        .map(str::to_string)
        .unwrap_or_else(|| crate::secrets::decoy_hash().to_string());
    tokio::task::spawn_blocking(move || crate::secrets::verify_password(&password, &stored))
        .await
        .unwrap_or(false)
}

/// Sets a new password and ends every session of the account.
pub async fn set_password(db: &Db, user_id: i64, password: &str) -> Result<(), ServerError> {
    if let Some(problem) = crate::secrets::password_problem(password) {
        return Err(ServerError::Invalid(problem));
    }
    let hash = hash_blocking(password).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    crate::sessions::delete_for_user(db, user_id).await?;
    clear_failures(db, user_id).await
}

pub async fn set_disabled(db: &Db, user_id: i64, disabled: bool) -> Result<(), ServerError> {
    sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
        .bind(disabled as i64)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    if disabled {
        crate::sessions::delete_for_user(db, user_id).await?;
        sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE user_id = $1")
            .bind(user_id)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

/// Removes the second factor (recovery by an admin when the phone with the authenticator is
/// lost): the officer enrols again at next login.
pub async fn reset_second_factor(db: &Db, user_id: i64) -> Result<(), ServerError> {
    sqlx::query("UPDATE users SET totp_secret = NULL, totp_enabled = 0 WHERE id = $1")
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    crate::sessions::delete_for_user(db, user_id).await
}

/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;

/// Turns on the second factor with a verified secret; returns the recovery codes (shown once,
/// stored as digests).
pub async fn enable_second_factor(
    db: &Db,
    user_id: i64,
    secret: &str,
) -> Result<Vec<String>, ServerError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled = 1 WHERE id = $2")
        .bind(secret)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let mut codes = Vec::new();
    for _ in 0..RECOVERY_CODES {
        let raw = crate::totp::base32_encode(&crate::secrets::random_bytes::<10>());
        let code = format!("{}-{}", &raw[..8], &raw[8..]).to_lowercase();
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(digest(&code))
            .execute(&mut *tx)
            .await?;
        codes.push(code);
    }
    tx.commit().await?;
    Ok(codes)
}

/// Checks an authenticator code (refusing one already used) or a recovery code (used once).
pub async fn verify_second_factor(db: &Db, user: &User, code: &str) -> Result<bool, ServerError> {
    let Some(secret) = user.totp_secret.as_deref() else {
        return Ok(false);
    };
    if let Some(step) = crate::totp::verify(secret, code, now()) {
        let fresh = sqlx::query(
            "INSERT INTO totp_used (user_id, step) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user.id)
        .bind(step)
        .execute(&db.pool)
        .await?
        .rows_affected()
            == 1;
        sqlx::query("DELETE FROM totp_used WHERE user_id = $1 AND step < $2")
            .bind(user.id)
            .bind(step - 10)
            .execute(&db.pool)
            .await?;
        return Ok(fresh);
    }
    let code = code.trim().to_lowercase();
    if code.len() != 17 {
        return Ok(false);
    }
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now())
    .bind(user.id)
    .bind(digest(&code))
    .execute(&db.pool)
    .await?;
    Ok(used.rows_affected() == 1)
}

pub async fn unused_recovery_codes(db: &Db, user_id: i64) -> Result<i64, ServerError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?)
}

/// Failed logins an account may have in [`THROTTLE_WINDOW`] before it is locked.
pub const ACCOUNT_FAILURES: i64 = 5;
/// Failed logins one address may make in the window before it is refused (HTTP 429).
pub const ADDRESS_FAILURES: i64 = 20;
pub const THROTTLE_WINDOW: i64 = 15 * 60;

fn account_key(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

fn address_key(address: std::net::IpAddr) -> String {
    format!("address:{address}")
}

/// Why a login may not even be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    Open,
    AccountLocked,
    AddressLimited,
}

pub async fn throttle(
    db: &Db,
    email: &str,
    address: std::net::IpAddr,
) -> Result<Throttle, ServerError> {
    let since = now() - THROTTLE_WINDOW;
    let count = |key: String| {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM login_failures WHERE key_ = $1 AND at > $2",
        )
        .bind(key)
        .bind(since)
        .fetch_one(&db.pool)
    };
    if count(address_key(address)).await? >= ADDRESS_FAILURES {
        return Ok(Throttle::AddressLimited);
    }
    if count(account_key(email)).await? >= ACCOUNT_FAILURES {
        return Ok(Throttle::AccountLocked);
    }
    Ok(Throttle::Open)
}

pub async fn record_failure(
    db: &Db,
    email: &str,
    address: std::net::IpAddr,
) -> Result<(), ServerError> {
    for key in [account_key(email), address_key(address)] {
        sqlx::query("INSERT INTO login_failures (key_, at) VALUES ($1, $2)")
            .bind(key)
            .bind(now())
            .execute(&db.pool)
            .await?;
    }
    sqlx::query("DELETE FROM login_failures WHERE at < $1")
        .bind(now() - 24 * 3600)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A successful login (or an admin's reset) clears the account's count, not the address's.
pub async fn clear_failures(db: &Db, user_id: i64) -> Result<(), ServerError> {
    if let Some(user) = by_id(db, user_id).await? {
        sqlx::query("DELETE FROM login_failures WHERE key_ = $1")
            .bind(account_key(&user.email))
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub members: i64,
}

pub async fn groups(db: &Db) -> Result<Vec<Group>, ServerError> {
    let rows = sqlx::query(
        "SELECT g.id, g.name, COUNT(m.user_id) AS members FROM groups_ g \
         LEFT JOIN group_members m ON m.group_id = g.id GROUP BY g.id, g.name ORDER BY g.name",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Group {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                members: r.try_get("members")?,
            })
        })
        .collect()
}

/// The group's id, creating it when it does not exist.
pub async fn ensure_group(db: &Db, name: &str) -> Result<i64, ServerError> {
    let name = check_display_name(name)?;
    if let Some(id) = sqlx::query_scalar::<_, i64>("SELECT id FROM groups_ WHERE name = $1")
        .bind(&name)
        .fetch_optional(&db.pool)
        .await?
    {
        return Ok(id);
    }
    Ok(
        sqlx::query_scalar("INSERT INTO groups_ (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(&name)
            .bind(now())
            .fetch_one(&db.pool)
            .await?,
    )
}

pub async fn add_to_group(db: &Db, group_id: i64, user_id: i64) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(group_id)
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn groups_of(db: &Db, user_id: i64) -> Result<Vec<String>, ServerError> {
    Ok(sqlx::query_scalar(
        "SELECT g.name FROM groups_ g JOIN group_members m ON m.group_id = g.id \
         WHERE m.user_id = $1 ORDER BY g.name",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?)
}

/// How long an invitation link stays valid.
pub const INVITATION_DAYS: i64 = 7;

/// A one-time link token for the account to choose its password; the link is
/// `<public url>/invite/<token>`.
pub async fn invite(db: &Db, user_id: i64, created_by: Option<i64>) -> Result<String, ServerError> {
    let token = random_token(32);
    sqlx::query("UPDATE invitations SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now())
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO invitations (token_hash, user_id, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(digest(&token))
    .bind(user_id)
    .bind(created_by)
    .bind(now())
    .bind(now() + INVITATION_DAYS * 24 * 3600)
    .execute(&db.pool)
    .await?;
    Ok(token)
}

/// The account an unused, unexpired invitation is for.
pub async fn invitation_user(db: &Db, token: &str) -> Result<Option<User>, ServerError> {
    let user_id: Option<i64> = sqlx::query_scalar(
        "SELECT user_id FROM invitations WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(digest(token))
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    match user_id {
        Some(id) => Ok(by_id(db, id).await?.filter(|u| !u.disabled)),
        None => Ok(None),
    }
}

/// Sets the password chosen through an invitation and spends the invitation, atomically: of
/// two requests racing with the same link, one wins.
pub async fn accept_invitation(db: &Db, token: &str, password: &str) -> Result<User, ServerError> {
    if let Some(problem) = crate::secrets::password_problem(password) {
        return Err(ServerError::Invalid(problem));
    }
    let user = invitation_user(db, token)
        .await?
        .ok_or_else(|| ServerError::NotFound("invitation".into()))?;
    let hash = hash_blocking(password).await?;
    let mut tx = db.begin_write().await?;
    let spent = sqlx::query(
        "UPDATE invitations SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now())
    .bind(digest(token))
    .execute(&mut *tx)
    .await?;
    if spent.rows_affected() != 1 {
        return Err(ServerError::NotFound("invitation".into()));
    }
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // A new password from a reset link ends every session made with the old one.
    crate::sessions::delete_for_user(db, user.id).await?;
    clear_failures(db, user.id).await?;
    Ok(user)
}

/// One account made by a CSV import, with its invitation token.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub email: String,
    pub display_name: String,
    pub invitation: String,
}

/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 5000;

/// Imports members from CSV with a header row `email,name[,groups]` (groups separated by `;`).
/// All rows are checked before any is written; the first bad row is named in the error.
pub async fn import_members(
    db: &Db,
    csv_text: &str,
    created_by: i64,
) -> Result<Vec<Imported>, ServerError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ServerError::Invalid(format!("CSV header: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(email_col), Some(name_col)) = (column("email"), column("name")) else {
        return Err(ServerError::Invalid(
            "the CSV needs a header row with email and name columns".into(),
        ));
    };
    let groups_col = column("groups");
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| ServerError::Invalid(format!("CSV line {line}: {e}")))?;
        if rows.len() >= MAX_IMPORT_ROWS {
            return Err(ServerError::Invalid(format!(
                "at most {MAX_IMPORT_ROWS} rows per import"
            )));
        }
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").to_string();
        let email = normalise_email(&field(Some(email_col)))
            .map_err(|e| ServerError::Invalid(format!("CSV line {line}: {e}")))?;
        let name = check_display_name(&field(Some(name_col)))
            .map_err(|e| ServerError::Invalid(format!("CSV line {line}: {e}")))?;
        if !seen.insert(email.clone()) || by_email(db, &email).await?.is_some() {
            return Err(ServerError::Invalid(format!(
                "CSV line {line}: {email} already has an account"
            )));
        }
        let groups: Vec<String> = field(groups_col)
            .split(';')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect();
        rows.push((email, name, groups));
    }
    let mut out = Vec::new();
    for (email, name, groups) in rows {
        let user = create_user(db, &email, &name, Role::Member, None).await?;
        for group in groups {
            let group_id = ensure_group(db, &group).await?;
            add_to_group(db, group_id, user.id).await?;
        }
        let invitation = invite(db, user.id, Some(created_by)).await?;
        out.push(Imported {
            email,
            display_name: name,
            invitation,
        });
    }
    Ok(out)
}

/// A new API token for the account, returned once (`pc_` + 256 random bits); stored as a digest.
pub async fn create_api_token(db: &Db, user_id: i64, name: &str) -> Result<String, ServerError> {
    let name = check_display_name(name)?;
    let token = format!("pc_{}", random_token(32));
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(digest(&token))
    .bind(user_id)
    .bind(name)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(token)
}

/// The enabled account an unrevoked API token belongs to.
pub async fn api_token_user(db: &Db, token: &str) -> Result<Option<User>, ServerError> {
    let found: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, last_used FROM api_tokens WHERE token_hash = $1 AND revoked = 0",
    )
    .bind(digest(token))
    .fetch_optional(&db.pool)
    .await?;
    let Some((user_id, last_used)) = found else {
        return Ok(None);
    };
    // To the minute: a script's every request need not be a write.
    if last_used.is_none_or(|t| now() - t >= 60) {
        sqlx::query("UPDATE api_tokens SET last_used = $1 WHERE token_hash = $2")
            .bind(now())
            .bind(digest(token))
            .execute(&db.pool)
            .await?;
    }
    Ok(by_id(db, user_id).await?.filter(|u| !u.disabled))
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used: Option<i64>,
    pub revoked: bool,
}

pub async fn api_tokens_of(db: &Db, user_id: i64) -> Result<Vec<ApiToken>, ServerError> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, last_used, revoked FROM api_tokens WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ApiToken {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                last_used: r.try_get("last_used")?,
                revoked: r.try_get::<i64, _>("revoked")? != 0,
            })
        })
        .collect()
}

pub async fn revoke_api_token(db: &Db, user_id: i64, token_id: i64) -> Result<bool, ServerError> {
    Ok(
        sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1 AND user_id = $2")
            .bind(token_id)
            .bind(user_id)
            .execute(&db.pool)
            .await?
            .rows_affected()
            == 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_officers_need_a_second_factor() {
        assert_eq!(Role::parse(" Officer "), Some(Role::Officer));
        assert_eq!(Role::parse("root"), None);
        assert!(Role::Admin.needs_second_factor());
        assert!(!Role::Member.needs_second_factor());
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            normalise_email("  A.Member@Parliament.UK ").unwrap(),
            "a.member@parliament.uk"
        );
        assert!(normalise_email("not an address").is_err());
        assert!(normalise_email("Name <a@b.org>").is_err());
    }
}
