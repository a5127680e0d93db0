//! The plugin registry as a use-case: upload (validate, compile, cache), list, activate with hot
//! swap, deactivate, delete, and a dry run for plugin authors.
//!
//! Rights: ADMIN manages every plugin and the global built-ins; CLIENT ADMIN manages its own
//! company's; every user of a company may list and read its own and the global ones. Another
//! company's plugins are "not found".

use crate::{App, Infra, now_micros};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::audit::Change;
use vigil_domain::model::{Page, PluginInfo};
use vigil_domain::policy::{Caller, Principal, Role};
use vigil_domain::{Code, Error, Result};
use vigil_plugin_host::{
    AnalysisInput, CallError, Kind, MediaInput, MediaKind, Plugin, PluginHost, PluginMeta, PreparedComponent, Registry,
};
use vigil_store::plugins::{self, PluginRow};

pub use vigil_plugin_host::MAX_COMPONENT_BYTES;

/// The sandbox and the active versions.
pub struct PluginRuntime {
    pub host: PluginHost,
    pub registry: Registry,
}

/// Plugins loaded outside the registry (report components by content hash, inactive versions an
/// experiment pins by id), kept for the process. Few are in use at a time: past 64 the cache
/// starts over rather than tracking recency.
pub(crate) struct PluginCache<K>(std::sync::Mutex<std::collections::HashMap<K, Arc<Plugin>>>);

impl<K> Default for PluginCache<K> {
    fn default() -> Self {
        PluginCache(Default::default())
    }
}

impl<K: std::hash::Hash + Eq> PluginCache<K> {
    const MAX: usize = 64;

    pub(crate) fn get(&self, k: &K) -> Option<Arc<Plugin>> {
        self.0.lock().ok()?.get(k).cloned()
    }

    pub(crate) fn put(&self, k: K, p: Arc<Plugin>) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= Self::MAX {
                m.clear();
            }
            m.insert(k, p);
        }
    }
}

/// The `manifest` part of an upload.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// analysis, document-check, report-template or ab-rule.
    pub kind: String,
    pub name: String,
    pub version: String,
    /// The plugin's configuration; values are given to the plugin as strings.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Make this version active at once (default: only when no version is active yet).
    #[serde(default)]
    pub activate: Option<bool>,
    /// ADMIN only: the owning company; absent for a global built-in.
    #[serde(default)]
    pub company_id: Option<Uuid>,
}

/// Body of `POST /api/plugins/{id}/run`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub folder_id: Uuid,
    #[serde(default)]
    pub analysis_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Option<Value>,
}

/// A plugin's configuration is a handful of settings, not a data store.
const MAX_CONFIG_BYTES: usize = 16 << 10;
const MAX_CONFIG_KEYS: usize = 64;

fn check_config(config: &Value) -> Result<()> {
    let size = config.to_string().len();
    let keys = config.as_object().map_or(0, |m| m.len());
    if size > MAX_CONFIG_BYTES || keys > MAX_CONFIG_KEYS {
        return Err(Error::value(format!(
            "plugin config is {size} bytes in {keys} keys; at most {MAX_CONFIG_BYTES} bytes and {MAX_CONFIG_KEYS} keys"
        )));
    }
    vigil_domain::text::check_meta("plugin config", config)
}

fn config_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Where the compiled artifact of a component lives: content hash plus the engine's compatibility
/// key, so a wasmtime upgrade simply misses and recompiles.
fn cache_key(rt: &PluginRuntime, kind: Kind, sha256: &str) -> String {
    format!("plugin-cache/{sha256}-{}.cwasm", rt.host.compatibility_key(kind))
}

fn meta_of(row: &PluginRow, kind: Kind) -> PluginMeta {
    PluginMeta {
        id: row.info.plugin_id,
        company_id: row.info.company_id,
        name: row.info.name.clone(),
        version: row.info.version.clone(),
        kind,
        sha256: row.info.sha256.clone(),
        config: config_map(&row.info.config),
    }
}

fn call_error(e: CallError) -> Value {
    let kind = match &e {
        CallError::Guest(g) => g.kind(),
        CallError::Deadline(_) => "deadline",
        CallError::Trap(_) => "trap",
        CallError::Limit(_) => "limit",
        CallError::Output(..) => "output",
        CallError::Busy => "busy",
        CallError::Host(_) => "host",
    };
    json!({ "kind": kind, "message": e.to_string() })
}

/// A stored media with its decoded frames, as an analysis plugin receives it.
pub(crate) fn media_input(m: &vigil_domain::model::Media, frames: &crate::frames::Frames) -> MediaInput {
    let kind = match m.media_type.as_str() {
        "IMAGE_FOLDER" => MediaKind::Image,
        "VIDEO_FOLDER" => MediaKind::Video,
        _ => MediaKind::ShotsSet,
    };
    MediaInput { id: m.media_id.to_string(), kind, tags: m.tags.clone(), frames: frames.to_vec() }
}

impl App {
    fn can_manage_plugin(p: &Principal, company: Option<Uuid>) -> bool {
        match p.role {
            Role::Admin => true,
            Role::ClientAdmin => company == Some(p.company_id),
            _ => false,
        }
    }

    async fn visible_plugin(&self, p: &Principal, id: Uuid) -> Result<PluginRow> {
        let row = plugins::get(&mut self.store(), id).await.infra()?.ok_or_else(|| Error::not_found("plugin"))?;
        let visible =
            p.role == Role::Admin || p.role == Role::Operator || row.info.company_id.is_none_or(|c| c == p.company_id);
        if visible { Ok(row) } else { Err(Error::not_found("plugin")) }
    }

    /// Loads a version for the registry: from the compiled-artifact cache, or by compiling the
    /// stored component (a cache miss or a stale artifact is never an error).
    pub(crate) async fn prepare_plugin(&self, row: &PluginRow) -> Result<Arc<Plugin>> {
        let kind = Kind::parse(&row.info.kind)
            .ok_or_else(|| Error::internal(format!("stored plugin kind '{}'", row.info.kind)))?;
        let prepared = self
            .prepared_component(kind, &row.info.sha256, None, &row.blob_key)
            .await?
            .map_err(|e| Error::internal(format!("stored plugin no longer compiles: {e}")))?;
        Ok(Arc::new(self.inner.plugins.host.plugin(meta_of(row, kind), prepared)))
    }

    /// A component ready to instantiate: from the compiled-artifact cache, or compiled from
    /// `wasm` (or the stored file at `key`) and cached (a cache miss or a stale artifact is
    /// never an error). The inner error is the component's own: it does not compile.
    pub(crate) async fn prepared_component(
        &self,
        kind: Kind,
        sha256: &str,
        wasm: Option<Bytes>,
        key: &str,
    ) -> Result<std::result::Result<PreparedComponent, String>> {
        let rt = self.inner.plugins.clone();
        let cache_key = cache_key(&rt, kind, sha256);
        if let Ok(bytes) = self.blob().read(&cache_key).await {
            let rt = rt.clone();
            let loaded = tokio::task::spawn_blocking(move || rt.host.load_artifact(kind, &bytes).ok())
                .await
                .map_err(Error::internal)?;
            if let Some(p) = loaded {
                return Ok(Ok(p));
            }
        }
        let wasm = match wasm {
            Some(w) => w,
            None => self.blob().read(key).await.infra()?,
        };
        let compiled = match tokio::task::spawn_blocking(move || rt.host.compile(kind, &wasm)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Ok(Err(e.to_string())),
            Err(e) => return Err(Error::internal(e)),
        };
        self.blob().put(&cache_key, Bytes::from(compiled.artifact.clone())).await.infra()?;
        Ok(Ok(compiled.into()))
    }

    /// `POST /api/plugins/`: validates, compiles and stores a component (`Caller::System`: the
    /// operator's CLI and the built-ins at start-up).
    pub async fn upload_plugin(&self, caller: Caller<'_>, manifest: &[u8], wasm: Vec<u8>) -> Result<PluginInfo> {
        let m: Manifest =
            serde_json::from_slice(manifest).map_err(|e| Error::structure(format!("invalid plugin manifest: {e}")))?;
        let kind = Kind::parse(&m.kind).ok_or_else(|| {
            Error::value(format!(
                "unknown plugin kind '{}'; expected analysis, document-check, report-template or ab-rule",
                m.kind
            ))
        })?;
        vigil_domain::text::check_ident("plugin name", &m.name)?;
        vigil_domain::text::check_ident("plugin version", &m.version)?;
        let company = match caller {
            Caller::User(p) if p.role == Role::Admin => m.company_id,
            Caller::User(p) => {
                if m.company_id.is_some_and(|c| c != p.company_id) {
                    return Err(Error::forbidden());
                }
                Some(p.company_id)
            }
            Caller::System => m.company_id,
        };
        if let Caller::User(p) = caller
            && !Self::can_manage_plugin(p, company)
        {
            return Err(Error::forbidden());
        }
        let config = Value::Object(m.config.clone());
        check_config(&config)?;
        let rt = self.inner.plugins.clone();
        let size = wasm.len() as i64;
        let (compiled, wasm) = tokio::task::spawn_blocking(move || {
            let c = rt.host.compile(kind, &wasm);
            (c, wasm)
        })
        .await
        .map_err(Error::internal)?;
        let mut compiled = compiled.map_err(|e| Error::value(format!("plugin refused: {e}")))?;
        let id = Uuid::new_v4();
        let owner = company.map(|c| c.to_string()).unwrap_or_else(|| "global".into());
        let key = format!("{owner}/plugins/{id}.wasm");
        let cache_key = cache_key(&self.inner.plugins, kind, &compiled.sha256);
        let artifact = std::mem::take(&mut compiled.artifact);
        self.blob().put(&key, Bytes::from(wasm)).await.infra()?;
        let now = now_micros();
        let row = PluginRow {
            info: PluginInfo {
                plugin_id: id,
                company_id: company,
                kind: kind.as_str().to_string(),
                name: m.name.clone(),
                version: m.version.clone(),
                sha256: compiled.sha256.clone(),
                size,
                config,
                sdk: compiled.sdk_stamp.clone(),
                active: false,
                time_created: vigil_domain::time::micros_to_secs(now),
                time_updated: vigil_domain::time::micros_to_secs(now),
            },
            blob_key: key.clone(),
        };
        let stored = async {
            self.blob().put(&cache_key, Bytes::from(artifact)).await.infra()?;
            let mut tx = self.store().begin().await.infra()?;
            plugins::insert(&mut tx, &row, now).await.map_err(|e| match e {
                vigil_store::StoreError::Conflict(_) => {
                    Error::new(Code::Conflict, format!("version '{}' of plugin '{}' already exists", m.version, m.name))
                }
                other => Error::internal(other),
            })?;
            let change = Change::new("upload", "plugin", id, company).diff(None, Some(&row.info));
            crate::audit::record(&mut tx, caller, change).await?;
            tx.commit().await.infra()
        }
        .await;
        if let Err(e) = stored {
            // The component file is only reachable through the row; without the row it goes.
            let _ = self.blob().delete(&key).await;
            return Err(e);
        }
        let first = !plugins::has_active(&mut self.store(), company, &m.name).await.infra()?;
        if m.activate.unwrap_or(first) {
            // The component was just compiled: no need to load it back from the cache.
            let plugin = Arc::new(self.inner.plugins.host.plugin(meta_of(&row, kind), compiled.into()));
            return self.activate_row(row, Some(plugin), None).await;
        }
        Ok(row.info)
    }

    /// Makes `row` the active version; `ready` is the loaded plugin if the caller has it already,
    /// `by` who asked when the activation is a request of its own (an upload that activates has
    /// recorded itself).
    async fn activate_row(
        &self,
        row: PluginRow,
        ready: Option<Arc<Plugin>>,
        by: Option<Caller<'_>>,
    ) -> Result<PluginInfo> {
        // Prepare first: a version that cannot load never becomes active.
        let plugin = match ready {
            Some(p) => p,
            None => self.prepare_plugin(&row).await?,
        };
        let mut tx = self.store().begin().await.infra()?;
        plugins::set_active(&mut tx, &row, now_micros()).await.infra()?;
        if let Some(by) = by {
            let change = Change::new("activate", "plugin", row.info.plugin_id, row.info.company_id).field(
                "active",
                json!(row.info.active),
                json!(true),
            );
            crate::audit::record(&mut tx, by, change).await?;
        }
        tx.commit().await.infra()?;
        self.inner.plugins.registry.activate(plugin);
        let row = plugins::get(&mut self.store(), row.info.plugin_id)
            .await
            .infra()?
            .ok_or_else(|| Error::not_found("plugin"))?;
        Ok(row.info)
    }

    /// Plugins visible to the caller; their configuration only to those who may manage them
    /// (it can hold a customer's settings, such as endpoints or keys).
    pub async fn list_plugins(&self, p: &Principal) -> Result<Page<PluginInfo>> {
        let scope = if p.role.is_global() { None } else { Some(p.company_id) };
        let items: Vec<PluginInfo> = plugins::list(&mut self.store(), scope)
            .await
            .infra()?
            .into_iter()
            .map(|r| Self::shown(p, r.info))
            .collect();
        Ok(Page { total: Some(items.len() as i64), items })
    }

    pub async fn get_plugin(&self, p: &Principal, id: Uuid) -> Result<PluginInfo> {
        Ok(Self::shown(p, self.visible_plugin(p, id).await?.info))
    }

    fn shown(p: &Principal, mut info: PluginInfo) -> PluginInfo {
        if !Self::can_manage_plugin(p, info.company_id) {
            info.config = Default::default();
        }
        info
    }

    /// Makes this version the active one; calls in flight finish on the version they started on.
    pub async fn activate_plugin(&self, p: &Principal, id: Uuid) -> Result<PluginInfo> {
        let row = self.visible_plugin(p, id).await?;
        if !Self::can_manage_plugin(p, row.info.company_id) {
            return Err(Error::forbidden());
        }
        self.activate_row(row, None, Some(Caller::User(p))).await
    }

    pub async fn deactivate_plugin(&self, p: &Principal, id: Uuid) -> Result<PluginInfo> {
        let row = self.visible_plugin(p, id).await?;
        if !Self::can_manage_plugin(p, row.info.company_id) {
            return Err(Error::forbidden());
        }
        let mut tx = self.store().begin().await.infra()?;
        plugins::set_inactive(&mut tx, id, now_micros()).await.infra()?;
        let change = Change::new("deactivate", "plugin", id, row.info.company_id).field(
            "active",
            json!(row.info.active),
            json!(false),
        );
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.inner.plugins.registry.deactivate(row.info.company_id, &row.info.name, id);
        Ok(self.visible_plugin(p, id).await?.info)
    }

    pub async fn delete_plugin(&self, caller: Caller<'_>, id: Uuid) -> Result<()> {
        let row = match caller {
            Caller::User(p) => {
                let row = self.visible_plugin(p, id).await?;
                if !Self::can_manage_plugin(p, row.info.company_id) {
                    return Err(Error::forbidden());
                }
                row
            }
            Caller::System => {
                plugins::get(&mut self.store(), id).await.infra()?.ok_or_else(|| Error::not_found("plugin"))?
            }
        };
        if let Some(t) = vigil_store::ab_tests::pinning(&mut self.store(), id).await.infra()?.first() {
            return Err(Error::new(
                Code::Conflict,
                format!("A/B experiment '{}' ({}) runs this version: stop it first", t.name, t.ab_test_id),
            ));
        }
        let mut tx = self.store().begin().await.infra()?;
        plugins::delete(&mut tx, id).await.infra()?;
        let change = Change::new("delete", "plugin", id, row.info.company_id).diff(Some(&row.info), None);
        crate::audit::record(&mut tx, caller, change).await?;
        tx.commit().await.infra()?;
        self.inner.plugins.registry.deactivate(row.info.company_id, &row.info.name, id);
        if let Err(e) = self.blob().delete(&row.blob_key).await {
            tracing::error!(plugin_id = %id, error = %e, "plugin file not removed");
        }
        Ok(())
    }

    /// Makes a version active without a caller (start-up registration of the built-ins).
    pub async fn admin_activate_plugin(&self, id: Uuid) -> Result<PluginInfo> {
        let row = plugins::get(&mut self.store(), id).await.infra()?.ok_or_else(|| Error::not_found("plugin"))?;
        self.activate_row(row, None, Some(Caller::System)).await
    }

    /// Every plugin, for the operator's CLI.
    pub async fn admin_list_plugins(&self) -> Result<Vec<PluginInfo>> {
        Ok(plugins::list(&mut self.store(), None).await.infra()?.into_iter().map(|r| r.info).collect())
    }

    /// Validates a component without installing it (`vigil plugin verify`).
    pub async fn verify_plugin(&self, kind: &str, wasm: Vec<u8>) -> Result<(String, Option<String>)> {
        let kind = Kind::parse(kind).ok_or_else(|| Error::value(format!("unknown plugin kind '{kind}'")))?;
        let rt = self.inner.plugins.clone();
        let c = tokio::task::spawn_blocking(move || rt.host.compile(kind, &wasm))
            .await
            .map_err(Error::internal)?
            .map_err(|e| Error::value(format!("plugin refused: {e}")))?;
        Ok((c.sha256, c.sdk_stamp))
    }

    /// Brings the in-memory registry in line with the active versions in the database: at start-up
    /// and periodically, so that every replica serves what any replica activated.
    pub async fn sync_plugins(&self) -> Result<usize> {
        let rows = plugins::active(&mut self.store()).await.infra()?;
        let reg = &self.inner.plugins.registry;
        let mut changed = 0;
        for row in &rows {
            if reg.active_id(row.info.company_id, &row.info.name) != Some(row.info.plugin_id) {
                match self.prepare_plugin(row).await {
                    Ok(p) => {
                        reg.activate(p);
                        changed += 1;
                    }
                    Err(e) => tracing::error!(plugin_id = %row.info.plugin_id, error = %e.message, "plugin not loaded"),
                }
            }
        }
        for (company, name, id) in reg.entries() {
            if !rows.iter().any(|r| r.info.plugin_id == id) {
                reg.deactivate(company, &name, id);
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// `POST /api/plugins/{id}/run`: runs an analysis plugin version over a folder's photos and
    /// answers with its output or its error. For plugin authors; nothing is stored.
    pub async fn run_plugin(&self, p: &Principal, id: Uuid, req: RunRequest) -> Result<Value> {
        // Visibility first: another company's plugin id reveals nothing, not even a 403.
        let row = self.visible_plugin(p, id).await?;
        if !matches!(p.role, Role::Admin | Role::ClientAdmin) {
            return Err(Error::forbidden());
        }
        if row.info.kind != Kind::Analysis.as_str() {
            return Err(Error::value("only analysis plugins can be run this way"));
        }
        let folder = self.get_folder(p, req.folder_id, Default::default()).await?;
        let plugin = match self.inner.plugins.registry.by_id(id) {
            Some(active) => active,
            None => self.prepare_plugin(&row).await?,
        };
        let cache = crate::frames::FrameCache::default();
        let mut media = Vec::new();
        for m in &folder.media {
            media.push(media_input(m, &self.media_frames(m, &cache).await?));
        }
        let input = AnalysisInput {
            analysis_type: req.analysis_type.unwrap_or_else(|| "CUSTOM".into()).to_ascii_uppercase(),
            media,
            params_json: req.params.unwrap_or_else(|| json!({})).to_string(),
        };
        let started = std::time::Instant::now();
        let outcome = self.inner.plugins.host.analyze(&plugin, p.company_id, input).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(match outcome {
            Ok(o) => {
                let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.to_string()));
                json!({
                    "plugin_id": id,
                    "version": row.info.version,
                    "elapsed_ms": ms,
                    "result": {
                        "resolution": o.resolution,
                        "results_data": parse(&o.results_json),
                        "results_media": o.media_results.iter().map(|m| json!({
                            "media_id": m.media_id, "results_data": parse(&m.results_json), "output_images": m.output_images,
                        })).collect::<Vec<_>>(),
                    },
                })
            }
            Err(e) => json!({ "plugin_id": id, "version": row.info.version, "elapsed_ms": ms, "error": call_error(e) }),
        })
    }
}
