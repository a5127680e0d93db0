//! Decoded frames of stored media for plugins, decoded by `vigil-media` under its pixel budget
//! and shared: per request ([`FrameCache`]) and per process ([`SharedFrames`]).

use crate::App;
use image::RgbImage;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;
use vigil_domain::media::MediaError;
use vigil_domain::model::Media;

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
        let kind = if decoded { "miss" } else { "hit" };
        metrics::counter!("vigil_frame_cache_total", "result" => kind).increment(1);
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
        let _slot =
            self.decode_slot().await.map_err(|e| MediaError::Corrupt("media".into(), format!("decode slot: {e}")))?;
        let bytes = self
            .blob()
            .read(&m.blob_key)
            .await
            .map_err(|e| MediaError::Corrupt("stored media".into(), e.to_string()))?;
        let ext = m.blob_key.rsplit('.').next().unwrap_or("bin").to_string();
        decode_frames(bytes, &ext, self.cfg()).await
    }
}

/// The frames of a media file whose type the extension names (as stored: `jpg`, `mp4`, `zip`, …),
/// under the server's limits. Analyses and `vigil eval` decode through here, so both see the same
/// frames.
pub async fn decode_frames(
    bytes: bytes::Bytes,
    ext: &str,
    cfg: &crate::CoreConfig,
) -> Result<Vec<RgbImage>, MediaError> {
    vigil_media::decode_frames(bytes, ext, &cfg.media_limits()).await
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
