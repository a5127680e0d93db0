//! Sessions: hashed token pairs with sliding expiry and rotation on refresh.

use crate::{Exec, Result, Row, Sql};
use uuid::Uuid;
use vigil_domain::time::Micros;

#[derive(Debug, Clone)]
pub struct Session {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub access_hash: String,
    pub refresh_hash: String,
    pub access_expires: Micros,
    pub refresh_expires: Micros,
    pub ttl_secs: i64,
    /// Set on a pair made by refresh until its first use, which deletes the predecessor.
    pub predecessor_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub time_created: Micros,
    pub last_used: Option<Micros>,
    /// The log-in this session descends from by refreshes (its own id for a log-in).
    pub family_id: Uuid,
    /// Whether its refresh token was spent.
    pub refresh_used: bool,
}

const COLS: &str = "session_id, user_id, access_hash, refresh_hash, access_expires, refresh_expires, ttl_secs, \
     predecessor_id, ip, user_agent, time_created, last_used, family_id, refresh_used";

fn row(r: &dyn Row) -> Result<Session> {
    Ok(Session {
        session_id: r.uuid("session_id")?,
        user_id: r.uuid("user_id")?,
        access_hash: r.text("access_hash")?,
        refresh_hash: r.text("refresh_hash")?,
        access_expires: r.int("access_expires")?,
        refresh_expires: r.int("refresh_expires")?,
        ttl_secs: r.int("ttl_secs")?,
        predecessor_id: r.opt_uuid("predecessor_id")?,
        ip: r.opt_text("ip")?,
        user_agent: r.opt_text("user_agent")?,
        time_created: r.int("time_created")?,
        last_used: r.opt_int("last_used")?,
        family_id: r.opt_uuid("family_id")?.unwrap_or(r.uuid("session_id")?),
        refresh_used: r.boolean("refresh_used")?,
    })
}

pub async fn insert(ex: &mut impl Exec, s: &Session) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO sessions ({COLS}) VALUES ("));
    q.bind(s.session_id).push(", ").bind(s.user_id).push(", ").bind(s.access_hash.as_str()).push(", ");
    q.bind(s.refresh_hash.as_str()).push(", ").bind(s.access_expires).push(", ").bind(s.refresh_expires);
    q.push(", ").bind(s.ttl_secs).push(", ").bind(s.predecessor_id).push(", ").bind(s.ip.clone()).push(", ");
    q.bind(s.user_agent.clone()).push(", ").bind(s.time_created).push(", ").bind(s.last_used).push(", ");
    q.bind(s.family_id).push(", ").bind(s.refresh_used).push(")");
    ex.execute(q).await.map(|_| ())
}

/// Spends a session's refresh token; false when it was already spent (reuse) or is gone. The
/// conditional update makes two concurrent refreshes with one token see one success.
pub async fn spend_refresh(ex: &mut impl Exec, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("UPDATE sessions SET refresh_used = ");
    q.bind(true).push(" WHERE session_id = ").bind(id).push(" AND refresh_used = ").bind(false);
    Ok(ex.execute(q).await? == 1)
}

/// Revokes every session of a family (refresh-token reuse).
pub async fn delete_family(ex: &mut impl Exec, family_id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM sessions WHERE family_id = ");
    q.bind(family_id).push(" OR session_id = ").bind(family_id);
    ex.execute(q).await
}

/// A user's sessions, newest first.
pub async fn of_user(ex: &mut impl Exec, user_id: Uuid) -> Result<Vec<Session>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM sessions WHERE user_id = "));
    q.bind(user_id).push(" ORDER BY time_created DESC, session_id");
    ex.fetch_all(q, row).await
}

pub async fn get(ex: &mut impl Exec, id: Uuid) -> Result<Option<Session>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM sessions WHERE session_id = "));
    q.bind(id);
    ex.fetch_optional(q, row).await
}

/// Logs a user out everywhere but `keep` (the caller's own session).
pub async fn delete_for_user_except(ex: &mut impl Exec, user_id: Uuid, keep: Option<Uuid>) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM sessions WHERE user_id = ");
    q.bind(user_id);
    if let Some(k) = keep {
        q.push(" AND session_id <> ").bind(k);
    }
    ex.execute(q).await
}

pub async fn by_access_hash(ex: &mut impl Exec, hash: &str) -> Result<Option<Session>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM sessions WHERE access_hash = "));
    q.bind(hash);
    ex.fetch_optional(q, row).await
}

pub async fn by_refresh_hash(ex: &mut impl Exec, hash: &str) -> Result<Option<Session>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM sessions WHERE refresh_hash = "));
    q.bind(hash);
    ex.fetch_optional(q, row).await
}

/// Slides the access expiry forward and records the use.
pub async fn touch(ex: &mut impl Exec, id: Uuid, access_expires: Micros, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE sessions SET access_expires = ");
    q.bind(access_expires).push(", last_used = ").bind(now).push(" WHERE session_id = ").bind(id);
    ex.execute(q).await
}

/// First use of a refreshed pair: the old pair dies.
pub async fn activate(ex: &mut impl Exec, s: &Session) -> Result<()> {
    if let Some(old) = s.predecessor_id {
        delete(ex, old).await?;
        let mut q = Sql::new("UPDATE sessions SET predecessor_id = NULL WHERE session_id = ");
        q.bind(s.session_id);
        ex.execute(q).await?;
    }
    Ok(())
}

pub async fn delete(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM sessions WHERE session_id = ");
    q.bind(id);
    ex.execute(q).await
}

/// Logs a user out everywhere (password change, block, delete).
pub async fn delete_for_user(ex: &mut impl Exec, user_id: Uuid) -> Result<u64> {
    delete_for_user_except(ex, user_id, None).await
}

/// Removes sessions whose refresh token has expired too.
pub async fn purge_expired(ex: &mut impl Exec, now: Micros) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM sessions WHERE refresh_expires < ");
    q.bind(now);
    ex.execute(q).await
}
