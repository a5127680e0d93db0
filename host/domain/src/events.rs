//! SDK telemetry ("event sessions"): the wire object, the ingestion rules and the 5.2 list filters.

use crate::error::{Error, Result};
use crate::filter::{Paging, SortField, Sorting, apply_paging, parse_sorting, parse_time, parse_words};
use crate::time::Micros;

const MICROS: Micros = 1_000_000;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest accepted session id (SDKs send a UUID; some send their own token).
pub const MAX_SESSION_ID: usize = 128;
/// Events one session keeps; later ones are refused.
pub const MAX_EVENTS: usize = 10_000;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct EventSession {
    /// The SDK's `event_session_id`.
    pub session_id: String,
    pub company_id: Uuid,
    pub user_id: Option<Uuid>,
    pub folder_id: Option<Uuid>,
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
    pub time_created: f64,
    pub time_updated: f64,
}

/// Checks a session id: printable ASCII without spaces, at most [`MAX_SESSION_ID`] bytes.
pub fn check_session_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_SESSION_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::value(format!(
            "'session_id' must be 1 to {MAX_SESSION_ID} printable characters without spaces"
        )));
    }
    Ok(())
}

/// The events of a session after a batch arrives: the batch's events that the session does not
/// already hold are appended in order, so a client that retries a batch (or sends the whole
/// session again) changes nothing. `None` when nothing is new.
pub fn merge_events(existing: &[Value], batch: Vec<Value>) -> Result<Option<Vec<Value>>> {
    let mut out = existing.to_vec();
    let mut added = false;
    for e in batch {
        if !out.contains(&e) {
            out.push(e);
            added = true;
        }
    }
    if out.len() > MAX_EVENTS {
        return Err(Error::value(format!("a session holds at most {MAX_EVENTS} events")));
    }
    Ok(added.then_some(out))
}

/// The filters of `GET /api/event_sessions/` (5.2.0).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSessionFilter {
    pub created_min: Option<Micros>,
    pub created_max: Option<Micros>,
    pub updated_min: Option<Micros>,
    pub updated_max: Option<Micros>,
    pub session_ids: Vec<String>,
    pub session_ids_exclude: Vec<String>,
    pub folder_ids: Vec<Uuid>,
    pub sorting: Sorting,
    pub paging: Paging,
}

/// `time_created=T` (no suffix) means "within the second T".
fn narrow(min: &mut Option<Micros>, max: &mut Option<Micros>, t: Micros) {
    let second = t - t.rem_euclid(MICROS);
    *min = Some(min.map_or(second, |m| m.max(second)));
    *max = Some(max.map_or(second + MICROS - 1, |m| m.min(second + MICROS - 1)));
}

impl EventSessionFilter {
    pub fn parse(pairs: &[(String, String)]) -> Result<EventSessionFilter> {
        let mut f = EventSessionFilter::default();
        for (k, v) in pairs {
            if apply_paging(&mut f.paging, k, v)? {
                continue;
            }
            match k.as_str() {
                "time_created" => narrow(&mut f.created_min, &mut f.created_max, parse_time(k, v)?),
                "time_created.min" => f.created_min = Some(parse_time(k, v)?),
                "time_created.max" => f.created_max = Some(parse_time(k, v)?),
                "time_updated" => narrow(&mut f.updated_min, &mut f.updated_max, parse_time(k, v)?),
                "time_updated.min" => f.updated_min = Some(parse_time(k, v)?),
                "time_updated.max" => f.updated_max = Some(parse_time(k, v)?),
                "session_id" => f.session_ids.extend(parse_words(v)),
                "session_id.exclude" => f.session_ids_exclude.extend(parse_words(v)),
                "folder_id" => f.folder_ids.extend(crate::filter::parse_uuid_list(k, v)?),
                "sorting" => f.sorting = parse_sorting(v)?,
                _ => {}
            }
        }
        Ok(f)
    }

    pub fn order_by_updated(&self) -> bool {
        self.sorting.field == SortField::TimeUpdated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn merging_is_idempotent() {
        let a = vec![json!({"t": 1}), json!({"t": 2})];
        let merged = merge_events(&[], a.clone()).unwrap().unwrap();
        assert_eq!(merged, a);
        assert_eq!(merge_events(&merged, a.clone()).unwrap(), None);
        let more = merge_events(&merged, vec![json!({"t": 2}), json!({"t": 3})]).unwrap().unwrap();
        assert_eq!(more.len(), 3);
        let too_many: Vec<Value> = (0..=MAX_EVENTS).map(|i| json!(i)).collect();
        assert!(merge_events(&[], too_many).is_err());
    }

    #[test]
    fn session_ids_are_bounded() {
        assert!(check_session_id("0f6c2d4e-1b2a-4f7b-9c5e-3a2b1c0d9e8f").is_ok());
        assert!(check_session_id("").is_err());
        assert!(check_session_id("has space").is_err());
        assert!(check_session_id(&"x".repeat(MAX_SESSION_ID + 1)).is_err());
    }

    #[test]
    fn every_documented_filter_parses() {
        let f = EventSessionFilter::parse(&pairs(&[
            ("time_created", "1700000000"),
            ("time_updated.min", "1700000001"),
            ("time_updated.max", "1700000002"),
            ("session_id", "a,b"),
            ("session_id.exclude", "c"),
            ("sorting", "-time_updated"),
            ("offset", "1"),
            ("limit", "2"),
            ("total_omit", "true"),
        ]))
        .unwrap();
        assert_eq!(f.created_min, Some(1_700_000_000 * MICROS));
        assert_eq!(f.created_max, Some(1_700_000_001 * MICROS - 1));
        assert_eq!(f.updated_min, Some(1_700_000_001 * MICROS));
        assert_eq!(f.session_ids, vec!["a", "b"]);
        assert_eq!(f.session_ids_exclude, vec!["c"]);
        assert!(f.order_by_updated() && f.sorting.descending);
        assert_eq!((f.paging.offset, f.paging.limit, f.paging.total_omit), (1, 2, true));
        assert!(EventSessionFilter::parse(&pairs(&[("time_created.min", "soon")])).is_err());
    }
}
