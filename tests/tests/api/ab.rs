//! A/B experiments end to end: a split between the built-in QUALITY plugin and a stricter
//! version of it on real photos, a shadow run that never touches the folder, hostile rules,
//! company isolation, the state machine, the statistics and the CLI.

use crate::{World, id, oz_err};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use vigil_tests::*;

/// Photos of different people and sittings, cycled over the folders.
const PHOTOS: [&str; 6] = ["obama2.jpg", "obama.jpg", "biden.jpg", "grace_hopper.jpg", "obama3.jpg", "astronaut.png"];

/// A selfie folder of one of the photos, with folder metadata.
async fn selfie(s: &Server, who: &Session, n: usize, meta: Value) -> String {
    let photo = crate::decoding::as_jpeg(&test_photo(PHOTOS[n % PHOTOS.len()]));
    let payload = json!({"media:tags": {"p": ["photo_selfie"]}, "folder:meta_data": meta});
    let (st, f) = s.upload(who, "/api/folders/", vec![file("p", "me.jpg", photo)], Some(payload)).await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    id(&f, "folder_id")
}

/// Requests QUALITY on a folder; the analysis as answered.
async fn quality(s: &Server, who: &Session, folder: &str, extra: Value) -> Value {
    let mut body = json!({"analyses": [{"type": "quality"}]});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let (st, list) = s.post(who, &format!("/api/folders/{folder}/analyses/"), body).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "shadows are never answered: {list}");
    list[0].clone()
}

fn ab(a: &Value) -> &Value {
    &a["technical_meta_data"]["ab_test"]
}

/// The company's own copy of the built-in QUALITY component that declines everything, installed
/// beside the active version without replacing it.
async fn strict_version(s: &Server, who: &Session) -> String {
    let manifest = json!({"kind": "analysis", "name": "quality", "version": "2-strict",
                          "config": {"threshold": "0"}, "activate": false});
    let (st, p) = s.upload_plugin(who, component("quality"), manifest).await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    assert_eq!(p["active"], false);
    id(&p, "plugin_id")
}

async fn create(s: &Server, who: &Session, body: Value) -> (StatusCode, Value) {
    s.post(who, "/api/ab_tests/", body).await
}

async fn created(s: &Server, who: &Session, body: Value) -> Value {
    let (st, t) = create(s, who, body).await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    t
}

async fn act(s: &Server, who: &Session, t: &str, action: &str) -> (StatusCode, Value) {
    s.post(who, &format!("/api/ab_tests/{t}/{action}"), json!({})).await
}

async fn stats(s: &Server, who: &Session, t: &str) -> Value {
    let (st, v) = s.get(who, &format!("/api/ab_tests/{t}/stats")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

fn line<'a>(st: &'a Value, variant: &str) -> &'a Value {
    st["variants"].as_array().unwrap().iter().find(|v| v["variant"] == variant).unwrap()
}

/// Every analysis the experiment routed, shadows included, once they have all finished.
async fn routed(s: &Server, who: &Session, t: &str, expect: usize) -> Vec<Value> {
    let until = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let (st, page) = s.get(who, &format!("/api/analyses/?ab_test_id={t}&limit=1000")).await;
        assert_eq!(st, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap().clone();
        assert_eq!(page["total"].as_u64(), Some(items.len() as u64));
        if items.len() >= expect && items.iter().all(|a| a["state"] != "PROCESSING") {
            assert_eq!(items.len(), expect, "{page}");
            return items;
        }
        assert!(std::time::Instant::now() < until, "analyses still running: {page}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn score(a: &Value) -> f64 {
    a["results_data"]["confidence_spoofing"].as_f64().unwrap_or_else(|| panic!("score of {a}"))
}

async fn split(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let strict_id = strict_version(s, &w.cadmin).await;
    let t = created(
        s,
        &w.cadmin,
        json!({"name": "stricter liveness", "analysis_type": "QUALITY", "mode": "split", "rule": null,
               "variants": [{"name": "control", "plugin": "quality", "weight": 50},
                            {"name": "strict", "plugin": "quality", "version": "2-strict", "weight": 50}],
               "note": "unknown fields are ignored"}),
    )
    .await;
    let tid = id(&t, "ab_test_id");
    assert_eq!((t["state"].as_str(), t["mode"].as_str()), (Some("running"), Some("split")));
    assert_eq!(t["variants"][1]["plugin_id"].as_str(), Some(strict_id.as_str()));
    assert!(t["variants"][0]["plugin_id"].is_null(), "the control follows the active version");
    let e = oz_err(&s.delete(&w.cadmin, &format!("/api/plugins/{strict_id}/")).await, 409, 4);
    assert!(e.contains("stricter liveness"), "a pinned version stays while its experiment runs: {e}");

    // Folders until both variants have at least three (50/50: a handful of folders suffice).
    let mut by_folder: BTreeMap<String, String> = BTreeMap::new();
    let mut n = 0;
    while n < 30 {
        let f = selfie(s, &w.client, n, json!({"transaction_id": format!("T-{n}")})).await;
        let a = quality(s, &w.client, &f, json!({})).await;
        assert_eq!(ab(&a)["ab_test_id"].as_str(), Some(tid.as_str()), "{a}");
        assert_eq!(ab(&a)["shadow"], false);
        by_folder.insert(f, ab(&a)["variant"].as_str().unwrap().to_string());
        n += 1;
        let strict = by_folder.values().filter(|v| *v == "strict").count();
        if n >= 8 && strict >= 3 && by_folder.len() - strict >= 3 {
            break;
        }
    }
    // The same folder always gets the same variant.
    for (f, v) in by_folder.iter().take(3) {
        let again = quality(s, &w.client, f, json!({})).await;
        assert_eq!(ab(&again)["variant"].as_str(), Some(v.as_str()), "folder {f}");
    }
    let total = by_folder.len() + 3;
    let all = routed(s, &w.cadmin, &tid, total).await;

    // Each variant's verdict is its plugin's: the strict version declines everything, the
    // control declines at its threshold; the folder shows the chosen variant's verdict.
    let mut want: BTreeMap<&str, (i64, i64, Vec<f64>)> = BTreeMap::new();
    for a in &all {
        let v = ab(a)["variant"].as_str().unwrap();
        assert_eq!(a["state"], "FINISHED", "{a}");
        assert!(ab(a)["fallback"].is_null(), "{a}");
        let threshold = a["results_data"]["threshold"].as_f64().unwrap();
        let declined = a["resolution_status"] == "DECLINED";
        match v {
            "strict" => {
                assert_eq!(threshold, 0.0, "{a}");
                assert!(declined, "{a}");
                assert!(a["technical_meta_data"]["plugin"].as_str().unwrap().ends_with("@2-strict"), "{a}");
            }
            "control" => {
                assert_eq!(threshold, 0.5, "{a}");
                assert_eq!(declined, score(a) >= 0.5, "{a}");
            }
            other => panic!("variant {other}"),
        }
        let e = want.entry(if v == "strict" { "strict" } else { "control" }).or_default();
        e.0 += 1;
        e.1 += i64::from(declined);
        e.2.push(score(a));
    }
    let (sf, _) = by_folder.iter().find(|(_, v)| *v == "strict").unwrap();
    let (st, folder) = s.get(&w.client, &format!("/api/folders/{sf}/")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(folder["system_resolution"], "DECLINED", "{folder}");

    // List filters.
    let (_, page) = s.get(&w.cop, &format!("/api/analyses/?ab_test_id={tid}&ab_variant=strict")).await;
    assert_eq!(page["total"].as_i64(), Some(want["strict"].0), "{page}");
    assert!(page["items"].as_array().unwrap().iter().all(|a| ab(a)["variant"] == "strict"));

    // An operator disagrees with one strict verdict and agrees with one control verdict.
    let pick = |v: &str| all.iter().find(|a| ab(a)["variant"] == v).unwrap().clone();
    let (strict_a, control_a) = (pick("strict"), pick("control"));
    let (st, d) = s
        .patch(
            &w.operator,
            &format!("/api/analyses/{}/", id(&strict_a, "analyse_id")),
            json!({"resolution": "SUCCESS", "comment": "live person"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    let same = control_a["resolution_status"].as_str().unwrap();
    if same != "OPERATOR_REQUIRED" {
        let (st, d) = s
            .patch(
                &w.operator,
                &format!("/api/analyses/{}/", id(&control_a, "analyse_id")),
                json!({"resolution": same}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{d}");
    }

    // The statistics match the analyses, for a reader of the company.
    let st = stats(s, &w.cop, &tid).await;
    for v in ["control", "strict"] {
        let l = line(&st, v);
        let (n, declined, scores) = &want[v];
        assert_eq!((l["analyses"].as_i64(), l["finished"].as_i64()), (Some(*n), Some(*n)), "{l}");
        assert_eq!(l["declined"].as_i64(), Some(*declined), "{l}");
        assert_eq!(l["fallbacks"], 0);
        let rate = *declined as f64 / *n as f64;
        assert!((l["rates"]["declined"].as_f64().unwrap() - rate).abs() < 1e-12, "{l}");
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        assert_eq!(l["score"]["n"].as_i64(), Some(*n));
        assert!((l["score"]["mean"].as_f64().unwrap() - mean).abs() < 1e-9, "{l} vs {mean}");
        let p50 = l["score"]["p50"].as_f64().unwrap();
        assert!(scores.iter().any(|x| (x - p50).abs() < 1e-12), "the median is one of the scores");
        let (lp50, lp95) = (l["latency_ms"]["p50"].as_f64().unwrap(), l["latency_ms"]["p95"].as_f64().unwrap());
        assert!(lp50 > 0.0 && lp50 <= lp95, "{l}");
    }
    assert_eq!(line(&st, "strict")["operator_decided"], 1);
    assert_eq!(line(&st, "strict")["rates"]["operator_agreement"].as_f64(), Some(0.0));
    if same != "OPERATOR_REQUIRED" {
        assert_eq!(line(&st, "control")["rates"]["operator_agreement"].as_f64(), Some(1.0));
    }
    // The decline-rate difference, its Wald interval and the pooled z-test, computed here.
    let c = &st["comparisons"][0];
    assert_eq!(c["variant"], "strict");
    let (nv, dv) = (want["strict"].0 as f64, want["strict"].1 as f64);
    let (nc, dc) = (want["control"].0 as f64, want["control"].1 as f64);
    let (pv, pc) = (dv / nv, dc / nc);
    let diff = pv - pc;
    let se = (pv * (1.0 - pv) / nv + pc * (1.0 - pc) / nc).sqrt();
    let dr = &c["decline_rate"];
    assert_eq!(dr["test"], "two_proportion_z");
    assert!((dr["difference"].as_f64().unwrap() - diff).abs() < 1e-12, "{c}");
    assert!((dr["ci_low"].as_f64().unwrap() - (diff - 1.959964 * se).max(-1.0)).abs() < 1e-5, "{c}");
    assert!((dr["ci_high"].as_f64().unwrap() - (diff + 1.959964 * se).min(1.0)).abs() < 1e-5, "{c}");
    let p = dr["p_value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p), "{c}");
    if diff - 1.959964 * se > 0.0 {
        assert!(c["conclusion"].as_str().unwrap().starts_with("strict declines more than control"), "{c}");
    }

    // The CLI prints the same numbers.
    let out = s.cli(&["ab", "show", &tid]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stricter liveness") && text.contains(c["conclusion"].as_str().unwrap()), "{text}");
    let strict_row = text.lines().find(|l| l.starts_with("strict ")).unwrap();
    assert!(strict_row.contains(&format!(" {} ", want["strict"].0)) && strict_row.contains("100.0%"), "{text}");
}

both_dbs!(split_t, split);

/// Shadow mode: the control decides and the stricter version runs beside it on every analysis;
/// the folder, its analyses list, its webhook and its report never see the shadow.
async fn shadow(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    strict_version(s, &w.cadmin).await;
    let t = created(
        s,
        &w.cadmin,
        json!({"name": "strict in the shadow", "analysis_type": "quality", "mode": "shadow",
               "variants": [{"name": "control", "plugin": "quality", "weight": 0},
                            {"name": "strict", "plugin": "quality", "version": "2-strict", "weight": 1}]}),
    )
    .await;
    let tid = id(&t, "ab_test_id");
    let hook = Receiver::start(0).await;
    let mut folders = Vec::new();
    for n in 0..4 {
        let f = selfie(s, &w.client, n, json!({})).await;
        let a = quality(s, &w.client, &f, json!({"resolution_endpoint": hook.url})).await;
        assert_eq!((ab(&a)["variant"].as_str(), ab(&a)["shadow"].as_bool()), (Some("control"), Some(false)));
        folders.push((f, id(&a, "analyse_id")));
    }
    let all = routed(s, &w.cadmin, &tid, 8).await;
    let shadows: Vec<&Value> = all.iter().filter(|a| ab(a)["shadow"] == true).collect();
    assert_eq!(shadows.len(), 4);
    let mut disagree = 0;
    for (f, primary) in &folders {
        let p = all.iter().find(|a| &id(a, "analyse_id") == primary).unwrap();
        let sh = shadows.iter().find(|a| ab(a)["shadow_of"].as_str() == Some(primary)).unwrap();
        assert_eq!((ab(sh)["variant"].as_str(), sh["resolution_status"].as_str()), (Some("strict"), Some("DECLINED")));
        assert_eq!(sh["folder_id"].as_str(), Some(f.as_str()));
        disagree += usize::from(p["resolution_status"] != "DECLINED");
        // The folder: the control's verdict, one analysis in every view.
        let (_, folder) = s.get(&w.client, &format!("/api/folders/{f}/?with_analyses=true")).await;
        assert_eq!(folder["system_resolution"], p["resolution_status"], "{folder}");
        assert_eq!(folder["analyses"].as_array().map(Vec::len), Some(1), "{folder}");
        let (_, list) = s.get(&w.client, &format!("/api/analyses/?folder_id={f}")).await;
        assert_eq!(list["total"], 1, "{list}");
        let (_, list) = s.get(&w.client, &format!("/api/folders/{f}/analyses/")).await;
        assert_eq!(list["total"].as_i64().or(list.as_array().map(|a| a.len() as i64)), Some(1), "{list}");
        // Readable by id and by the experiment, for those who study it.
        let (st, _) = s.get(&w.client, &format!("/api/analyses/{}/", id(sh, "analyse_id"))).await;
        assert_eq!(st, StatusCode::OK);
    }
    // A shadow has no say: operators decide the analysis it shadows.
    let shadow_id = id(shadows[0], "analyse_id");
    let e = oz_err(
        &s.patch(&w.operator, &format!("/api/analyses/{shadow_id}/"), json!({"resolution": "SUCCESS"})).await,
        400,
        4,
    );
    assert!(e.contains("shadow"), "{e}");
    // The first photo passes the control: its report says nothing of the shadow's decline.
    let (f0, p0) = &folders[0];
    let p0 = all.iter().find(|a| &id(a, "analyse_id") == p0).unwrap();
    assert_eq!(p0["resolution_status"], "SUCCESS", "{p0}");
    let (st, r) = s.post(&w.client, &format!("/api/folders/{f0}/reports/"), json!({})).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let (_, pdf) = s.fetch(Some(&w.client), r["file_url"].as_str().unwrap()).await;
    let text = pdf_text(&pdf);
    assert!(text.contains("SUCCESS") && !text.contains("DECLINED"), "{text}");
    // One webhook per request, for the control's analysis only.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let hits: Vec<String> =
        hook.hits().iter().map(|h| h.json()["analysis"]["analyse_id"].as_str().unwrap().to_string()).collect();
    let mut want: Vec<String> = folders.iter().map(|f| f.1.clone()).collect();
    let mut got = hits.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "webhooks of the shadows: {hits:?}");

    // Statistics: both recorded; the disagreement and the paired comparison.
    let st = stats(s, &w.cadmin, &tid).await;
    let strict = line(&st, "strict");
    assert_eq!((strict["shadow"].as_bool(), strict["analyses"].as_i64()), (Some(true), Some(4)));
    assert_eq!(line(&st, "control")["analyses"], 4);
    let d = &strict["shadow_disagreement"];
    assert_eq!((d["pairs"].as_i64(), d["disagreements"].as_i64()), (Some(4), Some(disagree as i64)), "{d}");
    let paired = &st["comparisons"][0]["paired_decline_rate"];
    assert_eq!(paired["test"], "mcnemar");
    assert!((paired["difference"].as_f64().unwrap() - disagree as f64 / 4.0).abs() < 1e-12, "{paired}");
    assert!(line(&st, "control")["shadow_disagreement"].is_null());
}

both_dbs!(shadow_runs_never_touch_the_folder, shadow);

/// A company's own rule that loops, traps or names no variant: the control runs, and every
/// such fallback is recorded and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_rules_fall_back_to_the_control() {
    let w = World::new(Db::Sqlite).await;
    let s = &w.s;
    let manifest = json!({"kind": "ab-rule", "name": "my-rule", "version": "1"});
    let (st, p) = s.upload_plugin(&w.cadmin, component("ab_pick"), manifest).await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let t = created(
        s,
        &w.cadmin,
        json!({"name": "own rule", "analysis_type": "QUALITY", "rule": "my-rule",
               "variants": [{"name": "control", "plugin": "quality"},
                            {"name": "strict", "plugin": "quality", "config": {"threshold": 0}}]}),
    )
    .await;
    let tid = id(&t, "ab_test_id");
    for (n, (key, reason)) in
        [("spin", "fuel"), ("trap", "trap"), ("wrong", "not one of the variants")].iter().enumerate()
    {
        let f = selfie(s, &w.client, n, json!({ *key: "1" })).await;
        let a = quality(s, &w.client, &f, json!({})).await;
        assert_eq!(ab(&a)["variant"], "control", "{a}");
        let why = ab(&a)["fallback"].as_str().unwrap_or_else(|| panic!("no fallback recorded: {a}"));
        // A loop runs out of fuel (or, on a starved machine, out of its wall-clock budget first).
        let said = why.to_lowercase().contains(reason) || (*key == "spin" && why.contains("time budget"));
        assert!(why.contains("my-rule") && said, "{key}: {why}");
    }
    // A well-behaved call of the same rule is followed, and followed again for the same folder.
    let mut variants = Vec::new();
    for n in 0..6 {
        let f = selfie(s, &w.client, n, json!({"channel": "web"})).await;
        let a = quality(s, &w.client, &f, json!({})).await;
        assert!(ab(&a)["fallback"].is_null(), "{a}");
        let again = quality(s, &w.client, &f, json!({})).await;
        assert_eq!(ab(&a)["variant"], ab(&again)["variant"]);
        variants.push(ab(&a)["variant"].as_str().unwrap().to_string());
    }
    let all = routed(s, &w.cadmin, &tid, 15).await;
    // The config overlay ran where the rule chose the strict variant.
    for a in all.iter().filter(|a| ab(a)["variant"] == "strict") {
        assert_eq!(
            (a["results_data"]["threshold"].as_f64(), a["resolution_status"].as_str()),
            (Some(0.0), Some("DECLINED"))
        );
    }
    let st = stats(s, &w.cadmin, &tid).await;
    assert_eq!(line(&st, "control")["fallbacks"], 3, "{st}");
    assert_eq!(line(&st, "strict")["fallbacks"], 0);
    let strict = variants.iter().filter(|v| *v == "strict").count() as i64 * 2;
    assert_eq!(line(&st, "strict")["analyses"].as_i64(), Some(strict), "{st}");
    // The statistics live in the database: a restarted server gives the same numbers.
    let s = w.s.restart().await;
    let again = stats(&s, &w.cadmin, &tid).await;
    assert_eq!(again["variants"], st["variants"]);
    assert_eq!(again["comparisons"], st["comparisons"]);
}

/// Who may do what, company isolation, one running experiment per type, pause/resume/stop, the
/// audit trail, refusals of bad requests, and the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiments_are_company_scoped_and_follow_their_states() {
    let w = World::new(Db::Sqlite).await;
    let s = &w.s;
    let body = |name: &str| {
        json!({"name": name, "analysis_type": "QUALITY",
               "variants": [{"name": "control", "plugin": "quality"},
                            {"name": "strict", "plugin": "quality", "config": {"threshold": "0"}}]})
    };
    for who in [&w.client, &w.cop, &w.operator, &w.svc] {
        oz_err(&create(s, who, body("x")).await, 403, 9);
    }
    let mut c1_for_c2 = body("x");
    c1_for_c2["company_id"] = json!(w.c2);
    oz_err(&create(s, &w.cadmin, c1_for_c2).await, 403, 9);
    oz_err(&create(s, &w.admin, body("x")).await, 400, 4);
    let t = created(s, &w.cadmin, body("A")).await;
    let tid = id(&t, "ab_test_id");
    let mut for_c2 = body("B");
    for_c2["company_id"] = json!(w.c2);
    for_c2["state"] = json!("draft");
    let t2 = created(s, &w.admin, for_c2).await;
    let t2id = id(&t2, "ab_test_id");
    assert_eq!((t2["state"].as_str(), t2["company_id"].as_str()), (Some("draft"), Some(w.c2.as_str())));

    // Reading: another company's experiment does not exist; CLIENT reads none.
    for path in [format!("/api/ab_tests/{tid}"), format!("/api/ab_tests/{tid}/stats")] {
        oz_err(&s.get(&w.other_admin, &path).await, 404, 10);
    }
    oz_err(&act(s, &w.other_admin, &tid, "pause").await, 404, 10);
    oz_err(&s.get(&w.client, "/api/ab_tests/").await, 403, 9);
    let listed = |v: &Value| crate::ids(v, "ab_test_id");
    assert_eq!(listed(&s.get(&w.cop, "/api/ab_tests/").await.1), vec![tid.clone()]);
    assert_eq!(listed(&s.get(&w.other_admin, "/api/ab_tests/").await.1), vec![t2id.clone()]);
    let all = listed(&s.get(&w.operator, "/api/ab_tests/?state=running,draft").await.1);
    assert!(all.contains(&tid) && all.contains(&t2id));
    assert_eq!(listed(&s.get(&w.admin, "/api/ab_tests/?state=draft").await.1), vec![t2id.clone()]);
    oz_err(&act(s, &w.cop, &tid, "pause").await, 403, 9);

    // Routing is per company: C1's experiment never touches C2's analyses.
    let g = id(&w.g, "folder_id");
    let a = quality(s, &w.other, &g, json!({})).await;
    assert!(ab(&a).is_null(), "{a}");
    let f1 = id(&w.f1, "folder_id");
    assert_eq!(ab(&quality(s, &w.client, &f1, json!({})).await)["ab_test_id"].as_str(), Some(tid.as_str()));

    // One running experiment per company and type; a draft may wait beside it.
    let e = oz_err(&create(s, &w.cadmin, body("again")).await, 409, 4);
    assert!(e.contains("already running"), "{e}");
    let mut draft = body("later");
    draft["state"] = json!("draft");
    let d = created(s, &w.cadmin, draft).await;
    oz_err(&act(s, &w.cadmin, &id(&d, "ab_test_id"), "resume").await, 409, 4);

    // Pause: the type's own plugin runs; resume: routed again; stop: final.
    let (st, p) = act(s, &w.cadmin, &tid, "pause").await;
    assert_eq!((st, p["state"].as_str()), (StatusCode::OK, Some("paused")));
    oz_err(&act(s, &w.cadmin, &tid, "pause").await, 400, 4);
    assert!(ab(&quality(s, &w.client, &f1, json!({})).await).is_null());
    let (st, r) = act(s, &w.cadmin, &tid, "resume").await;
    assert_eq!((st, r["state"].as_str()), (StatusCode::OK, Some("running")));
    assert!(!ab(&quality(s, &w.client, &f1, json!({})).await).is_null());
    oz_err(&s.delete(&w.cadmin, &format!("/api/ab_tests/{tid}")).await, 400, 4);
    // The operator's CLI lists and stops it.
    let out = s.cli(&["ab", "list", "--state", "running"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with(&tid) && l.contains("\tA")), "{text}");
    let out = s.cli(&["ab", "stop", &tid]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, now) = s.get(&w.cop, &format!("/api/ab_tests/{tid}")).await;
    assert_eq!(now["state"], "stopped");
    assert!(now["time_stopped"].as_f64().is_some());
    assert!(ab(&quality(s, &w.client, &f1, json!({})).await).is_null());
    let e = oz_err(&act(s, &w.cadmin, &tid, "resume").await, 400, 4);
    assert!(e.contains("final"), "{e}");
    // The statistics of a stopped experiment stay: 2 routed analyses.
    let st = stats(s, &w.cadmin, &tid).await;
    let routed: i64 = st["variants"].as_array().unwrap().iter().map(|v| v["analyses"].as_i64().unwrap()).sum();
    assert_eq!(routed, 2, "{st}");
    let (st, _) = s.delete(&w.cadmin, &format!("/api/ab_tests/{tid}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    oz_err(&s.get(&w.cadmin, &format!("/api/ab_tests/{tid}")).await, 404, 10);
    // Every change is in the audit log.
    let (_, log) = s.get(&w.cadmin, &format!("/api/audit_log/?object_id={tid}")).await;
    let mut entries = log["items"].as_array().unwrap().clone();
    entries.sort_by(|a, b| a["time_created"].as_f64().partial_cmp(&b["time_created"].as_f64()).unwrap());
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "pause", "resume", "stop", "delete"], "{log}");

    // Refusals, each with the reason.
    let bad = |v: Value| {
        let mut b = body("bad");
        b["state"] = json!("draft");
        if let (Value::Object(b), Value::Object(v)) = (&mut b, v) {
            b.extend(v);
        }
        b
    };
    for (b, says) in [
        (bad(json!({"variants": [{"name": "a", "plugin": "quality"}]})), "2 to 8"),
        (
            bad(json!({"variants": [{"name": "a", "plugin": "quality"}, {"name": "b", "plugin": "nope"}]})),
            "no analysis plugin",
        ),
        (
            bad(
                json!({"variants": [{"name": "a", "plugin": "quality"}, {"name": "b", "plugin": "quality", "version": "9"}]}),
            ),
            "no version '9'",
        ),
        (bad(json!({"rule": "quality"})), "not an active ab-rule"),
        (bad(json!({"mode": "canary"})), "split or shadow"),
        (bad(json!({"analysis_type": "no way!"})), "unknown analysis type"),
    ] {
        let e = oz_err(&create(s, &w.cadmin, b).await, 400, 4);
        assert!(e.contains(says), "{e} does not say {says}");
    }
}
