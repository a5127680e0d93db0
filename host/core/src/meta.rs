//! `meta_data` sub-resources: GET, POST (replace), PATCH (merge top-level keys), DELETE (empty).
//! Rights follow the parent object: reading needs read access, changing needs write access.

use crate::{App, Infra, now_micros};
use serde_json::{Map, Value};
use uuid::Uuid;
use vigil_domain::audit::Change;
use vigil_domain::policy::{Caller, Principal, Role};
use vigil_domain::{Error, Result};
use vigil_store::meta::{self, MetaTable};

/// What a metadata edit is recorded as.
const ACTION: &str = "update_meta_data";

/// The objects with a metadata sub-resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaOwner {
    User,
    Folder,
    Media,
    Analysis,
    Collection,
    /// A person of the collection given.
    Person(Uuid),
}

#[derive(Debug, Clone)]
pub enum MetaOp {
    Get,
    Replace(Value),
    Merge(Value),
    Clear,
}

impl App {
    /// Checks access to the parent object; returns its table and the change an edit records.
    async fn meta_access(&self, p: &Principal, owner: MetaOwner, id: Uuid, write: bool) -> Result<(MetaTable, Change)> {
        Ok(match owner {
            MetaOwner::User => {
                let u = self.get_user(p, id).await?;
                if write && !p.can_manage_user(u.company_id, Role::derive(&u.user_type, u.is_admin, u.is_service)) {
                    return Err(Error::forbidden());
                }
                (MetaTable::Users, Change::new(ACTION, "user", id, Some(u.company_id)))
            }
            MetaOwner::Folder => {
                let f = if write { self.folder_for_write(p, id).await? } else { self.folder_for_read(p, id).await? };
                (MetaTable::Folders, Change::new(ACTION, "folder", id, Some(f.company_id)).in_folder(id))
            }
            MetaOwner::Media => {
                let m = self.get_media(p, id).await?;
                if write {
                    self.folder_for_write(p, m.folder_id).await?;
                }
                (MetaTable::Media, Change::new(ACTION, "media", id, Some(m.company_id)).in_folder(m.folder_id))
            }
            MetaOwner::Collection => {
                let c = self.get_collection(p, id).await?;
                if write && !p.can_manage_collection(c.company_id) {
                    return Err(Error::forbidden());
                }
                (MetaTable::Collections, Change::new(ACTION, "collection", id, Some(c.company_id)))
            }
            MetaOwner::Person(collection) => {
                let person = self.get_person(p, collection, id).await?;
                if write && !p.can_manage_collection(person.company_id) {
                    return Err(Error::forbidden());
                }
                (MetaTable::Persons, Change::new(ACTION, "person", id, Some(person.company_id)))
            }
            MetaOwner::Analysis => {
                let a = self.get_analysis(p, id).await?;
                if write {
                    self.folder_for_write(p, a.folder_id).await?;
                }
                (MetaTable::Analyses, Change::new(ACTION, "analysis", id, Some(a.company_id)).in_folder(a.folder_id))
            }
        })
    }

    pub async fn meta(&self, p: &Principal, owner: MetaOwner, id: Uuid, op: MetaOp) -> Result<Value> {
        let write = !matches!(op, MetaOp::Get);
        let (table, change) = self.meta_access(p, owner, id, write).await?;
        let not_found = || Error::not_found("object");
        if !write {
            return meta::get(&mut self.store(), table, id).await.infra()?.ok_or_else(not_found);
        }
        // Read and write in one transaction, so a merge never loses a concurrent edit.
        let mut tx = self.store().begin_write().await.infra()?;
        let current = meta::get(&mut tx, table, id).await.infra()?.ok_or_else(not_found)?;
        let old = current.clone();
        let next = match op {
            MetaOp::Get => return Ok(current),
            MetaOp::Clear => Value::Object(Map::new()),
            MetaOp::Replace(v) => {
                if !v.is_object() {
                    return Err(Error::value("meta_data must be a JSON object"));
                }
                v
            }
            MetaOp::Merge(v) => {
                let Value::Object(add) = v else {
                    return Err(Error::value("meta_data must be a JSON object"));
                };
                let mut m = match current {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                m.extend(add);
                Value::Object(m)
            }
        };
        vigil_domain::text::check_meta("meta_data", &next)?;
        if matches!(owner, MetaOwner::Person(_)) {
            crate::collections::check_person_meta(&next)?;
        }
        meta::set(&mut tx, table, id, &next, now_micros()).await.infra()?;
        crate::audit::record(&mut tx, Caller::User(p), change.field("meta_data", old, next.clone())).await?;
        tx.commit().await.infra()?;
        Ok(next)
    }
}
