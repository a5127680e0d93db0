//! What the host offers plugins beyond their own sandbox: vision, named models, collection search.
//! The server supplies an implementation; the default answers "not available" to everything.

use crate::error::GuestError;
use crate::host::CallContext;
use image::RgbImage;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A model output: shape and row-major values.
pub type Tensor = (Vec<u32>, Vec<f32>);

/// A detected face in pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub score: f32,
    pub landmarks: Vec<(f32, f32)>,
}

/// Two embeddings compared on the model's calibrated scale.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchScore {
    pub confidence: f32,
    pub cosine: f32,
    pub model: String,
    pub calibration: String,
}

/// A face's 68 landmarks and the head pose they imply (degrees).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaceShape {
    pub landmarks: Vec<(f32, f32)>,
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    pub scale: f32,
    pub anisotropy: f32,
    pub eye_openness: f32,
}

/// Periodic texture in a face's box.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Texture {
    pub periodicity: f32,
    pub frequency: f32,
}

/// How a face's surroundings moved between two frames (see WIT `vision.surroundings`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Surroundings {
    pub blocks: u32,
    pub follow: u32,
    pub still: u32,
    pub shift: f32,
}

/// One of a company's face collections, as plugins see it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionInfo {
    pub collection_id: String,
    pub alias: String,
    pub embedding_model: String,
    pub persons: u64,
    pub faces: u64,
}

/// A decoded MRZ, as plugins see it (see WIT `documents.mrz-reading`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MrzReading {
    pub format: String,
    pub lines: Vec<String>,
    pub valid: bool,
    /// (field, found, expected) per check digit.
    pub checks: Vec<(String, String, String)>,
    pub confidence: f32,
    pub rotated: bool,
}

/// What the host read in a document photo (see WIT `documents.document-reading`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocumentReading {
    pub mrz: Option<MrzReading>,
    pub fields: Vec<crate::DocField>,
    pub visual_confidence: f32,
    /// The portrait's box (x, y, width, height).
    pub face: Option<(u32, u32, u32, u32)>,
    pub text_lines: u32,
}

/// The findings of one document check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    pub plugin: String,
    pub findings: Vec<crate::Finding>,
}

fn unavailable<'a, T: Send + 'a>(what: &str) -> BoxFuture<'a, Result<T, GuestError>> {
    let msg = format!("{what} is not available on this server");
    Box::pin(async move { Err(GuestError::NotAvailable(msg)) })
}

/// Host capabilities behind the WIT `vision`, `inference` and `collections` interfaces. Every
/// method gets the caller's company and must stay within it.
pub trait Services: Send + Sync + 'static {
    fn detect_faces<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _img: Arc<RgbImage>,
    ) -> BoxFuture<'a, Result<Vec<FaceBox>, GuestError>> {
        unavailable("face detection")
    }
    fn spoofing_score<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _img: Arc<RgbImage>,
        _face: FaceBox,
    ) -> BoxFuture<'a, Result<f32, GuestError>> {
        unavailable("liveness")
    }
    /// Returns (model id, embedding).
    fn embed<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _img: Arc<RgbImage>,
        _face: FaceBox,
        _model: Option<String>,
    ) -> BoxFuture<'a, Result<(String, Vec<f32>), GuestError>> {
        unavailable("face embedding")
    }
    /// Compares two embeddings (each with its model's name); embeddings of different models are
    /// not comparable.
    fn compare(&self, _ctx: &CallContext, _a: (&str, &[f32]), _b: (&str, &[f32])) -> Result<MatchScore, GuestError> {
        Err(GuestError::NotAvailable("face comparison is not available on this server".into()))
    }
    /// Returns (face ratio, blur, brightness).
    fn quality<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _img: Arc<RgbImage>,
        _face: FaceBox,
    ) -> BoxFuture<'a, Result<(f32, f32, f32), GuestError>> {
        unavailable("image quality")
    }
    fn face_shape<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _img: Arc<RgbImage>,
        _face: FaceBox,
    ) -> BoxFuture<'a, Result<FaceShape, GuestError>> {
        unavailable("face landmarks")
    }
    fn texture<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _img: Arc<RgbImage>,
        _face: FaceBox,
    ) -> BoxFuture<'a, Result<Texture, GuestError>> {
        unavailable("texture analysis")
    }
    /// Whether the picture around a face moves with it from `reference` to `img`; the point
    /// lists are the face's landmarks in each.
    fn surroundings<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _reference: Arc<RgbImage>,
        _reference_points: Vec<(f32, f32)>,
        _img: Arc<RgbImage>,
        _points: Vec<(f32, f32)>,
    ) -> BoxFuture<'a, Result<Surroundings, GuestError>> {
        unavailable("surroundings analysis")
    }
    /// Returns (shape, data) per output tensor.
    fn run_model<'a>(
        &'a self,
        _ctx: &'a CallContext,
        model: &'a str,
        _img: Arc<RgbImage>,
    ) -> BoxFuture<'a, Result<Vec<Tensor>, GuestError>> {
        unavailable(&format!("model '{model}'"))
    }
    /// Returns (person id, score) hits.
    fn search<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _collection: &'a str,
        _model: &'a str,
        _query: Vec<f32>,
        _limit: u32,
    ) -> BoxFuture<'a, Result<Vec<(String, f32)>, GuestError>> {
        unavailable("collection search")
    }
    /// The caller's company's collections.
    fn list_collections<'a>(&'a self, _ctx: &'a CallContext) -> BoxFuture<'a, Result<Vec<CollectionInfo>, GuestError>> {
        unavailable("collection search")
    }
    /// Reads the identity document in `img`.
    fn read_document<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _img: Arc<RgbImage>,
        _double_page_spread: bool,
    ) -> BoxFuture<'a, Result<DocumentReading, GuestError>> {
        unavailable("document reading")
    }
    /// Runs the calling company's document checks on `input`.
    fn run_document_checks<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _input: crate::CheckInput,
    ) -> BoxFuture<'a, Result<Vec<CheckOutcome>, GuestError>> {
        unavailable("document checks")
    }
    /// A cosine of two `model` embeddings on the model's calibrated confidence scale.
    fn confidence(&self, model: &str, _cosine: f32) -> Result<f32, GuestError> {
        Err(GuestError::NotAvailable(format!("no calibration of '{model}' on this server")))
    }
    /// The embedding model `company`'s faces are embedded with when none is named; `None` when
    /// this server embeds nothing.
    fn embedding_model(&self, _company: uuid::Uuid) -> Option<String> {
        None
    }
}

/// No vision, no models, no collections: every capability answers "not available".
pub struct NoServices;

impl Services for NoServices {}
