//! The privacy-preserving re-check. A check submitted to the server carries keyed digests
//! (HMAC-SHA256 under the organisation's key) of what it looked up: hosts and their parent
//! domains, addresses, process names, app ids and hashes. The server keeps the digests, never
//! the values. When the hub gains an indicator, its digest is looked up among them, and every
//! device whose check saw it gets an incident. A holder of the key (the server, and any device
//! token holder, who can fetch it) can still test a guess against the digests: see SECURITY.md.

use portcullis_core::Level;
use portcullis_indicators::{IndicatorDigest, IocType};
use portcullis_report::Observed;

use crate::incidents::{Finding, Recorded};
use crate::{Db, ServerError, now};

/// The one key of this version (rotation would add rows; digests name the key that made them).
const KEY_ID: &str = "k1";

/// The organisation's observation key.
#[derive(Clone)]
pub struct ObservationKey {
    pub id: String,
    pub secret: Vec<u8>,
}

/// The key, made on first use (every instance agrees: the first insert wins). Read on every
/// submission that carries digests, so it is written only when missing.
pub async fn key(db: &Db) -> Result<ObservationKey, ServerError> {
    let stored = || {
        sqlx::query_scalar::<_, String>("SELECT secret FROM observation_keys WHERE id = $1")
            .bind(KEY_ID)
            .fetch_optional(&db.pool)
    };
    let secret = match stored().await? {
        Some(secret) => secret,
        None => {
            let fresh = hex::encode(crate::secrets::random_bytes::<32>());
            sqlx::query(
                "INSERT INTO observation_keys (id, secret, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(KEY_ID)
            .bind(&fresh)
            .bind(now())
            .execute(&db.pool)
            .await?;
            stored()
                .await?
                .ok_or_else(|| ServerError::Internal("the observation key was not kept".into()))?
        }
    };
    Ok(ObservationKey {
        id: KEY_ID.to_string(),
        secret: hex::decode(secret).map_err(|e| ServerError::Internal(e.to_string()))?,
    })
}

/// Digests bound per statement: far inside both databases' parameter limits.
const BATCH: usize = 500;

/// Stores a submission's digests in its transaction. Digests made with another key are
/// refused (the device fetched a key this server does not hold).
pub(crate) async fn store(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    submission_id: i64,
    observed: &Observed,
    key_id: &str,
) -> Result<usize, ServerError> {
    if observed.key_id != key_id {
        return Err(ServerError::Invalid(format!(
            "observation digests made with key {:?}, but this server's key is {key_id:?}",
            observed.key_id
        )));
    }
    let mut digests: Vec<&str> = observed.digests.iter().map(String::as_str).collect();
    digests.sort_unstable();
    digests.dedup();
    for batch in digests.chunks(BATCH) {
        let values: Vec<String> = (0..batch.len())
            .map(|i| format!("(${}, $1, $2)", i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO observations (digest, submission_id, key_id) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(submission_id)
            .bind(key_id.to_string());
        for digest in batch {
            query = query.bind(digest.to_string());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(digests.len())
}

/// Opens (or adds to) an incident for every device whose earlier check saw one of `gained`
/// (indicator values the hub has just gained),
/// naming the latest such check. Returns the incidents opened.
pub(crate) async fn recheck(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    gained: &[IndicatorDigest],
) -> Result<Vec<i64>, ServerError> {
    let by_digest: std::collections::HashMap<&str, Vec<&IndicatorDigest>> =
        gained.iter().fold(Default::default(), |mut m, g| {
            m.entry(g.digest.as_str()).or_default().push(g);
            m
        });
    let digests: Vec<&str> = by_digest.keys().copied().collect();
    // (device, indicator) → the latest submission that saw it.
    let mut hits: std::collections::BTreeMap<(i64, String), (i64, String, &IndicatorDigest)> =
        Default::default();
    for batch in digests.chunks(BATCH) {
        let placeholders: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT o.digest, s.device_id, o.submission_id, s.checked_at FROM observations o \
             JOIN submissions s ON s.id = o.submission_id WHERE o.digest IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, i64, i64, String)>(sqlx::AssertSqlSafe(sql));
        for digest in batch {
            query = query.bind(digest.to_string());
        }
        for (digest, device, submission, checked_at) in query.fetch_all(&mut **tx).await? {
            for g in by_digest.get(digest.as_str()).into_iter().flatten() {
                let slot = hits.entry((device, g.id.clone())).or_insert((
                    submission,
                    checked_at.clone(),
                    g,
                ));
                if submission > slot.0 {
                    *slot = (submission, checked_at.clone(), g);
                }
            }
        }
    }
    let mut opened = Vec::new();
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    for ((device_id, stix_id), (submission_id, checked_at, g)) in &hits {
        let key = format!("indicator:{stix_id}");
        let title = format!(
            "Re-check: a check saw {} ({}), known since {today}",
            g.value, g.collection
        );
        let event = format!(
            "re-check: check {submission_id} of {} saw a {} that the hub's indicator {} ({}) \
             matches; it became known on {today}",
            checked_at.get(..10).unwrap_or(checked_at),
            describe(g.ioc_type),
            g.value,
            g.collection
        );
        let finding = Finding {
            device_id: *device_id,
            submission_id: *submission_id,
            match_key: &key,
            level: Level::High,
            title: &title.chars().take(300).collect::<String>(),
            event: &event,
        };
        if let Recorded::Opened(id) = crate::incidents::record(tx, &finding).await? {
            opened.push(id);
        }
    }
    Ok(opened)
}

/// What kind of thing a check saw, in words.
fn describe(ioc_type: IocType) -> &'static str {
    match ioc_type {
        IocType::Domains => "host name",
        IocType::IpAddresses => "network address",
        IocType::Processes => "process",
        IocType::AppIds => "app",
        _ => "file or certificate hash",
    }
}
