//! What the hub holds: each feed's STIX objects with their TLP, the set loaded as a check
//! loads it, its digests for the re-check, and the TAXII collection's pages.

use super::*;
use crate::observations;
use portcullis_indicators::IndicatorDigest;

/// Replaces what `feed` holds with the objects of `bundle`: an object whose `modified` did not
/// change keeps its place (and its date added), a new or changed one goes to the end.
pub(super) async fn install(
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
pub(super) async fn refresh_digests(db: &Db) -> Result<Vec<i64>, ServerError> {
    let key = observations::key(db).await?;
    let indicators = load(db, rank(Tlp::Red)).await?;
    let current: Vec<IndicatorDigest> =
        tokio::task::spawn_blocking(move || indicators.indicator_digests(&key.secret))
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
        .map(|g| (g.digest.clone(), g.id.clone()))
        .collect();
    for (digest, stix_id) in held.difference(&now_set) {
        sqlx::query("DELETE FROM hub_digests WHERE digest = $1 AND stix_id = $2")
            .bind(digest)
            .bind(stix_id)
            .execute(&mut *tx)
            .await?;
    }
    let mut gained: Vec<IndicatorDigest> = Vec::new();
    let mut inserted = HashSet::new();
    for g in current {
        let pair = (g.digest.clone(), g.id.clone());
        if held.contains(&pair) || !inserted.insert(pair) {
            continue;
        }
        sqlx::query(
            "INSERT INTO hub_digests (digest, stix_id, ioc_type, value, collection, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&g.digest)
        .bind(&g.id)
        .bind(g.ioc_type.as_str())
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

/// What a TAXII client asked for.
#[derive(Debug, Default)]
pub struct PageQuery {
    /// Added after this many microseconds since the epoch.
    pub after: Option<i64>,
    /// The object row id a previous page ended at.
    pub next: Option<i64>,
    pub limit: i64,
    pub max_rank: i64,
    /// `match[type]`: only objects of these STIX types.
    pub types: Vec<String>,
    /// `match[id]`: only objects with these ids.
    pub ids: Vec<String>,
}

pub async fn page(db: &Db, query: &PageQuery) -> Result<Page, ServerError> {
    // Placeholders after the four fixed ones: a type matches the start of an id (`indicator--`).
    let mut sql = String::from(
        "SELECT id, date_added, body FROM hub_objects WHERE tlp_rank <= $1 AND date_added > $2 AND id > $3",
    );
    let mut n = 4;
    let mut list = |count: usize, each: &str| {
        let terms: Vec<String> = (0..count)
            .map(|_| {
                n += 1;
                each.replace('?', &format!("${n}"))
            })
            .collect();
        terms.join(" OR ")
    };
    if !query.types.is_empty() {
        sql.push_str(&format!(
            " AND ({})",
            list(query.types.len(), "stix_id LIKE ?")
        ));
    }
    if !query.ids.is_empty() {
        sql.push_str(&format!(" AND ({})", list(query.ids.len(), "stix_id = ?")));
    }
    sql.push_str(" ORDER BY id LIMIT $4");
    let mut select = sqlx::query_as::<_, (i64, i64, String)>(sqlx::AssertSqlSafe(sql))
        .bind(query.max_rank)
        .bind(query.after.unwrap_or(i64::MIN))
        .bind(query.next.unwrap_or(0))
        .bind(query.limit + 1);
    for t in &query.types {
        select = select.bind(format!("{t}--%"));
    }
    for id in &query.ids {
        select = select.bind(id.clone());
    }
    let limit = query.limit;
    let rows = select.fetch_all(&db.pool).await?;
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
