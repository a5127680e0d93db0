//! Video decoding benchmark (`make bench`): frames per second through the ffmpeg subprocess from
//! a 5 s 720p H.264 video made from a public-domain portrait, and the default sampling an
//! analysis uses.
#![allow(clippy::unwrap_used)]

use std::time::Instant;
use vigil_media::video::{VideoLimits, sample_frames};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let assets = std::env::var("VIGIL_ASSETS_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets").to_string());
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("v.mp4");
    let st = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-loop", "1", "-i"])
        .arg(format!("{assets}/testdata/astronaut.png"))
        .args(["-t", "5", "-r", "30", "-vf"])
        .arg(
            "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,noise=alls=12:allf=t",
        )
        .args(["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p"])
        .arg(&video)
        .status()
        .unwrap();
    assert!(st.success());
    println!("5 s 1280×720 30 fps H.264 ({} KiB), median of 5 runs:", std::fs::metadata(&video).unwrap().len() >> 10);
    let all = VideoLimits { sample_fps: 30.0, max_frames: 150, ..VideoLimits::default() };
    for (what, lim) in [("every frame (150)", all), ("default sampling (5 fps, ≤ 25)", VideoLimits::default())] {
        let mut runs = Vec::new();
        let mut n = 0;
        for _ in 0..5 {
            let t = Instant::now();
            n = sample_frames(&video, &lim).await.unwrap().len();
            runs.push(t.elapsed().as_secs_f64());
        }
        runs.sort_by(f64::total_cmp);
        let m = runs[2];
        println!("  {what}: {n} frames in {:.0} ms → {:.0} frames/s decoded to RGB", m * 1e3, n as f64 / m);
    }
}
