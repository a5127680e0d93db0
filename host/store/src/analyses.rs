//! Analyses and their filtered lists.

use crate::{Exec, Result, Row, Sql, StoreError};
use serde_json::Value;
use uuid::Uuid;
use vigil_domain::ab::Assignment;
use vigil_domain::analysis::AnalysisFilter;
use vigil_domain::filter::SortField;
use vigil_domain::model::{Analysis, ResultMedia};
use vigil_domain::policy::Scope;
use vigil_domain::time::{Micros, micros_to_secs};

const COLS: &str = "analyse_id, folder_id, company_id, user_id, group_id, type, state, resolution_status, \
     system_resolution, params, source_media, results_data, results_media, error, plugin, webhook_url, operator_id, \
     operator_comment, time_decided, attempts, worker, meta_data, technical_meta_data, time_task_send_to_broker, \
     time_task_received, time_task_finished, time_created, time_updated, ab_test_id, ab_variant, ab_shadow_of, \
     ab_fallback";

/// Leaves out shadow analyses: they never show in a folder, its aggregate or its reports.
const NOT_SHADOW: &str = " AND ab_shadow_of IS NULL";

fn corrupt(c: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { column: c.into(), reason: e.to_string() }
}

fn opt_json(r: &dyn Row, c: &str) -> Result<Option<Value>> {
    r.opt_text(c)?.map(|s| serde_json::from_str(&s).map_err(|e| corrupt(c, e))).transpose()
}

fn row(r: &dyn Row) -> Result<Analysis> {
    let source_ids: Vec<Uuid> =
        serde_json::from_value(r.json("source_media")?).map_err(|e| corrupt("source_media", e))?;
    let results_media: Vec<ResultMedia> =
        serde_json::from_value(r.json("results_media")?).map_err(|e| corrupt("results_media", e))?;
    let resolution = r.text("resolution_status")?;
    let mut tech = r.json("technical_meta_data")?;
    if let Value::Object(m) = &mut tech {
        m.insert("attempts".into(), Value::from(r.int("attempts")?));
        if let Some(p) = r.opt_text("plugin")? {
            m.insert("plugin".into(), Value::from(p));
        }
        if let Some(w) = r.opt_text("worker")? {
            m.insert("worker".into(), Value::from(w));
        }
    }
    let ab = match (r.opt_uuid("ab_test_id")?, r.opt_text("ab_variant")?) {
        (Some(ab_test_id), Some(variant)) => Some(Assignment {
            ab_test_id,
            variant,
            shadow_of: r.opt_uuid("ab_shadow_of")?,
            fallback: r.opt_text("ab_fallback")?,
        }),
        _ => None,
    };
    if let (Value::Object(m), Some(a)) = (&mut tech, &ab) {
        m.insert("ab_test".into(), a.to_json());
    }
    let secs = |c: &str| -> Result<Option<f64>> { Ok(r.opt_int(c)?.map(micros_to_secs)) };
    Ok(Analysis {
        analyse_id: r.uuid("analyse_id")?,
        folder_id: r.uuid("folder_id")?,
        company_id: r.uuid("company_id")?,
        user_id: r.opt_uuid("user_id")?,
        group_id: r.uuid("group_id")?,
        analysis_type: r.text("type")?,
        state: r.text("state")?,
        resolution: resolution.clone(),
        resolution_status: resolution,
        system_resolution: r.text("system_resolution")?,
        params: r.json("params")?,
        source_media: Vec::new(),
        results_data: opt_json(r, "results_data")?,
        results_media,
        collection: None,
        error: opt_json(r, "error")?,
        operator_id: r.opt_uuid("operator_id")?,
        operator_comment: r.opt_text("operator_comment")?,
        time_decided: secs("time_decided")?,
        meta_data: r.json("meta_data")?,
        technical_meta_data: tech,
        time_task_send_to_broker: secs("time_task_send_to_broker")?,
        time_task_received: secs("time_task_received")?,
        time_task_finished: secs("time_task_finished")?,
        time_created: r.secs("time_created")?,
        time_updated: r.secs("time_updated")?,
        source_ids,
        webhook_url: r.opt_text("webhook_url")?,
        ab,
    })
}

/// Inserts a new analysis in PROCESSING; `now` is also the moment its job was queued.
pub async fn insert(ex: &mut impl Exec, a: &Analysis, user_id: Option<Uuid>, now: Micros) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO analyses (analyse_id, folder_id, company_id, user_id, group_id, type, state, resolution_status, \
         system_resolution, params, source_media, webhook_url, time_task_send_to_broker, time_created, time_updated, \
         ab_test_id, ab_variant, ab_shadow_of, ab_fallback) VALUES (",
    );
    q.bind(a.analyse_id).push(", ").bind(a.folder_id).push(", ").bind(a.company_id).push(", ").bind(user_id);
    q.push(", ").bind(a.group_id).push(", ").bind(a.analysis_type.as_str()).push(", ").bind(a.state.as_str());
    q.push(", ").bind(a.resolution_status.as_str()).push(", ").bind(a.system_resolution.as_str());
    q.push(", ").bind(&a.params).push(", ").bind(Value::from(ids(&a.source_ids)).to_string());
    q.push(", ").bind(a.webhook_url.clone()).push(", ").bind(now).push(", ").bind(now).push(", ").bind(now);
    let ab = a.ab.as_ref();
    q.push(", ").bind(ab.map(|x| x.ab_test_id)).push(", ").bind(ab.map(|x| x.variant.clone()));
    q.push(", ").bind(ab.and_then(|x| x.shadow_of)).push(", ").bind(ab.and_then(|x| x.fallback.clone())).push(")");
    ex.execute(q).await.map(|_| ())
}

fn ids(v: &[Uuid]) -> Vec<String> {
    v.iter().map(Uuid::to_string).collect()
}

pub async fn get(ex: &mut impl Exec, id: Uuid) -> Result<Option<Analysis>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM analyses WHERE analyse_id = "));
    q.bind(id);
    ex.fetch_optional(q, row).await
}

/// Analyses of several folders, oldest first, without shadows.
pub async fn of_folders(ex: &mut impl Exec, folder_ids: &[Uuid]) -> Result<Vec<Analysis>> {
    if folder_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(&format!("SELECT {COLS} FROM analyses WHERE folder_id IN "));
    q.bind_list(folder_ids.iter().copied()).push(NOT_SHADOW).push(" ORDER BY time_created, analyse_id");
    ex.fetch_all(q, row).await
}

/// Every analysis of a folder, shadows included (a personal-data deletion scrubs them all).
pub async fn all_of_folder(ex: &mut impl Exec, folder_id: Uuid) -> Result<Vec<Analysis>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM analyses WHERE folder_id = "));
    q.bind(folder_id).push(" ORDER BY time_created, analyse_id");
    ex.fetch_all(q, row).await
}

/// Records that a worker took the analysis (each claim counts as an attempt).
pub async fn mark_received(ex: &mut impl Exec, id: Uuid, worker: &str, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE analyses SET attempts = attempts + 1, worker = ");
    q.bind(worker).push(", time_task_received = ").bind(now).push(", time_updated = ").bind(now);
    q.push(" WHERE analyse_id = ").bind(id).push(" AND state = 'PROCESSING'");
    ex.execute(q).await
}

/// What finishing an analysis writes.
pub struct Outcome<'a> {
    pub state: &'a str,
    pub resolution: &'a str,
    pub results_data: Option<&'a Value>,
    pub results_media: &'a [ResultMedia],
    pub error: Option<&'a Value>,
    pub plugin: Option<&'a str>,
    pub technical: &'a Value,
    /// The job's claims so far: a worker killed between its claim and `mark_received` still
    /// counts, so the analysis never reports fewer attempts than its job made.
    pub attempts: i64,
    /// The headline score the experiment statistics aggregate.
    pub score: Option<f64>,
}

/// Finishes an analysis that is still PROCESSING; 0 rows means someone else finished it.
pub async fn finish(ex: &mut impl Exec, id: Uuid, o: &Outcome<'_>, now: Micros) -> Result<u64> {
    let media = serde_json::to_string(o.results_media).map_err(|e| corrupt("results_media", e))?;
    let mut q = Sql::new("UPDATE analyses SET state = ");
    q.bind(o.state).push(", resolution_status = ").bind(o.resolution).push(", system_resolution = ").bind(o.resolution);
    q.push(", results_data = ").bind(o.results_data.map(Value::to_string)).push(", results_media = ").bind(media);
    q.push(", error = ").bind(o.error.map(Value::to_string)).push(", plugin = ").bind(o.plugin.map(str::to_string));
    q.push(", technical_meta_data = ").bind(o.technical).push(", time_task_finished = ").bind(now);
    q.push(", score = ").bind(o.score);
    q.push(", attempts = CASE WHEN attempts < ").bind(o.attempts).push(" THEN ").bind(o.attempts);
    q.push(" ELSE attempts END");
    q.push(", time_updated = ").bind(now).push(" WHERE analyse_id = ").bind(id).push(" AND state = 'PROCESSING'");
    ex.execute(q).await
}

/// An operator's verdict.
pub async fn decide(
    ex: &mut impl Exec,
    id: Uuid,
    resolution: &str,
    operator: Uuid,
    comment: Option<&str>,
    now: Micros,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE analyses SET resolution_status = ");
    q.bind(resolution).push(", operator_id = ").bind(operator).push(", operator_comment = ");
    q.bind(comment.map(str::to_string)).push(", time_decided = ").bind(now).push(", time_updated = ").bind(now);
    q.push(" WHERE analyse_id = ").bind(id).push(" AND state = 'FINISHED'");
    ex.execute(q).await
}

pub async fn delete(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM analyses WHERE analyse_id = ");
    q.bind(id);
    ex.execute(q).await
}

/// The statuses the folder aggregate needs: `(group_id, time_created, state, resolution_status)`.
pub async fn statuses(ex: &mut impl Exec, folder_id: Uuid) -> Result<Vec<(Uuid, Micros, String, String)>> {
    let mut q = Sql::new("SELECT group_id, time_created, state, resolution_status FROM analyses WHERE folder_id = ");
    q.bind(folder_id).push(NOT_SHADOW);
    ex.fetch_all(q, |r| {
        Ok((r.uuid("group_id")?, r.int("time_created")?, r.text("state")?, r.text("resolution_status")?))
    })
    .await
}

fn push_in(w: &mut Sql, col: &str, vals: &[String], negate: bool) {
    if !vals.is_empty() {
        w.push(&format!(" AND {col} {}IN ", if negate { "NOT " } else { "" }));
        w.bind_list(vals.iter().cloned());
    }
}

/// Lists analyses visible in `scope` (folder owner or company) that match `f`.
pub async fn list(ex: &mut impl Exec, scope: Scope, f: &AnalysisFilter) -> Result<(Vec<Analysis>, Option<i64>)> {
    let mut w = Sql::new(" WHERE 1=1");
    crate::push_scope(&mut w, scope, (" AND folder_id IN (SELECT folder_id FROM folders WHERE user_id = ", ")"));
    for (col, v, negate) in [
        ("analyse_id", &f.ids, false),
        ("analyse_id", &f.ids_exclude, true),
        ("folder_id", &f.folder_ids, false),
        ("group_id", &f.group_ids, false),
    ] {
        push_in(&mut w, col, &ids(v), negate);
    }
    push_in(&mut w, "ab_test_id", &ids(&f.ab_test_ids), false);
    push_in(&mut w, "ab_variant", &f.ab_variants, false);
    match f.ab_shadow {
        Some(true) => {
            w.push(" AND ab_shadow_of IS NOT NULL");
        }
        Some(false) => {
            w.push(NOT_SHADOW);
        }
        None if f.ab_test_ids.is_empty() => {
            w.push(NOT_SHADOW);
        }
        None => {}
    }
    push_in(&mut w, "type", &f.types, false);
    push_in(&mut w, "type", &f.types_exclude, true);
    push_in(&mut w, "resolution_status", &f.resolution_status, false);
    if !f.states.is_empty() {
        w.push(" AND (state IN ").bind_list(f.states.iter().cloned());
        w.push(" OR resolution_status IN ").bind_list(f.states.iter().cloned()).push(")");
    }
    if !f.states_exclude.is_empty() {
        w.push(" AND state NOT IN ").bind_list(f.states_exclude.iter().cloned());
        w.push(" AND resolution_status NOT IN ").bind_list(f.states_exclude.iter().cloned());
    }
    for (cond, v) in [
        ("time_created >= ", f.created_min),
        ("time_created <= ", f.created_max),
        ("time_updated >= ", f.updated_min),
        ("time_updated <= ", f.updated_max),
    ] {
        if let Some(v) = v {
            w.push(" AND ").push(cond).bind(v);
        }
    }
    let col = match f.sorting.field {
        SortField::TimeCreated => "time_created",
        SortField::TimeUpdated => "time_updated",
    };
    let dir = if f.sorting.descending { "DESC" } else { "ASC" };
    crate::page(ex, "analyses", COLS, w, &format!("{col} {dir}, analyse_id {dir}"), f.paging, row).await
}

/// Fails every analysis of a folder still PROCESSING (a personal-data deletion): a worker that
/// finishes one later finds it finished and drops its result and files.
pub async fn cancel_processing(ex: &mut impl Exec, folder: Uuid, error: &Value, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE analyses SET state = 'FAILED', resolution_status = 'FAILED', system_resolution = ");
    q.push("'FAILED', error = ").bind(error.to_string()).push(", time_task_finished = ").bind(now);
    q.push(", time_updated = ").bind(now).push(" WHERE folder_id = ").bind(folder).push(" AND state = 'PROCESSING'");
    ex.execute(q).await
}

/// Replaces a result with what a personal-data deletion leaves of it and forgets its output
/// images and metadata.
pub async fn scrub(ex: &mut impl Exec, id: Uuid, results_data: Option<&Value>, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE analyses SET results_data = ");
    q.bind(results_data.map(Value::to_string)).push(", results_media = ").bind("[]").push(", meta_data = ");
    q.bind("{}").push(", time_updated = ").bind(now).push(" WHERE analyse_id = ").bind(id);
    ex.execute(q).await
}
