//! Webhook settings of a company and the record of every delivery attempt.

use crate::{Exec, Result, Row, Sql};
use serde::Serialize;
use uuid::Uuid;
use vigil_domain::time::Micros;

/// A company's default webhook: `(url, secret)`.
pub async fn company_hook(ex: &mut impl Exec, company: Uuid) -> Result<Option<(Option<String>, Option<String>)>> {
    let mut q = Sql::new("SELECT webhook_url, webhook_secret FROM companies WHERE company_id = ");
    q.bind(company);
    ex.fetch_optional(q, |r| Ok((r.opt_text("webhook_url")?, r.opt_text("webhook_secret")?))).await
}

pub async fn set_company_hook(
    ex: &mut impl Exec,
    company: Uuid,
    url: Option<&str>,
    secret: Option<&str>,
    now: Micros,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE companies SET webhook_url = ");
    q.bind(url.map(str::to_string)).push(", webhook_secret = ").bind(secret.map(str::to_string));
    q.push(", time_updated = ").bind(now).push(" WHERE company_id = ").bind(company);
    ex.execute(q).await
}

/// One attempt to deliver a webhook.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub delivery_id: Uuid,
    pub job_id: Uuid,
    pub company_id: Uuid,
    pub analyse_id: Option<Uuid>,
    pub folder_id: Option<Uuid>,
    pub event: String,
    pub url: String,
    pub attempt: i64,
    /// The receiver's HTTP status; absent when no answer came.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub time_created: f64,
}

const COLS: &str = "delivery_id, job_id, company_id, analyse_id, folder_id, event, url, attempt, status_code, error, \
     duration_ms, time_created";

fn row(r: &dyn Row) -> Result<Delivery> {
    Ok(Delivery {
        delivery_id: r.uuid("delivery_id")?,
        job_id: r.uuid("job_id")?,
        company_id: r.uuid("company_id")?,
        analyse_id: r.opt_uuid("analyse_id")?,
        folder_id: r.opt_uuid("folder_id")?,
        event: r.text("event")?,
        url: r.text("url")?,
        attempt: r.int("attempt")?,
        status_code: r.opt_int("status_code")?,
        error: r.opt_text("error")?,
        duration_ms: r.int("duration_ms")?,
        time_created: r.secs("time_created")?,
    })
}

pub async fn record(ex: &mut impl Exec, d: &Delivery, now: Micros) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO webhook_deliveries ({COLS}) VALUES ("));
    q.bind(d.delivery_id).push(", ").bind(d.job_id).push(", ").bind(d.company_id).push(", ").bind(d.analyse_id);
    q.push(", ").bind(d.folder_id).push(", ").bind(d.event.as_str()).push(", ").bind(d.url.as_str());
    q.push(", ").bind(d.attempt).push(", ").bind(d.status_code).push(", ").bind(d.error.clone());
    q.push(", ").bind(d.duration_ms).push(", ").bind(now).push(")");
    ex.execute(q).await.map(|_| ())
}

/// Deliveries of a company (optionally of one analysis), newest first.
pub async fn list(
    ex: &mut impl Exec,
    company: Option<Uuid>,
    analyse_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Delivery>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM webhook_deliveries WHERE 1=1"));
    if let Some(c) = company {
        q.push(" AND company_id = ").bind(c);
    }
    if let Some(a) = analyse_id {
        q.push(" AND analyse_id = ").bind(a);
    }
    q.push(" ORDER BY time_created DESC, delivery_id LIMIT ").bind(limit);
    ex.fetch_all(q, row).await
}
