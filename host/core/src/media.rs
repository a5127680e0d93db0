//! Media: read, retag, delete, serve the file and its thumbnail.

use crate::{App, Infra, now_micros};
use bytes::Bytes;
use futures::Stream;
use uuid::Uuid;
use vigil_domain::audit::Change;
use vigil_domain::media::{MediaType, Sniffed, validate_tags};
use vigil_domain::model::{Media, SnapshotRequest};
use vigil_domain::policy::{Caller, Principal, Visitor};
use vigil_domain::{Error, Result};
use vigil_media::photo;
use vigil_store::{folders, media};

/// Which stored file a static URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Original,
    Thumb,
    Preview,
}

/// A file ready to stream out.
pub struct FileBody {
    pub content_type: String,
    pub size: u64,
    pub stream: std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>,
}

impl App {
    /// Fills the public links of a media object.
    pub fn with_urls(&self, mut m: Media) -> Media {
        let base = &self.cfg().public_url;
        let ext = m.blob_key.rsplit('.').next().unwrap_or("bin");
        m.original_url = format!("{base}/static/{}/{}.{ext}", m.folder_id, m.media_id);
        if m.thumb_key.is_some() {
            m.thumb_url = Some(format!("{base}/static/{}/{}_thumb.jpg", m.folder_id, m.media_id));
        }
        if m.media_type == vigil_domain::media::MediaType::Video.as_str() {
            m.video_url = Some(m.original_url.clone());
        }
        if m.preview_key.is_some() {
            let url = format!("{base}/static/{}/{}_preview.mp4", m.folder_id, m.media_id);
            m.video_url = Some(url.clone());
            m.preview_url = Some(url);
        }
        m
    }

    async fn media_for_read(&self, p: &Principal, id: Uuid) -> Result<(Media, vigil_domain::model::Folder)> {
        let m = media::get(&mut self.store(), id).await.infra()?.ok_or_else(|| Error::not_found("media"))?;
        let f = folders::get(&mut self.store(), m.folder_id).await.infra()?.ok_or_else(|| Error::not_found("media"))?;
        if !p.can_read_folder(f.owned()) {
            return Err(Error::not_found("media"));
        }
        Ok((m, f))
    }

    /// `GET /api/folders/{id}/media/`.
    pub async fn list_folder_media(
        &self,
        p: &Principal,
        folder_id: Uuid,
        f: &vigil_domain::filter::MediaFilter,
    ) -> Result<vigil_domain::model::Page<Media>> {
        self.folder_for_read(p, folder_id).await?;
        let (items, total) = media::list_in_folder(&mut self.store(), folder_id, f).await.infra()?;
        Ok(vigil_domain::model::Page { total, items: items.into_iter().map(|m| self.with_urls(m)).collect() })
    }

    pub async fn get_media(&self, p: &Principal, id: Uuid) -> Result<Media> {
        Ok(self.with_urls(self.media_for_read(p, id).await?.0))
    }

    /// Replaces the tag list; `[]` clears it.
    pub async fn set_media_tags(&self, p: &Principal, id: Uuid, tags: Vec<String>) -> Result<Media> {
        let (m, f) = self.media_for_read(p, id).await?;
        if !p.can_write_folder(f.owned()) {
            return Err(Error::forbidden());
        }
        let tags = validate_tags(&tags)?;
        let mut tx = self.store().begin().await.infra()?;
        media::set_tags(&mut tx, id, &tags, now_micros()).await.infra()?;
        let change = Change::new("update", "media", id, Some(f.company_id)).in_folder(f.folder_id).field(
            "tags",
            serde_json::json!(m.tags),
            serde_json::json!(tags),
        );
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.get_media(p, id).await
    }

    pub async fn delete_media(&self, p: &Principal, id: Uuid) -> Result<()> {
        let (m, f) = self.media_for_read(p, id).await?;
        if !p.can_delete_in_folder(f.owned()) {
            return Err(Error::forbidden());
        }
        let mut tx = self.store().begin().await.infra()?;
        media::delete(&mut tx, id).await.infra()?;
        folders::touch(&mut tx, f.folder_id, now_micros()).await.infra()?;
        let change = Change::new("delete", "media", id, Some(f.company_id)).in_folder(f.folder_id).diff(Some(&m), None);
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        for key in std::iter::once(&m.blob_key).chain(&m.thumb_key).chain(&m.preview_key).chain(&m.snapshot_key) {
            if let Err(e) = self.blob().delete(key).await {
                tracing::error!(key = %key, error = %e, "media file not removed");
            }
        }
        Ok(())
    }

    /// Serves `/static/{folder_id}/{file}` where file is `{media_id}.{ext}`, `{media_id}_thumb.jpg`,
    /// `{media_id}_preview.mp4` or an analysis output `{image_id}_output.jpg`. With
    /// `OZ_USE_PERMISSIONS_FOR_STATIC` on, `p` must be able to read the folder; with it off the
    /// unguessable name is the only protection.
    pub async fn media_file(&self, p: Visitor<'_>, folder_id: Uuid, file: &str) -> Result<FileBody> {
        let not_found = || Error::not_found("file");
        if let Some(stem) = file.strip_suffix("_output.jpg") {
            let id = Uuid::parse_str(stem).map_err(|_| not_found())?;
            let f = self.static_folder(p, folder_id).await?;
            let key = crate::analyses::output_key(f.company_id, folder_id, id);
            if !self.blob().exists(&key).await.infra()? {
                return Err(not_found());
            }
            return self.file_body(&key, "image/jpeg".into()).await;
        }
        let (stem, kind) = if let Some(stem) = file.strip_suffix("_thumb.jpg") {
            (stem, FileKind::Thumb)
        } else if let Some(stem) = file.strip_suffix("_preview.mp4") {
            (stem, FileKind::Preview)
        } else {
            (file.rsplit_once('.').map(|(s, _)| s).ok_or_else(not_found)?, FileKind::Original)
        };
        let id = Uuid::parse_str(stem).map_err(|_| not_found())?;
        let m = media::get(&mut self.store(), id).await.infra()?.ok_or_else(not_found)?;
        if m.folder_id != folder_id {
            return Err(not_found());
        }
        self.static_folder(p, folder_id).await?;
        let (key, content_type) = match kind {
            FileKind::Thumb => (m.thumb_key.clone().ok_or_else(not_found)?, "image/jpeg".to_string()),
            FileKind::Preview => (m.preview_key.clone().ok_or_else(not_found)?, "video/mp4".to_string()),
            FileKind::Original => {
                let ext = m.blob_key.rsplit('.').next().unwrap_or("");
                if !file.ends_with(&format!(".{ext}")) {
                    return Err(not_found());
                }
                // The type recorded at upload: octet-stream for a file that did not decode.
                (m.blob_key.clone(), m.info.content_type.clone())
            }
        };
        self.file_body(&key, content_type).await
    }

    /// The folder of a static link, after the permission check when it is on.
    async fn static_folder(&self, p: Visitor<'_>, folder_id: Uuid) -> Result<vigil_domain::model::Folder> {
        let f = folders::get(&mut self.store(), folder_id).await.infra()?.ok_or_else(|| Error::not_found("file"))?;
        if self.cfg().use_permissions_for_static {
            let Visitor::User(p) = p else {
                return Err(Error::new(
                    vigil_domain::Code::AuthNotProvided,
                    "access token not provided; send it in the X-Forensic-Access-Token header",
                ));
            };
            if !p.can_read_folder(f.owned()) {
                return Err(Error::not_found("file"));
            }
        }
        Ok(f)
    }

    async fn file_body(&self, key: &str, content_type: String) -> Result<FileBody> {
        let size = self.blob().size(key).await.infra()?;
        let stream = self.blob().stream(key).await.infra()?;
        Ok(FileBody { content_type, size, stream: Box::pin(stream) })
    }

    /// `GET /api/media/{id}/snapshot/`: the media's still as a JPEG, made on first use.
    pub async fn snapshot(&self, p: &Principal, id: Uuid) -> Result<FileBody> {
        let (m, _) = self.media_for_read(p, id).await?;
        let key = match m.snapshot_key {
            Some(k) => k,
            None => self.store_snapshot(&m, SnapshotRequest::default(), None).await?,
        };
        self.file_body(&key, "image/jpeg".into()).await
    }

    /// `POST /api/media/{id}/snapshot/`: makes the still again — of a video at `time` seconds,
    /// of a shots set at frame `frame`, by default the first frame — and returns it.
    pub async fn regenerate_snapshot(&self, p: &Principal, id: Uuid, req: SnapshotRequest) -> Result<FileBody> {
        let (m, f) = self.media_for_read(p, id).await?;
        if !p.can_write_folder(f.owned()) {
            return Err(Error::forbidden());
        }
        let change = Change::new("regenerate_snapshot", "media", id, Some(f.company_id)).in_folder(f.folder_id).field(
            "snapshot",
            serde_json::json!(null),
            serde_json::json!({"time": req.time, "frame": req.frame}),
        );
        let key = self.store_snapshot(&m, req, Some((Caller::User(p), change))).await?;
        self.file_body(&key, "image/jpeg".into()).await
    }

    /// Makes and stores the still; `audit` is the entry a deliberate regeneration records.
    async fn store_snapshot(
        &self,
        m: &Media,
        req: SnapshotRequest,
        audit: Option<(Caller<'_>, Change)>,
    ) -> Result<String> {
        if req.time.is_some_and(|t| !t.is_finite() || t < 0.0) {
            return Err(Error::value("'time' must be a non-negative number of seconds"));
        }
        let slot = self.decode_slot().await?;
        let bytes = self.blob().read(&m.blob_key).await.infra()?;
        let max_pixels = self.cfg().limits.max_image_pixels;
        let ext = m.blob_key.rsplit('.').next().unwrap_or("bin").to_string();
        let still = match Sniffed::from_extension(&ext).map(Sniffed::media_type) {
            Some(MediaType::Video) => {
                let input = vigil_media::video::temp_input(&bytes, &ext)?;
                vigil_media::video::still(input.path(), req.time, &self.cfg().video).await?
            }
            Some(MediaType::ShotsSet) => {
                let limits = self.cfg().shots_limits();
                let frames = tokio::task::spawn_blocking(move || vigil_media::shots::shots_frames(&bytes, limits))
                    .await
                    .map_err(Error::internal)??;
                let n = frames.len();
                let i = req.frame.unwrap_or(0);
                frames
                    .into_iter()
                    .nth(i)
                    .ok_or_else(|| Error::value(format!("frame {i} does not exist; the shots set has {n}")))?
            }
            _ => tokio::task::spawn_blocking(move || photo::decode_rgb(&bytes, max_pixels))
                .await
                .map_err(Error::internal)??,
        };
        drop(slot);
        let jpeg = tokio::task::spawn_blocking(move || photo::jpeg(&still)).await.map_err(Error::internal)??;
        let key = format!("{}/{}/{}_snapshot.jpg", m.company_id, m.folder_id, m.media_id);
        self.blob().put(&key, jpeg).await.infra()?;
        let written = async {
            let mut tx = self.store().begin().await.infra()?;
            let n = media::set_snapshot(&mut tx, m.media_id, &key, now_micros()).await.infra()?;
            if n == 1
                && let Some((by, change)) = audit
            {
                crate::audit::record(&mut tx, by, change).await?;
            }
            tx.commit().await.infra()?;
            Ok::<_, Error>(n)
        };
        match written.await {
            Ok(1) => Ok(key),
            // The media was deleted meanwhile: do not leave the file behind.
            other => {
                let _ = self.blob().delete(&key).await;
                other.and(Err(Error::not_found("media")))
            }
        }
    }
}
