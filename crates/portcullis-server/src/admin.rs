//! What `portcullis admin` does from the command line: the first account and recovery, straight
//! on the database (whoever can run it can read the database anyway). Each action is audited
//! with the actor "command line".

use serde_json::json;

use crate::accounts::{self, Role, User};
use crate::{Db, ServerError, audit};

async fn find(db: &Db, email: &str) -> Result<User, ServerError> {
    accounts::by_email(db, email)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("no account for {email}")))
}

/// Creates an account with a password (the first admin) or, without one, with an invitation
/// link; returns the account and the invitation token if one was made.
pub async fn create_user(
    db: &Db,
    email: &str,
    name: &str,
    role: Role,
    password: Option<&str>,
) -> Result<(User, Option<String>), ServerError> {
    let user = accounts::create_user(db, email, name, role, password).await?;
    let invitation = match password {
        Some(_) => None,
        None => Some(accounts::invite(db, user.id, None).await?),
    };
    audit::record(
        db,
        None,
        "user.created",
        Some(user.email.clone()),
        None,
        json!({ "role": role, "by": "command line" }),
    )
    .await?;
    Ok((user, invitation))
}

/// Sets a new password, ends the account's sessions and clears its lockout.
pub async fn reset_password(db: &Db, email: &str, password: &str) -> Result<User, ServerError> {
    let user = find(db, email).await?;
    accounts::set_password(db, user.id, password).await?;
    audit::record(
        db,
        None,
        "user.password_reset",
        Some(user.email.clone()),
        None,
        json!({ "by": "command line" }),
    )
    .await?;
    Ok(user)
}

/// Removes the second factor of an officer who lost their authenticator; they enrol again at
/// next login.
pub async fn reset_second_factor(db: &Db, email: &str) -> Result<User, ServerError> {
    let user = find(db, email).await?;
    accounts::reset_second_factor(db, user.id).await?;
    audit::record(
        db,
        None,
        "second_factor.reset",
        Some(user.email.clone()),
        None,
        json!({ "by": "command line" }),
    )
    .await?;
    Ok(user)
}

pub async fn disable_user(db: &Db, email: &str) -> Result<User, ServerError> {
    let user = find(db, email).await?;
    accounts::set_disabled(db, user.id, true).await?;
    audit::record(
        db,
        None,
        "user.disabled",
        Some(user.email.clone()),
        None,
        json!({ "by": "command line" }),
    )
    .await?;
    Ok(user)
}
