//! The model manifest (`models.toml`): which ONNX file plays which role and how it is fed. A copy
//! is compiled in; `Manifest::from_file` reads another.

use crate::{InferenceError, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The manifest shipped with Vigil.
pub const DEFAULT: &str = include_str!("../../../models.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub runtime: FileEntry,
    #[serde(rename = "model", default)]
    pub models: Vec<ModelSpec>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Detector,
    Landmarks,
    Liveness,
    Embedding,
    /// Listed (fetched, verified) but not loaded.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channels {
    Rgb,
    Bgr,
    Gray,
}

/// One model: the file, and what pre- and post-processing it needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelSpec {
    pub name: String,
    pub role: Role,
    /// How a detector's, landmark model's or liveness model's outputs are decoded.
    pub format: Option<String>,
    pub file: String,
    pub sha256: String,
    /// Input tensor name.
    #[serde(default)]
    pub input: String,
    /// Input width, height.
    #[serde(default)]
    pub size: [u32; 2],
    #[serde(default = "rgb")]
    pub channels: Channels,
    #[serde(default)]
    pub mean: [f32; 3],
    #[serde(default = "ones")]
    pub std: [f32; 3],
    /// Embeddings: output dimension.
    pub dims: Option<usize>,
    /// Detectors: minimum face score.
    pub min_score: Option<f32>,
    /// Liveness: the crop around the face, as a multiple of the face box.
    pub crop_scale: Option<f32>,
    /// Liveness: which softmax output is P(live).
    pub live_index: Option<usize>,
    /// What the output means, for people.
    #[serde(default)]
    pub output: String,
    #[serde(default)]
    pub license: String,
}

fn rgb() -> Channels {
    Channels::Rgb
}
fn ones() -> [f32; 3] {
    [1.0; 3]
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest> {
        let m: Manifest = toml::from_str(text).map_err(|e| InferenceError::Manifest(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    pub fn from_file(path: &Path) -> Result<Manifest> {
        let text =
            std::fs::read_to_string(path).map_err(|e| InferenceError::Manifest(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    pub fn shipped() -> Manifest {
        // A unit test parses the shipped manifest, so this cannot fail in a released binary.
        Self::parse(DEFAULT).unwrap_or_else(|e| panic!("the shipped models.toml is invalid: {e}"))
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(InferenceError::Manifest(m));
        for role in [Role::Detector, Role::Landmarks, Role::Liveness] {
            if self.models.iter().filter(|m| m.role == role).count() != 1 {
                return bad(format!("exactly one {role:?} model is needed"));
            }
        }
        if !self.models.iter().any(|m| m.role == Role::Embedding) {
            return bad("at least one embedding model is needed".into());
        }
        for m in &self.models {
            if self.models.iter().filter(|o| o.name == m.name).count() > 1 {
                return bad(format!("model name '{}' appears twice", m.name));
            }
            if m.role == Role::None {
                continue;
            }
            if m.input.is_empty() || m.size[0] == 0 || m.size[1] == 0 {
                return bad(format!("model '{}' needs `input` and `size`", m.name));
            }
            if m.std.contains(&0.0) {
                return bad(format!("model '{}': std must not be 0", m.name));
            }
            let format_ok = match m.role {
                Role::Detector => m.format.as_deref() == Some("ultraface"),
                Role::Landmarks => m.format.as_deref() == Some("pfld68"),
                Role::Liveness => m.format.as_deref() == Some("minifasnet"),
                Role::Embedding => m.dims.is_some_and(|d| d > 0) && m.size == [112, 112],
                Role::None => true,
            };
            if !format_ok {
                return bad(format!(
                    "model '{}': unsupported for role {:?} (detector: ultraface, landmarks: pfld68, liveness: \
                     minifasnet, embedding: 112×112 input with `dims`)",
                    m.name, m.role
                ));
            }
        }
        Ok(())
    }

    pub fn one(&self, role: Role) -> &ModelSpec {
        // `check` guarantees exactly one.
        self.models.iter().find(|m| m.role == role).unwrap_or_else(|| unreachable!("checked manifest"))
    }

    pub fn embedders(&self) -> impl Iterator<Item = &ModelSpec> {
        self.models.iter().filter(|m| m.role == Role::Embedding)
    }
}

/// The file's SHA-256 must match the manifest: a model that changed on disk is refused.
pub fn verify(path: &Path, want: &str) -> Result<()> {
    let mut f = std::fs::File::open(path).map_err(|_| InferenceError::Missing(path.to_path_buf()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| InferenceError::Manifest(format!("{}: {e}", path.display())))?;
    let got = hex(&h.finalize());
    if got != want.to_ascii_lowercase() {
        return Err(InferenceError::Manifest(format!(
            "{} has SHA-256 {got}, the manifest pins {want}: run `make assets` again",
            path.display()
        )));
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_manifest_is_valid() {
        let m = Manifest::parse(DEFAULT).unwrap();
        assert_eq!(m.embedders().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["fr_feature", "sface"]);
        assert_eq!(m.one(Role::Liveness).live_index, Some(0));
    }

    #[test]
    fn bad_manifests_are_refused() {
        let two = DEFAULT.replace("name = \"sface\"", "name = \"fr_feature\"");
        assert!(Manifest::parse(&two).unwrap_err().to_string().contains("twice"));
        let odd = DEFAULT.replace("format = \"ultraface\"", "format = \"yolo\"");
        assert!(Manifest::parse(&odd).unwrap_err().to_string().contains("unsupported"));
    }
}
