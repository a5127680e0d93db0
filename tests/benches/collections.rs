//! 1:N over HTTP on loopback (`make bench`), against the real server (SQLite, local files, the
//! built-in components, the default HNSW index):
//!
//! - enrolment throughput: persons with one ~1 MP photo each, two clients at once, from the start
//!   of the upload to the 201 (decode, detection, embedding, storage, rows, index);
//! - a COLLECTION analysis of one ~1 MP photo against a collection of
//!   `VIGIL_BENCH_COLLECTION_FACES` faces (default 1,000,000: the enrolled photos plus synthetic
//!   128-d embeddings written to the database, then a restart: the way a restored backup or a
//!   bulk load from another host arrives), request → FINISHED,
//!   beside a BIOMETRY analysis of one pair of ~1 MP photos on the same server in the same run.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;
use vigil_tests::*;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Requests one analysis and polls until it leaves PROCESSING; returns it and request → end.
async fn analyse(s: &Server, who: &Session, folder: &str, body: Value) -> (Value, f64) {
    let t = Instant::now();
    let (st, list) = s.post(who, &format!("/api/folders/{folder}/analyses/"), json!({ "analyses": [body] })).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    let id = list[0]["analyse_id"].as_str().unwrap().to_string();
    loop {
        let (_, a) = s.get(who, &format!("/api/analyses/{id}")).await;
        if a["state"] != "PROCESSING" {
            return (a, t.elapsed().as_secs_f64() * 1e3);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Writes `n` synthetic persons with one 128-d face each into the collection, in the database.
async fn seed(db_url: &str, company: Uuid, collection: Uuid, model: &str, n: usize) {
    let st = vigil_store::Store::connect(db_url).await.unwrap();
    let faces: Vec<Vec<f32>> = faces::synthetic(n, 128, 0x5EED_F00D).iter().map(|v| faces::unit(v)).collect();
    faces::enroll(&st, company, collection, model, &faces, 0).await;
    st.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("VIGIL_BENCH_COLLECTION_FACES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let photos: Vec<Vec<u8>> =
        ["obama.jpg", "biden.jpg", "grace_hopper.jpg", "obama3.jpg"].iter().map(|p| megapixel(p)).collect();
    let probe = megapixel("obama2.jpg");
    let s = Server::builder(Db::Sqlite).set("job_poll_ms", "500").start().await;
    let admin = s.admin().await;
    let company = s.company(&admin, "Bank").await;
    let (st, c) = s.post(&admin, "/api/collections/", json!({"alias": "blacklist", "company_id": company})).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let cid = c["collection_id"].as_str().unwrap().to_string();
    // Folders and analyses are the company's own (a collection is searched by its company only).
    s.user(&admin, "admin@bank.test", "CLIENT_ADMIN", Some(&company)).await;
    let model = c["embedding_model"].as_str().unwrap().to_string();

    // Enrolment: 2 clients × 20 persons.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..2 {
        let (base, token, cid, photos) = (s.base.clone(), admin.token.clone(), cid.clone(), photos.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0..20 {
                let photo = photos[(client + i) % photos.len()].clone();
                let form = reqwest::multipart::Form::new()
                    .part("image1", reqwest::multipart::Part::bytes(photo).file_name("p.jpg"));
                let r = http
                    .post(format!("{base}/api/collections/{cid}/persons/"))
                    .header("X-Forensic-Access-Token", &token)
                    .multipart(form)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap_or_default());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let enrol_secs = t.elapsed().as_secs_f64();
    println!("| enrolment over HTTP, 40 persons × one 1 MP photo, 2 clients | {:.1} faces/s |", 40.0 / enrol_secs);

    // The large collection: synthetic faces written to the database, then a restart.
    let db_url = format!("sqlite://{}", s.data_dir.join("vigil.db").display());
    let t = Instant::now();
    seed(&db_url, Uuid::parse_str(&company).unwrap(), Uuid::parse_str(&cid).unwrap(), &model, n).await;
    println!("(seeded {n} synthetic faces in {:.0} s)", t.elapsed().as_secs_f64());
    let s = s.restart().await;
    let admin = s.login("admin@bank.test", "Passw0rd-x").await;
    let t = Instant::now();
    let probe_folder = s.selfie_folder(&admin, &[&probe]).await;
    let search = json!({"type": "collection", "params": {"collection_id": cid}});
    // The first search waits for the index to load (built from the database at start).
    loop {
        let (a, _) = analyse(&s, &admin, &probe_folder, search.clone()).await;
        if a["state"] == "FINISHED" {
            assert_eq!(a["resolution"], "DECLINED", "the enrolled person is found: {a}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(3600), "index never loaded: {a}");
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    println!("| index of {} faces ready after a restart | {:.0} s |", n + 40, t.elapsed().as_secs_f64());

    let pair = s.selfie_folder(&admin, &[&photos[0], &probe]).await;
    let (mut col, mut bio) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let (a, ms) = analyse(&s, &admin, &probe_folder, search.clone()).await;
        assert_eq!(a["state"], "FINISHED", "{a}");
        col.push(ms);
        let (b, ms) = analyse(&s, &admin, &pair, json!({"type": "biometry"})).await;
        assert_eq!(b["state"], "FINISHED", "{b}");
        bio.push(ms);
    }
    let (c50, b50) = (pct(&mut col, 0.5), pct(&mut bio, 0.5));
    println!(
        "| COLLECTION of one 1 MP photo against {} faces, request → FINISHED, p50 / p90 | {c50:.1} / {:.1} ms |",
        n + 40,
        pct(&mut col, 0.9)
    );
    println!("| BIOMETRY of two 1 MP photos, same server, p50 / p90 | {b50:.1} / {:.1} ms |", pct(&mut bio, 0.9));
    println!("| ratio COLLECTION / BIOMETRY (p50) | ×{:.2} |", c50 / b50);
    s.stop().await;
}
