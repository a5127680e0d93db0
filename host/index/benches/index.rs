//! Face index benchmark (`make bench`): the exact scan, the quantised scan and the HNSW graph over
//! the same synthetic collections of the default embedder's size (SFace, 128 dimensions) and
//! ArcFace's (512): build time, memory per face (exact: resident growth; the others: their own
//! account including ids and maps), search latency p50/p95 over 400 queries (exact: top 10; the
//! approximate ones: the 64 candidates the server re-scores), and recall@1 of each approximate
//! index against the exact scan, for random queries and for mated ones (an enrolled face plus
//! noise). `VIGIL_BENCH_INDEXES=quantised` (a comma list of quantised, hnsw) leaves the others out.

use std::time::Instant;
use uuid::Uuid;
use vigil_index::{Entry, Exact, FaceIndex, Hnsw, HnswConfig, QuantisedScan};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A deterministic stream of values in [-0.5, 0.5) (xorshift).
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.next()).collect()
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Search latencies (ms) of `idx` for `queries`, asking for `k`.
fn latencies(idx: &dyn FaceIndex, c: Uuid, queries: &[Vec<f32>], k: usize) -> Vec<f64> {
    queries
        .iter()
        .map(|q| {
            let t = Instant::now();
            let hits = idx.search(c, q, k, -1.0);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            assert!(hits.is_ok_and(|h| !h.is_empty()));
            ms
        })
        .collect()
}

fn main() {
    println!(
        "| faces | dim | index | build | memory per face | search p50 | search p95 | recall@1 random | recall@1 mated |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (n, dim) in [(100_000usize, 128usize), (1_000_000, 128), (50_000, 512)] {
        let c = Uuid::from_u128(1);
        let mut s = Stream(0x5EED ^ n as u64 ^ dim as u64);
        // Unit vectors, two images per person.
        let base: Vec<Vec<f32>> = (0..n).map(|_| vigil_index::normalised(&s.vector(dim)).unwrap_or_default()).collect();
        let entry = |i: usize| Entry {
            image_id: Uuid::from_u128(i as u128 + 1),
            person_id: Uuid::from_u128((i / 2) as u128 + 1 + (1 << 64)),
            vector: base[i].clone(),
        };
        let random: Vec<Vec<f32>> = (0..200).map(|_| s.vector(dim)).collect();
        // A face of an enrolled person taken again: the enrolled vector plus noise (cosine ≈ 0.85).
        let mated: Vec<Vec<f32>> = (0..200)
            .map(|i| {
                let noise = vigil_index::normalised(&s.vector(dim)).unwrap_or_default();
                base[(i * 4_999) % n].iter().zip(&noise).map(|(a, b)| a + 0.6 * b).collect()
            })
            .collect();

        let exact = Exact::new();
        let before = rss_kib();
        let t = Instant::now();
        for i in 0..n {
            if let Err(e) = exact.upsert(c, entry(i)) {
                eprintln!("upsert failed: {e}");
                std::process::exit(1);
            }
        }
        let exact_build = t.elapsed();
        let exact_mem = (rss_kib().saturating_sub(before) * 1024) as f64 / n as f64;

        let wanted = std::env::var("VIGIL_BENCH_INDEXES").unwrap_or_else(|_| "quantised,hnsw".into());
        let mut lat_exact = Vec::new();
        for name in wanted.split(',').map(str::trim) {
            let entries: Vec<Entry> = (0..n).map(entry).collect();
            let t = Instant::now();
            let (idx, mem): (Box<dyn FaceIndex>, f64) = match name {
                "quantised" => {
                    let i = QuantisedScan::default();
                    if let Err(e) = i.rebuild(c, entries) {
                        eprintln!("quantised build failed: {e}");
                        std::process::exit(1);
                    }
                    let m = i.memory_bytes(c) as f64 / n as f64;
                    (Box::new(i), m)
                }
                "hnsw" => {
                    let h = Hnsw::new(HnswConfig::default());
                    if let Err(e) = h.rebuild(c, entries) {
                        eprintln!("HNSW build failed: {e}");
                        std::process::exit(1);
                    }
                    let m = h.memory_bytes(c) as f64 / n as f64;
                    (Box::new(h), m)
                }
                other => {
                    eprintln!("unknown index '{other}' (quantised, hnsw)");
                    std::process::exit(2);
                }
            };
            let build = t.elapsed();
            // Recall@1 as the server gets it: the candidates scored again in full precision.
            let recall = |queries: &[Vec<f32>]| -> f64 {
                let mut agree = 0;
                for q in queries {
                    let qn = vigil_index::normalised(q).unwrap_or_default();
                    let want = exact.search(c, q, 1, -1.0).ok().and_then(|h| h.first().map(|h| h.person_id));
                    let got = idx.search(c, q, vigil_index::RESCORED, -1.0).unwrap_or_default();
                    let best = got
                        .iter()
                        .map(|h| (h.person_id, dot(&base[h.image_id.as_u128() as usize - 1], &qn)))
                        .max_by(|a, b| a.1.total_cmp(&b.1))
                        .map(|b| b.0);
                    agree += usize::from(best == want);
                }
                agree as f64 / queries.len() as f64
            };
            let (r_random, r_mated) = (recall(&random), recall(&mated));
            let all: Vec<Vec<f32>> = random.iter().chain(&mated).cloned().collect();
            if lat_exact.is_empty() {
                lat_exact = latencies(&exact, c, &all, 10);
                println!(
                    "| {n} | {dim} | exact | {:.1} s | {exact_mem:.0} B | {:.1} ms | {:.1} ms | 1 | 1 |",
                    exact_build.as_secs_f64(),
                    pct(&mut lat_exact, 0.5),
                    pct(&mut lat_exact, 0.95)
                );
            }
            let mut lat = latencies(idx.as_ref(), c, &all, vigil_index::RESCORED);
            println!(
                "| {n} | {dim} | {name} | {:.1} s | {mem:.0} B | {:.2} ms | {:.2} ms | {r_random:.3} | {r_mated:.3} |",
                build.as_secs_f64(),
                pct(&mut lat, 0.5),
                pct(&mut lat, 0.95)
            );
            println!(
                "| {n} | {dim} | ratio exact/{name} p95 | | | | ×{:.1} | | |",
                pct(&mut lat_exact, 0.95) / pct(&mut lat, 0.95).max(1e-9)
            );
        }
    }
}
