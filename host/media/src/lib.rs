//! Media decoding for Vigil: photos, shots sets and videos turned into pixels, and the JPEG and
//! MP4 files derived from them (thumbnails, best shots, snapshots, shots-set previews).
//!
//! **Invariant — the pixel budget:** nothing here allocates pixels it has not bounded first. A
//! photo's and every shots-set frame's size is read from its header and refused beyond
//! [`MediaLimits::max_image_pixels`] (and the shots-set frame limit) before it is decoded; a shots
//! set decodes at most as many frames as an analysis samples, each scaled down at once; ffmpeg
//! scales video frames to [`video::VideoLimits::max_side`] in the subprocess, under an
//! address-space limit, and never writes decoded pixels to disk. So the memory one media costs is
//! bounded by the limits, whatever was uploaded (`README.md`, "Memory", states the bound).
//!
//! No storage, no HTTP, no configuration files: callers pass bytes and limits.

pub mod photo;
pub mod shots;
pub mod video;

use image::RgbImage;
use vigil_domain::media::{MediaError, MediaType, Sniffed};

/// Every limit decoding works under.
#[derive(Debug, Clone)]
pub struct MediaLimits {
    /// Pixels of a photo (width × height from its header).
    pub max_image_pixels: u64,
    /// What a shots set may expand to, and how many of its frames are decoded.
    pub shots: shots::ShotsLimits,
    /// How ffmpeg runs and how videos are sampled.
    pub video: video::VideoLimits,
}

/// The frames of a media file whose type the extension names (as stored: `jpg`, `mp4`, `zip`, …):
/// a photo → itself; a shots set → its images; a video → frames sampled by ffmpeg.
pub async fn decode_frames(bytes: bytes::Bytes, ext: &str, limits: &MediaLimits) -> Result<Vec<RgbImage>, MediaError> {
    let max_pixels = limits.max_image_pixels;
    match Sniffed::from_extension(ext).map(Sniffed::media_type) {
        Some(MediaType::Video) => {
            let input = video::temp_input(&bytes, ext)?;
            video::sample_frames(input.path(), &limits.video).await
        }
        Some(MediaType::ShotsSet) => {
            let shots = limits.shots;
            blocking(move || shots::shots_frames(&bytes, shots)).await
        }
        _ => blocking(move || photo::decode_rgb(&bytes, max_pixels).map(|i| vec![i])).await,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MediaError> + Send + 'static,
) -> Result<T, MediaError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| MediaError::Corrupt("media".into(), e.to_string()))?
}
