//! Syncing the hub's feeds: queuing a sync (at most one waits and one runs), the schedule,
//! fetching each kind of feed, and an index's entries.

use super::objects::refresh_digests;
use super::*;
use crate::Backend;

/// Queues a sync of `feeds` (and a refresh of the digests), joining the sync already waiting
/// if there is one, so that at most one waits and one runs.
pub(super) async fn enqueue_sync(
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
        /// What loading it as a check would showed.
        verified: portcullis_feeds::store::Verified,
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
    let fetched = tokio::task::spawn_blocking(move || fetch(&feed, state, held))
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
            verified,
        }) => install(&mut tx, id, &bundle, &verified, state).await?,
        Err(why) => {
            tracing::warn!(feed = %name, "sync failed, keeping what it held: {why}");
            record_failure(&mut tx, id, &why).await?;
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
            record_failure(&mut tx, feed.id, &why).await?;
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

/// Says on the hub page why a feed's last sync failed (what it held is kept).
async fn record_failure(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    feed: i64,
    why: &str,
) -> Result<(), ServerError> {
    sqlx::query("UPDATE hub_feeds SET last_error = $1 WHERE id = $2")
        .bind(why.chars().take(1000).collect::<String>())
        .bind(feed)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A fetched bundle that changed, once it loads as a check would load it.
fn changed(name: &str, bundle: Vec<u8>, state: Option<Value>) -> Result<Fetch, String> {
    let verified = portcullis_feeds::store::verify(&bundle, name).map_err(|e| e.to_string())?;
    Ok(Fetch::Changed {
        bundle,
        state,
        verified,
    })
}

/// Fetches a feed and checks what changed (blocking: runs off the async workers).
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
                changed(&feed.name, bundle.to_vec(), None)
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
                } => changed(
                    &feed.name,
                    bytes,
                    Some(json!({ "etag": etag, "last_modified": last_modified })),
                ),
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
            changed(
                &feed.name,
                serde_json::to_vec(&bundle).map_err(|e| e.to_string())?,
                Some(new_state),
            )
        }
    }
}
