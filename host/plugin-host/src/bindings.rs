//! One `bindgen!` per world of `vigil:plugin@1.5.0`. The analysis world generates the shared
//! interfaces; the other worlds reuse them through `with`. Imports are async (inference awaits)
//! and trappable (quota breaches trap the guest).

pub mod analysis {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "analysis",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "vigil:plugin/media.image": crate::host::ImageRes,
            "vigil:plugin/media.media": crate::host::MediaRes,
        },
    });
}

pub mod document_check {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "document-check",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "vigil:plugin/types": crate::bindings::analysis::vigil::plugin::types,
            "vigil:plugin/document-types": crate::bindings::analysis::vigil::plugin::document_types,
            "vigil:plugin/log": crate::bindings::analysis::vigil::plugin::log,
            "vigil:plugin/config": crate::bindings::analysis::vigil::plugin::config,
        },
    });
}

pub mod report_template {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "report-template",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "vigil:plugin/types": crate::bindings::analysis::vigil::plugin::types,
            "vigil:plugin/log": crate::bindings::analysis::vigil::plugin::log,
            "vigil:plugin/config": crate::bindings::analysis::vigil::plugin::config,
        },
    });
}

pub mod ab_rule {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "ab-rule",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "vigil:plugin/types": crate::bindings::analysis::vigil::plugin::types,
            "vigil:plugin/config": crate::bindings::analysis::vigil::plugin::config,
        },
    });
}
