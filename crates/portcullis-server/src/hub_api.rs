//! What the hub serves to the organisation's CLIs, sensors and other tools: a TAXII 2.1
//! server with one read-only collection (what `portcullis iocs update --server` pulls), the
//! network exports, and the observation key devices digest their checks with. Nothing marked
//! above `hub_share_up_to` (never TLP:RED) leaves the server.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_interchange::export::{Dataset, ExportFormat};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::AppError;
use crate::hub::{self, COLLECTION_ID};
use crate::middleware::Principal;

const TAXII: &str = "application/taxii+json;version=2.1";
/// Objects per page when the client does not say, and the most it may ask for.
const DEFAULT_LIMIT: i64 = 1000;
const MAX_LIMIT: i64 = 10_000;

/// A TAXII answer: JSON with the TAXII media type, and the given extra headers.
fn taxii(status: StatusCode, body: Value, extra: &[(&'static str, String)]) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII));
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
    response
}

/// A TAXII error message.
fn taxii_error(status: StatusCode, title: &str, description: &str) -> Response {
    taxii(
        status,
        json!({ "title": title, "description": description, "http_status": status.as_u16().to_string() }),
        &[],
    )
}

fn max_rank(state: &AppState) -> i64 {
    hub::rank(state.config.hub_share_up_to)
}

pub async fn discovery() -> Response {
    taxii(
        StatusCode::OK,
        json!({
            "title": "Portcullis indicator hub",
            "description": "The organisation's indicators, as its security office shares them.",
            "default": "/taxii2/api/",
            "api_roots": ["/taxii2/api/"],
        }),
        &[],
    )
}

pub async fn api_root() -> Response {
    taxii(
        StatusCode::OK,
        json!({
            "title": "Portcullis indicator hub",
            "versions": [TAXII],
            "max_content_length": 0,
        }),
        &[],
    )
}

fn collection(state: &AppState) -> Value {
    json!({
        "id": COLLECTION_ID,
        "title": "The organisation's indicators",
        "description": format!(
            "Every feed of the hub, up to {}",
            hub::tlp_name(state.config.hub_share_up_to)
        ),
        "can_read": true,
        "can_write": false,
        "media_types": ["application/stix+json;version=2.1"],
    })
}

pub async fn collections(State(state): State<AppState>) -> Response {
    taxii(
        StatusCode::OK,
        json!({ "collections": [collection(&state)] }),
        &[],
    )
}

pub async fn collection_info(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if id != COLLECTION_ID {
        return taxii_error(StatusCode::NOT_FOUND, "No such collection", "");
    }
    taxii(StatusCode::OK, collection(&state), &[])
}

#[derive(Deserialize)]
pub struct ObjectsQuery {
    added_after: Option<String>,
    limit: Option<String>,
    next: Option<String>,
    /// Comma-separated STIX types.
    #[serde(rename = "match[type]")]
    match_type: Option<String>,
    /// Comma-separated object ids.
    #[serde(rename = "match[id]")]
    match_id: Option<String>,
}

/// The values of a `match[…]` filter: at most 100, each a plausible STIX type or id.
fn match_values(text: Option<&str>, id: bool) -> Option<Vec<String>> {
    let Some(text) = text else {
        return Some(Vec::new());
    };
    let values: Vec<String> = text.split(',').map(|v| v.trim().to_string()).collect();
    let plausible = |v: &String| {
        !v.is_empty()
            && v.len() <= 300
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || (id && b == b'_'))
    };
    (values.len() <= 100 && values.iter().all(plausible)).then_some(values)
}

fn taxii_time(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

pub async fn objects(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ObjectsQuery>,
) -> Result<Response, AppError> {
    if id != COLLECTION_ID {
        return Ok(taxii_error(StatusCode::NOT_FOUND, "No such collection", ""));
    }
    let bad = |what: &str| taxii_error(StatusCode::BAD_REQUEST, "Bad request", what);
    let after = match query.added_after.as_deref() {
        None => None,
        Some(text) => match text.parse::<jiff::Timestamp>() {
            Ok(t) => Some(t.as_microsecond()),
            Err(_) => return Ok(bad("added_after is not a timestamp")),
        },
    };
    let limit = match query.limit.as_deref().map(str::parse::<i64>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if n > 0 => n.min(MAX_LIMIT),
        Some(_) => return Ok(bad("limit is a positive number")),
    };
    let next = match query.next.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) if n >= 0 => Some(n),
        Some(_) => return Ok(bad("next is not a token this server gave")),
    };
    let (Some(types), Some(ids)) = (
        match_values(query.match_type.as_deref(), false),
        match_values(query.match_id.as_deref(), true),
    ) else {
        return Ok(bad(
            "match[type] and match[id] are lists of STIX types and ids",
        ));
    };
    let query = hub::PageQuery {
        after,
        next,
        limit,
        max_rank: max_rank(&state),
        types,
        ids,
    };
    let page = hub::page(&state.db, &query).await?;
    let mut body = json!({ "more": page.next.is_some(), "objects": page.objects });
    if let Some(next) = page.next {
        body["next"] = json!(next.to_string());
    }
    let headers: Vec<(&'static str, String)> = page
        .added
        .map(|(first, last)| {
            vec![
                ("X-TAXII-Date-Added-First", taxii_time(first)),
                ("X-TAXII-Date-Added-Last", taxii_time(last)),
            ]
        })
        .unwrap_or_default();
    Ok(taxii(StatusCode::OK, body, &headers))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
}

/// The formats `/api/hub/indicators` writes, by name.
fn export_format(name: &str) -> Option<(ExportFormat, &'static str)> {
    Some(match name {
        "stix2" => (ExportFormat::Stix2, "application/stix+json;version=2.1"),
        "zeek" => (ExportFormat::ZeekIntel, "text/plain; charset=utf-8"),
        "suricata-domains" => (
            ExportFormat::SuricataDataset(Dataset::Domains),
            "text/plain; charset=utf-8",
        ),
        "suricata-ips" => (
            ExportFormat::SuricataDataset(Dataset::Ips),
            "text/plain; charset=utf-8",
        ),
        "suricata-sha256" => (
            ExportFormat::SuricataDataset(Dataset::Sha256),
            "text/plain; charset=utf-8",
        ),
        "hosts" => (ExportFormat::Hosts, "text/plain; charset=utf-8"),
        "csv" => (ExportFormat::Csv, "text/csv; charset=utf-8"),
        _ => return None,
    })
}

pub async fn export(
    State(state): State<AppState>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, AppError> {
    let name = query.format.as_deref().unwrap_or("stix2");
    let (format, media_type) = export_format(name).ok_or_else(|| {
        AppError::BadRequest(
            "format is one of stix2, zeek, suricata-domains, suricata-ips, suricata-sha256, hosts, csv"
                .into(),
        )
    })?;
    let indicators = hub::load(&state.db, max_rank(&state)).await?;
    let share = state.config.hub_share_up_to;
    let bytes = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        portcullis_interchange::export::export(&indicators, format, Some(share), &mut out)
            .map(|_| out)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    Ok((StatusCode::OK, headers, bytes).into_response())
}

/// The key a device digests what its check saw with (see `observations`).
pub async fn observation_key(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, AppError> {
    who.device.as_ref().ok_or(AppError::Unauthorized)?;
    let key = crate::observations::key(&state.db).await?;
    Ok(axum::Json(json!({ "key_id": key.id, "key": hex::encode(&key.secret) })).into_response())
}
