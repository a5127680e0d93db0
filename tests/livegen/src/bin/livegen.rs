//! `livegen OUT [--per N] [--seed S]`: writes a labelled liveness set for `vigil eval liveness`:
//! `OUT/bona_fide/` (every test photo turned as a head: sway, gestures, blink, smile, zoom; plus
//! windows of the real `carphone.mp4` video) and one directory per attack species
//! (`OUT/print/`, `OUT/screen/`: each photo moved as a plane, tilts of 8–35°). Every take is
//! filmed with a hand-held camera (from still to 1.5° and 6 px of wobble).

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use vigil_livegen::{Act, FACES, Species, attack, bona_fide, encode, load};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let (mut per, mut seed) = (4usize, 2026u64);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--per" => per = args.next().context("--per N")?.parse()?,
            "--seed" => seed = args.next().context("--seed S")?.parse()?,
            _ if out.is_none() => out = Some(PathBuf::from(a)),
            _ => bail!("usage: livegen OUT [--per N] [--seed S]"),
        }
    }
    let out = out.context("usage: livegen OUT [--per N] [--seed S]")?;
    let assets = std::env::var("VIGIL_ASSETS_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("assets"));
    let testdata = assets.join("testdata");
    let acts = [Act::Sway, Act::Left, Act::Right, Act::Up, Act::Down, Act::Blink, Act::Smile, Act::ZoomIn];
    let bona = out.join("bona_fide");
    std::fs::create_dir_all(&bona)?;
    let mut n = 0u64;
    for face in &FACES {
        let photo = load(&testdata.join(face.file))?;
        let stem = face.file.split('.').next().unwrap_or("face");
        for (i, act) in acts.iter().cycle().skip(n as usize % acts.len()).take(per).enumerate() {
            n += 1;
            let frames = bona_fide(&photo, face, *act, seed + n, true);
            encode(&frames, &bona.join(format!("{stem}_{act:?}_{i}.mp4").to_lowercase()))?;
        }
        for species in [Species::Print, Species::Screen] {
            let dir = out.join(species.name());
            std::fs::create_dir_all(&dir)?;
            for i in 0..per {
                n += 1;
                // Tilts spread over 8–35°: how far a hand-held print or phone swings.
                let tilt = 8.0 + 27.0 * (i as f32 + 0.5) / per as f32;
                let frames = attack(&photo, face, species, tilt, seed + n, true);
                encode(&frames, &dir.join(format!("{stem}_{i}_tilt{}.mp4", tilt.round())))?;
            }
        }
        eprintln!("{stem}: done");
    }
    // A real face video: overlapping 2.5 s windows of carphone.mp4 (176×144, 4 s).
    let carphone = testdata.join("carphone.mp4");
    for (i, start) in [0.0f32, 0.75, 1.5].iter().enumerate() {
        let st = std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-ss", &start.to_string(), "-t", "2.5", "-i"])
            .arg(&carphone)
            .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-an"])
            .arg(bona.join(format!("carphone_{i}.mp4")))
            .status()
            .context("ffmpeg")?;
        if !st.success() {
            bail!("ffmpeg could not cut {}", carphone.display());
        }
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}
