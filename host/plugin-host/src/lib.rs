//! The plugin host: runs `vigil:plugin` components in a sandbox.
//!
//! One pooling-allocator engine with an epoch ticker serves the analysis, document-check and
//! report-template worlds; a second, fuel-metered engine serves `ab-rule` so it stays
//! deterministic. Components are validated and compiled at upload ([`PluginHost::compile`]), cached
//! as artifacts keyed by content hash and engine compatibility hash, and loaded without
//! recompiling ([`PluginHost::load_artifact`]). Every call gets a fresh store holding the calling
//! company's context, bounded by [`Limits`]; a [`Registry`] swaps versions atomically while
//! in-flight calls finish on the version they started with.
//!
//! Architecture invariant: the only crate that knows wasmtime. Callers see [`Plugin`], inputs,
//! outputs and errors as plain Rust types.

mod bindings;
mod error;
mod host;
mod limits;
mod registry;
mod services;

pub use error::{CallError, GuestError, ValidationError};
pub use host::{CallContext, SavedImage};
pub use limits::Limits;
pub use registry::Registry;
pub use services::{
    BoxFuture, CheckOutcome, CollectionInfo, DocumentReading, FaceBox, FaceShape, MatchScore, MrzReading, NoServices,
    Services, Surroundings, Texture,
};

use bindings::ab_rule::AbRulePre;
use bindings::analysis::AnalysisPre;
use bindings::document_check::DocumentCheckPre;
use bindings::report_template::ReportTemplatePre;
use host::HostState;
use image::RgbImage;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap, UpdateDeadline};

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "1.5.0";
/// Largest accepted component.
pub const MAX_COMPONENT_BYTES: usize = 20 << 20;
/// Epoch tick.
pub const TICK: Duration = Duration::from_millis(5);

/// The four plugin worlds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Analysis,
    DocumentCheck,
    ReportTemplate,
    AbRule,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "analysis" => Kind::Analysis,
            "document-check" => Kind::DocumentCheck,
            "report-template" => Kind::ReportTemplate,
            "ab-rule" => Kind::AbRule,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Analysis => "analysis",
            Kind::DocumentCheck => "document-check",
            Kind::ReportTemplate => "report-template",
            Kind::AbRule => "ab-rule",
        }
    }
    /// The `vigil:plugin` interfaces the world may import.
    fn imports(self) -> &'static [&'static str] {
        match self {
            Kind::Analysis => &[
                "types",
                "log",
                "config",
                "media",
                "vision",
                "inference",
                "collections",
                "output",
                "analysis-types",
                "documents",
                "document-types",
            ],
            Kind::DocumentCheck => &["types", "log", "config", "document-types"],
            Kind::ReportTemplate => &["types", "log", "config", "report-types"],
            Kind::AbRule => &["types", "config", "ab-types"],
        }
    }
    fn export(self) -> &'static str {
        match self {
            Kind::Analysis => "analyze",
            Kind::DocumentCheck => "check",
            Kind::ReportTemplate => "render",
            Kind::AbRule => "choose",
        }
    }
}

/// WASI interfaces a Rust std guest imports even when unused; all are served from an empty context.
/// Filesystem, sockets and HTTP are not among them, so a component importing those is refused.
const WASI_ALLOWED: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// The kind of a media file handed to a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    ShotsSet,
}

/// A media file for an analysis call, with its decoded frames.
#[derive(Clone)]
pub struct MediaInput {
    pub id: String,
    pub kind: MediaKind,
    pub tags: Vec<String>,
    pub frames: Vec<Arc<RgbImage>>,
}

pub struct AnalysisInput {
    pub analysis_type: String,
    pub media: Vec<MediaInput>,
    pub params_json: String,
}

#[derive(Debug, Clone)]
pub struct MediaOutput {
    pub media_id: String,
    pub results_json: String,
    pub output_images: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AnalysisOutput {
    pub resolution: String,
    pub results_json: String,
    pub media_results: Vec<MediaOutput>,
    pub saved_images: Vec<SavedImage>,
    /// Wall time of the call, and the part of it spent in host services (decoding, inference):
    /// the rest ran inside Wasm.
    pub wall_time: Duration,
    pub host_time: Duration,
}

/// A compiled component ready to instantiate, for one world.
#[derive(Clone)]
enum Pre {
    Analysis(AnalysisPre<HostState>),
    DocumentCheck(DocumentCheckPre<HostState>),
    ReportTemplate(ReportTemplatePre<HostState>),
    AbRule(AbRulePre<HostState>),
}

/// An installed plugin version. Cheap to share; calls hold an `Arc` so a swap never cuts them off.
pub struct Plugin {
    pub meta: Arc<PluginMeta>,
    pre: Pre,
}

impl Plugin {
    /// The same component under other settings and identity: the generic report template runs
    /// each company's template text as its configuration.
    pub fn with_meta(&self, meta: PluginMeta) -> Plugin {
        Plugin { meta: Arc::new(meta), pre: self.pre.clone() }
    }
}

/// The result of validating and compiling an upload.
pub struct Compiled {
    pub sha256: String,
    /// The serialised compiled artifact, for the cache.
    pub artifact: Vec<u8>,
    /// The SDK stamp (`world=…;wit=…;sdk=…`) if the component was built with the SDK.
    pub sdk_stamp: Option<String>,
    pre: Pre,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads the SDK's `vigil-plugin` custom section, if any.
fn sdk_stamp(wasm: &[u8]) -> Option<String> {
    let name = b"vigil-plugin";
    let at = wasm.windows(name.len()).position(|w| w == name)?;
    let rest = &wasm[at + name.len()..];
    let start = rest.windows(6).position(|w| w == b"world=")?;
    let text: Vec<u8> = rest[start..].iter().take(128).take_while(|b| b.is_ascii_graphic()).copied().collect();
    String::from_utf8(text).ok()
}

/// Feeds wasmtime's compatibility hash into SHA-256.
struct ShaHasher(Sha256);
impl std::hash::Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The sandbox: engines, linkers, per-company concurrency, host services.
pub struct PluginHost {
    engine: Engine,
    fuel_engine: Engine,
    linker: Linker<HostState>,
    fuel_linker: Linker<HostState>,
    services: Arc<dyn Services>,
    per_company: usize,
    semaphores: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
    overrides: HashMap<Kind, Limits>,
}

fn engine_config(fuel: bool) -> Config {
    let mut c = Config::new();
    c.epoch_interruption(true)
        .consume_fuel(fuel)
        .max_wasm_stack(512 << 10)
        .async_stack_size(2 << 20)
        .wasm_component_model(true)
        .memory_init_cow(true)
        .parallel_compilation(true);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(if fuel { 64 } else { 256 })
        .total_core_instances(if fuel { 256 } else { 1024 })
        .total_memories(if fuel { 64 } else { 256 })
        .total_tables(if fuel { 128 } else { 512 })
        .total_stacks(if fuel { 64 } else { 256 })
        .max_memory_size(128 << 20)
        .max_component_instance_size(1 << 20)
        .max_core_instances_per_component(32)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .linear_memory_keep_resident(64 << 10)
        .max_unused_warm_slots(32);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    c
}

impl PluginHost {
    /// Builds both engines, their linkers and the epoch ticker. `per_company` bounds one company's
    /// concurrent calls.
    pub fn new(services: Arc<dyn Services>, per_company: usize) -> wasmtime::Result<PluginHost> {
        let engine = Engine::new(&engine_config(false))?;
        let fuel_engine = Engine::new(&engine_config(true))?;
        let linker = Self::linker(&engine)?;
        let fuel_linker = Self::linker(&fuel_engine)?;
        // Ticks until both engines are gone.
        let weak = (engine.weak(), fuel_engine.weak());
        std::thread::Builder::new().name("vigil-epoch".into()).spawn(move || {
            loop {
                std::thread::sleep(TICK);
                match (weak.0.upgrade(), weak.1.upgrade()) {
                    (Some(a), Some(b)) => {
                        a.increment_epoch();
                        b.increment_epoch();
                    }
                    _ => break,
                }
            }
        })?;
        Ok(PluginHost {
            engine,
            fuel_engine,
            linker,
            fuel_linker,
            services,
            per_company: per_company.max(1),
            semaphores: Mutex::new(HashMap::new()),
            overrides: HashMap::new(),
        })
    }

    /// The host capabilities plugins call; the server's own use-cases (enrolment) use the same
    /// vision, so a face is embedded the same way wherever it comes from.
    pub fn services(&self) -> &Arc<dyn Services> {
        &self.services
    }

    /// Replaces the default limits of one world (operators tune budgets; benchmarks shorten them).
    pub fn with_limits(mut self, kind: Kind, limits: Limits) -> PluginHost {
        self.overrides.insert(kind, limits);
        self
    }

    pub fn limits(&self, kind: Kind) -> Limits {
        self.overrides.get(&kind).cloned().unwrap_or_else(|| Limits::for_kind(kind))
    }

    fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
        let mut l = Linker::<HostState>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
        // The worlds share interfaces: add the analysis world (the superset) once, then only what
        // the others add of their own.
        bindings::analysis::Analysis::add_to_linker::<HostState, HasSelf<HostState>>(&mut l, |s| s)?;
        bindings::report_template::vigil::plugin::report_types::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut l,
            |s| s,
        )?;
        bindings::ab_rule::vigil::plugin::ab_types::add_to_linker::<HostState, HasSelf<HostState>>(&mut l, |s| s)?;
        Ok(l)
    }

    fn engine_for(&self, kind: Kind) -> (&Engine, &Linker<HostState>) {
        if kind == Kind::AbRule { (&self.fuel_engine, &self.fuel_linker) } else { (&self.engine, &self.linker) }
    }

    /// Identifies compiled artifacts usable by this build: wasmtime version and engine settings.
    pub fn compatibility_key(&self, kind: Kind) -> String {
        use std::hash::Hash;
        let mut h = ShaHasher(Sha256::new());
        self.engine_for(kind).0.precompile_compatibility_hash().hash(&mut h);
        hex::encode(&h.0.finalize()[..12])
    }

    /// Validates and compiles an upload. CPU-heavy: call it off the async threads.
    pub fn compile(&self, kind: Kind, wasm: &[u8]) -> Result<Compiled, ValidationError> {
        let fail = |m: String| Err(ValidationError(m));
        if wasm.len() > MAX_COMPONENT_BYTES {
            return fail(format!("the component is {} bytes; the limit is {MAX_COMPONENT_BYTES}", wasm.len()));
        }
        if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
            return fail("not a WebAssembly binary".into());
        }
        if wasm[4..8] == [1, 0, 0, 0] {
            return fail("this is a core WebAssembly module, not a component; build for wasm32-wasip2 or wrap it with `wasm-tools component new`".into());
        }
        let (engine, linker) = self.engine_for(kind);
        let component = match Component::new(engine, wasm) {
            Ok(c) => c,
            Err(e) => return fail(format!("not a valid component: {e:#}")),
        };
        // The SDK stamp names the world outright, so a mismatch is reported in those words first.
        let stamp = sdk_stamp(wasm);
        if let Some(s) = &stamp {
            let world = s.split(';').find_map(|p| p.strip_prefix("world=")).unwrap_or("");
            if world != kind.as_str() {
                return fail(format!(
                    "the component was built for the '{world}' world but uploaded as '{}'",
                    kind.as_str()
                ));
            }
        }
        self.check_world(kind, engine, &component)?;
        let pre = match Self::prepare(kind, linker, &component) {
            Ok(p) => p,
            Err(e) => return fail(format!("the component does not match the '{}' world: {e:#}", kind.as_str())),
        };
        let artifact = match component.serialize() {
            Ok(a) => a,
            Err(e) => return fail(format!("compiling failed: {e:#}")),
        };
        Ok(Compiled { sha256: sha256_hex(wasm), artifact, sdk_stamp: stamp, pre })
    }

    /// Imports must be the world's own interfaces (WIT 1.x) or the allowed WASI ones; the world's
    /// export must be there.
    fn check_world(&self, kind: Kind, engine: &Engine, c: &Component) -> Result<(), ValidationError> {
        let ty = c.component_type();
        for (name, _) in ty.imports(engine) {
            let (path, version) = name.split_once('@').unwrap_or((name, ""));
            if let Some(iface) = path.strip_prefix("vigil:plugin/") {
                if !version.starts_with("1.") {
                    return Err(ValidationError(format!(
                        "the component imports vigil:plugin@{version}; this server supports {WIT_VERSION} (1.x)"
                    )));
                }
                if !kind.imports().contains(&iface) {
                    return Err(ValidationError(format!(
                        "import '{name}' is not part of the '{}' world",
                        kind.as_str()
                    )));
                }
            } else if !WASI_ALLOWED.contains(&path) || !version.starts_with("0.2.") {
                return Err(ValidationError(format!(
                    "import '{name}' is not allowed: plugins get no filesystem, network or other system access"
                )));
            }
        }
        if !ty.exports(engine).any(|(n, _)| n == kind.export()) {
            return Err(ValidationError(format!(
                "the component does not export '{}', so it does not implement the '{}' world",
                kind.export(),
                kind.as_str()
            )));
        }
        Ok(())
    }

    fn prepare(kind: Kind, linker: &Linker<HostState>, c: &Component) -> wasmtime::Result<Pre> {
        let ipre = linker.instantiate_pre(c)?;
        Ok(match kind {
            Kind::Analysis => Pre::Analysis(AnalysisPre::new(ipre)?),
            Kind::DocumentCheck => Pre::DocumentCheck(DocumentCheckPre::new(ipre)?),
            Kind::ReportTemplate => Pre::ReportTemplate(ReportTemplatePre::new(ipre)?),
            Kind::AbRule => Pre::AbRule(AbRulePre::new(ipre)?),
        })
    }

    /// Loads a cached artifact made by [`PluginHost::compile`] on a compatible engine. An error
    /// means "recompile from the `.wasm`", never a failed request.
    pub fn load_artifact(&self, kind: Kind, artifact: &[u8]) -> wasmtime::Result<PreparedComponent> {
        let (engine, linker) = self.engine_for(kind);
        // SAFETY: artifacts are only ever produced by `compile` above and kept in Vigil's own blob
        // storage, keyed by the component's hash and this engine's compatibility hash; uploads of
        // precompiled code are not accepted. wasmtime still checks the header's version and settings.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, artifact)? };
        Ok(PreparedComponent(Self::prepare(kind, linker, &component)?))
    }

    /// Makes an installable plugin out of a compiled or loaded component.
    pub fn plugin(&self, meta: PluginMeta, compiled: PreparedComponent) -> Plugin {
        Plugin { meta: Arc::new(meta), pre: compiled.0 }
    }

    fn permit(&self, company: Uuid) -> Result<OwnedSemaphorePermit, CallError> {
        let sem = {
            let mut m = self.semaphores.lock().map_err(|_| CallError::Host("semaphore map poisoned".into()))?;
            m.entry(company).or_insert_with(|| Arc::new(Semaphore::new(self.per_company))).clone()
        };
        sem.try_acquire_owned().map_err(|_| CallError::Busy)
    }

    fn store(&self, plugin: &Plugin, company: Uuid) -> Store<HostState> {
        let meta = &plugin.meta;
        let limits = self.limits(meta.kind);
        let ctx = CallContext { company_id: company, plugin: meta.name.clone(), version: meta.version.clone() };
        let fuel = limits.fuel;
        let hostcall_bytes = limits.hostcall_bytes;
        let state = HostState::new(ctx, meta.clone(), limits, self.services.clone());
        let mut store = Store::new(self.engine_for(meta.kind).0, state);
        store.limiter(|s| &mut s.limits);
        store.set_hostcall_fuel(hostcall_bytes);
        if let Some(f) = fuel {
            // Fuel already bounds work deterministically; the epoch remains as a wall-clock backstop.
            let _ = store.set_fuel(f);
        }
        // Guest time is wall time minus host-service time: inference never eats the guest budget.
        store.epoch_deadline_callback(|ctx| {
            let s = ctx.data();
            let guest = s.started.elapsed().saturating_sub(s.host_time);
            if guest > s.budget.guest_time {
                Err(wasmtime::Error::msg(format!("guest time budget of {:?} exceeded", s.budget.guest_time)))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);
        store
    }

    /// Runs `analyze` of an analysis plugin for `company`.
    pub async fn analyze(
        &self,
        plugin: &Plugin,
        company: Uuid,
        input: AnalysisInput,
    ) -> Result<AnalysisOutput, CallError> {
        let Pre::Analysis(pre) = &plugin.pre else {
            return Err(CallError::Host(format!(
                "plugin '{}' is a {} plugin, not an analysis",
                plugin.meta.name,
                plugin.meta.kind.as_str()
            )));
        };
        let _permit = self.permit(company)?;
        let mut store = self.store(plugin, company);
        let wall = store.data().budget.wall();
        let output_cap = store.data().budget.output_bytes;
        let run = async {
            let inst = pre.instantiate_async(&mut store).await?;
            let mut media = Vec::with_capacity(input.media.len());
            for m in input.media {
                media.push(store.data_mut().push_media(m)?);
            }
            let req = bindings::analysis::vigil::plugin::analysis_types::AnalysisRequest {
                analysis_type: input.analysis_type,
                media,
                params_json: input.params_json,
            };
            inst.call_analyze(&mut store, &req).await
        };
        let out = within(&plugin.meta.name, wall, run).await?;
        let size = out.results_json.len()
            + out.resolution.len()
            + out
                .media_results
                .iter()
                .map(|m| {
                    m.results_json.len() + m.media_id.len() + m.output_images.iter().map(String::len).sum::<usize>()
                })
                .sum::<usize>();
        if size > output_cap {
            return Err(CallError::Output(size, output_cap));
        }
        Ok(AnalysisOutput {
            resolution: out.resolution,
            results_json: out.results_json,
            media_results: out
                .media_results
                .into_iter()
                .map(|m| MediaOutput {
                    media_id: m.media_id,
                    results_json: m.results_json,
                    output_images: m.output_images,
                })
                .collect(),
            saved_images: std::mem::take(&mut store.data_mut().saved),
            wall_time: store.data().started.elapsed(),
            host_time: store.data().host_time,
        })
    }

    /// Runs `choose` of an A/B rule: deterministic under its fuel budget.
    pub async fn choose(
        &self,
        plugin: &Plugin,
        company: Uuid,
        analysis_type: &str,
        attributes: Vec<(String, String)>,
        bucket_seed: u64,
        variants: Vec<String>,
    ) -> Result<String, CallError> {
        let Pre::AbRule(pre) = &plugin.pre else {
            return Err(CallError::Host(format!("plugin '{}' is not an A/B rule", plugin.meta.name)));
        };
        let _permit = self.permit(company)?;
        let mut store = self.store(plugin, company);
        let wall = store.data().budget.wall();
        let ctx = bindings::ab_rule::vigil::plugin::ab_types::RouteContext {
            company_id: company.to_string(),
            analysis_type: analysis_type.to_string(),
            attributes,
            bucket_seed,
            variants: variants.clone(),
        };
        let run = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.call_choose(&mut store, &ctx).await
        };
        let chosen = within(&plugin.meta.name, wall, run).await?;
        if !variants.contains(&chosen) {
            return Err(CallError::Guest(GuestError::Internal(format!(
                "chose '{chosen}', which is not one of the variants"
            ))));
        }
        Ok(chosen)
    }

    /// Runs `render` of a report template.
    pub async fn render(&self, plugin: &Plugin, company: Uuid, data_json: &str) -> Result<(String, String), CallError> {
        let Pre::ReportTemplate(pre) = &plugin.pre else {
            return Err(CallError::Host(format!("plugin '{}' is not a report template", plugin.meta.name)));
        };
        let _permit = self.permit(company)?;
        let mut store = self.store(plugin, company);
        let (wall, cap) = (store.data().budget.wall(), store.data().budget.output_bytes);
        let run = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.call_render(&mut store, data_json).await
        };
        let r = within(&plugin.meta.name, wall, run).await?;
        if r.body.len() > cap {
            return Err(CallError::Output(r.body.len(), cap));
        }
        Ok((r.content_type, r.body))
    }
}

/// A document-check finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: String,
    /// info, warning or error.
    pub severity: String,
    pub message: String,
    pub field: Option<String>,
}

/// A recognised document field handed to a document check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocField {
    pub name: String,
    pub visual: Option<String>,
    pub mrz: Option<String>,
}

/// A document check's input.
#[derive(Debug, Clone)]
pub struct CheckInput {
    pub document_type: String,
    pub fields: Vec<DocField>,
    pub params_json: String,
}

impl PluginHost {
    /// Runs `check` of a document-check plugin.
    pub async fn check(&self, plugin: &Plugin, company: Uuid, input: CheckInput) -> Result<Vec<Finding>, CallError> {
        let _permit = self.permit(company)?;
        self.check_unmetered(plugin, company, input).await
    }

    /// Runs `check` on behalf of an analysis of the same company that already holds a
    /// concurrency permit (`documents.run-checks`): taking a second one could starve.
    pub async fn check_within_call(
        &self,
        plugin: &Plugin,
        company: Uuid,
        input: CheckInput,
    ) -> Result<Vec<Finding>, CallError> {
        self.check_unmetered(plugin, company, input).await
    }

    async fn check_unmetered(
        &self,
        plugin: &Plugin,
        company: Uuid,
        input: CheckInput,
    ) -> Result<Vec<Finding>, CallError> {
        use bindings::analysis::vigil::plugin::document_types as dt;
        let Pre::DocumentCheck(pre) = &plugin.pre else {
            return Err(CallError::Host(format!("plugin '{}' is not a document check", plugin.meta.name)));
        };
        let mut store = self.store(plugin, company);
        let (wall, cap) = (store.data().budget.wall(), store.data().budget.output_bytes);
        let req = dt::CheckRequest {
            document_type: input.document_type,
            fields: input
                .fields
                .into_iter()
                .map(|f| dt::Field { name: f.name, visual: f.visual, mrz: f.mrz })
                .collect(),
            params_json: input.params_json,
        };
        let run = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.call_check(&mut store, &req).await
        };
        let found = within(&plugin.meta.name, wall, run).await?;
        let size: usize =
            found.iter().map(|f| f.code.len() + f.message.len() + f.field.as_ref().map_or(0, String::len)).sum();
        if size > cap {
            return Err(CallError::Output(size, cap));
        }
        Ok(found
            .into_iter()
            .map(|f| Finding {
                code: f.code,
                severity: match f.severity {
                    dt::Severity::Info => "info",
                    dt::Severity::Warning => "warning",
                    dt::Severity::Error => "error",
                }
                .to_string(),
                message: f.message,
                field: f.field,
            })
            .collect())
    }
}

/// Metadata of an installed version.
#[derive(Debug, Clone)]
pub struct PluginMeta {
    pub id: Uuid,
    pub company_id: Option<Uuid>,
    pub name: String,
    pub version: String,
    pub kind: Kind,
    pub sha256: String,
    pub config: BTreeMap<String, String>,
}

/// A component ready to instantiate: from [`PluginHost::compile`] or [`PluginHost::load_artifact`].
pub struct PreparedComponent(Pre);

impl From<Compiled> for PreparedComponent {
    fn from(c: Compiled) -> Self {
        PreparedComponent(c.pre)
    }
}

/// Awaits a guest call under its wall clock and sorts the outcome: the plugin's own error, a
/// trap or limit (contained), or the deadline.
async fn within<T>(
    plugin: &str,
    wall: Duration,
    run: impl std::future::Future<
        Output = wasmtime::Result<Result<T, bindings::analysis::vigil::plugin::types::PluginError>>,
    >,
) -> Result<T, CallError> {
    let started = std::time::Instant::now();
    let out = match tokio::time::timeout(wall, run).await {
        Err(_) => Err(CallError::Deadline(format!("no answer within {wall:?}"))),
        Ok(r) => r.map_err(classify).and_then(|r| r.map_err(|e| CallError::Guest(host::from_wit(e)))),
    };
    let outcome = match &out {
        Ok(_) => "ok",
        Err(CallError::Guest(_)) => "error",
        Err(CallError::Deadline(_)) => "timeout",
        Err(CallError::Trap(_)) => "trap",
        Err(CallError::Limit(_) | CallError::Output(..)) => "limit",
        Err(CallError::Busy | CallError::Host(_)) => "host",
    };
    metrics::counter!("vigil_plugin_calls_total", "plugin" => plugin.to_string(), "outcome" => outcome).increment(1);
    metrics::histogram!("vigil_plugin_call_seconds", "plugin" => plugin.to_string())
        .record(started.elapsed().as_secs_f64());
    out
}

/// Sorts a failed call: traps and limits are the plugin's fault and are contained.
fn classify(e: wasmtime::Error) -> CallError {
    let text = format!("{e:#}");
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::StackOverflow => CallError::Trap("stack overflow".into()),
            Trap::OutOfFuel => CallError::Limit("fuel budget exhausted".into()),
            Trap::Interrupt => CallError::Deadline("interrupted".into()),
            Trap::UnreachableCodeReached => {
                CallError::Trap(format!("unreachable code reached (the plugin panicked or aborted): {text}"))
            }
            other => CallError::Trap(format!("{other}: {text}")),
        };
    }
    if text.contains("time budget") {
        return CallError::Deadline(text);
    }
    if text.contains("quota")
        || text.contains("capacity")
        || text.contains("hostcall fuel")
        || text.contains("resource limit")
        || text.contains("memory") && text.contains("limit")
    {
        return CallError::Limit(text);
    }
    CallError::Trap(text)
}

/// Measurement hooks for `benches/`: the parts of a call timed separately. Not an API.
#[doc(hidden)]
pub mod bench {
    use super::*;
    use std::time::Instant;

    /// Time to create a store and instantiate from the `InstancePre` (pooling allocator).
    pub async fn instantiate(host: &PluginHost, p: &Plugin, company: Uuid) -> Duration {
        let Pre::Analysis(pre) = &p.pre else { return Duration::ZERO };
        let mut store = host.store(p, company);
        let t = Instant::now();
        let inst = pre.instantiate_async(&mut store).await;
        let took = t.elapsed();
        drop(inst);
        took
    }

    /// Mean time of `n` calls of `analyze` (no media, `{}` params) on one warm instance; an
    /// error if any call fails.
    pub async fn warm_calls(host: &PluginHost, p: &Plugin, company: Uuid, n: u32) -> Result<Duration, String> {
        let Pre::Analysis(pre) = &p.pre else { return Err("not an analysis plugin".into()) };
        let mut store = host.store(p, company);
        let inst = pre.instantiate_async(&mut store).await.map_err(|e| format!("{e:#}"))?;
        let t = Instant::now();
        for i in 0..n {
            let req = bindings::analysis::vigil::plugin::analysis_types::AnalysisRequest {
                analysis_type: "X".into(),
                media: vec![],
                params_json: "{}".into(),
            };
            match inst.call_analyze(&mut store, &req).await {
                Ok(Ok(out)) if out.resolution == "SUCCESS" => {}
                other => return Err(format!("call {i} failed: {other:?}")),
            }
        }
        Ok(t.elapsed() / n.max(1))
    }
}
