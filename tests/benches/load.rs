//! `make load`: a mixed workload from several companies against a real server for a bounded time.
//!
//! Two ordinary companies each run three clients that upload a photo, request QUALITY and poll
//! (every 200 ms) until it is decided; a hostile company floods the queue with analyses whose
//! plugin burns its whole time budget, as fast as the server accepts them. Two phases of
//! `VIGIL_LOAD_SECS` (default 45) each: the ordinary companies alone, then with the hostile one.
//! Reported: analyses finished per minute, p50/p95 from request to decision per company, HTTP
//! errors (a 429 to the hostile company is the cap working, counted apart), analyses lost (not
//! decided 120 s after the end), and the process's peak resident memory. The run fails (exit
//! status 1) on any HTTP error or lost analysis, or when an ordinary company's p95 beside the
//! hostile tenant exceeds `VIGIL_LOAD_P95_BOUND` (default 8) times its p95 alone — the fairness
//! bound the README states.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_tests::*;

#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    errors: usize,
    refused: usize,
    requested: Vec<String>,
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// One ordinary client: upload, request, poll until decided, repeat until `until`.
async fn client(s: Arc<Server>, who: Session, photo: Vec<u8>, until: Instant, tally: Arc<Mutex<Tally>>) {
    while Instant::now() < until {
        let (st, f) = s
            .upload(
                &who,
                "/api/folders/",
                vec![file("p", "p.jpg", photo.clone())],
                Some(json!({"media:tags": {"p": ["photo_selfie"]}})),
            )
            .await;
        if st != StatusCode::CREATED {
            tally.lock().unwrap().errors += 1;
            continue;
        }
        let path = format!("/api/folders/{}/analyses/", f["folder_id"].as_str().unwrap());
        let t0 = Instant::now();
        let (st, list) = s.post(&who, &path, json!({"analyses": [{"type": "quality"}]})).await;
        if st != StatusCode::CREATED {
            tally.lock().unwrap().errors += 1;
            continue;
        }
        let id = list[0]["analyse_id"].as_str().unwrap().to_string();
        tally.lock().unwrap().requested.push(id.clone());
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (st, a) = s.get(&who, &format!("/api/analyses/{id}")).await;
            if st != StatusCode::OK {
                tally.lock().unwrap().errors += 1;
                break;
            }
            if a["state"] != "PROCESSING" {
                tally.lock().unwrap().latencies.push(t0.elapsed().as_secs_f64() * 1e3);
                break;
            }
        }
    }
}

/// The hostile company: requests slow analyses as fast as it is allowed.
async fn flooder(s: Arc<Server>, who: Session, folder: String, until: Instant, tally: Arc<Mutex<Tally>>) {
    let body = json!({"analyses": (0..16).map(|_| json!({"type": "quality", "params": {"mode": "loop"}})).collect::<Vec<_>>()});
    while Instant::now() < until {
        let (st, list) = s.post(&who, &format!("/api/folders/{folder}/analyses/"), body.clone()).await;
        {
            let mut t = tally.lock().unwrap();
            match st.as_u16() {
                201 => t
                    .requested
                    .extend(list.as_array().unwrap().iter().map(|a| a["analyse_id"].as_str().unwrap().to_string())),
                429 => t.refused += 1,
                _ => t.errors += 1,
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Analyses of `ids` not decided within `grace`.
async fn lost(s: &Server, who: &Session, ids: &[String], grace: Duration) -> usize {
    let deadline = Instant::now() + grace;
    let mut left: Vec<String> = ids.to_vec();
    while !left.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for id in left {
            let (_, a) = s.get(who, &format!("/api/analyses/{id}")).await;
            if a["state"] == "PROCESSING" || a["state"].is_null() {
                still.push(id);
            }
        }
        left = still;
        if !left.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    left.len()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let secs: u64 = std::env::var("VIGIL_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(45);
    let s = Arc::new(Server::start(Db::Sqlite).await);
    let admin = s.admin().await;
    let photo = test_photo("obama2.jpg");
    let mut ordinary = Vec::new();
    for name in ["A", "B"] {
        let c = s.company(&admin, name).await;
        let mut users = Vec::new();
        for i in 0..3 {
            users.push(s.user(&admin, &format!("u{i}@{name}.test"), "CLIENT", Some(&c)).await);
        }
        ordinary.push((name, users));
    }
    let h = s.company(&admin, "H").await;
    let h_admin = s.user(&admin, "admin@h.test", "CLIENT_ADMIN", Some(&h)).await;
    let (st, p) = s
        .upload_plugin(
            &h_admin,
            component("hostile"),
            json!({"kind": "analysis", "name": "quality", "version": "1.0.0"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let (_, hf) = s
        .upload(
            &h_admin,
            "/api/folders/",
            vec![file("p", "p.jpg", jpeg(64, 48))],
            Some(json!({"media:tags": {"p": ["photo_selfie"]}})),
        )
        .await;
    let h_folder = hf["folder_id"].as_str().unwrap().to_string();

    let bound: f64 = std::env::var("VIGIL_LOAD_P95_BOUND").ok().and_then(|s| s.parse().ok()).unwrap_or(8.0);
    let mut broken: Vec<String> = Vec::new();
    println!("load: {secs} s per phase, SQLite, the default 4 workers");
    let mut report: Vec<(String, Value)> = Vec::new();
    for hostile in [false, true] {
        let until = Instant::now() + Duration::from_secs(secs);
        let tallies: Vec<Arc<Mutex<Tally>>> = (0..3).map(|_| Arc::default()).collect();
        let mut tasks = Vec::new();
        for (i, (_, users)) in ordinary.iter().enumerate() {
            for u in users {
                tasks.push(tokio::spawn(client(s.clone(), u.clone(), photo.clone(), until, tallies[i].clone())));
            }
        }
        if hostile {
            tasks.push(tokio::spawn(flooder(s.clone(), h_admin.clone(), h_folder.clone(), until, tallies[2].clone())));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let phase = if hostile { "with a hostile tenant" } else { "ordinary tenants alone" };
        for (i, (name, _)) in ordinary.iter().enumerate() {
            let (ids, lat, errors) = {
                let t = tallies[i].lock().unwrap();
                (t.requested.clone(), t.latencies.clone(), t.errors)
            };
            let lost = lost(&s, &admin, &ids, Duration::from_secs(120)).await;
            let line = json!({
                "finished_per_min": (lat.len() as f64 * 60.0 / secs as f64).round(),
                "p50_ms": pct(&lat, 0.5).round(), "p95_ms": pct(&lat, 0.95).round(),
                "errors": errors, "lost": lost,
            });
            println!("{phase:>24} | company {name}: {line}");
            if errors > 0 || lost > 0 {
                broken.push(format!("{phase}, company {name}: {errors} error(s), {lost} lost"));
            }
            report.push((format!("{phase}/{name}"), line));
        }
        if hostile {
            let (ids, errors, refused) = {
                let t = tallies[2].lock().unwrap();
                (t.requested.clone(), t.errors, t.refused)
            };
            let lost = lost(&s, &admin, &ids, Duration::from_secs(600)).await;
            if errors > 0 || lost > 0 {
                broken.push(format!("{phase}, company H: {errors} error(s), {lost} lost"));
            }
            println!(
                "{phase:>24} | company H: requested {} slow analyses, {refused} requests refused by the queue cap (429), {errors} errors, {lost} lost",
                ids.len()
            );
        }
    }
    for name in ["A", "B"] {
        let p95 = |phase: &str| {
            report.iter().find(|(k, _)| k == &format!("{phase}/{name}")).unwrap().1["p95_ms"].as_f64().unwrap()
        };
        let ratio = p95("with a hostile tenant") / p95("ordinary tenants alone");
        println!(
            "company {name}: p95 {:.0} ms alone, {:.0} ms beside the hostile tenant (×{ratio:.2}, bound ×{bound})",
            p95("ordinary tenants alone"),
            p95("with a hostile tenant"),
        );
        if ratio.is_nan() || ratio > bound {
            broken.push(format!("company {name}: p95 grew ×{ratio:.2} beside the hostile tenant, beyond ×{bound}"));
        }
    }
    println!("peak resident memory of the process (server and clients): {:.0} MiB", peak_rss_mib());
    if !broken.is_empty() {
        eprintln!("load: FAILED\n  {}", broken.join("\n  "));
        std::process::exit(1);
    }
    println!("load: passed (no errors, nothing lost, p95 within ×{bound})");
}
