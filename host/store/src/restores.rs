//! One-time password-restore tokens, stored as SHA-256 hashes.

use crate::{Exec, Result, Sql};
use uuid::Uuid;
use vigil_domain::time::Micros;

/// Replaces the user's pending token with a new one.
pub async fn replace(ex: &mut impl Exec, user_id: Uuid, token_hash: &str, expires: Micros, now: Micros) -> Result<()> {
    let mut q = Sql::new("DELETE FROM password_restores WHERE user_id = ");
    q.bind(user_id);
    ex.execute(q).await?;
    let mut q = Sql::new("INSERT INTO password_restores (token_hash, user_id, expires, time_created) VALUES (");
    q.bind(token_hash).push(", ").bind(user_id).push(", ").bind(expires).push(", ").bind(now).push(")");
    ex.execute(q).await.map(|_| ())
}

/// Consumes a token: returns its user and expiry and deletes it, so it works once.
pub async fn take(ex: &mut impl Exec, token_hash: &str) -> Result<Option<(Uuid, Micros)>> {
    let mut q = Sql::new("SELECT user_id, expires FROM password_restores WHERE token_hash = ");
    q.bind(token_hash);
    let found = ex.fetch_optional(q, |r| Ok((r.uuid("user_id")?, r.int("expires")?))).await?;
    if found.is_some() {
        let mut q = Sql::new("DELETE FROM password_restores WHERE token_hash = ");
        q.bind(token_hash);
        // Two concurrent uses: only the one that deletes the row wins.
        if ex.execute(q).await? == 0 {
            return Ok(None);
        }
    }
    Ok(found)
}

/// When the user's pending token was made, if there is one.
pub async fn pending_since(ex: &mut impl Exec, user_id: Uuid) -> Result<Option<Micros>> {
    let mut q = Sql::new("SELECT time_created FROM password_restores WHERE user_id = ");
    q.bind(user_id);
    ex.fetch_optional(q, |r| r.int("time_created")).await
}

/// Removes expired tokens.
pub async fn purge_expired(ex: &mut impl Exec, now: Micros) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM password_restores WHERE expires < ");
    q.bind(now);
    ex.execute(q).await
}
