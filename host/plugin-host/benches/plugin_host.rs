//! Plugin-host benchmarks (`make bench`): instantiation from `InstancePre` with pooling, call
//! overhead, cold load of a cached artifact, and how fast an infinite loop is killed. Prints one
//! line per measurement; `docs/BENCHMARKS.md` records the results.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;
use vigil_plugin_host::*;

fn component(name: &str) -> Vec<u8> {
    let dir = std::env::var("VIGIL_PLUGINS_DIR").unwrap_or_else(|_| {
        format!(
            "{}/plugins/wasm32-wasip2/release",
            std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())
        )
    });
    std::fs::read(format!("{dir}/{name}.wasm")).unwrap_or_else(|e| panic!("{dir}/{name}.wasm: {e}; run `make plugins`"))
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn install(h: &PluginHost, kind: Kind, wasm: &[u8], name: &str) -> Plugin {
    let c = h.compile(kind, wasm).unwrap();
    let meta = PluginMeta {
        id: Uuid::new_v4(),
        company_id: None,
        name: name.into(),
        version: "1".into(),
        kind,
        sha256: c.sha256.clone(),
        config: [("answer".to_string(), "42".to_string())].into(),
    };
    h.plugin(meta, c.into())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let guest_budget = Duration::from_millis(100);
    let mut short = Limits::for_kind(Kind::Analysis);
    short.guest_time = guest_budget;
    let h = PluginHost::new(Arc::new(NoServices), 64).unwrap().with_limits(Kind::Analysis, short);
    let company = Uuid::new_v4();

    for name in ["answer", "hostile"] {
        let wasm = component(name);
        let t = Instant::now();
        let compiled = h.compile(Kind::Analysis, &wasm).unwrap();
        let compile = t.elapsed();
        let loads: Vec<Duration> = (0..50)
            .map(|_| {
                let t = Instant::now();
                let _ = h.load_artifact(Kind::Analysis, &compiled.artifact).unwrap();
                t.elapsed()
            })
            .collect();
        println!(
            "component {name}: {} KiB wasm, {} KiB artifact; compile {:.1} ms; cold load of cached artifact p50 {:.2} ms, max {:.2} ms",
            wasm.len() / 1024,
            compiled.artifact.len() / 1024,
            compile.as_secs_f64() * 1e3,
            pct(loads.clone(), 0.5).as_secs_f64() * 1e3,
            pct(loads, 1.0).as_secs_f64() * 1e3
        );
    }

    let p = install(&h, Kind::Analysis, &component("answer"), "answer");
    for _ in 0..200 {
        bench::instantiate(&h, &p, company).await;
    }
    let inst: Vec<Duration> = {
        let mut v = Vec::new();
        for _ in 0..5000 {
            v.push(bench::instantiate(&h, &p, company).await);
        }
        v
    };
    println!(
        "instantiate from InstancePre (pooling), 5000 runs: p50 {:.1} µs, p99 {:.1} µs",
        pct(inst.clone(), 0.5).as_secs_f64() * 1e6,
        pct(inst, 0.99).as_secs_f64() * 1e6
    );
    let per_call = bench::warm_calls(&h, &p, company, 5_000).await.unwrap();
    println!(
        "host→guest call of `analyze` (empty request, one config import, JSON string result) on a warm instance: {:.2} µs",
        per_call.as_secs_f64() * 1e6
    );

    let mut full = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        h.analyze(&p, company, AnalysisInput { analysis_type: "X".into(), media: vec![], params_json: "{}".into() })
            .await
            .unwrap();
        full.push(t.elapsed());
    }
    println!(
        "whole plugin call (fresh store + instantiate + call + checks), 2000 runs: p50 {:.1} µs, p99 {:.1} µs",
        pct(full.clone(), 0.5).as_secs_f64() * 1e6,
        pct(full, 0.99).as_secs_f64() * 1e6
    );

    let hostile = install(&h, Kind::Analysis, &component("hostile"), "hostile");
    let mut kills = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = h
            .analyze(
                &hostile,
                company,
                AnalysisInput { analysis_type: "X".into(), media: vec![], params_json: "{\"mode\":\"loop\"}".into() },
            )
            .await;
        assert!(matches!(r, Err(CallError::Deadline(_))));
        kills.push(t.elapsed());
    }
    println!(
        "infinite loop with a {} ms guest budget and {} ms ticks, 20 runs: killed after p50 {:.1} ms, max {:.1} ms (target ≤ budget + 2 ticks = {} ms)",
        guest_budget.as_millis(),
        TICK.as_millis(),
        pct(kills.clone(), 0.5).as_secs_f64() * 1e3,
        pct(kills, 1.0).as_secs_f64() * 1e3,
        (guest_budget + TICK * 2).as_millis()
    );
}
