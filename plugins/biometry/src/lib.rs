//! BIOMETRY (face matching) — the built-in pipeline.
//!
//! Each media contributes one face: the largest, most confident face over its frames, embedded
//! with the company's embedding model. Every pair of media is compared by the host on the model's
//! calibrated scale (`vision.compare`: the same confidence for every model at a given false-match
//! rate, 0.85 ≈ FMR 1e-4); `min_confidence` is the least similar pair, `max_confidence` the most
//! similar, and the raw cosines are reported beside them. The verdict reads the worst pair: at or
//! above `threshold_max` SUCCESS, below `threshold_min` DECLINED, in between (the grey zone, empty
//! by default) OPERATOR_REQUIRED.
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
        // The calibration is monotonic, so ordering pairs by cosine orders them by confidence too,
        // and ties in confidence (below the calibration's zero) still pick the least similar.
        let mut worst: Option<(vision::MatchScore, usize, usize)> = None;
        let mut best: Option<vision::MatchScore> = None;
        for i in 0..faces.len() {
            for j in i + 1..faces.len() {
                let m = vision::compare(&faces[i].embedding, &faces[j].embedding)?;
                if best.as_ref().is_none_or(|b| m.cosine > b.cosine) {
                    best = Some(m.clone());
                }
                if worst.as_ref().is_none_or(|(w, _, _)| m.cosine < w.cosine) {
                    worst = Some((m, i, j));
                }
            }
        }
        let (Some((min, wi, wj)), Some(max)) = (worst, best) else {
            return Err(PluginError::InvalidInput("BIOMETRY needs at least two media with faces".into()));
        };
        let min_f = f64::from(min.confidence);
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
                "{{\"min_confidence\":{},\"max_confidence\":{},\"min_cosine\":{},\"max_cosine\":{},\
                 \"threshold\":{t_max},\"threshold_min\":{t_min},\"worst_pair\":[\"{}\",\"{}\"],\
                 \"embedding_model\":\"{}\",\"calibration\":\"{}\"}}",
                round(min.confidence),
                round(max.confidence),
                round(min.cosine),
                round(max.cosine),
                faces[wi].media_id,
                faces[wj].media_id,
                min.model,
                min.calibration
            ),
            media_results,
        })
    }
}

vigil_plugin_sdk::export_analysis!(Biometry);
