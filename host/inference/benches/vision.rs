//! Native vision benchmarks (`make bench`): per-model median latency and the whole
//! decode → detect → landmarks → liveness → embed chain on a real portrait.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use vigil_inference::{Assets, Embedder, Vision};

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
    let v = Vision::load(&Assets::new(&dir), 2).unwrap();
    println!("load ONNX Runtime + 5 sessions: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let bytes = std::fs::read(format!("{dir}/testdata/grace_hopper.jpg")).unwrap();
    let img = image::load_from_memory(&bytes).unwrap().into_rgb8();
    let face = v.detect(&img).unwrap()[0];
    let n = 50;
    let decode = time(n, || image::load_from_memory(&bytes).unwrap().into_rgb8());
    let detect = time(n, || v.detect(&img).unwrap());
    let landmarks = time(n, || v.landmarks(&img, &face).unwrap());
    let liveness = time(n, || v.spoofing(&img, &face).unwrap());
    let fr = time(n, || v.embed(&img, &face, Embedder::FrFeature).unwrap());
    let sface = time(n, || v.embed(&img, &face, Embedder::SFace).unwrap());
    let chain = time(n, || {
        let img = image::load_from_memory(&bytes).unwrap().into_rgb8();
        let f = v.detect(&img).unwrap()[0];
        (v.spoofing(&img, &f).unwrap(), v.embed(&img, &f, Embedder::FrFeature).unwrap())
    });
    println!("grace_hopper.jpg {}×{}, {} runs each, median ms:", img.width(), img.height(), n);
    println!(
        "  decode {decode:.2} | detect {detect:.2} | landmarks {landmarks:.2} | liveness {liveness:.2} | landmarks+align+fr_feature {fr:.2} | landmarks+align+sface {sface:.2}"
    );
    println!("  chain decode→detect→liveness→landmarks→align→fr_feature: {chain:.2} ms");
}
