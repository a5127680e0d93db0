//! Face index benchmark (`make bench`): the exact scan over synthetic collections of the default
//! embedder's size (SFace, 128 dimensions) and ArcFace's (512): build time, resident memory per
//! face, and search latency (p50/p95 of 50 queries, top 10). The baseline the approximate
//! backends of issue #14 are to be measured beside.

use std::time::Instant;
use uuid::Uuid;
use vigil_index::{Entry, Exact, FaceIndex};

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

fn main() {
    println!("| faces | dim | build | memory per face | search p50 | search p95 |");
    println!("|---|---|---|---|---|---|");
    for (n, dim) in [(100_000usize, 128usize), (1_000_000, 128), (100_000, 512)] {
        let idx = Exact::new();
        let c = Uuid::from_u128(1);
        let mut s = Stream(0x5EED ^ n as u64 ^ dim as u64);
        let before = rss_kib();
        let t = Instant::now();
        for i in 0..n {
            let id = Uuid::from_u128(i as u128 + 1);
            // Two images per person.
            let person = Uuid::from_u128((i / 2) as u128 + 1 + (1 << 64));
            if let Err(e) = idx.upsert(c, Entry { image_id: id, person_id: person, vector: s.vector(dim) }) {
                eprintln!("upsert failed: {e}");
                std::process::exit(1);
            }
        }
        let build = t.elapsed();
        let per_face = (rss_kib().saturating_sub(before) * 1024) as f64 / n as f64;
        let mut lat = Vec::new();
        for _ in 0..50 {
            let q = s.vector(dim);
            let t = Instant::now();
            let hits = idx.search(c, &q, 10, -1.0);
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(hits.is_ok_and(|h| h.len() == 10));
        }
        println!(
            "| {n} | {dim} | {:.1} s | {per_face:.0} B | {:.1} ms | {:.1} ms |",
            build.as_secs_f64(),
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.95)
        );
    }
}
