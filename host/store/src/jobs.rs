//! The durable job queue: analyses and webhook deliveries wait here until a worker claims them.
//!
//! A claim sets a lease (owner + expiry) and counts an attempt; completing, retrying or failing a
//! job is conditional on still holding that lease, so a worker whose lease was taken over by the
//! reaper can never complete the job a second time. On PostgreSQL concurrent claimers skip each
//! other's rows (`FOR UPDATE SKIP LOCKED`); SQLite serialises writers, so the same statement is
//! atomic there without it.

use crate::{Dialect, Exec, Result, Row, Sql};
use serde_json::Value;
use uuid::Uuid;
use vigil_domain::time::Micros;

#[derive(Debug, Clone)]
pub struct Job {
    pub job_id: Uuid,
    pub kind: String,
    pub company_id: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    pub payload: Value,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// A job to queue.
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub company_id: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    pub payload: &'a Value,
    pub max_attempts: i64,
    pub run_at: Micros,
}

const COLS: &str = "job_id, kind, company_id, subject_id, payload, attempts, max_attempts";

fn row(r: &dyn Row) -> Result<Job> {
    Ok(Job {
        job_id: r.uuid("job_id")?,
        kind: r.text("kind")?,
        company_id: r.opt_uuid("company_id")?,
        subject_id: r.opt_uuid("subject_id")?,
        payload: r.json("payload")?,
        attempts: r.int("attempts")?,
        max_attempts: r.int("max_attempts")?,
    })
}

pub async fn enqueue(ex: &mut impl Exec, j: &NewJob<'_>, now: Micros) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let mut q = Sql::new(
        "INSERT INTO jobs (job_id, kind, company_id, subject_id, payload, state, attempts, max_attempts, run_at, \
         time_created, time_updated) VALUES (",
    );
    q.bind(id).push(", ").bind(j.kind).push(", ").bind(j.company_id).push(", ").bind(j.subject_id);
    q.push(", ").bind(j.payload).push(", 'queued', 0, ").bind(j.max_attempts).push(", ").bind(j.run_at);
    q.push(", ").bind(now).push(", ").bind(now).push(")");
    ex.execute(q).await?;
    Ok(id)
}

/// Claims the next job for `owner` until `lease_until`, fairly between companies: the company
/// with ready work and the fewest jobs running goes first (ties: whose oldest job waited
/// longest), and its oldest ready job is taken. One company's backlog therefore delays another's
/// next job by at most the jobs already running, not by the backlog; a company alone on the
/// server still uses every worker.
pub async fn claim(ex: &mut impl Exec, owner: &str, now: Micros, lease_until: Micros) -> Result<Option<Job>> {
    let lock = match ex.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    // Jobs without a company (none today) count as one company of their own.
    let running = "(SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' \
                   AND COALESCE(r.company_id, '') = COALESCE(w.company_id, ''))";
    let mut q = Sql::new("UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ");
    q.bind(owner).push(", lease_until = ").bind(lease_until).push(", time_updated = ").bind(now);
    q.push(" WHERE job_id = (SELECT j.job_id FROM jobs j WHERE j.state = 'queued' AND j.run_at <= ").bind(now);
    q.push(" AND COALESCE(j.company_id, '') = (SELECT COALESCE(w.company_id, '') FROM jobs w WHERE w.state = 'queued' AND w.run_at <= ");
    q.bind(now).push(&format!(" GROUP BY w.company_id ORDER BY {running}, MIN(w.run_at) LIMIT 1)"));
    q.push(&format!(" ORDER BY j.run_at, j.job_id LIMIT 1{lock}) AND state = 'queued' RETURNING {COLS}"));
    ex.fetch_optional(q, row).await
}

/// Jobs a company has queued or running (the cap on queued work).
pub async fn pending_for_company(ex: &mut impl Exec, company_id: Uuid) -> Result<i64> {
    let mut q = Sql::new("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running') AND company_id = ");
    q.bind(company_id);
    ex.fetch_count(q).await
}

fn held(q: &mut Sql, job: &Job, owner: &str) {
    q.push(" WHERE job_id = ").bind(job.job_id).push(" AND state = 'running' AND lease_owner = ").bind(owner);
    q.push(" AND attempts = ").bind(job.attempts);
}

/// Extends the lease of a job this worker holds; false when the lease was lost.
pub async fn renew(ex: &mut impl Exec, job: &Job, owner: &str, lease_until: Micros) -> Result<bool> {
    let mut q = Sql::new("UPDATE jobs SET lease_until = ");
    q.bind(lease_until);
    held(&mut q, job, owner);
    Ok(ex.execute(q).await? == 1)
}

/// Marks a held job done; false when the lease was lost (the caller must then roll back).
pub async fn complete(ex: &mut impl Exec, job: &Job, owner: &str, now: Micros) -> Result<bool> {
    let mut q = Sql::new("UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, time_updated = ");
    q.bind(now);
    held(&mut q, job, owner);
    Ok(ex.execute(q).await? == 1)
}

/// Queues a held job again at `run_at` after a failed attempt.
pub async fn retry(
    ex: &mut impl Exec,
    job: &Job,
    owner: &str,
    error: &str,
    run_at: Micros,
    now: Micros,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, last_error = ");
    q.bind(error).push(", run_at = ").bind(run_at).push(", time_updated = ").bind(now);
    held(&mut q, job, owner);
    Ok(ex.execute(q).await? == 1)
}

/// Gives up on a held job.
pub async fn fail(ex: &mut impl Exec, job: &Job, owner: &str, error: &str, now: Micros) -> Result<bool> {
    let mut q = Sql::new("UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_until = NULL, last_error = ");
    q.bind(error).push(", time_updated = ").bind(now);
    held(&mut q, job, owner);
    Ok(ex.execute(q).await? == 1)
}

/// Re-queues running jobs whose lease expired (their worker died or stalled) and that have
/// attempts left; returns them.
pub async fn requeue_expired(ex: &mut impl Exec, now: Micros) -> Result<Vec<Job>> {
    let mut q = Sql::new(
        "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, last_error = 'lease expired', run_at = ",
    );
    q.bind(now).push(", time_updated = ").bind(now).push(" WHERE state = 'running' AND lease_until < ").bind(now);
    q.push(&format!(" AND attempts < max_attempts RETURNING {COLS}"));
    ex.fetch_all(q, row).await
}

/// Takes over, under `owner`, one running job whose lease expired with no attempts left, so the
/// caller can record the failure of its subject and then [`fail`] it.
pub async fn take_exhausted(ex: &mut impl Exec, owner: &str, now: Micros, lease_until: Micros) -> Result<Option<Job>> {
    let lock = match ex.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let mut q = Sql::new("UPDATE jobs SET lease_owner = ");
    q.bind(owner).push(", lease_until = ").bind(lease_until).push(", time_updated = ").bind(now);
    q.push(" WHERE job_id = (SELECT job_id FROM jobs WHERE state = 'running' AND attempts >= max_attempts AND lease_until < ");
    q.bind(now).push(&format!(" LIMIT 1{lock}) AND lease_until < ")).bind(now);
    q.push(&format!(" RETURNING {COLS}"));
    ex.fetch_optional(q, row).await
}

/// Queues again the running jobs whose lease owner starts with `owner_prefix` (a stopping process).
pub async fn release(ex: &mut impl Exec, owner_prefix: &str, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, run_at = ");
    q.bind(now).push(", time_updated = ").bind(now).push(" WHERE state = 'running' AND lease_owner LIKE ");
    q.bind(format!("{}%", owner_prefix.replace('%', "").replace('_', "\\_"))).push(" ESCAPE '\\'");
    ex.execute(q).await
}

/// Counts by state, for health and tests: `(queued, running, done, failed)`.
pub async fn counts(ex: &mut impl Exec) -> Result<(i64, i64, i64, i64)> {
    let rows = ex
        .fetch_all(Sql::new("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"), |r| {
            Ok((r.text("state")?, r.int("n")?))
        })
        .await?;
    let get = |s: &str| rows.iter().find(|(k, _)| k == s).map(|(_, n)| *n).unwrap_or(0);
    Ok((get("queued"), get("running"), get("done"), get("failed")))
}

/// When the longest-waiting ready job became ready (`run_at` of the oldest queued job due by
/// `now`), for the queue-age metric.
pub async fn oldest_ready(ex: &mut impl Exec, now: Micros) -> Result<Option<Micros>> {
    let mut q = Sql::new("SELECT MIN(run_at) AS t FROM jobs WHERE state = 'queued' AND run_at <= ");
    q.bind(now);
    ex.fetch_optional(q, |r| r.opt_int("t")).await.map(Option::flatten)
}
