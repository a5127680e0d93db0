//! Companies: ADMIN manages them; everyone else reads their own.

use crate::{App, Infra, now_micros};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::audit::Change;
use vigil_domain::filter::Paging;
use vigil_domain::model::{Company, Page};
use vigil_domain::policy::{Caller, Principal};
use vigil_domain::{Error, Result};
use vigil_store::{SYSTEM_COMPANY_ID, companies};

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CompanyBody {
    pub name: String,
}

fn check_name(n: &str) -> Result<String> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 200 {
        return Err(Error::value("company name must be 1 to 200 characters"));
    }
    vigil_domain::text::check_name("company name", n, 200)?;
    Ok(n.to_string())
}

impl App {
    async fn visible_company(&self, p: &Principal, id: Uuid) -> Result<Company> {
        let c = companies::get(&mut self.store(), id).await.infra()?.ok_or_else(|| Error::not_found("company"))?;
        if !p.can_read_company(id) {
            return Err(Error::not_found("company"));
        }
        Ok(c)
    }

    pub async fn create_company(&self, caller: Caller<'_>, b: CompanyBody) -> Result<Company> {
        if let Caller::User(p) = caller
            && !p.can_manage_companies()
        {
            return Err(Error::forbidden());
        }
        let id = Uuid::new_v4();
        let name = check_name(&b.name)?;
        let mut tx = self.store().begin().await.infra()?;
        companies::insert(&mut tx, id, &name, now_micros()).await.infra()?;
        let change = Change::new("create", "company", id, Some(id)).field("name", Value::Null, json!(name));
        crate::audit::record(&mut tx, caller, change).await?;
        tx.commit().await.infra()?;
        companies::get(&mut self.store(), id)
            .await
            .infra()?
            .ok_or_else(|| Error::internal("company vanished after insert"))
    }

    pub async fn get_company(&self, p: &Principal, id: Uuid) -> Result<Company> {
        self.visible_company(p, id).await
    }

    pub async fn list_companies(&self, p: &Principal, search: Option<&str>, paging: Paging) -> Result<Page<Company>> {
        let (items, total) = companies::list(&mut self.store(), p.company_scope(), search, paging).await.infra()?;
        Ok(Page { total, items })
    }

    pub async fn rename_company(&self, p: &Principal, id: Uuid, b: CompanyBody) -> Result<Company> {
        let old = self.visible_company(p, id).await?;
        if !p.can_manage_companies() {
            return Err(Error::forbidden());
        }
        let name = check_name(&b.name)?;
        let mut tx = self.store().begin().await.infra()?;
        companies::rename(&mut tx, id, &name, now_micros()).await.infra()?;
        let change = Change::new("update", "company", id, Some(id)).field("name", json!(old.name), json!(name));
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.visible_company(p, id).await
    }

    /// Deletes a company with its users, folders, media rows and files.
    pub async fn delete_company(&self, p: &Principal, id: Uuid) -> Result<()> {
        let old = self.visible_company(p, id).await?;
        if !p.can_manage_companies() {
            return Err(Error::forbidden());
        }
        if id == SYSTEM_COMPANY_ID {
            return Err(Error::value("the system company cannot be deleted"));
        }
        let collections = vigil_store::collections::collections_of_company(&mut self.store(), id).await.infra()?;
        let mut tx = self.store().begin().await.infra()?;
        companies::delete(&mut tx, id).await.infra()?;
        let change = Change::new("delete", "company", id, Some(id)).field("name", json!(old.name), Value::Null);
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.forget_collections(&collections).await;
        // Rows first: once they are gone nothing references the files, so a failed file removal
        // leaves unreachable bytes (logged) rather than rows pointing at missing files.
        if let Err(e) = self.blob().delete_prefix(&format!("{id}/")).await {
            tracing::error!(company_id = %id, error = %e, "company files not removed");
        }
        // Its plugins went with the rows; unload them now rather than at the next sync.
        if let Err(e) = self.sync_plugins().await {
            tracing::warn!(error = %e.message, "plugin sync after company deletion failed");
        }
        Ok(())
    }
}
