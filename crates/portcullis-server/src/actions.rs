//! What the web pages and the JSON API both do, written once: each action checks the record
//! (a member only reaches advisories addressed to them), changes it, and writes the audit entry.

use serde_json::json;

use crate::AppState;
use crate::accounts::User;
use crate::advisories::{self, Advisory, Draft, ReminderOutcome, State};
use crate::audit;
use crate::error::AppError;
use crate::middleware::Principal;

fn target(advisory: &Advisory) -> Option<String> {
    Some(format!("advisory {}", advisory.id))
}

/// An advisory the principal may see, or NotFound (a member is not told that others exist).
/// Opening one addressed to you records that you read it.
pub async fn view(state: &AppState, user: &User, id: i64) -> Result<(Advisory, bool), AppError> {
    let advisory = advisories::get(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !advisories::may_view(&state.db, user, &advisory).await? {
        return Err(AppError::NotFound);
    }
    let recipient = advisory.state == State::Published
        && advisories::in_audience(&state.db, advisory.id, user.id).await?;
    if recipient {
        advisories::mark_read(&state.db, advisory.id, user.id).await?;
    }
    Ok((advisory, recipient))
}

pub async fn create(
    state: &AppState,
    who: &Principal,
    draft: &Draft,
) -> Result<Advisory, AppError> {
    let user = who.user()?;
    let advisory = advisories::create(&state.db, user, draft).await?;
    audit::record(
        &state.db,
        Some(user),
        "advisory.created",
        target(&advisory),
        Some(who.address),
        json!({ "title": advisory.title, "severity": advisory.severity }),
    )
    .await?;
    Ok(advisory)
}

pub async fn update(
    state: &AppState,
    who: &Principal,
    id: i64,
    draft: &Draft,
) -> Result<Advisory, AppError> {
    let user = who.user()?;
    let advisory = advisories::update(&state.db, id, draft).await?;
    audit::record(
        &state.db,
        Some(user),
        "advisory.updated",
        target(&advisory),
        Some(who.address),
        json!({ "title": advisory.title }),
    )
    .await?;
    Ok(advisory)
}

pub async fn transition(
    state: &AppState,
    who: &Principal,
    id: i64,
    to: State,
) -> Result<Advisory, AppError> {
    let user = who.user()?;
    let advisory = advisories::transition(&state.db, id, to).await?;
    let action = match to {
        State::Published => "advisory.published",
        State::Archived => "advisory.archived",
        State::Draft => "advisory.drafted",
    };
    audit::record(
        &state.db,
        Some(user),
        action,
        target(&advisory),
        Some(who.address),
        json!({}),
    )
    .await?;
    Ok(advisory)
}

pub async fn acknowledge(
    state: &AppState,
    who: &Principal,
    id: i64,
    steps_confirmed: usize,
) -> Result<Advisory, AppError> {
    let user = who.user()?;
    let (advisory, recipient) = view(state, user, id).await?;
    if !recipient {
        return Err(AppError::Conflict(
            "this advisory is not addressed to you".into(),
        ));
    }
    if !advisories::acknowledge(&state.db, &advisory, user, steps_confirmed).await? {
        return Ok(advisory);
    }
    audit::record(
        &state.db,
        Some(user),
        "advisory.acknowledged",
        target(&advisory),
        Some(who.address),
        json!({ "steps_confirmed": steps_confirmed }),
    )
    .await?;
    Ok(advisory)
}

pub async fn remind(
    state: &AppState,
    who: &Principal,
    id: i64,
) -> Result<(Advisory, ReminderOutcome), AppError> {
    let user = who.user()?;
    let advisory = advisories::get(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let outcome = advisories::remind(
        &state.db,
        &state.mailer,
        &advisory,
        user,
        &state.config.public_url,
    )
    .await?;
    audit::record(
        &state.db,
        Some(user),
        "advisory.reminded",
        target(&advisory),
        Some(who.address),
        json!({ "sent": outcome.sent, "failed": outcome.failed.len(), "not_sent": outcome.recorded_only.len() }),
    )
    .await?;
    Ok((advisory, outcome))
}

/// Adds a hub feed (an upload is checked and stored at once; the others sync in the
/// background) and audits it.
pub async fn add_feed(
    state: &AppState,
    who: &Principal,
    feed: crate::hub::NewFeed,
) -> Result<i64, AppError> {
    let user = who.user()?;
    let name = feed.name.clone();
    let kind = match &feed.source {
        crate::hub::NewSource::Upload { .. } => "upload",
        crate::hub::NewSource::Url(_) => "url",
        crate::hub::NewSource::Taxii { .. } => "taxii",
        crate::hub::NewSource::Builtin => "builtin",
        crate::hub::NewSource::Index { .. } => "index",
    };
    let id = crate::hub::add(&state.db, feed, user.id).await?;
    audit::record(
        &state.db,
        Some(user),
        "hub.feed_added",
        Some(format!("feed {id}")),
        Some(who.address),
        json!({ "name": name, "kind": kind }),
    )
    .await?;
    Ok(id)
}

pub async fn remove_feed(state: &AppState, who: &Principal, id: i64) -> Result<(), AppError> {
    let user = who.user()?;
    let feed = crate::hub::get(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    crate::hub::remove(&state.db, id).await?;
    audit::record(
        &state.db,
        Some(user),
        "hub.feed_removed",
        Some(format!("feed {id}")),
        Some(who.address),
        json!({ "name": feed.name }),
    )
    .await?;
    Ok(())
}

pub async fn sync_feed(state: &AppState, who: &Principal, id: i64) -> Result<(), AppError> {
    let user = who.user()?;
    crate::hub::request_sync(&state.db, id).await?;
    audit::record(
        &state.db,
        Some(user),
        "hub.sync_requested",
        Some(format!("feed {id}")),
        Some(who.address),
        json!({}),
    )
    .await?;
    Ok(())
}
