//! A/B experiments and the statistics of the analyses they routed, summed in the database so
//! that every replica and a restarted server answer the same.

use crate::{Exec, Result, Row, Sql, StoreError};
use uuid::Uuid;
use vigil_domain::ab::{AbTest, AbTestFilter, Counts, Variant};
use vigil_domain::policy::Scope;
use vigil_domain::time::{Micros, micros_to_secs};

const COLS: &str = "ab_test_id, company_id, name, analysis_type, mode, state, rule, variants, created_by, \
     time_created, time_updated, time_started, time_stopped";

fn row(r: &dyn Row) -> Result<AbTest> {
    let variants: Vec<Variant> = serde_json::from_value(r.json("variants")?)
        .map_err(|e| StoreError::Corrupt { column: "variants".into(), reason: e.to_string() })?;
    let secs = |c: &str| -> Result<Option<f64>> { Ok(r.opt_int(c)?.map(micros_to_secs)) };
    Ok(AbTest {
        ab_test_id: r.uuid("ab_test_id")?,
        company_id: r.uuid("company_id")?,
        name: r.text("name")?,
        analysis_type: r.text("analysis_type")?,
        mode: r.text("mode")?,
        state: r.text("state")?,
        rule: r.opt_text("rule")?,
        variants,
        created_by: r.opt_uuid("created_by")?,
        time_created: r.secs("time_created")?,
        time_updated: r.secs("time_updated")?,
        time_started: secs("time_started")?,
        time_stopped: secs("time_stopped")?,
    })
}

fn variants_json(t: &AbTest) -> Result<String> {
    serde_json::to_string(&t.variants)
        .map_err(|e| StoreError::Corrupt { column: "variants".into(), reason: e.to_string() })
}

/// Inserts an experiment; a second running one for the same company and type is a `Conflict`.
pub async fn insert(ex: &mut impl Exec, t: &AbTest, now: Micros) -> Result<()> {
    let started = (t.state == "running").then_some(now);
    let mut q = Sql::new(&format!("INSERT INTO ab_tests ({COLS}) VALUES ("));
    q.bind(t.ab_test_id).push(", ").bind(t.company_id).push(", ").bind(t.name.as_str()).push(", ");
    q.bind(t.analysis_type.as_str()).push(", ").bind(t.mode.as_str()).push(", ").bind(t.state.as_str()).push(", ");
    q.bind(t.rule.clone()).push(", ").bind(variants_json(t)?).push(", ").bind(t.created_by).push(", ");
    q.bind(now).push(", ").bind(now).push(", ").bind(started).push(", ").bind(None::<i64>).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get(ex: &mut impl Exec, id: Uuid) -> Result<Option<AbTest>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM ab_tests WHERE ab_test_id = "));
    q.bind(id);
    ex.fetch_optional(q, row).await
}

/// The experiment running for a company and analysis type, if any.
pub async fn running(ex: &mut impl Exec, company: Uuid, analysis_type: &str) -> Result<Option<AbTest>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM ab_tests WHERE state = 'running' AND company_id = "));
    q.bind(company).push(" AND analysis_type = ").bind(analysis_type);
    ex.fetch_optional(q, row).await
}

pub async fn list(ex: &mut impl Exec, scope: Scope, f: &AbTestFilter) -> Result<(Vec<AbTest>, Option<i64>)> {
    let mut w = Sql::new(" WHERE 1=1");
    crate::push_scope(&mut w, scope, (" AND created_by = ", ""));
    if !f.states.is_empty() {
        w.push(" AND state IN ").bind_list(f.states.iter().map(String::as_str));
    }
    if !f.analysis_types.is_empty() {
        w.push(" AND analysis_type IN ").bind_list(f.analysis_types.iter().map(String::as_str));
    }
    if !f.company_ids.is_empty() {
        w.push(" AND company_id IN ").bind_list(f.company_ids.iter().copied());
    }
    crate::page(ex, "ab_tests", COLS, w, "time_created DESC, ab_test_id", f.paging, row).await
}

/// Moves an experiment from `from` to `to` (0 rows: someone moved it first); a second running
/// experiment for the company and type is a `Conflict`.
pub async fn set_state(ex: &mut impl Exec, id: Uuid, from: &str, to: &str, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE ab_tests SET state = ");
    q.bind(to).push(", time_updated = ").bind(now);
    if to == "running" {
        q.push(", time_started = COALESCE(time_started, ").bind(now).push(")");
    }
    if to == "stopped" {
        q.push(", time_stopped = ").bind(now);
    }
    q.push(" WHERE ab_test_id = ").bind(id).push(" AND state = ").bind(from);
    ex.execute(q).await
}

/// Experiments not stopped yet with a variant pinned to this plugin version.
pub async fn pinning(ex: &mut impl Exec, plugin_id: Uuid) -> Result<Vec<AbTest>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM ab_tests WHERE state <> 'stopped' AND variants LIKE "));
    // The variants are serialised without spaces: `"plugin_id":"<uuid>"`.
    q.bind(format!("%\"plugin_id\":\"{plugin_id}\"%"));
    ex.fetch_all(q, row).await
}

pub async fn delete(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM ab_tests WHERE ab_test_id = ");
    q.bind(id);
    ex.execute(q).await
}

/// Per (variant, shadow) counts of an experiment's analyses. The operator's verdict of a shadow
/// analysis is the one given to the analysis it shadowed.
pub async fn counts(ex: &mut impl Exec, id: Uuid) -> Result<Vec<(String, bool, Counts)>> {
    const SHADOW: &str = "CASE WHEN a.ab_shadow_of IS NULL THEN 0 ELSE 1 END";
    const DECIDED: &str = "p.operator_id IS NOT NULL AND a.state = 'FINISHED'";
    const DEFINITE: &str = "a.system_resolution IN ('SUCCESS', 'DECLINED')";
    let sum = |cond: &str, name: &str| format!("COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS {name}");
    let cols = [
        sum("a.state = 'PROCESSING'", "processing"),
        sum("a.state = 'FINISHED'", "finished"),
        sum("a.state = 'FAILED'", "failed"),
        sum("a.state = 'FINISHED' AND a.system_resolution = 'SUCCESS'", "success"),
        sum("a.state = 'FINISHED' AND a.system_resolution = 'DECLINED'", "declined"),
        sum("a.state = 'FINISHED' AND a.system_resolution = 'OPERATOR_REQUIRED'", "operator_required"),
        sum(DECIDED, "decided"),
        sum(&format!("{DECIDED} AND {DEFINITE}"), "decided_definite"),
        sum(&format!("{DECIDED} AND {DEFINITE} AND a.system_resolution = p.resolution_status"), "agreed"),
        sum("a.ab_fallback IS NOT NULL", "fallbacks"),
    ]
    .join(", ");
    let mut q = Sql::new(&format!(
        "SELECT a.ab_variant AS variant, CAST({SHADOW} AS BIGINT) AS shadow, COUNT(*) AS analyses, {cols} \
         FROM analyses a LEFT JOIN analyses p ON p.analyse_id = COALESCE(a.ab_shadow_of, a.analyse_id) \
         WHERE a.ab_test_id = "
    ));
    q.bind(id).push(&format!(" GROUP BY a.ab_variant, {SHADOW}"));
    ex.fetch_all(q, |r| {
        let c = Counts {
            analyses: r.int("analyses")?,
            processing: r.int("processing")?,
            finished: r.int("finished")?,
            failed: r.int("failed")?,
            success: r.int("success")?,
            declined: r.int("declined")?,
            operator_required: r.int("operator_required")?,
            decided: r.int("decided")?,
            decided_definite: r.int("decided_definite")?,
            agreed: r.int("agreed")?,
            fallbacks: r.int("fallbacks")?,
        };
        Ok((r.text("variant")?, r.int("shadow")? == 1, c))
    })
    .await
}

/// A per-analysis number the statistics sort: the headline score or the processing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Score,
    /// From a worker taking the analysis to its result, in microseconds.
    Latency,
}

impl Measure {
    fn expr(self) -> &'static str {
        match self {
            Measure::Score => "score",
            Measure::Latency => "(time_task_finished - time_task_received)",
        }
    }
    fn present(self) -> &'static str {
        match self {
            Measure::Score => "score IS NOT NULL",
            Measure::Latency => "time_task_finished IS NOT NULL AND time_task_received IS NOT NULL",
        }
    }
}

fn measured(q: &mut Sql, id: Uuid, variant: &str, shadow: bool, m: Measure) {
    q.bind(id).push(" AND ab_variant = ").bind(variant);
    q.push(if shadow { " AND ab_shadow_of IS NOT NULL" } else { " AND ab_shadow_of IS NULL" });
    q.push(" AND state = 'FINISHED' AND ").push(m.present());
}

/// How many finished analyses of the variant have the measure, and its mean.
pub async fn measure_summary(
    ex: &mut impl Exec,
    id: Uuid,
    variant: &str,
    shadow: bool,
    m: Measure,
) -> Result<(i64, Option<f64>)> {
    let mut q = Sql::new(&format!(
        "SELECT COUNT(*) AS n, AVG(CAST({} AS DOUBLE PRECISION)) AS mean FROM analyses WHERE ab_test_id = ",
        m.expr()
    ));
    measured(&mut q, id, variant, shadow, m);
    let found = ex.fetch_optional(q, |r| Ok((r.int("n")?, r.opt_float("mean")?))).await?;
    Ok(found.unwrap_or((0, None)))
}

/// The values at 0-based `ranks` of the variant's sorted measure (ranks below its count).
pub async fn measure_at(
    ex: &mut impl Exec,
    id: Uuid,
    variant: &str,
    shadow: bool,
    m: Measure,
    ranks: &[i64],
) -> Result<Vec<Option<f64>>> {
    let mut out = Vec::with_capacity(ranks.len());
    for &rank in ranks {
        let mut q =
            Sql::new(&format!("SELECT CAST({} AS DOUBLE PRECISION) AS v FROM analyses WHERE ab_test_id = ", m.expr()));
        measured(&mut q, id, variant, shadow, m);
        q.push(&format!(" ORDER BY {} LIMIT 1 OFFSET ", m.expr())).bind(rank);
        out.push(ex.fetch_optional(q, |r| r.opt_float("v")).await?.flatten());
    }
    Ok(out)
}

/// Finished shadow analyses against the finished analysis each shadowed: `(variant, control's
/// verdict, shadow's verdict, count)`.
pub async fn shadow_pairs(ex: &mut impl Exec, id: Uuid) -> Result<Vec<(String, String, String, i64)>> {
    let mut q = Sql::new(
        "SELECT s.ab_variant AS variant, p.system_resolution AS control, s.system_resolution AS shadow, \
         COUNT(*) AS n FROM analyses s JOIN analyses p ON p.analyse_id = s.ab_shadow_of \
         WHERE s.state = 'FINISHED' AND p.state = 'FINISHED' AND s.ab_test_id = ",
    );
    q.bind(id).push(" GROUP BY s.ab_variant, p.system_resolution, s.system_resolution");
    ex.fetch_all(q, |r| Ok((r.text("variant")?, r.text("control")?, r.text("shadow")?, r.int("n")?))).await
}
