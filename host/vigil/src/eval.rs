//! `vigil eval …`: error rates measured with the server's own pipelines on labelled data. Nothing
//! is enrolled or stored; results go to the terminal and to an output directory.

use crate::Settings;
use anyhow::{Context, Result, anyhow};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use vigil_core::eval::liveness::{LivenessOptions, liveness as run_liveness};
use vigil_core::eval::{BiometryOptions, biometry as run_biometry};

/// `vigil eval biometry`: face matching — FMR and FNMR, thresholds for target FMRs, EER,
/// histograms, a DET curve and a fitted calibration, from a directory with one sub-directory of
/// photos, videos or shots sets per person.
#[derive(clap::Args)]
pub struct BiometryArgs {
    /// The directory of identities: DIR/<person>/<media files> (DIR/<name>.group/<person>/… for
    /// people who may reappear in another group).
    pub dir: PathBuf,
    /// Embedding model (default: the server's default embedder).
    #[arg(long)]
    pub model: Option<String>,
    /// Where report.txt, report.json, scores.csv and det.png go.
    #[arg(long, default_value = "vigil-eval-biometry")]
    pub out: PathBuf,
    /// A confidence threshold to report FMR/FNMR at (repeatable; default 0.5, 0.7, 0.85 and the
    /// configured BIOMETRY threshold).
    #[arg(long = "threshold")]
    pub thresholds: Vec<f64>,
    /// A false-match rate to find the threshold for (repeatable; default 1e-2, 1e-3, 1e-4).
    #[arg(long = "target-fmr")]
    pub target_fmrs: Vec<f64>,
    /// Write a calibration entry for the model manifest fitted to this data.
    #[arg(long)]
    pub write_calibration: Option<PathBuf>,
    /// The version recorded in that entry (default <model>/eval-<date>).
    #[arg(long)]
    pub calibration_version: Option<String>,
}

/// `vigil eval liveness`: presentation-attack detection — APCER per attack species, BPCER,
/// APCER at fixed BPCER, a threshold table and a DET curve, the QUALITY component with every
/// cue beside its passive model alone, from a directory of bona fide and attack media.
#[derive(clap::Args)]
pub struct LivenessArgs {
    /// DIR/bona_fide/<media> and DIR/<attack species>/<media> (videos, shots sets or photos).
    pub dir: PathBuf,
    /// Where report.txt, report.json, scores.csv and det.png go.
    #[arg(long, default_value = "vigil-eval-liveness")]
    pub out: PathBuf,
    /// The decision threshold (default: the QUALITY component's configured threshold, else 0.5).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// A tag every media carries (repeatable; default video_selfie, video_selfie_blank: passive
    /// liveness). A gesture tag makes the gesture checks part of the decision.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// A BPCER to report the APCER at (repeatable; default 1 %, 5 %, 10 %).
    #[arg(long = "bpcer")]
    pub bpcers: Vec<f64>,
    /// Evaluate this analysis component instead of the built-in QUALITY (a customer's plugin).
    #[arg(long)]
    pub plugin: Option<PathBuf>,
}

/// A progress bar on stderr: redrawn in place on a terminal, a line per tenth otherwise.
pub(crate) fn progress_bar(what: &'static str, unit: &'static str) -> impl FnMut(usize, usize) {
    let tty = std::io::stderr().is_terminal();
    let mut shown = 0;
    move |done, total| {
        let total = total.max(1);
        let mut err = std::io::stderr();
        if tty {
            let filled = done * 30 / total;
            let _ = write!(err, "\r[{}{}] {done}/{total} {unit}", "#".repeat(filled), ".".repeat(30 - filled));
            if done == total {
                let _ = writeln!(err);
            }
        } else if done * 10 / total > shown || done == total {
            shown = done * 10 / total;
            let _ = writeln!(err, "{what} {done}/{total} {unit}");
        }
    }
}

/// The configured BIOMETRY thresholds: the built-in plugin's `threshold` and `grey_zone_min`.
fn configured_thresholds(s: &Settings) -> Vec<f64> {
    let cfg = s.builtin_config.get("biometry");
    ["threshold", "grey_zone_min"]
        .iter()
        .filter_map(|k| cfg.and_then(|c| c.get(*k)).and_then(|v| v.parse::<f64>().ok()))
        .collect()
}

pub async fn biometry(s: &Settings, args: BiometryArgs) -> Result<()> {
    let vision = crate::load_vision(s)?;
    let model = match args.model {
        Some(m) => m,
        None => vigil_core::vision::NativeVision::new(vision.clone(), s.embedding.clone())
            .map_err(|e| anyhow!(e))?
            .model_for(uuid::Uuid::nil()),
    };
    let mut thresholds = if args.thresholds.is_empty() {
        // The scale's confidences are f32; 0.85 should read 0.85, not 0.8500000238.
        vigil_inference::manifest::SCALE.iter().map(|(_, c)| (f64::from(*c) * 1e6).round() / 1e6).collect()
    } else {
        args.thresholds
    };
    thresholds.extend(configured_thresholds(s));
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let target_fmrs = if args.target_fmrs.is_empty() { vec![1e-2, 1e-3, 1e-4] } else { args.target_fmrs };
    for f in &target_fmrs {
        if !(*f > 0.0 && *f < 1.0) {
            return Err(anyhow!("--target-fmr must be within (0, 1), got {f}"));
        }
    }
    let today = time::OffsetDateTime::now_utc().date();
    let opts = BiometryOptions {
        dir: args.dir,
        calibration_version: args.calibration_version.unwrap_or_else(|| format!("{model}/eval-{today}")),
        model,
        thresholds,
        target_fmrs,
    };
    let mut bar = progress_bar("embedded", "media");
    let report = run_biometry(vision, &s.core, &opts, &mut bar).await.map_err(|e| anyhow!("{e}"))?;
    let json = serde_json::to_string_pretty(&report)?;
    write_report(&args.out, &report.text(), &json, &report.csv(), &report.det_png())?;
    if let Some(path) = args.write_calibration {
        let toml = report
            .calibration_toml()
            .ok_or_else(|| anyhow!("no calibration could be fitted from this data (see the report)"))?;
        std::fs::write(&path, toml).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote the fitted calibration to {}", path.display());
    }
    Ok(())
}

/// The component to evaluate: `--plugin`, else the built-in QUALITY with its configuration.
fn quality_component(
    s: &Settings,
    file: Option<&PathBuf>,
) -> Result<(Vec<u8>, std::collections::BTreeMap<String, String>)> {
    if let Some(f) = file {
        return Ok((std::fs::read(f).with_context(|| format!("reading {}", f.display()))?, Default::default()));
    }
    let manifest = s.builtins.as_ref().ok_or_else(|| {
        anyhow!("no built-ins manifest configured (VIGIL_BUILTINS): name the component with --plugin")
    })?;
    let all = crate::builtins::load(manifest, s.plugins_dir.as_deref(), &s.builtin_config)?;
    let q = all
        .into_iter()
        .find(|b| b.name == "quality" && b.kind == "analysis")
        .ok_or_else(|| anyhow!("{} lists no 'quality' analysis component", manifest.display()))?;
    Ok((q.wasm, q.config))
}

pub async fn liveness(s: &Settings, args: LivenessArgs) -> Result<()> {
    let (wasm, config) = quality_component(s, args.plugin.as_ref())?;
    let threshold = match args.threshold {
        Some(t) => t,
        None => config.get("threshold").and_then(|v| v.parse().ok()).unwrap_or(0.5),
    };
    let bpcer_targets = if args.bpcers.is_empty() { vec![0.01, 0.05, 0.1] } else { args.bpcers };
    for b in &bpcer_targets {
        if !(*b > 0.0 && *b < 1.0) {
            return Err(anyhow!("--bpcer must be within (0, 1), got {b}"));
        }
    }
    let vision =
        vigil_core::vision::NativeVision::new(crate::load_vision(s)?, s.embedding.clone()).map_err(|e| anyhow!(e))?;
    let host = vigil_plugin_host::PluginHost::new(std::sync::Arc::new(vision), 1)
        .map_err(|e| anyhow!("starting the plugin host: {e}"))?;
    let compiled =
        host.compile(vigil_plugin_host::Kind::Analysis, &wasm).map_err(|e| anyhow!("the component cannot run: {e}"))?;
    let meta = vigil_plugin_host::PluginMeta {
        id: uuid::Uuid::nil(),
        company_id: None,
        name: "quality".into(),
        version: "eval".into(),
        kind: vigil_plugin_host::Kind::Analysis,
        sha256: compiled.sha256.clone(),
        config,
    };
    let plugin = host.plugin(meta, compiled.into());
    let tags = if args.tags.is_empty() {
        vec!["video_selfie".to_string(), "video_selfie_blank".to_string()]
    } else {
        args.tags
    };
    let opts = LivenessOptions { dir: args.dir, threshold, tags, bpcer_targets };
    let mut bar = progress_bar("analysed", "media");
    let report = run_liveness(&host, &plugin, &s.core, &opts, &mut bar).await.map_err(|e| anyhow!("{e}"))?;
    let json = serde_json::to_string_pretty(&report)?;
    write_report(&args.out, &report.text(), &json, &report.csv(), &report.det_png())
}

/// Prints the report and writes report.txt, report.json, scores.csv and det.png to `out`.
fn write_report(out: &std::path::Path, text: &str, json: &str, csv: &str, png: &[u8]) -> Result<()> {
    print!("{text}");
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let files = [
        ("report.txt", text.as_bytes()),
        ("report.json", json.as_bytes()),
        ("scores.csv", csv.as_bytes()),
        ("det.png", png),
    ];
    for (name, bytes) in files {
        let p = out.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
    }
    eprintln!("\nwrote report.txt, report.json, scores.csv and det.png to {}", out.display());
    Ok(())
}
