//! The pgvector face index (`make bench`): PostgreSQL 16 with pgvector (`make assets`), one
//! collection of `VIGIL_BENCH_PGVECTOR_FACES` synthetic 128-d faces (a comma list; default
//! 100000,1000000) stored the way enrolment stores them. Measured: loading the rows, giving
//! them their vectors (what a pgvector server does for faces it has not indexed), a search by
//! the planner's exact scan (before the HNSW index exists), the HNSW build, its size per face,
//! search p50/p95 over 400 queries (200 random, 200 mated) at the server's default breadth
//! (ef_search 256, 128 candidates) and recall@1 against the exact answer.
#![allow(clippy::unwrap_used)]

use std::time::Instant;
use vigil_store::{Exec, Sql, vectors};
use vigil_tests::faces::*;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes = std::env::var("VIGIL_BENCH_PGVECTOR_FACES").unwrap_or_else(|_| "100000,1000000".into());
    let dim = 128;
    println!(
        "| faces | load | vectors | exact scan (planner) | HNSW build | index per face | search p50 | search p95 | recall@1 random | recall@1 mated |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes.split(',').filter_map(|s| s.trim().parse::<usize>().ok()) {
        let url = vigil_tests::pg::fresh_vector_database().await;
        let store = vigil_store::Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let mut ex = store.clone();
        assert_eq!(vectors::status(&mut ex).await.unwrap(), None);
        let base: Vec<Vec<f32>> = synthetic(n, dim, 0x5EED ^ n as u64).iter().map(|v| unit(v)).collect();
        let t = Instant::now();
        let c = collection_of(&store, &base).await;
        let load = t.elapsed().as_secs_f64();
        let t = Instant::now();
        fill_vectors(&store, c).await;
        let fill = t.elapsed().as_secs_f64();
        ex.execute(Sql::new("ANALYZE person_images")).await.unwrap();

        let noise = synthetic(200, dim, 99);
        let random: Vec<Vec<f32>> = synthetic(200, dim, 4321).iter().map(|v| unit(v)).collect();
        let mated_q: Vec<Vec<f32>> = (0..200).map(|i| mated(&base[(i * 4_999) % n], &noise[i])).collect();
        let mut exact_ms: Vec<f64> = Vec::new();
        for q in random.iter().take(10) {
            let t = Instant::now();
            vectors::search(&store, c, q, 128, 256).await.unwrap();
            exact_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let t = Instant::now();
        vectors::ensure_hnsw(&store, c, dim).await.unwrap();
        let build = t.elapsed().as_secs_f64();
        let name = format!("person_images_hnsw_{}", c.simple());
        let mut q = Sql::new("SELECT pg_relation_size(CAST(");
        q.bind(name.as_str()).push(" AS regclass)) AS n");
        let index_bytes = ex.fetch_count(q).await.unwrap();
        ex.execute(Sql::new("ANALYZE person_images")).await.unwrap();
        assert!(vectors::explain(&store, c, &random[0], 128, 256).await.unwrap().contains(&name));

        let mut lat = Vec::new();
        let mut agree = [0usize; 2];
        for (kind, queries) in [&random, &mated_q].into_iter().enumerate() {
            for q in queries {
                let t = Instant::now();
                let got = vectors::search(&store, c, q, 128, 256).await.unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                agree[kind] += usize::from(got.first().map(|g| g.0) == Some(image_id(exact_best(&base, q))));
            }
        }
        println!(
            "| {n} | {load:.0} s | {fill:.0} s | {:.0} ms | {build:.0} s | {:.0} B | {:.2} ms | {:.2} ms | {:.3} | {:.3} |",
            pct(&mut exact_ms, 0.5),
            index_bytes as f64 / n as f64,
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.95),
            agree[0] as f64 / 200.0,
            agree[1] as f64 / 200.0,
        );
        store.close().await;
    }
}
