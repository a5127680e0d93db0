//! COLLECTION (1:N search) — the built-in pipeline.
//!
//! Each media contributes one face: the largest, most confident over its frames. It is embedded
//! with the model of each collection searched (a collection is bound to the model its faces were
//! enrolled with) and searched in each collection through the host (`collections.search`); the
//! scores are on the same calibrated confidence scale as BIOMETRY (0.85 ≈ a false match in
//! 10,000). A person scoring at least the threshold is a match.
//!
//! Which collections: those named in params (`collection_id`, or a `collection_ids` list), else
//! every collection of the company.
//!
//! Verdict. A collection is a deny-list unless its alias is one of `allow_aliases`: a match in a
//! deny-list (the Oz SDKs' `blacklist`) means the person is on the list, DECLINED. An allow-list
//! is the opposite: when allow-lists are searched, a person matched in none of them is DECLINED.
//! Otherwise SUCCESS. A media without a face is reported; when no media has one the analysis
//! fails (nothing was searched).
//!
//! Params: `threshold` (or `threshold_max`), `decision_count` (persons asked per collection and
//! media, default 10, at most 100), `collection_id`, `collection_ids`. The SDKs'
//! `decision_threshold` is echoed but does not move the threshold: its scale is not Vigil's.
//! Configuration: `threshold` (default 0.85), `allow_aliases` (comma-separated, default
//! `whitelist,allowlist`).

use serde::Deserialize;
use serde_json::{Value, json};
use vigil_plugin_sdk::analysis::{
    AnalysisRequest, AnalysisResult, Guest, Media, MediaResult, PluginError, collections, config, vision,
};

struct Collection;

#[derive(Deserialize, Default)]
struct Params {
    threshold: Option<f64>,
    threshold_max: Option<f64>,
    decision_count: Option<u32>,
    collection_id: Option<String>,
    #[serde(default)]
    collection_ids: Vec<String>,
}

struct FaceOf {
    media_id: String,
    frame: u32,
    score: f32,
    face: vision::Face,
}

/// The media's best face (largest × most confident), or `None` when it has none.
fn face_of(m: &Media) -> Result<Option<FaceOf>, PluginError> {
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
    Ok(best.map(|(_, frame, face)| FaceOf { media_id: m.id(), frame, score: face.score, face }))
}

fn round(v: f32) -> f64 {
    (f64::from(v) * 1e6).round() / 1e6
}

fn allow_aliases() -> Vec<String> {
    config::get("allow_aliases")
        .unwrap_or_else(|| "whitelist,allowlist".into())
        .split(',')
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty())
        .collect()
}

struct Match {
    collection: usize,
    person_id: String,
    confidence: f32,
    media_id: String,
}

impl Guest for Collection {
    fn analyze(req: AnalysisRequest) -> Result<AnalysisResult, PluginError> {
        let p: Params = vigil_plugin_sdk::params(&req.params_json).map_err(PluginError::InvalidInput)?;
        let threshold =
            p.threshold_max.or(p.threshold).or_else(|| vigil_plugin_sdk::config_f64("threshold")).unwrap_or(0.85);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(PluginError::InvalidInput(format!("threshold must be within [0, 1], got {threshold}")));
        }
        let k = p.decision_count.unwrap_or(10).clamp(1, 100);
        let all = collections::list_collections()?;
        let mut named: Vec<String> = p.collection_id.into_iter().chain(p.collection_ids).collect();
        named.dedup();
        let searched: Vec<collections::CollectionInfo> = if named.is_empty() {
            all
        } else {
            named
                .iter()
                .map(|id| {
                    all.iter().find(|c| c.collection_id == id.trim()).cloned().ok_or_else(|| {
                        PluginError::InvalidInput(format!("collection {id} does not exist in the company"))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let allow = allow_aliases();
        let is_allow = |c: &collections::CollectionInfo| allow.contains(&c.alias.to_ascii_lowercase());

        let mut faces = Vec::new();
        let mut media_results = Vec::new();
        for m in &req.media {
            match face_of(m)? {
                Some(f) => faces.push(f),
                None => media_results.push(MediaResult {
                    media_id: m.id(),
                    results_json: json!({ "face_found": false, "matches": [] }).to_string(),
                    output_images: vec![],
                }),
            }
        }
        if faces.is_empty() && !req.media.is_empty() {
            return Err(PluginError::InvalidInput(format!(
                "COLLECTION found no face in the {} media given",
                req.media.len()
            )));
        }

        let mut matches: Vec<Match> = Vec::new();
        let mut best: Option<f32> = None;
        let mut models = Vec::new();
        for f in &faces {
            let frame = req.media.iter().find(|m| m.id() == f.media_id).map(|m| m.frame(f.frame)).transpose()?;
            let Some(frame) = frame else { continue };
            // One embedding per model the searched collections use.
            let mut embeddings: Vec<vision::Embedding> = Vec::new();
            let mut media_best: Vec<Value> = Vec::new();
            for (ci, c) in searched.iter().enumerate() {
                if c.faces == 0 {
                    continue;
                }
                let emb = match embeddings.iter().find(|e| e.model == c.embedding_model) {
                    Some(e) => e.clone(),
                    None => {
                        let e = vision::embed(&frame, &f.face, Some(&c.embedding_model))?;
                        embeddings.push(e.clone());
                        e
                    }
                };
                if !models.contains(&emb.model) {
                    models.push(emb.model.clone());
                }
                for h in collections::search(&c.collection_id, &emb, k)? {
                    best = Some(best.map_or(h.score, |b| b.max(h.score)));
                    if media_best.len() < 5 {
                        media_best.push(json!({
                            "collection_id": c.collection_id, "person_id": h.person_id, "confidence": round(h.score)
                        }));
                    }
                    if f64::from(h.score) >= threshold {
                        matches.push(Match {
                            collection: ci,
                            person_id: h.person_id,
                            confidence: h.score,
                            media_id: f.media_id.clone(),
                        });
                    }
                }
            }
            media_best.sort_by(|a, b| {
                b["confidence"].as_f64().unwrap_or(0.0).total_cmp(&a["confidence"].as_f64().unwrap_or(0.0))
            });
            media_results.push(MediaResult {
                media_id: f.media_id.clone(),
                results_json: json!({
                    "face_found": true, "frame": f.frame, "face_score": round(f.score), "best": media_best,
                })
                .to_string(),
                output_images: vec![],
            });
        }
        matches.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));

        let denied = matches.iter().any(|m| !is_allow(&searched[m.collection]));
        let allow_searched = searched.iter().any(is_allow);
        let allowed = matches.iter().any(|m| is_allow(&searched[m.collection]));
        let resolution = if denied || (allow_searched && !allowed) { "DECLINED" } else { "SUCCESS" };
        let collections_json: Vec<Value> = searched
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({
                    "collection_id": c.collection_id,
                    "alias": c.alias,
                    "list": if is_allow(c) { "allow" } else { "deny" },
                    "persons": c.persons,
                    "faces": c.faces,
                    "matched": matches.iter().any(|m| m.collection == i),
                })
            })
            .collect();
        let matches_json: Vec<Value> = matches
            .iter()
            .map(|m| {
                json!({
                    "collection_id": searched[m.collection].collection_id,
                    "alias": searched[m.collection].alias,
                    "person_id": m.person_id,
                    "confidence": round(m.confidence),
                    "media_id": m.media_id,
                })
            })
            .collect();
        let results = json!({
            "matched": !matches.is_empty(),
            "max_confidence": best.map(round),
            "threshold": threshold,
            "decision_count": k,
            "collections": collections_json,
            "matches": matches_json,
            "embedding_models": models,
        });
        Ok(AnalysisResult { resolution: resolution.into(), results_json: results.to_string(), media_results })
    }
}

vigil_plugin_sdk::export_analysis!(Collection);
