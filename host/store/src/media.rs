//! Media rows. The files themselves live in blob storage under `blob_key`.

use crate::{Exec, Result, Row, Sql};
use uuid::Uuid;
use vigil_domain::model::{Media, MediaInfo, OriginalInfo};
use vigil_domain::time::Micros;

const COLS: &str = "media_id, folder_id, company_id, original_name, media_type, tags, blob_key, thumb_key, \
     preview_key, snapshot_key, content_type, size, width, height, md5, frames, meta_data, technical_meta_data, time_created, time_updated";

fn row(r: &dyn Row) -> Result<Media> {
    let tags = serde_json::from_value(r.json("tags")?)
        .map_err(|e| crate::StoreError::Corrupt { column: "tags".into(), reason: e.to_string() })?;
    Ok(Media {
        media_id: r.uuid("media_id")?,
        folder_id: r.uuid("folder_id")?,
        company_id: r.uuid("company_id")?,
        original_name: r.opt_text("original_name")?,
        media_type: r.text("media_type")?,
        tags,
        original_url: String::new(),
        thumb_url: None,
        video_url: None,
        preview_url: None,
        info: MediaInfo {
            size: r.int("size")?,
            content_type: r.text("content_type")?,
            width: r.opt_int("width")?,
            height: r.opt_int("height")?,
        },
        original_info: OriginalInfo {
            md5: r.opt_text("md5")?,
            size: r.int("size")?,
            mime_type: r.text("content_type")?,
        },
        frames: match r.opt_text("frames")? {
            Some(t) => Some(
                serde_json::from_str(&t)
                    .map_err(|e| crate::StoreError::Corrupt { column: "frames".into(), reason: e.to_string() })?,
            ),
            None => None,
        },
        meta_data: r.json("meta_data")?,
        technical_meta_data: r.json("technical_meta_data")?,
        time_created: r.secs("time_created")?,
        time_updated: r.secs("time_updated")?,
        blob_key: r.text("blob_key")?,
        thumb_key: r.opt_text("thumb_key")?,
        preview_key: r.opt_text("preview_key")?,
        snapshot_key: r.opt_text("snapshot_key")?,
    })
}

fn tags_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

pub async fn insert(ex: &mut impl Exec, m: &Media, now: Micros) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO media ({COLS}) VALUES ("));
    q.bind(m.media_id).push(", ").bind(m.folder_id).push(", ").bind(m.company_id).push(", ");
    q.bind(m.original_name.clone()).push(", ").bind(m.media_type.as_str()).push(", ").bind(tags_json(&m.tags));
    q.push(", ").bind(m.blob_key.as_str()).push(", ").bind(m.thumb_key.clone()).push(", ");
    q.bind(m.preview_key.clone()).push(", ").bind(m.snapshot_key.clone()).push(", ");
    q.bind(m.info.content_type.as_str()).push(", ").bind(m.info.size).push(", ").bind(m.info.width);
    q.push(", ").bind(m.info.height).push(", ").bind(m.original_info.md5.clone()).push(", ");
    q.bind(m.frames.as_ref().map(|f| serde_json::to_string(f).unwrap_or_default()))
        .push(", ")
        .bind(&m.meta_data)
        .push(", ")
        .bind(&m.technical_meta_data);
    q.push(", ").bind(now).push(", ").bind(now).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get(ex: &mut impl Exec, id: Uuid) -> Result<Option<Media>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM media WHERE media_id = "));
    q.bind(id);
    ex.fetch_optional(q, row).await
}

/// Media of several folders, oldest first.
pub async fn of_folders(ex: &mut impl Exec, folder_ids: &[Uuid]) -> Result<Vec<Media>> {
    if folder_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(&format!("SELECT {COLS} FROM media WHERE folder_id IN "));
    q.bind_list(folder_ids.iter().copied()).push(" ORDER BY time_created, media_id");
    ex.fetch_all(q, row).await
}

/// One folder's media, in upload order, filtered by type and by tag (any of them).
pub async fn list_in_folder(
    ex: &mut impl Exec,
    folder_id: Uuid,
    f: &vigil_domain::filter::MediaFilter,
) -> Result<(Vec<Media>, Option<i64>)> {
    let dialect = ex.dialect();
    let mut w = Sql::new(" WHERE folder_id = ");
    w.bind(folder_id);
    if !f.media_types.is_empty() {
        w.push(" AND media_type IN ").bind_list(f.media_types.iter().cloned());
    }
    if !f.tags.is_empty() {
        w.push(" AND ");
        dialect.json_array_has_any(&mut w, "tags", &f.tags);
    }
    crate::page(ex, "media", COLS, w, "time_created, media_id", f.paging, row).await
}

pub async fn count_in_folder(ex: &mut impl Exec, folder_id: Uuid) -> Result<i64> {
    let mut q = Sql::new("SELECT COUNT(*) AS n FROM media WHERE folder_id = ");
    q.bind(folder_id);
    ex.fetch_count(q).await
}

pub async fn set_tags(ex: &mut impl Exec, id: Uuid, tags: &[String], now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE media SET tags = ");
    q.bind(tags_json(tags)).push(", time_updated = ").bind(now).push(" WHERE media_id = ").bind(id);
    ex.execute(q).await
}

pub async fn delete(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM media WHERE media_id = ");
    q.bind(id);
    ex.execute(q).await
}

/// Records the still made for `/api/media/{id}/snapshot/`.
pub async fn set_snapshot(ex: &mut impl Exec, id: Uuid, key: &str, now: Micros) -> Result<u64> {
    let mut q = Sql::new("UPDATE media SET snapshot_key = ");
    q.bind(key).push(", time_updated = ").bind(now).push(" WHERE media_id = ").bind(id);
    ex.execute(q).await
}

/// Removes every media row of a folder (personal-data deletion).
pub async fn delete_of_folder(ex: &mut impl Exec, folder: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM media WHERE folder_id = ");
    q.bind(folder);
    ex.execute(q).await
}
