//! QUALITY (liveness) — the built-in pipeline.
//!
//! For each media (a photo, or the sampled frames of a video or shots set) the largest face of
//! every frame gets the host's passive spoofing score, its 68 landmarks and head pose, its
//! texture periodicity, and whether its surroundings moved with it since the first face frame.
//! `vigil-liveness` turns the frames into cues — flatness, pose/shape consistency, blink,
//! texture, surroundings — and checks the gesture the media's `video_selfie_*` tag asks for;
//! [`vigil_liveness::assess`] combines them into the media's `confidence_spoofing` (the passive
//! mean moved by the votes, or at least 0.99 when a cue vetoes). A
//! media is DECLINED when its score reaches the threshold, a cue vetoed, or its gesture was not
//! shown; one declined media declines the analysis (QUALITY never asks for an operator). With
//! `extract_best_shot` (default on) the sharpest, largest, best-lit face frame of each media is
//! saved as its best shot.
//!
//! Params: `threshold` (or the older `threshold_spoofing`), `extract_best_shot`.
//! Configuration: `threshold` (default 0.5), `mirrored` ("true": the videos come from a camera
//! that mirrors, so the subject's left is the image's left), `motion_cues` ("false": the passive
//! model alone, as before the cues existed — no gesture check either), `legacy_scores` ("true":
//! also report `confidence_replay` and `confidence_liveness`, the pre-5.0 triple),
//! `orientation_check` (the `orientation_portrait` / `orientation_landscape` tag against the
//! frames, reported as `results_data.orientation`: "note", the default, only reports — the 2019
//! iOS SDK tags every video portrait whatever the device did; "decline" declines a media whose
//! frames contradict the tag; "off").

use serde::Deserialize;
use serde_json::json;
use vigil_liveness::{Assessment, Frame, Gesture, Ring, Rules, assess};
use vigil_plugin_sdk::analysis::{
    AnalysisRequest, AnalysisResult, Guest, Image, Media, MediaResult, PluginError, Point, config, output, vision,
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
    passive: f32,
    max_spoofing: f32,
    frames: Vec<Frame>,
    frame_count: u32,
    best: Option<(f32, u32, Image)>,
    /// The first frame's width and height.
    dims: Option<(u32, u32)>,
}

fn score_media(m: &Media, want_best: bool, cues: bool) -> Result<Scored, PluginError> {
    let count = m.frame_count()?;
    let (mut sum, mut max) = (0.0f32, 0.0f32);
    let mut frames = Vec::new();
    let mut best: Option<(f32, u32, Image)> = None;
    let mut dims = None;
    // The first frame with a face and its landmarks: the surroundings of later faces are
    // compared with it.
    let mut reference: Option<(Image, Vec<Point>)> = None;
    for i in 0..count {
        let frame = m.frame(i)?;
        if dims.is_none() {
            dims = Some((frame.width(), frame.height()));
        }
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
        // The texture is a median over frames: every other frame of a long video is plenty, and
        // halves its cost.
        let textured = count <= 12 || i % 2 == 0;
        let mut f = Frame {
            index: i,
            landmarks: Vec::new(),
            yaw: 0.0,
            pitch: 0.0,
            anisotropy: 1.0,
            periodicity: f32::NAN,
            face_size: face.box_.width.max(face.box_.height) as f32,
            eye_openness: 0.0,
            surroundings: None,
        };
        // Landmarks feed the motion cues and gestures, which a single frame cannot show.
        if cues && count > 1 {
            let shape = vision::landmarks(&frame, &face)?;
            f.landmarks = shape.landmarks.iter().map(|p| (p.x, p.y)).collect();
            (f.yaw, f.pitch, f.anisotropy) = (shape.pose.yaw, shape.pose.pitch, shape.anisotropy);
            f.eye_openness = shape.eye_openness;
            // Like the texture, pooled over frames: every other frame of a long video will do.
            match &reference {
                Some((first, points)) if textured => {
                    let r = vision::surroundings(first, points, &frame, &shape.landmarks)?;
                    f.surroundings = Some(Ring { blocks: r.blocks, follow: r.follow, still: r.still });
                }
                Some(_) => {}
                None => reference = Some((m.frame(i)?, shape.landmarks)),
            }
        }
        if cues && textured {
            f.periodicity = vision::texture(&frame, &face)?.periodicity;
        }
        frames.push(f);
        // A photo's best shot is its only frame: no need to score it.
        if want_best && count == 1 {
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
    if frames.is_empty() {
        return Err(PluginError::InvalidInput(format!("media {}: no face found in {count} frame(s)", m.id())));
    }
    Ok(Scored { passive: sum / frames.len() as f32, max_spoofing: max, frames, frame_count: count, best, dims })
}

/// How the orientation check treats a media whose frames contradict its `orientation_*` tag.
#[derive(Clone, Copy, PartialEq)]
enum OrientationCheck {
    Off,
    Note,
    Decline,
}

/// The orientation tag against the frames: `None` without a tag or frames, else the finding.
/// Frames within 10 % of square agree with either tag.
fn orientation(tags: &[String], dims: Option<(u32, u32)>) -> Option<serde_json::Value> {
    let tag = tags.iter().find(|t| *t == "orientation_portrait" || *t == "orientation_landscape")?;
    let (w, h) = dims?;
    let (w, h) = (w as f32, h as f32);
    let agrees = if tag == "orientation_portrait" { w <= h * 1.1 } else { h <= w * 1.1 };
    Some(json!({"tag": tag, "width": w as u32, "height": h as u32, "matches": agrees}))
}

fn round(v: f32) -> f64 {
    (f64::from(v) * 1e6).round() / 1e6
}

fn flag(key: &str) -> bool {
    config::get(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

impl Guest for Quality {
    fn analyze(req: AnalysisRequest) -> Result<AnalysisResult, PluginError> {
        let p: Params = vigil_plugin_sdk::params(&req.params_json).map_err(PluginError::InvalidInput)?;
        let threshold =
            p.threshold.or(p.threshold_spoofing).or_else(|| vigil_plugin_sdk::config_f64("threshold")).unwrap_or(0.5);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(PluginError::InvalidInput(format!("threshold must be within [0, 1], got {threshold}")));
        }
        let legacy = flag("legacy_scores");
        let mirrored = flag("mirrored");
        let cues = !config::get("motion_cues").is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        let orientation_check = match config::get("orientation_check").as_deref().map(str::trim) {
            None | Some("note") => OrientationCheck::Note,
            Some("decline") => OrientationCheck::Decline,
            Some("off") => OrientationCheck::Off,
            Some(other) => {
                return Err(PluginError::InvalidInput(format!(
                    "orientation_check must be note, decline or off, got '{other}'"
                )));
            }
        };
        let rules = Rules::default();
        let want_best = p.extract_best_shot.unwrap_or(true);
        if req.media.is_empty() {
            return Err(PluginError::InvalidInput("no media to analyse".into()));
        }
        let (mut worst, mut declined) = (0.0f64, Vec::new());
        let mut media_results = Vec::with_capacity(req.media.len());
        for m in &req.media {
            let s = score_media(m, want_best, cues)?;
            let (score, liveness) = if cues {
                let tagged = Gesture::from_tags(&m.tags());
                // One frame shows no gesture: it is noted, not held against the media (Oz's own
                // server accepts a photo wrapped with any video_selfie tag).
                let gesture = tagged.filter(|_| s.frame_count > 1);
                let mut a: Assessment = assess(f64::from(s.passive), &s.frames, gesture, &rules, mirrored);
                if let (Some(g), None) = (tagged, gesture) {
                    a.reasons.push(format!("gesture {g:?} not checked: a single frame cannot show it").to_lowercase());
                }
                if let Some(by) = &a.declined_by {
                    declined.push(json!({"media_id": m.id(), "by": by}));
                }
                (a.confidence_spoofing, json!(a))
            } else {
                let p = round(s.passive);
                (
                    p,
                    json!({"passive": p, "reasons": ["motion cues are off (configuration motion_cues=false): passive model only"]}),
                )
            };
            worst = worst.max(score);
            let mut output_images = Vec::new();
            if let Some((_, _, img)) = &s.best {
                output_images.push(output::save_image(&m.id(), img, "best_shot")?);
            }
            let mut data = json!({
                "confidence_spoofing": score,
                "max_frame_spoofing": round(s.max_spoofing),
                "frames": s.frame_count,
                "frames_with_face": s.frames.len(),
                "liveness": liveness,
            });
            if let Some((_, i, _)) = &s.best {
                data["best_shot_frame"] = json!(i);
            }
            if orientation_check != OrientationCheck::Off
                && let Some(o) = orientation(&m.tags(), s.dims)
            {
                if o["matches"] == json!(false) && orientation_check == OrientationCheck::Decline {
                    declined.push(json!({"media_id": m.id(), "by": "orientation"}));
                }
                data["orientation"] = o;
            }
            if legacy {
                // One liveness model serves both: replay attacks are scored as spoofing.
                data["confidence_replay"] = json!(score);
                data["confidence_liveness"] = json!(((1.0 - score) * 1e6).round() / 1e6);
            }
            media_results.push(MediaResult { media_id: m.id(), results_json: data.to_string(), output_images });
        }
        let rejected = worst >= threshold || !declined.is_empty();
        let mut results = json!({"confidence_spoofing": worst, "threshold": threshold});
        if !declined.is_empty() {
            results["declined"] = json!(declined);
        }
        Ok(AnalysisResult {
            resolution: if rejected { "DECLINED" } else { "SUCCESS" }.into(),
            results_json: results.to_string(),
            media_results,
        })
    }
}

vigil_plugin_sdk::export_analysis!(Quality);
