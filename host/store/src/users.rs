//! Users. The password hash never leaves this module except through [`get_with_hash`].

use crate::{Exec, Result, Row, Sql};
use uuid::Uuid;
use vigil_domain::filter::Paging;
use vigil_domain::model::User;
use vigil_domain::policy::Scope;
use vigil_domain::time::Micros;

const COLS: &str = "user_id, email, first_name, last_name, middle_name, user_type, company_id, is_admin, is_service, \
     is_active, can_start_analyse_biometry, can_start_analyse_quality, can_start_analyse_collection, meta_data, \
     time_created, time_updated";

fn row(r: &dyn Row) -> Result<User> {
    Ok(User {
        user_id: r.uuid("user_id")?,
        user_type: r.text("user_type")?,
        email: r.text("email")?,
        first_name: r.text("first_name")?,
        last_name: r.text("last_name")?,
        middle_name: r.opt_text("middle_name")?,
        company_id: r.uuid("company_id")?,
        is_admin: r.boolean("is_admin")?,
        is_service: r.boolean("is_service")?,
        is_active: r.boolean("is_active")?,
        can_start_analyse_biometry: r.boolean("can_start_analyse_biometry")?,
        can_start_analyse_quality: r.boolean("can_start_analyse_quality")?,
        can_start_analyse_collection: r.boolean("can_start_analyse_collection")?,
        meta_data: r.json("meta_data")?,
        time_created: r.secs("time_created")?,
        time_updated: r.secs("time_updated")?,
    })
}

fn row_with_hash(r: &dyn Row) -> Result<(User, String)> {
    Ok((row(r)?, r.text("password_hash")?))
}

pub async fn insert(ex: &mut impl Exec, u: &User, password_hash: &str, now: Micros) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO users ({COLS}, password_hash) VALUES ("));
    q.bind(u.user_id).push(", ").bind(u.email.as_str()).push(", ").bind(u.first_name.as_str()).push(", ");
    q.bind(u.last_name.as_str()).push(", ").bind(u.middle_name.clone()).push(", ").bind(u.user_type.as_str());
    q.push(", ").bind(u.company_id).push(", ").bind(u.is_admin).push(", ").bind(u.is_service).push(", ");
    q.bind(u.is_active).push(", ").bind(u.can_start_analyse_biometry).push(", ");
    q.bind(u.can_start_analyse_quality).push(", ").bind(u.can_start_analyse_collection).push(", ");
    q.bind(&u.meta_data).push(", ").bind(now).push(", ").bind(now).push(", ").bind(password_hash).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get(ex: &mut impl Exec, id: Uuid) -> Result<Option<User>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM users WHERE user_id = "));
    q.bind(id);
    ex.fetch_optional(q, row).await
}

pub async fn get_with_hash(ex: &mut impl Exec, id: Uuid) -> Result<Option<(User, String)>> {
    let mut q = Sql::new(&format!("SELECT {COLS}, password_hash FROM users WHERE user_id = "));
    q.bind(id);
    ex.fetch_optional(q, row_with_hash).await
}

/// E-mails are stored lower-case, so the lookup is exact.
pub async fn get_by_email_with_hash(ex: &mut impl Exec, email: &str) -> Result<Option<(User, String)>> {
    let mut q = Sql::new(&format!("SELECT {COLS}, password_hash FROM users WHERE email = "));
    q.bind(email);
    ex.fetch_optional(q, row_with_hash).await
}

#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub company_id: Option<Uuid>,
    pub user_type: Option<String>,
    pub is_active: Option<bool>,
    pub search_text: Option<String>,
}

pub async fn list(
    ex: &mut impl Exec,
    scope: Scope,
    f: &UserFilter,
    paging: Paging,
) -> Result<(Vec<User>, Option<i64>)> {
    let mut w = Sql::new(" WHERE 1=1");
    crate::push_scope(&mut w, scope, (" AND user_id = ", ""));
    if let Some(c) = f.company_id {
        w.push(" AND company_id = ").bind(c);
    }
    if let Some(t) = &f.user_type {
        w.push(" AND user_type = ").bind(t.as_str());
    }
    if let Some(a) = f.is_active {
        w.push(" AND is_active = ").bind(a);
    }
    if let Some(s) = &f.search_text {
        let pat = format!("%{}%", s.to_lowercase());
        w.push(" AND (email LIKE ").bind(pat.clone()).push(" OR LOWER(first_name) LIKE ").bind(pat.clone());
        w.push(" OR LOWER(last_name) LIKE ").bind(pat).push(")");
    }
    crate::page(ex, "users", COLS, w, "time_created, email", paging, row).await
}

/// Writes every editable field of `u`.
pub async fn update(ex: &mut impl Exec, u: &User, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE users SET email = ");
    q.bind(u.email.as_str()).push(", first_name = ").bind(u.first_name.as_str());
    q.push(", last_name = ").bind(u.last_name.as_str()).push(", middle_name = ").bind(u.middle_name.clone());
    q.push(", user_type = ").bind(u.user_type.as_str()).push(", company_id = ").bind(u.company_id);
    q.push(", is_admin = ").bind(u.is_admin).push(", is_service = ").bind(u.is_service);
    q.push(", is_active = ").bind(u.is_active);
    q.push(", can_start_analyse_biometry = ").bind(u.can_start_analyse_biometry);
    q.push(", can_start_analyse_quality = ").bind(u.can_start_analyse_quality);
    q.push(", can_start_analyse_collection = ").bind(u.can_start_analyse_collection);
    q.push(", time_updated = ").bind(now).push(" WHERE user_id = ").bind(u.user_id);
    ex.execute(q).await
}

pub async fn set_password(ex: &mut impl Exec, id: Uuid, hash: &str, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE users SET password_hash = ");
    q.bind(hash).push(", time_updated = ").bind(now).push(" WHERE user_id = ").bind(id);
    ex.execute(q).await
}

pub async fn delete(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM users WHERE user_id = ");
    q.bind(id);
    ex.execute(q).await
}

pub async fn count(ex: &mut impl Exec) -> Result<i64> {
    ex.fetch_count(Sql::new("SELECT COUNT(*) AS n FROM users")).await
}

/// The `auth_source` of a user whose password the directory checks (the default is `local`).
pub const DIRECTORY_SOURCE: &str = "ldap";

/// Whether the directory checks this user's password.
pub async fn is_directory_user(ex: &mut impl Exec, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("SELECT auth_source FROM users WHERE user_id = ");
    q.bind(id);
    Ok(ex.fetch_optional(q, |r| r.text("auth_source")).await?.is_some_and(|s| s == DIRECTORY_SOURCE))
}

/// Marks a user as signed in through the directory, at `dn`.
pub async fn set_directory(ex: &mut impl Exec, id: Uuid, dn: &str) -> Result<u64> {
    let mut q = Sql::new("UPDATE users SET auth_source = ");
    q.bind(DIRECTORY_SOURCE).push(", directory_dn = ").bind(dn).push(" WHERE user_id = ").bind(id);
    ex.execute(q).await
}
