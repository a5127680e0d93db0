//! User management under the role rules of reference §5.

use crate::{App, Infra, crypto, now_micros};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::audit::Change;
use vigil_domain::filter::Paging;
use vigil_domain::model::{Page, User};
use vigil_domain::policy::{Caller, Principal, Role};
use vigil_domain::{Code, Error, Result};
use vigil_store::{SYSTEM_COMPANY_ID, companies, sessions, users};

/// Body of `POST /api/users/`. `user_type` also accepts the 6.x spellings CLIENT_ADMIN and
/// CLIENT_SERVICE (stored as CLIENT + flag); the permission flags accept the three spellings Oz
/// documentation uses (`analyse`, `analysis`, `analyze`).
#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub middle_name: Option<String>,
    pub user_type: String,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    #[serde(default)]
    pub is_admin: Option<bool>,
    #[serde(default)]
    pub is_service: Option<bool>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default, alias = "can_start_analysis_biometry", alias = "can_start_analyze_biometry")]
    pub can_start_analyse_biometry: Option<bool>,
    #[serde(default, alias = "can_start_analysis_quality", alias = "can_start_analyze_quality")]
    pub can_start_analyse_quality: Option<bool>,
    #[serde(default, alias = "can_start_analysis_collection", alias = "can_start_analyze_collection")]
    pub can_start_analyse_collection: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
}

/// Body of `PATCH /api/users/{id}/`: any subset of the editable fields.
#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub user_type: Option<String>,
    pub company_id: Option<Uuid>,
    pub is_admin: Option<bool>,
    pub is_service: Option<bool>,
    pub is_active: Option<bool>,
    #[serde(alias = "can_start_analysis_biometry", alias = "can_start_analyze_biometry")]
    pub can_start_analyse_biometry: Option<bool>,
    #[serde(alias = "can_start_analysis_quality", alias = "can_start_analyze_quality")]
    pub can_start_analyse_quality: Option<bool>,
    #[serde(alias = "can_start_analysis_collection", alias = "can_start_analyze_collection")]
    pub can_start_analyse_collection: Option<bool>,
}

/// Body of `POST /api/users/{id}/change-password/`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PasswordChange {
    /// Required when users change their own password.
    #[serde(default)]
    pub old_password: Option<String>,
    pub new_password: String,
}

#[derive(Debug, Default, Clone)]
pub struct UserQuery {
    pub filter: users::UserFilter,
    pub paging: Paging,
}

/// Maps a wire `user_type` to (stored type, is_admin, is_service).
fn normalize_type(t: &str) -> Result<(&'static str, Option<bool>, Option<bool>)> {
    Ok(match t.trim().to_ascii_uppercase().replace(' ', "_").as_str() {
        "ADMIN" => ("ADMIN", Some(false), Some(false)),
        "OPERATOR" => ("OPERATOR", Some(false), Some(false)),
        "CLIENT" => ("CLIENT", None, None),
        "CLIENT_ADMIN" => ("CLIENT", Some(true), None),
        "CLIENT_SERVICE" => ("CLIENT", None, Some(true)),
        "CLIENT_OPERATOR" => ("CLIENT_OPERATOR", Some(false), None),
        other => {
            return Err(Error::value(format!(
                "unknown user_type '{other}'; expected ADMIN, OPERATOR, CLIENT, CLIENT_ADMIN, CLIENT_OPERATOR or CLIENT_SERVICE"
            )));
        }
    })
}

pub(crate) fn check_email(e: &str) -> Result<String> {
    let e = e.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains('@'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(e)
    } else {
        let shown: String = e.chars().filter(|c| !c.is_control()).take(254).collect();
        Err(Error::value(format!("'{shown}' is not a valid e-mail address")))
    }
}

/// Writes the names a patch gives (absent ones stay).
fn set_names(u: &mut User, first: Option<String>, last: Option<String>, middle: Option<String>) {
    if let Some(v) = first {
        u.first_name = v;
    }
    if let Some(v) = last {
        u.last_name = v;
    }
    if middle.is_some() {
        u.middle_name = middle;
    }
}

/// First, last and middle names: bounded, printable.
fn check_names(first: &Option<String>, last: &Option<String>, middle: &Option<String>) -> Result<()> {
    for (what, v) in [("first_name", first), ("last_name", last), ("middle_name", middle)] {
        if let Some(v) = v {
            vigil_domain::text::check_name(what, v, vigil_domain::text::MAX_NAME)?;
        }
    }
    Ok(())
}

/// E-mails are unique across companies. Only ADMIN (and the CLI) learn that one exists; others
/// get the same answer whether it belongs to their company or to another, so they cannot probe
/// other companies' users.
fn email_taken(e: vigil_store::StoreError, caller: Caller<'_>, email: &str) -> Error {
    let told = match caller {
        Caller::System => true,
        Caller::User(p) => p.role == Role::Admin,
    };
    match e {
        vigil_store::StoreError::Conflict(_) if told => {
            Error::new(Code::Conflict, format!("a user with e-mail '{email}' already exists"))
        }
        vigil_store::StoreError::Conflict(_) => {
            Error::new(Code::Conflict, format!("e-mail '{email}' cannot be used; choose another"))
        }
        other => Error::internal(other),
    }
}

fn role_of(u: &User) -> Role {
    Role::derive(&u.user_type, u.is_admin, u.is_service)
}

impl App {
    pub(crate) async fn visible_user(&self, p: &Principal, id: Uuid) -> Result<User> {
        let u = users::get(&mut self.store(), id).await.infra()?.ok_or_else(|| Error::not_found("user"))?;
        if !p.can_read_user(u.user_id, u.company_id) {
            return Err(Error::not_found("user"));
        }
        Ok(u)
    }

    /// Resolves which company a new or moved CLIENT-family user belongs to, and checks it exists.
    async fn client_company(&self, p: &Principal, requested: Option<Uuid>) -> Result<Uuid> {
        let company_id = match (requested, p.role) {
            (Some(c), _) => c,
            (None, Role::ClientAdmin) => p.company_id,
            (None, _) => return Err(Error::structure("company_id is required for CLIENT users")),
        };
        if company_id == SYSTEM_COMPANY_ID {
            return Err(Error::value("CLIENT users cannot belong to the system company"));
        }
        companies::get(&mut self.store(), company_id)
            .await
            .infra()?
            .ok_or_else(|| Error::value("company_id names no company"))?;
        Ok(company_id)
    }

    /// Creates a user; `Caller::System` is the operator's own bootstrap (CLI, first start).
    pub async fn create_user(&self, caller: Caller<'_>, n: NewUser) -> Result<User> {
        let (user_type, admin_flag, service_flag) = normalize_type(&n.user_type)?;
        let is_admin = admin_flag.or(n.is_admin).unwrap_or(false) && user_type == "CLIENT";
        let is_service =
            service_flag.or(n.is_service).unwrap_or(false) && user_type != "ADMIN" && user_type != "OPERATOR";
        let role = Role::derive(user_type, is_admin, is_service);
        let company_id = if role.is_global() {
            SYSTEM_COMPANY_ID
        } else {
            match caller {
                Caller::User(p) => self.client_company(p, n.company_id).await?,
                Caller::System => {
                    let c = n.company_id.ok_or_else(|| Error::structure("company_id is required for CLIENT users"))?;
                    companies::get(&mut self.store(), c)
                        .await
                        .infra()?
                        .ok_or_else(|| Error::value("company_id names no company"))?;
                    c
                }
            }
        };
        if let Caller::User(p) = caller
            && (!p.can_manage_user(company_id, role) || (is_service && !p.can_grant_service(user_type, is_admin)))
        {
            return Err(Error::forbidden());
        }
        let email = check_email(&n.email)?;
        check_names(&n.first_name, &n.last_name, &n.middle_name)?;
        self.cfg().password_policy.check(&n.password)?;
        let meta = n.meta_data.unwrap_or_else(|| Value::Object(Default::default()));
        vigil_domain::text::check_meta("meta_data", &meta)?;
        let now = now_micros();
        let u = User {
            user_id: Uuid::new_v4(),
            user_type: user_type.to_string(),
            email,
            first_name: n.first_name.unwrap_or_default(),
            last_name: n.last_name.unwrap_or_default(),
            middle_name: n.middle_name,
            company_id,
            is_admin,
            is_service,
            is_active: n.is_active.unwrap_or(true),
            can_start_analyse_biometry: n.can_start_analyse_biometry.unwrap_or(true),
            can_start_analyse_quality: n.can_start_analyse_quality.unwrap_or(true),
            can_start_analyse_collection: n.can_start_analyse_collection.unwrap_or(true),
            meta_data: meta,
            time_created: vigil_domain::time::micros_to_secs(now),
            time_updated: vigil_domain::time::micros_to_secs(now),
        };
        let hash = crypto::hash_password(n.password).await?;
        let mut tx = self.store().begin().await.infra()?;
        users::insert(&mut tx, &u, &hash, now).await.map_err(|e| email_taken(e, caller, &u.email))?;
        let change = Change::new("create", "user", u.user_id, Some(u.company_id)).diff(None, Some(&u));
        crate::audit::record(&mut tx, caller, change).await?;
        tx.commit().await.infra()?;
        Ok(u)
    }

    pub async fn get_user(&self, p: &Principal, id: Uuid) -> Result<User> {
        self.visible_user(p, id).await
    }

    pub async fn list_users(&self, p: &Principal, q: &UserQuery) -> Result<Page<User>> {
        let (items, total) = users::list(&mut self.store(), p.user_scope(), &q.filter, q.paging).await.infra()?;
        Ok(Page { total, items })
    }

    pub async fn patch_user(&self, p: &Principal, id: Uuid, patch: UserPatch) -> Result<User> {
        let mut u = self.visible_user(p, id).await?;
        let old = u.clone();
        if !p.can_manage_user(u.company_id, role_of(&u)) {
            if u.user_id != p.user_id {
                return Err(Error::forbidden());
            }
            return self.patch_own_names(p, u, patch).await;
        }
        check_names(&patch.first_name, &patch.last_name, &patch.middle_name)?;
        let was_active = u.is_active;
        let before = (u.is_service, u.user_type.clone(), u.is_admin);
        if let Some(t) = &patch.user_type {
            let (t, a, s) = normalize_type(t)?;
            u.user_type = t.to_string();
            if let Some(a) = a {
                u.is_admin = a;
            }
            if let Some(s) = s {
                u.is_service = s;
            }
        }
        if let Some(e) = &patch.email {
            u.email = check_email(e)?;
        }
        let set = |dst: &mut bool, v: Option<bool>| {
            if let Some(v) = v {
                *dst = v
            }
        };
        set(&mut u.is_admin, patch.is_admin);
        set(&mut u.is_service, patch.is_service);
        set(&mut u.is_active, patch.is_active);
        set(&mut u.can_start_analyse_biometry, patch.can_start_analyse_biometry);
        set(&mut u.can_start_analyse_quality, patch.can_start_analyse_quality);
        set(&mut u.can_start_analyse_collection, patch.can_start_analyse_collection);
        set_names(&mut u, patch.first_name, patch.last_name, patch.middle_name);
        let role = role_of(&u);
        if role.is_global() {
            u.company_id = SYSTEM_COMPANY_ID;
            u.is_admin = false;
        } else if patch.company_id.is_some() || u.company_id == SYSTEM_COMPANY_ID {
            u.company_id = self.client_company(p, patch.company_id).await?;
        }
        // The edited user must still be one the caller may manage (no self-escalation to ADMIN),
        // and a service account made or reshaped here only one the caller may grant (blocking or
        // renaming an existing one stays possible).
        let service_changed =
            u.is_service && (u.is_service, &u.user_type, u.is_admin) != (before.0, &before.1, before.2);
        if !p.can_manage_user(u.company_id, role) || (service_changed && !p.can_grant_service(&u.user_type, u.is_admin))
        {
            return Err(Error::forbidden());
        }
        if u.user_id == p.user_id && !u.is_active {
            return Err(Error::value("you cannot block your own account"));
        }
        // A blocked user keeps its sessions while blocked, so that every call answers 1401
        // (blocked), not 7; unblocking ends them, so old tokens do not come back to life.
        let mut tx = self.store().begin().await.infra()?;
        users::update(&mut tx, &u, now_micros()).await.map_err(|e| email_taken(e, Caller::User(p), &u.email))?;
        if u.is_active && !was_active {
            sessions::delete_for_user(&mut tx, u.user_id).await.infra()?;
        }
        let action = match (was_active, u.is_active) {
            (true, false) => "block",
            (false, true) => "unblock",
            _ => "update",
        };
        let change = Change::new(action, "user", id, Some(u.company_id)).diff(Some(&old), Some(&u));
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.visible_user(p, id).await
    }

    /// Users who cannot manage themselves (CLIENT, CLIENT OPERATOR, OPERATOR, service accounts)
    /// may change their own names. The object they read may be sent back whole: other fields are
    /// accepted when unchanged and refused when changed.
    async fn patch_own_names(&self, p: &Principal, mut u: User, patch: UserPatch) -> Result<User> {
        let old = u.clone();
        let same = |v: Option<bool>, cur: bool| v.is_none_or(|v| v == cur);
        let type_same = match &patch.user_type {
            None => true,
            Some(t) => {
                let (ty, admin, service) = normalize_type(t)?;
                ty == u.user_type && same(admin, u.is_admin) && same(service, u.is_service)
            }
        };
        let unchanged = type_same
            && patch.email.as_deref().is_none_or(|e| e.trim().eq_ignore_ascii_case(&u.email))
            && patch.company_id.is_none_or(|c| c == u.company_id)
            && same(patch.is_admin, u.is_admin)
            && same(patch.is_service, u.is_service)
            && same(patch.is_active, u.is_active)
            && same(patch.can_start_analyse_biometry, u.can_start_analyse_biometry)
            && same(patch.can_start_analyse_quality, u.can_start_analyse_quality)
            && same(patch.can_start_analyse_collection, u.can_start_analyse_collection);
        if !unchanged {
            return Err(Error::new(
                Code::AuthForbidden,
                "you may change only your own first_name, last_name and middle_name",
            ));
        }
        check_names(&patch.first_name, &patch.last_name, &patch.middle_name)?;
        set_names(&mut u, patch.first_name, patch.last_name, patch.middle_name);
        let mut tx = self.store().begin().await.infra()?;
        users::update(&mut tx, &u, now_micros()).await.infra()?;
        let change = Change::new("update", "user", u.user_id, Some(u.company_id)).diff(Some(&old), Some(&u));
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.visible_user(p, u.user_id).await
    }

    pub async fn delete_user(&self, p: &Principal, id: Uuid) -> Result<()> {
        let u = self.visible_user(p, id).await?;
        if !p.can_manage_user(u.company_id, role_of(&u)) {
            return Err(Error::forbidden());
        }
        if u.user_id == p.user_id {
            return Err(Error::value("you cannot delete your own account"));
        }
        // A user's reports go with the user: their rows by cascade, their files here.
        let reports = self.report_keys_of_user(id).await?;
        let mut tx = self.store().begin().await.infra()?;
        users::delete(&mut tx, id).await.infra()?;
        let change = Change::new("delete", "user", id, Some(u.company_id)).diff(Some(&u), None);
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.remove_report_files(&reports).await;
        Ok(())
    }

    pub async fn change_password(&self, p: &Principal, id: Uuid, c: PasswordChange) -> Result<()> {
        let u = self.visible_user(p, id).await?;
        if users::is_directory_user(&mut self.store(), id).await.infra()? {
            return Err(Error::value("this account signs in through the directory: change its password there"));
        }
        let manager = p.can_manage_user(u.company_id, role_of(&u)) && u.user_id != p.user_id;
        if !manager && !p.can_change_password(u.user_id, u.company_id, role_of(&u)) {
            return Err(Error::forbidden());
        }
        if !manager {
            let old = c
                .old_password
                .ok_or_else(|| Error::structure("old_password is required to change your own password"))?;
            let (_, hash) = vigil_store::users::get_with_hash(&mut self.store(), id)
                .await
                .infra()?
                .ok_or_else(|| Error::not_found("user"))?;
            if !crypto::verify_password(old, hash).await? {
                return Err(Error::new(Code::InvalidValue, "old_password is wrong"));
            }
        }
        self.cfg().password_policy.check(&c.new_password)?;
        let hash = crypto::hash_password(c.new_password).await?;
        let mut tx = self.store().begin().await.infra()?;
        users::set_password(&mut tx, id, &hash, now_micros()).await.infra()?;
        // Someone else's password was reset: their sessions end. One's own: the others end.
        let keep = if manager { None } else { p.session_id };
        let ended = sessions::delete_for_user_except(&mut tx, id, keep).await.infra()?;
        let change = Change::new("change_password", "user", id, Some(u.company_id))
            .field("password", Value::Null, Value::Null)
            .field("sessions_revoked", Value::Null, serde_json::json!(ended));
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        Ok(())
    }

    /// Operator tasks (CLI): no caller, full rights.
    pub async fn admin_set_password(&self, email: &str, password: String) -> Result<()> {
        self.cfg().password_policy.check(&password)?;
        let (u, _) = users::get_by_email_with_hash(&mut self.store(), &email.trim().to_lowercase())
            .await
            .infra()?
            .ok_or_else(|| Error::not_found("user"))?;
        let hash = crypto::hash_password(password).await?;
        let mut tx = self.store().begin().await.infra()?;
        users::set_password(&mut tx, u.user_id, &hash, now_micros()).await.infra()?;
        sessions::delete_for_user(&mut tx, u.user_id).await.infra()?;
        let change = Change::new("change_password", "user", u.user_id, Some(u.company_id)).field(
            "password",
            Value::Null,
            Value::Null,
        );
        crate::audit::record(&mut tx, Caller::System, change).await?;
        tx.commit().await.infra()
    }

    pub async fn admin_list_users(&self) -> Result<Vec<User>> {
        let paging = Paging { offset: 0, limit: i64::MAX, total_omit: true };
        let (items, _) = users::list(&mut self.store(), vigil_domain::policy::Scope::All, &Default::default(), paging)
            .await
            .infra()?;
        Ok(items)
    }

    pub async fn admin_delete_user(&self, email: &str) -> Result<()> {
        let (u, _) = users::get_by_email_with_hash(&mut self.store(), &email.trim().to_lowercase())
            .await
            .infra()?
            .ok_or_else(|| Error::not_found("user"))?;
        let mut tx = self.store().begin().await.infra()?;
        users::delete(&mut tx, u.user_id).await.infra()?;
        let change = Change::new("delete", "user", u.user_id, Some(u.company_id)).diff(Some(&u), None);
        crate::audit::record(&mut tx, Caller::System, change).await?;
        tx.commit().await.infra()
    }

    pub async fn user_count(&self) -> Result<i64> {
        users::count(&mut self.store()).await.infra()
    }
}
