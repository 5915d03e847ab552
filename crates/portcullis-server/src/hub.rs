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

use crate::observations::{self, Gained};
use crate::{Backend, Db, ServerError, now};

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

/// Queues a sync of `feeds` (and a refresh of the digests), joining the sync already waiting
/// if there is one, so that at most one waits and one runs.
async fn enqueue_sync(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    feeds: &[i64],
) -> Result<(), ServerError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SYNC_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    let waiting: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, payload FROM jobs WHERE kind = $1 AND done_at IS NULL AND claimed_by IS NULL \
         ORDER BY id LIMIT 1",
    )
    .bind(SYNC_JOB)
    .fetch_optional(&mut **tx)
    .await?;
    match waiting {
        Some((id, payload)) => {
            let mut all = payload_feeds(&payload);
            all.extend(feeds);
            all.sort_unstable();
            all.dedup();
            sqlx::query("UPDATE jobs SET payload = $1 WHERE id = $2")
                .bind(json!({ "feeds": all }).to_string())
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        None => crate::jobs::enqueue(tx, SYNC_JOB, &json!({ "feeds": feeds })).await?,
    }
    Ok(())
}

fn payload_feeds(payload: &str) -> Vec<i64> {
    serde_json::from_str::<Value>(payload)
        .ok()
        .and_then(|v| v.get("feeds").cloned())
        .and_then(|f| serde_json::from_value(f).ok())
        .unwrap_or_default()
}

/// Queues a sync of the feeds whose time has come. Each due feed's next time is moved on in the
/// same statement, so of several instances asking at once only one queues it.
pub async fn schedule(db: &Db) -> Result<usize, ServerError> {
    let mut tx = db.begin_write().await?;
    let t = now();
    let due: Vec<i64> = sqlx::query_scalar(
        "UPDATE hub_feeds SET next_sync_at = $1 + interval_minutes * 60 \
         WHERE next_sync_at IS NOT NULL AND next_sync_at <= $1 RETURNING id",
    )
    .bind(t)
    .fetch_all(&mut *tx)
    .await?;
    if !due.is_empty() {
        enqueue_sync(&mut tx, db.backend, &due).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// Runs a `hub.sync` job: syncs its feeds (one failing keeps what it held, and says why on the
/// hub page), then refreshes the digests and re-checks earlier submissions. Returns the
/// incidents the re-check opened.
pub async fn run_sync(db: &Db, payload: &str) -> Result<Vec<i64>, ServerError> {
    let mut queue = payload_feeds(payload);
    let mut done = HashSet::new();
    while let Some(id) = queue.pop() {
        if !done.insert(id) {
            continue;
        }
        match sync_feed(db, id).await {
            // An index's entries are synced with it.
            Ok(children) => queue.extend(children),
            Err(e) => tracing::warn!(feed = id, "hub sync: {e}"),
        }
    }
    refresh_digests(db).await
}

/// What fetching a feed brought.
enum Fetch {
    Unchanged {
        state: Option<Value>,
    },
    Changed {
        bundle: Vec<u8>,
        state: Option<Value>,
        /// Filled once the bundle loads as a check would load it.
        verified: Option<portcullis_feeds::store::Verified>,
    },
}

/// Syncs one feed; returns the feeds to sync after it (an index's entries).
async fn sync_feed(db: &Db, id: i64) -> Result<Vec<i64>, ServerError> {
    let Some(feed) = get(db, id).await? else {
        return Ok(Vec::new());
    };
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM hub_feeds WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await?;
    let state: Value = state
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    if feed.kind == FeedKind::Index {
        return sync_index(db, &feed, state).await;
    }
    let held = held_objects(db, id).await?;
    let name = feed.name.clone();
    let fetched = tokio::task::spawn_blocking(move || -> Result<Fetch, String> {
        let fetched = fetch(&feed, state, held)?;
        match fetched {
            Fetch::Changed { bundle, state, .. } => {
                let verified = portcullis_feeds::store::verify(&bundle, &feed.name)
                    .map_err(|e| e.to_string())?;
                Ok(Fetch::Changed {
                    bundle,
                    state,
                    verified: Some(verified),
                })
            }
            unchanged => Ok(unchanged),
        }
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    match fetched {
        Ok(Fetch::Unchanged { state }) => {
            sqlx::query(
                "UPDATE hub_feeds SET synced_at = $1, last_error = NULL, state = COALESCE($2, state) WHERE id = $3",
            )
            .bind(now())
            .bind(state.map(|s| s.to_string()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        Ok(Fetch::Changed {
            bundle,
            state,
            verified: Some(verified),
        }) => install(&mut tx, id, &bundle, &verified, state).await?,
        Ok(Fetch::Changed { verified: None, .. }) => unreachable!("verified above"),
        Err(why) => {
            tracing::warn!(feed = %name, "sync failed, keeping what it held: {why}");
            sqlx::query("UPDATE hub_feeds SET last_error = $1 WHERE id = $2")
                .bind(why.chars().take(1000).collect::<String>())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(Vec::new())
}

/// Syncs an index: its entries become (or stay) feeds of their own, named after the index and
/// the entry; entries it no longer lists are removed. A failed fetch keeps every entry.
async fn sync_index(db: &Db, feed: &Feed, state: Value) -> Result<Vec<i64>, ServerError> {
    let raw_base = state
        .get("raw_base")
        .and_then(Value::as_str)
        .unwrap_or(portcullis_feeds::index::DEFAULT_RAW_BASE)
        .to_string();
    let url = feed.source.clone();
    let listed = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let fetched = http::get(
            &http::agent(),
            &url,
            Validators::default(),
            portcullis_feeds::index::MAX_INDEX_BYTES,
        )
        .map_err(|e| e.to_string())?;
        let Fetched::Body { bytes, .. } = fetched else {
            return Err("the index answered 304 to an unconditional request".into());
        };
        let text = String::from_utf8(bytes).map_err(|_| "the index is not UTF-8 text")?;
        portcullis_feeds::index::parse(&text, &raw_base).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    let (entries, warnings) = match listed {
        Ok(listed) => listed,
        Err(why) => {
            tracing::warn!(feed = %feed.name, "index sync failed, keeping its entries: {why}");
            sqlx::query("UPDATE hub_feeds SET last_error = $1 WHERE id = $2")
                .bind(why.chars().take(1000).collect::<String>())
                .bind(feed.id)
                .execute(&mut *tx)
                .await?;
            let children: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM hub_feeds WHERE parent_id = $1")
                    .bind(feed.id)
                    .fetch_all(&mut *tx)
                    .await?;
            tx.commit().await?;
            return Ok(children);
        }
    };
    let held: HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("SELECT source, id FROM hub_feeds WHERE parent_id = $1")
            .bind(feed.id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let mut children = Vec::new();
    for entry in &entries {
        if let Some(&id) = held.get(&entry.url) {
            children.push(id);
            continue;
        }
        let name: String = format!("{}: {}", feed.name, entry.title)
            .chars()
            .take(80)
            .collect();
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM hub_feeds WHERE name = $1")
            .bind(&name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            continue;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO hub_feeds (name, kind, parent_id, source, state, created_at) \
             VALUES ($1, 'url', $2, $3, '{}', $4) RETURNING id",
        )
        .bind(&name)
        .bind(feed.id)
        .bind(&entry.url)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        children.push(id);
    }
    let listed: HashSet<&str> = entries.iter().map(|e| e.url.as_str()).collect();
    for (source, id) in &held {
        if !listed.contains(source.as_str()) {
            sqlx::query("DELETE FROM hub_objects WHERE feed_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM hub_feeds WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    let note = (!warnings.is_empty()).then(|| warnings.join("; "));
    sqlx::query(
        "UPDATE hub_feeds SET synced_at = $1, last_error = $2, indicators = $3 WHERE id = $4",
    )
    .bind(now())
    .bind(note)
    .bind(entries.len() as i64)
    .bind(feed.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(children)
}

/// The objects a feed holds, by id → (modified, body).
async fn held_objects(
    db: &Db,
    feed: i64,
) -> Result<BTreeMap<String, (String, String)>, ServerError> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT stix_id, modified, body FROM hub_objects WHERE feed_id = $1")
            .bind(feed)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|(id, m, b)| (id, (m, b))).collect())
}

/// Fetches a feed (blocking: runs off the async workers).
fn fetch(
    feed: &Feed,
    state: Value,
    held: BTreeMap<String, (String, String)>,
) -> Result<Fetch, String> {
    let agent = http::agent();
    match feed.kind {
        FeedKind::Upload | FeedKind::Index => Ok(Fetch::Unchanged { state: None }),
        FeedKind::Builtin => {
            let bundle = portcullis_interchange::iran::BUNDLE;
            let sha256 = portcullis_feeds::store::sha256_hex(bundle);
            if feed.sha256.as_deref() == Some(sha256.as_str()) {
                Ok(Fetch::Unchanged { state: None })
            } else {
                Ok(Fetch::Changed {
                    bundle: bundle.to_vec(),
                    state: None,
                    verified: None,
                })
            }
        }
        FeedKind::Url => {
            let etag = state.get("etag").and_then(Value::as_str);
            let last_modified = state.get("last_modified").and_then(Value::as_str);
            let validators = if held.is_empty() {
                Validators::default()
            } else {
                Validators {
                    etag,
                    last_modified,
                }
            };
            match http::get(&agent, &feed.source, validators, MAX_FEED_BYTES)
                .map_err(|e| e.to_string())?
            {
                Fetched::NotModified => Ok(Fetch::Unchanged { state: None }),
                Fetched::Body {
                    bytes,
                    etag,
                    last_modified,
                } => Ok(Fetch::Changed {
                    bundle: bytes,
                    state: Some(json!({ "etag": etag, "last_modified": last_modified })),
                    verified: None,
                }),
            }
        }
        FeedKind::Taxii => {
            let url = state
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or(&feed.source);
            let collection = state
                .get("collection")
                .and_then(Value::as_str)
                .ok_or("no TAXII collection recorded; add the feed again")?;
            let auth: Option<Auth> = state
                .get("auth")
                .cloned()
                .and_then(|a| serde_json::from_value(a).ok());
            let sleep = |d: Duration| std::thread::sleep(d);
            let mut taxii_state = match state
                .get("taxii")
                .cloned()
                .map(serde_json::from_value::<TaxiiState>)
            {
                Some(Ok(s)) if !held.is_empty() => s,
                _ => TaxiiState {
                    api_root: taxii::discover(&agent, url, auth.as_ref(), &sleep)
                        .map_err(|e| e.to_string())?,
                    collection: collection.to_string(),
                    auth: auth.clone(),
                    cursor: Default::default(),
                },
            };
            let versions: BTreeMap<String, String> = held
                .iter()
                .map(|(id, (m, _))| (id.clone(), m.clone()))
                .collect();
            let synced =
                taxii::fetch(&agent, &taxii_state, &versions, &sleep).map_err(|e| e.to_string())?;
            taxii_state.cursor = synced.cursor;
            let mut new_state = state.clone();
            new_state["taxii"] = serde_json::to_value(&taxii_state).map_err(|e| e.to_string())?;
            if synced.changed.is_empty() && !held.is_empty() {
                return Ok(Fetch::Unchanged {
                    state: Some(new_state),
                });
            }
            let mut objects: BTreeMap<String, Value> = held
                .into_iter()
                .filter_map(|(id, (_, body))| Some((id, serde_json::from_str(&body).ok()?)))
                .collect();
            objects.extend(synced.changed);
            let bundle = json!({
                "type": "bundle",
                "id": "bundle--00000000-0000-4000-8000-000000000000",
                "objects": objects.into_values().collect::<Vec<_>>(),
            });
            Ok(Fetch::Changed {
                bundle: serde_json::to_vec(&bundle).map_err(|e| e.to_string())?,
                state: Some(new_state),
                verified: None,
            })
        }
    }
}

/// Replaces what `feed` holds with the objects of `bundle`: an object whose `modified` did not
/// change keeps its place (and its date added), a new or changed one goes to the end.
async fn install(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    feed: i64,
    bundle: &[u8],
    verified: &portcullis_feeds::store::Verified,
    state: Option<Value>,
) -> Result<(), ServerError> {
    let parsed: Value =
        serde_json::from_slice(bundle).map_err(|e| ServerError::Invalid(e.to_string()))?;
    let objects = parsed
        .get("objects")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let markings = bundle_markings(objects);
    let held: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
        "SELECT stix_id, modified FROM hub_objects WHERE feed_id = $1",
    )
    .bind(feed)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let added = jiff::Timestamp::now().as_microsecond();
    let mut present = HashSet::new();
    for object in objects {
        let Some(id) = object.get("id").and_then(Value::as_str) else {
            continue;
        };
        let modified = object
            .get("modified")
            .or_else(|| object.get("created"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !present.insert(id.to_string()) {
            continue;
        }
        if held.get(id).map(String::as_str) == Some(modified) {
            continue;
        }
        sqlx::query("DELETE FROM hub_objects WHERE feed_id = $1 AND stix_id = $2")
            .bind(feed)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO hub_objects (feed_id, stix_id, modified, date_added, tlp_rank, body) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(feed)
        .bind(id)
        .bind(modified)
        .bind(added)
        .bind(tlp_rank(object, &markings))
        .bind(object.to_string())
        .execute(&mut **tx)
        .await?;
    }
    for gone in held.keys().filter(|id| !present.contains(*id)) {
        sqlx::query("DELETE FROM hub_objects WHERE feed_id = $1 AND stix_id = $2")
            .bind(feed)
            .bind(gone)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "UPDATE hub_feeds SET sha256 = $1, indicators = $2, tlp = $3, synced_at = $4, last_error = NULL, \
         state = COALESCE($5, state) WHERE id = $6",
    )
    .bind(&verified.sha256)
    .bind(verified.counts.values().sum::<usize>() as i64)
    .bind(verified.tlp.as_deref())
    .bind(now())
    .bind(state.map(|s| s.to_string()))
    .bind(feed)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// TLP levels of the marking definitions a bundle defines itself (TLP 1.0 style
/// `definition.tlp`, or a name such as `TLP:AMBER`).
fn bundle_markings(objects: &[Value]) -> HashMap<String, Tlp> {
    objects
        .iter()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("marking-definition"))
        .filter_map(|o| {
            let id = o.get("id")?.as_str()?;
            let text = o
                .pointer("/definition/tlp")
                .or_else(|| o.get("name"))
                .and_then(Value::as_str)?;
            Some((id.to_string(), Tlp::parse(text)?))
        })
        .collect()
}

/// An object's TLP as a rank (0 clear or unmarked … 4 red).
fn tlp_rank(object: &Value, markings: &HashMap<String, Tlp>) -> i64 {
    let refs: Vec<&str> = object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let standard = portcullis_indicators::tlp_of(refs.iter().copied()).and_then(Tlp::parse);
    let own = refs.iter().filter_map(|r| markings.get(*r).copied()).max();
    standard.max(own).map_or(0, rank)
}

pub fn rank(tlp: Tlp) -> i64 {
    match tlp {
        Tlp::Clear => 0,
        Tlp::Green => 1,
        Tlp::Amber => 2,
        Tlp::AmberStrict => 3,
        Tlp::Red => 4,
    }
}

/// Every feed's objects as bundles (for loading), each under its feed's name.
async fn feed_bundles(db: &Db, max_rank: i64) -> Result<Vec<(String, Vec<u8>)>, ServerError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT f.name, o.body FROM hub_objects o JOIN hub_feeds f ON f.id = o.feed_id \
         WHERE o.tlp_rank <= $1 ORDER BY f.name, o.id",
    )
    .bind(max_rank)
    .fetch_all(&db.pool)
    .await?;
    let mut bundles: Vec<(String, Vec<String>)> = Vec::new();
    for (name, body) in rows {
        match bundles.last_mut() {
            Some((n, bodies)) if *n == name => bodies.push(body),
            _ => bundles.push((name, vec![body])),
        }
    }
    Ok(bundles
        .into_iter()
        .map(|(name, bodies)| {
            let bundle = format!(
                "{{\"type\":\"bundle\",\"id\":\"bundle--00000000-0000-4000-8000-000000000000\",\"objects\":[{}]}}",
                bodies.join(",")
            );
            (name, bundle.into_bytes())
        })
        .collect())
}

/// The hub's indicators loaded as a check loads them (revoked and expired ones left out),
/// those marked above `max_rank` left out.
pub async fn load(db: &Db, max_rank: i64) -> Result<Indicators, ServerError> {
    let bundles = feed_bundles(db, max_rank).await?;
    tokio::task::spawn_blocking(move || {
        let mut indicators = Indicators::new();
        for (name, bundle) in bundles {
            if let Err(e) = indicators.load_bundle(&bundle, std::path::Path::new(&name)) {
                tracing::warn!(feed = %name, "hub feed does not load: {e}");
            }
        }
        indicators
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))
}

/// Brings `hub_digests` in line with the hub's indicators and re-checks earlier submissions
/// against the digests new to it.
async fn refresh_digests(db: &Db) -> Result<Vec<i64>, ServerError> {
    let key = observations::key(db).await?;
    let indicators = load(db, rank(Tlp::Red)).await?;
    let current: Vec<Gained> = tokio::task::spawn_blocking(move || {
        indicators
            .indicator_digests(&key.secret)
            .into_iter()
            .map(|d| Gained {
                digest: d.digest,
                stix_id: d.id,
                ioc_type: d.ioc_type.as_str().to_string(),
                value: d.value,
                collection: d.collection,
            })
            .collect()
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    let held: HashSet<(String, String)> =
        sqlx::query_as::<_, (String, String)>("SELECT digest, stix_id FROM hub_digests")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let now_set: HashSet<(String, String)> = current
        .iter()
        .map(|g| (g.digest.clone(), g.stix_id.clone()))
        .collect();
    for (digest, stix_id) in held.difference(&now_set) {
        sqlx::query("DELETE FROM hub_digests WHERE digest = $1 AND stix_id = $2")
            .bind(digest)
            .bind(stix_id)
            .execute(&mut *tx)
            .await?;
    }
    let mut gained: Vec<Gained> = Vec::new();
    let mut inserted = HashSet::new();
    for g in current {
        let pair = (g.digest.clone(), g.stix_id.clone());
        if held.contains(&pair) || !inserted.insert(pair) {
            continue;
        }
        sqlx::query(
            "INSERT INTO hub_digests (digest, stix_id, ioc_type, value, collection, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&g.digest)
        .bind(&g.stix_id)
        .bind(&g.ioc_type)
        .bind(&g.value)
        .bind(&g.collection)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        gained.push(g);
    }
    let opened = observations::recheck(&mut tx, &gained).await?;
    crate::notify::enqueue(&mut tx, &opened).await?;
    tx.commit().await?;
    if !opened.is_empty() {
        tracing::info!(incidents = opened.len(), "re-check opened incidents");
    }
    Ok(opened)
}

/// One page of the TAXII collection: objects added after `after` (microseconds), from the
/// object after `next` (an object row id), at most `limit`, none marked above `max_rank`.
pub struct Page {
    pub objects: Vec<Value>,
    /// (first, last) date added, in microseconds.
    pub added: Option<(i64, i64)>,
    pub next: Option<i64>,
}

pub async fn page(
    db: &Db,
    after: Option<i64>,
    next: Option<i64>,
    limit: i64,
    max_rank: i64,
) -> Result<Page, ServerError> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT id, date_added, body FROM hub_objects WHERE tlp_rank <= $1 AND date_added > $2 AND id > $3 \
         ORDER BY id LIMIT $4",
    )
    .bind(max_rank)
    .bind(after.unwrap_or(i64::MIN))
    .bind(next.unwrap_or(0))
    .bind(limit + 1)
    .fetch_all(&db.pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let objects = rows
        .iter()
        .filter_map(|(_, _, body)| serde_json::from_str(body).ok())
        .collect();
    let added = rows
        .iter()
        .map(|r| r.1)
        .min()
        .zip(rows.iter().map(|r| r.1).max());
    Ok(Page {
        objects,
        added,
        next: more.then(|| rows.last().map(|r| r.0)).flatten(),
    })
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
