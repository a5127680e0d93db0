//! QUALITY (liveness) — the built-in pipeline.
//!
//! For each media (a photo, or the sampled frames of a video or shots set) every frame's largest
//! face gets a spoofing score from the host's liveness model; the media's `confidence_spoofing`
//! is the mean over the frames that show a face. Any media at or above the threshold makes the
//! analysis DECLINED (QUALITY never asks for an operator). With `extract_best_shot` (default on)
//! the sharpest, largest, best-lit face frame of each media is saved as its best shot.
//!
//! Params: `threshold` (or the older `threshold_spoofing`), `extract_best_shot`.
//! Configuration: `threshold` (default 0.5), `legacy_scores` ("true": also report
//! `confidence_replay` and `confidence_liveness`, the pre-5.0 triple).

use serde::Deserialize;
use vigil_plugin_sdk::analysis::{
    AnalysisRequest, AnalysisResult, Guest, Image, Media, MediaResult, PluginError, config, output, vision,
};

struct Quality;

#[derive(Deserialize, Default)]
struct Params {
    threshold: Option<f64>,
    threshold_spoofing: Option<f64>,
    extract_best_shot: Option<bool>,
}

/// What one media gave.
struct Scored {
    spoofing: f32,
    max_spoofing: f32,
    frames_with_face: u32,
    frames: u32,
    best: Option<(f32, u32, Image)>,
}

fn score_media(m: &Media, want_best: bool) -> Result<Scored, PluginError> {
    let frames = m.frame_count()?;
    let (mut sum, mut max, mut n) = (0.0f32, 0.0f32, 0u32);
    let mut best: Option<(f32, u32, Image)> = None;
    for i in 0..frames {
        let frame = m.frame(i)?;
        let faces = vision::detect_faces(&frame)?;
        let Some(face) = faces.into_iter().max_by(|a, b| {
            let area = |f: &vision::Face| f.box_.width as f32 * f.box_.height as f32 * f.score;
            area(a).total_cmp(&area(b))
        }) else {
            continue;
        };
        let s = vision::spoofing_score(&frame, &face)?;
        sum += s;
        max = max.max(s);
        n += 1;
        // A photo's best shot is its only frame: no need to score it.
        if want_best && frames == 1 {
            best = Some((0.0, i, frame));
        } else if want_best {
            let q = vision::quality(&frame, &face)?;
            let sharp = q.blur / (q.blur + 50.0);
            let light = (1.0 - 2.0 * (q.brightness - 0.5).abs()).max(0.1);
            let merit = face.score * q.face_ratio.sqrt() * sharp * light;
            if best.as_ref().is_none_or(|(b, _, _)| merit > *b) {
                best = Some((merit, i, frame));
            }
        }
    }
    if n == 0 {
        return Err(PluginError::InvalidInput(format!("media {}: no face found in {frames} frame(s)", m.id())));
    }
    Ok(Scored { spoofing: sum / n as f32, max_spoofing: max, frames_with_face: n, frames, best })
}

fn round(v: f32) -> f64 {
    (f64::from(v) * 1e6).round() / 1e6
}

impl Guest for Quality {
    fn analyze(req: AnalysisRequest) -> Result<AnalysisResult, PluginError> {
        let p: Params = vigil_plugin_sdk::params(&req.params_json).map_err(PluginError::InvalidInput)?;
        let threshold =
            p.threshold.or(p.threshold_spoofing).or_else(|| vigil_plugin_sdk::config_f64("threshold")).unwrap_or(0.5);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(PluginError::InvalidInput(format!("threshold must be within [0, 1], got {threshold}")));
        }
        let legacy = config::get("legacy_scores").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let want_best = p.extract_best_shot.unwrap_or(true);
        if req.media.is_empty() {
            return Err(PluginError::InvalidInput("no media to analyse".into()));
        }
        let mut worst = 0.0f32;
        let mut media_results = Vec::with_capacity(req.media.len());
        for m in &req.media {
            let s = score_media(m, want_best)?;
            worst = worst.max(s.spoofing);
            let mut output_images = Vec::new();
            if let Some((_, _, img)) = &s.best {
                output_images.push(output::save_image(&m.id(), img, "best_shot")?);
            }
            let mut data = format!(
                "{{\"confidence_spoofing\":{},\"max_frame_spoofing\":{},\"frames\":{},\"frames_with_face\":{}",
                round(s.spoofing),
                round(s.max_spoofing),
                s.frames,
                s.frames_with_face
            );
            if let Some((_, i, _)) = &s.best {
                data.push_str(&format!(",\"best_shot_frame\":{i}"));
            }
            if legacy {
                // One liveness model serves both: replay attacks are scored as spoofing.
                data.push_str(&format!(
                    ",\"confidence_replay\":{},\"confidence_liveness\":{}",
                    round(s.spoofing),
                    round(1.0 - s.spoofing)
                ));
            }
            data.push('}');
            media_results.push(MediaResult { media_id: m.id(), results_json: data, output_images });
        }
        let declined = f64::from(worst) >= threshold;
        Ok(AnalysisResult {
            resolution: if declined { "DECLINED" } else { "SUCCESS" }.into(),
            results_json: format!("{{\"confidence_spoofing\":{},\"threshold\":{threshold}}}", round(worst)),
            media_results,
        })
    }
}

vigil_plugin_sdk::export_analysis!(Quality);
