//! Operations: Prometheus metrics on their own address, JSON logs to rotated files with the
//! request id on every request line.

use crate::id;
use serde_json::{Value, json};
use vigil_tests::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// Samples of a metric: `(labels, value)` for each line starting with `name{`.
fn samples(text: &str, name: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

async fn metrics(db: Db) {
    let port = free_port();
    let s = Server::builder(db).set("metrics_listen", &format!("127.0.0.1:{port}")).start().await;
    let admin = s.admin().await;
    let fid = s.selfie_folder(&admin, &[&test_photo("obama.jpg")]).await;
    let (st, list) =
        s.post(&admin, &format!("/api/folders/{fid}/analyses/"), json!({"analyses": [{"type": "QUALITY"}]})).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    s.wait_analysis(&admin, &id(&list[0], "analyse_id"), 90).await;
    s.get(&admin, &format!("/api/folders/{fid}/")).await;

    let r = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    // Requests by route pattern (never the raw path, which holds ids) and status, with latency.
    let req = samples(&text, "vigil_http_requests_total");
    assert!(
        req.iter().any(|(k, v)| k.contains("route=\"/api/folders/{folder_id}\"")
            && k.contains("status=\"200\"")
            && *v >= 1.0),
        "{req:?}"
    );
    assert!(!text.contains(&fid), "a raw path leaked into a label");
    assert!(!samples(&text, "vigil_http_request_seconds_bucket").is_empty());
    // Analyses by type and outcome with durations; plugin calls; inference by model; the queue.
    assert!(samples(&text, "vigil_analyses_total").iter().any(|(k, _)| k.contains("type=\"QUALITY\"")), "{text}");
    assert!(samples(&text, "vigil_analysis_seconds_count").iter().any(|(k, v)| k.contains("QUALITY") && *v >= 1.0));
    assert!(
        samples(&text, "vigil_plugin_calls_total")
            .iter()
            .any(|(k, _)| k.contains("plugin=\"quality\"") && k.contains("outcome=\"ok\"")),
        "{text}"
    );
    assert!(samples(&text, "vigil_inference_seconds_count").iter().any(|(k, v)| k.contains("model=") && *v >= 1.0));
    assert!(samples(&text, "vigil_jobs").iter().any(|(k, v)| k.contains("state=\"done\"") && *v >= 1.0), "{text}");
    assert_eq!(samples(&text, "vigil_job_oldest_ready_seconds").len(), 1);
    assert!(!samples(&text, "vigil_frame_cache_total").is_empty());
    // Not on the API address.
    assert_eq!(reqwest::get(s.url("/metrics")).await.unwrap().status(), 404);
}
both_dbs!(metrics_t, metrics);

async fn log_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::builder(Db::Sqlite)
        .set("log_dir", &dir.path().display().to_string())
        .set("log_format", "json")
        .set("log_rotation", "8K")
        .set("log_max_files", "2")
        .spawn()
        .await;
    let admin = s.admin().await;
    for i in 0..60 {
        let r = s
            .req(reqwest::Method::GET, Some(&admin), "/api/folders/")
            .header("x-request-id", format!("trace-{i:03}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-request-id"], format!("trace-{i:03}").as_str(), "the id comes back");
    }
    s.stop().await;
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
    names.sort();
    assert_eq!(names, ["vigil.1.log", "vigil.2.log", "vigil.log"], "rotated by size, two kept");
    let mut seen = 0;
    for n in &names {
        assert!(std::fs::metadata(dir.path().join(n)).unwrap().len() <= 8192 + 2048, "{n} too large");
        for line in std::fs::read_to_string(dir.path().join(n)).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let in_request = v["span"]["name"] == "request";
            if in_request {
                assert!(v["span"]["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{line}");
            }
            if v["span"]["request_id"].as_str().is_some_and(|r| r.starts_with("trace-")) {
                seen += 1;
            }
        }
    }
    assert!(seen >= 10, "request lines with their ids in the kept files: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_files_rotate_with_request_ids() {
    log_files().await
}
