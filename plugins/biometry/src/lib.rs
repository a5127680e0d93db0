//! BIOMETRY (face matching) — the built-in pipeline.
//!
//! Each media contributes one face: the largest, most confident face over its frames, embedded
//! with the company's embedding model. Every pair of media is compared (cosine similarity, floored
//! at 0); `min_confidence` is the least similar pair, `max_confidence` the most similar. The verdict
//! reads the worst pair: at or above `threshold_max` SUCCESS, below `threshold_min` DECLINED, in
//! between (the grey zone, empty by default) OPERATOR_REQUIRED.
//!
//! Params: `threshold` or `threshold_max`, `threshold_min`.
//! Configuration: `threshold` (default 0.85), `grey_zone_min` (lower edge of the grey zone; unset
//! means none).

use serde::Deserialize;
use vigil_plugin_sdk::analysis::{AnalysisRequest, AnalysisResult, Guest, Media, MediaResult, PluginError, vision};

struct Biometry;

#[derive(Deserialize, Default)]
struct Params {
    threshold: Option<f64>,
    threshold_max: Option<f64>,
    threshold_min: Option<f64>,
}

struct FaceOf {
    media_id: String,
    frame: u32,
    score: f32,
    embedding: vision::Embedding,
}

fn face_of(m: &Media) -> Result<FaceOf, PluginError> {
    let frames = m.frame_count()?;
    let mut best: Option<(f32, u32, vision::Face)> = None;
    for i in 0..frames {
        let frame = m.frame(i)?;
        for f in vision::detect_faces(&frame)? {
            let merit = f.box_.width as f32 * f.box_.height as f32 * f.score;
            if best.as_ref().is_none_or(|(b, _, _)| merit > *b) {
                best = Some((merit, i, f));
            }
        }
    }
    let Some((_, frame, face)) = best else {
        return Err(PluginError::InvalidInput(format!("media {}: no face found in {frames} frame(s)", m.id())));
    };
    // Frames are host-owned: asking again for the best one is a handle, not a copy.
    let embedding = vision::embed(&m.frame(frame)?, &face, None)?;
    Ok(FaceOf { media_id: m.id(), frame, score: face.score, embedding })
}

fn similarity(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { (dot / (na * nb)).clamp(0.0, 1.0) }
}

fn round(v: f32) -> f64 {
    (f64::from(v) * 1e6).round() / 1e6
}

fn check(name: &str, v: f64) -> Result<f64, PluginError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(PluginError::InvalidInput(format!("{name} must be within [0, 1], got {v}")))
    }
}

impl Guest for Biometry {
    fn analyze(req: AnalysisRequest) -> Result<AnalysisResult, PluginError> {
        let p: Params = vigil_plugin_sdk::params(&req.params_json).map_err(PluginError::InvalidInput)?;
        let t_max = check(
            "threshold",
            p.threshold_max.or(p.threshold).or_else(|| vigil_plugin_sdk::config_f64("threshold")).unwrap_or(0.85),
        )?;
        let t_min = check(
            "threshold_min",
            p.threshold_min.or_else(|| vigil_plugin_sdk::config_f64("grey_zone_min")).unwrap_or(t_max),
        )?
        .min(t_max);
        if req.media.len() < 2 {
            return Err(PluginError::InvalidInput(format!(
                "BIOMETRY needs at least two media with faces, got {}",
                req.media.len()
            )));
        }
        let faces = req.media.iter().map(face_of).collect::<Result<Vec<_>, _>>()?;
        let (mut min, mut max) = (f32::MAX, f32::MIN);
        let mut worst = (0, 1);
        for i in 0..faces.len() {
            for j in i + 1..faces.len() {
                let s = similarity(&faces[i].embedding.values, &faces[j].embedding.values);
                if s < min {
                    min = s;
                    worst = (i, j);
                }
                max = max.max(s);
            }
        }
        let min_f = f64::from(min);
        let resolution = if min_f >= t_max {
            "SUCCESS"
        } else if min_f < t_min {
            "DECLINED"
        } else {
            "OPERATOR_REQUIRED"
        };
        let media_results = faces
            .iter()
            .map(|f| MediaResult {
                media_id: f.media_id.clone(),
                results_json: format!(
                    "{{\"frame\":{},\"face_score\":{},\"embedding_model\":\"{}\"}}",
                    f.frame,
                    round(f.score),
                    f.embedding.model
                ),
                output_images: vec![],
            })
            .collect();
        Ok(AnalysisResult {
            resolution: resolution.into(),
            results_json: format!(
                "{{\"min_confidence\":{},\"max_confidence\":{},\"threshold\":{t_max},\"threshold_min\":{t_min},\"worst_pair\":[\"{}\",\"{}\"]}}",
                round(min),
                round(max),
                faces[worst.0].media_id,
                faces[worst.1].media_id
            ),
            media_results,
        })
    }
}

vigil_plugin_sdk::export_analysis!(Biometry);
