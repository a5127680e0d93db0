//! The folder list's analysis result filters (`with_results_media_filter`) as SQL.
//!
//! Each group of conditions becomes one `EXISTS` over the folder's analyses. On PostgreSQL an
//! equality is also written as JSON containment (`@>`), which the GIN indexes of migration 0005
//! answer; ranges are checked on the rows that the other conditions leave.

use crate::{Dialect, Sql};
use serde_json::Value;
use vigil_domain::filter::{CmpOp, CmpValue, ResultCond, ResultFilters};

/// Appends ` AND EXISTS (…)` for every active group; `folder` is the outer folder id column.
pub(crate) fn push(w: &mut Sql, d: Dialect, folder: &str, r: &ResultFilters) {
    if !r.is_active() {
        return;
    }
    let any_analyse = !r.analyse_status.is_empty()
        || !r.analyse_types.is_empty()
        || r.analyse_created_min.is_some()
        || r.analyse_created_max.is_some()
        || !r.documents.is_empty();
    if any_analyse {
        w.push(&format!(
            " AND EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = {folder} AND a.ab_shadow_of IS NULL"
        ));
        if !r.analyse_status.is_empty() {
            w.push(" AND (a.state IN ").bind_list(r.analyse_status.iter().cloned());
            w.push(" OR a.resolution_status IN ").bind_list(r.analyse_status.iter().cloned()).push(")");
        }
        if !r.analyse_types.is_empty() {
            w.push(" AND a.type IN ").bind_list(r.analyse_types.iter().cloned());
        }
        if let Some(t) = r.analyse_created_min {
            w.push(" AND a.time_created >= ").bind(t);
        }
        if let Some(t) = r.analyse_created_max {
            w.push(" AND a.time_created <= ").bind(t);
        }
        if !r.documents.is_empty() {
            w.push(" AND a.type = 'DOCUMENTS'");
            doc_conds(w, d, "a.results_data", &r.documents);
        }
        w.push(")");
    }
    if !r.biometry.is_empty() {
        w.push(&format!(" AND EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = {folder} AND a.ab_shadow_of IS NULL AND a.type = 'BIOMETRY'"));
        doc_conds(w, d, "a.results_data", &r.biometry);
        w.push(")");
    }
    if !r.quality_media.is_empty() {
        match d {
            Dialect::Sqlite => {
                w.push(&format!(
                    " AND EXISTS (SELECT 1 FROM analyses a, json_each(a.results_media) e \
                     WHERE a.folder_id = {folder} AND a.ab_shadow_of IS NULL AND a.type = 'QUALITY'"
                ));
                for c in &r.quality_media {
                    w.push(" AND ");
                    sqlite_cond(w, "e.value", &["results_data"], c);
                }
            }
            Dialect::Postgres => {
                w.push(&format!(
                    " AND EXISTS (SELECT 1 FROM analyses a, jsonb_array_elements((a.results_media)::jsonb) AS e(v) \
                     WHERE a.folder_id = {folder} AND a.ab_shadow_of IS NULL AND a.type = 'QUALITY'"
                ));
                // Containment on the whole list narrows by index; the element check is exact.
                for c in r.quality_media.iter().filter(|c| c.op == CmpOp::Eq) {
                    w.push(" AND ");
                    pg_contains(w, "(a.results_media)::jsonb", c, true);
                }
                for c in &r.quality_media {
                    w.push(" AND ");
                    pg_cond(w, "e.v", &["results_data"], c);
                }
            }
        }
        w.push(")");
    }
}

fn doc_conds(w: &mut Sql, d: Dialect, col: &str, conds: &[ResultCond]) {
    for c in conds {
        w.push(" AND ");
        match d {
            Dialect::Sqlite => sqlite_cond(w, col, &[], c),
            Dialect::Postgres => {
                if c.op == CmpOp::Eq {
                    pg_contains(w, &format!("({col})::jsonb"), c, false);
                } else {
                    pg_cond(w, &format!("({col})::jsonb"), &[], c);
                }
            }
        }
    }
}

/// `{"a": {"b": v}}` for path a.b, inside a one-element list for `in_list`.
fn nested(path: &[String], v: Value, in_list: bool) -> String {
    let mut doc = v;
    for key in path.iter().rev() {
        let mut m = serde_json::Map::new();
        m.insert(key.clone(), doc);
        doc = Value::Object(m);
    }
    if in_list {
        let mut m = serde_json::Map::new();
        m.insert("results_data".into(), doc);
        doc = Value::Array(vec![Value::Object(m)]);
    }
    doc.to_string()
}

/// Equality as containment; a number also matches the same digits stored as a string.
fn pg_contains(w: &mut Sql, doc: &str, c: &ResultCond, in_list: bool) {
    let mut alts = vec![match &c.value {
        CmpValue::Number(n) => serde_json::Number::from_f64(*n).map(Value::Number).unwrap_or(Value::Null),
        CmpValue::Bool(b) => Value::Bool(*b),
        CmpValue::Text(t) => Value::String(t.clone()),
    }];
    if matches!(c.value, CmpValue::Number(_)) {
        alts.push(Value::String(c.raw.clone()));
    }
    w.push("(");
    for (i, v) in alts.into_iter().enumerate() {
        if i > 0 {
            w.push(" OR ");
        }
        w.push(&format!("{doc} @> ")).bind(nested(&c.path, v, in_list)).push("::jsonb");
    }
    w.push(")");
}

/// A typed comparison of the JSON value at `prefix` + `c.path` inside `doc` (jsonb); a missing
/// key or another type never matches, except for `!=`, which also keeps them.
fn pg_cond(w: &mut Sql, doc: &str, prefix: &[&str], c: &ResultCond) {
    let mut x = format!("({doc}");
    for p in prefix {
        x.push_str(&format!(" -> '{p}'"));
    }
    // Keys are bound; the expression text is built with their placeholders.
    let expr = |w: &mut Sql| {
        w.push(&x);
        for k in &c.path {
            w.push(" -> ").bind(k.clone());
        }
        w.push(")");
    };
    let (op, negate) = if c.op == CmpOp::Ne { (CmpOp::Eq, true) } else { (c.op, false) };
    if negate {
        w.push("NOT ");
    }
    w.push("COALESCE((");
    match &c.value {
        CmpValue::Number(n) => {
            w.push("(CASE WHEN jsonb_typeof(");
            expr(w);
            w.push(") = 'number' THEN (");
            expr(w);
            w.push(")::float8 END) ").push(op.sql()).push(" ").bind(*n);
            if op == CmpOp::Eq {
                w.push(" OR (CASE WHEN jsonb_typeof(");
                expr(w);
                w.push(") = 'string' THEN ");
                expr(w);
                w.push(" #>> '{}' END) = ").bind(c.raw.clone());
            }
        }
        CmpValue::Bool(b) => {
            w.push("(CASE WHEN jsonb_typeof(");
            expr(w);
            w.push(") = 'boolean' THEN (");
            expr(w);
            w.push(")::boolean END) = ").bind(*b);
        }
        CmpValue::Text(t) => {
            w.push("(CASE WHEN jsonb_typeof(");
            expr(w);
            w.push(") = 'string' THEN ");
            expr(w);
            w.push(" #>> '{}' END) ").push(op.sql()).push(" ").bind(t.clone());
        }
    }
    w.push("), FALSE)");
}

/// The SQLite form of [`pg_cond`], with `json_type`/`json_extract` on a bound JSON path.
fn sqlite_cond(w: &mut Sql, doc: &str, prefix: &[&str], c: &ResultCond) {
    let mut path = String::from("$");
    for k in prefix.iter().map(|s| s.to_string()).chain(c.path.iter().cloned()) {
        path.push_str(&format!(".\"{k}\""));
    }
    let ty = |w: &mut Sql| {
        w.push(&format!("json_type({doc}, ")).bind(path.clone()).push(")");
    };
    let val = |w: &mut Sql| {
        w.push(&format!("json_extract({doc}, ")).bind(path.clone()).push(")");
    };
    let (op, negate) = if c.op == CmpOp::Ne { (CmpOp::Eq, true) } else { (c.op, false) };
    if negate {
        w.push("NOT ");
    }
    w.push("COALESCE((");
    match &c.value {
        CmpValue::Number(n) => {
            w.push("(");
            ty(w);
            w.push(" IN ('integer', 'real') AND ");
            val(w);
            w.push(" ").push(op.sql()).push(" ").bind(*n).push(")");
            if op == CmpOp::Eq {
                w.push(" OR (");
                ty(w);
                w.push(" = 'text' AND ");
                val(w);
                w.push(" = ").bind(c.raw.clone()).push(")");
            }
        }
        CmpValue::Bool(b) => {
            ty(w);
            w.push(if *b { " = 'true'" } else { " = 'false'" });
        }
        CmpValue::Text(t) => {
            ty(w);
            w.push(" = 'text' AND ");
            val(w);
            w.push(" ").push(op.sql()).push(" ").bind(t.clone());
        }
    }
    w.push("), 0)");
}
