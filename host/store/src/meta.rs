//! The `meta_data` document of any object, read and written whole.

use crate::{Exec, Result, Sql};
use serde_json::Value;
use uuid::Uuid;
use vigil_domain::time::Micros;

/// Objects that carry `meta_data`. The names are static, never user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaTable {
    Companies,
    Users,
    Folders,
    Media,
    Analyses,
    Collections,
    Persons,
}

impl MetaTable {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            MetaTable::Companies => ("companies", "company_id"),
            MetaTable::Users => ("users", "user_id"),
            MetaTable::Folders => ("folders", "folder_id"),
            MetaTable::Media => ("media", "media_id"),
            MetaTable::Analyses => ("analyses", "analyse_id"),
            MetaTable::Collections => ("collections", "collection_id"),
            MetaTable::Persons => ("persons", "person_id"),
        }
    }
}

pub async fn get(ex: &mut impl Exec, t: MetaTable, id: Uuid) -> Result<Option<Value>> {
    let (table, col) = t.names();
    let mut q = Sql::new(&format!("SELECT meta_data FROM {table} WHERE {col} = "));
    q.bind(id);
    ex.fetch_optional(q, |r| r.json("meta_data")).await
}

pub async fn set(ex: &mut impl Exec, t: MetaTable, id: Uuid, value: &Value, now: Micros) -> Result<u64> {
    let (table, col) = t.names();
    let mut q = Sql::new(&format!("UPDATE {table} SET meta_data = "));
    q.bind(value).push(", time_updated = ").bind(now).push(&format!(" WHERE {col} = ")).bind(id);
    ex.execute(q).await
}
