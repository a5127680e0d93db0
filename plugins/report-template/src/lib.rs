//! The generic report template: runs a company's minijinja template over the report data inside
//! the sandbox. The host gives the template through configuration (`template`, and its file
//! name in `template_name`, whose extension picks the output: `.typ` → Typst markup the host
//! turns into PDF, `.html` → HTML) and the report data as the call's argument.

use vigil_plugin_sdk::report_template::{Guest, PluginError, Rendered, config};
use vigil_plugin_sdk::templates::{self, Limits};

struct Generic;

impl Guest for Generic {
    fn render(data_json: String) -> Result<Rendered, PluginError> {
        let source =
            config::get("template").ok_or_else(|| PluginError::InvalidInput("no template configured".into()))?;
        let name = config::get("template_name").unwrap_or_else(|| "report.typ".into());
        let content_type = if name.ends_with(".html") || name.ends_with(".htm") {
            "text/html"
        } else if name.ends_with(".typ") {
            "text/x-typst"
        } else {
            return Err(PluginError::InvalidInput(format!("template '{name}' must end in .typ or .html")));
        };
        let mut limits = Limits::default();
        if let Some(f) = config::get("fuel").and_then(|f| f.parse().ok()) {
            limits.fuel = f;
        }
        let body = templates::render(&name, &source, &data_json, &limits).map_err(PluginError::InvalidInput)?;
        Ok(Rendered { content_type: content_type.into(), body })
    }
}

vigil_plugin_sdk::export_report_template!(Generic);

// The SDK's template set-up, tested here where its `templates` feature is built for the host.
#[cfg(test)]
mod tests {
    use vigil_plugin_sdk::templates::{Limits, escape_typst, render};

    fn r(name: &str, src: &str, data: &str) -> Result<String, String> {
        render(name, src, data, &Limits::default())
    }

    #[test]
    fn escapes_by_template_kind() {
        let data = r##"{"x": "#set page(width: 1pt) *bold* <b>\"q\"</b>"}"##;
        assert_eq!(
            r("r.typ", "A {{ x }}", data).unwrap(),
            r##"A \#set page\(width\: 1pt\) \*bold\* \<b\>\"q\"\<\/b\>"##
        );
        assert!(r("r.html", "<p>{{ x }}</p>", data).unwrap().contains("&lt;b&gt;"));
        assert_eq!(r("r.typ", "#image({{ p | typst_str }})", r#"{"p": "a\"b"}"#).unwrap(), r#"#image("a\"b")"#);
        assert_eq!(escape_typst("a\nb"), "a \\ b");
    }

    #[test]
    fn bounded_and_strict() {
        let e = r("r.typ", "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", "{}")
            .unwrap_err();
        assert!(e.contains("fuel"), "{e}");
        let e = r("r.typ", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "{}").unwrap_err();
        assert!(e.contains("recursion"), "{e}");
        let e = r("r.typ", "ok\n{{ folder.nope }}", r#"{"folder": {}}"#).unwrap_err();
        assert!(e.contains("line 2") && e.contains("folder.nope"), "{e}");
        let e = r("r.typ", "{% for i in range(80000) %}Lorem ipsum dolor sit amet, consectetur.{% endfor %}", "{}")
            .unwrap_err();
        assert!(e.contains("limit"), "{e}");
    }

    #[test]
    fn filters() {
        let out = r(
            "r.typ",
            "{{ a | datetime }}|{{ b | datetime }}|{{ c | percent }}|{{ c | score }}",
            r#"{"a": 0, "b": 1796061845.5, "c": 0.935}"#,
        )
        .unwrap();
        assert_eq!(out, r"1970\-01\-01 00\:00 UTC|2026\-11\-30 18\:04 UTC|93\.5 \%|0\.94");
    }
}
