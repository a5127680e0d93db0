//! The plugin host's vision services, served by native inference (`vigil-inference`). Models run
//! on the blocking pool; the plugin host counts that time against the call's host budget.

use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;
use vigil_inference::{Detection, InferenceError, Vision, surroundings};
use vigil_plugin_host::{
    BoxFuture, CallContext, FaceBox, FaceShape, GuestError, MatchScore, Services, Surroundings, Texture,
};

/// Which embedding model serves whom when a plugin does not name one.
#[derive(Debug, Clone, Default)]
pub struct EmbeddingChoice {
    /// The default model; the manifest's first embedder when `None`.
    pub default: Option<String>,
    pub per_company: HashMap<Uuid, String>,
}

pub struct NativeVision {
    vision: Arc<Vision>,
    choice: EmbeddingChoice,
    /// The application, for collection search; weak, as the application holds this through the
    /// plugin host. Unset (eval, admin commands): collections are not available.
    app: std::sync::OnceLock<std::sync::Weak<crate::Inner>>,
    /// Document reading; `None` when the model manifest has no text models.
    ocr: crate::documents::SharedOcr,
}

impl NativeVision {
    /// Fails when the configuration names a model the manifest does not load.
    pub fn new(vision: Arc<Vision>, choice: EmbeddingChoice) -> Result<NativeVision, String> {
        let known = vision.embedders();
        for m in choice.default.iter().chain(choice.per_company.values()) {
            if !known.contains(m) {
                return Err(format!("embedding model '{m}' is not in the model manifest ({})", known.join(", ")));
            }
        }
        Ok(NativeVision { vision, choice, app: std::sync::OnceLock::new(), ocr: None })
    }

    /// Reads documents with `ocr`.
    pub fn with_ocr(mut self, ocr: crate::documents::SharedOcr) -> NativeVision {
        self.ocr = ocr;
        self
    }

    /// Serves collection search from `app` (once it exists: it is built with this vision).
    pub fn attach(&self, app: &crate::App) {
        let _ = self.app.set(Arc::downgrade(&app.inner));
    }

    fn app(&self) -> Result<crate::App, GuestError> {
        self.app
            .get()
            .and_then(std::sync::Weak::upgrade)
            .map(|inner| crate::App { inner })
            .ok_or_else(|| GuestError::NotAvailable("collection search is not available here".into()))
    }

    /// The model for `company` when the plugin names none.
    pub fn model_for(&self, company: Uuid) -> String {
        self.choice
            .per_company
            .get(&company)
            .or(self.choice.default.as_ref())
            .cloned()
            .or_else(|| self.vision.embedders().into_iter().next())
            .unwrap_or_default()
    }
}

fn guest(e: InferenceError) -> GuestError {
    match e {
        InferenceError::Input(m) => GuestError::InvalidInput(m),
        InferenceError::Uncalibrated(m) => GuestError::NotAvailable(m),
        other => GuestError::Host(other.to_string()),
    }
}

fn joined(e: tokio::task::JoinError) -> GuestError {
    GuestError::Host(format!("inference task failed: {e}"))
}

fn detection(f: &FaceBox) -> Detection {
    Detection { x: f.x as f32, y: f.y as f32, width: f.width as f32, height: f.height as f32, score: f.score }
}

impl Services for NativeVision {
    fn detect_faces<'a>(
        &'a self,
        _ctx: &'a CallContext,
        img: Arc<image::RgbImage>,
    ) -> BoxFuture<'a, Result<Vec<FaceBox>, GuestError>> {
        let v = self.vision.clone();
        Box::pin(async move {
            let found = tokio::task::spawn_blocking(move || v.detect(&img)).await.map_err(joined)?.map_err(guest)?;
            Ok(found
                .into_iter()
                .map(|d| FaceBox {
                    x: d.x.round() as u32,
                    y: d.y.round() as u32,
                    width: d.width.round() as u32,
                    height: d.height.round() as u32,
                    score: d.score,
                    landmarks: Vec::new(),
                })
                .collect())
        })
    }

    fn embed<'a>(
        &'a self,
        ctx: &'a CallContext,
        img: Arc<image::RgbImage>,
        face: FaceBox,
        model: Option<String>,
    ) -> BoxFuture<'a, Result<(String, Vec<f32>), GuestError>> {
        let v = self.vision.clone();
        Box::pin(async move {
            // The answer names the model, so whoever stores the embedding records it.
            let name = model.unwrap_or_else(|| self.model_for(ctx.company_id));
            let d = detection(&face);
            let n = name.clone();
            let values =
                tokio::task::spawn_blocking(move || v.embed(&img, &d, &n)).await.map_err(joined)?.map_err(guest)?;
            Ok((name, values))
        })
    }

    fn compare(&self, _ctx: &CallContext, a: (&str, &[f32]), b: (&str, &[f32])) -> Result<MatchScore, GuestError> {
        if a.0 != b.0 {
            return Err(GuestError::InvalidInput(format!(
                "embeddings of different models are not comparable ({} and {})",
                a.0, b.0
            )));
        }
        let m = self.vision.compare(a.0, a.1, b.1).map_err(guest)?;
        Ok(MatchScore { confidence: m.confidence, cosine: m.cosine, model: m.model, calibration: m.calibration })
    }

    fn quality<'a>(
        &'a self,
        _ctx: &'a CallContext,
        img: Arc<image::RgbImage>,
        face: FaceBox,
    ) -> BoxFuture<'a, Result<(f32, f32, f32), GuestError>> {
        let v = self.vision.clone();
        Box::pin(async move {
            let d = detection(&face);
            tokio::task::spawn_blocking(move || v.quality(&img, &d)).await.map_err(joined)?.map_err(guest)
        })
    }

    fn face_shape<'a>(
        &'a self,
        _ctx: &'a CallContext,
        img: Arc<image::RgbImage>,
        face: FaceBox,
    ) -> BoxFuture<'a, Result<FaceShape, GuestError>> {
        let v = self.vision.clone();
        Box::pin(async move {
            let d = detection(&face);
            let shape =
                tokio::task::spawn_blocking(move || v.face_shape(&img, &d)).await.map_err(joined)?.map_err(guest)?;
            let pose = shape
                .pose
                .ok_or_else(|| GuestError::InvalidInput("the landmarks of this face are degenerate".into()))?;
            Ok(FaceShape {
                landmarks: shape.landmarks,
                yaw: pose.yaw,
                pitch: pose.pitch,
                roll: pose.roll,
                scale: pose.scale,
                anisotropy: pose.anisotropy,
                eye_openness: shape.eye_openness,
            })
        })
    }

    fn texture<'a>(
        &'a self,
        _ctx: &'a CallContext,
        img: Arc<image::RgbImage>,
        face: FaceBox,
    ) -> BoxFuture<'a, Result<Texture, GuestError>> {
        let v = self.vision.clone();
        Box::pin(async move {
            let d = detection(&face);
            let t = tokio::task::spawn_blocking(move || v.texture(&img, &d)).await.map_err(joined)?;
            Ok(Texture { periodicity: t.periodicity, frequency: t.frequency })
        })
    }

    fn surroundings<'a>(
        &'a self,
        _ctx: &'a CallContext,
        reference: Arc<image::RgbImage>,
        reference_points: Vec<(f32, f32)>,
        img: Arc<image::RgbImage>,
        points: Vec<(f32, f32)>,
    ) -> BoxFuture<'a, Result<Surroundings, GuestError>> {
        Box::pin(async move {
            if reference_points.len() != points.len() || reference_points.len() > surroundings::MAX_POINTS {
                return Err(GuestError::InvalidInput(format!(
                    "surroundings needs the same points in both frames, at most {} (got {} and {})",
                    surroundings::MAX_POINTS,
                    reference_points.len(),
                    points.len()
                )));
            }
            let s = tokio::task::spawn_blocking(move || {
                surroundings::surroundings(&reference, &reference_points, &img, &points)
            })
            .await
            .map_err(joined)?
            .ok_or_else(|| GuestError::InvalidInput("the face points are too few or degenerate".into()))?;
            Ok(Surroundings { blocks: s.blocks, follow: s.follow, still: s.still, shift: s.shift })
        })
    }

    fn search<'a>(
        &'a self,
        ctx: &'a CallContext,
        collection: &'a str,
        model: &'a str,
        query: Vec<f32>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<(String, f32)>, GuestError>> {
        Box::pin(async move { self.app()?.plugin_search(ctx.company_id, collection, model, query, limit).await })
    }

    fn list_collections<'a>(
        &'a self,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<Vec<vigil_plugin_host::CollectionInfo>, GuestError>> {
        Box::pin(async move {
            self.app()?.plugin_collections(ctx.company_id).await.map_err(|e| GuestError::Host(e.message))
        })
    }

    fn read_document<'a>(
        &'a self,
        _ctx: &'a CallContext,
        img: Arc<image::RgbImage>,
        double_page_spread: bool,
    ) -> BoxFuture<'a, Result<vigil_plugin_host::DocumentReading, GuestError>> {
        let (v, ocr) = (self.vision.clone(), self.ocr.clone());
        Box::pin(async move {
            let ocr = ocr.ok_or_else(|| {
                GuestError::NotAvailable("document reading needs the text models of the model manifest".into())
            })?;
            tokio::task::spawn_blocking(move || crate::documents::read(&ocr, &v, &img, double_page_spread))
                .await
                .map_err(joined)?
        })
    }

    fn run_document_checks<'a>(
        &'a self,
        ctx: &'a CallContext,
        input: vigil_plugin_host::CheckInput,
    ) -> BoxFuture<'a, Result<Vec<vigil_plugin_host::CheckOutcome>, GuestError>> {
        Box::pin(async move { self.app()?.run_document_checks(ctx.company_id, input).await })
    }

    fn confidence(&self, model: &str, cosine: f32) -> Result<f32, GuestError> {
        let cal = self.vision.calibration(model).ok_or_else(|| {
            GuestError::NotAvailable(format!("embedding model '{model}' has no calibration in the model manifest"))
        })?;
        Ok(cal.confidence(cosine))
    }

    fn embedding_model(&self, company: Uuid) -> Option<String> {
        Some(self.model_for(company)).filter(|m| !m.is_empty())
    }

    fn spoofing_score<'a>(
        &'a self,
        _ctx: &'a CallContext,
        img: Arc<image::RgbImage>,
        face: FaceBox,
    ) -> BoxFuture<'a, Result<f32, GuestError>> {
        let v = self.vision.clone();
        Box::pin(async move {
            let d = detection(&face);
            tokio::task::spawn_blocking(move || v.spoofing(&img, &d)).await.map_err(joined)?.map_err(guest)
        })
    }
}
