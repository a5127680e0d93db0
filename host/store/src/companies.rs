//! Companies.

use crate::{Exec, Result, Row, Sql};
use uuid::Uuid;
use vigil_domain::filter::Paging;
use vigil_domain::model::Company;
use vigil_domain::policy::Scope;
use vigil_domain::time::Micros;

const COLS: &str = "company_id, name, is_system, meta_data, time_created, time_updated";

fn row(r: &dyn Row) -> Result<Company> {
    Ok(Company {
        company_id: r.uuid("company_id")?,
        name: r.text("name")?,
        is_system: r.boolean("is_system")?,
        meta_data: r.json("meta_data")?,
        time_created: r.secs("time_created")?,
        time_updated: r.secs("time_updated")?,
    })
}

pub async fn insert(ex: &mut impl Exec, id: Uuid, name: &str, now: Micros) -> Result<()> {
    let mut q =
        Sql::new("INSERT INTO companies (company_id, name, is_system, meta_data, time_created, time_updated) VALUES (");
    q.bind(id).push(", ").bind(name).push(", FALSE, '{}', ").bind(now).push(", ").bind(now).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get(ex: &mut impl Exec, id: Uuid) -> Result<Option<Company>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM companies WHERE company_id = "));
    q.bind(id);
    ex.fetch_optional(q, row).await
}

pub async fn list(
    ex: &mut impl Exec,
    scope: Scope,
    search: Option<&str>,
    paging: Paging,
) -> Result<(Vec<Company>, Option<i64>)> {
    let mut w = Sql::new(" WHERE 1=1");
    if let Scope::Company(c) | Scope::Owner(c) = scope {
        w.push(" AND company_id = ").bind(c);
    }
    if let Some(s) = search {
        w.push(" AND LOWER(name) LIKE ").bind(format!("%{}%", s.to_lowercase()));
    }
    crate::page(ex, "companies", COLS, w, "time_created, name", paging, row).await
}

pub async fn rename(ex: &mut impl Exec, id: Uuid, name: &str, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE companies SET name = ");
    q.bind(name).push(", time_updated = ").bind(now).push(" WHERE company_id = ").bind(id);
    ex.execute(q).await
}

/// Deletes the company; users, folders and media go with it (ON DELETE CASCADE).
pub async fn delete(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    // Sessions reference users only, so they cascade through users.
    let mut q = Sql::new("DELETE FROM companies WHERE is_system = FALSE AND company_id = ");
    q.bind(id);
    ex.execute(q).await
}

/// A company by its exact name.
pub async fn by_name(ex: &mut impl Exec, name: &str) -> Result<Option<Company>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM companies WHERE name = "));
    q.bind(name).push(" ORDER BY time_created LIMIT 1");
    ex.fetch_optional(q, row).await
}
