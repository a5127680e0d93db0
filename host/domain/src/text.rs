//! Bounds on the text and documents clients send: lengths, and no NUL or other control
//! characters where a name is expected. Every input has a size.

use crate::error::{Error, Result};
use serde_json::Value;

/// Longest person name part (first, last, middle).
pub const MAX_NAME: usize = 150;
/// Longest multipart field name.
pub const MAX_FIELD_NAME: usize = 64;
/// Longest uploaded file name.
pub const MAX_FILE_NAME: usize = 255;
/// Metadata documents: encoded size, nesting, key length.
pub const MAX_META_BYTES: usize = 64 << 10;
pub const MAX_META_DEPTH: usize = 8;
pub const MAX_META_KEY: usize = 128;

/// `value` as a name: at most `max` characters, none of them control characters (NUL, newline…).
pub fn check_name(what: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::value(format!("{what} is longer than {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::value(format!("{what} contains a control character (NUL, tab, newline…)")));
    }
    Ok(())
}

/// Identifiers a user chooses and others refer to (plugin names and versions, A/B variants and
/// rules): 1-64 ASCII letters, digits, '-', '_' or '.', starting with a letter or digit.
pub fn check_ident(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok { Ok(()) } else { Err(Error::value(format!("{what} '{s}' must be 1-64 letters, digits, '-', '_' or '.'"))) }
}

/// A metadata document: a JSON object of bounded size and depth whose keys are short names.
pub fn check_meta(what: &str, v: &Value) -> Result<()> {
    if !v.is_object() {
        return Err(Error::value(format!("{what} must be a JSON object")));
    }
    let size = v.to_string().len();
    if size > MAX_META_BYTES {
        return Err(Error::value(format!("{what} is {size} bytes; at most {MAX_META_BYTES} are kept")));
    }
    fn walk(what: &str, v: &Value, depth: usize) -> Result<()> {
        if depth > MAX_META_DEPTH {
            return Err(Error::value(format!("{what} nests deeper than {MAX_META_DEPTH} levels")));
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k.is_empty() {
                        return Err(Error::value(format!("{what} has an empty key")));
                    }
                    check_name(&format!("{what} key"), k, MAX_META_KEY)?;
                    walk(what, x, depth + 1)?;
                }
            }
            Value::Array(a) => {
                for x in a {
                    walk(what, x, depth + 1)?;
                }
            }
            Value::String(s) if s.contains('\0') => {
                return Err(Error::value(format!("{what} has a string with a NUL character")));
            }
            _ => {}
        }
        Ok(())
    }
    walk(what, v, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_documents() {
        assert!(check_name("first_name", "Zoë-Ann O'Neil", MAX_NAME).is_ok());
        assert!(check_name("first_name", "a\0b", MAX_NAME).is_err());
        assert!(check_name("first_name", "a\nb", MAX_NAME).is_err());
        assert!(check_name("first_name", &"x".repeat(151), MAX_NAME).is_err());
        assert!(check_meta("meta_data", &json!({"transaction_id": "T-1", "a": {"b": [1, 2]}})).is_ok());
        assert!(check_meta("meta_data", &json!([1])).is_err());
        assert!(check_meta("meta_data", &json!({"k\u{0}": 1})).is_err());
        assert!(check_meta("meta_data", &json!({"k": "v\u{0}"})).is_err());
        assert!(check_meta("meta_data", &json!({"k": "x".repeat(70_000)})).is_err());
        let mut deep = json!(1);
        for _ in 0..10 {
            deep = json!({ "d": deep });
        }
        assert!(check_meta("meta_data", &deep).is_err());
    }
}
