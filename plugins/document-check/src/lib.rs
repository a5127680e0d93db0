//! The built-in document checks, run by the DOCUMENTS analysis through `documents.run-checks`:
//!
//! - `mrz_check_digit`: each ICAO 9303 check digit of the MRZ (document number, birth date,
//!   expiry date, optional data, composite), recomputed from the MRZ lines themselves;
//! - `document_expired`: the expiry date is before `today`;
//! - `date_invalid`: a date that is no calendar date, a birth date in the future or after expiry,
//!   an issue date after expiry;
//! - `country_code_unknown`: an issuing state or nationality that is not an ICAO code (check
//!   digits never guard these, so OCR slips like UTO→0TO surface here);
//! - `visual_mrz_mismatch`: a printed field that disagrees with the MRZ, tolerating OCR's
//!   O/0, I/1, S/5, B/8, Z/2, G/6 slips, spacing and punctuation, a name the MRZ had to cut
//!   short, and dates printed in any common shape.
//!
//! Fields arrive as (name, visual, mrz); the raw MRZ lines as `mrz_line_1`… Params (JSON):
//! `today` (YYYY-MM-DD, default the clock's), `fields_to_check` (names; default all).

pub mod checks;

#[cfg(target_arch = "wasm32")]
mod guest {
    use vigil_plugin_sdk::document_check::{CheckRequest, Finding, Guest, PluginError, Severity};

    struct Checks;

    impl Guest for Checks {
        fn check(request: CheckRequest) -> Result<Vec<Finding>, PluginError> {
            let params = crate::checks::Params::parse(&request.params_json).map_err(PluginError::InvalidInput)?;
            let fields: Vec<crate::checks::Field> =
                request.fields.into_iter().map(|f| (f.name, f.visual, f.mrz)).collect();
            Ok(crate::checks::run(&fields, &params)
                .into_iter()
                .map(|f| Finding {
                    code: f.code.to_string(),
                    severity: if f.error { Severity::Error } else { Severity::Warning },
                    message: f.message,
                    field: f.field,
                })
                .collect())
        }
    }

    vigil_plugin_sdk::export_document_check!(Checks);
}
