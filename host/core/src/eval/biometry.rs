//! `vigil eval biometry`: how well face matching separates people on an operator's own data.
//!
//! The input is a directory with one sub-directory per identity, holding photos, videos or shots
//! sets. A sub-directory whose name ends in `.group` holds identity sub-directories of its own:
//! people known to differ from each other and from the top-level identities, but who may reappear
//! in another group (faces cut from different group photos of one photo series, say); pairs across
//! two groups are left out as unlabelled. Every media goes through the server's own path — the frame decoding of analyses
//! ([`crate::frames::decode_frames`]), native detection and embedding, and the face choice of the
//! built-in BIOMETRY plugin (the largest, most confident face over the frames) — and every pair is
//! compared: pairs within an identity are genuine, pairs across identities impostors. Nothing is
//! stored. The report gives the error rates at the configured thresholds, the thresholds for
//! target false-match rates, the equal-error rate, histograms, a DET curve and a calibration
//! entry for the model manifest fitted to this population.

use super::EvalError;
use crate::CoreConfig;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigil_domain::eval::{Estimate, Method, Rates, Scores, histogram};
use vigil_inference::manifest::{Calibration, OperatingPoint, SCALE};
use vigil_inference::{Detection, Vision};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BiometryOptions {
    pub dir: PathBuf,
    /// The embedding model to evaluate.
    pub model: String,
    /// Confidence thresholds (calibrated scale) to report FMR and FNMR at.
    pub thresholds: Vec<f64>,
    /// False-match rates to find thresholds for.
    pub target_fmrs: Vec<f64>,
    /// The `version` of the calibration fitted from this run.
    pub calibration_version: String,
}

/// One media file of the directory.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// `person`, or `group.group/person` for a grouped identity.
    pub identity: String,
    #[serde(skip)]
    group: Option<String>,
    pub file: String,
    pub frames: usize,
    /// Why no face could be used (a failure to enrol), if so.
    pub error: Option<String>,
    #[serde(skip)]
    embedding: Option<Vec<f32>>,
}

/// One comparison.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Pair {
    pub a: usize,
    pub b: usize,
    pub genuine: bool,
    pub cosine: f32,
    /// On the model's calibrated scale; `None` for an uncalibrated model.
    pub confidence: Option<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub genuine: Vec<usize>,
    pub impostor: Vec<usize>,
}

/// A threshold found for a target false-match rate, on both scales.
#[derive(Debug, Clone, Serialize)]
pub struct TargetThreshold {
    pub fmr: f64,
    pub cosine: f64,
    pub confidence: Option<f64>,
    pub method: Method,
    /// FNMR of this population at that threshold.
    pub fnmr: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BiometryReport {
    pub model: String,
    /// The calibration the confidences come from (the manifest's), if the model has one.
    pub calibration: Option<String>,
    pub identities: usize,
    pub samples: Vec<Sample>,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    /// Pairs of identities from two different `.group` directories: not compared.
    pub unlabelled_pairs: usize,
    /// Rates at the configured thresholds, on the calibrated scale (on cosines when the model
    /// has no calibration).
    pub at_thresholds: Vec<Rates>,
    pub targets: Vec<TargetThreshold>,
    /// Equal-error rate; `threshold` is a cosine.
    pub eer: Option<Rates>,
    pub genuine_cosine: Option<Summary>,
    pub impostor_cosine: Option<Summary>,
    pub histogram: Histogram,
    /// A calibration entry fitted to this population (`None` when it cannot be: no impostor
    /// pairs, or they are not separated enough to place the operating points below cosine 1).
    pub fitted_calibration: Option<Calibration>,
    pub fitted_from: Vec<Estimate>,
    pub seconds: f64,
    #[serde(skip)]
    pub pairs: Vec<Pair>,
    #[serde(skip)]
    pub det: Vec<Rates>,
}

/// One identity of the directory: its name, its group (a `.group` directory) and media files.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub group: Option<String>,
    pub files: Vec<PathBuf>,
}

/// Media files per identity: `<dir>/<identity>/<file>` and `<dir>/<name>.group/<identity>/<file>`,
/// in name order; hidden entries skipped.
pub fn list_identities(dir: &Path) -> Result<Vec<Identity>, EvalError> {
    let read = |d: &Path| -> Result<Vec<PathBuf>, EvalError> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| EvalError::Io(format!("{}: {e}", d.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
            .collect();
        v.sort();
        Ok(v)
    };
    let name_of = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut out = Vec::new();
    let mut add = |sub: &Path, group: Option<&str>| -> Result<(), EvalError> {
        let files: Vec<PathBuf> = read(sub)?.into_iter().filter(|p| p.is_file()).collect();
        if !files.is_empty() {
            let name = match group {
                Some(g) => format!("{g}/{}", name_of(sub)),
                None => name_of(sub),
            };
            out.push(Identity { name, group: group.map(str::to_string), files });
        }
        Ok(())
    };
    for sub in read(dir)?.into_iter().filter(|p| p.is_dir()) {
        let name = name_of(&sub);
        if name.ends_with(".group") {
            for person in read(&sub)?.into_iter().filter(|p| p.is_dir()) {
                add(&person, Some(&name))?;
            }
        } else {
            add(&sub, None)?;
        }
    }
    if out.is_empty() {
        return Err(EvalError::Input(format!(
            "{}: no identities found; expected one sub-directory per person holding their photos, videos or shots sets",
            dir.display()
        )));
    }
    Ok(out)
}

/// The face the built-in BIOMETRY plugin would use for a media, embedded: the largest, most
/// confident face over its frames (boxes rounded to pixels as the plugin host hands them out).
async fn embed_file(
    vision: &Arc<Vision>,
    cfg: &CoreConfig,
    model: &str,
    path: &Path,
) -> Result<(Vec<f32>, usize), String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > cfg.limits.max_file_size {
        return Err(format!("{size} bytes is over the file size limit ({})", cfg.limits.max_file_size));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let kind = vigil_domain::media::sniff(&bytes[..bytes.len().min(4096)], &name).map_err(|e| e.message)?;
    let frames = crate::frames::decode_frames(bytes.into(), kind.extension(), cfg).await.map_err(|e| e.to_string())?;
    let count = frames.len();
    let frames: Vec<Arc<image::RgbImage>> = frames.into_iter().map(Arc::new).collect();
    let mut best: Option<(f32, usize, Detection)> = None;
    for (i, f) in frames.iter().enumerate() {
        let (v, f) = (vision.clone(), f.clone());
        let found = tokio::task::spawn_blocking(move || v.detect(&f))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        for d in found {
            let d = Detection {
                x: d.x.round(),
                y: d.y.round(),
                width: d.width.round(),
                height: d.height.round(),
                score: d.score,
            };
            let merit = d.width * d.height * d.score;
            if best.as_ref().is_none_or(|(b, _, _)| merit > *b) {
                best = Some((merit, i, d));
            }
        }
    }
    let Some((_, i, face)) = best else {
        return Err(format!("no face found in {count} frame(s)"));
    };
    let (v, f, m) = (vision.clone(), frames[i].clone(), model.to_string());
    let e = tokio::task::spawn_blocking(move || v.embed(&f, &face, &m))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok((e, count))
}

fn summary(v: &[f64]) -> Option<Summary> {
    // `v` is sorted ascending (Scores keeps it so).
    let n = v.len();
    (n > 0).then(|| Summary {
        count: n,
        min: v[0],
        median: if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 },
        max: v[n - 1],
    })
}

/// A calibration on Vigil's scale ([`SCALE`]) from the cosines of this population: each
/// operating point read off or extrapolated from the impostor scores ([`Scores::estimate`]),
/// kept strictly increasing; `zero` at the impostor mean.
pub fn fit_calibration(cosines: &Scores, version: &str, source: &str) -> Option<(Calibration, Vec<Estimate>)> {
    let mut points = Vec::new();
    let mut estimates = Vec::new();
    let mut prev = f64::NEG_INFINITY;
    for (fmr, confidence) in SCALE {
        let e = cosines.estimate(fmr)?;
        let cosine = e.threshold.max(prev + 1e-3);
        if cosine >= 0.999 {
            return None;
        }
        prev = cosine;
        estimates.push(e);
        points.push(OperatingPoint { fmr, cosine: round4(cosine) as f32, confidence });
    }
    let mean = cosines.impostor_moments()?.mean;
    let zero = round4(mean.min(f64::from(points[0].cosine) - 0.05).max(-0.999)) as f32;
    let c = Calibration { version: version.to_string(), source: source.to_string(), zero, points };
    c.check().ok()?;
    Some((c, estimates))
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Runs the evaluation; `progress(done, total)` is called after each media.
pub async fn biometry(
    vision: Arc<Vision>,
    cfg: &CoreConfig,
    opts: &BiometryOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BiometryReport, EvalError> {
    let started = std::time::Instant::now();
    vision.embedder_spec(&opts.model).map_err(|e| EvalError::Input(e.to_string()))?;
    let ids = list_identities(&opts.dir)?;
    let total: usize = ids.iter().map(|i| i.files.len()).sum();
    let mut samples = Vec::with_capacity(total);
    for id in &ids {
        for path in &id.files {
            let file = path.strip_prefix(&opts.dir).unwrap_or(path).to_string_lossy().into_owned();
            let (embedding, frames, error) = match embed_file(&vision, cfg, &opts.model, path).await {
                Ok((e, n)) => (Some(e), n, None),
                Err(e) => (None, 0, Some(e)),
            };
            samples.push(Sample { identity: id.name.clone(), group: id.group.clone(), file, frames, error, embedding });
            progress(samples.len(), total);
        }
    }
    let calibration = vision.calibration(&opts.model).cloned();
    let mut pairs = Vec::new();
    let mut unlabelled_pairs = 0;
    for i in 0..samples.len() {
        let Some(a) = &samples[i].embedding else { continue };
        for j in i + 1..samples.len() {
            let Some(b) = &samples[j].embedding else { continue };
            let (x, y) = (&samples[i], &samples[j]);
            let genuine = x.identity == y.identity;
            if !genuine && x.group.is_some() && y.group.is_some() && x.group != y.group {
                unlabelled_pairs += 1;
                continue;
            }
            let cosine = vigil_inference::cosine(a, b);
            let confidence = calibration.as_ref().map(|c| c.confidence(cosine));
            pairs.push(Pair { a: i, b: j, genuine, cosine, confidence });
        }
    }
    let split = |f: &dyn Fn(&Pair) -> f64| {
        let (g, i): (Vec<&Pair>, Vec<&Pair>) = pairs.iter().partition(|p| p.genuine);
        Scores::new(g.into_iter().map(f).collect(), i.into_iter().map(f).collect())
    };
    let cosines = split(&|p| f64::from(p.cosine));
    let on_scale =
        if calibration.is_some() { split(&|p| f64::from(p.confidence.unwrap_or(0.0))) } else { cosines.clone() };
    let at_thresholds = opts.thresholds.iter().map(|&t| on_scale.rates(t)).collect();
    let targets = opts
        .target_fmrs
        .iter()
        .filter_map(|&fmr| {
            let e = cosines.estimate(fmr)?;
            Some(TargetThreshold {
                fmr,
                cosine: e.threshold,
                confidence: calibration.as_ref().map(|c| f64::from(c.confidence(e.threshold as f32))),
                method: e.method,
                fnmr: cosines.rates(e.threshold).fnmr,
            })
        })
        .collect();
    let source = format!(
        "vigil eval biometry on {}: {} identities, {} media, {} genuine and {} impostor pairs",
        opts.dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        ids.len(),
        samples.iter().filter(|s| s.embedding.is_some()).count(),
        cosines.genuine().len(),
        cosines.impostor().len()
    );
    let fitted = fit_calibration(&cosines, &opts.calibration_version, &source);
    let histogram = Histogram {
        lo: -0.2,
        hi: 1.0,
        genuine: histogram(cosines.genuine(), -0.2, 1.0, 24),
        impostor: histogram(cosines.impostor(), -0.2, 1.0, 24),
    };
    Ok(BiometryReport {
        model: opts.model.clone(),
        calibration: calibration.map(|c| c.version),
        identities: ids.len(),
        genuine_pairs: cosines.genuine().len(),
        impostor_pairs: cosines.impostor().len(),
        unlabelled_pairs,
        at_thresholds,
        targets,
        eer: cosines.eer(),
        genuine_cosine: summary(cosines.genuine()),
        impostor_cosine: summary(cosines.impostor()),
        histogram,
        fitted_from: fitted.as_ref().map(|f| f.1.clone()).unwrap_or_default(),
        fitted_calibration: fitted.map(|f| f.0),
        seconds: started.elapsed().as_secs_f64(),
        det: cosines.det(),
        pairs,
        samples,
    })
}

impl BiometryReport {
    /// The report for people: what was measured and the rates, with text histograms.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let used = self.samples.iter().filter(|x| x.error.is_none()).count();
        let _ = writeln!(
            s,
            "vigil eval biometry — model {}, calibration {}",
            self.model,
            self.calibration.as_deref().unwrap_or("none")
        );
        let _ = writeln!(
            s,
            "{} identities, {} media ({} without a usable face), {} genuine and {} impostor pairs, {:.1} s",
            self.identities,
            self.samples.len(),
            self.samples.len() - used,
            self.genuine_pairs,
            self.impostor_pairs,
            self.seconds
        );
        if self.unlabelled_pairs > 0 {
            let _ = writeln!(
                s,
                "  {} pairs across different .group directories left out (identity unknown)",
                self.unlabelled_pairs
            );
        }
        for x in self.samples.iter().filter(|x| x.error.is_some()) {
            let _ = writeln!(s, "  failure to enrol: {}: {}", x.file, x.error.as_deref().unwrap_or(""));
        }
        if self.impostor_pairs == 0 {
            let _ = writeln!(s, "  no impostor pairs: false-match rates cannot be measured (add more people)");
        }
        if self.genuine_pairs == 0 {
            let _ = writeln!(
                s,
                "  no genuine pairs: false-non-match rates cannot be measured (add a second media per person)"
            );
        }
        let scale = if self.calibration.is_some() { "confidence" } else { "cosine (uncalibrated model)" };
        let _ = writeln!(s, "\nAt the configured thresholds ({scale}; score ≥ threshold is a match):");
        let _ = writeln!(s, "  {:>10}  {:>10}  {:>10}", "threshold", "FMR", "FNMR");
        for r in &self.at_thresholds {
            let _ = writeln!(s, "  {:>10.4}  {:>10.6}  {:>10.6}", r.threshold, r.fmr, r.fnmr);
        }
        let _ = writeln!(s, "\nThresholds for a target false-match rate:");
        let _ = writeln!(s, "  {:>8}  {:>8}  {:>10}  {:>8}  method", "FMR", "cosine", "confidence", "FNMR");
        for t in &self.targets {
            let conf = t.confidence.map(|c| format!("{c:.4}")).unwrap_or_else(|| "-".into());
            let _ = writeln!(s, "  {:>8.0e}  {:>8.4}  {:>10}  {:>8.4}  {:?}", t.fmr, t.cosine, conf, t.fnmr, t.method);
        }
        if let Some(e) = &self.eer {
            let _ = writeln!(s, "\nEqual-error rate: {:.4} at cosine {:.4}", e.fmr, e.threshold);
        }
        for (name, sm) in [("genuine", &self.genuine_cosine), ("impostor", &self.impostor_cosine)] {
            if let Some(x) = sm {
                let _ = writeln!(
                    s,
                    "{name:>9} cosines: n={} min {:.4} median {:.4} max {:.4}",
                    x.count, x.min, x.median, x.max
                );
            }
        }
        let _ = writeln!(s, "\nCosine histogram (G genuine, I impostor):");
        let h = &self.histogram;
        let width = (h.hi - h.lo) / h.genuine.len() as f64;
        let top = h.genuine.iter().chain(&h.impostor).copied().max().unwrap_or(1).max(1);
        for (k, (g, i)) in h.genuine.iter().zip(&h.impostor).enumerate() {
            let bar = |n: usize, c: char| c.to_string().repeat((n * 40).div_ceil(top));
            let _ = writeln!(
                s,
                "  [{:>5.2}, {:>5.2})  G {:>6} {:<40}  I {:>6} {}",
                h.lo + width * k as f64,
                h.lo + width * (k + 1) as f64,
                g,
                bar(*g, '#'),
                i,
                bar(*i, '=')
            );
        }
        match &self.fitted_calibration {
            Some(c) => {
                let _ = writeln!(s, "\nCalibration fitted to this population (version {}):", c.version);
                for (p, e) in c.points.iter().zip(&self.fitted_from) {
                    let _ = writeln!(
                        s,
                        "  FMR {:>6.0e} → cosine {:.4} → confidence {:.2} ({:?})",
                        p.fmr, p.cosine, p.confidence, e.method
                    );
                }
            }
            None => {
                let _ =
                    writeln!(s, "\nNo calibration could be fitted (too few impostor pairs, or too little separation).");
            }
        }
        s
    }

    /// Every comparison as CSV: kind, the two files, cosine, confidence.
    pub fn csv(&self) -> String {
        let mut s = String::from("kind,a,b,cosine,confidence\n");
        for p in &self.pairs {
            let q = |i: usize| format!("\"{}\"", self.samples[i].file.replace('"', "\"\""));
            s.push_str(&format!(
                "{},{},{},{:.6},{}\n",
                if p.genuine { "genuine" } else { "impostor" },
                q(p.a),
                q(p.b),
                p.cosine,
                p.confidence.map(|c| format!("{c:.6}")).unwrap_or_default()
            ));
        }
        s
    }

    /// The fitted calibration as a `models.toml` entry to paste under the model's `[[model]]`.
    pub fn calibration_toml(&self) -> Option<String> {
        let c = self.fitted_calibration.as_ref()?;
        let mut s = format!(
            "# Fitted by `vigil eval biometry` for model '{}'. Paste under its [[model]] entry in the model\n\
             # manifest (VIGIL_MODELS_MANIFEST). Extrapolated points rest on a normal tail fitted to the\n\
             # impostor scores: measure more impostor pairs to read them off the data instead.\n",
            self.model
        );
        for (p, e) in c.points.iter().zip(&self.fitted_from) {
            s.push_str(&format!("#   FMR {:.0e}: {:?}\n", p.fmr, e.method));
        }
        s.push_str("[model.calibration]\n");
        s.push_str(&format!("version = {}\n", toml_str(&c.version)));
        s.push_str(&format!("source = {}\n", toml_str(&c.source)));
        s.push_str(&format!("zero = {}\n", c.zero));
        s.push_str("points = [\n");
        for p in &c.points {
            s.push_str(&format!("  {{ fmr = {:e}, cosine = {}, confidence = {} }},\n", p.fmr, p.cosine, p.confidence));
        }
        s.push_str("]\n");
        Some(s)
    }

    /// The DET curve (FNMR against FMR, both on log scales) as a PNG.
    pub fn det_png(&self) -> Vec<u8> {
        crate::plot::det_png(&self.det, self.eer.as_ref())
    }
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
