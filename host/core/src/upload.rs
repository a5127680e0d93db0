//! Multipart uploads: files stream into blob storage as they arrive, the payload is checked at
//! the end, and rows are written in one transaction. Any failure — or a dropped request —
//! removes every blob the upload wrote, so nothing half-done remains.

use crate::{App, Infra, now_micros};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use md5::Digest;
use serde_json::{Map, Value};
use std::collections::HashMap;
use uuid::Uuid;
use vigil_blob::Blob;
use vigil_domain::audit::Change;
use vigil_domain::media::{MediaError, MediaType, SNIFF_LEN, Sniffed, default_tags, sniff, validate_tags};
use vigil_domain::model::{Folder, Media, MediaInfo, OriginalInfo, ShotFrame};
use vigil_domain::policy::Caller;
use vigil_domain::time::micros_to_secs;
use vigil_domain::{Code, Error, Principal, Result};
use vigil_store::{folders, media};

/// Where the upload goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    NewFolder,
    Existing,
}

struct Staged {
    field: String,
    original_name: Option<String>,
    media_id: Uuid,
    sniffed: Sniffed,
    key: String,
    thumb_key: Option<String>,
    preview_key: Option<String>,
    size: u64,
    width: Option<i64>,
    height: Option<i64>,
    md5: String,
    frames: Option<Vec<ShotFrame>>,
    /// What decoding learned (video codec and duration, frame count, or why decoding failed).
    technical: Map<String, Value>,
}

#[derive(Default)]
struct Payload {
    tags: HashMap<String, Vec<String>>,
    media_meta: HashMap<String, Value>,
    folder_meta: Option<Value>,
    additional_info: Option<Value>,
}

/// An upload in progress; see the module docs.
pub struct Upload {
    app: App,
    principal: Principal,
    target: Target,
    folder_id: Uuid,
    company_id: Uuid,
    files: Vec<Staged>,
    /// Every blob key written so far, including one being written.
    written: Vec<String>,
    total: u64,
    payload: Option<Payload>,
    /// Whether a `payload` part was sent (an `additional_info` field alone creates a payload).
    payload_part: bool,
    /// Non-file parts seen so far.
    form_parts: usize,
    done: bool,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.done && !self.written.is_empty() {
            // The request was dropped mid-way (client went away): clean up in the background.
            let keys = std::mem::take(&mut self.written);
            let blob = self.app.blob().clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { remove_all(&blob, &keys).await });
            }
        }
    }
}

async fn remove_all(blob: &Blob, keys: &[String]) {
    for k in keys {
        if let Err(e) = blob.delete(k).await {
            tracing::error!(key = %k, error = %e, "staged upload blob not removed");
        }
    }
}

fn obj(v: Option<&Value>, what: &str) -> Result<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(Error::value(format!("payload field '{what}' must be a JSON object"))),
    }
}

impl App {
    /// Starts an upload that will create a new folder owned by `p`.
    pub fn begin_folder_upload(&self, p: &Principal) -> Result<Upload> {
        if !p.can_create_folder() {
            return Err(Error::forbidden());
        }
        Ok(self.upload(p, Target::NewFolder, Uuid::new_v4(), p.company_id))
    }

    /// Starts an upload of media into an existing folder.
    pub async fn begin_media_upload(&self, p: &Principal, folder_id: Uuid) -> Result<Upload> {
        let f = self.folder_for_write(p, folder_id).await?;
        if f.pi_deleted {
            return Err(crate::folders::pi_deleted_error());
        }
        Ok(self.upload(p, Target::Existing, folder_id, f.company_id))
    }

    fn upload(&self, p: &Principal, target: Target, folder_id: Uuid, company_id: Uuid) -> Upload {
        Upload {
            app: self.clone(),
            principal: p.clone(),
            target,
            folder_id,
            company_id,
            files: Vec::new(),
            written: Vec::new(),
            total: 0,
            payload: None,
            payload_part: false,
            form_parts: 0,
            done: false,
        }
    }
}

impl Upload {
    /// Counts a non-file part against the request limit: the limit covers every part, not only
    /// files, and a request has at most a few form fields.
    fn count_form_part(&mut self, len: usize) -> Result<()> {
        self.form_parts += 1;
        if self.form_parts > MAX_FORM_PARTS {
            return Err(Error::structure(format!("at most {MAX_FORM_PARTS} form fields besides files")));
        }
        self.total += len as u64;
        let max = self.app.cfg().limits.max_request_size;
        if self.total > max {
            return Err(Error::new(Code::TooLarge, format!("the request is larger than the limit of {max} bytes")));
        }
        Ok(())
    }

    /// Parses the `payload` part.
    pub fn set_payload(&mut self, raw: &[u8]) -> Result<()> {
        self.count_form_part(raw.len())?;
        if self.payload_part {
            return Err(Error::structure("the request has more than one 'payload' part"));
        }
        self.payload_part = true;
        let v: Value =
            serde_json::from_slice(raw).map_err(|e| Error::structure(format!("'payload' is not valid JSON: {e}")))?;
        let Value::Object(m) = v else {
            return Err(Error::structure("'payload' must be a JSON object"));
        };
        let mut p = Payload::default();
        for (field, tags) in obj(m.get("media:tags"), "media:tags")? {
            let tags: Vec<String> = serde_json::from_value(tags)
                .map_err(|_| Error::value(format!("media:tags of '{field}' must be a list of strings")))?;
            p.tags.insert(field, validate_tags(&tags)?);
        }
        for (field, meta) in obj(m.get("media:meta_data"), "media:meta_data")? {
            vigil_domain::text::check_meta(&format!("media:meta_data of '{field}'"), &meta)?;
            p.media_meta.insert(field, meta);
        }
        if let Some(fm) = m.get("folder:meta_data") {
            let fm = Value::Object(obj(Some(fm), "folder:meta_data")?);
            vigil_domain::text::check_meta("folder:meta_data", &fm)?;
            p.folder_meta = Some(fm);
        }
        // An `additional_info` form field sent before the payload part is kept.
        p.additional_info = m.get("additional_info").cloned().or(self.payload.take().and_then(|e| e.additional_info));
        self.payload = Some(p);
        Ok(())
    }

    /// A plain form field other than `payload` (e.g. the Web SDK's `additional_info`).
    pub fn set_form_field(&mut self, name: &str, value: &[u8]) -> Result<()> {
        self.count_form_part(value.len())?;
        if name == "additional_info" {
            let text = String::from_utf8_lossy(value).into_owned();
            let p = self.payload.get_or_insert_with(Payload::default);
            p.additional_info = Some(Value::String(text));
            return Ok(());
        }
        Err(Error::structure(format!("form field '{name}' is neither a file nor 'payload'")))
    }

    /// Streams one file part into blob storage.
    pub async fn add_file<S, E>(&mut self, field: String, original_name: Option<String>, stream: S) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let limits = self.app.cfg().limits.clone();
        check_file_part(&field, original_name.as_deref(), self.files.iter().map(|f| f.field.as_str()), &limits)?;
        let mut stream = stream;
        let truncated = |e: E| Error::structure(format!("the request body is truncated or malformed: {e}"));

        // Gather enough bytes to tell what the file is before anything is stored.
        let mut head = BytesMut::new();
        while head.len() < SNIFF_LEN {
            match stream.next().await {
                Some(chunk) => head.extend_from_slice(&chunk.map_err(truncated)?),
                None => break,
            }
        }
        let sniffed = sniff(&head, &field)?;
        let media_id = Uuid::new_v4();
        let key = format!("{}/{}/{}.{}", self.company_id, self.folder_id, media_id, sniffed.extension());
        // The file is also kept in memory for its thumbnail (and a shots set's preview); it is
        // bounded by the file-size limit.
        let mut kept = BytesMut::new();

        let mut w = self.app.blob().writer(&key).await.infra()?;
        self.written.push(key.clone());
        let mut size: u64 = 0;
        let mut md5 = md5::Md5::new();
        let mut next = Some(Ok(head.freeze()));
        let result: Result<()> = async {
            while let Some(chunk) = next.take() {
                let chunk: Bytes = chunk.map_err(truncated)?;
                size += chunk.len() as u64;
                self.total += chunk.len() as u64;
                if size > limits.max_file_size {
                    return Err(Error::new(
                        Code::TooLarge,
                        format!("file '{field}' is larger than the limit of {} bytes", limits.max_file_size),
                    ));
                }
                if self.total > limits.max_request_size {
                    return Err(Error::new(
                        Code::TooLarge,
                        format!("the request is larger than the limit of {} bytes", limits.max_request_size),
                    ));
                }
                kept.extend_from_slice(&chunk);
                md5.update(&chunk);
                w.write(chunk).await.infra()?;
                next = stream.next().await;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = w.abort().await;
            return Err(e);
        }
        w.close().await.infra()?;

        let stem = format!("{}/{}/{}", self.company_id, self.folder_id, media_id);
        let d = self.app.derive(sniffed, kept.freeze(), &field).await?;
        let thumb_key = match d.thumb {
            Some(thumb) => {
                let tk = format!("{stem}_thumb.jpg");
                self.written.push(tk.clone());
                self.app.blob().put(&tk, thumb).await.infra()?;
                Some(tk)
            }
            None => None,
        };
        let preview_key = match d.preview {
            Some(mp4) => {
                let pk = format!("{stem}_preview.mp4");
                self.written.push(pk.clone());
                self.app.blob().put(&pk, Bytes::from(mp4)).await.infra()?;
                Some(pk)
            }
            None => None,
        };
        self.files.push(Staged {
            field,
            original_name,
            media_id,
            sniffed,
            key,
            thumb_key,
            preview_key,
            size,
            width: d.width.map(i64::from),
            height: d.height.map(i64::from),
            md5: hex::encode(md5.finalize()),
            frames: d.frames,
            technical: d.technical,
        });
        Ok(())
    }

    /// Removes everything written so far.
    pub async fn abort(mut self) {
        self.done = true;
        let keys = std::mem::take(&mut self.written);
        remove_all(self.app.blob(), &keys).await;
    }

    fn build_media(&mut self, now: i64) -> Result<Vec<Media>> {
        // Without a payload part every file gets default tags by field name and media type.
        let defaulted = !self.payload_part;
        let mut payload = self.payload.take().unwrap_or_default();
        if defaulted {
            for f in &self.files {
                payload.tags.insert(f.field.clone(), default_tags(&f.field, f.sniffed.media_type()));
            }
        }
        for named in payload.tags.keys().chain(payload.media_meta.keys()) {
            if !self.files.iter().any(|f| &f.field == named) {
                return Err(Error::value(format!("the payload names file '{named}', which was not sent")));
            }
        }
        // One microsecond apart, so listing by time keeps the order the client sent the parts in.
        let items = self
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (micros_to_secs(now + i as i64), f))
            .map(|(t, f)| Media {
                media_id: f.media_id,
                folder_id: self.folder_id,
                company_id: self.company_id,
                original_name: f.original_name.clone(),
                media_type: f.sniffed.media_type().as_str().to_string(),
                tags: payload.tags.remove(&f.field).unwrap_or_default(),
                original_url: String::new(),
                thumb_url: None,
                video_url: None,
                preview_url: None,
                info: MediaInfo { size: f.size as i64, content_type: served_type(f), width: f.width, height: f.height },
                original_info: OriginalInfo {
                    md5: Some(f.md5.clone()),
                    size: f.size as i64,
                    mime_type: served_type(f),
                },
                frames: f.frames.clone(),
                meta_data: payload.media_meta.remove(&f.field).unwrap_or_else(|| Value::Object(Map::new())),
                technical_meta_data: {
                    let mut t = f.technical.clone();
                    t.insert("field_name".into(), Value::from(f.field.clone()));
                    if defaulted {
                        t.insert("tags_defaulted".into(), Value::Bool(true));
                    }
                    Value::Object(t)
                },
                time_created: t,
                time_updated: t,
                blob_key: f.key.clone(),
                thumb_key: f.thumb_key.clone(),
                preview_key: f.preview_key.clone(),
                snapshot_key: None,
            })
            .collect();
        self.payload = Some(payload);
        Ok(items)
    }

    async fn write_rows(&mut self) -> Result<(Option<Folder>, Vec<Media>)> {
        let now = now_micros();
        let items = self.build_media(now)?;
        let payload = self.payload.take().unwrap_or_default();
        let app = self.app.clone();
        let mut tx = app.store().begin().await.infra()?;
        let folder = match self.target {
            Target::NewFolder => {
                let mut tech = Map::new();
                if let Some(a) = payload.additional_info {
                    tech.insert("additional_info".into(), a);
                }
                let f = Folder {
                    folder_id: self.folder_id,
                    company_id: self.company_id,
                    user_id: Some(self.principal.user_id),
                    resolution_status: "INITIAL".into(),
                    system_resolution: "INITIAL".into(),
                    operator_status: None,
                    operator_comment: None,
                    media: Vec::new(),
                    analyses: None,
                    user: None,
                    company: None,
                    meta_data: payload.folder_meta.unwrap_or_else(|| Value::Object(Map::new())),
                    technical_meta_data: Value::Object(tech),
                    time_created: micros_to_secs(now),
                    time_updated: micros_to_secs(now),
                    pi_deleted: false,
                    time_pi_deleted: None,
                };
                folders::insert(&mut tx, &f, now).await.infra()?;
                Some(f)
            }
            Target::Existing => {
                let limit = app.cfg().limits.max_media_per_folder as i64;
                let have = media::count_in_folder(&mut tx, self.folder_id).await.infra()?;
                if have + items.len() as i64 > limit {
                    return Err(Error::new(Code::TooLarge, format!("a folder holds at most {limit} media")));
                }
                folders::touch(&mut tx, self.folder_id, now).await.infra()?;
                // Checked again under the folder's row lock: a personal-data deletion that
                // committed since the upload began wins.
                if folders::get(&mut tx, self.folder_id).await.infra()?.is_some_and(|f| f.pi_deleted) {
                    return Err(crate::folders::pi_deleted_error());
                }
                None
            }
        };
        for (i, m) in items.iter().enumerate() {
            media::insert(&mut tx, m, now + i as i64).await.infra()?;
        }
        let added = Value::Array(items.iter().map(|m| serde_json::json!(m.media_id)).collect());
        let change = match &folder {
            Some(f) => Change::new("create", "folder", f.folder_id, Some(f.company_id)).diff(None, Some(f)),
            None => Change::new("add_media", "folder", self.folder_id, Some(self.company_id)),
        };
        let change = change.in_folder(self.folder_id).field("media", Value::Null, added);
        crate::audit::record(&mut tx, Caller::User(&self.principal), change).await?;
        tx.commit().await.infra()?;
        Ok((folder, items))
    }

    async fn finish(mut self) -> Result<(Option<Folder>, Vec<Media>)> {
        match self.write_rows().await {
            Ok(v) => {
                self.done = true;
                Ok(v)
            }
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    /// Commits a new-folder upload: the folder with its media.
    pub async fn commit_folder(self) -> Result<Folder> {
        let app = self.app.clone();
        let p = self.principal.clone();
        let (folder, _) = self.finish().await?;
        let f = folder.ok_or_else(|| Error::internal("folder upload without a folder"))?;
        app.get_folder(&p, f.folder_id, Default::default()).await
    }

    /// Commits a media upload into an existing folder: the new media.
    pub async fn commit_media(self) -> Result<Vec<Media>> {
        let app = self.app.clone();
        let (_, items) = self.finish().await?;
        Ok(items.into_iter().map(|m| app.with_urls(m)).collect())
    }
}

/// Files and facts derived from an upload.
struct Derived {
    thumb: Option<Bytes>,
    preview: Option<Vec<u8>>,
    width: Option<u32>,
    height: Option<u32>,
    frames: Option<Vec<ShotFrame>>,
    technical: Map<String, Value>,
}

impl App {
    /// A photo must decode (else the upload is refused). A video or shots set is stored even when
    /// it cannot be decoded — the analysis reports why — but when it can, it gets its first frame
    /// as the thumbnail and, for a shots set, an MP4 preview.
    async fn derive(&self, sniffed: Sniffed, bytes: Bytes, field: &str) -> Result<Derived> {
        let mut d =
            Derived { thumb: None, preview: None, width: None, height: None, frames: None, technical: Map::new() };
        let max_pixels = self.cfg().limits.max_image_pixels;
        let _slot = self.decode_slot().await?;
        match sniffed.media_type() {
            MediaType::Image => {
                let field = field.to_string();
                let (w, h, thumb) =
                    tokio::task::spawn_blocking(move || vigil_media::photo::make_thumbnail(&bytes, max_pixels, &field))
                        .await
                        .map_err(Error::internal)??;
                (d.width, d.height, d.thumb) = (Some(w), Some(h), Some(thumb));
            }
            MediaType::Video => {
                let lim = &self.cfg().video;
                let probed = async {
                    let input = vigil_media::video::temp_input(&bytes, sniffed.extension())?;
                    let probe = vigil_media::video::probe(input.path(), lim).await?;
                    let first = vigil_media::video::still(input.path(), None, lim).await?;
                    Ok::<_, MediaError>((probe, first))
                }
                .await;
                match probed {
                    Ok((probe, first)) => {
                        (d.width, d.height) = (Some(probe.width), Some(probe.height));
                        d.technical.insert("codec".into(), Value::from(probe.codec));
                        if let Some(secs) = probe.duration_secs {
                            d.technical.insert("duration".into(), Value::from(secs));
                        }
                        d.thumb = Some(vigil_media::photo::thumbnail_jpeg(&image::DynamicImage::ImageRgb8(first))?);
                    }
                    Err(e) => note_undecodable(&mut d, field, &e),
                }
            }
            MediaType::ShotsSet => {
                let limits = self.cfg().shots_limits();
                let frames =
                    tokio::task::spawn_blocking(move || vigil_media::shots::named_shots_frames(&bytes, limits))
                        .await
                        .map_err(Error::internal)?;
                match frames {
                    // A shots set with no image in it is no media at all.
                    Err(MediaError::EmptyArchive) => {
                        return Err(Error::value(format!(
                            "shots set '{field}' holds no image: send a ZIP (or tar.gz) of JPEG/PNG frames"
                        )));
                    }
                    Ok(named) => {
                        d.frames = Some(named.iter().map(|(entry, _)| entry.clone()).collect());
                        let frames: Vec<image::RgbImage> = named.into_iter().map(|(_, f)| f).collect();
                        let first = image::DynamicImage::ImageRgb8(frames[0].clone());
                        (d.width, d.height) = (Some(first.width()), Some(first.height()));
                        d.technical.insert("frames".into(), Value::from(frames.len()));
                        d.thumb = Some(vigil_media::photo::thumbnail_jpeg(&first)?);
                        if self.cfg().shots_preview {
                            match vigil_media::video::encode_preview(&frames, SHOTS_PREVIEW_FPS, &self.cfg().video)
                                .await
                            {
                                Ok(mp4) => d.preview = Some(mp4),
                                Err(e) => tracing::warn!(field, error = %e, "shots-set preview not made"),
                            }
                        }
                    }
                    Err(e) => note_undecodable(&mut d, field, &e),
                }
            }
        }
        Ok(d)
    }
}

/// A file is served as its type only if it decoded as that type; a file that merely starts like
/// a video is kept for the analysis to report on, as bytes.
fn served_type(f: &Staged) -> String {
    if f.technical.contains_key("decode_error") {
        "application/octet-stream".to_string()
    } else {
        f.sniffed.content_type().to_string()
    }
}

/// Checks a file part before any of it is read: its field name (not `payload`, not seen before in
/// the request) and file name are bounded, and the request has room for another file.
pub(crate) fn check_file_part<'a>(
    field: &str,
    original_name: Option<&str>,
    seen: impl Iterator<Item = &'a str>,
    limits: &crate::Limits,
) -> Result<()> {
    if field.is_empty() || field == "payload" {
        return Err(Error::structure("a file part needs a field name other than 'payload'"));
    }
    vigil_domain::text::check_name("file field name", field, vigil_domain::text::MAX_FIELD_NAME)?;
    if let Some(n) = original_name {
        vigil_domain::text::check_name("file name", n, vigil_domain::text::MAX_FILE_NAME)?;
    }
    let mut count = 0;
    for f in seen {
        if f == field {
            return Err(Error::structure(format!("file field '{field}' appears twice")));
        }
        count += 1;
    }
    if count >= limits.max_files {
        return Err(Error::new(Code::TooLarge, format!("too many files: at most {} per request", limits.max_files)));
    }
    Ok(())
}

/// Non-file parts per request (`payload`, `additional_info`, …).
const MAX_FORM_PARTS: usize = 8;

/// Frame rate of the MP4 rebuilt from a shots set (web SDKs capture a few frames per second).
const SHOTS_PREVIEW_FPS: f32 = 5.0;

fn note_undecodable(d: &mut Derived, field: &str, e: &MediaError) {
    tracing::info!(field, error = %e, "stored without a thumbnail: not decodable");
    d.technical.insert("decode_error".into(), serde_json::json!({ "kind": e.kind(), "message": e.to_string() }));
}
