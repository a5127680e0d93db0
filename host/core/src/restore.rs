//! Password restore, `POST /api/authorize/auth_restore`, in two steps.
//!
//! 1. `{"email": …}`: if the account exists and is active, a one-time token valid for
//!    `restore_ttl` (15 min) is made and delivered. Vigil assumes no mail server: the token goes
//!    to the company's webhook (event `user.password_restore`, signed like every delivery), whose
//!    receiver mails it; accounts without one (ADMIN, OPERATOR, companies without a webhook) get
//!    theirs from an operator, `vigil user restore-token EMAIL`. The answer is the same whether the
//!    account exists or not, so the call reveals nothing.
//! 2. `{"token": …, "new_password": …}`: the token is consumed (it works once, and only the newest
//!    one of a user works), the password is set and every session of the user ends.
//!
//! The token exists in clear only in the delivery: the job holds the user id and makes the token
//! when it runs, and only its hash is stored.

use crate::crypto::{self, new_token, token_hash};
use crate::{App, Infra, now_micros};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::time::micros_to_secs;
use vigil_domain::{Code, Error, Result};
use vigil_store::jobs::{self, Job};
use vigil_store::webhooks;
use vigil_store::{restores, sessions, users};

pub const JOB_RESTORE: &str = "password_restore";
pub const EVENT_RESTORE: &str = "user.password_restore";

/// A new token is not made more often than this per user (a flood of requests is answered the
/// same way but sends nothing).
const MIN_INTERVAL_MICROS: i64 = 60 * 1_000_000;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct RestoreBody {
    /// Step one: the account's e-mail.
    pub email: Option<String>,
    /// Step one, as the log-in body spells it: `{"credentials": {"email": …}}`.
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<serde_json::Value>,
    /// Step two: the token that was delivered.
    #[serde(alias = "restore_token")]
    pub token: Option<String>,
    /// Step two: the new password.
    #[serde(alias = "password")]
    pub new_password: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RestoreAnswer {
    /// `requested` (step one, whether or not the account exists) or `password_changed`.
    pub status: String,
}

impl App {
    /// `POST /api/authorize/auth_restore`.
    pub async fn auth_restore(&self, b: RestoreBody) -> Result<RestoreAnswer> {
        if let Some(token) = b.token.filter(|t| !t.trim().is_empty()) {
            let pw = b.new_password.ok_or_else(|| Error::structure("new_password is required with a restore token"))?;
            self.complete_restore(token.trim(), pw).await?;
            return Ok(RestoreAnswer { status: "password_changed".into() });
        }
        let email = b
            .email
            .or_else(|| b.credentials.as_ref().and_then(|c| c.get("email")?.as_str().map(str::to_string)))
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| {
                Error::structure("send {\"email\": …} to request a restore, or {\"token\", \"new_password\"}")
            })?;
        if email.len() > 320 {
            return Err(Error::value("email is longer than 320 characters"));
        }
        self.request_restore(&email).await?;
        Ok(RestoreAnswer { status: "requested".into() })
    }

    async fn request_restore(&self, email: &str) -> Result<()> {
        let found = users::get_by_email_with_hash(&mut self.store(), &email.trim().to_lowercase()).await.infra()?;
        let Some((u, _)) = found.filter(|(u, _)| u.is_active) else {
            tracing::info!("password restore requested for an unknown or blocked account");
            return Ok(());
        };
        let now = now_micros();
        if let Some(t) = restores::pending_since(&mut self.store(), u.user_id).await.infra()?
            && now - t < MIN_INTERVAL_MICROS
        {
            tracing::info!(user_id = %u.user_id, "password restore requested again within a minute; nothing sent");
            return Ok(());
        }
        match webhooks::company_hook(&mut self.store(), u.company_id).await.infra()? {
            Some((Some(url), _)) => {
                let payload = json!({ "url": url, "event": EVENT_RESTORE });
                let job = jobs::NewJob {
                    kind: JOB_RESTORE,
                    company_id: Some(u.company_id),
                    subject_id: Some(u.user_id),
                    payload: &payload,
                    max_attempts: i64::from(self.cfg().jobs.webhook_max_attempts),
                    run_at: now,
                };
                jobs::enqueue(&mut self.store(), &job, now).await.infra()?;
            }
            _ => tracing::warn!(
                user_id = %u.user_id,
                "password restore requested, but the account's company has no webhook to deliver it; \
                 an operator can issue one with `vigil user restore-token`"
            ),
        }
        Ok(())
    }

    /// Makes the user's one valid restore token; returns it and its expiry (UNIX seconds).
    async fn issue_restore_token(&self, user_id: Uuid) -> Result<(String, f64)> {
        let token = new_token()?;
        let now = now_micros();
        let expires = now + self.cfg().restore_ttl_secs as i64 * 1_000_000;
        restores::replace(&mut self.store(), user_id, &token_hash(&token), expires, now).await.infra()?;
        Ok((token, micros_to_secs(expires)))
    }

    /// Operator task (CLI): a restore token for the account `email`.
    pub async fn admin_restore_token(&self, email: &str) -> Result<(String, f64)> {
        let (u, _) = users::get_by_email_with_hash(&mut self.store(), &email.trim().to_lowercase())
            .await
            .infra()?
            .ok_or_else(|| Error::not_found("user"))?;
        self.issue_restore_token(u.user_id).await
    }

    async fn complete_restore(&self, token: &str, new_password: String) -> Result<()> {
        let invalid = || Error::new(Code::AuthInvalid, "restore token is invalid, used or expired");
        if token.len() > 256 {
            return Err(invalid());
        }
        // The policy is checked before the token is spent, so a weak password can be retried.
        self.cfg().password_policy.check(&new_password)?;
        let mut tx = self.store().begin().await.infra()?;
        let (user_id, expires) = restores::take(&mut tx, &token_hash(token)).await.infra()?.ok_or_else(invalid)?;
        let now = now_micros();
        if expires <= now {
            tx.commit().await.infra()?;
            return Err(invalid());
        }
        let hash = crypto::hash_password(new_password).await?;
        users::set_password(&mut tx, user_id, &hash, now).await.infra()?;
        sessions::delete_for_user(&mut tx, user_id).await.infra()?;
        let company = users::get(&mut tx, user_id).await.infra()?.map(|u| u.company_id);
        // No signed-in user makes this change: the restore token stands for the account holder.
        let change = vigil_domain::audit::Change::new("restore_password", "user", user_id, company).field(
            "password",
            serde_json::Value::Null,
            serde_json::Value::Null,
        );
        crate::audit::record(&mut tx, vigil_domain::policy::Caller::System, change).await?;
        tx.commit().await.infra()
    }

    /// Delivers a restore token to the company's webhook; a retry makes a fresh token.
    pub(crate) async fn run_restore_job(&self, owner: &str, job: &Job) -> Result<()> {
        let url = job.payload["url"].as_str().unwrap_or_default().to_string();
        let (Some(company), Some(user_id)) = (job.company_id, job.subject_id) else {
            return jobs::fail(&mut self.store(), job, owner, "restore job without company or user", now_micros())
                .await
                .infra()
                .map(|_| ());
        };
        let user = users::get(&mut self.store(), user_id).await.infra()?;
        let Some(user) = user.filter(|u| u.is_active && u.company_id == company) else {
            return jobs::complete(&mut self.store(), job, owner, now_micros()).await.infra().map(|_| ());
        };
        let (token, expire_date) = self.issue_restore_token(user.user_id).await?;
        let body = json!({
            "event": EVENT_RESTORE,
            "user": {
                "user_id": user.user_id, "email": user.email,
                "first_name": user.first_name, "last_name": user.last_name,
            },
            "token": token,
            "expire_date": expire_date,
        });
        let of = crate::webhooks::DeliveryOf { company, analyse_id: None, folder_id: None };
        self.deliver(owner, job, of, &url, EVENT_RESTORE, body.to_string()).await
    }

    /// Deletes expired restore tokens; returns how many.
    pub async fn purge_restores(&self) -> Result<u64> {
        restores::purge_expired(&mut self.store(), now_micros()).await.infra()
    }
}
