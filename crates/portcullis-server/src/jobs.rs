//! Background jobs in the database, so that several instances share them: a job is claimed by
//! one worker at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), under a
//! lease that lets another worker take it over if its worker dies, and retried with a growing
//! delay when it fails. Enqueued in the transaction of what caused it, so none is lost.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Row};

use crate::{AppState, Backend, Db, ServerError, now};

/// How long a claimed job is its worker's before another may take it.
const LEASE_SECONDS: i64 = 120;
/// Attempts before a job is given up (and its last error kept).
pub const MAX_ATTEMPTS: i64 = 6;
/// Makes claims take turns on PostgreSQL.
const CLAIM_LOCK: i64 = 7_678_285_549;
/// How often each instance looks for feeds due a sync.
const SCHEDULE_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
}

pub async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    payload: &serde_json::Value,
) -> Result<(), ServerError> {
    sqlx::query("INSERT INTO jobs (kind, payload, run_after) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(payload.to_string())
        .bind(now())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Kinds of job of which only one may run at a time across every instance.
const ONE_AT_A_TIME: &str = crate::hub::SYNC_JOB;

/// Claims the oldest due job for `worker`, if any. A hub sync is not claimed while another
/// holds a live lease; on PostgreSQL claims take turns (a short transaction lock), so two
/// instances cannot both see "none running" and start one each.
pub async fn claim(db: &Db, worker: &str) -> Result<Option<Job>, ServerError> {
    let skip_locked = match db.backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let t = now();
    let mut tx = db.begin_write().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CLAIM_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE jobs SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM jobs WHERE done_at IS NULL AND run_after <= $3 \
                     AND (claimed_until IS NULL OR claimed_until < $3) \
                     AND NOT (kind = $4 AND EXISTS (SELECT 1 FROM jobs r WHERE r.kind = $4 \
                              AND r.done_at IS NULL AND r.claimed_until >= $3)) \
                     ORDER BY id LIMIT 1{skip_locked}) \
         RETURNING id, kind, payload, attempts"
    )))
    .bind(worker)
    .bind(t + LEASE_SECONDS)
    .bind(t)
    .bind(ONE_AT_A_TIME)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(|r| {
        Ok(Job {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            payload: r.try_get("payload")?,
            attempts: r.try_get("attempts")?,
        })
    })
    .transpose()
}

async fn finish(db: &Db, job: &Job, error: Option<String>) -> Result<(), ServerError> {
    match error {
        None => {
            sqlx::query("UPDATE jobs SET done_at = $1, claimed_until = NULL, last_error = NULL WHERE id = $2")
                .bind(now())
                .bind(job.id)
                .execute(&db.pool)
                .await?;
        }
        Some(error) if job.attempts >= MAX_ATTEMPTS => {
            tracing::warn!(job = job.id, kind = %job.kind, "given up after {} attempts: {error}", job.attempts);
            sqlx::query(
                "UPDATE jobs SET done_at = $1, claimed_until = NULL, last_error = $2 WHERE id = $3",
            )
            .bind(now())
            .bind(format!("given up: {error}"))
            .bind(job.id)
            .execute(&db.pool)
            .await?;
        }
        Some(error) => {
            // 2, 4, 8, 16, 32 seconds.
            let delay = 1i64 << job.attempts.clamp(1, 10);
            sqlx::query("UPDATE jobs SET run_after = $1, claimed_until = NULL, last_error = $2 WHERE id = $3")
                .bind(now() + delay)
                .bind(error)
                .bind(job.id)
                .execute(&db.pool)
                .await?;
        }
    }
    Ok(())
}

async fn run(state: &AppState, job: &Job) -> Result<(), String> {
    match job.kind.as_str() {
        crate::hub::SYNC_JOB => crate::hub::run_sync(&state.db, &job.payload)
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        _ => crate::notify::run(state, job).await,
    }
}

/// Runs jobs until the process ends: one at a time per instance, polling twice a second when
/// there is nothing to do.
pub fn spawn_worker(state: AppState) {
    let worker = format!("{}-{}", std::process::id(), crate::secrets::random_token(6));
    tokio::spawn(async move {
        let mut scheduled = std::time::Instant::now() - SCHEDULE_EVERY;
        loop {
            if scheduled.elapsed() >= SCHEDULE_EVERY {
                scheduled = std::time::Instant::now();
                if let Err(e) = crate::hub::schedule(&state.db).await {
                    tracing::warn!("scheduling hub syncs: {e}");
                }
            }
            match claim(&state.db, &worker).await {
                Ok(Some(job)) => {
                    let outcome = run(&state, &job).await.err();
                    if let Err(e) = finish(&state.db, &job, outcome).await {
                        tracing::warn!("recording job {}: {e}", job.id);
                    }
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(500)).await,
                Err(e) => {
                    tracing::warn!("claiming a job: {e}");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    });
}
