//! The audit log: what a change records (who, what, when, which fields from what to what), the
//! redaction of secrets and personal data, and the list filters of `GET /api/audit_log/`.
//!
//! Secrets (passwords, their hashes, webhook secrets, tokens) are recorded as "changed" without a
//! value. Metadata is personal data and a personal-data deletion must leave none behind, while
//! the log is append-only: so a metadata change records which keys changed, never their values.

use crate::error::{Error, Result};
use crate::filter::{Paging, apply_paging, parse_time, parse_uuid_list, parse_words};
use crate::time::Micros;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

/// Fields whose values never reach the log.
const SECRET_FIELDS: &[&str] = &[
    "password",
    "password_hash",
    "secret",
    "webhook_secret",
    "access_token",
    "expire_token",
    "token",
    "bind_password",
];
/// Fields holding personal data, recorded by key only.
const PERSONAL_FIELDS: &[&str] = &["meta_data", "technical_meta_data", "results_data", "config"];
/// Fields that change with every write and say nothing about the change.
const NOISE_FIELDS: &[&str] = &["time_updated", "media", "analyses", "user", "company"];

/// One entry as the API answers it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct AuditEntry {
    pub audit_id: Uuid,
    /// The acting user; absent for the server itself (start-up, CLI, directory sign-in).
    pub user_id: Option<Uuid>,
    /// The acting user's company.
    pub user_company_id: Option<Uuid>,
    /// The tenant the changed object belongs to (what CLIENT ADMIN sees by).
    pub company_id: Option<Uuid>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// `create`, `update`, `delete`, or a named operation (`change_password`, `revoke_sessions`,
    /// `decide`, `delete_pi`, `activate`, `deactivate`, `set_webhook`, …).
    pub action: String,
    /// `folder`, `media`, `analysis`, `user`, `session`, `company`, `webhook`, `plugin`, …
    pub object_type: String,
    pub object_id: Uuid,
    /// The folder a media file or analysis belongs to, so a folder's history includes them.
    pub folder_id: Option<Uuid>,
    /// Changed fields as `{field: {"old": …, "new": …}}`; secrets as `{"changed": true}`,
    /// metadata as `{"keys": [...]}`.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub time_created: f64,
}

/// A change about to be recorded by a use-case (the actor is added by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub action: String,
    pub object_type: &'static str,
    pub object_id: Uuid,
    pub company_id: Option<Uuid>,
    pub folder_id: Option<Uuid>,
    pub changes: Value,
}

impl Change {
    pub fn new(action: &str, object_type: &'static str, object_id: Uuid, company_id: Option<Uuid>) -> Change {
        Change {
            action: action.to_string(),
            object_type,
            object_id,
            company_id,
            folder_id: None,
            changes: Value::Object(Map::new()),
        }
    }

    pub fn in_folder(mut self, folder_id: Uuid) -> Change {
        self.folder_id = Some(folder_id);
        self
    }

    /// Records the difference between two serialisations of the object.
    pub fn diff<T: Serialize>(mut self, old: Option<&T>, new: Option<&T>) -> Change {
        let to = |v: Option<&T>| v.and_then(|v| serde_json::to_value(v).ok()).unwrap_or(Value::Null);
        self.changes = diff(&to(old), &to(new));
        self
    }

    /// Adds one field by hand (values that are not part of the object's serialisation).
    pub fn field(mut self, name: &str, old: Value, new: Value) -> Change {
        if let Value::Object(m) = &mut self.changes {
            m.insert(name.to_string(), redact(name, &old, &new));
        }
        self
    }
}

/// `{field: {"old", "new"}}` for every top-level field that differs; a missing side is `null`.
pub fn diff(old: &Value, new: &Value) -> Value {
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    let keys: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    for k in keys {
        if NOISE_FIELDS.contains(&k.as_str()) {
            continue;
        }
        let (a, b) = (o.get(k).unwrap_or(&Value::Null), n.get(k).unwrap_or(&Value::Null));
        if a != b {
            out.insert(k.clone(), redact(k, a, b));
        }
    }
    Value::Object(out)
}

fn redact(field: &str, old: &Value, new: &Value) -> Value {
    if SECRET_FIELDS.contains(&field) {
        return json!({ "changed": true });
    }
    if PERSONAL_FIELDS.contains(&field) {
        return json!({ "keys": changed_keys(old, new) });
    }
    json!({ "old": old, "new": new })
}

/// The top-level keys that were added, removed or changed between two metadata objects.
fn changed_keys(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let keys: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    keys.into_iter().filter(|k| o.get(*k) != n.get(*k)).cloned().collect()
}

/// The filters of `GET /api/audit_log/`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub object_types: Vec<String>,
    pub object_ids: Vec<Uuid>,
    /// Entries of this folder and of its media and analyses.
    pub folder_id: Option<Uuid>,
    pub user_ids: Vec<Uuid>,
    pub company_ids: Vec<Uuid>,
    pub actions: Vec<String>,
    pub created_min: Option<Micros>,
    pub created_max: Option<Micros>,
    pub ascending: bool,
    pub paging: Paging,
}

impl AuditFilter {
    /// Unknown keys are ignored, as on every Oz list.
    pub fn parse(pairs: &[(String, String)]) -> Result<AuditFilter> {
        let mut f = AuditFilter::default();
        for (k, v) in pairs {
            if apply_paging(&mut f.paging, k, v)? {
                continue;
            }
            match k.as_str() {
                "object_type" => f.object_types.extend(parse_words(v)),
                "object_id" => f.object_ids.extend(parse_uuid_list(k, v)?),
                "folder_id" => {
                    f.folder_id =
                        Some(Uuid::parse_str(v.trim()).map_err(|_| Error::value("'folder_id' must be a UUID"))?)
                }
                "user_id" => f.user_ids.extend(parse_uuid_list(k, v)?),
                "company_id" => f.company_ids.extend(parse_uuid_list(k, v)?),
                "action" => f.actions.extend(parse_words(v)),
                "time_created.min" => f.created_min = Some(parse_time(k, v)?),
                "time_created.max" => f.created_max = Some(parse_time(k, v)?),
                "sorting" => {
                    let s = crate::filter::parse_sorting(v)?;
                    if s.field != crate::filter::SortField::TimeCreated {
                        return Err(Error::value("the audit log sorts by time_created only"));
                    }
                    f.ascending = !s.descending;
                }
                _ => {}
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_changed_fields_only() {
        let d = diff(&json!({"a": 1, "b": "x", "time_updated": 1}), &json!({"a": 2, "b": "x", "time_updated": 2}));
        assert_eq!(d, json!({"a": {"old": 1, "new": 2}}));
    }

    #[test]
    fn creation_and_deletion_show_every_field() {
        assert_eq!(diff(&Value::Null, &json!({"a": 1})), json!({"a": {"old": null, "new": 1}}));
        assert_eq!(diff(&json!({"a": 1}), &Value::Null), json!({"a": {"old": 1, "new": null}}));
    }

    #[test]
    fn secrets_never_carry_values() {
        let d = diff(&json!({"password_hash": "h1", "secret": "s"}), &json!({"password_hash": "h2", "secret": "t"}));
        assert_eq!(d, json!({"password_hash": {"changed": true}, "secret": {"changed": true}}));
        assert!(!d.to_string().contains("h2"));
        let c = Change::new("change_password", "user", Uuid::nil(), None).field("password", json!("p"), json!("q"));
        assert_eq!(c.changes, json!({"password": {"changed": true}}));
    }

    #[test]
    fn metadata_records_keys_not_values() {
        let d = diff(
            &json!({"meta_data": {"name": "Ann", "iin": "123", "same": 1}}),
            &json!({"meta_data": {"name": "Bob", "same": 1, "new": true}}),
        );
        assert_eq!(d, json!({"meta_data": {"keys": ["iin", "name", "new"]}}));
        assert!(!d.to_string().contains("Ann"));
    }

    #[test]
    fn filter_parses_the_documented_keys() {
        let pairs: Vec<(String, String)> = [
            ("object_type", "folder,media"),
            ("action", "update"),
            ("time_created.min", "1700000000"),
            ("sorting", "time_created{asc}"),
            ("limit", "5"),
            ("total_omit", "true"),
            ("cache_buster", "1"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let f = AuditFilter::parse(&pairs).unwrap();
        assert_eq!(f.object_types, vec!["folder", "media"]);
        assert_eq!(f.actions, vec!["update"]);
        assert_eq!(f.created_min, Some(1_700_000_000_000_000));
        assert!(f.ascending && f.paging.total_omit && f.paging.limit == 5);
        let bad = [("user_id".to_string(), "nope".to_string())];
        assert!(AuditFilter::parse(&bad).is_err());
        let bad = [("sorting".to_string(), "time_updated".to_string())];
        assert!(AuditFilter::parse(&bad).is_err());
    }
}
