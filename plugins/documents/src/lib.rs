//! DOCUMENTS — the built-in document pipeline.
//!
//! Each media tagged `photo_id_front` or `photo_id_back` is read by the host
//! (`documents.read`: the MRZ decoded against its layout, the printed fields found by their
//! labels, the portrait's box). The sides are merged: the MRZ from the side that has one (a
//! passport's data page, an ID card's back), the printed fields from whichever side shows them.
//! The company's document checks then run on the merged fields (`documents.run-checks`: the
//! built-in `document-check` and the company's own), and the verdict follows:
//!
//! - DECLINED when a check reports an error (bad check digit, expired, MRZ and print disagree,
//!   unknown country code, impossible date) or the MRZ cannot be read while it is required;
//! - OPERATOR_REQUIRED when the reading is unsure (an MRZ character below `min_confidence`,
//!   printed fields read poorly or not at all) or a check warns;
//! - SUCCESS otherwise.
//!
//! The portrait is saved as an output image of its media, so the document face can be seen and
//! compared (BIOMETRY compares the `photo_id_front` photo with the selfie).
//!
//! Params: `double_page_spread` (default true), `fields_to_check` (names; default all),
//! `mrz_required` (default true), `min_confidence` (default from config, 0.5); `capabilities`
//! (the SDKs' bitmask) is echoed. Configuration: `min_confidence`, `min_visual_confidence`
//! (default 0.6).

use serde::Deserialize;
use serde_json::{Value, json};
use vigil_plugin_sdk::analysis::{
    AnalysisRequest, AnalysisResult, CheckRequest, Field, Guest, MediaResult, PluginError, Rect, Severity, config,
    documents,
};

struct Documents;

#[derive(Deserialize, Default)]
struct Params {
    double_page_spread: Option<bool>,
    fields_to_check: Option<Value>,
    mrz_required: Option<bool>,
    min_confidence: Option<f32>,
    capabilities: Option<Value>,
}

fn cfg(key: &str, default: f32) -> f32 {
    config::get(key).and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// `fields_to_check` as a list of names; Oz clients also send one comma-separated string.
fn field_list(v: &Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(|s| s.trim().to_lowercase())).collect(),
        Some(Value::String(s)) => s.split(',').map(|x| x.trim().to_lowercase()).filter(|x| !x.is_empty()).collect(),
        _ => Vec::new(),
    }
}

fn today() -> String {
    vigil_mrz::Date::today().to_string()
}

impl Guest for Documents {
    fn analyze(req: AnalysisRequest) -> Result<AnalysisResult, PluginError> {
        let p: Params = vigil_plugin_sdk::params(&req.params_json).map_err(PluginError::InvalidInput)?;
        if req.media.is_empty() {
            return Err(PluginError::InvalidInput(
                "DOCUMENTS needs a photo tagged photo_id_front or photo_id_back".into(),
            ));
        }
        let wanted = field_list(&p.fields_to_check);
        let opts = documents::ReadOptions { double_page_spread: p.double_page_spread.unwrap_or(true) };
        let min_conf = p.min_confidence.unwrap_or_else(|| cfg("min_confidence", 0.5));
        let min_visual = cfg("min_visual_confidence", 0.6);
        // Read every side; front sides first so their print wins.
        let mut sides = Vec::new();
        for m in &req.media {
            let front = m.tags().iter().any(|t| t == "photo_id_front");
            let img = m.frame(0)?;
            let reading = documents::read(&img, opts)?;
            sides.push((front, m, img, reading));
        }
        sides.sort_by_key(|s| !s.0);
        let mrz =
            sides.iter().filter_map(|s| s.3.mrz.as_ref()).max_by_key(|m| (m.valid, (m.confidence * 1000.0) as i32));
        // Merge the fields: MRZ values from the MRZ side, printed ones from the first side showing them.
        let mut fields: Vec<Field> = Vec::new();
        for (_, _, _, r) in &sides {
            let from_mrz_side = r.mrz.as_ref().map(|m| &m.lines) == mrz.map(|m| &m.lines);
            for f in &r.fields {
                let slot = match fields.iter_mut().position(|x| x.name == f.name) {
                    Some(i) => &mut fields[i],
                    None => {
                        fields.push(Field { name: f.name.clone(), visual: None, mrz: None });
                        fields.last_mut().ok_or_else(|| PluginError::Internal("field list".into()))?
                    }
                };
                if slot.visual.is_none() {
                    slot.visual = f.visual.clone();
                }
                if from_mrz_side && f.mrz.is_some() {
                    slot.mrz = f.mrz.clone();
                }
            }
        }
        let shown: Vec<&Field> = fields.iter().filter(|f| wanted.is_empty() || wanted.contains(&f.name)).collect();
        // The checks see every field (and the MRZ lines) and the fields asked for.
        let mut check_fields = fields.clone();
        if let Some(m) = mrz {
            for (i, l) in m.lines.iter().enumerate() {
                check_fields.push(Field { name: format!("mrz_line_{}", i + 1), visual: None, mrz: Some(l.clone()) });
            }
        }
        let document_type = mrz.map_or_else(|| "unknown".to_string(), |m| m.format.clone());
        let outcomes = documents::run_checks(&CheckRequest {
            document_type: document_type.clone(),
            fields: check_fields,
            params_json: json!({ "today": today(), "fields_to_check": wanted }).to_string(),
        })?;
        let mut findings = Vec::new();
        let (mut errors, mut warnings) = (0, 0);
        for o in &outcomes {
            for f in &o.findings {
                let severity = match f.severity {
                    Severity::Error => {
                        errors += 1;
                        "error"
                    }
                    Severity::Warning => {
                        warnings += 1;
                        "warning"
                    }
                    Severity::Info => "info",
                };
                findings.push(json!({"code": f.code, "severity": severity, "message": f.message,
                    "field": f.field, "plugin": o.plugin}));
            }
        }
        // The reading's own findings.
        let mrz_required = p.mrz_required.unwrap_or(true);
        let mut reasons: Vec<String> = Vec::new();
        let any_text = sides.iter().any(|s| s.3.text_lines > 0);
        match mrz {
            None if mrz_required => {
                errors += 1;
                let why = if any_text {
                    "no machine-readable zone was found or decoded"
                } else {
                    "no document was found in the photo"
                };
                findings.push(json!({"code": "mrz_unreadable", "severity": "error", "message": why, "field": null, "plugin": "documents"}));
            }
            Some(m) if m.confidence < min_conf => {
                warnings += 1;
                findings.push(json!({"code": "low_confidence", "severity": "warning",
                    "message": format!("an MRZ character was read with probability {:.2}, under {min_conf}", m.confidence),
                    "field": null, "plugin": "documents"}));
            }
            _ => {}
        }
        let visual_read = fields.iter().filter(|f| f.visual.is_some()).count();
        let visual_conf = sides.iter().map(|s| s.3.visual_confidence).fold(0.0f32, f32::max);
        if any_text && mrz.is_some() && visual_read == 0 {
            warnings += 1;
            findings.push(json!({"code": "visual_zone_missing", "severity": "warning",
                "message": "no printed field was read (is the front side missing?)", "field": null, "plugin": "documents"}));
        } else if visual_read > 0 && visual_conf < min_visual {
            warnings += 1;
            findings.push(json!({"code": "low_confidence", "severity": "warning",
                "message": format!("the printed fields were read with mean probability {visual_conf:.2}, under {min_visual}"),
                "field": null, "plugin": "documents"}));
        }
        for f in &findings {
            if f["severity"] != "info" {
                reasons.push(format!("{}: {}", f["code"].as_str().unwrap_or(""), f["message"].as_str().unwrap_or("")));
            }
        }
        let resolution = if errors > 0 {
            "DECLINED"
        } else if warnings > 0 {
            "OPERATOR_REQUIRED"
        } else {
            "SUCCESS"
        };
        // Per media: what was read there, and the portrait saved as an output image.
        let mut media_results = Vec::new();
        for (front, m, img, r) in &sides {
            let mut output_images = Vec::new();
            if let Some(face) = r.face {
                let pad = face.width / 5;
                let region = Rect {
                    x: face.x.saturating_sub(pad),
                    y: face.y.saturating_sub(pad),
                    width: (face.width + 2 * pad).min(img.width().saturating_sub(face.x.saturating_sub(pad))),
                    height: (face.height + 2 * pad).min(img.height().saturating_sub(face.y.saturating_sub(pad))),
                };
                if let Ok(crop) = img.crop(region)
                    && let Ok(id) = vigil_plugin_sdk::analysis::output::save_image(&m.id(), &crop, "document_face")
                {
                    output_images.push(id);
                }
            }
            let data = json!({
                "side": if *front { "front" } else { "back" },
                "mrz_found": r.mrz.is_some(),
                "mrz_format": r.mrz.as_ref().map(|m| m.format.clone()),
                "text_lines": r.text_lines,
                "fields_read": r.fields.iter().filter(|f| f.visual.is_some()).count(),
                "face": r.face.map(|f| json!({"x": f.x, "y": f.y, "width": f.width, "height": f.height})),
            });
            media_results.push(MediaResult { media_id: m.id(), results_json: data.to_string(), output_images });
        }
        let text_fields: Vec<Value> = shown
            .iter()
            .map(|f| {
                let flagged =
                    findings.iter().any(|x| x["field"] == f.name.as_str() && x["code"] == "visual_mrz_mismatch");
                let status = match (&f.visual, &f.mrz) {
                    (Some(_), Some(_)) if flagged => "mismatch",
                    (Some(_), Some(_)) => "match",
                    (Some(_), None) => "visual_only",
                    _ => "mrz_only",
                };
                json!({"field_name": f.name, "visual": f.visual, "mrz": f.mrz, "status": status})
            })
            .collect();
        let results = json!({
            "document_type": document_type,
            "text_fields": text_fields,
            "mrz": mrz.map(|m| json!({
                "format": m.format, "lines": m.lines, "valid": m.valid, "confidence": m.confidence,
                "rotated": m.rotated,
                "checks": m.checks.iter().map(|c| json!({"field": c.field, "found": c.found, "expected": c.expected,
                    "valid": c.found == c.expected})).collect::<Vec<_>>(),
            })),
            "visual_confidence": visual_conf,
            "findings": findings,
            "checks_run": outcomes.iter().map(|o| o.plugin.clone()).collect::<Vec<_>>(),
            "reasons": reasons,
            "capabilities": p.capabilities,
        });
        Ok(AnalysisResult { resolution: resolution.into(), results_json: results.to_string(), media_results })
    }
}

vigil_plugin_sdk::export_analysis!(Documents);
