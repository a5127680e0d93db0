//! The plugin host's vision services, served by native inference (`vigil-inference`). Models run
//! on the blocking pool; the plugin host counts that time against the call's host budget.

use std::sync::Arc;
use vigil_inference::{Detection, Embedder, InferenceError, Vision};
use vigil_plugin_host::{BoxFuture, CallContext, FaceBox, GuestError, Services};

pub struct NativeVision {
    vision: Arc<Vision>,
}

impl NativeVision {
    pub fn new(vision: Arc<Vision>) -> NativeVision {
        NativeVision { vision }
    }
}

fn guest(e: InferenceError) -> GuestError {
    match e {
        InferenceError::Input(m) => GuestError::InvalidInput(m),
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
        _ctx: &'a CallContext,
        img: Arc<image::RgbImage>,
        face: FaceBox,
        model: Option<String>,
    ) -> BoxFuture<'a, Result<(String, Vec<f32>), GuestError>> {
        let v = self.vision.clone();
        Box::pin(async move {
            let embedder = match model.as_deref() {
                None => Embedder::FrFeature,
                Some(m) => Embedder::parse(m).ok_or_else(|| {
                    GuestError::InvalidInput(format!("unknown embedding model '{m}'; use fr_feature or sface"))
                })?,
            };
            let d = detection(&face);
            let values = tokio::task::spawn_blocking(move || v.embed(&img, &d, embedder))
                .await
                .map_err(joined)?
                .map_err(guest)?;
            Ok((embedder.name().to_string(), values))
        })
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

    fn spoofing_score<'a>(
        &'a self,
        _ctx: &'a CallContext,
        img: Arc<image::RgbImage>,
        face: FaceBox,
    ) -> BoxFuture<'a, Result<f32, GuestError>> {
        let v = self.vision.clone();
        Box::pin(async move {
            let d = Detection {
                x: face.x as f32,
                y: face.y as f32,
                width: face.width as f32,
                height: face.height as f32,
                score: face.score,
            };
            tokio::task::spawn_blocking(move || v.spoofing(&img, &d)).await.map_err(joined)?.map_err(guest)
        })
    }
}
