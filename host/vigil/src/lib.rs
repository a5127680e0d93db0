//! The `vigil` program as a library: open storage, bootstrap, serve. `main.rs` parses the command
//! line; the black-box tests call [`serve`] on a `127.0.0.1:0` listener.

pub mod ab;
pub mod builtins;
pub mod collection;
pub mod config;
pub mod eval;
pub mod logging;

use anyhow::{Context, Result};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use vigil_blob::Blob;
use vigil_core::App;
use vigil_core::users::NewUser;
use vigil_domain::policy::Caller;
use vigil_store::Store;

pub use config::Settings;

/// Connects to the database (creating the data dir for SQLite) and applies migrations.
pub async fn open_store(s: &Settings) -> Result<Store> {
    if s.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&s.data_dir).with_context(|| format!("creating data dir {}", s.data_dir.display()))?;
    }
    let store = Store::connect(&s.database_url).await.context("connecting to the database")?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

fn manifest(s: &Settings) -> Result<vigil_inference::manifest::Manifest> {
    use vigil_inference::manifest::Manifest;
    Ok(match &s.models_manifest {
        Some(p) => Manifest::from_file(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Manifest::shipped(),
    })
}

/// Loads native vision from the assets directory as the model manifest describes it.
pub fn load_vision(s: &Settings) -> Result<Arc<vigil_inference::Vision>> {
    vigil_inference::Vision::load(&vigil_inference::Assets::new(&s.assets_dir), &manifest(s)?, s.inference_threads)
        .map_err(|e| anyhow::anyhow!("loading the face models: {e}"))
}

/// Loads the text models for document reading. Their absence is not fatal: the server starts,
/// says so, and DOCUMENTS answers that document reading is not available.
pub fn load_ocr(s: &Settings) -> Result<Option<Arc<vigil_inference::ocr::Ocr>>> {
    let assets = vigil_inference::Assets::new(&s.assets_dir);
    match vigil_inference::ocr::Ocr::load(&assets, &manifest(s)?, s.inference_threads) {
        Ok(o) => Ok(o),
        Err(e) => {
            tracing::warn!(error = %e, "document reading is off: the text models did not load");
            Ok(None)
        }
    }
}

/// Videos need ffmpeg; the server still runs without it (photos and shots sets work) but says so.
fn warn_without_ffmpeg(s: &Settings) {
    for tool in [&s.core.video.ffmpeg, &s.core.video.ffprobe] {
        let found = std::process::Command::new(tool)
            .arg("-version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|st| st.success());
        if !found {
            tracing::warn!(tool = %tool, "not found: videos cannot be decoded; install ffmpeg (make setup does)");
        }
    }
}

/// Opens storage and blobs and builds the application for `public_url`; plugins get `services`
/// (native vision for the server, nothing for admin commands).
pub async fn open_app(s: &Settings, public_url: String) -> Result<App> {
    open_app_with(s, public_url, Arc::new(vigil_plugin_host::NoServices)).await
}

pub async fn open_app_with(
    s: &Settings,
    public_url: String,
    services: Arc<dyn vigil_plugin_host::Services>,
) -> Result<App> {
    let store = open_store(s).await?;
    let blob = Blob::open(s.blob_url.as_deref(), &s.data_dir, s.s3.as_ref()).context("opening blob storage")?;
    let mut core = s.core.clone();
    core.public_url = public_url;
    let host = vigil_plugin_host::PluginHost::new(services, core.plugin_concurrency)
        .map_err(|e| anyhow::anyhow!("starting the plugin host: {e}"))?;
    let plugins = Arc::new(vigil_core::plugins::PluginRuntime { host, registry: vigil_plugin_host::Registry::new() });
    App::new(store, blob, core, plugins).map_err(|e| anyhow::anyhow!("{}: {:?}", e.message, e.details))
}

/// The first ADMIN of a fresh install. With `admin_email` + `admin_password` configured, that
/// account; otherwise `admin@vigil.local` with a random password written to
/// `<data_dir>/initial-admin-password` (mode 0600) so the operator can log in once and change it.
pub async fn bootstrap_admin(app: &App, s: &Settings) -> Result<Option<Bootstrap>> {
    if app.user_count().await.map_err(|e| anyhow::anyhow!("{}", e.message))? > 0 {
        return Ok(None);
    }
    let (email, password, file) = match (&s.admin_email, &s.admin_password) {
        (Some(e), Some(p)) => (e.clone(), p.clone(), None),
        _ => {
            let mut raw = [0u8; 12];
            getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("random password: {e}"))?;
            // Hex plus a fixed tail meets any reasonable policy (upper, lower, digit, special).
            let password = format!("{}-Vg1", hex::encode(raw));
            std::fs::create_dir_all(&s.data_dir)?;
            let path = s.data_dir.join("initial-admin-password");
            write_secret(&path, &password)?;
            ("admin@vigil.local".to_string(), password, Some(path))
        }
    };
    let n = NewUser {
        email: email.clone(),
        password,
        first_name: Some("Admin".into()),
        user_type: "ADMIN".into(),
        ..Default::default()
    };
    app.create_user(Caller::System, n)
        .await
        .map_err(|e| anyhow::anyhow!("creating the first ADMIN {email}: {}", e.message))?;
    Ok(Some(Bootstrap { email, password_file: file }))
}

/// What [`bootstrap_admin`] created.
pub struct Bootstrap {
    pub email: String,
    pub password_file: Option<std::path::PathBuf>,
}

fn write_secret(path: &std::path::Path, secret: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{secret}")?;
    Ok(())
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    s: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener.local_addr()?;
    let public = s.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    // Vision is required to serve: a missing asset stops the start with the command that fetches it.
    let vision = vigil_core::vision::NativeVision::new(load_vision(s)?, s.embedding.clone())
        .map_err(|e| anyhow::anyhow!("embedding_model / company_embedding_models: {e}"))?
        .with_ocr(load_ocr(s)?);
    let vision = Arc::new(vision);
    warn_without_ffmpeg(s);
    let app = open_app_with(s, public.trim_end_matches('/').to_string(), vision.clone()).await?;
    vision.attach(&app);
    if let Some(b) = bootstrap_admin(&app, s).await? {
        match &b.password_file {
            Some(f) => {
                tracing::warn!(email = %b.email, password_file = %f.display(), "created the first ADMIN user with a random password")
            }
            None => tracing::info!(email = %b.email, "created the first ADMIN user"),
        }
    }
    tracing::info!(%addr, database = %app.store().dialect_name(), blob = app.blob().scheme(), "vigil listening");
    if let Some(manifest) = &s.builtins {
        builtins::register(&app, manifest, s.plugins_dir.as_deref(), &s.builtin_config).await?;
    }
    let loaded = app.sync_plugins().await.map_err(|e| anyhow::anyhow!("loading plugins: {}", e.message))?;
    tracing::info!(plugins = loaded, "active plugins loaded");
    // Searches wait for their collection to load; warming up front makes the first ones fast.
    let warm = app.clone();
    let warmer = tokio::spawn(async move {
        let started = std::time::Instant::now();
        match warm.warm_face_index().await {
            Ok(faces) => tracing::info!(faces, secs = started.elapsed().as_secs_f64(), "face index loaded"),
            Err(e) => tracing::warn!(error = %e.message, "face index not loaded; searches load their collection"),
        }
    });
    let saver = tokio::spawn(persist_face_index(app.clone(), s.core.face_index.save_secs));
    let purger = tokio::spawn(purge_sessions(app.clone()));
    let syncer = tokio::spawn(sync_plugins(app.clone(), s.plugin_sync_secs));
    let workers = app.spawn_workers();
    tracing::info!(workers = s.core.jobs.workers, "analysis workers started");
    let metrics = match &s.metrics_listen {
        None => None,
        Some(addr) => {
            let render = metrics_recorder()?;
            let l = TcpListener::bind(addr).await.with_context(|| format!("binding metrics_listen {addr}"))?;
            tracing::info!(addr = %l.local_addr()?, "metrics on /metrics");
            let app = app.clone();
            Some(tokio::spawn(async move {
                if let Err(e) = vigil_http::serve_metrics(l, app, render, std::future::pending()).await {
                    tracing::error!(error = %e, "metrics listener stopped");
                }
            }))
        }
    };
    let result = vigil_http::serve(listener, app.clone(), shutdown).await;
    if let Some(m) = metrics {
        m.abort();
    }
    purger.abort();
    syncer.abort();
    warmer.abort();
    saver.abort();
    match app.persist_face_index().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(collections = n, "face index persisted"),
        Err(e) => {
            tracing::warn!(error = %e.message, "face index not persisted; the next start catches up from the database")
        }
    }
    workers.stop(&app).await;
    app.store().close().await;
    Ok(result?)
}

/// The process's Prometheus recorder, installed on first use (one per process: servers started
/// side by side in one process share it); returns its renderer.
fn metrics_recorder() -> Result<Arc<dyn Fn() -> String + Send + Sync>> {
    static HANDLE: std::sync::Mutex<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::Mutex::new(None);
    let mut slot = HANDLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let h = match slot.as_ref() {
        Some(h) => h.clone(),
        None => {
            let seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];
            let h = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&seconds)
                .map_err(|e| anyhow::anyhow!("metrics buckets: {e}"))?
                .install_recorder()
                .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
            slot.insert(h).clone()
        }
    };
    Ok(Arc::new(move || h.render()))
}

/// Changed face-index graphs are written out now and then, so a restart loads them instead of
/// rebuilding from the database.
async fn persist_face_index(app: App, every: u64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(every.max(1)));
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = app.persist_face_index().await {
            tracing::warn!(error = %e.message, "face index not persisted");
        }
    }
}

/// Expired sessions and restore tokens are removed hourly so the table does not grow without bound.
async fn purge_sessions(app: App) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match app.purge_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "purged expired sessions"),
            Err(e) => tracing::warn!(error = %e.message, "session purge failed"),
        }
        if let Err(e) = app.purge_restores().await {
            tracing::warn!(error = %e.message, "restore-token purge failed");
        }
    }
}

/// Other replicas may activate versions: follow the database.
async fn sync_plugins(app: App, every: u64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(every.max(1)));
    tick.tick().await;
    loop {
        tick.tick().await;
        match app.sync_plugins().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(changes = n, "plugin versions synchronised"),
            Err(e) => tracing::warn!(error = %e.message, "plugin sync failed"),
        }
    }
}

/// The operator sees what clients do not: an internal error's cause chain.
pub fn core_err(e: vigil_domain::Error) -> anyhow::Error {
    match (&e.details, e.is_internal()) {
        (Some(serde_json::Value::String(cause)), true) => anyhow::anyhow!("{}: {}", e.message, cause),
        _ => anyhow::anyhow!("{}", e.message),
    }
}
