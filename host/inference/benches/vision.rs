//! Native vision benchmarks (`make bench`): per-model median latency and the whole
//! decode → detect → landmarks → liveness → embed chain on a real portrait.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use vigil_inference::manifest::Manifest;
use vigil_inference::{Assets, Vision};

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> f64 {
    let _ = f();
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let dir = std::env::var("VIGIL_ASSETS_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets").to_string());
    let t = Instant::now();
    let v = Vision::load(&Assets::new(&dir), &Manifest::shipped(), 2).unwrap();
    println!("load ONNX Runtime + 5 sessions: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let bytes = std::fs::read(format!("{dir}/testdata/grace_hopper.jpg")).unwrap();
    let img = image::load_from_memory(&bytes).unwrap().into_rgb8();
    let face = v.detect(&img).unwrap()[0];
    let n = 50;
    let decode = time(n, || image::load_from_memory(&bytes).unwrap().into_rgb8());
    let detect = time(n, || v.detect(&img).unwrap());
    let landmarks = time(n, || v.landmarks(&img, &face).unwrap());
    let liveness = time(n, || v.spoofing(&img, &face).unwrap());
    let fr = time(n, || v.embed(&img, &face, "fr_feature").unwrap());
    let sface = time(n, || v.embed(&img, &face, "sface").unwrap());
    // The chain, with each run split into decoding, inference (inside ONNX Runtime) and the rest.
    let mut runs = Vec::new();
    for i in 0..=n {
        let before = vigil_inference::inference_time();
        let t = Instant::now();
        let img = image::load_from_memory(&bytes).unwrap().into_rgb8();
        let decoded = t.elapsed();
        let f = v.detect(&img).unwrap()[0];
        std::hint::black_box((v.spoofing(&img, &f).unwrap(), v.embed(&img, &f, "fr_feature").unwrap()));
        let total = t.elapsed();
        let inference = vigil_inference::inference_time() - before;
        if i > 0 {
            runs.push((total, decoded, inference));
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let chain = median(runs.iter().map(|r| r.0).collect());
    let dec = median(runs.iter().map(|r| r.1).collect());
    let inf = median(runs.iter().map(|r| r.2).collect());
    let overhead = median(runs.iter().map(|r| r.0 - r.1 - r.2).collect());
    let share = runs.iter().map(|r| ms(r.0 - r.1 - r.2) / ms(r.0)).sum::<f64>() / runs.len() as f64;
    println!("grace_hopper.jpg {}×{}, {} runs each, median ms:", img.width(), img.height(), n);
    println!(
        "  decode {decode:.2} | detect {detect:.2} | landmarks {landmarks:.2} | liveness {liveness:.2} | landmarks+align+fr_feature {fr:.2} | landmarks+align+sface {sface:.2}"
    );
    println!(
        "  chain decode→detect→liveness→landmarks→align→fr_feature: {chain:.2} ms = decode {dec:.2} + inference {inf:.2} + other {overhead:.2} (other = {:.1} % of the chain, target ≤ 20 %)",
        share * 100.0
    );
    // The same chain in Python (onnxruntime wheel + numpy + Pillow), in this same run.
    match std::env::var("VIGIL_BENCH_PYTHON") {
        Err(_) => println!("  Python reference skipped: set VIGIL_BENCH_PYTHON (make bench does)"),
        Ok(py) => {
            for settings in ["tuned", "defaults"] {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/python_chain.py");
                let out = std::process::Command::new(&py)
                    .arg(script)
                    .arg(&dir)
                    .arg(format!("{dir}/testdata/grace_hopper.jpg"))
                    .arg(n.to_string())
                    .arg(settings)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let text = String::from_utf8_lossy(&out.stdout);
                let field = |k: &str| -> f64 {
                    let at = text.find(&format!("\"{k}\": ")).unwrap() + k.len() + 4;
                    text[at..].split([',', '}']).next().unwrap().trim().parse().unwrap()
                };
                let py_chain = field("chain");
                println!(
                    "  Python ({settings} sessions) same chain: {py_chain:.2} ms (decode {:.2} | detect {:.2} | landmarks {:.2} | liveness {:.2} | landmarks+align+fr_feature {:.2})",
                    field("decode"),
                    field("detect"),
                    field("landmarks"),
                    field("liveness"),
                    field("embed_fr_feature")
                );
                println!("  Vigil ÷ Python ({settings}), chain: {:.2} (target ≤ 0.3)", chain / py_chain);
            }
        }
    }
}
