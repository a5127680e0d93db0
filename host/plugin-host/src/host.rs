//! The per-call host state and the WIT imports it serves. Every import is charged against the
//! call's host-call quota; every handle lookup checks the company tag.

use crate::bindings::analysis::vigil::plugin as wit;
use crate::error::GuestError;
use crate::limits::Limits;
use crate::services::{FaceBox, Services};
use image::RgbImage;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use wit::types::PluginError as WitError;

/// A decoded image owned by the host; the guest holds a handle.
pub struct ImageRes {
    company: Uuid,
    img: Arc<RgbImage>,
}

/// One media file of the call.
pub struct MediaRes {
    company: Uuid,
    id: String,
    kind: crate::MediaKind,
    tags: Vec<String>,
    frames: Vec<Arc<RgbImage>>,
}

/// An image the plugin asked the host to keep (a best shot).
#[derive(Debug, Clone)]
pub struct SavedImage {
    pub id: String,
    pub source_media_id: String,
    pub label: String,
    pub image: Arc<RgbImage>,
}

/// Who is calling which plugin: given to every host service.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub company_id: Uuid,
    pub plugin: String,
    pub version: String,
}

pub struct HostState {
    pub(crate) ctx: CallContext,
    meta: Arc<crate::PluginMeta>,
    pub(crate) table: ResourceTable,
    wasi: WasiCtx,
    pub(crate) limits: StoreLimits,
    pub(crate) budget: Limits,
    host_calls: u32,
    log_lines: u32,
    log_bytes: usize,
    pub(crate) started: Instant,
    pub(crate) host_time: Duration,
    services: Arc<dyn Services>,
    pub(crate) saved: Vec<SavedImage>,
}

impl HostState {
    pub(crate) fn new(
        ctx: CallContext,
        meta: Arc<crate::PluginMeta>,
        budget: Limits,
        services: Arc<dyn Services>,
    ) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(budget.memory_bytes)
            .table_elements(budget.table_elements)
            .instances(32)
            .tables(64)
            .memories(8)
            .trap_on_grow_failure(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(budget.handles);
        HostState {
            ctx,
            meta,
            table,
            // No preopens, environment, arguments or sockets: WASI is linked only because std guests
            // import its stdio and clocks.
            wasi: WasiCtx::builder().build(),
            limits,
            budget,
            host_calls: 0,
            log_lines: 0,
            log_bytes: 0,
            started: Instant::now(),
            host_time: Duration::ZERO,
            services,
            saved: Vec::new(),
        }
    }

    /// Counts a host call; past the quota the guest traps.
    fn charge(&mut self) -> wasmtime::Result<()> {
        self.host_calls += 1;
        if self.host_calls > self.budget.host_calls {
            return Err(wasmtime::Error::msg(format!("host-call quota of {} exceeded", self.budget.host_calls)));
        }
        Ok(())
    }

    fn image(&self, r: &Resource<ImageRes>) -> wasmtime::Result<Arc<RgbImage>> {
        let img = self.table.get(r)?;
        if img.company != self.ctx.company_id {
            return Err(wasmtime::Error::msg("image handle of another company"));
        }
        Ok(img.img.clone())
    }

    fn media(&self, r: &Resource<MediaRes>) -> wasmtime::Result<&MediaRes> {
        let m = self.table.get(r)?;
        if m.company != self.ctx.company_id {
            return Err(wasmtime::Error::msg("media handle of another company"));
        }
        Ok(m)
    }

    fn push_image(&mut self, img: RgbImage) -> wasmtime::Result<Resource<ImageRes>> {
        Ok(self.table.push(ImageRes { company: self.ctx.company_id, img: Arc::new(img) })?)
    }

    pub(crate) fn push_media(&mut self, m: crate::MediaInput) -> wasmtime::Result<Resource<MediaRes>> {
        let company = self.ctx.company_id;
        Ok(self.table.push(MediaRes { company, id: m.id, kind: m.kind, tags: m.tags, frames: m.frames })?)
    }

    /// Runs a host service, counting its time against the host budget rather than the guest's.
    async fn timed<T>(&mut self, f: impl std::future::Future<Output = Result<T, GuestError>>) -> Result<T, WitError> {
        if self.host_time >= self.budget.host_time {
            return Err(WitError::QuotaExceeded("host time budget exhausted".into()));
        }
        let t = Instant::now();
        let r = f.await;
        self.host_time += t.elapsed();
        r.map_err(to_wit)
    }
}

pub(crate) fn to_wit(e: GuestError) -> WitError {
    match e {
        GuestError::InvalidInput(m) => WitError::InvalidInput(m),
        GuestError::Unsupported(m) => WitError::Unsupported(m),
        GuestError::NotAvailable(m) => WitError::NotAvailable(m),
        GuestError::QuotaExceeded(m) => WitError::QuotaExceeded(m),
        GuestError::Host(m) => WitError::Host(m),
        GuestError::Internal(m) => WitError::Internal(m),
    }
}

pub(crate) fn from_wit(e: WitError) -> GuestError {
    match e {
        WitError::InvalidInput(m) => GuestError::InvalidInput(m),
        WitError::Unsupported(m) => GuestError::Unsupported(m),
        WitError::NotAvailable(m) => GuestError::NotAvailable(m),
        WitError::QuotaExceeded(m) => GuestError::QuotaExceeded(m),
        WitError::Host(m) => GuestError::Host(m),
        WitError::Internal(m) => GuestError::Internal(m),
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wit::types::Host for HostState {}
impl wit::analysis_types::Host for HostState {}
impl wit::document_types::Host for HostState {}
impl crate::bindings::report_template::vigil::plugin::report_types::Host for HostState {}
impl crate::bindings::ab_rule::vigil::plugin::ab_types::Host for HostState {}

impl wit::log::Host for HostState {
    async fn log(&mut self, level: wit::log::Level, message: String) -> wasmtime::Result<()> {
        self.charge()?;
        if self.log_lines >= self.budget.log_lines || self.log_bytes >= self.budget.log_bytes {
            return Ok(());
        }
        let mut msg = message;
        if msg.len() > 1024 {
            let mut cut = 1024;
            while !msg.is_char_boundary(cut) {
                cut -= 1;
            }
            msg.truncate(cut);
            msg.push('…');
        }
        self.log_lines += 1;
        self.log_bytes += msg.len();
        let (company, plugin) = (&self.ctx.company_id, &self.ctx.plugin);
        match level {
            wit::log::Level::Error => tracing::error!(%company, plugin, "{msg}"),
            wit::log::Level::Warn => tracing::warn!(%company, plugin, "{msg}"),
            wit::log::Level::Info => tracing::info!(%company, plugin, "{msg}"),
            _ => tracing::debug!(%company, plugin, "{msg}"),
        }
        Ok(())
    }
}

impl wit::config::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.charge()?;
        Ok(self.meta.config.get(&key).cloned())
    }
    async fn keys(&mut self) -> wasmtime::Result<Vec<String>> {
        self.charge()?;
        Ok(self.meta.config.keys().cloned().collect())
    }
}

impl wit::media::Host for HostState {}

fn bad(m: &str) -> WitError {
    WitError::InvalidInput(m.to_string())
}

impl wit::media::HostImage for HostState {
    async fn width(&mut self, r: Resource<ImageRes>) -> wasmtime::Result<u32> {
        self.charge()?;
        Ok(self.image(&r)?.width())
    }
    async fn height(&mut self, r: Resource<ImageRes>) -> wasmtime::Result<u32> {
        self.charge()?;
        Ok(self.image(&r)?.height())
    }
    async fn crop(
        &mut self,
        r: Resource<ImageRes>,
        region: wit::types::Rect,
    ) -> wasmtime::Result<Result<Resource<ImageRes>, WitError>> {
        self.charge()?;
        let img = self.image(&r)?;
        let inside = region.width > 0
            && region.height > 0
            && region.x.checked_add(region.width).is_some_and(|e| e <= img.width())
            && region.y.checked_add(region.height).is_some_and(|e| e <= img.height());
        if !inside {
            return Ok(Err(bad("crop region lies outside the image")));
        }
        let c = image::imageops::crop_imm(img.as_ref(), region.x, region.y, region.width, region.height).to_image();
        Ok(Ok(self.push_image(c)?))
    }
    async fn resize(
        &mut self,
        r: Resource<ImageRes>,
        width: u32,
        height: u32,
    ) -> wasmtime::Result<Result<Resource<ImageRes>, WitError>> {
        self.charge()?;
        let img = self.image(&r)?;
        if width == 0 || height == 0 || u64::from(width) * u64::from(height) > 16_000_000 {
            return Ok(Err(bad("resize target must be 1 to 16 million pixels")));
        }
        let out = image::imageops::resize(img.as_ref(), width, height, image::imageops::FilterType::Triangle);
        Ok(Ok(self.push_image(out)?))
    }
    async fn drop(&mut self, r: Resource<ImageRes>) -> wasmtime::Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}

impl wit::media::HostMedia for HostState {
    async fn id(&mut self, r: Resource<MediaRes>) -> wasmtime::Result<String> {
        self.charge()?;
        Ok(self.media(&r)?.id.clone())
    }
    async fn kind(&mut self, r: Resource<MediaRes>) -> wasmtime::Result<wit::media::MediaKind> {
        self.charge()?;
        Ok(match self.media(&r)?.kind {
            crate::MediaKind::Image => wit::media::MediaKind::Image,
            crate::MediaKind::Video => wit::media::MediaKind::Video,
            crate::MediaKind::ShotsSet => wit::media::MediaKind::ShotsSet,
        })
    }
    async fn tags(&mut self, r: Resource<MediaRes>) -> wasmtime::Result<Vec<String>> {
        self.charge()?;
        Ok(self.media(&r)?.tags.clone())
    }
    async fn frame_count(&mut self, r: Resource<MediaRes>) -> wasmtime::Result<Result<u32, WitError>> {
        self.charge()?;
        Ok(Ok(self.media(&r)?.frames.len() as u32))
    }
    async fn frame(
        &mut self,
        r: Resource<MediaRes>,
        index: u32,
    ) -> wasmtime::Result<Result<Resource<ImageRes>, WitError>> {
        self.charge()?;
        let Some(f) = self.media(&r)?.frames.get(index as usize).cloned() else {
            return Ok(Err(bad("frame index out of range")));
        };
        let company = self.ctx.company_id;
        Ok(Ok(self.table.push(ImageRes { company, img: f })?))
    }
    async fn drop(&mut self, r: Resource<MediaRes>) -> wasmtime::Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}

fn face_to_wit(f: FaceBox) -> wit::vision::Face {
    wit::vision::Face {
        box_: wit::types::Rect { x: f.x, y: f.y, width: f.width, height: f.height },
        score: f.score,
        landmarks: f.landmarks.into_iter().map(|(x, y)| wit::types::Point { x, y }).collect(),
    }
}

fn face_from_wit(f: &wit::vision::Face) -> FaceBox {
    FaceBox {
        x: f.box_.x,
        y: f.box_.y,
        width: f.box_.width,
        height: f.box_.height,
        score: f.score,
        landmarks: f.landmarks.iter().map(|p| (p.x, p.y)).collect(),
    }
}

impl wit::vision::Host for HostState {
    async fn detect_faces(
        &mut self,
        img: Resource<ImageRes>,
    ) -> wasmtime::Result<Result<Vec<wit::vision::Face>, WitError>> {
        self.charge()?;
        let img = self.image(&img)?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        Ok(self.timed(svc.detect_faces(&ctx, img)).await.map(|v| v.into_iter().map(face_to_wit).collect()))
    }
    async fn spoofing_score(
        &mut self,
        img: Resource<ImageRes>,
        face: wit::vision::Face,
    ) -> wasmtime::Result<Result<f32, WitError>> {
        self.charge()?;
        let img = self.image(&img)?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        Ok(self.timed(svc.spoofing_score(&ctx, img, face_from_wit(&face))).await)
    }
    async fn embed(
        &mut self,
        img: Resource<ImageRes>,
        face: wit::vision::Face,
        model: Option<String>,
    ) -> wasmtime::Result<Result<wit::vision::Embedding, WitError>> {
        self.charge()?;
        let img = self.image(&img)?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.embed(&ctx, img, face_from_wit(&face), model)).await;
        Ok(r.map(|(model, values)| wit::vision::Embedding { model, values }))
    }
    async fn quality(
        &mut self,
        img: Resource<ImageRes>,
        face: wit::vision::Face,
    ) -> wasmtime::Result<Result<wit::vision::FaceQuality, WitError>> {
        self.charge()?;
        let img = self.image(&img)?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.quality(&ctx, img, face_from_wit(&face))).await;
        Ok(r.map(|q| wit::vision::FaceQuality { face_ratio: q.0, blur: q.1, brightness: q.2 }))
    }
    async fn compare(
        &mut self,
        a: wit::vision::Embedding,
        b: wit::vision::Embedding,
    ) -> wasmtime::Result<Result<wit::vision::MatchScore, WitError>> {
        self.charge()?;
        let r = self.services.compare(&self.ctx, (&a.model, &a.values), (&b.model, &b.values));
        Ok(r.map(|m| wit::vision::MatchScore {
            confidence: m.confidence,
            cosine: m.cosine,
            model: m.model,
            calibration: m.calibration,
        })
        .map_err(to_wit))
    }
    async fn landmarks(
        &mut self,
        img: Resource<ImageRes>,
        face: wit::vision::Face,
    ) -> wasmtime::Result<Result<wit::vision::FaceShape, WitError>> {
        self.charge()?;
        let img = self.image(&img)?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.face_shape(&ctx, img, face_from_wit(&face))).await;
        Ok(r.map(|f| wit::vision::FaceShape {
            landmarks: f.landmarks.into_iter().map(|(x, y)| wit::types::Point { x, y }).collect(),
            pose: wit::vision::HeadPose { yaw: f.yaw, pitch: f.pitch, roll: f.roll },
            scale: f.scale,
            anisotropy: f.anisotropy,
            eye_openness: f.eye_openness,
        }))
    }
    async fn texture(
        &mut self,
        img: Resource<ImageRes>,
        face: wit::vision::Face,
    ) -> wasmtime::Result<Result<wit::vision::TextureScore, WitError>> {
        self.charge()?;
        let img = self.image(&img)?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.texture(&ctx, img, face_from_wit(&face))).await;
        Ok(r.map(|t| wit::vision::TextureScore { periodicity: t.periodicity, frequency: t.frequency }))
    }
    async fn surroundings(
        &mut self,
        reference: Resource<ImageRes>,
        reference_points: Vec<wit::types::Point>,
        img: Resource<ImageRes>,
        points: Vec<wit::types::Point>,
    ) -> wasmtime::Result<Result<wit::vision::SurroundingsMotion, WitError>> {
        self.charge()?;
        let (reference, img) = (self.image(&reference)?, self.image(&img)?);
        let pairs = |p: Vec<wit::types::Point>| p.into_iter().map(|q| (q.x, q.y)).collect::<Vec<_>>();
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.surroundings(&ctx, reference, pairs(reference_points), img, pairs(points))).await;
        Ok(r.map(|s| wit::vision::SurroundingsMotion {
            blocks: s.blocks,
            follow: s.follow,
            still: s.still,
            shift: s.shift,
        }))
    }
}

impl wit::inference::Host for HostState {
    async fn run(
        &mut self,
        model: String,
        input: Resource<ImageRes>,
    ) -> wasmtime::Result<Result<Vec<wit::inference::Tensor>, WitError>> {
        self.charge()?;
        let img = self.image(&input)?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.run_model(&ctx, &model, img)).await;
        Ok(r.map(|ts| ts.into_iter().map(|(shape, data)| wit::inference::Tensor { shape, data }).collect()))
    }
}

impl wit::collections::Host for HostState {
    async fn search(
        &mut self,
        collection_id: String,
        query: wit::vision::Embedding,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<wit::collections::Hit>, WitError>> {
        self.charge()?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.search(&ctx, &collection_id, &query.model, query.values, limit)).await;
        Ok(r.map(|hits| {
            hits.into_iter().map(|(person_id, score)| wit::collections::Hit { person_id, score }).collect()
        }))
    }

    async fn list_collections(&mut self) -> wasmtime::Result<Result<Vec<wit::collections::CollectionInfo>, WitError>> {
        self.charge()?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.list_collections(&ctx)).await;
        Ok(r.map(|list| {
            list.into_iter()
                .map(|c| wit::collections::CollectionInfo {
                    collection_id: c.collection_id,
                    alias: c.alias,
                    embedding_model: c.embedding_model,
                    persons: c.persons,
                    faces: c.faces,
                })
                .collect()
        }))
    }
}

impl wit::documents::Host for HostState {
    async fn read(
        &mut self,
        img: Resource<ImageRes>,
        options: wit::documents::ReadOptions,
    ) -> wasmtime::Result<Result<wit::documents::DocumentReading, WitError>> {
        use wit::documents as d;
        self.charge()?;
        let img = self.image(&img)?;
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.read_document(&ctx, img, options.double_page_spread)).await;
        Ok(r.map(|doc| d::DocumentReading {
            mrz: doc.mrz.map(|m| d::MrzReading {
                format: m.format,
                lines: m.lines,
                valid: m.valid,
                checks: m
                    .checks
                    .into_iter()
                    .map(|(field, found, expected)| d::MrzCheck { field, found, expected })
                    .collect(),
                confidence: m.confidence,
                rotated: m.rotated,
            }),
            fields: doc
                .fields
                .into_iter()
                .map(|f| wit::document_types::Field { name: f.name, visual: f.visual, mrz: f.mrz })
                .collect(),
            visual_confidence: doc.visual_confidence,
            face: doc.face.map(|(x, y, width, height)| wit::types::Rect { x, y, width, height }),
            text_lines: doc.text_lines,
        }))
    }

    async fn run_checks(
        &mut self,
        request: wit::document_types::CheckRequest,
    ) -> wasmtime::Result<Result<Vec<wit::documents::CheckOutcome>, WitError>> {
        use wit::document_types as dt;
        self.charge()?;
        let input = crate::CheckInput {
            document_type: request.document_type,
            fields: request
                .fields
                .into_iter()
                .map(|f| crate::DocField { name: f.name, visual: f.visual, mrz: f.mrz })
                .collect(),
            params_json: request.params_json,
        };
        let (svc, ctx) = (self.services.clone(), self.ctx.clone());
        let r = self.timed(svc.run_document_checks(&ctx, input)).await;
        Ok(r.map(|outcomes| {
            outcomes
                .into_iter()
                .map(|o| wit::documents::CheckOutcome {
                    plugin: o.plugin,
                    findings: o
                        .findings
                        .into_iter()
                        .map(|f| dt::Finding {
                            code: f.code,
                            severity: match f.severity.as_str() {
                                "error" => dt::Severity::Error,
                                "warning" => dt::Severity::Warning,
                                _ => dt::Severity::Info,
                            },
                            message: f.message,
                            field: f.field,
                        })
                        .collect(),
                })
                .collect()
        }))
    }
}

impl wit::output::Host for HostState {
    async fn save_image(
        &mut self,
        source_media_id: String,
        img: Resource<ImageRes>,
        label: String,
    ) -> wasmtime::Result<Result<String, WitError>> {
        self.charge()?;
        let image = self.image(&img)?;
        if self.saved.len() >= 16 {
            return Ok(Err(WitError::QuotaExceeded("at most 16 output images per call".into())));
        }
        let id = Uuid::new_v4().to_string();
        self.saved.push(SavedImage { id: id.clone(), source_media_id, label, image });
        Ok(Ok(id))
    }
}
