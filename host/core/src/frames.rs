//! Frames of a stored media file for plugins: a photo is one frame; a shots set (a ZIP, a
//! gzip-compressed tar, or one gzip-compressed image) gives its images in name order; a video
//! gives sampled frames through ffmpeg (`crate::video`). Archive entries are read in memory,
//! never written anywhere, under limits on entry count, sizes and compression ratio (zip bombs),
//! and entries whose names would escape a directory are refused.

use crate::App;
use crate::video::temp_input;
use image::RgbImage;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::sync::Arc;
use uuid::Uuid;
use vigil_domain::media::{MediaError, MediaType, Sniffed, sniff};
use vigil_domain::model::{Media, ShotFrame};

/// Bounds on what one shots set may expand to.
#[derive(Debug, Clone, Copy)]
pub struct ShotsLimits {
    pub max_entries: usize,
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
    /// Uncompressed size ÷ compressed size, per entry (ZIP) or for the whole stream (gzip).
    pub max_ratio: u64,
    /// Pixels of one frame, read from its header before anything is decoded.
    pub max_pixels: u64,
    /// Frames decoded per shots set: more image entries are sampled evenly, as video frames are.
    pub max_frames: usize,
    /// Decoded frames are scaled to fit this side at once; the full-size frame is dropped.
    pub max_side: u32,
}

impl Default for ShotsLimits {
    fn default() -> Self {
        ShotsLimits {
            max_entries: 64,
            max_entry_bytes: 16 << 20,
            max_total_bytes: 128 << 20,
            max_ratio: 100,
            max_pixels: 16_777_216,
            max_frames: 25,
            max_side: 1280,
        }
    }
}

fn bad(m: impl Into<String>) -> MediaError {
    MediaError::BadArchive(m.into())
}

/// An entry name that is absolute or climbs out with `..` is refused even though nothing is
/// extracted: a client sending one is not a camera SDK.
fn check_name(name: &str) -> Result<(), MediaError> {
    let escapes = name.starts_with('/')
        || name.starts_with('\\')
        || name.contains(':')
        || name.split(['/', '\\']).any(|part| part == "..");
    if escapes { Err(bad(format!("entry '{name}' escapes the archive"))) } else { Ok(()) }
}

/// An image entry of a shots set: its name, where to read it again, and its size from its header.
struct Found {
    name: String,
    at: usize,
    width: u32,
    height: u32,
}

/// The header size of an entry that is an image; `None` for other entries, which are skipped.
fn image_dims(buf: &[u8], name: &str) -> Result<Option<(u32, u32)>, MediaError> {
    match sniff(buf, name) {
        Ok(s) if s.media_type() == MediaType::Image => {
            crate::media::dimensions(buf, &format!("frame '{name}'")).map(Some)
        }
        _ => Ok(None),
    }
}

/// Which of `n` entries are decoded: all when `n <= max`, else `max` spread evenly, first and
/// last included.
fn sample(n: usize, max: usize) -> Vec<usize> {
    if n <= max || max < 2 {
        return (0..n.min(max.max(1))).collect();
    }
    let mut v: Vec<usize> = (0..max).map(|i| i * (n - 1) / (max - 1)).collect();
    v.dedup();
    v
}

/// Decodes the sampled entries one at a time under the decoded-pixel budget: each frame's header
/// is checked against `max_pixels` before its pixels are allocated, and the frame is scaled to
/// `max_side` at once, so at most one full-size frame exists at a time.
fn decode_found(
    found: &[Found],
    limits: ShotsLimits,
    mut read: impl FnMut(usize) -> Result<Vec<u8>, MediaError>,
) -> Result<Vec<(ShotFrame, RgbImage)>, MediaError> {
    if found.is_empty() {
        return Err(MediaError::EmptyArchive);
    }
    let mut out = Vec::new();
    for i in sample(found.len(), limits.max_frames) {
        let f = &found[i];
        let buf = read(f.at)?;
        // `decode` checks the header against the budget before allocating any pixel.
        let img = crate::media::decode(&buf, limits.max_pixels, &format!("frame '{}'", f.name))?;
        drop(buf);
        let img = crate::media::fit(img, limits.max_side).into_rgb8();
        out.push((ShotFrame { name: f.name.clone(), width: f.width, height: f.height }, img));
    }
    Ok(out)
}

/// Decodes the frames of a shots set of either container.
pub fn shots_frames(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<RgbImage>, MediaError> {
    Ok(named_shots_frames(bytes, limits)?.into_iter().map(|(_, f)| f).collect())
}

/// The frames of a shots set with their entries (name and size as stored).
pub fn named_shots_frames(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<(ShotFrame, RgbImage)>, MediaError> {
    match sniff(bytes, "shots set") {
        Ok(Sniffed::Gzip) => gzip_named(bytes, limits),
        _ => zip_named(bytes, limits),
    }
}

/// Decodes the image frames of a ZIP shots set, in entry-name order. Non-image entries are skipped.
pub fn zip_frames(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<RgbImage>, MediaError> {
    Ok(zip_named(bytes, limits)?.into_iter().map(|(_, f)| f).collect())
}

fn zip_named(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<(ShotFrame, RgbImage)>, MediaError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(format!("not a readable ZIP: {e}")))?;
    if archive.len() > limits.max_entries {
        return Err(bad(format!("{} entries, at most {} allowed", archive.len(), limits.max_entries)));
    }
    let mut names: Vec<(String, usize)> = Vec::new();
    for i in 0..archive.len() {
        let f = archive.by_index(i).map_err(|e| bad(format!("entry {i}: {e}")))?;
        let name = f.name().map(|n| n.to_string()).map_err(|e| bad(format!("entry {i}: {e}")))?;
        check_name(&name)?;
        if f.is_file() {
            names.push((name, i));
        }
    }
    names.sort();
    // Reads entry `i`, no more than the limit (+1 to notice a lying header).
    let read = |archive: &mut zip::ZipArchive<Cursor<&[u8]>>, i: usize| -> Result<Vec<u8>, MediaError> {
        let f = archive.by_index(i).map_err(|e| bad(format!("entry {i}: {e}")))?;
        let name = f.name().map(|n| n.to_string()).unwrap_or_else(|_| format!("entry {i}"));
        let (declared, packed) = (f.size(), f.compressed_size().max(1));
        if declared > limits.max_entry_bytes || declared / packed > limits.max_ratio {
            return Err(bad(format!("entry '{name}' expands too much ({declared} bytes from {packed})")));
        }
        let mut buf = Vec::with_capacity(declared as usize);
        f.take(limits.max_entry_bytes + 1).read_to_end(&mut buf).map_err(|e| bad(format!("{name}: {e}")))?;
        if buf.len() as u64 > limits.max_entry_bytes {
            return Err(bad(format!("entry '{name}' is larger than {} bytes", limits.max_entry_bytes)));
        }
        Ok(buf)
    };
    // First pass: which entries are images, and how large their headers say they are.
    let (mut total, mut found) = (0u64, Vec::new());
    for (name, i) in names {
        let buf = read(&mut archive, i)?;
        total += buf.len() as u64;
        if total > limits.max_total_bytes {
            return Err(bad(format!("more than {} bytes uncompressed", limits.max_total_bytes)));
        }
        if let Some((width, height)) = image_dims(&buf, &name)? {
            found.push(Found { name, at: i, width, height });
        }
    }
    // Second pass: decode the sampled frames, one at a time.
    decode_found(&found, limits, |i| read(&mut archive, i))
}

/// A gzip shots set: a tar of images, or a single compressed image. The stream is inflated at
/// most to the total limit and the whole-stream ratio is checked before anything is decoded.
pub fn gzip_frames(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<RgbImage>, MediaError> {
    Ok(gzip_named(bytes, limits)?.into_iter().map(|(_, f)| f).collect())
}

fn gzip_named(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<(ShotFrame, RgbImage)>, MediaError> {
    let cap = limits.max_total_bytes.min((bytes.len() as u64).saturating_mul(limits.max_ratio));
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(cap + 1)
        .read_to_end(&mut raw)
        .map_err(|e| bad(format!("not a readable gzip stream: {e}")))?;
    if raw.len() as u64 > cap {
        return Err(bad(format!("expands beyond {cap} bytes from {} compressed", bytes.len())));
    }
    if let Some((width, height)) = image_dims(&raw, "shots set")? {
        let found = [Found { name: String::new(), at: 0, width, height }];
        return decode_found(&found, limits, |_| Ok(std::mem::take(&mut raw)));
    }
    let mut entries = Vec::new();
    let mut archive = tar::Archive::new(Cursor::new(&raw[..]));
    for entry in archive.entries().map_err(|e| bad(format!("neither an image nor a tar: {e}")))? {
        let mut entry = entry.map_err(|e| bad(format!("tar entry: {e}")))?;
        let name = entry.path_bytes().into_owned();
        let name = String::from_utf8(name).map_err(|_| bad("tar entry name is not UTF-8"))?;
        check_name(&name)?;
        if entries.len() >= limits.max_entries {
            return Err(bad(format!("more than {} entries", limits.max_entries)));
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        if entry.size() > limits.max_entry_bytes {
            return Err(bad(format!("entry '{name}' is larger than {} bytes", limits.max_entry_bytes)));
        }
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).map_err(|e| bad(format!("{name}: {e}")))?;
        entries.push((name, buf));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut found = Vec::new();
    for (i, (name, buf)) in entries.iter().enumerate() {
        if let Some((width, height)) = image_dims(buf, name)? {
            found.push(Found { name: name.clone(), at: i, width, height });
        }
    }
    decode_found(&found, limits, |i| Ok(std::mem::take(&mut entries[i].1)))
}

/// Decoded frames of the media of one request (an analysis run over a folder), so that several
/// plugins reading the same media decode it once. Dropped with the request.
#[derive(Default)]
pub struct FrameCache {
    frames: tokio::sync::Mutex<HashMap<Uuid, Frames>>,
    decodes: std::sync::atomic::AtomicUsize,
}

/// The frames of one media, shared.
pub type Frames = Arc<Vec<Arc<RgbImage>>>;

impl FrameCache {
    /// How many media were actually decoded through this cache.
    pub fn decodes(&self) -> usize {
        self.decodes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Recently decoded media of this process, shared by every analysis job: QUALITY and BIOMETRY
/// requested together on a selfie video decode it once. Bounded by the bytes of the frames (least
/// recently used goes first); two jobs asking for the same media at once wait for one decode.
/// Stored media never change, so an entry is never stale; failures are not kept.
pub struct SharedFrames {
    budget: usize,
    inner: std::sync::Mutex<Shared>,
}

#[derive(Default)]
struct Shared {
    entries: HashMap<Uuid, SharedEntry>,
    clock: u64,
    bytes: usize,
}

struct SharedEntry {
    cell: Arc<tokio::sync::OnceCell<Frames>>,
    last_used: u64,
    bytes: usize,
}

impl SharedFrames {
    /// `budget` bytes of decoded pixels at most; 0 keeps nothing.
    pub fn new(budget: usize) -> SharedFrames {
        SharedFrames { budget, inner: std::sync::Mutex::new(Shared::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic while holding this lock leaves only counters behind: keep going.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cell(&self, id: Uuid) -> Arc<tokio::sync::OnceCell<Frames>> {
        let mut g = self.lock();
        g.clock += 1;
        let now = g.clock;
        let e = g.entries.entry(id).or_insert_with(|| SharedEntry {
            cell: Arc::new(tokio::sync::OnceCell::new()),
            last_used: now,
            bytes: 0,
        });
        e.last_used = now;
        e.cell.clone()
    }

    /// Accounts a new decode and evicts the least recently used decodes beyond the budget.
    fn admit(&self, id: Uuid, frames: &Frames) {
        let size: usize = frames.iter().map(|f| f.as_raw().len()).sum();
        let mut g = self.lock();
        if let Some(e) = g.entries.get_mut(&id) {
            e.bytes = size;
        }
        g.bytes += size;
        while g.bytes > self.budget {
            let oldest =
                g.entries.iter().filter(|(_, e)| e.bytes > 0).min_by_key(|(_, e)| e.last_used).map(|(k, _)| *k);
            let Some(k) = oldest else { break };
            if let Some(e) = g.entries.remove(&k) {
                g.bytes -= e.bytes;
            }
        }
    }

    fn forget(&self, id: Uuid) {
        let mut g = self.lock();
        if let Some(e) = g.entries.remove(&id) {
            g.bytes -= e.bytes;
        }
    }
}

impl App {
    /// The frames of a stored media for an analysis job, through the process's
    /// [`SharedFrames`]; the flag tells whether this call decoded them.
    pub async fn shared_media_frames(&self, m: &Media) -> Result<(Frames, bool), MediaError> {
        let shared = &self.inner.frames;
        let cell = shared.cell(m.media_id);
        let mut decoded = false;
        let result = cell
            .get_or_try_init(|| {
                decoded = true;
                async {
                    let frames = self.decode_media(m).await?;
                    Ok::<Frames, MediaError>(Arc::new(frames.into_iter().map(Arc::new).collect()))
                }
            })
            .await
            .cloned();
        match &result {
            Ok(f) if decoded => shared.admit(m.media_id, f),
            Err(_) => shared.forget(m.media_id),
            Ok(_) => {}
        }
        result.map(|f| (f, decoded))
    }

    /// The frames of a stored media: a photo → itself; a shots set → its images; a video →
    /// frames sampled by ffmpeg. Served from `cache` when this request already decoded them.
    pub async fn media_frames(&self, m: &Media, cache: &FrameCache) -> Result<Frames, MediaError> {
        // The lock is held across the decode on purpose: a second plugin asking for the same
        // media waits for the first decode instead of starting another.
        let mut map = cache.frames.lock().await;
        if let Some(f) = map.get(&m.media_id) {
            return Ok(f.clone());
        }
        let frames = self.decode_media(m).await?;
        cache.decodes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let frames: Frames = Arc::new(frames.into_iter().map(Arc::new).collect());
        map.insert(m.media_id, frames.clone());
        Ok(frames)
    }

    async fn decode_media(&self, m: &Media) -> Result<Vec<RgbImage>, MediaError> {
        let bytes = self
            .blob()
            .read(&m.blob_key)
            .await
            .map_err(|e| MediaError::Corrupt("stored media".into(), e.to_string()))?;
        let ext = m.blob_key.rsplit('.').next().unwrap_or("bin").to_string();
        decode_frames(bytes, &ext, self.cfg()).await
    }
}

/// The frames of a media file whose type the extension names (as stored: `jpg`, `mp4`, `zip`, …):
/// a photo → itself; a shots set → its images; a video → frames sampled by ffmpeg. Analyses and
/// `vigil eval` decode through here, so both see the same frames.
pub async fn decode_frames(
    bytes: bytes::Bytes,
    ext: &str,
    cfg: &crate::CoreConfig,
) -> Result<Vec<RgbImage>, MediaError> {
    let max_pixels = cfg.limits.max_image_pixels;
    match Sniffed::from_extension(ext).map(Sniffed::media_type) {
        Some(MediaType::Video) => {
            let input = temp_input(&bytes, ext)?;
            crate::video::sample_frames(input.path(), &cfg.video).await
        }
        Some(MediaType::ShotsSet) => {
            let limits = cfg.shots_limits();
            blocking(move || shots_frames(&bytes, limits)).await
        }
        _ => blocking(move || crate::media::decode_rgb(&bytes, max_pixels).map(|i| vec![i])).await,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MediaError> + Send + 'static,
) -> Result<T, MediaError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| MediaError::Corrupt("media".into(), e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(RgbImage::new(w, h)).write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn frames_in_name_order_and_limits() {
        let z = zip_of(&[("b.png", png(4, 2)), ("a.png", png(2, 2)), ("notes.txt", b"hi".to_vec())]);
        let frames = zip_frames(&z, ShotsLimits::default()).unwrap();
        assert_eq!(frames.iter().map(|f| f.width()).collect::<Vec<_>>(), vec![2, 4]);
        let many: Vec<(String, Vec<u8>)> = (0..5).map(|i| (format!("{i}.png"), png(1, 1))).collect();
        let refs: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        let tight = ShotsLimits { max_entries: 3, ..ShotsLimits::default() };
        assert!(zip_frames(&zip_of(&refs), tight).unwrap_err().to_string().contains("entries"));
        let bomb = zip_of(&[("zeros.bin", vec![0u8; 4 << 20])]);
        assert!(zip_frames(&bomb, ShotsLimits::default()).unwrap_err().to_string().contains("expands too much"));
        assert_eq!(
            zip_frames(&zip_of(&[("x.txt", b"t".to_vec())]), ShotsLimits::default()).unwrap_err(),
            MediaError::EmptyArchive
        );
        assert_eq!(zip_frames(&zip_of(&[]), ShotsLimits::default()).unwrap_err(), MediaError::EmptyArchive);
        assert!(matches!(zip_frames(b"PK\x03\x04garbage", ShotsLimits::default()), Err(MediaError::BadArchive(_))));
        let escape = zip_of(&[("../evil.png", png(2, 2))]);
        assert!(zip_frames(&escape, ShotsLimits::default()).unwrap_err().to_string().contains("escapes"));
    }

    #[test]
    fn the_pixel_budget_holds_before_decoding() {
        // A frame whose header is too large is refused before its pixels exist.
        let big = zip_of(&[("a.png", png(300, 200))]);
        let tight = ShotsLimits { max_pixels: 50_000, ..ShotsLimits::default() };
        assert!(matches!(zip_frames(&big, tight), Err(MediaError::TooManyPixels { width: 300, height: 200, .. })));
        // Frames are scaled to the side limit at once; the entry keeps its stored size.
        let small_side = ShotsLimits { max_side: 100, ..ShotsLimits::default() };
        let named = named_shots_frames(&big, small_side).unwrap();
        assert_eq!((named[0].1.width(), named[0].1.height()), (100, 67));
        assert_eq!((named[0].0.width, named[0].0.height), (300, 200));
        // Beyond max_frames, entries are sampled evenly, first and last kept.
        let many: Vec<(String, Vec<u8>)> = (0..40).map(|i| (format!("{i:02}.png"), png(2, 2))).collect();
        let refs: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        let named = named_shots_frames(&zip_of(&refs), ShotsLimits::default()).unwrap();
        assert_eq!(named.len(), 25);
        assert_eq!((named[0].0.name.as_str(), named[24].0.name.as_str()), ("00.png", "39.png"));
        assert_eq!(sample(3, 25), vec![0, 1, 2]);
        assert_eq!(sample(10, 4), vec![0, 3, 6, 9]);
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn tar_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // Written raw so that hostile names reach the reader as they are.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn gzip_shots_sets() {
        let one = gz(&png(3, 2));
        assert_eq!(shots_frames(&one, ShotsLimits::default()).unwrap()[0].width(), 3);
        let set = gz(&tar_of(&[("2.png", png(5, 1)), ("1.png", png(4, 1)), ("readme", b"x".to_vec())]));
        let frames = shots_frames(&set, ShotsLimits::default()).unwrap();
        assert_eq!(frames.iter().map(|f| f.width()).collect::<Vec<_>>(), vec![4, 5]);
        let escape = gz(&tar_of(&[("../../etc/x.png", png(2, 2))]));
        assert!(shots_frames(&escape, ShotsLimits::default()).unwrap_err().to_string().contains("escapes"));
        let bomb = gz(&vec![0u8; 8 << 20]);
        assert!(shots_frames(&bomb, ShotsLimits::default()).unwrap_err().to_string().contains("expands beyond"));
        assert_eq!(shots_frames(&gz(&tar_of(&[])), ShotsLimits::default()).unwrap_err(), MediaError::EmptyArchive);
        assert!(matches!(shots_frames(&one[..one.len() / 2], ShotsLimits::default()), Err(MediaError::BadArchive(_))));
    }
}

#[cfg(test)]
mod shared_tests {
    use super::*;

    fn frames(bytes_per_frame: u32) -> Frames {
        Arc::new(vec![Arc::new(RgbImage::new(bytes_per_frame / 3, 1))])
    }

    #[test]
    fn shared_frames_evict_the_least_recently_used_beyond_the_budget() {
        let s = SharedFrames::new(150);
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        for id in [a, b] {
            s.cell(id);
            s.admit(id, &frames(60));
        }
        assert_eq!(s.lock().bytes, 120);
        s.cell(a); // a is now more recent than b
        s.cell(c);
        s.admit(c, &frames(60));
        let g = s.lock();
        assert_eq!(g.bytes, 120);
        assert!(g.entries.contains_key(&a) && g.entries.contains_key(&c) && !g.entries.contains_key(&b));
        drop(g);
        s.forget(a);
        assert_eq!(s.lock().bytes, 60);
        // A zero budget keeps nothing.
        let none = SharedFrames::new(0);
        none.cell(a);
        none.admit(a, &frames(60));
        assert_eq!(none.lock().bytes, 0);
    }
}
