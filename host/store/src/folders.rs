//! Folders and the filtered folder list.

use crate::{Exec, Result, Row, Sql};
use uuid::Uuid;
use vigil_domain::filter::{FolderFilter, SortField};
use vigil_domain::model::Folder;
use vigil_domain::policy::Scope;
use vigil_domain::time::Micros;

const COLS: &str = "folder_id, company_id, user_id, resolution_status, system_resolution, operator_status, \
     operator_comment, pi_deleted, meta_data, technical_meta_data, time_created, time_updated, time_pi_deleted";

fn row(r: &dyn Row) -> Result<Folder> {
    Ok(Folder {
        folder_id: r.uuid("folder_id")?,
        company_id: r.uuid("company_id")?,
        user_id: r.opt_uuid("user_id")?,
        resolution_status: r.text("resolution_status")?,
        system_resolution: r.text("system_resolution")?,
        operator_status: r.opt_text("operator_status")?,
        operator_comment: r.opt_text("operator_comment")?,
        media: Vec::new(),
        analyses: None,
        user: None,
        company: None,
        meta_data: r.json("meta_data")?,
        technical_meta_data: r.json("technical_meta_data")?,
        time_created: r.secs("time_created")?,
        time_updated: r.secs("time_updated")?,
        pi_deleted: r.boolean("pi_deleted")?,
        time_pi_deleted: r.opt_int("time_pi_deleted")?.map(vigil_domain::time::micros_to_secs),
    })
}

pub async fn insert(ex: &mut impl Exec, f: &Folder, now: Micros) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO folders ({COLS}) VALUES ("));
    q.bind(f.folder_id).push(", ").bind(f.company_id).push(", ").bind(f.user_id).push(", ");
    q.bind(f.resolution_status.as_str()).push(", ").bind(f.system_resolution.as_str()).push(", ");
    q.bind(f.operator_status.clone()).push(", ").bind(f.operator_comment.clone()).push(", ");
    q.bind(f.pi_deleted).push(", ").bind(&f.meta_data).push(", ").bind(&f.technical_meta_data);
    q.push(", ").bind(now).push(", ").bind(now).push(", ").bind(None::<i64>).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get(ex: &mut impl Exec, id: Uuid) -> Result<Option<Folder>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM folders WHERE folder_id = "));
    q.bind(id);
    ex.fetch_optional(q, row).await
}

/// Lists folders visible in `scope` that match `f`; the total is absent with `total_omit`.
pub async fn list(ex: &mut impl Exec, scope: Scope, f: &FolderFilter) -> Result<(Vec<Folder>, Option<i64>)> {
    let (w, order) = list_filter(ex.dialect(), scope, f);
    crate::page(ex, "folders", COLS, w, &order, f.paging, row).await
}

/// The database's plan for the page query of [`list`] (`EXPLAIN`), one line per row: how an
/// operator (and a test) sees which indexes a filter uses.
pub async fn explain_list(ex: &mut impl Exec, scope: Scope, f: &FolderFilter) -> Result<Vec<String>> {
    let (w, order) = list_filter(ex.dialect(), scope, f);
    let mut q =
        Sql { text: format!("EXPLAIN SELECT {COLS} FROM folders{} ORDER BY {order} LIMIT ", w.text), params: w.params };
    q.bind(f.paging.limit).push(" OFFSET ").bind(f.paging.offset);
    match ex.dialect() {
        crate::Dialect::Postgres => ex.fetch_all(q, |r| r.text("QUERY PLAN")).await,
        // SQLite's EXPLAIN lists bytecode; its plan is EXPLAIN QUERY PLAN.
        crate::Dialect::Sqlite => {
            q.text = q.text.replacen("EXPLAIN", "EXPLAIN QUERY PLAN", 1);
            ex.fetch_all(q, |r| r.text("detail")).await
        }
    }
}

/// The `WHERE` clause and `ORDER BY` of a folder list.
fn list_filter(dialect: crate::Dialect, scope: Scope, f: &FolderFilter) -> (Sql, String) {
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
    for (col, ids) in [("folder_id", &f.folder_ids), ("user_id", &f.user_ids), ("company_id", &f.company_ids)] {
        if !ids.is_empty() {
            w.push(&format!(" AND {col} IN ")).bind_list(ids.iter().copied());
        }
    }
    if !f.resolution_status.is_empty() {
        w.push(" AND (resolution_status IN ").bind_list(f.resolution_status.iter().cloned());
        w.push(" OR system_resolution IN ").bind_list(f.resolution_status.iter().cloned()).push(")");
    }
    for m in &f.meta {
        // `k!=v` also keeps folders that lack the key.
        if m.negate {
            w.push(" AND (");
            dialect.json_field(&mut w, "meta_data", &m.key);
            w.push(" IS NULL OR ");
            dialect.json_field(&mut w, "meta_data", &m.key);
            w.push(" <> ").bind(m.value.as_str()).push(")");
        } else {
            w.push(" AND ");
            dialect.json_field(&mut w, "meta_data", &m.key);
            w.push(" = ").bind(m.value.as_str());
        }
    }
    crate::result_filter::push(&mut w, dialect, "folders.folder_id", &f.results);
    let col = match f.sorting.field {
        SortField::TimeCreated => "time_created",
        SortField::TimeUpdated => "time_updated",
    };
    let dir = if f.sorting.descending { "DESC" } else { "ASC" };
    (w, format!("{col} {dir}, folder_id {dir}"))
}

/// Writes the editable fields of `f`.
pub async fn update(ex: &mut impl Exec, f: &Folder, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE folders SET user_id = ");
    q.bind(f.user_id).push(", operator_status = ").bind(f.operator_status.clone());
    q.push(", operator_comment = ").bind(f.operator_comment.clone()).push(", meta_data = ").bind(&f.meta_data);
    q.push(", time_updated = ").bind(now).push(" WHERE folder_id = ").bind(f.folder_id);
    ex.execute(q).await
}

/// Marks a folder changed (media added or removed).
pub async fn touch(ex: &mut impl Exec, id: Uuid, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE folders SET time_updated = ");
    q.bind(now).push(" WHERE folder_id = ").bind(id);
    ex.execute(q).await
}

pub async fn delete(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM folders WHERE folder_id = ");
    q.bind(id);
    ex.execute(q).await
}

/// Writes the folder's aggregate stage and verdict.
pub async fn set_status(ex: &mut impl Exec, id: Uuid, stage: &str, verdict: &str, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE folders SET resolution_status = ");
    q.bind(stage).push(", system_resolution = ").bind(verdict).push(", time_updated = ").bind(now);
    q.push(" WHERE folder_id = ").bind(id);
    ex.execute(q).await
}

/// Marks a folder's personal data deleted (the first step of a deletion: from now on no media is
/// added); the time of the first mark is kept when a deletion is retried.
pub async fn mark_pi_deleted(ex: &mut impl Exec, id: Uuid, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE folders SET pi_deleted = ");
    q.bind(true).push(", time_pi_deleted = COALESCE(time_pi_deleted, ").bind(now).push("), time_updated = ");
    q.bind(now).push(" WHERE folder_id = ").bind(id);
    ex.execute(q).await
}

/// Empties a folder's metadata (personal-data deletion).
pub async fn clear_personal(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("UPDATE folders SET meta_data = ");
    q.bind("{}").push(", technical_meta_data = ").bind("{}").push(" WHERE folder_id = ").bind(id);
    ex.execute(q).await
}
