//! The audit log: one entry per change, written in the transaction of the change itself, and
//! read by ADMIN (everything) and CLIENT ADMIN (its company's objects).

use crate::{App, Infra, now_micros};
use uuid::Uuid;
use vigil_domain::audit::{AuditEntry, AuditFilter, Change};
use vigil_domain::model::Page;
use vigil_domain::policy::{Caller, Principal};
use vigil_domain::time::micros_to_secs;
use vigil_domain::{Error, Result};
use vigil_store::Exec;
use vigil_store::audit::{self, NewEntry};

/// Writes `change`, made by `by`, through `ex` — the transaction that makes the change.
pub(crate) async fn record(ex: &mut impl Exec, by: Caller<'_>, change: Change) -> Result<()> {
    let now = now_micros();
    let (user_id, user_company_id, ip, request_id) = match by {
        Caller::System => (None, None, None, None),
        Caller::User(p) => (Some(p.user_id), Some(p.company_id), p.origin.ip.clone(), p.origin.request_id.clone()),
    };
    let entry = AuditEntry {
        audit_id: Uuid::new_v4(),
        user_id,
        user_company_id,
        company_id: change.company_id,
        ip,
        request_id,
        action: change.action,
        object_type: change.object_type.to_string(),
        object_id: change.object_id,
        folder_id: change.folder_id,
        changes: change.changes,
        time_created: micros_to_secs(now),
    };
    audit::insert(ex, NewEntry { entry: &entry, time_created: now }).await.infra()
}

/// The object a per-object shortcut lists the history of.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    Folder(Uuid),
    User(Uuid),
    Company(Uuid),
}

impl App {
    /// `GET /api/audit_log/`.
    pub async fn audit_log(&self, p: &Principal, f: &AuditFilter) -> Result<Page<AuditEntry>> {
        let scope = p.audit_scope().ok_or_else(Error::forbidden)?;
        let (items, total) = audit::list(&mut self.store(), scope, f).await.infra()?;
        Ok(Page { total, items })
    }

    /// The history of one folder (with its media, analyses and reports), user or company. The
    /// caller's scope bounds it as it bounds the whole log, so a deleted object's history stays
    /// readable and another tenant's object shows nothing.
    pub async fn audit_of(&self, p: &Principal, subject: Subject, mut f: AuditFilter) -> Result<Page<AuditEntry>> {
        match subject {
            Subject::Folder(id) => f.folder_id = Some(id),
            Subject::User(id) => f.object_ids.push(id),
            Subject::Company(id) => {
                if !p.can_read_company(id) && !p.role.is_global() {
                    return Err(Error::not_found("company"));
                }
                f.company_ids.push(id);
            }
        }
        self.audit_log(p, &f).await
    }
}
