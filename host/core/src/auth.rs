//! Log-in, token resolution with sliding expiry, refresh with rotation.

use crate::crypto::{self, DUMMY_HASH, new_token, token_hash};
use crate::{App, Infra, now_micros};
use uuid::Uuid;
use vigil_domain::audit::Change;
use vigil_domain::model::{TokenPair, User};
use vigil_domain::policy::{Caller, Principal, Role};
use vigil_domain::time::micros_to_secs;
use vigil_domain::{Code, Error, Result};
use vigil_store::sessions::{self, Session};
use vigil_store::users;

const MICROS: i64 = 1_000_000;

/// Where a log-in came from, kept with its session for the sessions list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// Bounded: these are shown back to users and stored per session.
    fn clean(v: Option<String>) -> Option<String> {
        v.map(|s| s.chars().filter(|c| !c.is_control()).take(256).collect::<String>()).filter(|s| !s.is_empty())
    }
}

/// One session as `GET /api/users/{id}/sessions` shows it; tokens are never shown.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub time_created: f64,
    /// The last request made with it (to within a second); null before the first.
    pub time_last_used: Option<f64>,
    /// When its access token expires unless used again.
    pub expire_date: f64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether this is the session of the request that lists it.
    pub current: bool,
}

fn blocked() -> Error {
    Error::new(Code::BlockedUser, "user is blocked")
}

pub fn principal_of(u: &User) -> Principal {
    Principal {
        user_id: u.user_id,
        company_id: u.company_id,
        role: Role::derive(&u.user_type, u.is_admin, u.is_service),
        can_start_analyse_quality: u.can_start_analyse_quality,
        can_start_analyse_biometry: u.can_start_analyse_biometry,
        can_start_analyse_collection: u.can_start_analyse_collection,
        session_id: None,
        session_expires: None,
        origin: Default::default(),
    }
}

impl App {
    fn ttl_for(&self, u: &User) -> i64 {
        let c = self.cfg();
        let ttl = match Role::derive(&u.user_type, u.is_admin, u.is_service) {
            Role::Admin => c.admin_session_ttl_secs,
            _ if u.is_service => c.session_longlive_ttl_secs,
            _ => c.session_ttl_secs,
        };
        ttl as i64
    }

    /// A new token pair: for a log-in (`from` None), or by refresh of `from`, whose family and
    /// refresh expiry it inherits — the refresh expiry is fixed at log-in and never slides.
    pub(crate) async fn new_session(&self, u: User, from: Option<&Session>, client: &ClientInfo) -> Result<TokenPair> {
        let now = now_micros();
        let ttl = self.ttl_for(&u);
        let refresh_ttl = ttl.max(self.cfg().refresh_ttl_secs as i64);
        let (access, refresh) = (new_token()?, new_token()?);
        let session_id = Uuid::new_v4();
        let s = Session {
            session_id,
            user_id: u.user_id,
            access_hash: token_hash(&access),
            refresh_hash: token_hash(&refresh),
            // An access token never outlives its family's refresh expiry.
            access_expires: (now + ttl * MICROS).min(from.map_or(i64::MAX, |f| f.refresh_expires)),
            refresh_expires: from.map_or(now + refresh_ttl * MICROS, |f| f.refresh_expires),
            ttl_secs: ttl,
            predecessor_id: from.map(|f| f.session_id),
            ip: ClientInfo::clean(client.ip.clone()),
            user_agent: ClientInfo::clean(client.user_agent.clone()),
            time_created: now,
            last_used: None,
            family_id: from.map_or(session_id, |f| f.family_id),
            refresh_used: false,
        };
        sessions::insert(&mut self.store(), &s).await.infra()?;
        Ok(TokenPair {
            access_token: access,
            expire_token: refresh,
            expire_date: micros_to_secs(s.access_expires),
            user: u,
        })
    }

    /// `POST /api/authorize/auth`.
    pub async fn login(&self, email: &str, password: &str, client: &ClientInfo) -> Result<TokenPair> {
        let found = users::get_by_email_with_hash(&mut self.store(), &email.trim().to_lowercase()).await.infra()?;
        if self.uses_directory(found.as_ref().map(|(u, _)| u)).await? {
            return self.directory_login(email, password, client).await;
        }
        let (user, hash) = match found {
            Some((u, h)) => (Some(u), h),
            None => (None, DUMMY_HASH.to_string()),
        };
        let ok = crypto::verify_password(password.to_string(), hash).await?;
        let user = match user {
            Some(u) if ok => u,
            _ => return Err(Error::new(Code::AuthInvalid, "wrong e-mail or password")),
        };
        if !user.is_active {
            return Err(blocked());
        }
        self.new_session(user, None, client).await
    }

    /// Resolves an access token into the caller, sliding its expiry forward.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Principal> {
        let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
            Error::new(
                Code::AuthNotProvided,
                "access token not provided; send it in the X-Forensic-Access-Token header",
            )
        })?;
        let mut store = self.store();
        let s = sessions::by_access_hash(&mut store, &token_hash(token))
            .await
            .infra()?
            .ok_or_else(|| Error::new(Code::AuthInvalid, "access token not found"))?;
        let now = now_micros();
        if s.access_expires <= now {
            return Err(Error::new(Code::AuthExpired, "access token expired"));
        }
        let user = users::get(&mut store, s.user_id)
            .await
            .infra()?
            .ok_or_else(|| Error::new(Code::AuthInvalid, "access token not found"))?;
        if !user.is_active {
            return Err(blocked());
        }
        if s.predecessor_id.is_some() {
            sessions::activate(&mut store, &s).await.infra()?;
        }
        // Use slides the access expiry, but never past the log-in's fixed refresh expiry.
        let slid = (now + s.ttl_secs * MICROS).min(s.refresh_expires);
        // Skip the write when the expiry would move by less than a second (but record a first use).
        let expires = if slid - s.access_expires >= MICROS || s.last_used.is_none() {
            sessions::touch(&mut store, s.session_id, slid, now).await.infra()?;
            slid
        } else {
            s.access_expires
        };
        let mut p = principal_of(&user);
        p.session_id = Some(s.session_id);
        p.session_expires = Some(expires);
        Ok(p)
    }

    /// `POST /api/authorize/refresh`: a new pair for the caller's own session; the old pair keeps
    /// working until the new one is first used.
    pub async fn refresh(
        &self,
        access_token: Option<&str>,
        expire_token: Option<&str>,
        client: &ClientInfo,
    ) -> Result<TokenPair> {
        let expire_token = expire_token.ok_or_else(|| {
            Error::structure("Could not locate field for key_path expire_token from provided dict data")
        })?;
        let access_token = access_token.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
            Error::new(
                Code::AuthNotProvided,
                "access token not provided; send it in the X-Forensic-Access-Token header",
            )
        })?;
        let mut store = self.store();
        // The access token may have expired already: that is what refresh is for.
        let caller = sessions::by_access_hash(&mut store, &token_hash(access_token))
            .await
            .infra()?
            .ok_or_else(|| Error::new(Code::AuthInvalid, "access token not found"))?;
        let target = sessions::by_refresh_hash(&mut store, &token_hash(expire_token))
            .await
            .infra()?
            .ok_or_else(|| Error::new(Code::AuthInvalid, "Session not found"))?;
        if target.user_id != caller.user_id {
            return Err(Error::new(Code::AuthForbidden, "You have not access to refresh this session"));
        }
        if target.refresh_expires <= now_micros() {
            return Err(Error::new(Code::AuthExpired, "refresh token expired; log in again"));
        }
        let user = users::get(&mut store, target.user_id)
            .await
            .infra()?
            .ok_or_else(|| Error::new(Code::AuthInvalid, "Session not found"))?;
        if !user.is_active {
            return Err(blocked());
        }
        // A refresh token works once. A second use means two holders (one of them a thief):
        // the whole family is revoked and both must log in again.
        if !sessions::spend_refresh(&mut store, target.session_id).await.infra()? {
            let n = sessions::delete_family(&mut store, target.family_id).await.infra()?;
            tracing::warn!(user_id = %user.user_id, revoked = n, "refresh token reused: session family revoked");
            return Err(Error::new(
                Code::AuthInvalid,
                "refresh token already used; every session of this log-in has been revoked",
            ));
        }
        self.new_session(user, Some(&target), client).await
    }

    /// The user whose sessions `p` may see and end: oneself, any user for ADMIN, a company's
    /// users for its CLIENT ADMIN.
    async fn session_owner(&self, p: &Principal, user_id: Uuid) -> Result<User> {
        let u = self.visible_user(p, user_id).await?;
        let role = Role::derive(&u.user_type, u.is_admin, u.is_service);
        if u.user_id != p.user_id && !p.can_manage_user(u.company_id, role) {
            return Err(Error::forbidden());
        }
        Ok(u)
    }

    /// `GET /api/users/{id}/sessions`.
    pub async fn list_sessions(&self, p: &Principal, user_id: Uuid) -> Result<Vec<SessionInfo>> {
        let u = self.session_owner(p, user_id).await?;
        let now = now_micros();
        let list = sessions::of_user(&mut self.store(), u.user_id).await.infra()?;
        Ok(list
            .into_iter()
            // A session whose refresh token has expired too is gone in all but the purge.
            .filter(|s| s.refresh_expires > now)
            .map(|s| SessionInfo {
                session_id: s.session_id,
                user_id: s.user_id,
                time_created: micros_to_secs(s.time_created),
                time_last_used: s.last_used.map(micros_to_secs),
                expire_date: micros_to_secs(s.access_expires),
                ip: s.ip,
                user_agent: s.user_agent,
                current: Some(s.session_id) == p.session_id,
            })
            .collect())
    }

    /// `DELETE /api/users/{id}/sessions/{session_id}`: that session's tokens stop working.
    pub async fn revoke_session(&self, p: &Principal, user_id: Uuid, session_id: Uuid) -> Result<()> {
        let u = self.session_owner(p, user_id).await?;
        match sessions::get(&mut self.store(), session_id).await.infra()? {
            Some(s) if s.user_id == u.user_id => {
                let mut tx = self.store().begin().await.infra()?;
                sessions::delete(&mut tx, session_id).await.infra()?;
                let change = Change::new("revoke_session", "user", u.user_id, Some(u.company_id)).field(
                    "session_id",
                    serde_json::json!(session_id),
                    serde_json::Value::Null,
                );
                crate::audit::record(&mut tx, Caller::User(p), change).await?;
                tx.commit().await.infra()
            }
            _ => Err(Error::not_found("session")),
        }
    }

    /// `DELETE /api/users/{id}/sessions`: every session of the user ends, except the caller's
    /// own when it lists its own; returns how many ended.
    pub async fn revoke_sessions(&self, p: &Principal, user_id: Uuid) -> Result<u64> {
        let u = self.session_owner(p, user_id).await?;
        let keep = if u.user_id == p.user_id { p.session_id } else { None };
        let mut tx = self.store().begin().await.infra()?;
        let ended = sessions::delete_for_user_except(&mut tx, u.user_id, keep).await.infra()?;
        let change = Change::new("revoke_sessions", "user", u.user_id, Some(u.company_id)).field(
            "sessions_revoked",
            serde_json::Value::Null,
            serde_json::json!(ended),
        );
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        Ok(ended)
    }
}

impl App {
    /// Deletes sessions whose refresh token has expired; returns how many.
    pub async fn purge_sessions(&self) -> Result<u64> {
        sessions::purge_expired(&mut self.store(), now_micros()).await.infra()
    }
}
