//! # Vigil plugin SDK
//!
//! Write a Vigil plugin in Rust and build it with `cargo build --release --target wasm32-wasip2`:
//! the output `.wasm` is a WebAssembly component ready for `POST /api/plugins/`.
//!
//! Enable the feature of the one world your plugin implements (`analysis`, `document-check`,
//! `report-template` or `ab-rule`), implement that module's `Guest` trait and export it with the
//! world's macro:
//!
//! ```ignore
//! use vigil_plugin_sdk::analysis::{AnalysisRequest, AnalysisResult, Guest, PluginError};
//!
//! struct Strict;
//!
//! impl Guest for Strict {
//!     fn analyze(req: AnalysisRequest) -> Result<AnalysisResult, PluginError> {
//!         let threshold: f64 = vigil_plugin_sdk::config_f64("threshold").unwrap_or(0.3);
//!         // … look at req.media with the vision interface, decide …
//!         Ok(AnalysisResult { resolution: "SUCCESS".into(), results_json: "{}".into(), media_results: vec![] })
//!     }
//! }
//!
//! vigil_plugin_sdk::export_analysis!(Strict);
//! ```
//!
//! `examples/strict-liveness` in the Vigil repository is a complete plugin with a README from
//! `cargo new` to an uploaded, running plugin.
//!
//! The host owns every pixel: `Media` and `Image` are handles, and `vision` answers with boxes,
//! scores and embeddings. Compare two faces with `vision::compare`, never with a raw cosine of
//! your own: it answers on Vigil's calibrated scale (0.85 ≈ false-match rate 1e-4, whatever the
//! embedding model), with the cosine, the model and the calibration version beside it. For
//! liveness from motion, `vision::landmarks` gives a face's 68 points with the head pose, the
//! fitted camera's anisotropy and the eyes' openness, and `vision::texture` the print/screen
//! periodicity (WIT 1.2.0), and `vision::surroundings` whether the picture around a face moves
//! with it (1.3.0); the `vigil-liveness` crate turns them into the built-in QUALITY's cues and
//! gesture checks. For 1:N search, `collections::list_collections` lists the company's
//! collections with the model each is bound to (1.4.0) and `collections::search` finds the
//! persons of one most like a face. For identity documents, `documents::read` gives the MRZ and
//! the printed fields side by side with the portrait's box, and `documents::run_checks` runs the
//! company's `document-check` plugins (1.5.0). Each call runs in a fresh sandbox with limits on time, memory, host calls and output size; nothing
//! survives from one call to the next.

/// The `vigil:plugin` WIT version these bindings implement.
pub const WIT_VERSION: &str = "1.5.0";
/// This SDK's version.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Stamps the plugin with the WIT and SDK versions in a custom section the host reads at upload.
#[doc(hidden)]
#[macro_export]
macro_rules! __stamp {
    ($world:literal) => {
        #[unsafe(link_section = "vigil-plugin")]
        #[used]
        static __VIGIL_PLUGIN_STAMP: [u8; $crate::__stamp_len($world)] = $crate::__stamp_bytes($world);
    };
}

#[doc(hidden)]
pub const fn __stamp_len(world: &str) -> usize {
    // "world=<w>;wit=<v>;sdk=<v>"
    6 + world.len() + 5 + WIT_VERSION.len() + 5 + SDK_VERSION.len()
}

#[doc(hidden)]
pub const fn __stamp_bytes<const N: usize>(world: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let parts: [&[u8]; 6] =
        [b"world=", world.as_bytes(), b";wit=", WIT_VERSION.as_bytes(), b";sdk=", SDK_VERSION.as_bytes()];
    let mut at = 0;
    let mut p = 0;
    while p < parts.len() {
        let s = parts[p];
        let mut i = 0;
        while i < s.len() {
            out[at] = s[i];
            at += 1;
            i += 1;
        }
        p += 1;
    }
    out
}

#[cfg(feature = "analysis")]
pub mod analysis {
    //! The `analysis` world: `analyze` a folder's media and return a verdict.
    wit_bindgen::generate!({
        path: "../../wit",
        world: "analysis",
        pub_export_macro: true,
        export_macro_name: "__export_analysis_world",
        default_bindings_module: "vigil_plugin_sdk::analysis",
    });
    pub use self::vigil::plugin::analysis_types::MediaResult;
    pub use self::vigil::plugin::document_types::{CheckRequest, Field, Finding, Severity};
    pub use self::vigil::plugin::media::{Image, Media, MediaKind};
    pub use self::vigil::plugin::types::{Point, Rect};
    pub use self::vigil::plugin::{collections, config, documents, inference, log, output, vision};
}

/// Exports a type implementing `analysis::Guest` as the plugin.
#[cfg(feature = "analysis")]
#[macro_export]
macro_rules! export_analysis {
    ($t:ident) => {
        $crate::__stamp!("analysis");
        $crate::analysis::__export_analysis_world!($t);
    };
}

#[cfg(feature = "document-check")]
pub mod document_check {
    //! The `document-check` world: findings over recognised document fields.
    wit_bindgen::generate!({
        path: "../../wit",
        world: "document-check",
        pub_export_macro: true,
        export_macro_name: "__export_document_check_world",
        default_bindings_module: "vigil_plugin_sdk::document_check",
    });
    pub use self::vigil::plugin::document_types::{Field, Severity};
    pub use self::vigil::plugin::{config, log};
}

#[cfg(feature = "document-check")]
#[macro_export]
macro_rules! export_document_check {
    ($t:ident) => {
        $crate::__stamp!("document-check");
        $crate::document_check::__export_document_check_world!($t);
    };
}

#[cfg(feature = "report-template")]
pub mod report_template {
    //! The `report-template` world: report data (JSON) in, HTML or Typst out.
    wit_bindgen::generate!({
        path: "../../wit",
        world: "report-template",
        pub_export_macro: true,
        export_macro_name: "__export_report_template_world",
        default_bindings_module: "vigil_plugin_sdk::report_template",
    });
    pub use self::vigil::plugin::{config, log};
}

#[cfg(feature = "templates")]
pub mod templates;

#[cfg(feature = "report-template")]
#[macro_export]
macro_rules! export_report_template {
    ($t:ident) => {
        $crate::__stamp!("report-template");
        $crate::report_template::__export_report_template_world!($t);
    };
}

#[cfg(feature = "ab-rule")]
pub mod ab_rule {
    //! The `ab-rule` world: deterministic variant choice under a fuel budget.
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ab-rule",
        pub_export_macro: true,
        export_macro_name: "__export_ab_rule_world",
        default_bindings_module: "vigil_plugin_sdk::ab_rule",
    });
    pub use self::vigil::plugin::config;
}

#[cfg(feature = "ab-rule")]
#[macro_export]
macro_rules! export_ab_rule {
    ($t:ident) => {
        $crate::__stamp!("ab-rule");
        $crate::ab_rule::__export_ab_rule_world!($t);
    };
}

/// Parses the request's `params-json` into your own type; unknown fields are up to your type.
pub fn params<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
    if json.trim().is_empty() {
        return serde_json::from_str("{}").map_err(|e| e.to_string());
    }
    serde_json::from_str(json).map_err(|e| format!("invalid params: {e}"))
}

/// Serialises a value as the JSON text the result records carry.
pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".to_string())
}

/// A configuration value parsed as a number.
#[cfg(feature = "analysis")]
pub fn config_f64(key: &str) -> Option<f64> {
    analysis::config::get(key)?.trim().parse().ok()
}
