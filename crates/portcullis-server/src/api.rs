//! The JSON API: the same actions as the pages, for scripts and other tools, with a bearer token
//! (`Authorization: Bearer pc_…`, made on the account page) or a session cookie plus the
//! `X-CSRF-Token` header. Errors are `{"error": …, "status": …}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::accounts::Role;
use crate::advisories::{self, Advisory, Draft, State as AdvisoryState};
use crate::authz::{Access, route_table};
use crate::error::AppError;
use crate::middleware::Principal;
use crate::{AppState, ServerError, actions};

/// An error answered as JSON.
pub struct ApiError(AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        ApiError(e)
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> ApiError {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.for_api().into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A JSON body, or the right 4xx: 415 for another content type, 413 too large, 400 malformed,
/// 422 well-formed but not what the route takes.
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        ApiError(match rejection {
            JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
            JsonRejection::JsonSyntaxError(_) => {
                AppError::BadRequest("the body is not valid JSON".into())
            }
            JsonRejection::JsonDataError(e) => AppError::Unprocessable(e.body_text()),
            JsonRejection::BytesRejection(_) => AppError::PayloadTooLarge,
            _ => AppError::BadRequest("the body could not be read".into()),
        })
    })
}

fn record_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError(AppError::NotFound))
}

/// An advisory as the API shows it: the rendered (sanitised) HTML and the checklist steps
/// beside the Markdown.
fn advisory_json(advisory: &Advisory, officer: bool) -> Value {
    let mut value = json!({
        "id": advisory.id,
        "title": advisory.title,
        "severity": advisory.severity,
        "state": advisory.state,
        "body_markdown": advisory.body_markdown,
        "body_html": advisory.html(),
        "steps": advisory.steps(),
        "acknowledge_by": advisory.acknowledge_by,
        "posture_rule": advisory.posture_rule,
        "published_at": advisory.published_at,
    });
    if officer {
        value["audience"] = json!(advisory.audience);
        value["created_at"] = json!(advisory.created_at);
        value["archived_at"] = json!(advisory.archived_at);
    }
    value
}

pub async fn me(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let user = who.user()?;
    Ok(Json(json!({
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "groups": crate::accounts::groups_of(&state.db, user.id).await?,
        "second_factor": user.totp_enabled,
    })))
}

pub async fn advisories(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let user = who.user()?;
    if user.role >= Role::Officer {
        let all = advisories::all(&state.db).await?;
        return Ok(Json(json!(
            all.iter()
                .map(|a| advisory_json(a, true))
                .collect::<Vec<_>>()
        )));
    }
    let mine = advisories::for_member(&state.db, user).await?;
    Ok(Json(json!(
        mine.iter()
            .map(|item| {
                let mut v = advisory_json(&item.advisory, false);
                v["read_at"] = json!(item.read_at);
                v["acknowledged_at"] = json!(item.acknowledged_at);
                v
            })
            .collect::<Vec<_>>()
    )))
}

pub async fn advisory(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = who.user()?;
    let (advisory, _) = actions::view(&state, user, record_id(&id)?).await?;
    Ok(Json(advisory_json(&advisory, user.role >= Role::Officer)))
}

pub async fn create_advisory(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    draft: Result<Json<Draft>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let draft = body(draft)?;
    let advisory = actions::create(&state, &who, &draft).await?;
    Ok((StatusCode::CREATED, Json(advisory_json(&advisory, true))))
}

pub async fn publish_advisory(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let advisory =
        actions::transition(&state, &who, record_id(&id)?, AdvisoryState::Published).await?;
    Ok(Json(advisory_json(&advisory, true)))
}

pub async fn archive_advisory(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let advisory =
        actions::transition(&state, &who, record_id(&id)?, AdvisoryState::Archived).await?;
    Ok(Json(advisory_json(&advisory, true)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// How many of the advisory's checklist steps the member confirms having done.
    #[serde(default)]
    steps_confirmed: usize,
}

pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ack: Result<Json<Acknowledgement>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let ack = body(ack)?;
    let advisory = actions::acknowledge(&state, &who, record_id(&id)?, ack.steps_confirmed).await?;
    Ok(Json(json!({ "id": advisory.id, "acknowledged": true })))
}

pub async fn advisory_status(
    State(state): State<AppState>,
    Extension(_who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = record_id(&id)?;
    advisories::get(&state.db, id)
        .await?
        .ok_or(ApiError(AppError::NotFound))?;
    let recipients = advisories::recipients(&state.db, id).await?;
    Ok(Json(json!({
        "id": id,
        "total": recipients.len(),
        "read": recipients.iter().filter(|r| r.read_at.is_some()).count(),
        "acknowledged": recipients.iter().filter(|r| r.acknowledged_at.is_some()).count(),
        "recipients": recipients,
    })))
}

pub async fn remind(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (_, outcome) = actions::remind(&state, &who, record_id(&id)?).await?;
    Ok(Json(json!(outcome)))
}

/// A device's check findings (`portcullis check --submit`): validated, stored without
/// records, and turned into incidents for its HIGH and CRITICAL alerts.
pub async fn submit(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let device = who.device.clone().ok_or(ApiError(AppError::Unauthorized))?;
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError(AppError::UnsupportedMediaType));
    }
    let target = Some(format!("device {}", device.id));
    match crate::devices::receive(&state.db, &device, &body).await {
        Ok((submission, stored)) => {
            crate::audit::record(
                &state.db,
                None,
                "submission.received",
                target,
                Some(who.address),
                json!({
                    "submission": stored.submission_id,
                    "alerts": submission.alerts.len(),
                    "incidents_opened": stored.incidents_opened,
                }),
            )
            .await?;
            crate::metrics::Metrics::add(&state.metrics.submissions_received, 1);
            crate::metrics::Metrics::add(
                &state.metrics.incidents_opened,
                stored.incidents_opened.len() as u64,
            );
            Ok((
                StatusCode::CREATED,
                Json(json!({
                    "submission": stored.submission_id,
                    "device": device.name,
                    "incidents_opened": stored.incidents_opened,
                    "incidents_updated": stored.incidents_updated,
                })),
            ))
        }
        Err(error) => {
            crate::metrics::Metrics::add(&state.metrics.submissions_refused, 1);
            let action = match &error {
                ServerError::Conflict(_) => "submission.replayed",
                _ => "submission.refused",
            };
            crate::audit::record(
                &state.db,
                None,
                action,
                target,
                Some(who.address),
                json!({ "reason": error.to_string() }),
            )
            .await?;
            Err(error.into())
        }
    }
}

pub async fn hub_feeds(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(crate::hub::list(&state.db).await?)))
}

pub async fn add_hub_feed(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    fields: Result<Json<crate::hub::FeedFields>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let feed = body(fields)?.into_new_feed()?;
    let id = actions::add_feed(&state, &who, feed).await?;
    let feed = crate::hub::get(&state.db, id).await?;
    Ok((StatusCode::CREATED, Json(json!(feed))))
}

pub async fn remove_hub_feed(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    actions::remove_feed(&state, &who, record_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn sync_hub_feed(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actions::sync_feed(&state, &who, record_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": true }))))
}

pub async fn devices(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let user = who.user()?;
    let owner = (user.role < Role::Officer).then_some(user.id);
    Ok(Json(json!(crate::devices::fleet(&state.db, owner).await?)))
}

/// The OpenAPI 3.1 document, generated from the route table so it lists exactly the routes
/// that exist, with the access each needs.
pub async fn openapi() -> Json<Value> {
    let mut paths = serde_json::Map::new();
    for spec in route_table().into_iter().filter(|s| s.is_api()) {
        let mut operation = json!({
            "summary": spec.summary,
            "operationId": operation_id(spec.method.as_str(), spec.path),
            "responses": {
                "200": { "description": "Success", "content": { "application/json": {} } },
                "4XX": { "description": "Refused: `{\"error\": …, \"status\": …}`" }
            },
        });
        let access = match spec.access {
            Access::Public => "anyone",
            Access::Officer => "officers and admins",
            Access::Admin => "admins",
            Access::Device => "a device's upload token (pcd_…)",
            Access::Reader => "officers and admins, or a device's upload token (pcd_…)",
            _ => "any signed-in account",
        };
        operation["description"] = json!(format!("Who may call it: {access}."));
        match spec.access {
            Access::Public => {}
            Access::Device => operation["security"] = json!([{ "bearer": [] }]),
            _ => operation["security"] = json!([{ "bearer": [] }, { "session": [], "csrf": [] }]),
        }
        if spec.path.starts_with("/taxii2/") && spec.path.contains("{id}") {
            operation["parameters"] = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
        } else if spec.path.contains("{id}") {
            operation["parameters"] = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } }]);
        }
        if let Some(schema) = request_schema(spec.method.as_str(), spec.path) {
            operation["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema } } });
        }
        let item = paths
            .entry(spec.path.to_string())
            .or_insert_with(|| json!({}));
        item[spec.method.as_str().to_ascii_lowercase()] = operation;
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Portcullis security office",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Advisories members read and acknowledge. Every call is authorised by role; members reach only advisories addressed to them.",
        },
        "paths": paths,
        "components": { "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "description": "An API token (pc_…) made on the account page." },
            "session": { "type": "apiKey", "in": "cookie", "name": crate::sessions::COOKIE },
            "csrf": { "type": "apiKey", "in": "header", "name": "X-CSRF-Token", "description": "Required with the session cookie on every POST." },
        }},
    }))
}

fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<&str> = path
        .trim_start_matches("/api/")
        .trim_matches('/')
        .split('/')
        .map(|part| if part == "{id}" { "one" } else { part })
        .collect();
    format!(
        "{}_{}",
        method.to_ascii_lowercase(),
        words.join("_").replace(['.', '-'], "_")
    )
}

fn request_schema(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("POST", "/api/advisories") => Some(json!({
            "type": "object",
            "required": ["title", "body_markdown", "severity", "audience"],
            "additionalProperties": false,
            "properties": {
                "title": { "type": "string", "maxLength": advisories::MAX_TITLE_CHARS },
                "body_markdown": { "type": "string", "maxLength": advisories::MAX_BODY_BYTES },
                "severity": { "enum": ["info", "low", "medium", "high", "critical"] },
                "audience": { "type": "object", "additionalProperties": false, "properties": {
                    "everyone": { "type": "boolean" },
                    "groups": { "type": "array", "items": { "type": "integer" } },
                    "members": { "type": "array", "items": { "type": "string", "format": "email" } }
                }},
                "acknowledge_by": { "type": ["integer", "null"], "description": "Unix seconds" },
                "posture_rule": { "type": ["string", "null"] }
            }
        })),
        ("POST", "/api/submissions") => Some(json!({
            "type": "object",
            "description": "The findings of one check, as `portcullis check --submit` sends them (schema portcullis-submission/1): device facts, posture, alerts without their records, module summary, coverage, and optionally `observed` (keyed digests of what the check looked up, for the re-check).",
            "required": ["schema", "tool_version", "checked_at", "device", "posture", "alerts", "modules", "coverage"]
        })),
        ("POST", "/api/hub/feeds") => Some(json!({
            "type": "object",
            "required": ["name", "kind"],
            "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "maxLength": 80 },
                "kind": { "enum": ["upload", "url", "taxii", "builtin", "index"] },
                "format": { "enum": ["stix2", "misp", "csv", "plain"], "description": "For an upload" },
                "content": { "type": "string", "description": "For an upload: the file's text" },
                "url": { "type": "string", "description": "For url, taxii and index feeds (an index defaults to the public one MVT reads)" },
                "raw_base": { "type": "string", "description": "For an index: where its GitHub entries are fetched from (a mirror)" },
                "collection": { "type": "string", "description": "For a TAXII feed" },
                "token_env": { "type": "string", "pattern": "^PORTCULLIS_FEED_[A-Z0-9_]+$", "description": "A TAXII bearer token in this environment variable of the server" },
                "interval_minutes": { "type": "integer", "minimum": 5, "maximum": 10080 }
            }
        })),
        ("POST", "/api/advisories/{id}/acknowledge") => Some(json!({
            "type": "object",
            "additionalProperties": false,
            "properties": { "steps_confirmed": { "type": "integer", "minimum": 0 } }
        })),
        _ => None,
    }
}
