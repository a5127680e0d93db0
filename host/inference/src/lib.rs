//! Native face vision with ONNX Runtime: detection, 68 landmarks, 5-point alignment, passive
//! liveness, face embeddings and quality signals. Pre- and post-processing follow the `lib/*.js`
//! of `faceplugin-face-recognition-js` without its known bugs (standard IoU non-maximum
//! suppression, a least-squares similarity alignment, plain cosine similarity). Which file plays
//! which role, and how each is fed, comes from the model manifest (`manifest`).
//!
//! Architecture invariant: the only crate that knows `ort`. Models and the runtime come from the
//! assets directory filled by `make assets`; sessions are built once and shared.

pub mod geometry;
pub mod manifest;
pub mod ocr;
pub mod surroundings;
pub mod texture;

use image::RgbImage;
use manifest::{Channels, Manifest, ModelSpec, Role};
use ort::session::Session;
use ort::value::TensorRef;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// ONNX Runtime allows one environment per process: it is made once and shared.
static ENV: OnceLock<ort::environment::Environment> = OnceLock::new();
/// Loaded models per (assets directory, the manifest's model checksums), so several servers in
/// one process share them.
type LoadedKey = (PathBuf, String);
static LOADED: Mutex<Option<HashMap<LoadedKey, Arc<Vision>>>> = Mutex::new(None);

#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error("{0} is missing: run `make assets` (or set VIGIL_ASSETS_DIR)")]
    Missing(PathBuf),
    #[error("model manifest: {0}")]
    Manifest(String),
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Uncalibrated(String),
}

pub type Result<T, E = InferenceError> = std::result::Result<T, E>;

/// Nanoseconds spent inside ONNX Runtime's `run` by this process: what benchmarks subtract from a
/// chain to see the overhead of everything else.
static RUN_NANOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Total time this process has spent inside model inference.
pub fn inference_time() -> std::time::Duration {
    std::time::Duration::from_nanos(RUN_NANOS.load(std::sync::atomic::Ordering::Relaxed))
}

fn rt(e: impl std::fmt::Display) -> InferenceError {
    InferenceError::Runtime(e.to_string())
}

/// A face's landmarks and what they imply, for the motion cues of liveness.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceShape {
    /// 68 points (x, y) in image pixels, iBUG order.
    pub landmarks: Vec<(f32, f32)>,
    /// `None` when the landmarks are degenerate.
    pub pose: Option<geometry::Pose>,
    /// See [`texture::eye_openness`].
    pub eye_openness: f32,
}

/// A detected face: a square box in pixels, the detector's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub score: f32,
}

/// The ONNX Runtime library and model files of an assets directory.
pub struct Assets {
    pub dir: PathBuf,
}

impl Assets {
    pub fn new(dir: impl Into<PathBuf>) -> Assets {
        Assets { dir: dir.into() }
    }
    fn file(&self, rel: &str) -> Result<PathBuf> {
        let p = self.dir.join(rel);
        if p.exists() { Ok(p) } else { Err(InferenceError::Missing(p)) }
    }
}

const NMS_IOU: f32 = 0.4;

/// ArcFace's five reference points in a 112×112 crop: eyes, nose tip, mouth corners.
const ARCFACE_REF: [(f32, f32); 5] = [(38.29, 51.70), (73.53, 51.50), (56.03, 71.74), (41.55, 92.37), (70.73, 92.20)];
const ALIGNED: u32 = 112;

/// A model with its session. `run` needs `&mut Session`, hence the mutex.
struct Loaded {
    spec: ModelSpec,
    session: Mutex<Session>,
}

impl Loaded {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Session>> {
        self.session.lock().map_err(|_| InferenceError::Runtime(format!("{} session lock poisoned", self.spec.name)))
    }

    /// NCHW float input from an image already at the model's size, normalised per the manifest.
    fn tensor(&self, img: &RgbImage) -> Vec<f32> {
        let s = &self.spec;
        let plane = (img.width() * img.height()) as usize;
        match s.channels {
            Channels::Gray => img
                .pixels()
                .map(|p| {
                    let y = 0.299 * f32::from(p.0[0]) + 0.587 * f32::from(p.0[1]) + 0.114 * f32::from(p.0[2]);
                    (y - s.mean[0]) / s.std[0]
                })
                .collect(),
            order => {
                let mut buf = vec![0f32; 3 * plane];
                let (mean, inv) = (s.mean, s.std.map(|v| 1.0 / v));
                for (i, p) in img.pixels().enumerate() {
                    for c in 0..3 {
                        let src = if order == Channels::Bgr { 2 - c } else { c };
                        buf[c * plane + i] = (f32::from(p.0[src]) - mean[c]) * inv[c];
                    }
                }
                buf
            }
        }
    }

    /// Runs the model on one input tensor and copies out its first output (the single output of
    /// the landmark, liveness and embedding models).
    fn first_output(&self, buf: &[f32]) -> Result<Vec<f32>> {
        let mut session = self.lock()?;
        let input = TensorRef::from_array_view((self.shape(), buf)).map_err(rt)?;
        let started = std::time::Instant::now();
        let out = session.run(ort::inputs![self.spec.input.as_str() => input]).map_err(rt)?;
        count_run(started, &self.spec.name);
        let (_, v) = out[0].try_extract_tensor::<f32>().map_err(rt)?;
        Ok(v.to_vec())
    }

    fn shape(&self) -> [usize; 4] {
        let c = if self.spec.channels == Channels::Gray { 1 } else { 3 };
        [1, c, self.spec.size[1] as usize, self.spec.size[0] as usize]
    }
}

/// Loaded models.
pub struct Vision {
    detect: Loaded,
    landmark: Loaded,
    liveness: Loaded,
    embedders: Vec<Loaded>,
}

fn session(env: &ort::environment::Environment, path: &Path, threads: usize) -> ort::Result<Session> {
    // Spinning intra-op threads triple the chain's latency on 2 cores (toolchain notes §2).
    Session::builder(env)?
        .with_intra_threads(threads)?
        .with_config_entry("session.intra_op.allow_spinning", "0")?
        .commit_from_file(path)
}

/// The process's ONNX Runtime environment, loading the library of `assets` the first time.
fn environment(assets: &Assets, manifest: &Manifest) -> Result<&'static ort::environment::Environment> {
    if let Some(e) = ENV.get() {
        return Ok(e);
    }
    let lib = assets.file(&manifest.runtime.file)?;
    let e = ort::init_from(&lib).map_err(rt)?.with_name("vigil").build().map_err(rt)?;
    Ok(ENV.get_or_init(|| e))
}

fn count_run(started: std::time::Instant, model: &str) {
    let spent = started.elapsed();
    RUN_NANOS.fetch_add(spent.as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
    metrics::histogram!("vigil_inference_seconds", "model" => model.to_string()).record(spent.as_secs_f64());
}

/// Scales a region of `img` to the model's input size. Shrinking — the usual case — uses area
/// averaging straight from the view (no intermediate crop, integer arithmetic), which costs a
/// fraction of a separable triangle filter; enlarging a small face keeps the triangle filter.
fn region(img: &RgbImage, x: u32, y: u32, w: u32, h: u32, to_w: u32, to_h: u32) -> RgbImage {
    let view = image::imageops::crop_imm(img, x, y, w.max(1), h.max(1));
    if w >= to_w && h >= to_h {
        image::imageops::thumbnail(&*view, to_w, to_h)
    } else {
        image::imageops::resize(&*view, to_w, to_h, image::imageops::FilterType::Triangle)
    }
}

impl Vision {
    /// The models of `assets` as `manifest` describes them, loaded and warmed up once per process
    /// (ONNX Runtime itself is loaded from the first assets directory asked for).
    pub fn load(assets: &Assets, manifest: &Manifest, intra_threads: usize) -> Result<Arc<Vision>> {
        let mut loaded = LOADED.lock().map_err(|_| InferenceError::Runtime("model cache poisoned".into()))?;
        let map = loaded.get_or_insert_with(HashMap::new);
        let key = (assets.dir.clone(), manifest.models.iter().map(|m| m.sha256.as_str()).collect::<Vec<_>>().join(","));
        if let Some(v) = map.get(&key) {
            return Ok(v.clone());
        }
        let v = Arc::new(Self::build(assets, manifest, intra_threads)?);
        v.warm_up()?;
        map.insert(key, v.clone());
        Ok(v)
    }

    fn build(assets: &Assets, manifest: &Manifest, intra_threads: usize) -> Result<Vision> {
        let env = environment(assets, manifest)?;
        let threads = intra_threads.max(1);
        let load = |spec: &ModelSpec| -> Result<Loaded> {
            let path = assets.file(&spec.file)?;
            manifest::verify(&path, &spec.sha256)?;
            let session = session(env, &path, threads).map_err(|e| rt(format!("{}: {e}", spec.name)))?;
            Ok(Loaded { spec: spec.clone(), session: Mutex::new(session) })
        };
        Ok(Vision {
            detect: load(manifest.one(Role::Detector))?,
            landmark: load(manifest.one(Role::Landmarks))?,
            liveness: load(manifest.one(Role::Liveness))?,
            embedders: manifest.embedders().map(load).collect::<Result<_>>()?,
        })
    }

    /// One pass through every model, so the first request does not pay ONNX Runtime's lazy set-up.
    fn warm_up(&self) -> Result<()> {
        let img = RgbImage::from_pixel(160, 160, image::Rgb([128, 128, 128]));
        let face = Detection { x: 40.0, y: 40.0, width: 80.0, height: 80.0, score: 1.0 };
        self.detect(&img)?;
        self.spoofing(&img, &face)?;
        for e in &self.embedders {
            self.embed(&img, &face, &e.spec.name)?;
        }
        Ok(())
    }

    /// A configured embedding model by name; an unknown name is an input error naming the known ones.
    fn embedder(&self, model: &str) -> Result<&Loaded> {
        self.embedders.iter().find(|e| e.spec.name == model).ok_or_else(|| {
            InferenceError::Input(format!(
                "unknown embedding model '{model}'; configured: {}",
                self.embedders().join(", ")
            ))
        })
    }

    /// The manifest entry of a configured embedding model (see [`Vision::embedder`] for the error).
    pub fn embedder_spec(&self, model: &str) -> Result<&ModelSpec> {
        self.embedder(model).map(|e| &e.spec)
    }

    /// The calibration of an embedding model, when the manifest gives one.
    pub fn calibration(&self, model: &str) -> Option<&manifest::Calibration> {
        self.embedder(model).ok()?.spec.calibration.as_ref()
    }

    /// Compares two embeddings of `model` on its calibrated scale. Embeddings of different models
    /// or sizes are not comparable, and an uncalibrated model has no confidence to give.
    pub fn compare(&self, model: &str, a: &[f32], b: &[f32]) -> Result<Match> {
        let m = self.embedder(model)?;
        let dims = m.spec.dims.unwrap_or(0);
        if a.len() != dims || b.len() != dims {
            return Err(InferenceError::Input(format!(
                "{model} embeddings have {dims} values, got {} and {}",
                a.len(),
                b.len()
            )));
        }
        if a.iter().chain(b).any(|v| !v.is_finite()) {
            return Err(InferenceError::Input("an embedding holds a value that is not a finite number".into()));
        }
        let cal = m.spec.calibration.as_ref().ok_or_else(|| {
            InferenceError::Uncalibrated(format!(
                "embedding model '{model}' has no calibration in the model manifest; measure one with `vigil eval biometry`"
            ))
        })?;
        let cosine = cosine(a, b);
        Ok(Match {
            cosine,
            confidence: cal.confidence(cosine),
            model: model.to_string(),
            calibration: cal.version.clone(),
        })
    }

    /// Names of the embedding models, in manifest order.
    pub fn embedders(&self) -> Vec<String> {
        self.embedders.iter().map(|e| e.spec.name.clone()).collect()
    }

    /// Faces in `img`, best first.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>> {
        let (w, h) = img.dimensions();
        if w < 16 || h < 16 {
            return Err(InferenceError::Input(format!("image of {w}×{h} is too small for face detection")));
        }
        let m = &self.detect;
        let buf = m.tensor(&region(img, 0, 0, w, h, m.spec.size[0], m.spec.size[1]));
        let mut session = m.lock()?;
        let input = TensorRef::from_array_view((m.shape(), &buf[..])).map_err(rt)?;
        let started = std::time::Instant::now();
        let out = session.run(ort::inputs![m.spec.input.as_str() => input]).map_err(rt)?;
        count_run(started, &m.spec.name);
        let (_, scores) = out["scores"].try_extract_tensor::<f32>().map_err(rt)?;
        let (_, boxes) = out["boxes"].try_extract_tensor::<f32>().map_err(rt)?;
        let (wf, hf) = (w as f32, h as f32);
        let min_score = m.spec.min_score.unwrap_or(0.65);
        let mut found: Vec<(f32, [f32; 4])> = scores
            .chunks_exact(2)
            .zip(boxes.chunks_exact(4))
            .filter(|(s, _)| s[1] >= min_score)
            .map(|(s, b)| (s[1], [b[0] * wf, b[1] * hf, b[2] * wf, b[3] * hf]))
            .collect();
        found.sort_by(|a, b| b.0.total_cmp(&a.0));
        let kept = nms(&found, NMS_IOU);
        Ok(kept.into_iter().map(|(score, b)| square(b, score, wf, hf)).collect())
    }

    /// Probability that the face is a presentation attack: 1 − P(live).
    pub fn spoofing(&self, img: &RgbImage, face: &Detection) -> Result<f32> {
        let m = &self.liveness;
        let (w, h) = (img.width() as f32, img.height() as f32);
        let scale = m.spec.crop_scale.unwrap_or(2.7);
        let side = (face.width.max(face.height) * scale).min(w.min(h)).max(1.0);
        let cx = face.x + face.width / 2.0;
        let cy = face.y + face.height / 2.0;
        // Shifted, not shrunk, to stay inside the image.
        let x0 = (cx - side / 2.0).clamp(0.0, w - side);
        let y0 = (cy - side / 2.0).clamp(0.0, h - side);
        let (x0, y0, side) = (x0 as u32, y0 as u32, side as u32);
        let buf = m.tensor(&region(img, x0, y0, side, side, m.spec.size[0], m.spec.size[1]));
        let logits = m.first_output(&buf)?;
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        let live = exp.get(m.spec.live_index.unwrap_or(0)).copied().unwrap_or(0.0);
        Ok(1.0 - live / sum)
    }
}

impl Vision {
    /// 68 landmarks (x, y) in image pixels, from the face's square box.
    pub fn landmarks(&self, img: &RgbImage, face: &Detection) -> Result<Vec<(f32, f32)>> {
        let m = &self.landmark;
        let (w, h) = (img.width() as f32, img.height() as f32);
        let side = face.width.max(face.height).min(w.min(h)).max(1.0);
        let x0 = face.x.clamp(0.0, w - side);
        let y0 = face.y.clamp(0.0, h - side);
        let (xi, yi, si) = (x0 as u32, y0 as u32, side as u32);
        let buf = m.tensor(&region(img, xi, yi, si, si, m.spec.size[0], m.spec.size[1]));
        let (x0, y0, side) = (xi as f32, yi as f32, si as f32);
        let v = m.first_output(&buf)?;
        if v.len() < 136 {
            return Err(InferenceError::Runtime(format!("landmark model gave {} values, expected 136", v.len())));
        }
        Ok(v[..136].chunks_exact(2).map(|p| (p[0] * side + x0, p[1] * side + y0)).collect())
    }

    /// The 68 landmarks, averaged over the face box and four shifted copies of it, the head pose
    /// they imply and the eyes' openness. The landmark model sees a 64×64 crop,
    /// so one pass jitters by a few per cent of the face; motion cues compare frames and need
    /// less noise than that, and five passes cost about as much as one liveness inference.
    pub fn face_shape(&self, img: &RgbImage, face: &Detection) -> Result<FaceShape> {
        let d = 0.04 * face.width.max(face.height);
        let mut sum = vec![(0.0f32, 0.0f32); 68];
        let shifts = [(0.0, 0.0), (-d, -d), (d, -d), (-d, d), (d, d)];
        for (dx, dy) in shifts {
            let moved = Detection { x: face.x + dx, y: face.y + dy, ..*face };
            for (s, p) in sum.iter_mut().zip(self.landmarks(img, &moved)?) {
                s.0 += p.0;
                s.1 += p.1;
            }
        }
        let n = shifts.len() as f32;
        let pts: Vec<(f32, f32)> = sum.into_iter().map(|(x, y)| (x / n, y / n)).collect();
        Ok(FaceShape {
            pose: geometry::head_pose(&pts),
            eye_openness: texture::eye_openness(img, &pts),
            landmarks: pts,
        })
    }

    /// Periodic texture (print, screen, moiré) in the face's box.
    pub fn texture(&self, img: &RgbImage, face: &Detection) -> texture::Texture {
        texture::texture(img, face.x, face.y, face.width.max(face.height))
    }

    /// An L2-normalised embedding of the face by the named model, aligned by a 5-point
    /// similarity transform.
    pub fn embed(&self, img: &RgbImage, face: &Detection, model: &str) -> Result<Vec<f32>> {
        let m = self.embedder(model)?;
        let pts = five_points(&self.landmarks(img, face)?);
        let buf = m.tensor(&align(img, &pts));
        let v = m.first_output(&buf)?;
        if Some(v.len()) != m.spec.dims {
            return Err(InferenceError::Runtime(format!(
                "{} gave {} values, the manifest says {:?}",
                m.spec.name,
                v.len(),
                m.spec.dims
            )));
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        Ok(v.iter().map(|x| x / norm).collect())
    }
}

impl Vision {
    /// Image-quality signals of a face: (share of the image the face covers, sharpness as the
    /// variance of the Laplacian of the face's luma, mean luma in [0, 1]).
    pub fn quality(&self, img: &RgbImage, face: &Detection) -> Result<(f32, f32, f32)> {
        let (w, h) = (img.width() as f32, img.height() as f32);
        let x0 = face.x.clamp(0.0, w - 1.0) as u32;
        let y0 = face.y.clamp(0.0, h - 1.0) as u32;
        let fw = (face.width as u32).clamp(1, img.width() - x0);
        let fh = (face.height as u32).clamp(1, img.height() - y0);
        let crop = image::imageops::crop_imm(img, x0, y0, fw, fh).to_image();
        let luma: Vec<f32> = crop
            .pixels()
            .map(|p| 0.299 * f32::from(p.0[0]) + 0.587 * f32::from(p.0[1]) + 0.114 * f32::from(p.0[2]))
            .collect();
        let brightness = luma.iter().sum::<f32>() / luma.len() as f32 / 255.0;
        let (cw, ch) = (fw as usize, fh as usize);
        let mut lap = Vec::with_capacity(cw * ch);
        for y in 1..ch.saturating_sub(1) {
            for x in 1..cw.saturating_sub(1) {
                let at = |xx: usize, yy: usize| luma[yy * cw + xx];
                lap.push(at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y));
            }
        }
        let blur = if lap.is_empty() {
            0.0
        } else {
            let m = lap.iter().sum::<f32>() / lap.len() as f32;
            lap.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / lap.len() as f32
        };
        Ok((face.width * face.height / (w * h), blur, brightness))
    }
}

/// Cosine similarity of two embeddings (normalised here, so any scale works), in [-1, 1].
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { (dot / (na * nb)).clamp(-1.0, 1.0) }
}

/// Two faces compared: the raw cosine and the calibrated confidence that they are one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub cosine: f32,
    pub confidence: f32,
    pub model: String,
    pub calibration: String,
}

/// 68 landmarks → eyes, nose tip, mouth corners (the ArcFace order).
fn five_points(p: &[(f32, f32)]) -> [(f32, f32); 5] {
    let mean = |ix: &[usize]| {
        let n = ix.len() as f32;
        (ix.iter().map(|&i| p[i].0).sum::<f32>() / n, ix.iter().map(|&i| p[i].1).sum::<f32>() / n)
    };
    [mean(&[37, 38, 40, 41]), mean(&[43, 44, 46, 47]), p[30], mean(&[48, 60]), mean(&[54, 64])]
}

/// The least-squares similarity (rotation, uniform scale, translation; no shear) taking `src` to
/// `dst`: returns (a, b, tx, ty) with x' = a·x − b·y + tx, y' = b·x + a·y + ty.
fn similarity(src: &[(f32, f32); 5], dst: &[(f32, f32); 5]) -> (f32, f32, f32, f32) {
    let n = src.len() as f32;
    let ms = (src.iter().map(|p| p.0).sum::<f32>() / n, src.iter().map(|p| p.1).sum::<f32>() / n);
    let md = (dst.iter().map(|p| p.0).sum::<f32>() / n, dst.iter().map(|p| p.1).sum::<f32>() / n);
    let (mut num_a, mut num_b, mut den) = (0.0, 0.0, 0.0);
    for (s, d) in src.iter().zip(dst) {
        let (sx, sy, dx, dy) = (s.0 - ms.0, s.1 - ms.1, d.0 - md.0, d.1 - md.1);
        num_a += sx * dx + sy * dy;
        num_b += sx * dy - sy * dx;
        den += sx * sx + sy * sy;
    }
    let den = if den <= 1e-6 { 1e-6 } else { den };
    let (a, b) = (num_a / den, num_b / den);
    (a, b, md.0 - (a * ms.0 - b * ms.1), md.1 - (b * ms.0 + a * ms.1))
}

/// Warps the face into ArcFace's 112×112 frame with bilinear sampling.
fn align(img: &RgbImage, pts: &[(f32, f32); 5]) -> RgbImage {
    let (a, b, tx, ty) = similarity(pts, &ARCFACE_REF);
    let k = (a * a + b * b).max(1e-12);
    RgbImage::from_fn(ALIGNED, ALIGNED, |u, v| {
        // Inverse map: from the aligned pixel back into the image.
        let (dx, dy) = (u as f32 - tx, v as f32 - ty);
        bilinear(img, (a * dx + b * dy) / k, (-b * dx + a * dy) / k)
    })
}

/// The image's colour at (x, y) by bilinear interpolation, edges replicated.
fn bilinear(img: &RgbImage, x: f32, y: f32) -> image::Rgb<u8> {
    let (w, h) = (img.width() as f32 - 1.0, img.height() as f32 - 1.0);
    let (x, y) = (x.clamp(0.0, w), y.clamp(0.0, h));
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let px = |xx: f32, yy: f32| img.get_pixel(xx.min(w) as u32, yy.min(h) as u32).0;
    let (p00, p10, p01, p11) = (px(x0, y0), px(x0 + 1.0, y0), px(x0, y0 + 1.0), px(x0 + 1.0, y0 + 1.0));
    let mut out = [0u8; 3];
    for c in 0..3 {
        let top = f32::from(p00[c]) * (1.0 - fx) + f32::from(p10[c]) * fx;
        let bottom = f32::from(p01[c]) * (1.0 - fx) + f32::from(p11[c]) * fx;
        out[c] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
    image::Rgb(out)
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Standard non-maximum suppression over score-sorted boxes.
fn nms(sorted: &[(f32, [f32; 4])], threshold: f32) -> Vec<(f32, [f32; 4])> {
    let mut kept: Vec<(f32, [f32; 4])> = Vec::new();
    for cand in sorted {
        if kept.iter().all(|k| iou(&k.1, &cand.1) < threshold) {
            kept.push(*cand);
        }
    }
    kept
}

/// A square box of side = the box height, centred on the box and clipped to the image.
fn square(b: [f32; 4], score: f32, w: f32, h: f32) -> Detection {
    let side = (b[3] - b[1]).max(1.0);
    let cx = (b[0] + b[2]) / 2.0;
    let x0 = (cx - side / 2.0).max(0.0);
    let y0 = b[1].max(0.0);
    Detection { x: x0, y: y0, width: side.min(w - x0), height: side.min(h - y0), score }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        // Rotate by 30°, scale by 2, shift by (5, -3).
        let (c, s) = (2.0 * 30f32.to_radians().cos(), 2.0 * 30f32.to_radians().sin());
        let src = ARCFACE_REF;
        let dst = src.map(|(x, y)| (c * x - s * y + 5.0, s * x + c * y - 3.0));
        let (a, b, tx, ty) = similarity(&src, &dst);
        assert!((a - c).abs() < 1e-3 && (b - s).abs() < 1e-3, "{a} {b}");
        assert!((tx - 5.0).abs() < 1e-2 && (ty + 3.0).abs() < 1e-2, "{tx} {ty}");
    }

    #[test]
    fn nms_keeps_the_best_of_overlaps() {
        let boxes = vec![(0.9, [0.0, 0.0, 10.0, 10.0]), (0.8, [1.0, 1.0, 11.0, 11.0]), (0.7, [50.0, 50.0, 60.0, 60.0])];
        let kept = nms(&boxes, 0.4);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].0, 0.9);
        assert_eq!(kept[1].0, 0.7);
        assert!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 20.0, 30.0, 30.0]) == 0.0);
    }
}
