//! List query parameters: parsing and validation of the folder list filters and paging.
//!
//! Unknown parameters are ignored, as Oz ignores them (cache-busters, filters of other versions,
//! `access_token`); the values of known ones are validated with clear errors.

use crate::error::{Error, Result};
use crate::time::{Micros, parse_unix_secs};
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    TimeCreated,
    TimeUpdated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sorting {
    pub field: SortField,
    pub descending: bool,
}

impl Default for Sorting {
    fn default() -> Self {
        Sorting { field: SortField::TimeCreated, descending: true }
    }
}

/// Accepts `time_created{desc}`, `time_created{asc}`, `time_created`, `-time_created` and the
/// same for `time_updated`.
pub fn parse_sorting(s: &str) -> Result<Sorting> {
    let s = s.trim();
    let (name, descending) = if let Some(rest) = s.strip_prefix('-') {
        (rest, true)
    } else if let Some(rest) = s.strip_suffix("{desc}") {
        (rest, true)
    } else if let Some(rest) = s.strip_suffix("{asc}") {
        (rest, false)
    } else {
        (s, false)
    };
    let field = match name {
        "time_created" => SortField::TimeCreated,
        "time_updated" => SortField::TimeUpdated,
        _ => {
            return Err(Error::value(format!(
                "unsupported sorting '{s}'; use time_created or time_updated with {{asc}}/{{desc}} or a leading '-'"
            )));
        }
    };
    Ok(Sorting { field, descending })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub offset: i64,
    pub limit: i64,
    pub total_omit: bool,
}

impl Default for Paging {
    fn default() -> Self {
        Paging { offset: 0, limit: DEFAULT_LIMIT, total_omit: false }
    }
}

/// A metadata condition: `key==value` or `key!=value`; the value compares as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaCond {
    pub key: String,
    pub value: String,
    pub negate: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FolderFilter {
    pub created_min: Option<Micros>,
    pub created_max: Option<Micros>,
    pub updated_min: Option<Micros>,
    pub updated_max: Option<Micros>,
    pub meta: Vec<MetaCond>,
    /// Matched against both the stage (`resolution_status`) and the verdict (`system_resolution`).
    pub resolution_status: Vec<String>,
    pub folder_ids: Vec<Uuid>,
    pub user_ids: Vec<Uuid>,
    pub company_ids: Vec<Uuid>,
    pub sorting: Sorting,
    pub paging: Paging,
    pub with_analyses: bool,
    pub with_user: bool,
    pub with_company: bool,
    /// The analysis result filters, applied only with `with_results_media_filter=true` (Oz 4.x).
    pub results: ResultFilters,
}

/// A comparison in a result filter: `==v`, `!=v`, `>=v`, `<=v`, `>v`, `<v`, or a bare `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A value in a result document: compared as a number when it reads as one (a stored string of
/// digits still matches `==`), as `true`/`false`, or as text.
#[derive(Debug, Clone, PartialEq)]
pub enum CmpValue {
    Number(f64),
    Bool(bool),
    Text(String),
}

/// One condition on a key path inside a `results_data` document.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultCond {
    pub path: Vec<String>,
    pub op: CmpOp,
    pub value: CmpValue,
    /// The value as sent, for matching a number stored as a string.
    pub raw: String,
}

/// Conditions on the analyses of a folder; a folder matches when one analysis meets all the
/// conditions of a group (`analyse.*`, BIOMETRY `results_data.*`, one QUALITY `results_media`
/// entry for `results_media_results_data.*`), and every non-empty group has such an analysis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultFilters {
    pub enabled: bool,
    /// `analyse.resolution_status`: the analysis's stage or verdict.
    pub analyse_status: Vec<String>,
    /// `analyse.type`: QUALITY, BIOMETRY, … (any case).
    pub analyse_types: Vec<String>,
    pub analyse_created_min: Option<Micros>,
    pub analyse_created_max: Option<Micros>,
    /// `analyse.results_data.<key>`: on a DOCUMENTS analysis.
    pub documents: Vec<ResultCond>,
    /// `results_data.<key>`: on a BIOMETRY analysis.
    pub biometry: Vec<ResultCond>,
    /// `results_media_results_data.<key>`: on one media result of a QUALITY analysis.
    pub quality_media: Vec<ResultCond>,
}

impl ResultFilters {
    pub fn is_active(&self) -> bool {
        self.enabled
            && (!self.analyse_status.is_empty()
                || !self.analyse_types.is_empty()
                || self.analyse_created_min.is_some()
                || self.analyse_created_max.is_some()
                || !self.documents.is_empty()
                || !self.biometry.is_empty()
                || !self.quality_media.is_empty())
    }

    /// Handles one query key; false when it is not a result filter key.
    fn apply(&mut self, key: &str, v: &str) -> Result<bool> {
        // A comparison typed into the URL splits at its `=`: `k!=v` arrives as key `k!`, `k>=v` as
        // `k>`, and `k>v` as a key with an empty value. Put the operator back on the value.
        let (key, v) = match key.char_indices().find(|(_, c)| matches!(c, '!' | '<' | '>')) {
            Some((i, _)) if key.ends_with(['!', '<', '>']) && i == key.len() - 1 => {
                (&key[..i], format!("{}={v}", &key[i..]))
            }
            Some((i, _)) if v.is_empty() => (&key[..i], key[i..].to_string()),
            _ => (key, v.to_string()),
        };
        let v = v.as_str();
        if let Some(rest) = key.strip_prefix("analyse.") {
            match rest {
                "resolution_status" => self.analyse_status.extend(parse_statuses(key, v)?),
                "type" => {
                    for t in v.split(',').filter(|t| !t.trim().is_empty()) {
                        self.analyse_types.push(crate::analysis::AnalysisType::parse(t)?.as_str().to_string());
                    }
                }
                "time_created.min" => self.analyse_created_min = Some(parse_time(key, v)?),
                "time_created.max" => self.analyse_created_max = Some(parse_time(key, v)?),
                "time_created" => {
                    let t = parse_time(key, v)?;
                    self.analyse_created_min = Some(t);
                    self.analyse_created_max = Some(t + 999_999);
                }
                _ => match result_path(rest, "results_data") {
                    Some(path) => self.documents.push(parse_result_cond(key, path, v)?),
                    None => return Ok(false),
                },
            }
            return Ok(true);
        }
        if let Some(path) = result_path(key, "results_media_results_data") {
            self.quality_media.push(parse_result_cond(key, path, v)?);
            return Ok(true);
        }
        if let Some(path) = result_path(key, "results_data") {
            self.biometry.push(parse_result_cond(key, path, v)?);
            return Ok(true);
        }
        Ok(false)
    }
}

/// `prefix` alone or `prefix.<path>`; another key that merely starts the same is not ours.
fn result_path<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = key.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('.')).then_some(rest)
}

/// At most this many result conditions per request: each is a sub-query.
pub const MAX_RESULT_CONDS: usize = 16;

fn parse_statuses(key: &str, v: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for s in v.split(',').map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()) {
        if !RESOLUTION_VALUES.contains(&s.as_str()) {
            return Err(Error::value(format!("unknown {key} '{s}'; expected one of {}", RESOLUTION_VALUES.join(", "))));
        }
        out.push(s);
    }
    Ok(out)
}

/// `path` is what follows the prefix: `.key`, `.a.b`, `.key.min`, `.key.max`; or empty, when
/// the value carries the key (`results_data=key==v`, the metadata filter's form).
fn parse_result_cond(key: &str, path: &str, v: &str) -> Result<ResultCond> {
    let (path, value) = if path.is_empty() {
        let split = v
            .find(['=', '!', '<', '>'])
            .ok_or_else(|| Error::value(format!("'{key}' must be <key>==<value> (or !=, >=, <=, >, <), got '{v}'")))?;
        (format!(".{}", &v[..split]), &v[split..])
    } else {
        (path.to_string(), v)
    };
    let Some(path) = path.strip_prefix('.') else {
        return Err(Error::value(format!("unknown filter '{key}'")));
    };
    let mut parts: Vec<String> = path.split('.').map(str::to_string).collect();
    let range = match parts.last().map(String::as_str) {
        Some("min") if parts.len() > 1 => Some(CmpOp::Ge),
        Some("max") if parts.len() > 1 => Some(CmpOp::Le),
        _ => None,
    };
    if range.is_some() {
        parts.pop();
    }
    if parts.len() > 8
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 64 || !p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(Error::value(format!(
            "filter '{key}' names a result key that is not 1-8 dot-separated names of letters, digits, '_' or '-'"
        )));
    }
    let (op, raw) = match range {
        Some(op) => (op, value),
        None => split_op(value),
    };
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 256 {
        return Err(Error::value(format!("filter '{key}' needs a value of 1-256 characters")));
    }
    let value = match raw.parse::<f64>() {
        Ok(n) if n.is_finite() => CmpValue::Number(n),
        _ => match raw {
            "true" | "True" => CmpValue::Bool(true),
            "false" | "False" => CmpValue::Bool(false),
            _ => CmpValue::Text(raw.to_string()),
        },
    };
    if matches!(value, CmpValue::Bool(_)) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return Err(Error::value(format!("filter '{key}' compares true/false only with == or !=")));
    }
    Ok(ResultCond { path: parts, op, value, raw: raw.to_string() })
}

fn split_op(v: &str) -> (CmpOp, &str) {
    for (prefix, op) in [
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        (">=", CmpOp::Ge),
        ("<=", CmpOp::Le),
        (">", CmpOp::Gt),
        ("<", CmpOp::Lt),
        ("=", CmpOp::Eq),
    ] {
        if let Some(rest) = v.strip_prefix(prefix) {
            return (op, rest);
        }
    }
    (CmpOp::Eq, v)
}

pub const RESOLUTION_VALUES: &[&str] =
    &["INITIAL", "PROCESSING", "FAILED", "FINISHED", "DECLINED", "SUCCESS", "OPERATOR_REQUIRED"];

pub fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(Error::new(crate::Code::InvalidType, format!("'{key}' must be true or false, got '{v}'"))),
    }
}

fn parse_int(key: &str, v: &str) -> Result<i64> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| Error::new(crate::Code::InvalidType, format!("'{key}' must be an integer, got '{v}'")))
}

pub(crate) fn parse_time(key: &str, v: &str) -> Result<Micros> {
    parse_unix_secs(v).ok_or_else(|| {
        Error::new(
            crate::Code::InvalidType,
            format!("'{key}' must be a UNIX timestamp (seconds or milliseconds), got '{v}'"),
        )
    })
}

/// A comma-separated list of words, blanks dropped.
pub(crate) fn parse_words(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

pub fn parse_uuid_list(key: &str, v: &str) -> Result<Vec<Uuid>> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Uuid::parse_str(s).map_err(|_| Error::value(format!("'{key}' must hold UUIDs, got '{s}'"))))
        .collect()
}

/// Applies one paging parameter; returns false when `key` is not a paging key.
pub fn apply_paging(p: &mut Paging, key: &str, v: &str) -> Result<bool> {
    match key {
        "offset" => {
            p.offset = parse_int(key, v)?;
            if p.offset < 0 {
                return Err(Error::value("'offset' must not be negative"));
            }
        }
        "limit" => {
            p.limit = parse_int(key, v)?;
            if p.limit < 1 {
                return Err(Error::value(format!("'limit' must be between 1 and {MAX_LIMIT}")));
            }
            // A larger page than the server serves is clamped, as Oz does, not refused.
            p.limit = p.limit.min(MAX_LIMIT);
        }
        "total_omit" => p.total_omit = parse_bool(key, v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

impl FolderFilter {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self> {
        let mut f = FolderFilter::default();
        for (key, v) in pairs {
            let k = key.as_str();
            if apply_paging(&mut f.paging, k, v)? {
                continue;
            }
            match k {
                "time_created.min" => f.created_min = Some(parse_time(k, v)?),
                "time_created.max" => f.created_max = Some(parse_time(k, v)?),
                "time_updated.min" => f.updated_min = Some(parse_time(k, v)?),
                "time_updated.max" => f.updated_max = Some(parse_time(k, v)?),
                // An exact timestamp means "within that second".
                "time_created" => {
                    let t = parse_time(k, v)?;
                    f.created_min = Some(t);
                    f.created_max = Some(t + 999_999);
                }
                "time_updated" => {
                    let t = parse_time(k, v)?;
                    f.updated_min = Some(t);
                    f.updated_max = Some(t + 999_999);
                }
                "meta_data" => f.meta.push(parse_meta(v)?),
                "resolution_status" => f.resolution_status.extend(parse_statuses(k, v)?),
                "folder_id" => f.folder_ids.extend(parse_uuid_list(k, v)?),
                "user_id" => f.user_ids.extend(parse_uuid_list(k, v)?),
                "company_id" => f.company_ids.extend(parse_uuid_list(k, v)?),
                "sorting" => f.sorting = parse_sorting(v)?,
                "with_analyses" => f.with_analyses = parse_bool(k, v)?,
                "with_user" => f.with_user = parse_bool(k, v)?,
                "with_company" => f.with_company = parse_bool(k, v)?,
                "with_results_media_filter" => f.results.enabled = parse_bool(k, v)?,
                // Unknown keys are ignored (see the module docs).
                _ => {
                    f.results.apply(k, v)?;
                }
            }
        }
        let r = &f.results;
        if r.documents.len() + r.biometry.len() + r.quality_media.len() > MAX_RESULT_CONDS {
            return Err(Error::value(format!("at most {MAX_RESULT_CONDS} result filters per request")));
        }
        if f.meta.len() > MAX_RESULT_CONDS * 4 {
            return Err(Error::value(format!("at most {} meta_data filters per request", MAX_RESULT_CONDS * 4)));
        }
        Ok(f)
    }
}

/// `GET /api/folders/{id}/media/`: paging, `media_type` and `tags` (comma-separated; a media
/// matches when it has any of them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaFilter {
    pub media_types: Vec<String>,
    pub tags: Vec<String>,
    pub paging: Paging,
}

impl MediaFilter {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self> {
        let mut f = MediaFilter::default();
        for (k, v) in pairs {
            if apply_paging(&mut f.paging, k, v)? {
                continue;
            }
            match k.as_str() {
                "media_type" => {
                    for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                        let canon = match t.to_ascii_uppercase().as_str() {
                            "IMAGE_FOLDER" | "IMAGE" | "PHOTO" => "IMAGE_FOLDER",
                            "VIDEO_FOLDER" | "VIDEO" => "VIDEO_FOLDER",
                            "SHOTS_SET" | "SHOT_SET" => "SHOTS_SET",
                            _ => {
                                return Err(Error::value(format!(
                                    "unknown media_type '{t}'; expected IMAGE_FOLDER, VIDEO_FOLDER or SHOTS_SET"
                                )));
                            }
                        };
                        f.media_types.push(canon.to_string());
                    }
                }
                "tags" | "tag" => {
                    f.tags.extend(crate::media::validate_tags(&parse_words(v))?);
                }
                _ => {}
            }
        }
        if f.tags.len() > crate::media::MAX_TAGS {
            return Err(Error::value(format!("at most {} tags per filter", crate::media::MAX_TAGS)));
        }
        Ok(f)
    }
}

fn parse_meta(v: &str) -> Result<MetaCond> {
    let (key, value, negate) = if let Some((k, val)) = v.split_once("!=") {
        (k, val, true)
    } else if let Some((k, val)) = v.split_once("==") {
        (k, val, false)
    } else {
        return Err(Error::value(format!("meta_data filter '{v}' must be key==value or key!=value")));
    };
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.') {
        return Err(Error::value(format!("meta_data filter key '{key}' must be letters, digits, '_', '-' or '.'")));
    }
    Ok(MetaCond { key: key.to_string(), value: value.to_string(), negate })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn parses_filters() {
        let f = FolderFilter::parse(&pairs(&[
            ("meta_data", "transaction_id==T-1"),
            ("meta_data", "x!=y"),
            ("time_created.min", "1700000000"),
            ("sorting", "time_created{asc}"),
            ("limit", "2"),
            ("total_omit", "true"),
            ("resolution_status", "success,FINISHED"),
        ]))
        .unwrap();
        assert_eq!(f.meta.len(), 2);
        assert!(f.meta[1].negate);
        assert_eq!(f.created_min, Some(1_700_000_000_000_000));
        assert!(!f.sorting.descending);
        assert_eq!(f.paging.limit, 2);
        assert!(f.paging.total_omit);
        assert_eq!(f.resolution_status, vec!["SUCCESS", "FINISHED"]);
    }

    #[test]
    fn refuses_bad_input() {
        // A page larger than the server serves is clamped.
        assert_eq!(FolderFilter::parse(&pairs(&[("limit", "50000")])).unwrap().paging.limit, MAX_LIMIT);
        assert!(FolderFilter::parse(&pairs(&[("limit", "0")])).is_err());
        // Unknown keys are ignored, not refused.
        assert_eq!(
            FolderFilter::parse(&pairs(&[("bogus", "1"), ("_", "17")])).unwrap(),
            FolderFilter::parse(&[]).unwrap()
        );
        assert!(FolderFilter::parse(&pairs(&[("limit", "x")])).is_err());
        assert!(FolderFilter::parse(&pairs(&[("meta_data", "novalue")])).is_err());
        assert!(FolderFilter::parse(&pairs(&[("folder_id", "not-a-uuid")])).is_err());
        assert!(FolderFilter::parse(&pairs(&[("resolution_status", "MAYBE")])).is_err());
        assert_eq!(parse_sorting("-time_updated").unwrap().field, SortField::TimeUpdated);
    }

    #[test]
    fn parses_result_filters() {
        let f = FolderFilter::parse(&pairs(&[
            ("with_results_media_filter", "true"),
            ("analyse.resolution_status", "success"),
            ("analyse.time_created.min", "1700000000000"),
            ("analyse.results_data.doc.number", "==AB123"),
            ("results_data.max_confidence.min", "0.9"),
            ("results_media_results_data.confidence_spoofing", "<0.5"),
            ("results_media_results_data", "liveness.flatness.decided==true"),
        ]))
        .unwrap();
        let r = &f.results;
        assert!(r.is_active());
        assert_eq!(r.analyse_status, vec!["SUCCESS"]);
        assert!(r.analyse_types.is_empty());
        let t = FolderFilter::parse(&pairs(&[
            ("with_results_media_filter", "true"),
            ("analyse.type", "liveness,biometry"),
        ]));
        assert_eq!(t.unwrap().results.analyse_types, vec!["QUALITY", "BIOMETRY"]);
        assert!(FolderFilter::parse(&pairs(&[("analyse.type", "no way!")])).is_err());
        assert_eq!(r.analyse_created_min, Some(1_700_000_000_000_000));
        assert_eq!(
            r.documents[0],
            ResultCond {
                path: vec!["doc".into(), "number".into()],
                op: CmpOp::Eq,
                value: CmpValue::Text("AB123".into()),
                raw: "AB123".into()
            }
        );
        assert_eq!(r.biometry[0].op, CmpOp::Ge);
        assert_eq!(r.biometry[0].value, CmpValue::Number(0.9));
        assert_eq!(r.quality_media[0].op, CmpOp::Lt);
        assert_eq!(r.quality_media[1].path, vec!["liveness", "flatness", "decided"]);
        assert_eq!(r.quality_media[1].value, CmpValue::Bool(true));
        // Without the switch the filters are read (and checked) but not active.
        let off = FolderFilter::parse(&pairs(&[("results_data.x", "1")])).unwrap();
        assert!(!off.results.is_active());
        assert!(FolderFilter::parse(&pairs(&[("analyse.resolution_status", "MAYBE")])).is_err());
        assert!(FolderFilter::parse(&pairs(&[("results_data.a b", "1")])).is_err());
        assert!(FolderFilter::parse(&pairs(&[("results_data", "novalue")])).is_err());
        assert!(!FolderFilter::parse(&pairs(&[("results_data_x", "?")])).unwrap().results.is_active());
        // Comparisons split by the URL's `=`.
        let f = FolderFilter::parse(&pairs(&[
            ("with_results_media_filter", "true"),
            ("results_data.model!", "sface"),
            ("results_data.score>", "0.5"),
            ("results_data.score<0.9", ""),
        ]))
        .unwrap();
        let ops: Vec<CmpOp> = f.results.biometry.iter().map(|c| c.op).collect();
        assert_eq!(ops, [CmpOp::Ne, CmpOp::Ge, CmpOp::Lt]);
        assert_eq!(f.results.biometry[2].value, CmpValue::Number(0.9));
        assert!(FolderFilter::parse(&pairs(&[("results_data.ok", ">true")])).is_err());
        let many: Vec<(String, String)> = (0..17).map(|i| (format!("results_data.k{i}"), "1".to_string())).collect();
        assert!(FolderFilter::parse(&many).is_err());
    }
}
