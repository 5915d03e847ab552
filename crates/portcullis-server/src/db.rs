//! The database: SQLite (a file in the data directory, the default) or PostgreSQL, behind one
//! sqlx `Any` pool so every query is written once. Migrations are one SQL file per step for both
//! backends; the few words that differ are filled in here.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Executor};

use crate::ServerError;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Backend, ServerError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(ServerError::Config(format!(
                "database URL must start with sqlite: or postgres:// (got {:?})",
                redact_url(url)
            )))
        }
    }

    fn primary_key(self) -> &'static str {
        match self {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        }
    }

    /// Marks a table whose primary key is its only index (one b-tree on SQLite, not two).
    fn without_rowid(self) -> &'static str {
        match self {
            Backend::Sqlite => " WITHOUT ROWID",
            Backend::Postgres => "",
        }
    }

    /// Statements that make the audit log append-only.
    fn append_only_audit(self) -> &'static [&'static str] {
        match self {
            Backend::Sqlite => &[
                "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log \
                 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
                "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log \
                 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            ],
            Backend::Postgres => &[
                "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
                "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log \
                 FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
            ],
        }
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The SQLite URL for the database file in a data directory.
pub fn sqlite_url_in(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("portcullis.db").display()
    )
}

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts and advisories",
        sql: include_str!("../migrations/0001_accounts_advisories.sql"),
    },
    Migration {
        version: 2,
        name: "devices, submissions and incidents",
        sql: include_str!("../migrations/0002_devices_incidents.sql"),
    },
    Migration {
        version: 3,
        name: "background jobs",
        sql: include_str!("../migrations/0003_jobs.sql"),
    },
    Migration {
        version: 4,
        name: "indicator hub and observation digests",
        sql: include_str!("../migrations/0004_hub_observations.sql"),
    },
];

/// The connection pool and which backend it talks to.
#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    /// Where write transactions run: on SQLite a pool of one connection, so writers queue for
    /// it without holding the readers' connections (SQLite has one writer at a time anyway);
    /// on PostgreSQL the same pool.
    writer: AnyPool,
    pub backend: Backend,
}

impl Db {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Db, ServerError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| ServerError::Config(format!("database URL {}: {e}", redact_url(url))))?;
        let pool_of = |connections: u32| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            // With WAL, NORMAL cannot corrupt the database; a power cut may lose the
                            // last commits (a crash of the process loses nothing).
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                        }
                        Ok(())
                    })
                })
        };
        let failed = |e: sqlx::Error| {
            ServerError::Database(format!("connecting to {}: {e}", redact_url(url)))
        };
        let (pool, writer) = match backend {
            Backend::Sqlite => (
                pool_of(8)
                    .connect_with(options.clone())
                    .await
                    .map_err(failed)?,
                pool_of(1).connect_with(options).await.map_err(failed)?,
            ),
            Backend::Postgres => {
                let pool = pool_of(16).connect_with(options).await.map_err(failed)?;
                (pool.clone(), pool)
            }
        };
        let db = Db {
            pool,
            writer,
            backend,
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the migrations not yet applied, once even when several instances start at the
    /// same moment: each migration runs in a transaction that holds the database's write lock
    /// and checks again whether another instance has applied it meanwhile.
    async fn migrate(&self) -> Result<(), ServerError> {
        let mut tx = self.migration_transaction().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations \
             (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        for migration in MIGRATIONS {
            let mut tx = self.migration_transaction().await?;
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(migration.version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if applied.is_some() {
                tx.rollback().await?;
                continue;
            }
            let sql = migration
                .sql
                .replace("{pk}", self.backend.primary_key())
                .replace("{without_rowid}", self.backend.without_rowid());
            for statement in split_statements(&sql) {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        ServerError::Database(format!(
                            "migration {} ({}): {e}",
                            migration.version, migration.name
                        ))
                    })?;
            }
            if migration.version == 1 {
                for statement in self.backend.append_only_audit() {
                    sqlx::query(*statement).execute(&mut *tx).await?;
                }
            }
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(crate::now())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "schema migrated"
            );
        }
        Ok(())
    }
}

impl Db {
    /// A transaction that will write. On SQLite it takes the write lock at once (BEGIN
    /// IMMEDIATE, waiting up to the busy timeout): a deferred one that read first could not
    /// upgrade once another connection had written, and would fail with "database is locked".
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, ServerError> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// A transaction holding the database's write lock for migrating: BEGIN IMMEDIATE on SQLite,
    /// a transaction-scoped advisory lock on PostgreSQL.
    async fn migration_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, ServerError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                // The key is "portcullis" typed on a phone keypad.
                sqlx::query("SELECT pg_advisory_xact_lock(7678285547)")
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        })
    }
}

/// Whether the database answers and has every migration this version knows.
pub async fn schema_is_current(db: &Db) -> Result<bool, ServerError> {
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&db.pool)
        .await?;
    Ok(newest == MIGRATIONS.last().map(|m| m.version))
}

/// Splits a migration into statements at `;` ending a line, dropping `--` comment lines.
fn split_statements(sql: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (offset, line) in line_offsets(sql) {
        if line.trim_end().ends_with(';') {
            let end = offset + line.trim_end().len() - 1;
            push_statement(&mut out, &sql[start..end]);
            start = offset + line.len();
        }
    }
    push_statement(&mut out, &sql[start..]);
    out
}

fn push_statement<'a>(out: &mut Vec<&'a str>, chunk: &'a str) {
    let body = chunk.trim();
    let meaningful = body
        .lines()
        .any(|line| !line.trim().is_empty() && !line.trim_start().starts_with("--"));
    if meaningful {
        out.push(body);
    }
}

fn line_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |line| {
        let at = offset;
        offset += line.len();
        (at, line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_line_ending_semicolons() {
        let sql = "-- a comment\nCREATE TABLE a (x TEXT);\n\nCREATE INDEX i ON a (x);\n-- tail\n";
        assert_eq!(
            split_statements(sql),
            vec![
                "-- a comment\nCREATE TABLE a (x TEXT)",
                "CREATE INDEX i ON a (x)"
            ]
        );
    }

    #[test]
    fn the_first_migration_has_every_table() {
        let statements = split_statements(MIGRATIONS[0].sql);
        let tables = statements
            .iter()
            .filter(|s| s.contains("CREATE TABLE"))
            .count();
        assert_eq!(tables, 15);
    }

    #[test]
    fn passwords_never_appear_in_a_redacted_url() {
        assert_eq!(
            redact_url("postgres://office:s3cret@db.internal/portcullis"),
            "postgres://office:***@db.internal/portcullis"
        );
        assert!(Backend::of_url("mysql://x").is_err());
    }
}
