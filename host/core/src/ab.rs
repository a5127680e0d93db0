//! A/B experiments as a use-case: create, read, pause/resume/stop, delete; routing an analysis
//! request through the experiment's `ab-rule` component; the plugin a variant runs; and the
//! statistics that compare variants, summed in the database.
//!
//! Rights: ADMIN manages every company's experiments and CLIENT ADMIN its own; OPERATOR reads
//! every company's and CLIENT OPERATOR its own; other roles get 403. Another company's
//! experiment is "not found".

use crate::{App, Infra, now_micros};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::ab::{
    self as rules, AbTest, AbTestFilter, Action, Assignment, Comparison, Counts, Mode, NewAbTest, QUANTILES, Rates,
    State,
};
use vigil_domain::audit::Change;
use vigil_domain::model::{Analysis, Page};
use vigil_domain::policy::{Caller, Role, Scope};
use vigil_domain::time::micros_to_secs;
use vigil_domain::{Code, Error, Result};
use vigil_plugin_host::{Kind, Plugin, PluginMeta};
use vigil_store::ab_tests::{self, Measure};

/// The built-in weighted split (`plugins/ab-split`), used when an experiment names no rule.
pub const SPLIT_RULE: &str = "ab-split";

/// Pinned variant versions that are not the active one, loaded once per process.
pub(crate) type VariantCache = crate::plugins::PluginCache<Uuid>;

/// Where the rule routed an analysis.
pub(crate) struct Routed {
    pub test: AbTest,
    pub chosen: String,
    pub fallback: Option<String>,
}

impl Routed {
    /// The assignment of the analysis whose verdict counts, and the variant that shadows it.
    pub(crate) fn plan(&self) -> (Assignment, Option<String>) {
        let control = self.test.control().name.clone();
        let (counted, shadow) = match self.test.mode() {
            Mode::Split => (self.chosen.clone(), None),
            Mode::Shadow => (control.clone(), (self.chosen != control).then(|| self.chosen.clone())),
        };
        let a = Assignment {
            ab_test_id: self.test.ab_test_id,
            variant: counted,
            shadow_of: None,
            fallback: self.fallback.clone(),
        };
        (a, shadow)
    }
}

/// Mean and quantiles of a number over a variant's finished analyses.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Summary {
    pub n: i64,
    pub mean: Option<f64>,
    pub p05: Option<f64>,
    pub p25: Option<f64>,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
    pub p95: Option<f64>,
}

/// A shadow variant's verdicts against the control's on the same media.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Disagreement {
    /// Finished shadow analyses whose control analysis finished too.
    pub pairs: i64,
    pub disagreements: i64,
    pub rate: Option<f64>,
    /// How often each (control verdict, variant verdict) pair occurred.
    pub matrix: Vec<VerdictPair>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerdictPair {
    pub control: String,
    pub variant: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantStats {
    pub variant: String,
    pub control: bool,
    /// Shadow analyses: run beside the control, never counted for the folder.
    pub shadow: bool,
    pub analyses: i64,
    pub processing: i64,
    pub finished: i64,
    pub failed: i64,
    pub success: i64,
    pub declined: i64,
    pub operator_required: i64,
    /// Rates over finished analyses (failed: over finished and failed).
    pub rates: Rates,
    /// Analyses (of the shadowed analysis, for a shadow) an operator decided.
    pub operator_decided: i64,
    /// Routed to the control because the rule failed, ran out of fuel or chose no variant.
    pub fallbacks: i64,
    /// `confidence_spoofing` (QUALITY), `min_confidence` (BIOMETRY) or a pipeline's `score`.
    pub score: Summary,
    /// From a worker taking the analysis to its result, in milliseconds.
    pub latency_ms: Summary,
    pub shadow_disagreement: Option<Disagreement>,
}

/// A variant against the control.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantComparison {
    pub variant: String,
    /// Difference in decline rate (variant minus control) over finished analyses, with a 95 %
    /// Wald interval and a two-proportion z-test.
    pub decline_rate: Option<Comparison>,
    /// Shadow mode: the same on paired analyses of the same media (McNemar's test).
    pub paired_decline_rate: Option<Comparison>,
    /// What the numbers say, in words.
    pub conclusion: String,
}

/// `GET /api/ab_tests/{id}/stats`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AbStats {
    pub ab_test: AbTest,
    pub variants: Vec<VariantStats>,
    pub comparisons: Vec<VariantComparison>,
    pub time_computed: f64,
}

fn conclusion(variant: &str, control: &str, c: Option<&Comparison>) -> String {
    let Some(c) = c else {
        return format!("not enough finished analyses to compare {variant} with {control} yet");
    };
    let pp = |x: f64| format!("{:.1}", x * 100.0);
    let range = format!("95 % CI {} to {} points, p = {:.4}", pp(c.ci_low), pp(c.ci_high), c.p_value);
    if c.ci_low > 0.0 {
        format!("{variant} declines more than {control}: {} points ({range})", pp(c.difference))
    } else if c.ci_high < 0.0 {
        format!("{variant} declines less than {control}: {} points ({range})", pp(-c.difference))
    } else {
        format!("no significant difference in decline rate between {variant} and {control} ({range})")
    }
}

fn read_scope(caller: Caller<'_>) -> Result<Scope> {
    match caller {
        Caller::System => Ok(Scope::All),
        Caller::User(p) => match p.role {
            Role::Admin | Role::Operator => Ok(Scope::All),
            Role::ClientAdmin | Role::ClientOperator => Ok(Scope::Company(p.company_id)),
            Role::Client | Role::ClientService => Err(Error::forbidden()),
        },
    }
}

fn may_manage(caller: Caller<'_>, company: Uuid) -> bool {
    match caller {
        Caller::System => true,
        Caller::User(p) => p.role == Role::Admin || (p.role == Role::ClientAdmin && p.company_id == company),
    }
}

/// What the audit log keeps of an experiment: its settings by key, not their values (a
/// variant's settings overlay a plugin configuration, which may hold a customer's secrets).
fn audited(t: &AbTest) -> Value {
    let variants: Vec<Value> = t
        .variants
        .iter()
        .map(|v| {
            json!({"name": v.name, "plugin": v.plugin, "version": v.version, "weight": v.weight,
                   "config": {"keys": v.config.keys().collect::<Vec<_>>()}})
        })
        .collect();
    json!({"name": t.name, "analysis_type": t.analysis_type, "mode": t.mode, "state": t.state,
           "rule": t.rule, "variants": variants})
}

fn running_conflict(t: &AbTest, other: &AbTest) -> Error {
    Error::new(
        Code::Conflict,
        format!(
            "experiment '{}' ({}) is already running for {} analyses of this company: pause or stop it first",
            other.name, other.ab_test_id, t.analysis_type
        ),
    )
    .with_details(json!({ "ab_test_id": other.ab_test_id }))
}

/// `plugin` with `overlay` laid over its configuration.
fn with_config(plugin: &Plugin, overlay: &std::collections::BTreeMap<String, String>) -> Plugin {
    let mut meta: PluginMeta = (*plugin.meta).clone();
    meta.config.extend(overlay.iter().map(|(k, v)| (k.clone(), v.clone())));
    plugin.with_meta(meta)
}

impl App {
    async fn ab_test_for_read(&self, caller: Caller<'_>, id: Uuid) -> Result<AbTest> {
        let scope = read_scope(caller)?;
        let t = ab_tests::get(&mut self.store(), id).await.infra()?.ok_or_else(|| Error::not_found("A/B test"))?;
        match scope {
            Scope::Company(c) if c != t.company_id => Err(Error::not_found("A/B test")),
            _ => Ok(t),
        }
    }

    async fn ab_test_for_write(&self, caller: Caller<'_>, id: Uuid) -> Result<AbTest> {
        let t = self.ab_test_for_read(caller, id).await?;
        if may_manage(caller, t.company_id) { Ok(t) } else { Err(Error::forbidden()) }
    }

    /// `POST /api/ab_tests/`: checks the request, resolves every variant's plugin (a pinned
    /// version must exist, an unpinned one must be active) and the rule, and stores the
    /// experiment, running unless it was asked for as a draft.
    pub async fn create_ab_test(&self, caller: Caller<'_>, req: NewAbTest) -> Result<AbTest> {
        let company = match caller {
            Caller::User(p) if p.role == Role::Admin => req
                .company_id
                .ok_or_else(|| Error::value("company_id is required when an ADMIN creates an experiment"))?,
            Caller::User(p) => {
                if p.role != Role::ClientAdmin {
                    return Err(Error::forbidden());
                }
                if req.company_id.is_some_and(|c| c != p.company_id) {
                    return Err(Error::forbidden());
                }
                p.company_id
            }
            Caller::System => req.company_id.ok_or_else(|| Error::value("company_id is required"))?,
        };
        if vigil_store::companies::get(&mut self.store(), company).await.infra()?.is_none() {
            return Err(Error::value(format!("company {company} does not exist")));
        }
        let checked = req.check()?;
        let rows = vigil_store::plugins::list(&mut self.store(), Some(company)).await.infra()?;
        let registry = &self.inner.plugins.registry;
        let mut variants = checked.variants;
        for v in &mut variants {
            let named: Vec<_> = rows.iter().filter(|r| r.info.name == v.plugin && r.info.kind == "analysis").collect();
            if named.is_empty() {
                return Err(Error::value(format!(
                    "variant '{}': no analysis plugin named '{}' is installed for this company",
                    v.name, v.plugin
                )));
            }
            match &v.version {
                Some(ver) => {
                    // The company's own version of that number first, as resolution prefers it.
                    let row = named
                        .iter()
                        .filter(|r| &r.info.version == ver)
                        .max_by_key(|r| r.info.company_id.is_some())
                        .ok_or_else(|| {
                            Error::value(format!("variant '{}': plugin '{}' has no version '{ver}'", v.name, v.plugin))
                        })?;
                    v.plugin_id = Some(row.info.plugin_id);
                }
                None => {
                    if registry.resolve(company, &v.plugin).is_none_or(|p| p.meta.kind != Kind::Analysis) {
                        return Err(Error::value(format!(
                            "variant '{}': plugin '{}' has no active version; name a version",
                            v.name, v.plugin
                        )));
                    }
                }
            }
        }
        let rule = checked.rule.as_deref().unwrap_or(SPLIT_RULE);
        if registry.resolve(company, rule).is_none_or(|p| p.meta.kind != Kind::AbRule) {
            return Err(match &checked.rule {
                Some(r) => Error::value(format!("rule '{r}' is not an active ab-rule plugin of this company")),
                None => Error::new(
                    Code::NotRealized,
                    format!("the built-in split rule '{SPLIT_RULE}' is not installed on this server"),
                ),
            });
        }
        let now = now_micros();
        let t = AbTest {
            ab_test_id: Uuid::new_v4(),
            company_id: company,
            name: checked.name,
            analysis_type: checked.analysis_type,
            mode: checked.mode.as_str().to_string(),
            state: checked.state.as_str().to_string(),
            rule: checked.rule,
            variants,
            created_by: match caller {
                Caller::User(p) => Some(p.user_id),
                Caller::System => None,
            },
            time_created: micros_to_secs(now),
            time_updated: micros_to_secs(now),
            time_started: (checked.state == State::Running).then(|| micros_to_secs(now)),
            time_stopped: None,
        };
        let mut tx = self.store().begin_write().await.infra()?;
        if checked.state == State::Running
            && let Some(other) = ab_tests::running(&mut tx, company, &t.analysis_type).await.infra()?
        {
            return Err(running_conflict(&t, &other));
        }
        ab_tests::insert(&mut tx, &t, now).await.infra()?;
        let change = Change::new("create", "ab_test", t.ab_test_id, Some(company)).diff(None, Some(&audited(&t)));
        crate::audit::record(&mut tx, caller, change).await?;
        tx.commit().await.infra()?;
        Ok(t)
    }

    pub async fn get_ab_test(&self, caller: Caller<'_>, id: Uuid) -> Result<AbTest> {
        self.ab_test_for_read(caller, id).await
    }

    pub async fn list_ab_tests(&self, caller: Caller<'_>, f: &AbTestFilter) -> Result<Page<AbTest>> {
        let scope = read_scope(caller)?;
        let (items, total) = ab_tests::list(&mut self.store(), scope, f).await.infra()?;
        Ok(Page { total, items })
    }

    /// Pause, resume (also starts a draft) or stop; stopped is final.
    pub async fn change_ab_test(&self, caller: Caller<'_>, id: Uuid, action: Action) -> Result<AbTest> {
        let t = self.ab_test_for_write(caller, id).await?;
        let to = rules::transition(t.state(), action)?;
        let now = now_micros();
        let mut tx = self.store().begin_write().await.infra()?;
        if to == State::Running
            && let Some(other) = ab_tests::running(&mut tx, t.company_id, &t.analysis_type).await.infra()?
        {
            return Err(running_conflict(&t, &other));
        }
        if ab_tests::set_state(&mut tx, id, &t.state, to.as_str(), now).await.infra()? == 0 {
            return Err(Error::new(Code::Conflict, "the experiment changed meanwhile; read it again"));
        }
        let change = Change::new(action.as_str(), "ab_test", id, Some(t.company_id)).field(
            "state",
            json!(t.state),
            json!(to.as_str()),
        );
        crate::audit::record(&mut tx, caller, change).await?;
        tx.commit().await.infra()?;
        tracing::info!(ab_test_id = %id, from = %t.state, to = to.as_str(), "experiment state changed");
        self.ab_test_for_read(caller, id).await
    }

    /// Deletes a draft or stopped experiment; the analyses it routed keep their variant in
    /// `technical_meta_data`.
    pub async fn delete_ab_test(&self, caller: Caller<'_>, id: Uuid) -> Result<()> {
        let t = self.ab_test_for_write(caller, id).await?;
        if !matches!(t.state(), State::Draft | State::Stopped) {
            return Err(Error::value(format!("a {} experiment cannot be deleted: stop it first", t.state)));
        }
        let mut tx = self.store().begin().await.infra()?;
        ab_tests::delete(&mut tx, id).await.infra()?;
        let change = Change::new("delete", "ab_test", id, Some(t.company_id)).diff(Some(&audited(&t)), None);
        crate::audit::record(&mut tx, caller, change).await?;
        tx.commit().await.infra()
    }

    /// Asks the running experiment of the company and type, if any, which variant the folder
    /// gets. A rule that is missing, fails, traps, runs out of fuel or names no variant routes to
    /// the control, and that is recorded.
    pub(crate) async fn route(
        &self,
        company: Uuid,
        analysis_type: &str,
        folder_id: Uuid,
        folder_meta: &Value,
    ) -> Result<Option<Routed>> {
        let Some(test) = ab_tests::running(&mut self.store(), company, analysis_type).await.infra()? else {
            return Ok(None);
        };
        let rule_name = test.rule.as_deref().unwrap_or(SPLIT_RULE);
        let rule = self.inner.plugins.registry.resolve(company, rule_name).filter(|p| p.meta.kind == Kind::AbRule);
        let names: Vec<String> = test.variants.iter().map(|v| v.name.clone()).collect();
        let outcome = match rule {
            None => Err(format!("rule '{rule_name}' is not installed")),
            Some(rule) => {
                let overlay =
                    [("weights".to_string(), test.weights()), ("ab_test_id".to_string(), test.ab_test_id.to_string())];
                let rule = with_config(&rule, &overlay.into_iter().collect());
                let seed = rules::bucket_seed(test.ab_test_id, folder_id);
                let attrs = rules::attributes(folder_meta);
                self.inner
                    .plugins
                    .host
                    .choose(&rule, company, analysis_type, attrs, seed, names)
                    .await
                    .map_err(|e| format!("rule '{rule_name}': {e}"))
            }
        };
        let (chosen, fallback) = match outcome {
            Ok(v) => (v, None),
            Err(reason) => {
                tracing::warn!(ab_test_id = %test.ab_test_id, %folder_id, %reason, "A/B rule failed; the control runs");
                (test.control().name.clone(), Some(reason))
            }
        };
        let outcome = if fallback.is_some() { "fallback" } else { "chosen" };
        metrics::counter!("vigil_ab_routed_total", "outcome" => outcome).increment(1);
        Ok(Some(Routed { test, chosen, fallback }))
    }

    /// The plugin an analysis runs: its variant's (a pinned version, or the active one, with the
    /// variant's settings laid over), else the active plugin of its type. None: nothing serves it.
    pub(crate) async fn analysis_plugin(&self, a: &Analysis, plugin_name: &str) -> Result<Option<Arc<Plugin>>> {
        let registry = &self.inner.plugins.registry;
        let Some(ab) = &a.ab else { return Ok(registry.resolve(a.company_id, plugin_name)) };
        let test = ab_tests::get(&mut self.store(), ab.ab_test_id).await.infra()?;
        let Some(v) = test.as_ref().and_then(|t| t.variant(&ab.variant)) else {
            // The experiment was deleted while the analysis waited: the type's own plugin runs.
            return Ok(registry.resolve(a.company_id, plugin_name));
        };
        let base = match v.plugin_id {
            Some(id) => match registry.by_id(id) {
                Some(p) => Some(p),
                None => self.pinned_variant(id).await?,
            },
            None => registry.resolve(a.company_id, &v.plugin),
        };
        Ok(base.map(|p| if v.config.is_empty() { p } else { Arc::new(with_config(&p, &v.config)) }))
    }

    /// A pinned version that is not active: loaded from the artifact cache once per process.
    async fn pinned_variant(&self, id: Uuid) -> Result<Option<Arc<Plugin>>> {
        if let Some(p) = self.inner.ab_variants.get(&id) {
            return Ok(Some(p));
        }
        let Some(row) = vigil_store::plugins::get(&mut self.store(), id).await.infra()? else { return Ok(None) };
        let p = self.prepare_plugin(&row).await?;
        self.inner.ab_variants.put(id, p.clone());
        Ok(Some(p))
    }

    /// `GET /api/ab_tests/{id}/stats`: every number is summed from the analyses in the database.
    pub async fn ab_stats(&self, caller: Caller<'_>, id: Uuid) -> Result<AbStats> {
        let test = self.ab_test_for_read(caller, id).await?;
        let mut store = self.store();
        let counts = ab_tests::counts(&mut store, id).await.infra()?;
        let pairs = ab_tests::shadow_pairs(&mut store, id).await.infra()?;
        let control_name = test.control().name.clone();
        // Every variant appears, with zeros before its first analysis; a shadow variant also
        // under its own line.
        let mut lines: Vec<(String, bool, Counts)> = Vec::new();
        for v in &test.variants {
            let shadow = test.mode() == Mode::Shadow && v.name != control_name;
            let c = counts.iter().find(|(n, s, _)| n == &v.name && *s == shadow).map(|x| x.2).unwrap_or_default();
            lines.push((v.name.clone(), shadow, c));
        }
        let mut variants = Vec::new();
        for (name, shadow, c) in &lines {
            let score = self.summary(id, name, *shadow, Measure::Score, 1.0).await?;
            let latency = self.summary(id, name, *shadow, Measure::Latency, 1e-3).await?;
            let shadow_disagreement = shadow.then(|| {
                let mine: Vec<_> = pairs.iter().filter(|p| &p.0 == name).collect();
                let total: i64 = mine.iter().map(|p| p.3).sum();
                let differ: i64 = mine.iter().filter(|p| p.1 != p.2).map(|p| p.3).sum();
                Disagreement {
                    pairs: total,
                    disagreements: differ,
                    rate: (total > 0).then(|| differ as f64 / total as f64),
                    matrix: mine
                        .iter()
                        .map(|p| VerdictPair { control: p.1.clone(), variant: p.2.clone(), count: p.3 })
                        .collect(),
                }
            });
            variants.push(VariantStats {
                variant: name.clone(),
                control: name == &control_name,
                shadow: *shadow,
                analyses: c.analyses,
                processing: c.processing,
                finished: c.finished,
                failed: c.failed,
                success: c.success,
                declined: c.declined,
                operator_required: c.operator_required,
                rates: c.rates(),
                operator_decided: c.decided,
                fallbacks: c.fallbacks,
                score,
                latency_ms: latency,
                shadow_disagreement,
            });
        }
        let control = lines.first().map(|l| l.2).unwrap_or_default();
        let comparisons = lines
            .iter()
            .skip(1)
            .map(|(name, shadow, c)| {
                let decline_rate = rules::two_proportion(c.declined, c.finished, control.declined, control.finished);
                let paired_decline_rate = shadow
                    .then(|| {
                        let mine = pairs.iter().filter(|p| &p.0 == name);
                        let (mut only_variant, mut only_control, mut n) = (0, 0, 0);
                        for (_, ctl, var, k) in mine {
                            n += k;
                            match (ctl == "DECLINED", var == "DECLINED") {
                                (false, true) => only_variant += k,
                                (true, false) => only_control += k,
                                _ => {}
                            }
                        }
                        rules::paired(only_variant, only_control, n)
                    })
                    .flatten();
                let shown = paired_decline_rate.as_ref().or(decline_rate.as_ref());
                VariantComparison {
                    variant: name.clone(),
                    conclusion: conclusion(name, &control_name, shown),
                    decline_rate,
                    paired_decline_rate,
                }
            })
            .collect();
        Ok(AbStats { ab_test: test, variants, comparisons, time_computed: micros_to_secs(now_micros()) })
    }

    async fn summary(&self, id: Uuid, variant: &str, shadow: bool, m: Measure, scale: f64) -> Result<Summary> {
        let mut store = self.store();
        let (n, mean) = ab_tests::measure_summary(&mut store, id, variant, shadow, m).await.infra()?;
        let ranks: Vec<i64> = QUANTILES.iter().map(|q| rules::quantile_rank(*q, n)).collect();
        let q = if n > 0 {
            ab_tests::measure_at(&mut store, id, variant, shadow, m, &ranks).await.infra()?
        } else {
            vec![None; QUANTILES.len()]
        };
        let at = |i: usize| q.get(i).copied().flatten().map(|x| x * scale);
        Ok(Summary { n, mean: mean.map(|x| x * scale), p05: at(0), p25: at(1), p50: at(2), p75: at(3), p95: at(4) })
    }
}
