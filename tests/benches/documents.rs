//! Document reading (`make bench`): per page of generated TD3 passport photos (phone capture),
//!
//! - the MRZ path (detection at 960 px, the MRZ rows by shape, their recognition and template
//!   decoding) and the full page (detection, recognition of every line, MRZ and printed fields),
//!   each beside the same PP-OCRv4 models run from Python through RapidOCR on the same pages in
//!   the same run (`bench/ocr_reference.py`; 2 ONNX Runtime threads on both sides);
//! - DOCUMENTS end to end over HTTP on a real server (upload to FINISHED, p50/p90).
//!
//! VIGIL_BENCH_PYTHON names a Python with rapidocr-onnxruntime (the Makefile's bench venv).
#![allow(clippy::unwrap_used)]

use serde_json::json;
use std::time::{Duration, Instant};
use vigil_docgen::{Capture, Defect, Layout, Rng, document, photograph};
use vigil_inference::manifest::Manifest;
use vigil_inference::ocr::{Ocr, ReadOptions};
use vigil_tests::*;

const PAGES: usize = 12;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pages() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(2026);
    let faces = ["obama.jpg", "biden.jpg", "grace_hopper.jpg", "astronaut.png"];
    (0..PAGES)
        .map(|i| {
            let face = image::load_from_memory(&test_photo(faces[i % faces.len()])).unwrap().to_rgb8();
            let doc = document(&mut rng, Layout::Td3, Defect::None, &face, 12.0).unwrap();
            let cap = Capture::phone(&mut rng);
            photograph(&doc.pages[0], &cap, &mut rng)
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let photos = pages();
    let dir = tempfile::tempdir().unwrap();
    for (i, p) in photos.iter().enumerate() {
        std::fs::write(dir.path().join(format!("page{i:02}.jpg")), p).unwrap();
    }
    let ocr = Ocr::load(&vigil_inference::Assets::new(assets_dir()), &Manifest::shipped(), 2).unwrap().unwrap();
    let (mut mrz, mut full) = (Vec::new(), Vec::new());
    let (mut ort_mrz, mut ort_full) = (Duration::ZERO, Duration::ZERO);
    let mut exact = 0;
    for (i, p) in photos.iter().enumerate() {
        let img = image::load_from_memory(p).unwrap().to_rgb8();
        let (t, o) = (Instant::now(), vigil_inference::inference_time());
        let m = ocr.read_mrz(&img).unwrap();
        let (tm, om) = (t.elapsed(), vigil_inference::inference_time() - o);
        let (t, o) = (Instant::now(), vigil_inference::inference_time());
        let r = ocr.read_document(&img, ReadOptions::default()).unwrap();
        let (tf, of) = (t.elapsed(), vigil_inference::inference_time() - o);
        exact += usize::from(m.is_some_and(|m| m.mrz.valid()) && r.mrz.is_some_and(|m| m.mrz.valid()));
        if i > 0 {
            mrz.push(ms(tm));
            full.push(ms(tf));
            ort_mrz += om;
            ort_full += of;
        }
    }
    let n = (PAGES - 1) as f64;
    let share = |o: Duration, v: &[f64]| 100.0 * ms(o) / v.iter().sum::<f64>();
    println!("pages: {PAGES} TD3 phone photos (first one is warm-up); both paths valid on {exact}");
    println!(
        "inside ONNX Runtime: MRZ path {:.0} ms/page ({:.0} %), full page {:.0} ms/page ({:.0} %)",
        ms(ort_mrz) / n,
        share(ort_mrz, &mrz),
        ms(ort_full) / n,
        share(ort_full, &full)
    );
    let (rm, rf) = (pct(&mut mrz, 0.5), pct(&mut full, 0.5));
    println!("rust   MRZ path (detection at 960) p50 {rm:.0} ms   full page (detection at 960) p50 {rf:.0} ms");
    match std::env::var("VIGIL_BENCH_PYTHON") {
        Ok(py) => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/ocr_reference.py");
            let out = std::process::Command::new(py).arg(script).arg(dir.path()).arg("2").output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let list =
                |k: &str| -> Vec<f64> { v[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() * 1e3).collect() };
            let (pm, pf) = (pct(&mut list("mrz"), 0.5), pct(&mut list("full"), 0.5));
            println!("python MRZ path (detection at 960) p50 {pm:.0} ms   full page (detection at 960) p50 {pf:.0} ms");
            println!("ratio (rust / python): MRZ path ×{:.2}, full page ×{:.2}", rm / pm, rf / pf);
        }
        Err(_) => println!("python: VIGIL_BENCH_PYTHON unset, no comparison"),
    }

    // End to end: a folder with one passport page, DOCUMENTS from upload to FINISHED.
    let s = Server::builder(Db::Sqlite).set("job_poll_ms", "100").start().await;
    let admin = s.admin().await;
    let c = s.company(&admin, "Bench").await;
    let who = s.user(&admin, "docs@bench.test", "CLIENT", Some(&c)).await;
    let mut e2e = Vec::new();
    for (i, p) in photos.iter().enumerate() {
        let t = Instant::now();
        let (st, f) = s
            .upload(
                &who,
                "/api/folders/",
                vec![file("doc", "doc.jpg", p.clone())],
                Some(json!({"media:tags": {"doc": ["photo_id", "photo_id_front"]}})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{f}");
        let folder = f["folder_id"].as_str().unwrap();
        let (st, list) = s
            .post(&who, &format!("/api/folders/{folder}/analyses/"), json!({"analyses": [{"type": "documents"}]}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{list}");
        let a = s.wait_analysis(&who, list[0]["analyse_id"].as_str().unwrap(), 60).await;
        assert_eq!(a["state"], "FINISHED", "{a}");
        if i > 0 {
            e2e.push(ms(t.elapsed()));
        }
    }
    let p90 = pct(&mut e2e.clone(), 0.9);
    println!("DOCUMENTS end to end (upload → FINISHED): p50 {:.0} ms, p90 {p90:.0} ms", pct(&mut e2e, 0.5));
}
