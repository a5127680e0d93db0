//! JSON answers written the way Oz's Python server writes them.
//!
//! Oz renders with Python's default separators, `", "` between items and `": "` after keys.
//! Shell integrations grep that text (`grep '"state": "FINISHED"'`), so Vigil writes the same
//! bytes; non-ASCII text stays UTF-8.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::io;

/// A JSON response body with Oz's separators.
pub struct OzJson<T>(pub T);

struct PySeparators;

impl serde_json::ser::Formatter for PySeparators {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// Serializes `v` with Oz's separators.
pub fn to_vec<T: Serialize + ?Sized>(v: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PySeparators);
    v.serialize(&mut ser)?;
    Ok(out)
}

impl<T: Serialize> IntoResponse for OzJson<T> {
    fn into_response(self) -> Response {
        match to_vec(&self.0) {
            Ok(body) => {
                let mut r = body.into_response();
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
            Err(e) => crate::ApiError(vigil_domain::Error::internal(e)).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn python_separators() {
        let v = serde_json::json!({"a": [1, 2, {"b": "é"}], "c": null});
        assert_eq!(String::from_utf8(super::to_vec(&v).unwrap()).unwrap(), r#"{"a": [1, 2, {"b": "é"}], "c": null}"#);
        assert_eq!(super::to_vec(&serde_json::json!([])).unwrap(), b"[]");
        assert_eq!(super::to_vec(&serde_json::json!({})).unwrap(), b"{}");
    }
}
