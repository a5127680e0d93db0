//! Vigil's use-cases: auth, users, companies, folders, media, metadata, analyses and their jobs,
//! webhooks, health.
//!
//! Architecture invariant: every function here takes the caller's [`Principal`] (or a token to
//! resolve into one) and checks the permission policy before it reads or writes; no HTTP type
//! crosses into this crate, and SQL stays in `vigil-store`.

pub mod ab;
pub mod analyses;
pub mod audit;
pub mod auth;
pub mod collections;
pub mod companies;
pub mod crypto;
pub mod directory;
pub mod documents;
pub mod eval;
pub mod events;
pub mod folders;
pub mod frames;
pub mod jobs;
pub mod media;
pub mod meta;
mod plot;
pub mod plugins;
pub mod reports;
pub mod restore;
pub mod upload;
pub mod users;
pub mod vision;
pub mod webhooks;

use std::sync::Arc;
use vigil_blob::{Blob, BlobError};
use vigil_domain::password::PasswordPolicy;
use vigil_domain::{Code, Error, Result};
use vigil_store::{Store, StoreError};

pub use vigil_domain::Principal;

/// Upload limits; every one is configurable.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_file_size: u64,
    pub max_files: usize,
    pub max_media_per_folder: usize,
    pub max_request_size: u64,
    /// Decoded images larger than this many pixels are refused (decompression bombs).
    pub max_image_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 64 << 20,
            max_files: 10,
            max_media_per_folder: 100,
            max_request_size: 256 << 20,
            max_image_pixels: 50_000_000,
        }
    }
}

/// What the use-cases need to know of the configuration.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Base URL for the links in `original_url` / `thumb_url`, without a trailing slash.
    pub public_url: String,
    pub session_ttl_secs: u64,
    pub session_longlive_ttl_secs: u64,
    /// Lifetime of an ADMIN's session (Oz 4.0.8: five years).
    pub admin_session_ttl_secs: u64,
    /// How long a password-restore token stays usable.
    pub restore_ttl_secs: u64,
    /// How long a refresh token (`expire_token`) stays usable for a regular user.
    pub refresh_ttl_secs: u64,
    pub password_policy: PasswordPolicy,
    pub use_permissions_for_static: bool,
    pub limits: Limits,
    pub timezone: String,
    /// Concurrent plugin calls per company.
    pub plugin_concurrency: usize,
    /// How videos are decoded (ffmpeg limits, frame sampling).
    pub video: vigil_media::video::VideoLimits,
    /// What a shots set may expand to.
    pub shots: vigil_media::shots::ShotsLimits,
    /// Rebuild an MP4 preview (`video_url`) from every uploaded shots set.
    pub shots_preview: bool,
    /// Workers, leases, retries and webhooks.
    pub jobs: jobs::JobsConfig,
    /// Decoded frames kept for the analysis jobs of this process (bytes of pixels).
    pub frame_cache_bytes: usize,
    /// Media decoded at once by this process (uploads, analyses, snapshots); more wait. With the
    /// per-media bound of `vigil-media`, this bounds the memory decoding takes whatever arrives.
    pub decode_concurrency: usize,
    /// The face index of 1:N search.
    pub face_index: FaceIndexSettings,
    /// How folder reports are typeset.
    pub reports: reports::ReportSettings,
    /// Sign-in through an LDAP directory / Active Directory; local accounts only when absent.
    pub directory: Option<directory::DirectoryConfig>,
    /// `OZ_THROTTLING_RATES`: per-scope rates; empty, no throttling.
    pub throttling: std::collections::BTreeMap<vigil_domain::throttle::Scope, vigil_domain::throttle::Rate>,
}

/// Which face index serves 1:N search, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceIndexBackend {
    /// Every face compared in full precision: exact, linear in the collection's size, four
    /// times the memory of the quantised scan and ten times slower at a million faces.
    Exact,
    /// Every face compared through 4- and 8-bit copies, the candidates re-scored from the
    /// stored embeddings (the default: found every exact best at a million faces in 7 ms).
    Quantised,
    /// An HNSW graph per collection, persisted.
    Hnsw,
    /// The database searches (PostgreSQL with pgvector): nothing held per process; the
    /// quantised scan stands in when the database has no pgvector.
    PgVector,
}

impl FaceIndexBackend {
    pub fn parse(s: &str) -> Option<FaceIndexBackend> {
        match s.trim() {
            "exact" => Some(FaceIndexBackend::Exact),
            "quantised" | "quantized" | "auto" => Some(FaceIndexBackend::Quantised),
            "hnsw" => Some(FaceIndexBackend::Hnsw),
            "pgvector" => Some(FaceIndexBackend::PgVector),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FaceIndexSettings {
    pub backend: FaceIndexBackend,
    /// Where the HNSW graphs are persisted; `None` keeps them in memory.
    pub dir: Option<std::path::PathBuf>,
    /// HNSW search breadth (ef, also pgvector's `hnsw.ef_search`): recall against speed.
    pub expansion_search: usize,
    /// How often changed graphs are written to `dir` (and at a graceful stop).
    pub save_secs: u64,
}

impl Default for FaceIndexSettings {
    fn default() -> Self {
        FaceIndexSettings {
            backend: FaceIndexBackend::Quantised,
            dir: None,
            expansion_search: vigil_index::HnswConfig::default().expansion_search,
            save_secs: 30,
        }
    }
}

impl CoreConfig {
    /// The shots-set limits in force: a frame no larger than a photo may be, and the frame count
    /// and size that videos are sampled to.
    pub fn shots_limits(&self) -> vigil_media::shots::ShotsLimits {
        vigil_media::shots::ShotsLimits {
            max_pixels: self.shots.max_pixels.min(self.limits.max_image_pixels),
            max_frames: self.video.max_frames,
            max_side: self.video.max_side,
            ..self.shots
        }
    }

    /// Everything media decoding runs under.
    pub fn media_limits(&self) -> vigil_media::MediaLimits {
        vigil_media::MediaLimits {
            max_image_pixels: self.limits.max_image_pixels,
            shots: self.shots_limits(),
            video: self.video.clone(),
        }
    }
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            public_url: "http://127.0.0.1:8080".into(),
            session_ttl_secs: 15 * 60,
            session_longlive_ttl_secs: 5 * 365 * 86_400,
            admin_session_ttl_secs: 5 * 365 * 86_400,
            restore_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 86_400,
            password_policy: PasswordPolicy::default(),
            use_permissions_for_static: true,
            limits: Limits::default(),
            timezone: "UTC".into(),
            plugin_concurrency: 8,
            video: vigil_media::video::VideoLimits::default(),
            shots: vigil_media::shots::ShotsLimits::default(),
            shots_preview: true,
            jobs: jobs::JobsConfig::default(),
            frame_cache_bytes: 256 << 20,
            decode_concurrency: 2,
            face_index: FaceIndexSettings::default(),
            reports: reports::ReportSettings::default(),
            directory: None,
            throttling: Default::default(),
        }
    }
}

/// The application: storage, blobs and configuration. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    store: Store,
    blob: Blob,
    cfg: CoreConfig,
    plugins: Arc<plugins::PluginRuntime>,
    /// Wakes idle workers when this process queues a job.
    wake: tokio::sync::Notify,
    /// Webhook deliveries.
    http: reqwest::Client,
    /// Decoded media shared by the analysis jobs of this process.
    frames: frames::SharedFrames,
    /// One permit per media being decoded (`CoreConfig::decode_concurrency`).
    decode_slots: tokio::sync::Semaphore,
    /// The face index of 1:N search.
    faces: collections::FaceCache,
    /// Customers' report-template components, compiled.
    report_components: reports::ComponentCache,
    /// Experiment variants pinned to versions that are not active.
    ab_variants: ab::VariantCache,
}

impl App {
    /// Fails when the webhook HTTP client cannot be built with its no-redirect policy: there is
    /// no fallback to a client that would follow redirects.
    pub fn new(store: Store, blob: Blob, cfg: CoreConfig, plugins: Arc<plugins::PluginRuntime>) -> Result<App> {
        let http = webhooks::http_client(None)?;
        let frames = frames::SharedFrames::new(cfg.frame_cache_bytes);
        let decode_slots = tokio::sync::Semaphore::new(cfg.decode_concurrency.max(1));
        let wake = tokio::sync::Notify::new();
        let index: Arc<dyn vigil_index::FaceIndex> = match cfg.face_index.backend {
            FaceIndexBackend::Exact => Arc::new(vigil_index::Exact::new()),
            FaceIndexBackend::Quantised | FaceIndexBackend::PgVector => Arc::new(vigil_index::QuantisedScan::default()),
            FaceIndexBackend::Hnsw => Arc::new(vigil_index::Hnsw::new(vigil_index::HnswConfig {
                dir: cfg.face_index.dir.clone(),
                expansion_search: cfg.face_index.expansion_search,
                ..Default::default()
            })),
        };
        let faces = collections::FaceCache::new(
            index,
            cfg.face_index.backend == FaceIndexBackend::PgVector,
            cfg.face_index.expansion_search,
        );
        let report_components = reports::ComponentCache::default();
        Ok(App {
            inner: Arc::new(Inner {
                store,
                blob,
                cfg,
                plugins,
                wake,
                http,
                frames,
                decode_slots,
                faces,
                report_components,
                ab_variants: ab::VariantCache::default(),
            }),
        })
    }

    /// Waits for a turn to decode a media: at most `decode_concurrency` at once in this process.
    pub(crate) async fn decode_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        self.inner.decode_slots.acquire().await.map_err(Error::internal)
    }
    pub fn store(&self) -> Store {
        self.inner.store.clone()
    }
    pub fn blob(&self) -> &Blob {
        &self.inner.blob
    }
    pub fn cfg(&self) -> &CoreConfig {
        &self.inner.cfg
    }

    /// `GET /api/healthcheck`: the database and the blob store both answer.
    pub async fn health(&self) -> std::result::Result<(), Vec<(&'static str, String)>> {
        let mut failed = Vec::new();
        if let Err(e) = self.inner.store.ping().await {
            failed.push(("database", e.to_string()));
        }
        if let Err(e) = self.inner.blob.check().await {
            failed.push(("storage", e.to_string()));
        }
        if failed.is_empty() { Ok(()) } else { Err(failed) }
    }
}

/// Microseconds since the UNIX epoch.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// Turns infrastructure errors into client-visible ones at the use-case boundary.
pub(crate) trait Infra<T> {
    fn infra(self) -> Result<T>;
}

impl<T> Infra<T> for std::result::Result<T, StoreError> {
    fn infra(self) -> Result<T> {
        self.map_err(|e| match e {
            // The database's own text stays in the log.
            StoreError::Conflict(m) => {
                tracing::info!(detail = %m, "unique constraint");
                Error::new(Code::Conflict, "conflicts with an existing record")
            }
            other => Error::internal_error(&other),
        })
    }
}

impl<T> Infra<T> for std::result::Result<T, BlobError> {
    fn infra(self) -> Result<T> {
        self.map_err(|e| Error::internal_error(&e))
    }
}

/// Crash-test hook: when `VIGIL_FAILPOINTS` (comma-separated) names `point`, the process aborts
/// there — no destructor, no cleanup, as under `kill -9` — so tests can prove that what a crash
/// leaves at that point is completed by a retry. Unset in production: one cached lookup.
pub(crate) fn failpoint(point: &str) {
    static POINTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let points = POINTS.get_or_init(|| {
        std::env::var("VIGIL_FAILPOINTS")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    });
    if points.iter().any(|p| p == point) {
        tracing::error!(point, "failpoint reached: aborting");
        std::process::abort();
    }
}
