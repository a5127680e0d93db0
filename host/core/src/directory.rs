//! Sign-in through an LDAP directory or Active Directory: the directory checks the password, its
//! groups give the role and company, and the local account is created or brought up to date.

use crate::auth::ClientInfo;
use crate::{App, Infra, crypto, now_micros};
use serde_json::Value;
use uuid::Uuid;
use vigil_directory::{DirectoryError, Ldap, LdapSettings};
use vigil_domain::audit::Change;
use vigil_domain::directory::{GroupRule, pick, role_fields};
use vigil_domain::model::{TokenPair, User};
use vigil_domain::policy::{Caller, Role};
use vigil_domain::{Code, Error, Result};
use vigil_store::{SYSTEM_COMPANY_ID, companies, sessions, users};

/// `VIGIL_LDAP_*`: the directory and its group rules.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    pub ldap: LdapSettings,
    pub rules: Vec<GroupRule>,
}

impl App {
    /// Whether `POST /api/authorize/auth` asks the directory for this login: when one is
    /// configured and no local (non-directory) account has this e-mail.
    pub(crate) async fn uses_directory(&self, local: Option<&User>) -> Result<bool> {
        if self.cfg().directory.is_none() {
            return Ok(false);
        }
        match local {
            None => Ok(true),
            Some(u) => users::is_directory_user(&mut self.store(), u.user_id).await.infra(),
        }
    }

    pub(crate) async fn directory_login(&self, login: &str, password: &str, client: &ClientInfo) -> Result<TokenPair> {
        let Some(cfg) = self.cfg().directory.clone() else {
            return Err(Error::new(Code::AuthInvalid, "wrong e-mail or password"));
        };
        let found = match Ldap::new(cfg.ldap).authenticate(login, password).await {
            Ok(f) => f,
            Err(DirectoryError::BadCredentials | DirectoryError::Ambiguous) => {
                return Err(Error::new(Code::AuthInvalid, "wrong e-mail or password"));
            }
            Err(DirectoryError::Disabled { email }) => {
                self.end_sessions_of(email.as_deref().unwrap_or(login)).await?;
                return Err(Error::new(Code::BlockedUser, "the directory account is disabled"));
            }
            Err(DirectoryError::Unavailable(e)) => {
                tracing::error!(error = %e, "directory sign-in failed");
                return Err(Error::new(Code::ExternalService, "the directory is unavailable; try again later"));
            }
        };
        let email =
            found.email.clone().or_else(|| login.contains('@').then(|| login.to_string())).ok_or_else(|| {
                Error::new(
                    Code::AuthForbidden,
                    "the directory account has no e-mail address (mail); ask an administrator",
                )
            })?;
        let email = crate::users::check_email(&email)?;
        let Some(rule) = pick(&cfg.rules, &found.groups) else {
            // Left every mapped group: no access, and sessions made while it was a member end.
            self.end_sessions_of(&email).await?;
            return Err(Error::new(
                Code::AuthForbidden,
                "the directory account is in no group that gives access to Vigil",
            ));
        };
        let (user_type, is_admin, is_service) =
            role_fields(&rule.role).ok_or_else(|| Error::internal("group rules were checked at start-up"))?;
        let company_id = if Role::derive(user_type, is_admin, is_service).is_global() {
            SYSTEM_COMPANY_ID
        } else {
            self.rule_company(rule).await?
        };
        let now = now_micros();
        let mut tx = self.store().begin_write().await.infra()?;
        let user = match users::get_by_email_with_hash(&mut tx, &email).await.infra()? {
            Some((mut u, _)) => {
                if !users::is_directory_user(&mut tx, u.user_id).await.infra()? {
                    return Err(Error::new(
                        Code::AuthForbidden,
                        "a local account has this e-mail: sign in with its own password",
                    ));
                }
                let old = u.clone();
                u.user_type = user_type.to_string();
                u.is_admin = is_admin;
                u.is_service = is_service;
                u.company_id = company_id;
                u.first_name = found.first_name.clone().unwrap_or(u.first_name);
                u.last_name = found.last_name.clone().unwrap_or(u.last_name);
                if serde_json::to_value(&u).ok() != serde_json::to_value(&old).ok() {
                    users::update(&mut tx, &u, now).await.infra()?;
                    let change =
                        Change::new("directory_sync", "user", u.user_id, Some(u.company_id)).diff(Some(&old), Some(&u));
                    crate::audit::record(&mut tx, Caller::System, change).await?;
                    if old.company_id != u.company_id || old.user_type != u.user_type || old.is_admin != u.is_admin {
                        // A new role or company: sessions of the old one end.
                        sessions::delete_for_user(&mut tx, u.user_id).await.infra()?;
                    }
                }
                u
            }
            None => {
                let u = User {
                    user_id: Uuid::new_v4(),
                    user_type: user_type.to_string(),
                    email: email.clone(),
                    first_name: found.first_name.clone().unwrap_or_default(),
                    last_name: found.last_name.clone().unwrap_or_default(),
                    middle_name: None,
                    company_id,
                    is_admin,
                    is_service,
                    is_active: true,
                    can_start_analyse_biometry: true,
                    can_start_analyse_quality: true,
                    can_start_analyse_collection: true,
                    meta_data: Value::Object(Default::default()),
                    time_created: vigil_domain::time::micros_to_secs(now),
                    time_updated: vigil_domain::time::micros_to_secs(now),
                };
                // No usable local password: the directory checks every sign-in.
                let unusable = crypto::hash_password(crypto::new_token()?).await?;
                users::insert(&mut tx, &u, &unusable, now).await.infra()?;
                let change = Change::new("create", "user", u.user_id, Some(u.company_id)).diff(None, Some(&u)).field(
                    "auth_source",
                    Value::Null,
                    Value::String(users::DIRECTORY_SOURCE.into()),
                );
                crate::audit::record(&mut tx, Caller::System, change).await?;
                u
            }
        };
        users::set_directory(&mut tx, user.user_id, &found.dn).await.infra()?;
        tx.commit().await.infra()?;
        if !user.is_active {
            // Blocked here by an administrator: the directory does not unblock.
            return Err(Error::new(Code::BlockedUser, "user is blocked"));
        }
        self.new_session(user, None, client).await
    }

    async fn rule_company(&self, rule: &GroupRule) -> Result<Uuid> {
        let name = rule.company.as_deref().unwrap_or("").trim();
        let by_id = match Uuid::parse_str(name) {
            Ok(id) => companies::get(&mut self.store(), id).await.infra()?,
            Err(_) => None,
        };
        let c = match by_id {
            Some(c) => Some(c),
            None => companies::by_name(&mut self.store(), name).await.infra()?,
        };
        c.map(|c| c.company_id).ok_or_else(|| {
            tracing::error!(company = %name, group = %rule.group, "an LDAP group rule names no company");
            Error::new(Code::AuthForbidden, "the directory group's company does not exist; ask an administrator")
        })
    }

    /// Ends the sessions of a directory account the directory no longer lets in.
    async fn end_sessions_of(&self, login: &str) -> Result<()> {
        let email = login.trim().to_lowercase();
        if let Some((u, _)) = users::get_by_email_with_hash(&mut self.store(), &email).await.infra()?
            && users::is_directory_user(&mut self.store(), u.user_id).await.infra()?
        {
            sessions::delete_for_user(&mut self.store(), u.user_id).await.infra()?;
        }
        Ok(())
    }
}
