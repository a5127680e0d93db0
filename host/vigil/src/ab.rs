//! `vigil ab`: the operator's view of A/B experiments, read from the database the servers share.

use crate::{Settings, core_err};
use anyhow::Result;
use clap::Subcommand;
use vigil_core::ab::{AbStats, Summary};
use vigil_domain::ab::{AbTestFilter, Action};
use vigil_domain::filter::{MAX_LIMIT, Paging};
use vigil_domain::policy::Caller;

#[derive(Subcommand)]
pub enum AbCmd {
    /// One line per experiment, newest first.
    List {
        #[arg(long)]
        company_id: Option<uuid::Uuid>,
        /// draft, running, paused or stopped (comma-separated).
        #[arg(long)]
        state: Option<String>,
    },
    /// An experiment and its statistics, one row per variant.
    Show { id: uuid::Uuid },
    /// Stop an experiment for good (new analyses run the type's own plugin again).
    Stop { id: uuid::Uuid },
}

pub async fn run(s: &Settings, cmd: AbCmd) -> Result<()> {
    let app = crate::open_app(s, String::new()).await?;
    match cmd {
        AbCmd::List { company_id, state } => {
            let mut pairs = Vec::new();
            if let Some(c) = company_id {
                pairs.push(("company_id".to_string(), c.to_string()));
            }
            if let Some(st) = state {
                pairs.push(("state".to_string(), st));
            }
            let mut f = AbTestFilter::parse(&pairs).map_err(core_err)?;
            f.paging = Paging { offset: 0, limit: MAX_LIMIT, total_omit: true };
            println!("ab_test_id\tcompany_id\tstate\tmode\ttype\tvariants\tname");
            for t in app.list_ab_tests(Caller::System, &f).await.map_err(core_err)?.items {
                let variants: Vec<String> = t.variants.iter().map(|v| format!("{}:{}", v.name, v.weight)).collect();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.ab_test_id,
                    t.company_id,
                    t.state,
                    t.mode,
                    t.analysis_type,
                    variants.join(","),
                    t.name
                );
            }
        }
        AbCmd::Show { id } => print!("{}", table(&app.ab_stats(Caller::System, id).await.map_err(core_err)?)),
        AbCmd::Stop { id } => {
            let t = app.change_ab_test(Caller::System, id, Action::Stop).await.map_err(core_err)?;
            eprintln!("experiment '{}' ({}) is {}", t.name, t.ab_test_id, t.state);
        }
    }
    Ok(())
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

fn quantiles(s: &Summary, digits: usize) -> String {
    format!("{}/{}/{}", num(s.p05, digits), num(s.p50, digits), num(s.p95, digits))
}

/// The statistics as a fixed-width table, then one line per comparison with the control.
pub fn table(st: &AbStats) -> String {
    let t = &st.ab_test;
    let mut out = format!(
        "{} ({})\ncompany {}  type {}  mode {}  state {}  rule {}\n\n",
        t.name,
        t.ab_test_id,
        t.company_id,
        t.analysis_type,
        t.mode,
        t.state,
        t.rule.as_deref().unwrap_or("built-in split")
    );
    let head = [
        "variant",
        "role",
        "analyses",
        "finished",
        "failed",
        "success",
        "declined",
        "op_req",
        "fallback",
        "agree",
        "score mean",
        "score p5/p50/p95",
        "ms p50/p95",
        "disagree",
    ];
    let mut rows: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for v in &st.variants {
        let role = if v.control {
            "control"
        } else if v.shadow {
            "shadow"
        } else {
            "variant"
        };
        rows.push(vec![
            v.variant.clone(),
            role.into(),
            v.analyses.to_string(),
            v.finished.to_string(),
            v.failed.to_string(),
            pct(v.rates.success),
            pct(v.rates.declined),
            pct(v.rates.operator_required),
            v.fallbacks.to_string(),
            pct(v.rates.operator_agreement),
            num(v.score.mean, 3),
            quantiles(&v.score, 3),
            format!("{}/{}", num(v.latency_ms.p50, 0), num(v.latency_ms.p95, 0)),
            pct(v.shadow_disagreement.as_ref().and_then(|d| d.rate)),
        ]);
    }
    let widths: Vec<usize> =
        (0..head.len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for r in &rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push('\n');
    for c in &st.comparisons {
        out.push_str(&c.conclusion);
        out.push('\n');
    }
    out
}
