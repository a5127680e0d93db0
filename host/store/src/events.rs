//! SDK telemetry sessions, one row per company and session id.

use crate::{Exec, Result, Row, Sql};
use serde_json::Value;
use uuid::Uuid;
use vigil_domain::events::{EventSession, EventSessionFilter};
use vigil_domain::policy::Scope;
use vigil_domain::time::{Micros, micros_to_secs};

const COLS: &str = "company_id, session_id, user_id, folder_id, events, time_created, time_updated";

fn row(r: &dyn Row) -> Result<EventSession> {
    let events = match r.json("events")? {
        Value::Array(v) => v,
        _ => Vec::new(),
    };
    Ok(EventSession {
        session_id: r.text("session_id")?,
        company_id: r.uuid("company_id")?,
        user_id: r.opt_uuid("user_id")?,
        folder_id: r.opt_uuid("folder_id")?,
        events,
        time_created: micros_to_secs(r.int("time_created")?),
        time_updated: micros_to_secs(r.int("time_updated")?),
    })
}

pub async fn get(ex: &mut impl Exec, company: Uuid, session_id: &str) -> Result<Option<EventSession>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM event_sessions WHERE company_id = "));
    q.bind(company).push(" AND session_id = ").bind(session_id);
    ex.fetch_optional(q, row).await
}

/// Creates a session; a concurrent creation of the same id is a `Conflict`.
pub async fn insert(ex: &mut impl Exec, s: &EventSession, now: Micros) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO event_sessions ({COLS}) VALUES ("));
    q.bind(s.company_id).push(", ").bind(s.session_id.as_str()).push(", ").bind(s.user_id).push(", ");
    q.bind(s.folder_id).push(", ").bind(&Value::Array(s.events.clone())).push(", ").bind(now).push(", ").bind(now);
    q.push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn update(ex: &mut impl Exec, s: &EventSession, now: Micros) -> Result<()> {
    let mut q = Sql::new("UPDATE event_sessions SET events = ");
    q.bind(&Value::Array(s.events.clone())).push(", folder_id = ").bind(s.folder_id).push(", time_updated = ");
    q.bind(now).push(" WHERE company_id = ").bind(s.company_id).push(" AND session_id = ").bind(s.session_id.as_str());
    ex.execute(q).await.map(|_| ())
}

pub async fn list(
    ex: &mut impl Exec,
    scope: Scope,
    f: &EventSessionFilter,
) -> Result<(Vec<EventSession>, Option<i64>)> {
    let mut w = Sql::new(" WHERE 1=1");
    crate::push_scope(&mut w, scope, (" AND user_id = ", ""));
    crate::push_ranges(
        &mut w,
        &[
            ("time_created >= ", f.created_min),
            ("time_created <= ", f.created_max),
            ("time_updated >= ", f.updated_min),
            ("time_updated <= ", f.updated_max),
        ],
    );
    if !f.session_ids.is_empty() {
        w.push(" AND session_id IN ").bind_list(f.session_ids.iter().map(String::as_str));
    }
    if !f.session_ids_exclude.is_empty() {
        w.push(" AND session_id NOT IN ").bind_list(f.session_ids_exclude.iter().map(String::as_str));
    }
    if !f.folder_ids.is_empty() {
        w.push(" AND folder_id IN ").bind_list(f.folder_ids.iter().copied());
    }
    let order = match (f.order_by_updated(), f.sorting.descending) {
        (true, true) => "time_updated DESC, session_id",
        (true, false) => "time_updated ASC, session_id",
        (false, true) => "time_created DESC, session_id",
        (false, false) => "time_created ASC, session_id",
    };
    crate::page(ex, "event_sessions", COLS, w, order, f.paging, row).await
}

/// Removes the sessions linked to a folder (its personal-data deletion: device and capture
/// telemetry of the person).
pub async fn delete_of_folder(ex: &mut impl Exec, folder: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM event_sessions WHERE folder_id = ");
    q.bind(folder);
    ex.execute(q).await
}
