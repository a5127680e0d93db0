//! Persistence for Vigil on SQLite (embedded default) and PostgreSQL (scale-out).
//!
//! Architecture invariant: this is the only crate that knows SQL. Both backends run the same
//! portable statements (`$N` placeholders, UUID text ids, integer-microsecond timestamps, JSON as
//! text), dispatched over [`Store`]'s pool; the few dialect differences (JSON field access) live in
//! [`Dialect`]. Each backend keeps its own migration set under `migrations/`.

pub mod ab_tests;
pub mod analyses;
pub mod audit;
pub mod collections;
pub mod companies;
pub mod events;
mod exec;
pub mod folders;
pub mod jobs;
pub mod media;
pub mod meta;
pub mod plugins;
pub mod reports;
pub mod restores;
mod result_filter;
pub mod sessions;
pub mod users;
pub mod vectors;
pub mod webhooks;

pub use exec::{Dialect, Exec, Row, Sql, Store, Tx, Val};

/// Storage failures. Unique-key collisions are told apart so callers can answer 409.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    #[error("bad stored value in column {column}: {reason}")]
    Corrupt { column: String, reason: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url '{0}': use sqlite://… or postgres://…")]
    BadUrl(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The system company that ADMIN and OPERATOR users belong to (seeded by the first migration).
pub const SYSTEM_COMPANY_ID: uuid::Uuid = uuid::Uuid::nil();

/// One page of `SELECT {cols} FROM {table}{filter} ORDER BY {order}`, with the number of matching
/// rows unless `total_omit`. `filter` starts with ` WHERE`; `order` is static text.
pub(crate) async fn page<T: Send + 'static>(
    ex: &mut impl Exec,
    table: &str,
    cols: &str,
    filter: Sql,
    order: &str,
    paging: vigil_domain::filter::Paging,
    row: fn(&dyn Row) -> Result<T>,
) -> Result<(Vec<T>, Option<i64>)> {
    let total = if paging.total_omit {
        None
    } else {
        let count =
            Sql { text: format!("SELECT COUNT(*) AS n FROM {table}{}", filter.text), params: filter.params.clone() };
        Some(ex.fetch_count(count).await?)
    };
    let mut q = Sql {
        text: format!("SELECT {cols} FROM {table}{} ORDER BY {order} LIMIT ", filter.text),
        params: filter.params,
    };
    q.bind(paging.limit).push(" OFFSET ").bind(paging.offset);
    Ok((ex.fetch_all(q, row).await?, total))
}

/// Appends ` AND <column op> value` for each bound that is set (`("time_created >= ", min)`).
pub(crate) fn push_ranges(w: &mut Sql, ranges: &[(&str, Option<i64>)]) {
    for (cond, v) in ranges {
        if let Some(v) = v {
            w.push(" AND ").push(cond).bind(*v);
        }
    }
}

/// Appends the condition of a list scope: every row, a company's rows, or the rows whose owner is
/// the user — `owner` is the SQL before the bound user id and what closes it.
pub(crate) fn push_scope(w: &mut Sql, scope: vigil_domain::policy::Scope, owner: (&str, &str)) {
    use vigil_domain::policy::Scope;
    match scope {
        Scope::All => {}
        Scope::Company(c) => {
            w.push(" AND company_id = ").bind(c);
        }
        Scope::Owner(u) => {
            w.push(owner.0).bind(u).push(owner.1);
        }
    }
}
