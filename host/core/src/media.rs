//! Media: read, retag, delete, serve the file and its thumbnail.

use crate::{App, Infra, now_micros};
use bytes::Bytes;
use futures::Stream;
use image::ImageReader;
use std::io::Cursor;
use uuid::Uuid;
use vigil_domain::media::{Sniffed, validate_tags};
use vigil_domain::model::Media;
use vigil_domain::policy::Principal;
use vigil_domain::{Error, Result};
use vigil_store::{folders, media};

const THUMB_SIDE: u32 = 256;

/// Decodes an image with EXIF orientation applied and the pixel count bounded (decompression
/// bombs are refused before any pixel is allocated). `what` names the file in errors.
fn decode(bytes: &[u8], max_pixels: u64, what: &str) -> Result<image::DynamicImage> {
    use image::ImageDecoder;
    let bad = |e: &dyn std::fmt::Display| Error::value(format!("{what} is not a readable image: {e}"));
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| bad(&e))?;
    let (w, h) = reader.into_dimensions().map_err(|e| bad(&e))?;
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(Error::value(format!("{what} is {w}×{h} pixels, more than the limit of {max_pixels}")));
    }
    let mut decoder = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| bad(&e))?
        .into_decoder()
        .map_err(|e| bad(&e))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| bad(&e))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Decodes a stored photo into RGB (for plugins).
pub fn decode_rgb(bytes: &[u8], max_pixels: u64) -> Result<image::RgbImage> {
    Ok(decode(bytes, max_pixels, "stored image")?.into_rgb8())
}

/// Makes a JPEG thumbnail that fits `THUMB_SIDE`×`THUMB_SIDE` with the aspect ratio kept, never
/// enlarged. Returns the oriented size of the original.
pub fn make_thumbnail(bytes: &[u8], max_pixels: u64, field: &str) -> Result<(u32, u32, Bytes)> {
    let img = decode(bytes, max_pixels, &format!("file '{field}'"))?;
    let thumb = if img.width() > THUMB_SIDE || img.height() > THUMB_SIDE {
        img.thumbnail(THUMB_SIDE, THUMB_SIDE).into_rgb8()
    } else {
        img.to_rgb8()
    };
    let mut out = Cursor::new(Vec::new());
    thumb.write_to(&mut out, image::ImageFormat::Jpeg).map_err(Error::internal)?;
    Ok((img.width(), img.height(), Bytes::from(out.into_inner())))
}

/// Which stored file a static URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Original,
    Thumb,
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

    pub async fn get_media(&self, p: &Principal, id: Uuid) -> Result<Media> {
        Ok(self.with_urls(self.media_for_read(p, id).await?.0))
    }

    /// Replaces the tag list; `[]` clears it.
    pub async fn set_media_tags(&self, p: &Principal, id: Uuid, tags: Vec<String>) -> Result<Media> {
        let (_, f) = self.media_for_read(p, id).await?;
        if !p.can_write_folder(f.owned()) {
            return Err(Error::forbidden());
        }
        let tags = validate_tags(&tags)?;
        media::set_tags(&mut self.store(), id, &tags, now_micros()).await.infra()?;
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
        tx.commit().await.infra()?;
        for key in std::iter::once(&m.blob_key).chain(m.thumb_key.as_ref()) {
            if let Err(e) = self.blob().delete(key).await {
                tracing::error!(key = %key, error = %e, "media file not removed");
            }
        }
        Ok(())
    }

    /// Serves `/static/{folder_id}/{file}` where file is `{media_id}.{ext}` or
    /// `{media_id}_thumb.jpg`. With `OZ_USE_PERMISSIONS_FOR_STATIC` on, `p` must be able to read the
    /// folder; with it off the unguessable name is the only protection.
    pub async fn media_file(&self, p: Option<&Principal>, folder_id: Uuid, file: &str) -> Result<FileBody> {
        let not_found = || Error::not_found("file");
        let (stem, kind) = match file.strip_suffix("_thumb.jpg") {
            Some(stem) => (stem, FileKind::Thumb),
            None => (file.rsplit_once('.').map(|(s, _)| s).ok_or_else(not_found)?, FileKind::Original),
        };
        let id = Uuid::parse_str(stem).map_err(|_| not_found())?;
        let m = media::get(&mut self.store(), id).await.infra()?.ok_or_else(not_found)?;
        if m.folder_id != folder_id {
            return Err(not_found());
        }
        if self.cfg().use_permissions_for_static {
            let p = p.ok_or_else(|| {
                Error::new(
                    vigil_domain::Code::AuthNotProvided,
                    "access token not provided; send it in the X-Forensic-Access-Token header",
                )
            })?;
            let f = folders::get(&mut self.store(), folder_id).await.infra()?.ok_or_else(not_found)?;
            if !p.can_read_folder(f.owned()) {
                return Err(not_found());
            }
        }
        let (key, content_type) = match kind {
            FileKind::Thumb => (m.thumb_key.clone().ok_or_else(not_found)?, "image/jpeg".to_string()),
            FileKind::Original => {
                let ext = m.blob_key.rsplit('.').next().unwrap_or("");
                if !file.ends_with(&format!(".{ext}")) {
                    return Err(not_found());
                }
                let ct = Sniffed::from_extension(ext).map(|s| s.content_type()).unwrap_or("application/octet-stream");
                (m.blob_key.clone(), ct.to_string())
            }
        };
        let size = self.blob().size(&key).await.infra()?;
        let stream = self.blob().stream(&key).await.infra()?;
        Ok(FileBody { content_type, size, stream: Box::pin(stream) })
    }
}
