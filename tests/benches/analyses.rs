//! Analyses over HTTP on loopback (`make bench`), each beside the physical floor of what it uses
//! (decoding plus the ONNX inference it needs), measured in the same run on the same machine:
//!
//! - QUALITY on one ~1 MP photo, from the start of the upload to FINISHED (p50, p90);
//! - BIOMETRY on two ~1 MP photos, likewise;
//! - QUALITY on a 5 s 720p H.264 video: the upload, and the analysis from request to FINISHED,
//!   with the motion cues and (a second server, alternating) with the passive model alone;
//! - sustained QUALITY throughput: concurrent clients request and poll analyses of photos
//!   uploaded beforehand;
//! - the share of the server's analysis time spent inside Wasm (the plugin's own code).
//!
//! The server is the real one (SQLite, local files, the built-in components), started in this
//! process on 127.0.0.1:0 by the test harness.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use vigil_inference::manifest::Manifest;
use vigil_inference::{Assets, Vision};
use vigil_tests::*;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// 5 s of 1280×720 30 fps H.264 made from a portrait (with film grain, so frames differ).
fn video_720p() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let st = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-loop", "1", "-i"])
        .arg(assets_dir().join("testdata/astronaut.png"))
        .args(["-t", "5", "-r", "30", "-vf"])
        .arg(
            "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,noise=alls=12:allf=t",
        )
        .args(["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(out).unwrap()
}

fn median_of(n: usize, mut f: impl FnMut() -> Duration) -> f64 {
    f();
    let mut v: Vec<f64> = (0..n).map(|_| ms(f())).collect();
    pct(&mut v, 0.5)
}

struct Floors {
    quality: f64,
    biometry: f64,
    video: f64,
}

/// Decoding plus exactly the inference each analysis needs, without server, database or Wasm.
async fn floors(photo: &[u8], other: &[u8], video: &[u8]) -> Floors {
    let v = Vision::load(&Assets::new(assets_dir()), &Manifest::shipped(), 2).unwrap();
    let quality = median_of(30, || {
        let t = Instant::now();
        let img = image::load_from_memory(photo).unwrap().into_rgb8();
        let f = v.detect(&img).unwrap()[0];
        std::hint::black_box(v.spoofing(&img, &f).unwrap());
        t.elapsed()
    });
    let biometry = median_of(30, || {
        let t = Instant::now();
        for bytes in [photo, other] {
            let img = image::load_from_memory(bytes).unwrap().into_rgb8();
            let f = v.detect(&img).unwrap()[0];
            // The default embedder, as the server's BIOMETRY uses it.
            std::hint::black_box(v.embed(&img, &f, "sface").unwrap());
        }
        t.elapsed()
    });
    let file = tempfile::Builder::new().suffix(".mp4").tempfile().unwrap();
    std::fs::write(file.path(), video).unwrap();
    let lim = vigil_media::video::VideoLimits::default();
    let mut runs = Vec::new();
    for _ in 0..6 {
        let t = Instant::now();
        let frames = vigil_media::video::sample_frames(file.path(), &lim).await.unwrap();
        for img in &frames {
            if let Some(f) = v.detect(img).unwrap().first() {
                std::hint::black_box(v.spoofing(img, f).unwrap());
            }
        }
        runs.push(ms(t.elapsed()));
    }
    runs.remove(0);
    Floors { quality, biometry, video: pct(&mut runs, 0.5) }
}

/// Requests one analysis and polls (every `poll`) until it leaves PROCESSING.
async fn analyse(s: &Server, who: &Session, folder: &str, kind: &str, poll: Duration) -> Value {
    let (st, list) =
        s.post(who, &format!("/api/folders/{folder}/analyses/"), json!({"analyses": [{"type": kind}]})).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    let id = list[0]["analyse_id"].as_str().unwrap().to_string();
    loop {
        let (st, a) = s.get(who, &format!("/api/analyses/{id}")).await;
        assert_eq!(st, StatusCode::OK);
        if a["state"] != "PROCESSING" {
            return a;
        }
        tokio::time::sleep(poll).await;
    }
}

/// Medians of where a finished analysis spent its time on the server, in ms: queued (request to
/// claim), worker total (claim to FINISHED): decoding the media, the plugin call (of which host
/// services — inference, image ops — and Wasm), and the rest (best shot encoding and storage,
/// database writes).
fn breakdown(list: &[Value]) -> String {
    let med = |f: &dyn Fn(&Value) -> f64| {
        let mut v: Vec<f64> = list.iter().map(f).collect();
        pct(&mut v, 0.5)
    };
    let t = |a: &Value, k: &str| a[k].as_f64().unwrap_or(0.0) * 1e3;
    let m = |a: &Value, k: &str| a["technical_meta_data"][k].as_f64().unwrap_or(0.0);
    format!(
        "queued {:.1} · worker {:.1} = decode {:.1} + plugin call {:.1} (host services {:.1}, Wasm {:.2}) + rest {:.1}",
        med(&|a| t(a, "time_task_received") - t(a, "time_task_send_to_broker")),
        med(&|a| t(a, "time_task_finished") - t(a, "time_task_received")),
        med(&|a| m(a, "decode_ms")),
        med(&|a| m(a, "plugin_ms")),
        med(&|a| m(a, "host_services_ms")),
        med(&|a| m(a, "wasm_ms")),
        med(&|a| t(a, "time_task_finished") - t(a, "time_task_received") - m(a, "decode_ms") - m(a, "plugin_ms")),
    )
}

/// Server-side split of finished analyses: (elapsed in the worker, inside Wasm) in ms.
fn split(list: &[Value]) -> (f64, f64) {
    let sum = |k: &str| list.iter().map(|a| a["technical_meta_data"][k].as_f64().unwrap_or(0.0)).sum::<f64>();
    (sum("elapsed_ms"), sum("wasm_ms"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let photo = megapixel("astronaut.png");
    let other = megapixel("grace_hopper.jpg");
    let video = video_720p();
    let fl = floors(&photo, &other, &video).await;
    // The defaults unless overridden, so a tuned configuration can be compared in the same way.
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let workers = env("VIGIL_BENCH_WORKERS", "4");
    let threads = env("VIGIL_BENCH_INFERENCE_THREADS", "2");
    let s = Server::builder(Db::Sqlite)
        .set("workers", &workers)
        .set("inference_threads", &threads)
        .set("job_poll_ms", "500")
        .start()
        .await;
    let admin = s.admin().await;
    let poll = Duration::from_millis(2);
    let mut finished = Vec::new();

    let (mut q, mut qa) = (Vec::new(), Vec::new());
    for i in 0..31 {
        let t = Instant::now();
        let folder = s.selfie_folder(&admin, &[&photo]).await;
        let up = t.elapsed();
        let a = analyse(&s, &admin, &folder, "quality", poll).await;
        assert_eq!(a["state"], "FINISHED", "{a}");
        if i > 0 {
            q.push(ms(t.elapsed()));
            qa.push(ms(t.elapsed() - up));
            finished.push(a);
        }
    }
    let (mut b, mut ba) = (Vec::new(), Vec::new());
    for i in 0..21 {
        let t = Instant::now();
        let folder = s.selfie_folder(&admin, &[&photo, &other]).await;
        let up = t.elapsed();
        let a = analyse(&s, &admin, &folder, "biometry", poll).await;
        assert_eq!(a["state"], "FINISHED", "{a}");
        if i > 0 {
            b.push(ms(t.elapsed()));
            ba.push(ms(t.elapsed() - up));
            finished.push(a);
        }
    }
    let quality_runs = finished[..q.len()].to_vec();
    let biometry_runs = finished[q.len()..].to_vec();
    // The same video on a second server whose QUALITY runs the passive model alone
    // (`motion_cues=false`, what QUALITY did before the motion cues), alternating, so the cost
    // of the cues is measured in the same run.
    let passive = Server::builder(Db::Sqlite)
        .set("workers", &workers)
        .set("inference_threads", &threads)
        .set("job_poll_ms", "500")
        .set("builtin_config", r#"{"quality":{"motion_cues":"false"}}"#)
        .start()
        .await;
    let passive_admin = passive.admin().await;
    let (mut vu, mut va, mut vp) = (Vec::new(), Vec::new(), Vec::new());
    let mut passive_runs = Vec::new();
    for i in 0..8 {
        for (server, who, cues) in [(&s, &admin, true), (&passive, &passive_admin, false)] {
            let t = Instant::now();
            let (st, f) = server
                .upload(
                    who,
                    "/api/folders/",
                    vec![file("v", "v.mp4", video.clone())],
                    Some(json!({"media:tags": {"v": ["video_selfie", "video_selfie_blank"]}})),
                )
                .await;
            assert_eq!(st, StatusCode::CREATED, "{f}");
            let up = t.elapsed();
            let a = analyse(server, who, f["folder_id"].as_str().unwrap(), "quality", poll).await;
            assert_eq!(a["state"], "FINISHED", "{a}");
            assert_eq!(a["results_media"][0]["results_data"]["liveness"].get("flatness").is_some(), cues, "{a}");
            if i > 0 && cues {
                vu.push(ms(up));
                va.push(ms(t.elapsed() - up));
                finished.push(a);
            } else if i > 0 {
                vp.push(ms(t.elapsed() - up));
                passive_runs.push(a);
            }
        }
    }
    drop(passive);

    // Throughput: photos uploaded first, then `clients` concurrent clients request and poll.
    let n = 300;
    let clients: usize = env("VIGIL_BENCH_CLIENTS", "32").parse().unwrap();
    // SDKs poll every second; 200 ms is the more demanding client.
    let poll_every: u64 = env("VIGIL_BENCH_POLL_MS", "200").parse().unwrap();
    let mut folders = Vec::new();
    for _ in 0..n {
        folders.push(s.selfie_folder(&admin, &[&photo]).await);
    }
    let folders = Arc::new(folders);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let s = Arc::new(s);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (s, admin, folders, next, errors) =
            (s.clone(), admin.clone(), folders.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= folders.len() {
                    return done;
                }
                let a = analyse(&s, &admin, &folders[i], "quality", Duration::from_millis(poll_every)).await;
                if a["resolution_status"] != "SUCCESS" {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                done.push(a);
            }
        }));
    }
    let mut through = Vec::new();
    for task in tasks {
        through.extend(task.await.unwrap());
    }
    let wall = t.elapsed().as_secs_f64();
    let rate = n as f64 / wall;
    let (work, wasm) = split(&finished);
    let (twork, twasm) = split(&through);

    println!(
        "Analyses over HTTP on loopback (SQLite, local files, {workers} workers, {threads} inference threads), same run as the floors:"
    );
    println!("| measurement | p50 | p90 | floor (decode + inference) | ratio p50 ÷ floor |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, v: &mut Vec<f64>, floor: f64| {
        let p50 = pct(v, 0.5);
        println!("| {name} | {p50:.1} ms | {:.1} ms | {floor:.1} ms | {:.2} |", pct(v, 0.9), p50 / floor);
    };
    row("QUALITY, 1 MP photo: upload → FINISHED", &mut q, fl.quality);
    row("  of which request → FINISHED", &mut qa, fl.quality);
    row("BIOMETRY, two 1 MP photos: upload → FINISHED", &mut b, fl.biometry);
    row("  of which request → FINISHED", &mut ba, fl.biometry);
    row("QUALITY, 5 s 720p video: request → FINISHED", &mut va, fl.video);
    row("  the same, passive model only (motion_cues=false)", &mut vp, fl.video);
    println!(
        "| 5 s 720p video upload (probe + first-frame thumbnail) | {:.1} ms | {:.1} ms | | |",
        pct(&mut vu, 0.5),
        pct(&mut vu, 0.9)
    );
    println!();
    println!("Server-side medians (ms): QUALITY photo: {}", breakdown(&quality_runs));
    println!("Server-side medians (ms): BIOMETRY photos: {}", breakdown(&biometry_runs));
    println!("Server-side medians (ms): QUALITY video: {}", breakdown(&finished[finished.len() - va.len()..]));
    println!("Server-side medians (ms): QUALITY video, passive only: {}", breakdown(&passive_runs));
    println!(
        "Motion cues on a 5 s video: request → FINISHED p50 {:.1} ms with, {:.1} ms without: ×{:.3}",
        pct(&mut va, 0.5),
        pct(&mut vp, 0.5),
        pct(&mut va, 0.5) / pct(&mut vp, 0.5)
    );
    println!("Server-side medians (ms): throughput run: {}", breakdown(&through));
    println!();
    println!(
        "Sustained QUALITY: {n} analyses of 1 MP photos by {clients} concurrent clients polling every {poll_every} ms in {wall:.2} s = {rate:.1} analyses/s, {} errors",
        errors.load(Ordering::Relaxed)
    );
    println!(
        "Time inside Wasm: {:.2} % of the workers' analysis time in the latency runs, {:.2} % in the throughput run",
        100.0 * wasm / work,
        100.0 * twasm / twork
    );
}
