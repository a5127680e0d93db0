//! A/B experiments: what an experiment is, how it is checked and moves between states, the
//! bucket seed a folder gets, the context a rule sees, and the statistics that compare variants.
//!
//! The first variant is the control. In `split` mode the rule's choice decides the analysis; in
//! `shadow` mode the control always decides and the rule's choice, when it is another variant,
//! runs beside it as a shadow analysis (so weights set how much traffic is shadowed).

use crate::analysis::AnalysisType;
use crate::filter::Paging;
use crate::text::check_ident;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_VARIANTS: usize = 8;
const MAX_WEIGHT: u32 = 1_000_000;
const MAX_CONFIG_KEYS: usize = 64;
const MAX_CONFIG_BYTES: usize = 16 << 10;
/// What a rule sees of a folder's metadata: scalar top-level entries, this many, this long.
const MAX_ATTRIBUTES: usize = 32;
const MAX_ATTRIBUTE_KEY: usize = 64;
const MAX_ATTRIBUTE_VALUE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Split,
    Shadow,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "split" => Ok(Mode::Split),
            "shadow" => Ok(Mode::Shadow),
            other => Err(Error::value(format!("unknown mode '{other}'; expected split or shadow"))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Split => "split",
            Mode::Shadow => "shadow",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Draft,
    Running,
    Paused,
    Stopped,
}

impl State {
    pub fn parse(s: &str) -> Result<State> {
        match s.trim().to_ascii_lowercase().as_str() {
            "draft" => Ok(State::Draft),
            "running" => Ok(State::Running),
            "paused" => Ok(State::Paused),
            "stopped" => Ok(State::Stopped),
            other => Err(Error::value(format!("unknown state '{other}'; expected draft, running, paused or stopped"))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Running => "running",
            State::Paused => "paused",
            State::Stopped => "stopped",
        }
    }
}

/// A state change asked for through the API or the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Stop,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Stop => "stop",
        }
    }
}

/// The state `action` leads to from `from`; stopped is final.
pub fn transition(from: State, action: Action) -> Result<State> {
    match (from, action) {
        (State::Running, Action::Pause) => Ok(State::Paused),
        (State::Draft | State::Paused, Action::Resume) => Ok(State::Running),
        (State::Draft | State::Running | State::Paused, Action::Stop) => Ok(State::Stopped),
        (from, action) => Err(Error::value(format!(
            "a {} experiment cannot {}{}",
            from.as_str(),
            action.as_str(),
            if from == State::Stopped { ": stopped is final, create a new experiment" } else { "" }
        ))),
    }
}

/// One arm of an experiment: a plugin (a pinned version or the active one) and settings laid
/// over its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Variant {
    pub name: String,
    /// The analysis plugin's name.
    pub plugin: String,
    /// A pinned version; null: whichever version is active when the analysis runs.
    pub version: Option<String>,
    /// The pinned version's plugin id.
    pub plugin_id: Option<Uuid>,
    /// Settings laid over the plugin's configuration for this variant.
    pub config: BTreeMap<String, String>,
    pub weight: u32,
}

/// An experiment as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AbTest {
    pub ab_test_id: Uuid,
    pub company_id: Uuid,
    pub name: String,
    pub analysis_type: String,
    /// split or shadow.
    pub mode: String,
    /// draft, running, paused or stopped.
    pub state: String,
    /// The `ab-rule` plugin that routes; null: the built-in weighted split.
    pub rule: Option<String>,
    /// The first is the control.
    pub variants: Vec<Variant>,
    pub created_by: Option<Uuid>,
    pub time_created: f64,
    pub time_updated: f64,
    pub time_started: Option<f64>,
    pub time_stopped: Option<f64>,
}

impl AbTest {
    pub fn mode(&self) -> Mode {
        Mode::parse(&self.mode).unwrap_or(Mode::Split)
    }
    pub fn state(&self) -> State {
        State::parse(&self.state).unwrap_or(State::Stopped)
    }
    pub fn control(&self) -> &Variant {
        &self.variants[0]
    }
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }
    /// The weights as the rule's `weights` setting: comma-separated, in variant order.
    pub fn weights(&self) -> String {
        self.variants.iter().map(|v| v.weight.to_string()).collect::<Vec<_>>().join(",")
    }
}

/// Body of `POST /api/ab_tests/`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewAbTest {
    pub name: String,
    /// QUALITY, BIOMETRY, … (any case).
    pub analysis_type: String,
    /// split (default) or shadow.
    #[serde(default)]
    pub mode: Option<String>,
    /// Two or more; the first is the control.
    pub variants: Vec<VariantSpec>,
    /// An uploaded `ab-rule` plugin's name; null: the built-in weighted split.
    #[serde(default)]
    pub rule: Option<String>,
    /// draft, or running (default).
    #[serde(default)]
    pub state: Option<String>,
    /// ADMIN only: the company the experiment runs for.
    #[serde(default)]
    pub company_id: Option<Uuid>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct VariantSpec {
    pub name: String,
    pub plugin: String,
    #[serde(default)]
    pub version: Option<String>,
    /// Settings laid over the plugin's configuration; values are given to it as strings.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Map<String, Value>>,
    /// Relative share of traffic under the built-in split (default 1).
    #[serde(default)]
    pub weight: Option<i64>,
}

/// A checked request: what the use-case still has to resolve are the plugins.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub name: String,
    pub analysis_type: String,
    pub mode: Mode,
    pub state: State,
    pub rule: Option<String>,
    pub variants: Vec<Variant>,
}

fn config_strings(v: &str, m: &Map<String, Value>) -> Result<BTreeMap<String, String>> {
    let size = Value::Object(m.clone()).to_string().len();
    if m.len() > MAX_CONFIG_KEYS || size > MAX_CONFIG_BYTES {
        return Err(Error::value(format!(
            "variant '{v}': config is {size} bytes in {} keys; at most {MAX_CONFIG_BYTES} bytes and {MAX_CONFIG_KEYS} keys",
            m.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (k, val) in m {
        let s = match val {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => val.to_string(),
            _ => return Err(Error::value(format!("variant '{v}': config '{k}' must be a string, number or boolean"))),
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

impl NewAbTest {
    pub fn check(&self) -> Result<Checked> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(Error::value("name must be 1-128 printable characters"));
        }
        let analysis_type = AnalysisType::parse(&self.analysis_type)?.as_str().to_string();
        let mode = self.mode.as_deref().map_or(Ok(Mode::Split), Mode::parse)?;
        let state = match self.state.as_deref().map(State::parse).transpose()? {
            None | Some(State::Running) => State::Running,
            Some(State::Draft) => State::Draft,
            Some(s) => {
                return Err(Error::value(format!("an experiment starts as draft or running, not {}", s.as_str())));
            }
        };
        if let Some(r) = &self.rule {
            check_ident("rule", r)?;
        }
        if self.variants.len() < 2 || self.variants.len() > MAX_VARIANTS {
            return Err(Error::value(format!(
                "an experiment has 2 to {MAX_VARIANTS} variants (the first is the control), got {}",
                self.variants.len()
            )));
        }
        let mut variants: Vec<Variant> = Vec::with_capacity(self.variants.len());
        for v in &self.variants {
            check_ident("variant name", &v.name)?;
            check_ident("plugin", &v.plugin)?;
            if let Some(ver) = &v.version {
                check_ident("version", ver)?;
            }
            if variants.iter().any(|o| o.name == v.name) {
                return Err(Error::value(format!("variant name '{}' is used twice", v.name)));
            }
            let weight = v.weight.unwrap_or(1);
            if !(0..=i64::from(MAX_WEIGHT)).contains(&weight) {
                return Err(Error::value(format!("variant '{}': weight must be 0 to {MAX_WEIGHT}", v.name)));
            }
            let config = v.config.as_ref().map(|m| config_strings(&v.name, m)).transpose()?.unwrap_or_default();
            variants.push(Variant {
                name: v.name.clone(),
                plugin: v.plugin.clone(),
                version: v.version.clone(),
                plugin_id: None,
                config,
                weight: weight as u32,
            });
        }
        if variants.iter().all(|v| v.weight == 0) {
            return Err(Error::value("at least one variant needs a weight above 0"));
        }
        if mode == Mode::Shadow && variants[1..].iter().all(|v| v.weight == 0) {
            return Err(Error::value("a shadow experiment needs a weight above 0 on a variant other than the control"));
        }
        Ok(Checked { name: name.to_string(), analysis_type, mode, state, rule: self.rule.clone(), variants })
    }
}

/// `GET /api/ab_tests/` filters.
#[derive(Debug, Clone, Default)]
pub struct AbTestFilter {
    pub states: Vec<String>,
    pub analysis_types: Vec<String>,
    pub company_ids: Vec<Uuid>,
    pub paging: Paging,
}

impl AbTestFilter {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self> {
        let mut f = AbTestFilter::default();
        for (k, v) in pairs {
            if crate::filter::apply_paging(&mut f.paging, k, v)? {
                continue;
            }
            match k.as_str() {
                "state" => {
                    for s in v.split(',').filter(|s| !s.trim().is_empty()) {
                        f.states.push(State::parse(s)?.as_str().to_string());
                    }
                }
                "analysis_type" | "type" => {
                    for t in v.split(',').filter(|s| !s.trim().is_empty()) {
                        f.analysis_types.push(AnalysisType::parse(t)?.as_str().to_string());
                    }
                }
                "company_id" => {
                    for c in v.split(',').filter(|s| !s.trim().is_empty()) {
                        let id = Uuid::parse_str(c.trim())
                            .map_err(|_| Error::value(format!("company_id '{c}' is not a UUID")))?;
                        f.company_ids.push(id);
                    }
                }
                _ => {}
            }
        }
        Ok(f)
    }
}

/// How an analysis came to its variant, as recorded on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub ab_test_id: Uuid,
    pub variant: String,
    /// Set on a shadow analysis: the analysis whose verdict counts.
    pub shadow_of: Option<Uuid>,
    /// Why the rule's choice was not used and the control ran instead.
    pub fallback: Option<String>,
}

impl Assignment {
    /// The `ab_test` entry of an analysis's `technical_meta_data`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("ab_test_id".into(), Value::from(self.ab_test_id.to_string()));
        m.insert("variant".into(), Value::from(self.variant.clone()));
        m.insert("shadow".into(), Value::from(self.shadow_of.is_some()));
        if let Some(p) = self.shadow_of {
            m.insert("shadow_of".into(), Value::from(p.to_string()));
        }
        if let Some(f) = &self.fallback {
            m.insert("fallback".into(), Value::from(f.clone()));
        }
        Value::Object(m)
    }
}

fn mix64(mut z: u64) -> u64 {
    // The splitmix64 finaliser: every input bit moves about half the output bits.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed a folder gets in an experiment: stable for the folder, independent between
/// experiments (so one experiment's control group is not every experiment's).
pub fn bucket_seed(ab_test: Uuid, folder: Uuid) -> u64 {
    let (a, b) = ab_test.as_u64_pair();
    let (c, d) = folder.as_u64_pair();
    mix64(mix64(mix64(mix64(a) ^ b) ^ c) ^ d)
}

/// The folder metadata a rule sees: scalar top-level entries, sorted by key, bounded.
pub fn attributes(meta: &Value) -> Vec<(String, String)> {
    let Some(m) = meta.as_object() else { return Vec::new() };
    let mut out: Vec<(String, String)> = m
        .iter()
        .filter(|(k, _)| k.len() <= MAX_ATTRIBUTE_KEY)
        .filter_map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => return None,
            };
            (s.len() <= MAX_ATTRIBUTE_VALUE).then(|| (k.clone(), s))
        })
        .collect();
    out.sort();
    out.truncate(MAX_ATTRIBUTES);
    out
}

/// The number an experiment compares variants by: `confidence_spoofing` (QUALITY),
/// `min_confidence` (BIOMETRY), or a custom pipeline's `score`.
pub fn main_score(results_data: Option<&Value>) -> Option<f64> {
    let r = results_data?;
    ["confidence_spoofing", "min_confidence", "score"]
        .iter()
        .find_map(|k| r.get(k).and_then(Value::as_f64))
        .filter(|x| x.is_finite())
}

/// Counts of one variant's analyses, as the database sums them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub analyses: i64,
    pub processing: i64,
    pub finished: i64,
    pub failed: i64,
    /// System verdicts of the finished ones.
    pub success: i64,
    pub declined: i64,
    pub operator_required: i64,
    /// Analyses whose (primary) analysis an operator decided, and those where the system had
    /// given a definite verdict, and of those the ones the operator agreed with.
    pub decided: i64,
    pub decided_definite: i64,
    pub agreed: i64,
    /// Routed to the control because the rule failed.
    pub fallbacks: i64,
}

fn rate(x: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| x as f64 / n as f64)
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Rates {
    pub success: Option<f64>,
    pub declined: Option<f64>,
    pub operator_required: Option<f64>,
    pub failed: Option<f64>,
    /// Agreement with the operator where one decided and the system had said SUCCESS or DECLINED.
    pub operator_agreement: Option<f64>,
}

impl Counts {
    pub fn rates(&self) -> Rates {
        Rates {
            success: rate(self.success, self.finished),
            declined: rate(self.declined, self.finished),
            operator_required: rate(self.operator_required, self.finished),
            failed: rate(self.failed, self.finished + self.failed),
            operator_agreement: rate(self.agreed, self.decided_definite),
        }
    }
}

/// Quantiles a statistic reports, with the rank each needs among `n` sorted values.
pub const QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// The 0-based rank of quantile `q` among `n` sorted values (nearest rank).
pub fn quantile_rank(q: f64, n: i64) -> i64 {
    if n <= 0 {
        return 0;
    }
    (((q * n as f64).ceil() as i64) - 1).clamp(0, n - 1)
}

/// A difference in decline rate between a variant and the control.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Comparison {
    /// two_proportion_z (independent groups) or mcnemar (the same media, shadow mode).
    pub test: String,
    /// Variant's decline rate minus the control's.
    pub difference: f64,
    /// The 95 % confidence interval of the difference.
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    /// The sizes compared: analyses of each side, or pairs.
    pub n_variant: i64,
    pub n_control: i64,
}

const Z95: f64 = 1.959_963_984_540_054;

/// Complementary error function (Chebyshev fit, relative error below 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Two-sided p-value of a standard normal statistic.
fn normal_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// Variant against control on independent analyses: Wald interval of the difference, pooled
/// two-proportion z-test. None when either side has no finished analysis.
pub fn two_proportion(declined_v: i64, n_v: i64, declined_c: i64, n_c: i64) -> Option<Comparison> {
    if n_v <= 0 || n_c <= 0 {
        return None;
    }
    let (nv, nc) = (n_v as f64, n_c as f64);
    let (pv, pc) = (declined_v as f64 / nv, declined_c as f64 / nc);
    let diff = pv - pc;
    let se = (pv * (1.0 - pv) / nv + pc * (1.0 - pc) / nc).sqrt();
    let pooled = (declined_v + declined_c) as f64 / (nv + nc);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / nv + 1.0 / nc)).sqrt();
    let p_value = if se0 > 0.0 { normal_p(diff / se0) } else { 1.0 };
    Some(Comparison {
        test: "two_proportion_z".into(),
        difference: diff,
        ci_low: (diff - Z95 * se).max(-1.0),
        ci_high: (diff + Z95 * se).min(1.0),
        p_value,
        n_variant: n_v,
        n_control: n_c,
    })
}

/// Variant against control on the same media (shadow pairs): `only_variant` pairs the variant
/// declined and the control did not, `only_control` the reverse. McNemar's test (exact binomial
/// up to 50 discordant pairs, continuity-corrected chi-square above).
pub fn paired(only_variant: i64, only_control: i64, pairs: i64) -> Option<Comparison> {
    if pairs <= 0 {
        return None;
    }
    let n = pairs as f64;
    let (b, c) = (only_variant as f64, only_control as f64);
    let diff = (b - c) / n;
    let var = ((b + c) - (b - c).powi(2) / n).max(0.0) / (n * n);
    let se = var.sqrt();
    let discordant = only_variant + only_control;
    let p_value = if discordant == 0 {
        1.0
    } else if discordant <= 50 {
        // Two-sided exact: twice the smaller tail of Binomial(discordant, 1/2).
        let k = only_variant.min(only_control);
        let mut term = 0.5f64.powi(discordant as i32);
        let mut tail = 0.0;
        for i in 0..=k {
            tail += term;
            term *= (discordant - i) as f64 / (i + 1) as f64;
        }
        (2.0 * tail).min(1.0)
    } else {
        let chi2 = ((b - c).abs() - 1.0).max(0.0).powi(2) / (b + c);
        normal_p(chi2.sqrt())
    };
    Some(Comparison {
        test: "mcnemar".into(),
        difference: diff,
        ci_low: (diff - Z95 * se).max(-1.0),
        ci_high: (diff + Z95 * se).min(1.0),
        p_value,
        n_variant: pairs,
        n_control: pairs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> NewAbTest {
        serde_json::from_value(v).unwrap()
    }

    fn two() -> Value {
        json!([{"name": "control", "plugin": "quality", "weight": 50},
               {"name": "strict", "plugin": "quality", "config": {"threshold": 0.2}, "weight": 50}])
    }

    #[test]
    fn a_request_is_checked_and_defaults_to_a_running_split() {
        let c = spec(json!({"name": " stricter ", "analysis_type": "liveness", "variants": two(), "rule": null}))
            .check()
            .unwrap();
        assert_eq!((c.name.as_str(), c.analysis_type.as_str()), ("stricter", "QUALITY"));
        assert_eq!((c.mode, c.state), (Mode::Split, State::Running));
        assert_eq!(c.variants[1].config.get("threshold").map(String::as_str), Some("0.2"));
        let err = |v: Value| spec(v).check().unwrap_err().message;
        let base = |k: &str, v: Value| {
            let mut b = json!({"name": "x", "analysis_type": "QUALITY", "variants": two()});
            b[k] = v;
            b
        };
        assert!(err(base("variants", json!([{"name": "a", "plugin": "q"}]))).contains("2 to 8"));
        assert!(
            err(base("variants", json!([{"name": "a", "plugin": "q"}, {"name": "a", "plugin": "q"}])))
                .contains("twice")
        );
        assert!(
            err(base(
                "variants",
                json!([{"name": "a", "plugin": "q", "weight": 0}, {"name": "b", "plugin": "q", "weight": 0}])
            ))
            .contains("weight above 0")
        );
        assert!(
            err(base("variants", json!([{"name": "a", "plugin": "q", "weight": -1}, {"name": "b", "plugin": "q"}])))
                .contains("weight must be")
        );
        assert!(err(base("mode", json!("canary"))).contains("split or shadow"));
        assert!(err(base("state", json!("stopped"))).contains("draft or running"));
        assert!(err(base("rule", json!("../x"))).contains("rule"));
        assert!(err(base("name", json!(""))).contains("name"));
        assert!(
            err(base(
                "variants",
                json!([{"name": "a", "plugin": "q", "config": {"k": {"x": 1}}}, {"name": "b", "plugin": "q"}])
            ))
            .contains("string, number or boolean")
        );
        let shadow = json!([{"name": "a", "plugin": "q", "weight": 1}, {"name": "b", "plugin": "q", "weight": 0}]);
        let mut b = base("variants", shadow);
        b["mode"] = json!("shadow");
        assert!(err(b).contains("other than the control"));
    }

    #[test]
    fn stopped_is_final() {
        assert_eq!(transition(State::Running, Action::Pause).unwrap(), State::Paused);
        assert_eq!(transition(State::Paused, Action::Resume).unwrap(), State::Running);
        assert_eq!(transition(State::Draft, Action::Resume).unwrap(), State::Running);
        assert_eq!(transition(State::Paused, Action::Stop).unwrap(), State::Stopped);
        assert!(transition(State::Paused, Action::Pause).is_err());
        for a in [Action::Pause, Action::Resume, Action::Stop] {
            assert!(transition(State::Stopped, a).unwrap_err().message.contains("final"));
        }
    }

    #[test]
    fn seeds_are_stable_per_folder_and_differ_between_experiments() {
        let (t1, t2, f) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(77));
        assert_eq!(bucket_seed(t1, f), bucket_seed(t1, f));
        assert_ne!(bucket_seed(t1, f), bucket_seed(t2, f));
        // Consecutive folder ids spread over the whole range: the low bit is balanced.
        let odd = (0..10_000u128).filter(|i| bucket_seed(t1, Uuid::from_u128(*i)) & 1 == 1).count();
        assert!((4_800..=5_200).contains(&odd), "{odd}");
    }

    #[test]
    fn attributes_are_scalar_sorted_and_bounded() {
        let long = "x".repeat(300);
        let a = attributes(&json!({"b": 2, "a": "x", "n": null, "o": {"k": 1}, "l": long, "t": true}));
        assert_eq!(a, vec![("a".into(), "x".into()), ("b".into(), "2".into()), ("t".into(), "true".into())]);
        let many: Map<String, Value> = (0..100).map(|i| (format!("k{i:03}"), json!(i))).collect();
        assert_eq!(attributes(&Value::Object(many)).len(), MAX_ATTRIBUTES);
    }

    #[test]
    fn the_main_score_is_the_types_headline_number() {
        assert_eq!(main_score(Some(&json!({"confidence_spoofing": 0.25, "threshold": 0.5}))), Some(0.25));
        assert_eq!(main_score(Some(&json!({"min_confidence": 0.9, "max_confidence": 0.95}))), Some(0.9));
        assert_eq!(main_score(Some(&json!({"other": 1}))), None);
        assert_eq!(main_score(None), None);
    }

    #[test]
    fn quantile_ranks_are_nearest_rank() {
        assert_eq!(quantile_rank(0.5, 10), 4);
        assert_eq!(quantile_rank(0.95, 10), 9);
        assert_eq!(quantile_rank(0.05, 10), 0);
        assert_eq!(quantile_rank(0.5, 1), 0);
    }

    #[test]
    fn the_two_proportion_test_matches_hand_computed_values() {
        // 60/100 against 40/100: pooled p 0.5, z = 0.2 / sqrt(0.25 * 0.02) = 2.828, p = 0.00468.
        let c = two_proportion(60, 100, 40, 100).unwrap();
        assert!((c.difference - 0.2).abs() < 1e-12);
        assert!((c.p_value - 0.004_678).abs() < 1e-5, "{}", c.p_value);
        // Wald: se = sqrt(0.24/100 + 0.24/100) = 0.06928; 0.2 ± 0.1358.
        assert!((c.ci_low - 0.064_21).abs() < 1e-4 && (c.ci_high - 0.335_79).abs() < 1e-4, "{c:?}");
        assert_eq!(two_proportion(0, 10, 0, 10).unwrap().p_value, 1.0);
        assert!(two_proportion(1, 0, 1, 10).is_none());
        assert!((erfc(0.0) - 1.0).abs() < 1e-7 && (erfc(1.0) - 0.157_299_2).abs() < 1e-6);
    }

    #[test]
    fn mcnemar_is_exact_for_few_discordant_pairs() {
        // 10 pairs, the variant alone declines 5, never the reverse: p = 2 / 2^5 = 0.0625.
        let c = paired(5, 0, 10).unwrap();
        assert!((c.difference - 0.5).abs() < 1e-12);
        assert!((c.p_value - 0.0625).abs() < 1e-12);
        assert_eq!(paired(0, 0, 10).unwrap().p_value, 1.0);
        // 60 against 40 discordant: chi2 = (20-1)^2/100 = 3.61, p = 0.0574.
        assert!((paired(60, 40, 500).unwrap().p_value - 0.057_4).abs() < 1e-3);
    }
}
