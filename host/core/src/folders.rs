//! Folders: read, list, edit, delete. Creation goes through [`crate::upload`].

use crate::{App, Infra, now_micros};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::audit::Change;
use vigil_domain::filter::FolderFilter;
use vigil_domain::model::{Folder, Page};
use vigil_domain::policy::{Caller, Principal, Role};
use vigil_domain::{Error, Result};
use vigil_store::{companies, folders, media, users};

/// What to embed in a folder response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Embed {
    pub analyses: bool,
    pub user: bool,
    pub company: bool,
}

/// Body of `PATCH /api/folders/{id}/`.
#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
pub struct FolderPatch {
    /// Replaces the folder's metadata.
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
    /// Hands the folder to another user of its company (ADMIN, CLIENT ADMIN).
    pub user_id: Option<Uuid>,
    pub operator_status: Option<String>,
    pub operator_comment: Option<String>,
}

impl App {
    pub(crate) async fn load_folder(&self, id: Uuid) -> Result<Folder> {
        folders::get(&mut self.store(), id).await.infra()?.ok_or_else(|| Error::not_found("folder"))
    }

    /// The folder if `p` may read it; otherwise "not found", so ids of other tenants reveal nothing.
    pub(crate) async fn folder_for_read(&self, p: &Principal, id: Uuid) -> Result<Folder> {
        let f = self.load_folder(id).await?;
        if !p.can_read_folder(f.owned()) {
            return Err(Error::not_found("folder"));
        }
        Ok(f)
    }

    pub(crate) async fn folder_for_write(&self, p: &Principal, id: Uuid) -> Result<Folder> {
        let f = self.folder_for_read(p, id).await?;
        if !p.can_write_folder(f.owned()) {
            return Err(Error::forbidden());
        }
        Ok(f)
    }

    /// Fills media, and the optional embeds, into folders.
    pub(crate) async fn complete(&self, mut list: Vec<Folder>, embed: Embed) -> Result<Vec<Folder>> {
        let ids: Vec<Uuid> = list.iter().map(|f| f.folder_id).collect();
        let mut by_folder: HashMap<Uuid, Vec<_>> = HashMap::new();
        for m in media::of_folders(&mut self.store(), &ids).await.infra()? {
            by_folder.entry(m.folder_id).or_default().push(self.with_urls(m));
        }
        let mut analyses = if embed.analyses { self.analyses_of(&ids).await? } else { HashMap::new() };
        for f in &mut list {
            f.media = by_folder.remove(&f.folder_id).unwrap_or_default();
            if embed.analyses {
                f.analyses = Some(analyses.remove(&f.folder_id).unwrap_or_default());
            }
            if embed.user
                && let Some(u) = f.user_id
            {
                f.user = users::get(&mut self.store(), u).await.infra()?;
            }
            if embed.company {
                f.company = companies::get(&mut self.store(), f.company_id).await.infra()?;
            }
        }
        Ok(list)
    }

    pub async fn get_folder(&self, p: &Principal, id: Uuid, embed: Embed) -> Result<Folder> {
        let f = self.folder_for_read(p, id).await?;
        let mut v = self.complete(vec![f], embed).await?;
        v.pop().ok_or_else(|| Error::not_found("folder"))
    }

    pub async fn list_folders(&self, p: &Principal, filter: &FolderFilter) -> Result<Page<Folder>> {
        let (items, total) = folders::list(&mut self.store(), p.folder_scope(), filter).await.infra()?;
        let embed = Embed { analyses: filter.with_analyses, user: filter.with_user, company: filter.with_company };
        Ok(Page { total, items: self.complete(items, embed).await? })
    }

    pub async fn patch_folder(&self, p: &Principal, id: Uuid, patch: FolderPatch) -> Result<Folder> {
        let mut f = self.folder_for_read(p, id).await?;
        let before = f.clone();
        let operator_fields = patch.operator_status.is_some() || patch.operator_comment.is_some();
        if operator_fields {
            // Reviewers set these; a CLIENT, service account or not, may not review its own folders.
            let allowed = match p.role {
                Role::Admin | Role::Operator => true,
                Role::ClientOperator | Role::ClientAdmin => p.company_id == f.company_id,
                Role::Client | Role::ClientService => false,
            };
            if !allowed {
                return Err(Error::forbidden());
            }
            if patch.operator_status.is_some() {
                f.operator_status = patch.operator_status;
            }
            if patch.operator_comment.is_some() {
                f.operator_comment = patch.operator_comment;
            }
        }
        if (patch.meta_data.is_some() || patch.user_id.is_some()) && !p.can_write_folder(f.owned()) {
            return Err(Error::forbidden());
        }
        if let Some(m) = patch.meta_data {
            vigil_domain::text::check_meta("meta_data", &m)?;
            f.meta_data = m;
        }
        if let Some(owner) = patch.user_id {
            if !p.can_change_folder_owner(f.owned()) {
                return Err(Error::forbidden());
            }
            let u = users::get(&mut self.store(), owner)
                .await
                .infra()?
                .ok_or_else(|| Error::value("user_id names no user"))?;
            if u.company_id != f.company_id {
                return Err(Error::value("the new owner must belong to the folder's company"));
            }
            f.user_id = Some(owner);
        }
        let mut tx = self.store().begin().await.infra()?;
        folders::update(&mut tx, &f, now_micros()).await.infra()?;
        let change =
            Change::new("update", "folder", id, Some(f.company_id)).in_folder(id).diff(Some(&before), Some(&f));
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.get_folder(p, id, Embed::default()).await
    }

    /// Deletes a folder with its media rows and files.
    pub async fn delete_folder(&self, p: &Principal, id: Uuid) -> Result<()> {
        let f = self.folder_for_read(p, id).await?;
        if !p.can_delete_in_folder(f.owned()) {
            return Err(Error::forbidden());
        }
        let mut tx = self.store().begin().await.infra()?;
        folders::delete(&mut tx, id).await.infra()?;
        let change = Change::new("delete", "folder", id, Some(f.company_id)).in_folder(id).diff(Some(&f), None);
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        if let Err(e) = self.blob().delete_prefix(&format!("{}/{}/", f.company_id, f.folder_id)).await {
            tracing::error!(folder_id = %id, error = %e, "folder files not removed");
        }
        Ok(())
    }

    /// `DELETE /api/folders/{id}/pi/`: removes the folder's personal data — every file under
    /// its prefix (media, thumbnails, previews, snapshots, best shots, reports), its media and
    /// report rows, its metadata, the personal parts of its analyses' results and its telemetry
    /// sessions — and keeps the folder and its analyses with their verdicts and scores.
    ///
    /// Three steps, each safe to repeat: (1) the folder is marked (no media or analysis is
    /// accepted from then on) and analyses still running are failed, with the audit entry;
    /// (2) the files go; (3) the rows are emptied. A crash between them leaves the folder
    /// marked, and a retry — which a marked folder always accepts — finishes the work.
    pub async fn delete_personal_data(&self, p: &Principal, id: Uuid) -> Result<Folder> {
        let f = self.folder_for_read(p, id).await?;
        if !p.can_delete_in_folder(f.owned()) {
            return Err(Error::forbidden());
        }
        let now = now_micros();
        let mut tx = self.store().begin().await.infra()?;
        // The row lock first: uploads into this folder wait, then see the mark.
        folders::mark_pi_deleted(&mut tx, id, now).await.infra()?;
        let cancelled = json!({
            "error_code": vigil_domain::Code::InvalidValue.number(),
            "error_message": "the folder's personal data was deleted while the analysis ran",
            "details": null,
        });
        vigil_store::analyses::cancel_processing(&mut tx, id, &cancelled, now).await.infra()?;
        self.refresh_folder_status(&mut tx, id, now).await?;
        let change = Change::new("delete_pi", "folder", id, Some(f.company_id)).in_folder(id).field(
            "pi_deleted",
            json!(f.pi_deleted),
            json!(true),
        );
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        crate::failpoint("pi_deletion.marked");

        self.blob().delete_prefix(&format!("{}/{}/", f.company_id, f.folder_id)).await.infra()?;
        crate::failpoint("pi_deletion.files_removed");

        let results = vigil_store::analyses::all_of_folder(&mut self.store(), id).await.infra()?;
        let mut tx = self.store().begin().await.infra()?;
        media::delete_of_folder(&mut tx, id).await.infra()?;
        vigil_store::reports::delete_of_folder(&mut tx, id).await.infra()?;
        vigil_store::events::delete_of_folder(&mut tx, id).await.infra()?;
        folders::clear_personal(&mut tx, id).await.infra()?;
        for a in &results {
            let kept = a.results_data.as_ref().map(vigil_domain::analysis::strip_personal);
            vigil_store::analyses::scrub(&mut tx, a.analyse_id, kept.as_ref(), now).await.infra()?;
        }
        tx.commit().await.infra()?;
        self.get_folder(p, id, Embed::default()).await
    }
}

/// What adding media or running analyses on a cleaned folder answers.
pub(crate) fn pi_deleted_error() -> Error {
    Error::value("the personal data of this folder was deleted: no media can be added and no analysis run")
}
