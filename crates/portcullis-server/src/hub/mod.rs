//! The organisation's indicator hub: feeds officers manage (an upload, an address of a STIX2
//! file, a TAXII 2.1 collection, the built-in Iran collection), synced on a schedule by one
//! job at a time across every instance, and served to the organisation's CLIs and sensors as a
//! TAXII 2.1 collection and as network exports. Every feed is checked by loading it as a check
//! would; a feed that fails keeps what it held. When the hub gains indicators, earlier checks
//! are re-checked by digest (`observations`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use portcullis_feeds::http::{self, Fetched, Validators};
use portcullis_feeds::taxii::{self, Auth, TaxiiState};
use portcullis_indicators::Indicators;
use portcullis_interchange::export::Tlp;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{Db, ServerError, now};

mod objects;
mod sync;

use objects::install;
pub use objects::{Page, PageQuery, load, page, rank};
use sync::enqueue_sync;
pub use sync::{run_sync, schedule};

/// The job that syncs feeds and then refreshes the hub's digests.
pub const SYNC_JOB: &str = "hub.sync";
/// The collection id the hub serves over TAXII.
pub const COLLECTION_ID: &str = "organisation";
/// Largest upload through the API (the web form is bounded by the request limit).
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;
/// Most bytes one feed may download (the largest public collection is ~20 MB).
const MAX_FEED_BYTES: u64 = 128 << 20;
/// How often an address or TAXII feed is synced unless the officer says otherwise.
pub const DEFAULT_INTERVAL_MINUTES: i64 = 6 * 60;
/// Serialises hub syncs across instances on PostgreSQL (see `enqueue_sync`).
const SYNC_LOCK: i64 = 7_678_285_548;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    Upload,
    Url,
    Taxii,
    Builtin,
    /// An index of collections (`indicators.yaml`): each entry becomes a feed of its own.
    Index,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Upload => "upload",
            FeedKind::Url => "url",
            FeedKind::Taxii => "taxii",
            FeedKind::Builtin => "builtin",
            FeedKind::Index => "index",
        }
    }

    fn parse(text: &str) -> FeedKind {
        match text {
            "url" => FeedKind::Url,
            "taxii" => FeedKind::Taxii,
            "builtin" => FeedKind::Builtin,
            "index" => FeedKind::Index,
            _ => FeedKind::Upload,
        }
    }

    /// Whether the hub fetches it (uploads change only by a new upload).
    fn synced(self) -> bool {
        self != FeedKind::Upload
    }
}

/// A feed as the hub page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Feed {
    pub id: i64,
    pub name: String,
    pub kind: FeedKind,
    pub source: String,
    pub interval_minutes: Option<i64>,
    pub next_sync_at: Option<i64>,
    pub sha256: Option<String>,
    pub indicators: i64,
    pub tlp: Option<String>,
    pub synced_at: Option<i64>,
    pub last_error: Option<String>,
}

type FeedRow = (
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
);

const FEED_COLUMNS: &str = "id, name, kind, source, interval_minutes, next_sync_at, sha256, indicators, tlp, \
     synced_at, last_error";

fn feed(row: FeedRow) -> Feed {
    Feed {
        id: row.0,
        name: row.1,
        kind: FeedKind::parse(&row.2),
        source: row.3,
        interval_minutes: row.4,
        next_sync_at: row.5,
        sha256: row.6,
        indicators: row.7,
        tlp: row.8,
        synced_at: row.9,
        last_error: row.10,
    }
}

pub async fn list(db: &Db) -> Result<Vec<Feed>, ServerError> {
    let rows: Vec<FeedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FEED_COLUMNS} FROM hub_feeds ORDER BY name"
    )))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(feed).collect())
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Feed>, ServerError> {
    let row: Option<FeedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FEED_COLUMNS} FROM hub_feeds WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(feed))
}

/// The formats an upload may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFormat {
    Stix2,
    Misp,
    Csv,
    Plain,
}

impl UploadFormat {
    pub fn parse(text: &str) -> Option<UploadFormat> {
        Some(match text {
            "stix2" => UploadFormat::Stix2,
            "misp" => UploadFormat::Misp,
            "csv" => UploadFormat::Csv,
            "plain" => UploadFormat::Plain,
            _ => return None,
        })
    }
}

/// Where a new feed's indicators come from.
pub enum NewSource {
    Upload {
        format: UploadFormat,
        content: Vec<u8>,
    },
    /// A STIX 2.1 file at an http(s) address.
    Url(String),
    /// A TAXII 2.1 collection; a bearer token is named (an environment variable or a file on
    /// the server), never stored.
    Taxii {
        url: String,
        collection: String,
        auth: Option<Auth>,
    },
    Builtin,
    /// An index of collections; `raw_base` is where its GitHub entries are fetched from.
    Index {
        url: String,
        raw_base: String,
    },
}

pub struct NewFeed {
    pub name: String,
    pub source: NewSource,
    /// Minutes between syncs of an address or TAXII feed.
    pub interval_minutes: Option<i64>,
}

fn problem_with_name(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() || name.chars().count() > 80 {
        return Some("a feed's name is 1 to 80 characters");
    }
    if name.chars().any(char::is_control) {
        return Some("a feed's name holds no control characters");
    }
    None
}

/// The STIX 2.1 bundle of an upload, checked by loading it.
fn upload_bundle(
    name: &str,
    format: UploadFormat,
    content: &[u8],
) -> Result<(Vec<u8>, portcullis_feeds::store::Verified), ServerError> {
    if content.len() > MAX_UPLOAD_BYTES {
        return Err(ServerError::Invalid(format!(
            "an upload is at most {} MiB",
            MAX_UPLOAD_BYTES >> 20
        )));
    }
    let bundle = match format {
        UploadFormat::Stix2 => content.to_vec(),
        other => {
            let format = match other {
                UploadFormat::Misp => portcullis_interchange::Format::Misp,
                UploadFormat::Csv => portcullis_interchange::Format::Csv,
                _ => portcullis_interchange::Format::Plain,
            };
            let options = portcullis_interchange::ImportOptions {
                name: name.to_string(),
                date: jiff::Timestamp::now().strftime("%Y-%m-%d").to_string(),
                licence: None,
                include_non_ids: false,
            };
            portcullis_interchange::import(format, content, &options)
                .map_err(|e| ServerError::Invalid(format!("{name}: {e}")))?
                .bundle(&format!("upload to the hub as {name}"))
        }
    };
    let verified = portcullis_feeds::store::verify(&bundle, name)
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    if verified.counts.values().sum::<usize>() == 0 {
        return Err(ServerError::Invalid(format!(
            "{name}: holds no indicator a check can use"
        )));
    }
    Ok((bundle, verified))
}

/// Adds a feed. An upload is checked and stored at once; the others are synced by the job
/// queued here. Returns the feed's id.
pub async fn add(db: &Db, new: NewFeed, by: i64) -> Result<i64, ServerError> {
    if let Some(problem) = problem_with_name(&new.name) {
        return Err(ServerError::Invalid(problem.into()));
    }
    let interval = new
        .interval_minutes
        .unwrap_or(DEFAULT_INTERVAL_MINUTES)
        .clamp(5, 7 * 24 * 60);
    let (kind, source, state, upload) = match new.source {
        NewSource::Upload { format, content } => {
            let (bundle, verified) = upload_bundle(&new.name, format, &content)?;
            (
                FeedKind::Upload,
                "upload".to_string(),
                None,
                Some((bundle, verified)),
            )
        }
        NewSource::Url(url) => {
            check_address(&url)?;
            (FeedKind::Url, url, Some(json!({})), None)
        }
        NewSource::Taxii {
            url,
            collection,
            auth,
        } => {
            check_address(&url)?;
            if collection.trim().is_empty() || collection.len() > 200 {
                return Err(ServerError::Invalid(
                    "a TAXII collection id is 1 to 200 characters".into(),
                ));
            }
            let state = json!({ "url": url, "collection": collection.trim(), "auth": auth });
            (FeedKind::Taxii, url, Some(state), None)
        }
        NewSource::Builtin => (
            FeedKind::Builtin,
            portcullis_interchange::iran::SOURCE.to_string(),
            None,
            None,
        ),
        NewSource::Index { url, raw_base } => {
            check_address(&url)?;
            check_address(&raw_base)?;
            (
                FeedKind::Index,
                url,
                Some(json!({ "raw_base": raw_base })),
                None,
            )
        }
    };
    let mut tx = db.begin_write().await?;
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM hub_feeds WHERE name = $1")
        .bind(&new.name)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(ServerError::Conflict(format!(
            "a feed named {:?} exists",
            new.name
        )));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO hub_feeds (name, kind, source, state, interval_minutes, next_sync_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&new.name)
    .bind(kind.as_str())
    .bind(&source)
    .bind(state.map(|s| s.to_string()))
    .bind(kind.synced().then_some(interval))
    .bind(kind.synced().then_some(now() + interval * 60))
    .bind(by)
    .bind(now())
    .fetch_one(&mut *tx)
    .await?;
    let feeds = match upload {
        Some((bundle, verified)) => {
            install(&mut tx, id, &bundle, &verified, None).await?;
            vec![]
        }
        None => vec![id],
    };
    enqueue_sync(&mut tx, db.backend, &feeds).await?;
    tx.commit().await?;
    Ok(id)
}

fn check_address(url: &str) -> Result<(), ServerError> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(()),
        _ => Err(ServerError::Invalid(format!(
            "{url:?} is not an http(s):// address"
        ))),
    }
}

/// Removes a feed and what it held; the digests are refreshed by the job queued here.
pub async fn remove(db: &Db, id: i64) -> Result<(), ServerError> {
    let mut tx = db.begin_write().await?;
    // An index's entries go with it (said here too, not left to the cascade alone).
    sqlx::query(
        "DELETE FROM hub_objects WHERE feed_id = $1 \
         OR feed_id IN (SELECT id FROM hub_feeds WHERE parent_id = $1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM hub_feeds WHERE parent_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let gone = sqlx::query("DELETE FROM hub_feeds WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(ServerError::NotFound("no such feed".into()));
    }
    enqueue_sync(&mut tx, db.backend, &[]).await?;
    tx.commit().await?;
    Ok(())
}

/// Asks for a sync of one feed now.
pub async fn request_sync(db: &Db, id: i64) -> Result<(), ServerError> {
    if get(db, id).await?.is_none() {
        return Err(ServerError::NotFound("no such feed".into()));
    }
    let mut tx = db.begin_write().await?;
    enqueue_sync(&mut tx, db.backend, &[id]).await?;
    tx.commit().await?;
    Ok(())
}

pub fn tlp_name(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "TLP:CLEAR",
        Tlp::Green => "TLP:GREEN",
        Tlp::Amber => "TLP:AMBER",
        Tlp::AmberStrict => "TLP:AMBER+STRICT",
        Tlp::Red => "TLP:RED",
    }
}

/// What the name of an environment variable holding a TAXII token starts with.
pub const TOKEN_ENV_PREFIX: &str = "PORTCULLIS_FEED_";

fn is_token_variable(name: &str) -> bool {
    name.len() > TOKEN_ENV_PREFIX.len()
        && name.len() <= 100
        && name.starts_with(TOKEN_ENV_PREFIX)
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A new feed as the form and the API give it: `kind` says which of the other fields count.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedFields {
    pub name: String,
    /// `upload`, `url`, `taxii` or `builtin`.
    pub kind: String,
    /// For an upload: `stix2`, `misp`, `csv` or `plain`.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    /// For `url` and `taxii`: the address (a TAXII discovery or API root address).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub collection: Option<String>,
    /// A TAXII bearer token in this environment variable of the server, whose name starts
    /// with [`TOKEN_ENV_PREFIX`] (so that an officer cannot have the server send any other of
    /// its settings, or a file of its machine, to an address of their choosing).
    #[serde(default)]
    pub token_env: Option<String>,
    /// For an index: where its GitHub entries are fetched from (default GitHub's raw host).
    #[serde(default)]
    pub raw_base: Option<String>,
    #[serde(default)]
    pub interval_minutes: Option<i64>,
}

impl FeedFields {
    pub fn into_new_feed(self) -> Result<NewFeed, ServerError> {
        let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let missing =
            |what: &str| ServerError::Invalid(format!("a {} feed needs {what}", self.kind));
        let source = match self.kind.as_str() {
            "upload" => NewSource::Upload {
                format: UploadFormat::parse(self.format.as_deref().unwrap_or("stix2")).ok_or_else(
                    || ServerError::Invalid("format is one of stix2, misp, csv, plain".into()),
                )?,
                content: self
                    .content
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .ok_or_else(|| missing("content"))?
                    .into_bytes(),
            },
            "url" => NewSource::Url(given(self.url.clone()).ok_or_else(|| missing("an address"))?),
            "taxii" => NewSource::Taxii {
                url: given(self.url.clone()).ok_or_else(|| missing("an address"))?,
                collection: given(self.collection.clone())
                    .ok_or_else(|| missing("a collection id"))?,
                auth: match given(self.token_env.clone()) {
                    Some(var) if is_token_variable(&var) => Some(Auth::Bearer {
                        token: taxii::SecretRef::Env(var),
                    }),
                    Some(var) => {
                        return Err(ServerError::Invalid(format!(
                            "{var:?}: the token's variable must be named {TOKEN_ENV_PREFIX}… \
                             (capital letters, digits and _), set in the server's environment"
                        )));
                    }
                    None => None,
                },
            },
            "builtin" => NewSource::Builtin,
            "index" => NewSource::Index {
                url: given(self.url.clone())
                    .unwrap_or_else(|| portcullis_feeds::index::DEFAULT_INDEX_URL.into()),
                raw_base: given(self.raw_base.clone())
                    .unwrap_or_else(|| portcullis_feeds::index::DEFAULT_RAW_BASE.into()),
            },
            other => {
                return Err(ServerError::Invalid(format!(
                    "kind {other:?} is not one of upload, url, taxii, builtin, index"
                )));
            }
        };
        let name = given(Some(self.name))
            .or_else(|| match source {
                NewSource::Builtin => Some(portcullis_interchange::iran::NAME.to_string()),
                NewSource::Index { .. } => Some("Public indicator index".to_string()),
                _ => None,
            })
            .ok_or_else(|| ServerError::Invalid("a feed needs a name".into()))?;
        Ok(NewFeed {
            name,
            source,
            interval_minutes: self.interval_minutes,
        })
    }
}
