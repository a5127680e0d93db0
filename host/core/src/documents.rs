//! The plugin host's document services: reading a document photo with native OCR (the MRZ, the
//! printed fields, the portrait) and running a company's document checks, each in its sandbox.

use std::sync::Arc;
use uuid::Uuid;
use vigil_inference::Vision;
use vigil_inference::ocr::{DocumentReading as Read, Ocr, ReadOptions};
use vigil_mrz::Date;
use vigil_plugin_host::{CheckInput, CheckOutcome, DocField, DocumentReading, GuestError, Kind, MrzReading};

/// Field names in the order results list them.
const ORDER: [&str; 13] = [
    "document_code",
    "issuing_state",
    "document_number",
    "surname",
    "given_names",
    "nationality",
    "date_of_birth",
    "sex",
    "date_of_expiry",
    "optional_data",
    "place_of_birth",
    "date_of_issue",
    "authority",
];

/// Reads `img` (blocking: run it on the blocking pool).
pub fn read(
    ocr: &Ocr,
    vision: &Vision,
    img: &image::RgbImage,
    double_page_spread: bool,
) -> Result<DocumentReading, GuestError> {
    let r = ocr
        .read_document(img, ReadOptions { double_page_spread })
        .map_err(|e| GuestError::Host(format!("reading the document: {e}")))?;
    // The portrait: the largest face on the page (a ghost image is smaller).
    let face = vision
        .detect(img)
        .ok()
        .and_then(|faces| faces.into_iter().max_by(|a, b| (a.width * a.height).total_cmp(&(b.width * b.height))))
        .map(|d| (d.x.round() as u32, d.y.round() as u32, d.width.round() as u32, d.height.round() as u32));
    Ok(pair(&r, face, Date::today()))
}

/// Each field with its printed reading and its MRZ value side by side (MRZ dates as
/// YYYY-MM-DD, the century taken from `today`).
pub fn pair(r: &Read, face: Option<(u32, u32, u32, u32)>, today: Date) -> DocumentReading {
    let m = r.mrz.as_ref().map(|m| &m.mrz);
    let mrz_value = |name: &str| -> Option<String> {
        let m = m?;
        let v = match name {
            "document_code" => m.document_code.clone(),
            "issuing_state" => m.issuing_state.clone(),
            "document_number" => m.document_number.clone(),
            "surname" => m.surname.clone(),
            "given_names" => m.given_names.clone(),
            "nationality" => m.nationality.clone(),
            "date_of_birth" => Date::birth(&m.birth_date, today).map_or(m.birth_date.clone(), |d| d.to_string()),
            "sex" => m.sex.clone(),
            "date_of_expiry" => Date::expiry(&m.expiry_date, today).map_or(m.expiry_date.clone(), |d| d.to_string()),
            "optional_data" => m.optional_data.clone(),
            _ => return None,
        };
        // An empty optional field is absent; an empty name or code is still a value.
        (name != "optional_data" || !v.is_empty()).then_some(v)
    };
    let fields: Vec<DocField> = ORDER
        .iter()
        .filter_map(|&name| {
            let visual = r.fields.iter().find(|f| f.name == name).map(|f| f.value.clone());
            let mrz = mrz_value(name);
            (visual.is_some() || mrz.is_some()).then(|| DocField { name: name.to_string(), visual, mrz })
        })
        .collect();
    let conf: Vec<f32> = r.fields.iter().map(|f| f.confidence).collect();
    DocumentReading {
        mrz: r.mrz.as_ref().map(|x| MrzReading {
            format: x.mrz.format.name().to_string(),
            lines: x.mrz.lines.clone(),
            valid: x.mrz.valid(),
            checks: x
                .mrz
                .checks
                .iter()
                .map(|c| (c.field.to_string(), c.found.to_string(), c.expected.to_string()))
                .collect(),
            confidence: x.confidence,
            rotated: x.rotated,
        }),
        fields,
        visual_confidence: if conf.is_empty() { 0.0 } else { conf.iter().sum::<f32>() / conf.len() as f32 },
        face,
        text_lines: r.lines.len() as u32,
    }
}

impl crate::App {
    /// Runs every document check `company` sees (built-ins it has not replaced, then its own),
    /// each in its own sandbox. A check that fails is reported as an error finding of its own, so
    /// one broken customer plugin never hides the others' findings.
    pub async fn run_document_checks(&self, company: Uuid, input: CheckInput) -> Result<Vec<CheckOutcome>, GuestError> {
        let plugins = self.inner.plugins.registry.of_kind(company, Kind::DocumentCheck);
        let mut out = Vec::with_capacity(plugins.len());
        for p in plugins {
            let name = p.meta.name.clone();
            let findings = match self.inner.plugins.host.check_within_call(&p, company, input.clone()).await {
                Ok(f) => f,
                Err(e) => vec![vigil_plugin_host::Finding {
                    code: "check_failed".into(),
                    severity: "error".into(),
                    message: format!("the document check '{name}' failed: {e}"),
                    field: None,
                }],
            };
            out.push(CheckOutcome { plugin: name, findings });
        }
        Ok(out)
    }
}

/// Native OCR for the vision services, when the model manifest has text models.
pub type SharedOcr = Option<Arc<Ocr>>;
