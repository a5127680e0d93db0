//! The backend-neutral executor: bind values, row access, pool and transaction dispatch.

use crate::{Result, StoreError};
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Postgres, Row as _, Sqlite};
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// A bind parameter. Only types both backends encode identically are allowed.
#[derive(Debug, Clone)]
pub enum Val {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Float(f64),
    OptFloat(Option<f64>),
    Bytes(Vec<u8>),
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Text(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Text(s)
    }
}
impl From<Uuid> for Val {
    fn from(u: Uuid) -> Self {
        Val::Text(u.to_string())
    }
}
impl From<Option<Uuid>> for Val {
    fn from(u: Option<Uuid>) -> Self {
        Val::OptText(u.map(|u| u.to_string()))
    }
}
impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Self {
        Val::OptText(s)
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Val::Int(i)
    }
}
impl From<Option<i64>> for Val {
    fn from(i: Option<i64>) -> Self {
        Val::OptInt(i)
    }
}
impl From<f64> for Val {
    fn from(f: f64) -> Self {
        Val::Float(f)
    }
}
impl From<Option<f64>> for Val {
    fn from(f: Option<f64>) -> Self {
        Val::OptFloat(f)
    }
}
impl From<bool> for Val {
    fn from(b: bool) -> Self {
        Val::Bool(b)
    }
}
impl From<Vec<u8>> for Val {
    fn from(b: Vec<u8>) -> Self {
        Val::Bytes(b)
    }
}
impl From<&Value> for Val {
    fn from(v: &Value) -> Self {
        Val::Text(v.to_string())
    }
}

/// A statement under construction: text plus parameters, numbered as they are pushed.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Val>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql { text: text.to_string(), params: Vec::new() }
    }
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    /// Appends a placeholder for `v`.
    pub fn bind(&mut self, v: impl Into<Val>) -> &mut Self {
        self.params.push(v.into());
        self.text.push_str(&format!("${}", self.params.len()));
        self
    }
    /// Appends `($a, $b, …)` for a non-empty list.
    pub fn bind_list<V: Into<Val>>(&mut self, vs: impl IntoIterator<Item = V>) -> &mut Self {
        self.text.push('(');
        for (i, v) in vs.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self.text.push(')');
        self
    }
}

/// Typed column access over either backend's row.
pub trait Row {
    fn text(&self, c: &str) -> Result<String>;
    fn opt_text(&self, c: &str) -> Result<Option<String>>;
    fn int(&self, c: &str) -> Result<i64>;
    fn opt_int(&self, c: &str) -> Result<Option<i64>>;
    fn boolean(&self, c: &str) -> Result<bool>;
    fn opt_float(&self, c: &str) -> Result<Option<f64>>;
    fn bytes(&self, c: &str) -> Result<Vec<u8>>;

    fn uuid(&self, c: &str) -> Result<Uuid> {
        let s = self.text(c)?;
        Uuid::parse_str(&s).map_err(|e| corrupt(c, e))
    }
    fn opt_uuid(&self, c: &str) -> Result<Option<Uuid>> {
        self.opt_text(c)?.map(|s| Uuid::parse_str(&s).map_err(|e| corrupt(c, e))).transpose()
    }
    fn json(&self, c: &str) -> Result<Value> {
        serde_json::from_str(&self.text(c)?).map_err(|e| corrupt(c, e))
    }
    /// A timestamp column as UNIX seconds.
    fn secs(&self, c: &str) -> Result<f64> {
        Ok(vigil_domain::time::micros_to_secs(self.int(c)?))
    }
}

fn corrupt(column: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { column: column.to_string(), reason: e.to_string() }
}

macro_rules! impl_row {
    ($t:ty) => {
        impl Row for $t {
            fn text(&self, c: &str) -> Result<String> {
                Ok(self.try_get::<String, _>(c)?)
            }
            fn opt_text(&self, c: &str) -> Result<Option<String>> {
                Ok(self.try_get::<Option<String>, _>(c)?)
            }
            fn int(&self, c: &str) -> Result<i64> {
                Ok(self.try_get::<i64, _>(c)?)
            }
            fn opt_int(&self, c: &str) -> Result<Option<i64>> {
                Ok(self.try_get::<Option<i64>, _>(c)?)
            }
            fn boolean(&self, c: &str) -> Result<bool> {
                Ok(self.try_get::<bool, _>(c)?)
            }
            fn opt_float(&self, c: &str) -> Result<Option<f64>> {
                Ok(self.try_get::<Option<f64>, _>(c)?)
            }
            fn bytes(&self, c: &str) -> Result<Vec<u8>> {
                Ok(self.try_get::<Vec<u8>, _>(c)?)
            }
        }
    };
}
impl_row!(SqliteRow);
impl_row!(PgRow);

/// Binds every parameter of `$params` onto a `sqlx::query`.
macro_rules! bound {
    ($sql:expr, $params:expr) => {{
        // Statement text is only ever built from static fragments and `$N` placeholders; every
        // value, user-supplied or not, is bound — except typed values that cannot carry SQL
        // (UUIDs, integers) where the planner needs a constant (`vectors`).
        let mut q = sqlx::query(sqlx::AssertSqlSafe($sql));
        for p in $params {
            q = match p {
                Val::Text(s) => q.bind(s),
                Val::OptText(s) => q.bind(s),
                Val::Int(i) => q.bind(i),
                Val::OptInt(i) => q.bind(i),
                Val::Bool(b) => q.bind(b),
                Val::Float(f) => q.bind(f),
                Val::OptFloat(f) => q.bind(f),
                Val::Bytes(b) => q.bind(b),
            };
        }
        q
    }};
}

fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e
        && d.is_unique_violation()
    {
        return StoreError::Conflict(d.message().to_string());
    }
    StoreError::Db(e)
}

/// The SQL that differs between backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Appends an expression that yields the text of top-level key `key` of JSON column `col`.
    pub fn json_field(self, sql: &mut Sql, col: &str, key: &str) {
        match self {
            Dialect::Sqlite => {
                sql.push(&format!("CAST(json_extract({col}, "));
                sql.bind(format!("$.\"{key}\""));
                sql.push(") AS TEXT)");
            }
            Dialect::Postgres => {
                sql.push(&format!("(({col})::jsonb ->> "));
                sql.bind(key.to_string());
                sql.push(")");
            }
        }
    }
}

impl Dialect {
    /// Appends a condition true when the JSON list of strings in `col` holds any of `values`.
    pub fn json_array_has_any(self, sql: &mut Sql, col: &str, values: &[String]) {
        match self {
            Dialect::Sqlite => sql.push(&format!("EXISTS (SELECT 1 FROM json_each({col}) WHERE json_each.value IN ")),
            Dialect::Postgres => sql.push(&format!(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text(({col})::jsonb) AS t(v) WHERE t.v IN "
            )),
        };
        sql.bind_list(values.iter().cloned()).push(")");
    }
}

/// Runs statements on a pool or inside a transaction.
pub trait Exec: Send {
    fn dialect(&self) -> Dialect;
    fn execute(&mut self, sql: Sql) -> impl Future<Output = Result<u64>> + Send;
    fn fetch_all<T: Send + 'static>(
        &mut self,
        sql: Sql,
        f: fn(&dyn Row) -> Result<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    fn fetch_optional<T: Send + 'static>(
        &mut self,
        sql: Sql,
        f: fn(&dyn Row) -> Result<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        async move { Ok(self.fetch_all(sql, f).await?.into_iter().next()) }
    }

    fn fetch_count(&mut self, sql: Sql) -> impl Future<Output = Result<i64>> + Send {
        async move { Ok(self.fetch_all(sql, |r| r.int("n")).await?.into_iter().next().unwrap_or(0)) }
    }
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// A connection pool on one of the two backends. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Connects to `sqlite://…` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL: a commit survives the process being killed (what the job queue
                // relies on); only an OS crash or power loss can drop the last commits.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?;
            Ok(Store { pool: Pool::Sqlite(pool) })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool =
                PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
            Ok(Store { pool: Pool::Pg(pool) })
        } else {
            Err(StoreError::BadUrl(url.to_string()))
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => sqlx::migrate!("../../migrations/sqlite").run(p).await?,
            Pool::Pg(p) => sqlx::migrate!("../../migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    pub fn dialect_name(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Pg(_) => "postgres",
        }
    }

    pub async fn ping(&self) -> Result<()> {
        self.clone().fetch_count(Sql::new("SELECT CAST(1 AS BIGINT) AS n")).await.map(|_| ())
    }

    pub async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    /// A transaction that reads and then writes: on SQLite it takes the write lock at `BEGIN`
    /// (`IMMEDIATE`, waiting its turn under the busy timeout), since a read transaction that
    /// later writes fails at once when another writer committed meanwhile.
    pub async fn begin_write(&self) -> Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    /// Runs statements one after another on one connection of the pool, outside a transaction:
    /// a session setting for a statement that cannot run in one (`CREATE INDEX CONCURRENTLY`).
    /// The connection is closed afterwards, so no setting outlives the call.
    pub async fn on_one_connection(&self, stmts: Vec<Sql>) -> Result<()> {
        macro_rules! run_all {
            ($pool:expr) => {{
                let mut c = $pool.acquire().await?;
                let mut out = Ok(());
                for s in stmts {
                    if let Err(e) = bound!(s.text, s.params).execute(&mut *c).await {
                        out = Err(map_err(e));
                        break;
                    }
                }
                c.close().await?;
                out
            }};
        }
        match &self.pool {
            Pool::Sqlite(p) => run_all!(p),
            Pool::Pg(p) => run_all!(p),
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Pg(p) => p.close().await,
        }
    }
}

impl Exec for Store {
    fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Pg(_) => Dialect::Postgres,
        }
    }

    async fn execute(&mut self, sql: Sql) -> Result<u64> {
        match &self.pool {
            Pool::Sqlite(p) => Ok(bound!(sql.text, sql.params).execute(p).await.map_err(map_err)?.rows_affected()),
            Pool::Pg(p) => Ok(bound!(sql.text, sql.params).execute(p).await.map_err(map_err)?.rows_affected()),
        }
    }

    async fn fetch_all<T: Send + 'static>(&mut self, sql: Sql, f: fn(&dyn Row) -> Result<T>) -> Result<Vec<T>> {
        let mut out = Vec::new();
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut rows = bound!(sql.text, sql.params).fetch(p);
                while let Some(r) = rows.try_next().await.map_err(map_err)? {
                    out.push(f(&r)?);
                }
            }
            Pool::Pg(p) => {
                let mut rows = bound!(sql.text, sql.params).fetch(p);
                while let Some(r) = rows.try_next().await.map_err(map_err)? {
                    out.push(f(&r)?);
                }
            }
        }
        Ok(out)
    }
}

/// An open transaction; dropped without [`Tx::commit`] it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Pg(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Pg(t) => t.commit().await?,
        }
        Ok(())
    }
}

impl Exec for Tx {
    fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Pg(_) => Dialect::Postgres,
        }
    }

    async fn execute(&mut self, sql: Sql) -> Result<u64> {
        match self {
            Tx::Sqlite(t) => Ok(bound!(sql.text, sql.params).execute(&mut **t).await.map_err(map_err)?.rows_affected()),
            Tx::Pg(t) => Ok(bound!(sql.text, sql.params).execute(&mut **t).await.map_err(map_err)?.rows_affected()),
        }
    }

    async fn fetch_all<T: Send + 'static>(&mut self, sql: Sql, f: fn(&dyn Row) -> Result<T>) -> Result<Vec<T>> {
        let rows: Vec<Result<T>> = match self {
            Tx::Sqlite(t) => {
                bound!(sql.text, sql.params).fetch_all(&mut **t).await.map_err(map_err)?.iter().map(|r| f(r)).collect()
            }
            Tx::Pg(t) => {
                bound!(sql.text, sql.params).fetch_all(&mut **t).await.map_err(map_err)?.iter().map(|r| f(r)).collect()
            }
        };
        rows.into_iter().collect()
    }
}
