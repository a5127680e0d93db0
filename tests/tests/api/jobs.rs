//! The durable job queue seen from outside: a `vigil serve` killed with SIGKILL mid-batch loses
//! nothing and runs nothing twice; two processes on one PostgreSQL share a batch; webhooks are
//! signed, retried after a 500 and recorded per attempt.

use crate::{World, id};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use vigil_tests::*;

const VIDEO_TAGS: [&str; 3] = ["video_selfie", "video_selfie_blank", "orientation_portrait"];

/// A folder with a short selfie video, and `n` QUALITY analyses requested on it one by one.
async fn batch(s: &Server, who: &Session, n: usize, hook: &str) -> (String, Vec<String>) {
    let (st, f) = s
        .upload(
            who,
            "/api/folders/",
            vec![file("v", "live.mp4", video_of("astronaut.png", 3, "mp4", 640))],
            Some(json!({"media:tags": {"v": VIDEO_TAGS}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let folder = id(&f, "folder_id");
    let mut ids = Vec::new();
    for _ in 0..n {
        let body = json!({"analyses": [{"type": "quality"}], "resolution_endpoint": hook});
        let (st, list) = s.post(who, &format!("/api/folders/{folder}/analyses/"), body).await;
        assert_eq!(st, StatusCode::CREATED, "{list}");
        ids.push(id(&list[0], "analyse_id"));
    }
    (folder, ids)
}

async fn analyses_of(s: &Server, who: &Session, folder: &str) -> Vec<Value> {
    let (st, page) = s.get(who, &format!("/api/folders/{folder}/analyses/?limit=1000")).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").clone()
}

async fn wait_all(s: &Server, who: &Session, folder: &str, secs: u64) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let list = analyses_of(s, who, folder).await;
        if list.iter().all(|a| a["state"] != "PROCESSING") {
            return list;
        }
        assert!(Instant::now() < until, "analyses still running after {secs} s; logs in {}", s.log_dir().display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Webhook bodies per analysis id.
fn deliveries(r: &Receiver) -> BTreeMap<String, usize> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for h in r.hits() {
        *by.entry(h.json()["analysis"]["analyse_id"].as_str().expect("analyse_id").to_string()).or_default() += 1;
    }
    by
}

/// Requests a batch, waits until some analyses are done and others are in the workers' hands,
/// kills the process with SIGKILL and starts it again. Returns the server, the folder, the batch,
/// the analyses seen running just before the kill and the moment of the kill (UNIX seconds; one
/// of those analyses may still have finished in the instant between the look and the kill).
async fn kill_mid_batch(s: Server, hook: &Receiver) -> (Server, String, Vec<String>, Vec<String>, f64) {
    let admin = s.admin().await;
    let (folder, ids) = batch(&s, &admin, 12, &hook.url).await;
    let until = Instant::now() + Duration::from_secs(120);
    let in_flight = loop {
        let list = analyses_of(&s, &admin, &folder).await;
        let done = list.iter().filter(|a| a["state"] != "PROCESSING").count();
        let running: Vec<String> = list
            .iter()
            .filter(|a| a["state"] == "PROCESSING" && a["time_task_received"].is_number())
            .map(|a| id(a, "analyse_id"))
            .collect();
        if done >= 1 && !running.is_empty() {
            break running;
        }
        assert!(done < ids.len(), "the batch finished before the kill; make it longer");
        assert!(Instant::now() < until, "no progress before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut s = s;
    s.kill9();
    let killed_at = crate::now();
    (s.respawn().await, folder, ids, in_flight, killed_at)
}

/// Finished by the killed process before it died.
fn finished_before(a: &Value, killed_at: f64) -> bool {
    a["time_task_finished"].as_f64().is_some_and(|t| t <= killed_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_batch_finishes_every_analysis_exactly_once() {
    // An analysis seen running can still finish in the instant before the kill (later ones of a
    // batch on one media are quick: its frames are cached); a kill that cut nothing off proves
    // nothing about re-running, so the scenario is run again, at most three times.
    for attempt in 1..=3 {
        let hook = Receiver::start(0).await;
        let s = Server::builder(Db::Sqlite).set("job_lease", "2").set("workers", "2").spawn().await;
        let (s, folder, ids, in_flight, killed_at) = kill_mid_batch(s, &hook).await;
        let admin = s.admin().await;
        let list = wait_all(&s, &admin, &folder, 180).await;
        assert_eq!(list.len(), ids.len());
        for a in &list {
            assert_eq!(a["state"], "FINISHED", "{a}");
            assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
        }
        // Every analysis was recorded once: one webhook each (the receiver always answers 200).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let by = deliveries(&hook);
        for a in &ids {
            assert_eq!(by.get(a), Some(&1), "webhooks per analysis: {by:?}");
        }
        // The ones cut off by the kill ran again, on the new process.
        let cut_off: Vec<&Value> = list
            .iter()
            .filter(|a| in_flight.contains(&id(a, "analyse_id")) && !finished_before(a, killed_at))
            .collect();
        if cut_off.is_empty() && attempt < 3 {
            eprintln!("attempt {attempt}: the kill cut nothing off; again");
            continue;
        }
        assert!(!cut_off.is_empty(), "the kill cut nothing off in three attempts");
        for a in cut_off {
            assert!(a["technical_meta_data"]["attempts"].as_i64().unwrap() >= 2, "{a}");
        }
        return;
    }
}

/// With one attempt allowed, an analysis whose worker died is FAILED by the reaper (with the
/// reason), never left PROCESSING and never run again; the others finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_out_of_attempts_fails_its_analysis() {
    let hook = Receiver::start(0).await;
    let s = Server::builder(Db::Sqlite)
        .set("job_lease", "2")
        .set("workers", "2")
        .set("job_max_attempts", "1")
        .spawn()
        .await;
    let (s, folder, ids, in_flight, killed_at) = kill_mid_batch(s, &hook).await;
    let admin = s.admin().await;
    let list = wait_all(&s, &admin, &folder, 180).await;
    // Those seen running before the kill failed (unless they finished before it); a job claimed
    // in the instant between that look and the kill may have failed with them. Every other one
    // finished, each on its only attempt.
    for a in &list {
        if a["state"] == "FAILED" {
            assert_eq!(a["resolution_status"], "FAILED", "{a}");
            assert_eq!(a["error"]["details"]["kind"], "lease_expired", "{a}");
            assert_eq!(a["technical_meta_data"]["attempts"], 1, "{a}");
        } else {
            assert_eq!(a["state"], "FINISHED", "{a}");
            assert_eq!(a["technical_meta_data"]["attempts"], 1, "ran twice: {a}");
            if in_flight.contains(&id(a, "analyse_id")) {
                assert!(finished_before(a, killed_at), "an interrupted analysis finished: {a}");
            }
        }
    }
    assert!(list.iter().any(|a| a["state"] == "FINISHED"), "the rest of the batch ran");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let by = deliveries(&hook);
    for a in &ids {
        assert_eq!(by.get(a), Some(&1), "a failed analysis is reported too: {by:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_share_a_batch_without_running_a_job_twice() {
    let hook = Receiver::start(0).await;
    let a = Server::builder(Db::Postgres).set("workers", "2").spawn().await;
    let b = a.sibling().await;
    let admin = a.admin().await;
    let (folder, ids) = batch(&a, &admin, 16, &hook.url).await;
    let list = wait_all(&b, &b.admin().await, &folder, 180).await;
    let mut processes = std::collections::BTreeSet::new();
    for x in &list {
        assert_eq!(x["state"], "FINISHED", "{x}");
        assert_eq!(x["technical_meta_data"]["attempts"], 1, "a job ran twice: {x}");
        let worker = x["technical_meta_data"]["worker"].as_str().unwrap();
        processes.insert(worker.rsplit_once('/').unwrap().0.to_string());
    }
    assert_eq!(processes.len(), 2, "both processes should have taken work: {processes:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let by = deliveries(&hook);
    for x in &ids {
        assert_eq!(by.get(x), Some(&1), "webhooks per analysis: {by:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_recorded() {
    let flaky = Receiver::start(1).await;
    let company_hook = Receiver::start(0).await;
    let s = Server::builder(Db::Sqlite)
        .set("job_backoff_ms", "200")
        .set("webhook_secret", "server-wide-secret-0001")
        .start()
        .await;
    let w = World::with(s).await;
    // The company's default webhook, set by its admin; the secret is never shown back.
    let path = format!("/api/companies/{}/webhook", w.c1);
    let body = json!({"url": company_hook.url, "secret": "company-secret-0123456789"});
    assert_eq!(w.s.req(reqwest::Method::PUT, Some(&w.client), &path).json(&body).send().await.unwrap().status(), 403);
    let r = read(w.s.req(reqwest::Method::PUT, Some(&w.cadmin), &path).json(&body).send().await.unwrap()).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1, json!({"company_id": w.c1, "url": company_hook.url, "has_secret": true}));
    let (_, shown) = w.s.get(&w.cadmin, &path).await;
    assert!(!shown.to_string().contains("company-secret"), "{shown}");

    let photo = crate::decoding::as_jpeg(&test_photo("astronaut.png"));
    let (st, f) =
        w.s.upload(
            &w.client,
            "/api/folders/",
            vec![file("p", "me.jpg", photo)],
            Some(json!({"media:tags": {"p": ["photo_selfie"]}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let body = json!({"analyses": [{"type": "quality"}], "resolution_endpoint": flaky.url});
    let (st, list) = w.s.post(&w.client, &format!("/api/folders/{}/analyses/", id(&f, "folder_id")), body).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    let aid = id(&list[0], "analyse_id");
    w.s.wait_analysis(&w.client, &aid, 60).await;
    let until = Instant::now() + Duration::from_secs(30);
    while flaky.hits().len() < 2 || company_hook.hits().is_empty() {
        assert!(Instant::now() < until, "deliveries: {} / {}", flaky.hits().len(), company_hook.hits().len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The request's URL: a 500, then the retry with the same delivery id. Every delivery of the
    // company is signed with the company's secret.
    let hits = flaky.hits();
    assert_eq!(hits.iter().map(|h| h.status).collect::<Vec<_>>(), vec![500, 200]);
    assert_eq!(hits[0].headers["x-vigil-delivery"], hits[1].headers["x-vigil-delivery"]);
    for (h, secret) in hits.iter().chain(company_hook.hits().iter()).map(|h| (h, "company-secret-0123456789")) {
        let ts = &h.headers["x-vigil-timestamp"];
        let mut signed = ts.as_bytes().to_vec();
        signed.push(b'.');
        signed.extend_from_slice(&h.body);
        assert_eq!(h.headers["x-vigil-signature"], format!("sha256={}", hmac_hex(secret.as_bytes(), &signed)));
        assert_eq!(h.headers["x-vigil-event"], "analysis.finished");
        let v = h.json();
        assert_eq!(v["analysis"]["analyse_id"], aid.as_str());
        assert_eq!(v["analysis"]["state"], "FINISHED");
        assert_eq!(v["folder"]["folder_id"], f["folder_id"]);
        assert_eq!(v["folder"]["analyses"][0]["analyse_id"], aid.as_str());
    }
    // A tampered body does not verify.
    let h = &hits[1];
    assert_ne!(
        h.headers["x-vigil-signature"],
        format!(
            "sha256={}",
            hmac_hex(b"company-secret-0123456789", format!("{}.{{}}", h.headers["x-vigil-timestamp"]).as_bytes())
        )
    );
    // One record per attempt; the receivers' URLs in full for those who manage the webhook, only
    // their origin for a plain CLIENT.
    let (_, mine) = w.s.get(&w.client, &format!("/api/webhook_deliveries?analyse_id={aid}")).await;
    for r in mine.as_array().unwrap() {
        let u = r["url"].as_str().unwrap();
        assert!(u.starts_with("http://127.0.0.1:") && !u.contains("/hook"), "{u}");
    }
    let (st, recs) = w.s.get(&w.cadmin, &format!("/api/webhook_deliveries?analyse_id={aid}")).await;
    assert_eq!(st, StatusCode::OK, "{recs}");
    let mut seen: Vec<(String, i64, i64)> = recs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["url"].as_str().unwrap().to_string(), r["attempt"].as_i64().unwrap(), r["status_code"].as_i64().unwrap())
        })
        .collect();
    seen.sort();
    let mut want = vec![(flaky.url.clone(), 1, 500), (flaky.url.clone(), 2, 200), (company_hook.url.clone(), 1, 200)];
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(w.s.get(&w.other, &format!("/api/webhook_deliveries?analyse_id={aid}")).await.0, StatusCode::NOT_FOUND);

    // Without a company secret the server-wide one signs.
    let r = read(
        w.s.req(reqwest::Method::PUT, Some(&w.admin), &format!("/api/companies/{}/webhook", w.c2))
            .json(&json!({"url": company_hook.url}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.1["has_secret"], false, "{}", r.1);
    let photo = crate::decoding::as_jpeg(&test_photo("astronaut.png"));
    let (_, g) =
        w.s.upload(
            &w.other,
            "/api/folders/",
            vec![file("p", "me.jpg", photo)],
            Some(json!({"media:tags": {"p": ["photo_selfie"]}})),
        )
        .await;
    let (_, list) =
        w.s.post(
            &w.other,
            &format!("/api/folders/{}/analyses/", id(&g, "folder_id")),
            json!({"analyses": [{"type": "quality"}]}),
        )
        .await;
    let other_id = id(&list[0], "analyse_id");
    w.s.wait_analysis(&w.other, &other_id, 60).await;
    let until = Instant::now() + Duration::from_secs(30);
    let hit = loop {
        if let Some(h) =
            company_hook.hits().into_iter().find(|h| h.json()["analysis"]["analyse_id"] == other_id.as_str())
        {
            break h;
        }
        assert!(Instant::now() < until, "no delivery for the second company");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let signed = format!("{}.{}", hit.headers["x-vigil-timestamp"], String::from_utf8_lossy(&hit.body));
    assert_eq!(
        hit.headers["x-vigil-signature"],
        format!("sha256={}", hmac_hex(b"server-wide-secret-0001", signed.as_bytes()))
    );
}

/// Deleting a folder while its analyses are queued or running leaves no analysis, job result or
/// file behind; the queue drains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_folder_under_running_analyses_leaves_nothing() {
    let hook = Receiver::start(0).await;
    let s = Server::start(Db::Sqlite).await;
    let admin = s.admin().await;
    let (folder, ids) = batch(&s, &admin, 4, &hook.url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.delete(&admin, &format!("/api/folders/{folder}")).await.0, StatusCode::NO_CONTENT);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (st, stats) = s.get(&admin, "/api/jobs/stats").await;
        assert_eq!(st, StatusCode::OK, "{stats}");
        if stats["queued"] == 0 && stats["running"] == 0 {
            break;
        }
        assert!(Instant::now() < until, "the queue does not drain: {stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &ids {
        assert_eq!(s.get(&admin, &format!("/api/analyses/{id}")).await.0, StatusCode::NOT_FOUND);
    }
    let left: Vec<_> = s.media_blob_files().into_iter().filter(|p| p.to_string_lossy().contains(&folder)).collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
    // The queue view is for the deployment's operators only.
    let c = s.company(&admin, "C").await;
    let client = s.user(&admin, "c@c.test", "CLIENT", Some(&c)).await;
    assert_eq!(s.get(&client, "/api/jobs/stats").await.0, StatusCode::FORBIDDEN);
}

/// Receivers in special-purpose ranges are refused when private receivers are not allowed: the
/// record says only "destination not allowed", and a refused destination is not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_destinations_are_not_retried() {
    let hook = Receiver::start(0).await;
    let s =
        Server::builder(Db::Sqlite).set("webhook_allow_private", "false").set("job_backoff_ms", "100").start().await;
    let w = World::with(s).await;
    let path = format!("/api/companies/{}/webhook", w.c1);
    let r = read(
        w.s.req(reqwest::Method::PUT, Some(&w.cadmin), &path).json(&json!({"url": hook.url})).send().await.unwrap(),
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let (st, f) =
        w.s.upload(
            &w.client,
            "/api/folders/",
            vec![file("p", "p.jpg", test_photo("obama.jpg"))],
            Some(json!({"media:tags": {"p": ["photo_selfie"]}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let start = format!("/api/folders/{}/analyses/", f["folder_id"].as_str().unwrap());
    // A per-request receiver is parsed: credentials or no host are refused at once.
    for bad in ["http://user:pw@hooks.example/x", "mailto:ops@hooks.example", "https//missing-colon"] {
        let body = json!({"analyses": [{"type": "quality"}], "resolution_endpoint": bad});
        assert_eq!(w.s.post(&w.client, &start, body).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    let body =
        json!({"analyses": [{"type": "quality"}], "resolution_endpoint": "http://169.254.169.254/latest/meta-data"});
    let (st, list) = w.s.post(&w.client, &start, body).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    let aid = list[0]["analyse_id"].as_str().unwrap().to_string();
    w.s.wait_analysis(&w.client, &aid, 60).await;
    for _ in 0..50 {
        let recs = w.s.get(&w.cadmin, &format!("/api/webhook_deliveries?analyse_id={aid}")).await.1;
        if recs.as_array().is_some_and(|a| a.len() >= 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Time for retries that must not happen.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let recs = w.s.get(&w.cadmin, &format!("/api/webhook_deliveries?analyse_id={aid}")).await.1;
    let list = recs.as_array().unwrap();
    assert_eq!(list.len(), 2, "one attempt per destination, no retries: {recs}");
    for r in list {
        assert_eq!(r["error"], "destination not allowed", "{r}");
        assert_eq!(r["attempt"], 1, "{r}");
    }
    assert!(!recs.to_string().contains("resolves"), "no resolution details: {recs}");
    assert!(hook.hits().is_empty());
}

/// Fair queueing: a company that floods the queue with slow analyses (its own plugin burning its
/// whole time budget) delays another company's analysis by at most the jobs already running, not
/// by its backlog; its timed-out analyses are not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_company_cannot_stall_another() {
    let s = Server::builder(Db::Sqlite).set("workers", "4").start().await;
    let w = World::with(s).await;
    let manifest = json!({"kind": "analysis", "name": "quality", "version": "1.0.0"});
    let (st, p) = w.s.upload_plugin(&w.other_admin, component("hostile"), manifest).await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let g = id(&w.g, "folder_id");
    let flood = json!({"analyses": (0..16).map(|_| json!({"type": "quality", "params": {"mode": "loop"}})).collect::<Vec<_>>()});
    let mut theirs = Vec::new();
    for _ in 0..3 {
        let (st, list) = w.s.post(&w.other, &format!("/api/folders/{g}/analyses/"), flood.clone()).await;
        assert_eq!(st, StatusCode::CREATED, "{list}");
        theirs.extend(list.as_array().unwrap().iter().map(|a| id(a, "analyse_id")));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let (st, f) =
        w.s.upload(
            &w.client,
            "/api/folders/",
            vec![file("p", "p.jpg", test_photo("obama.jpg"))],
            Some(json!({"media:tags": {"p": ["photo_selfie"]}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let (st, list) =
        w.s.post(
            &w.client,
            &format!("/api/folders/{}/analyses/", id(&f, "folder_id")),
            json!({"analyses": [{"type": "quality"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 120).await;
    let waited = started.elapsed();
    assert_eq!(a["state"], "FINISHED", "{a}");
    let (_, stats) = w.s.get(&w.admin, "/api/jobs/stats").await;
    println!("waited {waited:?} behind another company's backlog; queue: {stats}");
    assert!(waited < Duration::from_secs(60), "another company's analysis waited {waited:?}");
    // Ours was queued after all 48 of theirs, yet claimed before most of them: as soon as
    // a worker freed, the company with nothing running went first (FIFO would claim it last).
    let ours = a["time_task_received"].as_f64().expect("time_task_received");
    let mut after = 0;
    for t in &theirs {
        let x = w.s.wait_analysis(&w.other, t, 120).await;
        if x["time_task_received"].as_f64().is_some_and(|r| r > ours) {
            after += 1;
        }
    }
    assert!(after >= 24, "only {after} of their 48 earlier analyses were claimed after ours");
    // A plugin that ran out of time is not retried: each of theirs ends after one attempt.
    let first = w.s.wait_analysis(&w.other, &theirs[0], 120).await;
    assert_eq!(first["state"], "FAILED", "{first}");
    assert!(
        first["error"].to_string().contains("plugin_timeout") || first["error"].to_string().contains("plugin_fault"),
        "{first}"
    );
}

/// A company's queued work is capped; beyond it, requests are refused with 429 until some finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_work_is_capped() {
    let s = Server::builder(Db::Sqlite).set("workers", "0").set("job_company_queued", "4").start().await;
    let w = World::with(s).await;
    let path = format!("/api/folders/{}/analyses/", id(&w.f1, "folder_id"));
    let five = json!({"analyses": (0..5).map(|_| json!({"type": "quality"})).collect::<Vec<_>>()});
    let r = w.s.post(&w.client, &path, five).await;
    assert_eq!((r.0.as_u16(), r.1["error_code"].as_i64()), (429, Some(4)), "{}", r.1);
    let four = json!({"analyses": (0..4).map(|_| json!({"type": "quality"})).collect::<Vec<_>>()});
    assert_eq!(w.s.post(&w.client, &path, four).await.0, StatusCode::CREATED);
    // The company is full; another company is not.
    let one = json!({"analyses": [{"type": "quality"}]});
    assert_eq!(
        w.s.post(&w.client2, &format!("/api/folders/{}/analyses/", id(&w.f2, "folder_id")), one.clone())
            .await
            .0
            .as_u16(),
        429
    );
    assert_eq!(
        w.s.post(&w.other, &format!("/api/folders/{}/analyses/", id(&w.g, "folder_id")), one).await.0,
        StatusCode::CREATED
    );
}
