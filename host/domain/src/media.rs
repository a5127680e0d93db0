//! Media kinds: content sniffing from magic bytes, the Oz `media_type` values and the tag list.

use crate::error::{Error, Result};

/// What a file's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Jpeg,
    Png,
    Webp,
    Mp4,
    Mov,
    Webm,
    Zip,
    Gzip,
}

/// How many leading bytes [`sniff`] needs to decide.
pub const SNIFF_LEN: usize = 16;

impl Sniffed {
    pub fn media_type(self) -> MediaType {
        match self {
            Sniffed::Jpeg | Sniffed::Png | Sniffed::Webp => MediaType::Image,
            Sniffed::Mp4 | Sniffed::Mov | Sniffed::Webm => MediaType::Video,
            Sniffed::Zip | Sniffed::Gzip => MediaType::ShotsSet,
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Sniffed::Jpeg => "jpg",
            Sniffed::Png => "png",
            Sniffed::Webp => "webp",
            Sniffed::Mp4 => "mp4",
            Sniffed::Mov => "mov",
            Sniffed::Webm => "webm",
            Sniffed::Zip => "zip",
            Sniffed::Gzip => "gz",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Sniffed::Jpeg => "image/jpeg",
            Sniffed::Png => "image/png",
            Sniffed::Webp => "image/webp",
            Sniffed::Mp4 => "video/mp4",
            Sniffed::Mov => "video/quicktime",
            Sniffed::Webm => "video/webm",
            Sniffed::Zip => "application/zip",
            Sniffed::Gzip => "application/gzip",
        }
    }
    pub fn from_extension(ext: &str) -> Option<Sniffed> {
        Some(match ext {
            "jpg" => Sniffed::Jpeg,
            "png" => Sniffed::Png,
            "webp" => Sniffed::Webp,
            "mp4" => Sniffed::Mp4,
            "mov" => Sniffed::Mov,
            "webm" => Sniffed::Webm,
            "zip" => Sniffed::Zip,
            "gz" => Sniffed::Gzip,
            _ => return None,
        })
    }
}

/// Decides the kind of an upload from its first bytes; the client's `Content-Type` is not trusted.
/// `field` names the multipart field in the error message.
pub fn sniff(head: &[u8], field: &str) -> Result<Sniffed> {
    if head.is_empty() {
        return Err(Error::value(format!("file '{field}' is empty")));
    }
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Sniffed::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(Sniffed::Png);
    }
    if head.len() >= 12 && starts(b"RIFF") && &head[8..12] == b"WEBP" {
        return Ok(Sniffed::Webp);
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Ok(Sniffed::Webm);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Ok(if &head[8..12] == b"qt  " { Sniffed::Mov } else { Sniffed::Mp4 });
    }
    if head.len() >= 8 && matches!(&head[4..8], b"moov" | b"mdat" | b"wide" | b"free" | b"skip") {
        return Ok(Sniffed::Mov);
    }
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        return Ok(Sniffed::Zip);
    }
    if starts(&[0x1F, 0x8B]) {
        return Ok(Sniffed::Gzip);
    }
    if starts(b"Rar!\x1a\x07") {
        return Err(Error::value(format!(
            "file '{field}' is a RAR archive; RAR is not supported, send a ZIP or gzip shots set"
        )));
    }
    Err(Error::value(format!(
        "file '{field}' has an unsupported format; accepted: JPEG, PNG, WebP, MP4, MOV, WebM, ZIP, gzip"
    )))
}

/// The Oz `media_type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Image,
    Video,
    ShotsSet,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "IMAGE_FOLDER",
            MediaType::Video => "VIDEO_FOLDER",
            MediaType::ShotsSet => "SHOTS_SET",
        }
    }
}

/// Every tag of reference §1.3.
pub const KNOWN_TAGS: &[&str] = &[
    "video_selfie",
    "orientation_portrait",
    "orientation_landscape",
    "video_selfie_left",
    "video_selfie_right",
    "video_selfie_down",
    "video_selfie_high",
    "video_selfie_smile",
    "video_selfie_eyes",
    "video_selfie_scan",
    "video_selfie_blank",
    "video_selfie_oneshot",
    "video_selfie_zoom_in",
    "video_selfie_zoom_out",
    "photo_selfie",
    "photo_id",
    "photo_id_front",
    "photo_id_back",
];

/// Tags per media and characters per tag.
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_LEN: usize = 64;

/// Checks a media's tags and removes duplicates, keeping order. A tag Vigil does not know (not in
/// [`KNOWN_TAGS`]) is stored as sent — as Oz stores it — and simply selects nothing; only the
/// size is bounded: at most [`MAX_TAGS`] tags of 1 to [`MAX_TAG_LEN`] printable characters.
pub fn validate_tags(tags: &[String]) -> Result<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(Error::value(format!("at most {MAX_TAGS} tags per media, got {}", tags.len())));
    }
    if let Some(bad) =
        tags.iter().find(|t| t.is_empty() || t.chars().count() > MAX_TAG_LEN || t.chars().any(char::is_control))
    {
        return Err(Error::value(format!(
            "media tag '{}' must be 1 to {MAX_TAG_LEN} printable characters",
            bad.chars().filter(|c| !c.is_control()).take(MAX_TAG_LEN).collect::<String>()
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

/// Tags for a file sent without a `payload` part (a web app uploading one file): a field named
/// after a known tag (`-F photo_id_front=@front.jpg`) takes that tag, with `video_selfie` beside a
/// gesture tag; otherwise an image is a `photo_selfie` and a video or shots set a blank-gesture
/// selfie video, so that the analyses a client most likely wants select it.
pub fn default_tags(field: &str, media_type: MediaType) -> Vec<String> {
    let field = field.trim().to_ascii_lowercase();
    if KNOWN_TAGS.contains(&field.as_str()) {
        if field.starts_with("video_selfie_") {
            return vec!["video_selfie".to_string(), field];
        }
        return vec![field];
    }
    match media_type {
        MediaType::Image => vec!["photo_selfie".to_string()],
        MediaType::Video | MediaType::ShotsSet => vec!["video_selfie".to_string(), "video_selfie_blank".to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tags_by_field_and_type() {
        assert_eq!(default_tags("file", MediaType::Image), vec!["photo_selfie"]);
        assert_eq!(default_tags("Photo_ID_Front", MediaType::Image), vec!["photo_id_front"]);
        assert_eq!(default_tags("video_selfie_left", MediaType::Video), vec!["video_selfie", "video_selfie_left"]);
        assert_eq!(default_tags("video", MediaType::ShotsSet), vec!["video_selfie", "video_selfie_blank"]);
    }

    #[test]
    fn sniffs_magic_numbers() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0xxxx", "f").ok(), Some(Sniffed::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....", "f").ok(), Some(Sniffed::Png));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ", "f").ok(), Some(Sniffed::Webp));
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0", "f").ok(), Some(Sniffed::Mp4));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0", "f").ok(), Some(Sniffed::Mov));
        assert_eq!(sniff(b"\x1a\x45\xdf\xa3\x01", "f").ok(), Some(Sniffed::Webm));
        assert_eq!(sniff(b"PK\x03\x04rest", "f").ok(), Some(Sniffed::Zip));
        assert_eq!(sniff(b"\x1f\x8b\x08", "f").ok(), Some(Sniffed::Gzip));
        let rar = sniff(b"Rar!\x1a\x07\x00", "v").unwrap_err();
        assert!(rar.message.contains("RAR"));
        assert!(sniff(b"", "v").unwrap_err().message.contains("empty"));
        assert!(sniff(b"hello world", "v").unwrap_err().message.contains("unsupported"));
    }

    #[test]
    fn tags() {
        let ok = validate_tags(&["photo_selfie".into(), "photo_selfie".into()]).unwrap();
        assert_eq!(ok, vec!["photo_selfie".to_string()]);
        // Unknown tags are kept (they select nothing); only their size is bounded.
        let kept = validate_tags(&["photo_selfie".into(), "selfie_photo".into()]).unwrap();
        assert_eq!(kept, vec!["photo_selfie".to_string(), "selfie_photo".to_string()]);
        assert!(validate_tags(&["".into()]).is_err());
        assert!(validate_tags(&["a\0b".into()]).is_err());
        assert!(validate_tags(&["x".repeat(MAX_TAG_LEN + 1)]).is_err());
        assert!(validate_tags(&(0..=MAX_TAGS).map(|i| format!("t{i}")).collect::<Vec<_>>()).is_err());
    }
}

/// Why a media file could not be turned into frames. Each kind is stable so that an analysis can
/// report it (`kind()`), and each carries a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// Not an image at all (unknown format).
    #[error("{0} is not an image")]
    NotImage(String),
    /// A known format whose data is damaged or cut short.
    #[error("{0} is corrupt or truncated: {1}")]
    Corrupt(String, String),
    /// Decompression-bomb guard.
    #[error("{what} is {width}×{height} pixels, more than the limit of {limit}")]
    TooManyPixels { what: String, width: u32, height: u32, limit: u64 },
    /// A shots set without a single image in it.
    #[error("shots set has no image frames")]
    EmptyArchive,
    /// A shots set that is not a readable archive, or breaks a limit (entries, sizes, ratio, paths).
    #[error("shots set: {0}")]
    BadArchive(String),
    /// A video that ffmpeg could not decode.
    #[error("video could not be decoded: {0}")]
    VideoUnreadable(String),
    /// A video decoded to nothing.
    #[error("video has no frames")]
    NoFrames,
    /// Decoding took longer than allowed.
    #[error("decoding {0} took longer than {1} s")]
    Timeout(String, u64),
    /// A readable photo without a detectable face.
    #[error("no face found in {0}")]
    NoFace(String),
}

impl MediaError {
    /// A stable name for the kind, for analysis results and error details.
    pub fn kind(&self) -> &'static str {
        match self {
            MediaError::NotImage(_) => "not_an_image",
            MediaError::Corrupt(..) => "corrupt_media",
            MediaError::TooManyPixels { .. } => "too_many_pixels",
            MediaError::EmptyArchive => "empty_shots_set",
            MediaError::BadArchive(_) => "bad_shots_set",
            MediaError::VideoUnreadable(_) => "unreadable_video",
            MediaError::NoFrames => "no_frames",
            MediaError::Timeout(..) => "decode_timeout",
            MediaError::NoFace(_) => "no_face",
        }
    }
}

impl From<MediaError> for Error {
    fn from(e: MediaError) -> Error {
        Error::value(e.to_string()).with_details(serde_json::json!({ "media_error": e.kind() }))
    }
}
