//! minijinja set up for report templates, which are untrusted text: a fuel budget and a
//! recursion limit on top of the sandbox's own, strict undefined values (a misspelt field is an
//! error naming its line, not an empty cell), and escaping chosen by the template's name:
//! `.typ` escapes Typst markup, `.html` escapes HTML, so nothing from a folder (metadata, names,
//! comments) can inject markup.
//!
//! ```ignore
//! let body = vigil_plugin_sdk::templates::render("report.typ", SOURCE, &data_json, &Limits::default())?;
//! ```
//!
//! Filters beyond minijinja's built-ins: `typst_str` (a value as a quoted Typst string literal,
//! for code positions such as `#image({{ m.thumbnail | typst_str }})`), `percent` (0.93 →
//! `93.0 %`), `score` (two decimals) and `datetime` (an RFC 3339 or UNIX time as
//! `2026-11-30 18:04 UTC`).

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

/// Bounds of one render.
#[derive(Debug, Clone)]
pub struct Limits {
    /// minijinja instructions.
    pub fuel: u64,
    /// Nesting of includes, macros and blocks.
    pub recursion: usize,
    /// Largest output, bytes.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { fuel: 5_000_000, recursion: 50, max_output: 2 << 20 }
    }
}

/// Escapes text for Typst markup: every ASCII punctuation character is escaped (Typst accepts
/// `\` before any character), line breaks become Typst line breaks.
pub fn escape_typst(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str(" \\ "),
            '\r' => {}
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Typst string literal holding `s`.
pub fn typst_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn value_text(v: &Value) -> String {
    if v.is_none() || v.is_undefined() {
        String::new()
    } else if let Some(s) = v.as_str() {
        s.to_string()
    } else {
        v.to_string()
    }
}

fn percent(v: Value) -> String {
    match f64::try_from(v.clone()) {
        Ok(x) => format!("{:.1} %", x * 100.0),
        Err(_) => value_text(&v),
    }
}

fn score(v: Value) -> String {
    match f64::try_from(v.clone()) {
        Ok(x) => format!("{x:.2}"),
        Err(_) => value_text(&v),
    }
}

/// `2026-11-30T18:04:05.123Z` or UNIX seconds → `2026-11-30 18:04 UTC`.
fn datetime(v: Value) -> String {
    if let Some(s) = v.as_str() {
        if s.len() >= 16 && s.as_bytes().get(10) == Some(&b'T') {
            return format!("{} {} UTC", &s[..10], &s[11..16]);
        }
        return s.to_string();
    }
    let Ok(secs) = f64::try_from(v.clone()) else { return value_text(&v) };
    let secs = secs.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Renders template `name` (its extension picks the escaping) over the report data.
pub fn render(name: &str, source: &str, data_json: &str, limits: &Limits) -> Result<String, String> {
    let data: serde_json::Value =
        serde_json::from_str(data_json).map_err(|e| format!("the report data is not JSON: {e}"))?;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(limits.fuel));
    env.set_recursion_limit(limits.recursion);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".typ") {
            AutoEscape::Custom("typst".into())
        } else if name.ends_with(".html") || name.ends_with(".htm") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), AutoEscape::Custom(n) if n == "typst") && !value.is_safe() {
            out.write_str(&escape_typst(&value_text(value))).map_err(|_| Error::from(ErrorKind::WriteFailure))
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env.add_filter("typst_str", |v: Value| Value::from_safe_string(typst_string(&value_text(&v))));
    env.add_filter("percent", percent);
    env.add_filter("score", score);
    env.add_filter("datetime", datetime);
    env.add_template(name, source).map_err(|e| describe(&e, source))?;
    let tmpl = env.get_template(name).map_err(|e| describe(&e, source))?;
    let out = tmpl.render(minijinja::value::Serde(&data)).map_err(|e| describe(&e, source))?;
    if out.len() > limits.max_output {
        return Err(format!("the template produced {} bytes; the limit is {}", out.len(), limits.max_output));
    }
    Ok(out)
}

/// The error with the template line it happened on, so "undefined value" names the field.
fn describe(e: &Error, source: &str) -> String {
    let mut msg = match e.kind() {
        ErrorKind::OutOfFuel => "the template ran out of fuel (it loops or does too much work)".to_string(),
        _ => e.detail().map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
    };
    if let Some(line) = e.line() {
        let text = source.lines().nth(line.saturating_sub(1)).unwrap_or("").trim();
        let text: String = text.chars().take(120).collect();
        msg.push_str(&format!(" (template line {line}: {text})"));
    }
    msg
}
