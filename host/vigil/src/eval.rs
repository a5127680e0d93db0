//! `vigil eval …`: error rates measured with the server's own pipelines on labelled data. Nothing
//! is enrolled or stored; results go to the terminal and to an output directory.

use crate::Settings;
use anyhow::{Context, Result, anyhow};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
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

/// A progress bar on stderr: redrawn in place on a terminal, a line per tenth otherwise.
fn progress_bar() -> impl FnMut(usize, usize) {
    let tty = std::io::stderr().is_terminal();
    let mut shown = 0;
    move |done, total| {
        let total = total.max(1);
        let mut err = std::io::stderr();
        if tty {
            let filled = done * 30 / total;
            let _ = write!(err, "\r[{}{}] {done}/{total} media", "#".repeat(filled), ".".repeat(30 - filled));
            if done == total {
                let _ = writeln!(err);
            }
        } else if done * 10 / total > shown || done == total {
            shown = done * 10 / total;
            let _ = writeln!(err, "embedded {done}/{total} media");
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
    let mut bar = progress_bar();
    let report = run_biometry(vision, &s.core, &opts, &mut bar).await.map_err(|e| anyhow!("{e}"))?;
    let text = report.text();
    print!("{text}");
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let p = out.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))
    };
    write("report.txt", text.as_bytes())?;
    write("report.json", serde_json::to_string_pretty(&report)?.as_bytes())?;
    write("scores.csv", report.csv().as_bytes())?;
    write("det.png", &report.det_png())?;
    eprintln!("\nwrote report.txt, report.json, scores.csv and det.png to {}", out.display());
    if let Some(path) = args.write_calibration {
        let toml = report
            .calibration_toml()
            .ok_or_else(|| anyhow!("no calibration could be fitted from this data (see the report)"))?;
        std::fs::write(&path, toml).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote the fitted calibration to {}", path.display());
    }
    Ok(())
}
