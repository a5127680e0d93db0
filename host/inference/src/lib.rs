//! Native face vision with ONNX Runtime: detection and passive liveness (more models join as
//! the native-vision issue proceeds). Pre- and post-processing follow the `lib/*.js` of
//! `faceplugin-face-recognition-js` without its known bugs (standard IoU non-maximum suppression).
//!
//! Architecture invariant: the only crate that knows `ort`. Models and the runtime come from the
//! assets directory filled by `make assets`; sessions are built once and shared.

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// ONNX Runtime allows one environment per process: it is made once and shared.
static ENV: OnceLock<ort::environment::Environment> = OnceLock::new();
/// Loaded models per assets directory, so several servers in one process share them.
static LOADED: Mutex<Option<HashMap<PathBuf, Arc<Vision>>>> = Mutex::new(None);

#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error("{0} is missing: run `make assets` (or set VIGIL_ASSETS_DIR)")]
    Missing(PathBuf),
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    Input(String),
}

pub type Result<T, E = InferenceError> = std::result::Result<T, E>;

fn rt(e: impl std::fmt::Display) -> InferenceError {
    InferenceError::Runtime(e.to_string())
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

const DETECT_W: u32 = 320;
const DETECT_H: u32 = 240;
const DETECT_MIN_SCORE: f32 = 0.65;
const NMS_IOU: f32 = 0.4;
const LIVE_SIDE: u32 = 128;
const LIVE_SCALE: f32 = 2.7;

/// Loaded models. `run` needs `&mut Session`, hence one mutex per model.
pub struct Vision {
    detect: Mutex<Session>,
    liveness: Mutex<Session>,
}

fn session(env: &ort::environment::Environment, path: &Path, threads: usize) -> ort::Result<Session> {
    // Spinning intra-op threads triple the chain's latency on 2 cores (toolchain notes §2).
    Session::builder(env)?
        .with_intra_threads(threads)?
        .with_config_entry("session.intra_op.allow_spinning", "0")?
        .commit_from_file(path)
}

impl Vision {
    /// The models of `assets`, loaded once per process (ONNX Runtime itself is loaded from the
    /// first assets directory asked for).
    pub fn load(assets: &Assets, intra_threads: usize) -> Result<Arc<Vision>> {
        let mut loaded = LOADED.lock().map_err(|_| InferenceError::Runtime("model cache poisoned".into()))?;
        let map = loaded.get_or_insert_with(HashMap::new);
        if let Some(v) = map.get(&assets.dir) {
            return Ok(v.clone());
        }
        let v = Arc::new(Self::build(assets, intra_threads)?);
        map.insert(assets.dir.clone(), v.clone());
        Ok(v)
    }

    fn build(assets: &Assets, intra_threads: usize) -> Result<Vision> {
        let lib = assets.file("lib/libonnxruntime.so.1.32.0")?;
        let detect = assets.file("models/fr_detect.onnx")?;
        let liveness = assets.file("models/fr_liveness.onnx")?;
        let env = match ENV.get() {
            Some(e) => e,
            None => {
                let e = ort::init_from(&lib).map_err(rt)?.with_name("vigil").build().map_err(rt)?;
                ENV.get_or_init(|| e)
            }
        };
        let threads = intra_threads.max(1);
        Ok(Vision {
            detect: Mutex::new(session(env, &detect, threads).map_err(rt)?),
            liveness: Mutex::new(session(env, &liveness, threads).map_err(rt)?),
        })
    }

    /// Faces in `img`, best first.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>> {
        let (w, h) = img.dimensions();
        if w < 16 || h < 16 {
            return Err(InferenceError::Input(format!("image of {w}×{h} is too small for face detection")));
        }
        let small = image::imageops::resize(img, DETECT_W, DETECT_H, image::imageops::FilterType::Triangle);
        let plane = (DETECT_W * DETECT_H) as usize;
        let mut buf = vec![0f32; 3 * plane];
        for (i, p) in small.pixels().enumerate() {
            for c in 0..3 {
                buf[c * plane + i] = (f32::from(p.0[c]) - 127.0) / 128.0;
            }
        }
        let mut session = self.detect.lock().map_err(|_| InferenceError::Runtime("detector lock poisoned".into()))?;
        let input =
            TensorRef::from_array_view(([1usize, 3, DETECT_H as usize, DETECT_W as usize], &buf[..])).map_err(rt)?;
        let out = session.run(ort::inputs!["input" => input]).map_err(rt)?;
        let (_, scores) = out["scores"].try_extract_tensor::<f32>().map_err(rt)?;
        let (_, boxes) = out["boxes"].try_extract_tensor::<f32>().map_err(rt)?;
        let (wf, hf) = (w as f32, h as f32);
        let mut found: Vec<(f32, [f32; 4])> = scores
            .chunks_exact(2)
            .zip(boxes.chunks_exact(4))
            .filter(|(s, _)| s[1] >= DETECT_MIN_SCORE)
            .map(|(s, b)| (s[1], [b[0] * wf, b[1] * hf, b[2] * wf, b[3] * hf]))
            .collect();
        found.sort_by(|a, b| b.0.total_cmp(&a.0));
        let kept = nms(&found, NMS_IOU);
        Ok(kept.into_iter().map(|(score, b)| square(b, score, wf, hf)).collect())
    }

    /// Probability that the face is a presentation attack: 1 − P(live).
    pub fn spoofing(&self, img: &RgbImage, face: &Detection) -> Result<f32> {
        let (w, h) = (img.width() as f32, img.height() as f32);
        let side = (face.width.max(face.height) * LIVE_SCALE).min(w.min(h)).max(1.0);
        let cx = face.x + face.width / 2.0;
        let cy = face.y + face.height / 2.0;
        // Shifted, not shrunk, to stay inside the image.
        let x0 = (cx - side / 2.0).clamp(0.0, w - side);
        let y0 = (cy - side / 2.0).clamp(0.0, h - side);
        let crop = image::imageops::crop_imm(img, x0 as u32, y0 as u32, side as u32, side as u32).to_image();
        let small = image::imageops::resize(&crop, LIVE_SIDE, LIVE_SIDE, image::imageops::FilterType::Triangle);
        let plane = (LIVE_SIDE * LIVE_SIDE) as usize;
        let mut buf = vec![0f32; 3 * plane];
        for (i, p) in small.pixels().enumerate() {
            for c in 0..3 {
                buf[c * plane + i] = f32::from(p.0[c]);
            }
        }
        let mut session = self.liveness.lock().map_err(|_| InferenceError::Runtime("liveness lock poisoned".into()))?;
        let input =
            TensorRef::from_array_view(([1usize, 3, LIVE_SIDE as usize, LIVE_SIDE as usize], &buf[..])).map_err(rt)?;
        let out = session.run(ort::inputs!["input" => input]).map_err(rt)?;
        let (_, logits) = out["output"].try_extract_tensor::<f32>().map_err(rt)?;
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        Ok(1.0 - exp.first().copied().unwrap_or(0.0) / sum)
    }
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
    fn nms_keeps_the_best_of_overlaps() {
        let boxes = vec![(0.9, [0.0, 0.0, 10.0, 10.0]), (0.8, [1.0, 1.0, 11.0, 11.0]), (0.7, [50.0, 50.0, 60.0, 60.0])];
        let kept = nms(&boxes, 0.4);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].0, 0.9);
        assert_eq!(kept[1].0, 0.7);
        assert!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 20.0, 30.0, 30.0]) == 0.0);
    }
}
