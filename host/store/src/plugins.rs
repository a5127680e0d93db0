//! Installed plugin versions.

use crate::{Exec, Result, Row, Sql};
use uuid::Uuid;
use vigil_domain::model::PluginInfo;
use vigil_domain::time::Micros;

const COLS: &str = "plugin_id, company_id, kind, name, version, sha256, size, blob_key, config, sdk, active, time_created, time_updated";

/// A stored version with where its component lives.
#[derive(Debug, Clone)]
pub struct PluginRow {
    pub info: PluginInfo,
    pub blob_key: String,
}

fn row(r: &dyn Row) -> Result<PluginRow> {
    Ok(PluginRow {
        info: PluginInfo {
            plugin_id: r.uuid("plugin_id")?,
            company_id: r.opt_uuid("company_id")?,
            kind: r.text("kind")?,
            name: r.text("name")?,
            version: r.text("version")?,
            sha256: r.text("sha256")?,
            size: r.int("size")?,
            config: r.json("config")?,
            sdk: r.opt_text("sdk")?,
            active: r.boolean("active")?,
            time_created: r.secs("time_created")?,
            time_updated: r.secs("time_updated")?,
        },
        blob_key: r.text("blob_key")?,
    })
}

pub async fn insert(ex: &mut impl Exec, p: &PluginRow, now: Micros) -> Result<()> {
    let i = &p.info;
    let mut q = Sql::new(&format!("INSERT INTO plugins ({COLS}) VALUES ("));
    q.bind(i.plugin_id).push(", ").bind(i.company_id).push(", ").bind(i.kind.as_str()).push(", ");
    q.bind(i.name.as_str()).push(", ").bind(i.version.as_str()).push(", ").bind(i.sha256.as_str()).push(", ");
    q.bind(i.size).push(", ").bind(p.blob_key.as_str()).push(", ").bind(&i.config).push(", ").bind(i.sdk.clone());
    q.push(", FALSE, ").bind(now).push(", ").bind(now).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get(ex: &mut impl Exec, id: Uuid) -> Result<Option<PluginRow>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM plugins WHERE plugin_id = "));
    q.bind(id);
    ex.fetch_optional(q, row).await
}

/// Plugins of `company` plus the global ones; every plugin with `company = None`.
pub async fn list(ex: &mut impl Exec, company: Option<Uuid>) -> Result<Vec<PluginRow>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM plugins"));
    if let Some(c) = company {
        q.push(" WHERE company_id IS NULL OR company_id = ").bind(c);
    }
    q.push(" ORDER BY name, time_created");
    ex.fetch_all(q, row).await
}

pub async fn active(ex: &mut impl Exec) -> Result<Vec<PluginRow>> {
    ex.fetch_all(Sql::new(&format!("SELECT {COLS} FROM plugins WHERE active = TRUE")), row).await
}

/// Makes `id` the only active version of its (company, name).
pub async fn set_active(ex: &mut impl Exec, p: &PluginRow, now: Micros) -> Result<()> {
    let mut q = Sql::new("UPDATE plugins SET active = FALSE, time_updated = ");
    q.bind(now).push(" WHERE active = TRUE AND name = ").bind(p.info.name.as_str());
    match p.info.company_id {
        Some(c) => q.push(" AND company_id = ").bind(c),
        None => q.push(" AND company_id IS NULL"),
    };
    ex.execute(q).await?;
    let mut q = Sql::new("UPDATE plugins SET active = TRUE, time_updated = ");
    q.bind(now).push(" WHERE plugin_id = ").bind(p.info.plugin_id);
    ex.execute(q).await.map(|_| ())
}

pub async fn set_inactive(ex: &mut impl Exec, id: Uuid, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE plugins SET active = FALSE, time_updated = ");
    q.bind(now).push(" WHERE plugin_id = ").bind(id);
    ex.execute(q).await
}

pub async fn delete(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM plugins WHERE plugin_id = ");
    q.bind(id);
    ex.execute(q).await
}

/// Whether (company, name) has an active version.
pub async fn has_active(ex: &mut impl Exec, company: Option<Uuid>, name: &str) -> Result<bool> {
    let mut q = Sql::new("SELECT COUNT(*) AS n FROM plugins WHERE active = TRUE AND name = ");
    q.bind(name);
    match company {
        Some(c) => q.push(" AND company_id = ").bind(c),
        None => q.push(" AND company_id IS NULL"),
    };
    Ok(ex.fetch_count(q).await? > 0)
}
