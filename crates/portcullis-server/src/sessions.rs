//! Server-side sessions. The cookie carries 256 random bits; the database keeps their SHA-256,
//! the stage of login the session has reached, its CSRF token and when it was last used. A new
//! session (new id, new CSRF token) is issued at every change of stage, so an id planted before
//! login is worthless after it (session fixation).

use sqlx::Row;

use crate::secrets::{digest, random_token};
use crate::{Config, Db, ServerError, now};

pub const COOKIE: &str = "portcullis_session";

/// How far through login a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// No account yet: carries the CSRF token of the login and invitation forms.
    Anonymous,
    /// Password accepted; the authenticator code (or a recovery code) is still to come.
    SecondFactor,
    /// Password accepted for an officer or admin who has no second factor yet: enrol first.
    EnrolSecondFactor,
    Full,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Anonymous => "anonymous",
            Stage::SecondFactor => "second_factor",
            Stage::EnrolSecondFactor => "enrol_second_factor",
            Stage::Full => "full",
        }
    }

    fn parse(text: &str) -> Option<Stage> {
        Some(match text {
            "anonymous" => Stage::Anonymous,
            "second_factor" => Stage::SecondFactor,
            "enrol_second_factor" => Stage::EnrolSecondFactor,
            "full" => Stage::Full,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user_id: Option<i64>,
    pub stage: Stage,
    pub csrf_token: String,
    pub pending_totp_secret: Option<String>,
    pub created_at: i64,
    pub last_seen: i64,
}

/// A new session; returns the cookie value (the only copy of the id) and the session.
pub async fn create(
    db: &Db,
    user_id: Option<i64>,
    stage: Stage,
) -> Result<(String, Session), ServerError> {
    let id = random_token(32);
    let session = Session {
        id_hash: digest(&id),
        user_id,
        stage,
        csrf_token: random_token(32),
        pending_totp_secret: None,
        created_at: now(),
        last_seen: now(),
    };
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, stage, csrf_token, created_at, last_seen) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&session.id_hash)
    .bind(session.user_id)
    .bind(session.stage.as_str())
    .bind(&session.csrf_token)
    .bind(session.created_at)
    .bind(session.last_seen)
    .execute(&db.pool)
    .await?;
    Ok((id, session))
}

/// The live session a cookie value names; an idle or too old one is deleted and not returned.
pub async fn find(
    db: &Db,
    config: &Config,
    cookie_value: &str,
) -> Result<Option<Session>, ServerError> {
    let id_hash = digest(cookie_value);
    let row = sqlx::query(
        "SELECT user_id, stage, csrf_token, pending_totp_secret, created_at, last_seen \
         FROM sessions WHERE id_hash = $1",
    )
    .bind(&id_hash)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let session = Session {
        id_hash,
        user_id: row.try_get("user_id")?,
        stage: Stage::parse(&row.try_get::<String, _>("stage")?)
            .ok_or_else(|| ServerError::Database("unknown session stage".into()))?,
        csrf_token: row.try_get("csrf_token")?,
        pending_totp_secret: row.try_get("pending_totp_secret")?,
        created_at: row.try_get("created_at")?,
        last_seen: row.try_get("last_seen")?,
    };
    let t = now();
    let idle = t - session.last_seen > config.session_idle.as_secs() as i64;
    let too_old = t - session.created_at > config.session_max.as_secs() as i64;
    if idle || too_old {
        delete(db, &session.id_hash).await?;
        return Ok(None);
    }
    Ok(Some(session))
}

/// Records use of the session, at most once a minute (a write per request is not needed to keep
/// idle expiry accurate to the minute).
pub async fn touch(db: &Db, session: &Session) -> Result<(), ServerError> {
    let t = now();
    if t - session.last_seen >= 60 {
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2")
            .bind(t)
            .bind(&session.id_hash)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

pub async fn delete(db: &Db, id_hash: &str) -> Result<(), ServerError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Ends every session of an account (disabled, password reset).
pub async fn delete_for_user(db: &Db, user_id: i64) -> Result<(), ServerError> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn set_pending_totp(db: &Db, id_hash: &str, secret: &str) -> Result<(), ServerError> {
    sqlx::query("UPDATE sessions SET pending_totp_secret = $1 WHERE id_hash = $2")
        .bind(secret)
        .bind(id_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Removes every expired session (run now and then; `find` also refuses them one by one).
pub async fn purge_expired(db: &Db, config: &Config) -> Result<u64, ServerError> {
    let t = now();
    let done = sqlx::query("DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2")
        .bind(t - config.session_idle.as_secs() as i64)
        .bind(t - config.session_max.as_secs() as i64)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

/// The Set-Cookie value for a session id: HttpOnly, SameSite=Lax (links in e-mails still
/// arrive signed in; every state change also needs the CSRF token), Secure unless the server is
/// reached over plain http on a non-local address.
pub fn set_cookie(value: &str, config: &Config) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{}",
        if config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    )
}

pub fn clear_cookie(config: &Config) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    )
}

/// The session id from a Cookie header, if it carries one.
pub fn from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(
            from_cookie_header("a=1; portcullis_session=abc; b=2"),
            Some("abc")
        );
        assert_eq!(from_cookie_header("portcullis_session="), None);
        assert_eq!(from_cookie_header("other=1"), None);
        assert_eq!(
            from_cookie_header(&format!("{COOKIE}={}", "x".repeat(65))),
            None
        );
    }
}
