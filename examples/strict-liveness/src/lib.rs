//! Strict liveness: every frame of every media must show exactly one, large enough face, and the
//! worst spoofing score decides against a threshold stricter than the built-in 0.5.
//!
//! Configuration (given at upload): `threshold` (default 0.3), `min_face_ratio` (default 0.05).

use vigil_plugin_sdk::analysis::{AnalysisRequest, AnalysisResult, Guest, MediaResult, PluginError, log, vision};

struct StrictLiveness;

fn cfg(key: &str, default: f64) -> f64 {
    vigil_plugin_sdk::config_f64(key).unwrap_or(default)
}

impl Guest for StrictLiveness {
    fn analyze(req: AnalysisRequest) -> Result<AnalysisResult, PluginError> {
        let threshold = cfg("threshold", 0.3) as f32;
        let min_ratio = cfg("min_face_ratio", 0.05) as f32;
        if req.media.is_empty() {
            return Err(PluginError::InvalidInput("no media to analyse".into()));
        }
        let mut worst = 0.0f32;
        let mut media_results = Vec::new();
        for m in &req.media {
            let mut media_worst = 0.0f32;
            for i in 0..m.frame_count()? {
                let frame = m.frame(i)?;
                let faces = vision::detect_faces(&frame)?;
                let [face] = faces.as_slice() else {
                    return Err(PluginError::InvalidInput(format!(
                        "media {} frame {i}: {} faces, need exactly one",
                        m.id(),
                        faces.len()
                    )));
                };
                let q = vision::quality(&frame, face)?;
                if q.face_ratio < min_ratio {
                    return Err(PluginError::InvalidInput(format!("media {}: the face is too small", m.id())));
                }
                media_worst = media_worst.max(vision::spoofing_score(&frame, face)?);
            }
            log::log(log::Level::Debug, &format!("media {} spoofing {media_worst:.3}", m.id()));
            worst = worst.max(media_worst);
            media_results.push(MediaResult {
                media_id: m.id(),
                results_json: format!("{{\"confidence_spoofing\":{media_worst}}}"),
                output_images: vec![],
            });
        }
        Ok(AnalysisResult {
            resolution: if worst >= threshold { "DECLINED" } else { "SUCCESS" }.into(),
            results_json: format!("{{\"threshold\":{threshold},\"max_spoofing\":{worst}}}"),
            media_results,
        })
    }
}

vigil_plugin_sdk::export_analysis!(StrictLiveness);
