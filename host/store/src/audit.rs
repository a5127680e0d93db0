//! The append-only audit log: insert and list, nothing else (the tables' triggers refuse updates
//! and deletes as well).

use crate::{Exec, Result, Row, Sql};
use vigil_domain::audit::{AuditEntry, AuditFilter};
use vigil_domain::policy::Scope;
use vigil_domain::time::{Micros, micros_to_secs};

/// An entry as stored: [`AuditEntry`] with its time in microseconds.
pub struct NewEntry<'a> {
    pub entry: &'a AuditEntry,
    pub time_created: Micros,
}

const COLS: &str = "audit_id, time_created, user_id, user_company_id, company_id, ip, request_id, action, \
     object_type, object_id, folder_id, changes";

fn row(r: &dyn Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        audit_id: r.uuid("audit_id")?,
        time_created: micros_to_secs(r.int("time_created")?),
        user_id: r.opt_uuid("user_id")?,
        user_company_id: r.opt_uuid("user_company_id")?,
        company_id: r.opt_uuid("company_id")?,
        ip: r.opt_text("ip")?,
        request_id: r.opt_text("request_id")?,
        action: r.text("action")?,
        object_type: r.text("object_type")?,
        object_id: r.uuid("object_id")?,
        folder_id: r.opt_uuid("folder_id")?,
        changes: r.json("changes")?,
    })
}

pub async fn insert(ex: &mut impl Exec, n: NewEntry<'_>) -> Result<()> {
    let e = n.entry;
    let mut q = Sql::new(&format!("INSERT INTO audit_log ({COLS}) VALUES ("));
    q.bind(e.audit_id).push(", ").bind(n.time_created).push(", ").bind(e.user_id).push(", ");
    q.bind(e.user_company_id).push(", ").bind(e.company_id).push(", ").bind(e.ip.clone()).push(", ");
    q.bind(e.request_id.clone()).push(", ").bind(e.action.as_str()).push(", ").bind(e.object_type.as_str());
    q.push(", ").bind(e.object_id).push(", ").bind(e.folder_id).push(", ").bind(&e.changes).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn list(ex: &mut impl Exec, scope: Scope, f: &AuditFilter) -> Result<(Vec<AuditEntry>, Option<i64>)> {
    let mut w = Sql::new(" WHERE 1=1");
    crate::push_scope(&mut w, scope, (" AND user_id = ", ""));
    for (col, ids) in [("object_id", &f.object_ids), ("user_id", &f.user_ids), ("company_id", &f.company_ids)] {
        if !ids.is_empty() {
            w.push(&format!(" AND {col} IN ")).bind_list(ids.iter().copied());
        }
    }
    for (col, words) in [("object_type", &f.object_types), ("action", &f.actions)] {
        if !words.is_empty() {
            w.push(&format!(" AND {col} IN ")).bind_list(words.iter().cloned());
        }
    }
    if let Some(folder) = f.folder_id {
        w.push(" AND (folder_id = ").bind(folder).push(" OR object_id = ").bind(folder).push(")");
    }
    crate::push_ranges(&mut w, &[("time_created >= ", f.created_min), ("time_created <= ", f.created_max)]);
    let order = if f.ascending { "time_created ASC, audit_id" } else { "time_created DESC, audit_id" };
    crate::page(ex, "audit_log", COLS, w, order, f.paging, row).await
}
