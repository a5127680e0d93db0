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

fn parse_time(key: &str, v: &str) -> Result<Micros> {
    parse_unix_secs(v).ok_or_else(|| {
        Error::new(crate::Code::InvalidType, format!("'{key}' must be a UNIX timestamp in seconds, got '{v}'"))
    })
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
                "resolution_status" => {
                    for s in v.split(',').map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()) {
                        if !RESOLUTION_VALUES.contains(&s.as_str()) {
                            return Err(Error::value(format!(
                                "unknown resolution_status '{s}'; expected one of {}",
                                RESOLUTION_VALUES.join(", ")
                            )));
                        }
                        f.resolution_status.push(s);
                    }
                }
                "folder_id" => f.folder_ids.extend(parse_uuid_list(k, v)?),
                "user_id" => f.user_ids.extend(parse_uuid_list(k, v)?),
                "company_id" => f.company_ids.extend(parse_uuid_list(k, v)?),
                "sorting" => f.sorting = parse_sorting(v)?,
                "with_analyses" => f.with_analyses = parse_bool(k, v)?,
                "with_user" => f.with_user = parse_bool(k, v)?,
                "with_company" => f.with_company = parse_bool(k, v)?,
                // Unknown keys are ignored (see the module docs).
                _ => {}
            }
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
}
