//! A company's own document rules, run by Vigil's DOCUMENTS analysis beside the built-in
//! checks, in the same sandbox as any plugin:
//!
//! - `underage`: the holder is younger than `min_age` (configuration, default 18);
//! - `nationality_not_allowed`: the nationality is not in `nationalities` (configuration, a
//!   comma-separated list of ICAO codes; empty means any);
//! - `document_number_format`: the document number does not match `number_format`
//!   (configuration; `A` a letter, `9` a digit, `*` either; empty means any).
//!
//! Each finding is an error, so the analysis declines the document. Dates and fields come as the
//! host read them: `date_of_birth` in the MRZ as YYYY-MM-DD, beside the printed reading.

pub mod rules;

#[cfg(target_arch = "wasm32")]
mod guest {
    use vigil_plugin_sdk::document_check::{CheckRequest, Finding, Guest, PluginError, Severity, config};

    struct AgeCheck;

    impl Guest for AgeCheck {
        fn check(request: CheckRequest) -> Result<Vec<Finding>, PluginError> {
            let rules = crate::rules::Rules {
                min_age: config::get("min_age").and_then(|v| v.trim().parse().ok()).unwrap_or(18),
                nationalities: config::get("nationalities").unwrap_or_default(),
                number_format: config::get("number_format").unwrap_or_default(),
            };
            // The value the MRZ gives wins (its check digits guard it); else what is printed.
            let value = |name: &str| {
                request.fields.iter().find(|f| f.name == name).and_then(|f| f.mrz.clone().or(f.visual.clone()))
            };
            let today = vigil_mrz::Date::today();
            Ok(rules
                .check(value("date_of_birth"), value("nationality"), value("document_number"), today)
                .into_iter()
                .map(|(code, field, message)| Finding {
                    code: code.into(),
                    severity: Severity::Error,
                    message,
                    field: Some(field.into()),
                })
                .collect())
        }
    }

    vigil_plugin_sdk::export_document_check!(AgeCheck);
}
