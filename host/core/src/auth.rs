//! Log-in, token resolution with sliding expiry, refresh with rotation.

use crate::crypto::{self, DUMMY_HASH, new_token, token_hash};
use crate::{App, Infra, now_micros};
use uuid::Uuid;
use vigil_domain::model::{TokenPair, User};
use vigil_domain::policy::{Principal, Role};
use vigil_domain::time::micros_to_secs;
use vigil_domain::{Code, Error, Result};
use vigil_store::sessions::{self, Session};
use vigil_store::users;

const MICROS: i64 = 1_000_000;

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
    }
}

impl App {
    fn ttl_for(&self, u: &User) -> i64 {
        let c = self.cfg();
        (if u.is_service { c.session_longlive_ttl_secs } else { c.session_ttl_secs }) as i64
    }

    async fn new_session(&self, u: User, predecessor: Option<Uuid>) -> Result<TokenPair> {
        let now = now_micros();
        let ttl = self.ttl_for(&u);
        let refresh_ttl = ttl.max(self.cfg().refresh_ttl_secs as i64);
        let (access, refresh) = (new_token()?, new_token()?);
        let s = Session {
            session_id: Uuid::new_v4(),
            user_id: u.user_id,
            access_hash: token_hash(&access),
            refresh_hash: token_hash(&refresh),
            access_expires: now + ttl * MICROS,
            refresh_expires: now + refresh_ttl * MICROS,
            ttl_secs: ttl,
            predecessor_id: predecessor,
        };
        sessions::insert(&mut self.store(), &s, now).await.infra()?;
        Ok(TokenPair {
            access_token: access,
            expire_token: refresh,
            expire_date: micros_to_secs(s.access_expires),
            user: u,
        })
    }

    /// `POST /api/authorize/auth`.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair> {
        let found = users::get_by_email_with_hash(&mut self.store(), &email.trim().to_lowercase()).await.infra()?;
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
        self.new_session(user, None).await
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
        let slid = now + s.ttl_secs * MICROS;
        // Skip the write when the expiry would move by less than a second.
        if slid - s.access_expires >= MICROS {
            sessions::touch(&mut store, s.session_id, slid).await.infra()?;
        }
        Ok(principal_of(&user))
    }

    /// `POST /api/authorize/refresh`: a new pair for the caller's own session; the old pair keeps
    /// working until the new one is first used.
    pub async fn refresh(&self, access_token: Option<&str>, expire_token: Option<&str>) -> Result<TokenPair> {
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
        self.new_session(user, Some(target.session_id)).await
    }
}

impl App {
    /// Deletes sessions whose refresh token has expired; returns how many.
    pub async fn purge_sessions(&self) -> Result<u64> {
        sessions::purge_expired(&mut self.store(), now_micros()).await.infra()
    }
}
