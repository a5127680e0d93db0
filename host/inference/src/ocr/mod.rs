//! Document reading with PaddleOCR's PP-OCRv4 models: text detection (DB) with its
//! post-processing, recognition with CTC decoding, a reader for ICAO machine-readable zones that
//! decodes each line against its layout's template, and the printed fields found by their labels.
//!
//! Pre-processing follows the models' training: BGR scaled to [-1, 1], detector sides in
//! multiples of 32, recogniser input 48 pixels high. The recogniser's dictionary is read from the
//! model's metadata (`character`); class 0 is the CTC blank, class i the dictionary's entry i − 1
//! and the last class a space.

pub mod ctc;
mod document;
mod fields;
pub mod geometry;

pub use document::{DocumentReading, MrzReading, ReadOptions, TextLine, VisualField};
pub use geometry::Quad;

use crate::manifest::{Manifest, Role};
use crate::{Assets, InferenceError, Loaded, Result, count_run, rt, session};
use image::RgbImage;
use ort::value::TensorRef;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

type LoadedKey = (PathBuf, String);
static LOADED: Mutex<Option<HashMap<LoadedKey, Arc<Ocr>>>> = Mutex::new(None);

/// DB post-processing settings of PP-OCR: pixel threshold, box score threshold, unclip ratio.
const DB_THRESH: f32 = 0.3;
const DB_BOX_THRESH: f32 = 0.5;
const DB_UNCLIP: f32 = 1.6;
/// The widest strip the recogniser is given.
const MAX_REC_WIDTH: u32 = 3200;
/// Strips per recogniser run when reading a page.
const REC_BATCH: usize = 8;

/// The text detector and recogniser, loaded.
pub struct Ocr {
    det: Loaded,
    rec: Loaded,
    /// Class index → character (index 0, the blank, holds '\0').
    dict: Vec<char>,
    /// Class index of each MRZ character, in `vigil_mrz::ALPHABET` order.
    mrz_classes: Vec<usize>,
    /// Class index of characters the recogniser writes for an MRZ character (× for X, 《 for <).
    lookalikes: Vec<(usize, usize)>,
}

impl Ocr {
    /// The text models of `manifest`, loaded once per process; `None` when it lists none.
    pub fn load(assets: &Assets, manifest: &Manifest, intra_threads: usize) -> Result<Option<Arc<Ocr>>> {
        let (Some(det), Some(rec)) = (manifest.optional(Role::TextDetector), manifest.optional(Role::TextRecognizer))
        else {
            return Ok(None);
        };
        let mut loaded = LOADED.lock().map_err(|_| InferenceError::Runtime("OCR cache poisoned".into()))?;
        let map = loaded.get_or_insert_with(HashMap::new);
        let key = (assets.dir.clone(), format!("{},{}", det.sha256, rec.sha256));
        if let Some(o) = map.get(&key) {
            return Ok(Some(o.clone()));
        }
        let env = crate::environment(assets, manifest)?;
        let load = |spec: &crate::manifest::ModelSpec| -> Result<Loaded> {
            let path = assets.file(&spec.file)?;
            crate::manifest::verify(&path, &spec.sha256)?;
            let s = session(env, &path, intra_threads.max(1)).map_err(|e| rt(format!("{}: {e}", spec.name)))?;
            Ok(Loaded { spec: spec.clone(), session: Mutex::new(s) })
        };
        let (det, rec) = (load(det)?, load(rec)?);
        let keys = {
            let s = rec.lock()?;
            let meta = s.metadata().map_err(rt)?;
            meta.custom("character").ok_or_else(|| {
                InferenceError::Manifest(format!("{} has no `character` dictionary in its metadata", rec.spec.name))
            })?
        };
        let ocr = Arc::new(Ocr::new(det, rec, &keys)?);
        map.insert(key, ocr.clone());
        Ok(Some(ocr))
    }

    fn new(det: Loaded, rec: Loaded, keys: &str) -> Result<Ocr> {
        let mut dict = vec!['\0'];
        dict.extend(keys.split('\n').map(|l| l.trim_end_matches('\r').chars().next().unwrap_or(' ')));
        dict.push(' ');
        let class_of = |c: char| dict.iter().position(|&d| d == c);
        let mrz_classes = vigil_mrz::ALPHABET
            .iter()
            .map(|&c| class_of(c as char))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| InferenceError::Manifest("the recogniser's dictionary lacks MRZ characters".into()))?;
        let mut lookalikes = Vec::new();
        for (look, real) in [('×', 'X'), ('《', '<'), ('〈', '<'), ('‹', '<'), ('く', '<')] {
            if let (Some(l), Some(i)) = (class_of(look), vigil_mrz::alphabet_index(real)) {
                lookalikes.push((l, i));
            }
        }
        Ok(Ocr { det, rec, dict, mrz_classes, lookalikes })
    }

    /// Text boxes in `img` (pixels), with the detector's mean probability. The page is scaled so
    /// its longer side is at most `max_side` (sides rounded to multiples of 32).
    pub fn detect(&self, img: &RgbImage, max_side: u32) -> Result<Vec<(Quad, f32)>> {
        let (w, h) = img.dimensions();
        if w < 16 || h < 16 {
            return Err(InferenceError::Input(format!("image of {w}×{h} is too small to read")));
        }
        let scale = (max_side as f32 / w.max(h) as f32).min(1.0);
        let round = |v: u32| ((v as f32 * scale / 32.0).round() as u32).max(1) * 32;
        let (dw, dh) = (round(w), round(h));
        // Shrinking (the usual case) averages areas, a fraction of a triangle filter's cost.
        let small = if dw <= w && dh <= h {
            image::imageops::thumbnail(img, dw, dh)
        } else {
            image::imageops::resize(img, dw, dh, image::imageops::FilterType::Triangle)
        };
        let buf = self.det.tensor(&small);
        let prob = {
            let mut session = self.det.lock()?;
            let input = TensorRef::from_array_view(([1usize, 3, dh as usize, dw as usize], &buf[..])).map_err(rt)?;
            let started = std::time::Instant::now();
            let out = session.run(ort::inputs![self.det.spec.input.as_str() => input]).map_err(rt)?;
            count_run(started, &self.det.spec.name);
            let (shape, v) = out[0].try_extract_tensor::<f32>().map_err(rt)?;
            if v.len() != (dw * dh) as usize {
                return Err(rt(format!("text detector answered shape {shape:?} for {dw}×{dh}")));
            }
            v.to_vec()
        };
        let (sx, sy) = (w as f32 / dw as f32, h as f32 / dh as f32);
        Ok(geometry::db_boxes(&prob, dw as usize, dh as usize, DB_THRESH, DB_BOX_THRESH, DB_UNCLIP)
            .into_iter()
            .map(|(q, s)| {
                let pts: Vec<(f32, f32)> = q.corners().iter().map(|&(x, y)| (x * sx, y * sy)).collect();
                (Quad::enclosing(&pts, q.ux, q.uy), s)
            })
            .map(|(q, s)| (geometry::upright(q), s))
            .collect())
    }

    /// Cuts the quad out as a strip of the recogniser's height, `margin` line heights wider on
    /// each side.
    fn strip(&self, img: &RgbImage, q: &Quad, margin: f32) -> RgbImage {
        geometry::warp(img, q, self.rec.spec.size[1], margin, MAX_REC_WIDTH)
    }

    /// Runs the recogniser on strips of one height, each padded on the right with mid-grey to the
    /// widest of them (at least the model's minimum width), as it was trained. Answers the
    /// per-frame class probabilities of every strip, the frames per strip and the classes.
    fn recognise(&self, strips: &[&RgbImage]) -> Result<(Vec<f32>, usize, usize)> {
        let h = self.rec.spec.size[1];
        let width = strips.iter().map(|s| s.width()).max().unwrap_or(0).max(self.rec.spec.size[0]);
        let plane = (width * h) as usize;
        let mut buf = Vec::with_capacity(strips.len() * 3 * plane);
        for s in strips {
            let mut padded = RgbImage::from_pixel(width, h, image::Rgb([127, 127, 127]));
            image::imageops::replace(&mut padded, *s, 0, 0);
            buf.extend(self.rec.tensor(&padded));
        }
        let mut session = self.rec.lock()?;
        let shape = [strips.len(), 3, h as usize, width as usize];
        let input = TensorRef::from_array_view((shape, &buf[..])).map_err(rt)?;
        let started = std::time::Instant::now();
        let res = session.run(ort::inputs![self.rec.spec.input.as_str() => input]).map_err(rt)?;
        count_run(started, &self.rec.spec.name);
        let (shape, v) = res[0].try_extract_tensor::<f32>().map_err(rt)?;
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        if dims.len() != 3 || dims[0] != strips.len() || dims[2] != self.dict.len() {
            return Err(rt(format!(
                "recogniser answered shape {dims:?} for {} strips and a dictionary of {}",
                strips.len(),
                self.dict.len()
            )));
        }
        Ok((v.to_vec(), dims[1], dims[2]))
    }

    /// Reads many boxes with greedy decoding, [`REC_BATCH`] strips of similar width per run,
    /// which keeps both threads busy and pays the per-run overhead once per batch: (text, mean
    /// character probability) per box, in the boxes' order.
    pub fn read_all(&self, img: &RgbImage, quads: &[Quad]) -> Result<Vec<(String, f32)>> {
        let strips: Vec<RgbImage> = quads.iter().map(|q| self.strip(img, q, 0.0)).collect();
        let mut order: Vec<usize> = (0..strips.len()).collect();
        order.sort_by_key(|&i| strips[i].width());
        let mut out = vec![(String::new(), 0.0f32); strips.len()];
        for chunk in order.chunks(REC_BATCH) {
            let batch: Vec<&RgbImage> = chunk.iter().map(|&i| &strips[i]).collect();
            let (probs, t, classes) = self.recognise(&batch)?;
            for (frames, &i) in probs.chunks_exact(t * classes).zip(chunk) {
                out[i] = ctc::greedy(frames, classes, &self.dict);
            }
        }
        Ok(out)
    }

    /// Per frame of a strip cut from `q`: log-probabilities of the blank and the 37 MRZ
    /// characters (look-alikes folded in).
    fn mrz_log_probs(&self, img: &RgbImage, q: &Quad) -> Result<Vec<Vec<f32>>> {
        let strip = self.strip(img, q, 0.5);
        let (probs, _, classes) = self.recognise(&[&strip])?;
        Ok(probs
            .chunks_exact(classes)
            .map(|f| {
                let mut v: Vec<f32> = std::iter::once(f[0]).chain(self.mrz_classes.iter().map(|&c| f[c])).collect();
                for &(look, i) in &self.lookalikes {
                    v[1 + i] += f[look];
                }
                v.into_iter().map(|p| p.max(1e-12).ln()).collect()
            })
            .collect())
    }
}
