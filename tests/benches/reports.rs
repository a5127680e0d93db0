//! Folder reports over HTTP on loopback (`make bench`), against the real server (SQLite, local
//! files, the built-in components): a typical folder (two ~1 MP selfies, QUALITY and BIOMETRY
//! finished, best shot) reported `VIGIL_BENCH_REPORTS` times (default 30) with the default
//! template: request → 201 p50/p95, with the server's own split (data, template in the sandbox,
//! Typst in its child process). Then a template swap: a company template is uploaded, replaced
//! by a new version, and the time from the start of the update to the first report showing the
//! new version is measured.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use std::time::Instant;
use vigil_tests::*;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("VIGIL_BENCH_REPORTS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let s = Server::builder(Db::Sqlite).start().await;
    let admin = s.admin().await;
    let company = s.company(&admin, "Bank").await;
    let cadmin = s.user(&admin, "admin@bank.test", "CLIENT_ADMIN", Some(&company)).await;
    let fid = s.selfie_folder(&cadmin, &[&megapixel("obama.jpg"), &megapixel("obama2.jpg")]).await;
    let (st, list) = s
        .post(
            &cadmin,
            &format!("/api/folders/{fid}/analyses/"),
            json!({"analyses": [{"type": "quality"}, {"type": "biometry"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    for a in list.as_array().unwrap() {
        s.wait_analysis(&cadmin, a["analyse_id"].as_str().unwrap(), 300).await;
    }
    let path = format!("/api/folders/{fid}/reports/");
    // One warm-up: the first call compiles the component's instance pre and pages the renderer in.
    let (st, r) = s.post(&cadmin, &path, json!({})).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let (mut total, mut data, mut sandbox, mut typst, mut size) = (vec![], vec![], vec![], vec![], 0);
    for _ in 0..n {
        let t = Instant::now();
        let (st, r) = s.post(&cadmin, &path, json!({})).await;
        total.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(st, StatusCode::CREATED, "{r}");
        data.push(r["timings"]["data_ms"].as_f64().unwrap());
        sandbox.push(r["timings"]["template_ms"].as_f64().unwrap());
        typst.push(r["timings"]["typeset_ms"].as_f64().unwrap());
        size = r["size"].as_i64().unwrap();
    }
    println!(
        "| reports | request p50 | request p95 | data p50 | sandbox (minijinja) p50 | Typst → PDF p50 | PDF size |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {:.0} ms | {:.0} ms | {:.1} ms | {:.1} ms | {:.0} ms | {} KB |",
        pct(&mut total, 0.5),
        pct(&mut total, 0.95),
        pct(&mut data, 0.5),
        pct(&mut sandbox, 0.5),
        pct(&mut typst, 0.5),
        size / 1024
    );

    // Template swap: version 2 uploaded, then the next report.
    let v1 = "= Bank report v1\nFolder {{ folder.folder_id }}\n";
    let (st, t) = s
        .upload(
            &cadmin,
            "/api/report_templates/",
            vec![file("template", "bank.typ", v1.as_bytes().to_vec())],
            Some(json!({"name": "Bank"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    let tid = t["report_template_id"].as_str().unwrap().to_string();
    let mut swaps = Vec::new();
    for v in 2..7 {
        let body = format!("= Bank report v{v}\nFolder {{{{ folder.folder_id }}}}\n");
        let t = Instant::now();
        let (st, _) = s
            .upload_with(
                &cadmin,
                reqwest::Method::PUT,
                &format!("/api/report_templates/{tid}/"),
                vec![file("template", "bank.typ", body.into_bytes())],
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (st, r) = s.post(&cadmin, &path, json!({})).await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        assert_eq!(r["template_version"], v);
        swaps.push(t.elapsed().as_secs_f64() * 1e3);
        let (_, pdf) = s.fetch(Some(&cadmin), r["file_url"].as_str().unwrap()).await;
        assert!(pdf_text(&pdf).contains(&format!("Bank report v{v}")));
    }
    println!();
    println!("| template swap: update → first report with the new version, p50 | max |");
    println!("|---|---|");
    println!("| {:.0} ms | {:.0} ms |", pct(&mut swaps, 0.5), pct(&mut swaps, 1.0));
}
