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
    /// Document reading: a text detector and a recogniser, both optional (without them the
    /// server reads no documents).
    #[serde(rename = "text-detector")]
    TextDetector,
    #[serde(rename = "text-recognizer")]
    TextRecognizer,
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
    /// Embeddings: how a cosine similarity maps to the calibrated match confidence.
    pub calibration: Option<Calibration>,
}

/// The map from an embedding model's cosine similarity to Vigil's match confidence in [0, 1].
///
/// The confidence scale is the same for every model: it is pinned to false-match rates, so a
/// threshold keeps its meaning when the model changes (0.5 ↔ FMR 1e-2, 0.7 ↔ 1e-3, 0.85 ↔ 1e-4,
/// see [`SCALE`]). Each model states the cosine at which it reaches each rate; between those
/// points, below `zero` (confidence 0) and up to cosine 1 (confidence 1) the map is linear, so it
/// is continuous and strictly increasing.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Recorded with every result the calibration produced.
    pub version: String,
    /// Where the operating points come from (a measurement, a published evaluation).
    pub source: String,
    /// The cosine mapped to confidence 0; lower cosines are 0 too.
    pub zero: f32,
    /// Operating points, in increasing cosine.
    pub points: Vec<OperatingPoint>,
}

/// One operating point: at `cosine`, the false-match rate is `fmr` and the confidence `confidence`.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OperatingPoint {
    pub fmr: f64,
    pub cosine: f32,
    pub confidence: f32,
}

/// Piecewise-linear through increasing knots (x, y), flat beyond the first and the last.
fn interpolate(knots: impl Iterator<Item = (f32, f32)>, x: f32) -> f32 {
    let mut prev: Option<(f32, f32)> = None;
    for k in knots {
        if x <= k.0 {
            return match prev {
                Some(p) if x > p.0 => p.1 + (x - p.0) / (k.0 - p.0) * (k.1 - p.1),
                _ => k.1,
            };
        }
        prev = Some(k);
    }
    prev.map_or(0.0, |p| p.1)
}

/// Vigil's confidence scale: the confidence every calibration gives at each false-match rate.
/// Oz's default match threshold 0.85 is the FMR 1e-4 operating point, 0.5 a looser 1e-2.
pub const SCALE: [(f64, f32); 3] = [(1e-2, 0.50), (1e-3, 0.70), (1e-4, 0.85)];

impl Calibration {
    /// The calibrated confidence of a cosine similarity: continuous, non-decreasing, in [0, 1].
    pub fn confidence(&self, cosine: f32) -> f32 {
        if cosine.is_nan() { 0.0 } else { interpolate(self.knots(), cosine) }
    }

    /// The cosine at which the confidence is `confidence` (the inverse map), for reports.
    pub fn cosine_at(&self, confidence: f32) -> f32 {
        interpolate(self.knots().map(|(c, y)| (y, c)), confidence)
    }

    /// (cosine, confidence) from `zero` through the operating points to (1, 1).
    fn knots(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        std::iter::once((self.zero, 0.0))
            .chain(self.points.iter().map(|p| (p.cosine, p.confidence)))
            .chain(std::iter::once((1.0, 1.0)))
    }

    /// Strictly increasing in both cosine and confidence, within (zero, 1) and (0, 1).
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.version.trim().is_empty() || self.source.trim().is_empty() {
            return Err("calibration needs a `version` and a `source`".into());
        }
        if self.points.is_empty() {
            return Err("calibration needs at least one operating point".into());
        }
        if !(-1.0..1.0).contains(&self.zero) {
            return Err(format!("calibration `zero` must be within [-1, 1), got {}", self.zero));
        }
        let mut prev = (self.zero, 0.0f32, 1.0f64);
        for p in &self.points {
            if !(p.cosine > prev.0 && p.cosine < 1.0) {
                return Err(format!(
                    "operating point cosines must increase from `zero` and stay below 1 (at {})",
                    p.cosine
                ));
            }
            if !(p.confidence > prev.1 && p.confidence < 1.0) {
                return Err(format!("operating point confidences must increase within (0, 1) (at {})", p.confidence));
            }
            if !(p.fmr > 0.0 && p.fmr < prev.2) {
                return Err(format!("operating point false-match rates must decrease within (0, 1) (at {})", p.fmr));
            }
            prev = (p.cosine, p.confidence, p.fmr);
        }
        Ok(())
    }
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
        for role in [Role::TextDetector, Role::TextRecognizer] {
            if self.models.iter().filter(|m| m.role == role).count() > 1 {
                return bad(format!("at most one {role:?} model is allowed"));
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
                Role::TextDetector => m.format.as_deref() == Some("db"),
                Role::TextRecognizer => m.format.as_deref() == Some("ctc") && m.size[1] == 48,
                Role::None => true,
            };
            if let Some(c) = &m.calibration {
                if m.role != Role::Embedding {
                    return bad(format!("model '{}': only embedding models are calibrated", m.name));
                }
                c.check().map_err(|e| InferenceError::Manifest(format!("model '{}': {e}", m.name)))?;
            }
            if !format_ok {
                return bad(format!(
                    "model '{}': unsupported for role {:?} (detector: ultraface, landmarks: pfld68, liveness: \
                     minifasnet, embedding: 112×112 input with `dims`, text-detector: db, text-recognizer: ctc of height 48)",
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

    /// The model of an optional role.
    pub fn optional(&self, role: Role) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.role == role)
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
        // The first embedder is the default one: SFace, whose calibration is best supported.
        assert_eq!(m.embedders().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["sface", "fr_feature"]);
        assert_eq!(m.one(Role::Liveness).live_index, Some(0));
    }

    /// Every shipped embedder is calibrated on Vigil's one scale: its operating points are the
    /// scale's false-match rates and confidences, the map hits them exactly, is continuous and
    /// strictly increasing from `zero` to cosine 1, and its inverse gives the points back.
    #[test]
    fn shipped_calibrations_are_monotonic_and_hit_their_operating_points() {
        let m = Manifest::parse(DEFAULT).unwrap();
        for e in m.embedders() {
            let c = e.calibration.as_ref().unwrap_or_else(|| panic!("{} has no calibration", e.name));
            assert!(c.version.starts_with(&e.name), "{}: version {}", e.name, c.version);
            let scale: Vec<(f64, f32)> = c.points.iter().map(|p| (p.fmr, p.confidence)).collect();
            assert_eq!(scale, SCALE.to_vec(), "{}: not on Vigil's scale", e.name);
            for p in &c.points {
                assert!((c.confidence(p.cosine) - p.confidence).abs() < 1e-6, "{}: {p:?}", e.name);
                assert!((c.cosine_at(p.confidence) - p.cosine).abs() < 1e-5, "{}: {p:?}", e.name);
            }
            assert_eq!(c.confidence(c.zero), 0.0);
            assert_eq!(c.confidence(-1.0), 0.0);
            assert_eq!(c.confidence(1.0), 1.0);
            assert_eq!(c.confidence(f32::NAN), 0.0);
            let mut prev = -1.0f32;
            for i in 0..=2000 {
                let x = -1.0 + i as f32 / 1000.0;
                let y = c.confidence(x);
                assert!((0.0..=1.0).contains(&y) && y >= prev, "{}: not monotonic at {x}", e.name);
                if x > c.zero {
                    assert!(y > prev || i == 0, "{}: flat at {x}", e.name);
                }
                assert!((y - prev).abs() < 0.05 || i == 0, "{}: jumps at {x}", e.name);
                prev = y;
            }
        }
    }

    #[test]
    fn broken_calibrations_are_refused() {
        let good = "[model.calibration]\nversion = \"t/1\"\nsource = \"test\"\nzero = 0.0\n";
        let with = |points: &str| {
            format!(
                "{DEFAULT}\n[[model]]\nname = \"t\"\nrole = \"embedding\"\nfile = \"x\"\nsha256 = \"0\"\ninput = \"i\"\nsize = [112, 112]\ndims = 4\n{good}points = [{points}]\n"
            )
        };
        let ok =
            with("{ fmr = 1e-2, cosine = 0.2, confidence = 0.5 }, { fmr = 1e-4, cosine = 0.3, confidence = 0.85 }");
        assert!(Manifest::parse(&ok).is_ok());
        for (bad, why) in [
            ("", "at least one"),
            (
                "{ fmr = 1e-2, cosine = 0.3, confidence = 0.5 }, { fmr = 1e-4, cosine = 0.2, confidence = 0.85 }",
                "cosines",
            ),
            (
                "{ fmr = 1e-2, cosine = 0.2, confidence = 0.9 }, { fmr = 1e-4, cosine = 0.3, confidence = 0.85 }",
                "confidences",
            ),
            (
                "{ fmr = 1e-4, cosine = 0.2, confidence = 0.5 }, { fmr = 1e-2, cosine = 0.3, confidence = 0.85 }",
                "false-match",
            ),
            ("{ fmr = 1e-2, cosine = -0.5, confidence = 0.5 }", "cosines"),
            ("{ fmr = 1e-2, cosine = 1.0, confidence = 0.5 }", "cosines"),
        ] {
            let err = Manifest::parse(&with(bad)).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("model 't'"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_manifests_are_refused() {
        let two = DEFAULT.replace("name = \"sface\"", "name = \"fr_feature\"");
        assert!(Manifest::parse(&two).unwrap_err().to_string().contains("twice"));
        let odd = DEFAULT.replace("format = \"ultraface\"", "format = \"yolo\"");
        assert!(Manifest::parse(&odd).unwrap_err().to_string().contains("unsupported"));
    }
}
