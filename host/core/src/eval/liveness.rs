//! `vigil eval liveness`: presentation-attack detection measured the ISO/IEC 30107-3 way.
//!
//! The input is a directory with a `bona_fide` sub-directory and one sub-directory per attack
//! species (`print`, `screen`, …) holding videos, shots sets or photos. Every file goes through
//! the server's own path: the analyses' frame decoding ([`crate::frames::decode_frames`]) and the
//! QUALITY component itself, run in the plugin host with the native vision services. Nothing is
//! stored. Each presentation gets two scores from the same run: the component's
//! `confidence_spoofing` (every cue) and the passive model's mean alone (`liveness.passive`), so
//! the report compares them side by side.
//!
//! Rates: APCER per species (attacks scored below the threshold, i.e. accepted), the worst
//! species (ISO's APCER of the PAI species with the highest rate), BPCER (bona fide at or above
//! it), APCER at fixed BPCER, a threshold table, the equal-error rate and a DET curve. A
//! presentation the component could not process (no face, a broken file) is counted as rejected
//! — an attack that fails is not accepted, a person who fails is turned away — and listed.

use super::EvalError;
use crate::CoreConfig;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;
use vigil_domain::eval::{Rates, Scores};
use vigil_domain::media::{MediaType, Sniffed};
use vigil_plugin_host::{AnalysisInput, MediaInput, MediaKind, Plugin, PluginHost};

/// The sub-directory of bona fide presentations.
pub const BONA_FIDE: &str = "bona_fide";

#[derive(Debug, Clone)]
pub struct LivenessOptions {
    pub dir: PathBuf,
    /// The decision threshold on `confidence_spoofing` (the configured QUALITY threshold).
    pub threshold: f64,
    /// Tags every media carries (default: a passive selfie video).
    pub tags: Vec<String>,
    /// BPCERs to report the APCER at.
    pub bpcer_targets: Vec<f64>,
}

/// One file and what the component said.
#[derive(Debug, Clone, Serialize)]
pub struct Presentation {
    /// `bona_fide` or the attack species.
    pub species: String,
    pub file: String,
    /// `confidence_spoofing` with every cue; 1 when the presentation could not be processed.
    pub score: f64,
    /// The passive model alone.
    pub passive: f64,
    pub declined_by: Option<String>,
    pub error: Option<String>,
    /// The component's per-cue `liveness` object.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub cues: Value,
}

/// APCER of one species at the threshold, both ways.
#[derive(Debug, Clone, Serialize)]
pub struct SpeciesRate {
    pub species: String,
    pub attacks: usize,
    pub apcer: f64,
    pub apcer_passive: f64,
}

/// One row of the threshold table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub threshold: f64,
    pub bpcer: f64,
    /// Per species, in the order of `species`.
    pub apcer: Vec<f64>,
    pub apcer_worst: f64,
}

/// The APCER when the threshold is set for a BPCER target.
#[derive(Debug, Clone, Serialize)]
pub struct AtBpcer {
    pub bpcer_target: f64,
    pub threshold: Option<f64>,
    pub bpcer: f64,
    pub apcer_worst: f64,
    pub threshold_passive: Option<f64>,
    pub bpcer_passive: f64,
    pub apcer_worst_passive: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LivenessReport {
    pub threshold: f64,
    pub tags: Vec<String>,
    pub bona_fide: usize,
    pub bpcer: f64,
    pub bpcer_passive: f64,
    pub species: Vec<SpeciesRate>,
    /// The worst species' APCER (ISO/IEC 30107-3 reports the maximum over species).
    pub apcer_worst: f64,
    pub apcer_worst_passive: f64,
    pub at_bpcer: Vec<AtBpcer>,
    pub table: Vec<Row>,
    pub table_passive: Vec<Row>,
    /// Equal-error rate over all attacks pooled (`fmr` = BPCER, `fnmr` = APCER).
    pub eer: Option<Rates>,
    pub eer_passive: Option<Rates>,
    /// Which cue declined how many presentations, per species.
    pub declined_by: Vec<(String, String, usize)>,
    pub presentations: Vec<Presentation>,
    pub seconds: f64,
    #[serde(skip)]
    det: Vec<Rates>,
    #[serde(skip)]
    det_passive: Vec<Rates>,
}

fn media_files(dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    let rd = std::fs::read_dir(dir).map_err(|e| EvalError::Io(format!("{}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    Ok(files)
}

/// (species, files): `bona_fide` first, then the attack species in name order.
pub fn list_species(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, EvalError> {
    if !dir.is_dir() {
        return Err(EvalError::Input(format!("{} is not a directory", dir.display())));
    }
    let rd = std::fs::read_dir(dir).map_err(|e| EvalError::Io(format!("{}: {e}", dir.display())))?;
    let mut subs: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    subs.sort();
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let Some(bona) = subs.iter().find(|p| name(p) == BONA_FIDE) else {
        return Err(EvalError::Input(format!(
            "{} has no {BONA_FIDE}/ directory: put bona fide presentations there and each attack species in a directory of its own",
            dir.display()
        )));
    };
    let mut out = vec![(BONA_FIDE.to_string(), media_files(bona)?)];
    for p in subs.iter().filter(|p| name(p) != BONA_FIDE && !name(p).starts_with('.')) {
        out.push((name(p), media_files(p)?));
    }
    if out.len() < 2 {
        return Err(EvalError::Input(format!("{} has no attack species directory beside {BONA_FIDE}/", dir.display())));
    }
    if out.iter().any(|(_, f)| f.is_empty()) {
        let empty: Vec<&str> = out.iter().filter(|(_, f)| f.is_empty()).map(|(s, _)| s.as_str()).collect();
        return Err(EvalError::Input(format!("no media files in {}", empty.join(", "))));
    }
    Ok(out)
}

/// Runs one file through the component: (score, passive, declined_by, cues).
async fn present(
    host: &PluginHost,
    plugin: &Plugin,
    cfg: &CoreConfig,
    tags: &[String],
    path: &Path,
) -> Result<(f64, f64, Option<String>, Value), String> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let kind = match Sniffed::from_extension(&ext).map(Sniffed::media_type) {
        Some(MediaType::Video) => MediaKind::Video,
        Some(MediaType::ShotsSet) => MediaKind::ShotsSet,
        Some(_) => MediaKind::Image,
        None => return Err(format!("not a media file (.{ext})")),
    };
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let frames = crate::frames::decode_frames(bytes.into(), &ext, cfg).await.map_err(|e| e.to_string())?;
    let input = AnalysisInput {
        analysis_type: "QUALITY".into(),
        media: vec![MediaInput {
            id: "eval".into(),
            kind,
            tags: tags.to_vec(),
            frames: frames.into_iter().map(Arc::new).collect(),
        }],
        params_json: json!({"extract_best_shot": false}).to_string(),
    };
    let out = host.analyze(plugin, Uuid::nil(), input).await.map_err(|e| e.to_string())?;
    let data: Value = out
        .media_results
        .first()
        .and_then(|m| serde_json::from_str(&m.results_json).ok())
        .ok_or("the component returned no media result")?;
    let score = data["confidence_spoofing"].as_f64().ok_or("no confidence_spoofing in the result")?;
    let cues = data["liveness"].clone();
    // A component without the cues (an older QUALITY) is its own passive score.
    let passive = cues["passive"].as_f64().unwrap_or(score);
    let declined_by = cues["declined_by"].as_str().map(str::to_string);
    Ok((score, passive, declined_by, cues))
}

fn rates_table(bona: &[f64], species: &[(String, Vec<f64>)], thresholds: &[f64]) -> Vec<Row> {
    thresholds
        .iter()
        .map(|&t| {
            let apcer: Vec<f64> =
                species.iter().map(|(_, a)| Scores::new(a.clone(), bona.to_vec()).rates(t).fnmr).collect();
            Row {
                threshold: t,
                bpcer: Scores::new(Vec::new(), bona.to_vec()).rates(t).fmr,
                apcer_worst: apcer.iter().copied().fold(0.0, f64::max),
                apcer,
            }
        })
        .collect()
}

fn worst_apcer(bona: &[f64], species: &[(String, Vec<f64>)], t: f64) -> f64 {
    species.iter().map(|(_, a)| Scores::new(a.clone(), bona.to_vec()).rates(t).fnmr).fold(0.0, f64::max)
}

/// Runs the evaluation; `progress(done, total)` is called after each file.
pub async fn liveness(
    host: &PluginHost,
    plugin: &Plugin,
    cfg: &CoreConfig,
    opts: &LivenessOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<LivenessReport, EvalError> {
    let started = std::time::Instant::now();
    if !(0.0..=1.0).contains(&opts.threshold) {
        return Err(EvalError::Input(format!("the threshold must be within [0, 1], got {}", opts.threshold)));
    }
    let sets = list_species(&opts.dir)?;
    let total: usize = sets.iter().map(|(_, f)| f.len()).sum();
    let mut presentations = Vec::with_capacity(total);
    for (species, files) in &sets {
        for path in files {
            let file = path.strip_prefix(&opts.dir).unwrap_or(path).to_string_lossy().into_owned();
            let p = match present(host, plugin, cfg, &opts.tags, path).await {
                Ok((score, passive, declined_by, cues)) => {
                    Presentation { species: species.clone(), file, score, passive, declined_by, error: None, cues }
                }
                Err(e) => Presentation {
                    species: species.clone(),
                    file,
                    score: 1.0,
                    passive: 1.0,
                    declined_by: None,
                    error: Some(e),
                    cues: Value::Null,
                },
            };
            presentations.push(p);
            progress(presentations.len(), total);
        }
    }
    let scores = |sp: &str, passive: bool| -> Vec<f64> {
        presentations.iter().filter(|p| p.species == sp).map(|p| if passive { p.passive } else { p.score }).collect()
    };
    let attack_species: Vec<String> = sets.iter().skip(1).map(|(s, _)| s.clone()).collect();
    let (bona, bona_p) = (scores(BONA_FIDE, false), scores(BONA_FIDE, true));
    let per: Vec<(String, Vec<f64>)> = attack_species.iter().map(|s| (s.clone(), scores(s, false))).collect();
    let per_p: Vec<(String, Vec<f64>)> = attack_species.iter().map(|s| (s.clone(), scores(s, true))).collect();
    let t = opts.threshold;
    let species: Vec<SpeciesRate> = attack_species
        .iter()
        .enumerate()
        .map(|(i, s)| SpeciesRate {
            species: s.clone(),
            attacks: per[i].1.len(),
            apcer: Scores::new(per[i].1.clone(), bona.clone()).rates(t).fnmr,
            apcer_passive: Scores::new(per_p[i].1.clone(), bona_p.clone()).rates(t).fnmr,
        })
        .collect();
    let pooled = |v: &[(String, Vec<f64>)]| v.iter().flat_map(|(_, a)| a.iter().copied()).collect::<Vec<f64>>();
    let all = Scores::new(pooled(&per), bona.clone());
    let all_p = Scores::new(pooled(&per_p), bona_p.clone());
    let at_bpcer = opts
        .bpcer_targets
        .iter()
        .map(|&target| {
            // The bona fide play the impostors' part: their false "attack" calls are the BPCER.
            let th = Scores::new(Vec::new(), bona.clone()).threshold_for_fmr(target);
            let th_p = Scores::new(Vec::new(), bona_p.clone()).threshold_for_fmr(target);
            AtBpcer {
                bpcer_target: target,
                threshold: th,
                bpcer: th.map_or(0.0, |x| all.rates(x).fmr),
                apcer_worst: th.map_or(1.0, |x| worst_apcer(&bona, &per, x)),
                threshold_passive: th_p,
                bpcer_passive: th_p.map_or(0.0, |x| all_p.rates(x).fmr),
                apcer_worst_passive: th_p.map_or(1.0, |x| worst_apcer(&bona_p, &per_p, x)),
            }
        })
        .collect();
    let grid = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];
    let mut declined_by: Vec<(String, String, usize)> = Vec::new();
    for p in &presentations {
        if let Some(by) = &p.declined_by {
            match declined_by.iter_mut().find(|(s, b, _)| *s == p.species && b == by) {
                Some(e) => e.2 += 1,
                None => declined_by.push((p.species.clone(), by.clone(), 1)),
            }
        }
    }
    Ok(LivenessReport {
        threshold: t,
        tags: opts.tags.clone(),
        bona_fide: bona.len(),
        bpcer: all.rates(t).fmr,
        bpcer_passive: all_p.rates(t).fmr,
        apcer_worst: species.iter().map(|s| s.apcer).fold(0.0, f64::max),
        apcer_worst_passive: species.iter().map(|s| s.apcer_passive).fold(0.0, f64::max),
        species,
        at_bpcer,
        table: rates_table(&bona, &per, &grid),
        table_passive: rates_table(&bona_p, &per_p, &grid),
        eer: all.eer(),
        eer_passive: all_p.eer(),
        declined_by,
        presentations,
        seconds: started.elapsed().as_secs_f64(),
        det: all.det(),
        det_passive: all_p.det(),
    })
}

fn pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

impl LivenessReport {
    pub fn text(&self) -> String {
        let mut s = String::new();
        let attacks: usize = self.species.iter().map(|x| x.attacks).sum();
        s.push_str("Vigil liveness evaluation (ISO/IEC 30107-3 metrics)\n");
        s.push_str(&format!(
            "{} bona fide and {attacks} attack presentations ({} species), tags {:?}, {:.0} s\n\n",
            self.bona_fide,
            self.species.len(),
            self.tags,
            self.seconds
        ));
        s.push_str(&format!(
            "At the threshold {} (confidence_spoofing at or above it is an attack):\n",
            self.threshold
        ));
        s.push_str(&format!("  {:<14} {:>8} {:>16} {:>16}\n", "", "count", "passive only", "all cues"));
        s.push_str(&format!(
            "  {:<14} {:>8} {:>16} {:>16}\n",
            "BPCER",
            self.bona_fide,
            pct(self.bpcer_passive),
            pct(self.bpcer)
        ));
        for sp in &self.species {
            s.push_str(&format!(
                "  {:<14} {:>8} {:>16} {:>16}\n",
                format!("APCER {}", sp.species),
                sp.attacks,
                pct(sp.apcer_passive),
                pct(sp.apcer)
            ));
        }
        s.push_str(&format!(
            "  {:<14} {:>8} {:>16} {:>16}\n\n",
            "APCER (worst)",
            attacks,
            pct(self.apcer_worst_passive),
            pct(self.apcer_worst)
        ));
        s.push_str("APCER (worst species) with the threshold set for a BPCER:\n");
        for a in &self.at_bpcer {
            let th = |t: Option<f64>| t.map_or("-".to_string(), |t| format!("{t:.4}"));
            s.push_str(&format!(
                "  BPCER ≤ {:<6} passive: threshold {}, APCER {}   all cues: threshold {}, APCER {}\n",
                pct(a.bpcer_target),
                th(a.threshold_passive),
                pct(a.apcer_worst_passive),
                th(a.threshold),
                pct(a.apcer_worst)
            ));
        }
        let eer =
            |e: &Option<Rates>| e.as_ref().map_or("-".to_string(), |e| format!("{} at {:.4}", pct(e.fmr), e.threshold));
        s.push_str(&format!(
            "\nEqual-error rate (attacks pooled): passive {}, all cues {}\n",
            eer(&self.eer_passive),
            eer(&self.eer)
        ));
        let names: Vec<&str> = self.species.iter().map(|x| x.species.as_str()).collect();
        for (title, table) in [("all cues", &self.table), ("passive only", &self.table_passive)] {
            s.push_str(&format!(
                "\nThreshold table ({title}): threshold, BPCER, APCER per species ({})\n",
                names.join(", ")
            ));
            for r in table.iter() {
                let per: Vec<String> = r.apcer.iter().map(|v| pct(*v)).collect();
                s.push_str(&format!("  {:>5}  {:>8}  {}\n", r.threshold, pct(r.bpcer), per.join("  ")));
            }
        }
        if !self.declined_by.is_empty() {
            s.push_str("\nVetoes and gesture refusals (species, by, count):\n");
            for (sp, by, n) in &self.declined_by {
                s.push_str(&format!("  {sp:<14} {by:<12} {n}\n"));
            }
        }
        let failed: Vec<&Presentation> = self.presentations.iter().filter(|p| p.error.is_some()).collect();
        if !failed.is_empty() {
            s.push_str(&format!("\nNot processed ({}; counted as rejected):\n", failed.len()));
            for p in failed {
                s.push_str(&format!("  {}: {}\n", p.file, p.error.as_deref().unwrap_or("")));
            }
        }
        let missed: Vec<&Presentation> =
            self.presentations.iter().filter(|p| p.species != BONA_FIDE && p.score < self.threshold).collect();
        if !missed.is_empty() {
            s.push_str("\nAttacks accepted at the threshold:\n");
            for p in missed {
                s.push_str(&format!("  {} (score {:.4}, passive {:.4})\n", p.file, p.score, p.passive));
            }
        }
        let rejected: Vec<&Presentation> =
            self.presentations.iter().filter(|p| p.species == BONA_FIDE && p.score >= self.threshold).collect();
        if !rejected.is_empty() {
            s.push_str("\nBona fide rejected at the threshold:\n");
            for p in rejected {
                s.push_str(&format!(
                    "  {} (score {:.4}, passive {:.4}{})\n",
                    p.file,
                    p.score,
                    p.passive,
                    p.declined_by.as_deref().map(|b| format!(", declined by {b}")).unwrap_or_default()
                ));
            }
        }
        s
    }

    /// Per presentation: species, file, score, passive, declined_by, error.
    pub fn csv(&self) -> String {
        let mut s = String::from("species,file,score,passive,declined_by,error\n");
        for p in &self.presentations {
            let q = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
            s.push_str(&format!(
                "{},{},{},{},{},{}\n",
                q(&p.species),
                q(&p.file),
                p.score,
                p.passive,
                p.declined_by.as_deref().unwrap_or(""),
                q(p.error.as_deref().unwrap_or(""))
            ));
        }
        s
    }

    /// The DET curve (APCER against BPCER, all attacks pooled), all cues in blue and the passive
    /// model alone in grey.
    pub fn det_png(&self) -> Vec<u8> {
        crate::plot::det_png_pad(&self.det, self.eer.as_ref(), &self.det_passive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_needs_bona_fide_and_an_attack_species() {
        let dir = tempfile::tempdir().unwrap();
        let err = list_species(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no bona_fide/"), "{err}");
        std::fs::create_dir(dir.path().join("bona_fide")).unwrap();
        std::fs::write(dir.path().join("bona_fide/a.mp4"), b"x").unwrap();
        assert!(list_species(dir.path()).unwrap_err().to_string().contains("no attack species"));
        std::fs::create_dir(dir.path().join("print")).unwrap();
        assert!(list_species(dir.path()).unwrap_err().to_string().contains("no media files in print"));
        std::fs::write(dir.path().join("print/b.mp4"), b"x").unwrap();
        std::fs::write(dir.path().join("print/.hidden"), b"x").unwrap();
        let sets = list_species(dir.path()).unwrap();
        assert_eq!(
            sets.iter().map(|(s, f)| (s.as_str(), f.len())).collect::<Vec<_>>(),
            vec![("bona_fide", 1), ("print", 1)]
        );
        assert!(list_species(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn apcer_is_per_species_and_the_worst_one_is_reported() {
        let bona = vec![0.1, 0.2, 0.6, 0.05];
        let species =
            vec![("print".to_string(), vec![0.9, 0.4, 0.8, 0.7]), ("screen".to_string(), vec![0.3, 0.2, 0.9, 0.95])];
        let rows = rates_table(&bona, &species, &[0.5]);
        // At 0.5: one bona fide of four rejected; print accepts 1 of 4, screen 2 of 4.
        assert_eq!(rows[0].bpcer, 0.25);
        assert_eq!(rows[0].apcer, vec![0.25, 0.5]);
        assert_eq!(rows[0].apcer_worst, 0.5);
        assert_eq!(worst_apcer(&bona, &species, 0.35), 0.5);
    }
}
