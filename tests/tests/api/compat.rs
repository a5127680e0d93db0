//! The compatibility suite: request shapes replayed as public Oz clients send them, checked by
//! what those clients parse from the answers (reference §2.0, §9; clients C1–C5 of §1).
//!
//! * C1 — the 2019 iOS SDK (`OZRequestManager.swift`): every request labelled
//!   `application/x-www-form-urlencoded`, JSON bodies anyway; folder creation on `/api/folders/?`;
//!   analyses on `/api/folders/{id}/analyses` without the slash; the answer parsed as a dict or as
//!   an array's last element; polling `GET /api/analyses/{id}` with that header and no body.
//! * C4 — the 2018 PHP client (`Folder.php`): a bodiless `POST api/folders` to make an empty
//!   folder, files without a payload, `folders?offset=0&limit=100`.
//! * C3 — a Node proxy: `meta_data` + `with_analyses` + `time_created.min`, refresh ahead of
//!   `expire_date`.
//! * Shell scripts: `curl -d` JSON, answers read with grep; forms; milliseconds; cache-busters.

use crate::{World, id, oz_err};
use reqwest::Method;
use serde_json::{Value, json};
use vigil_tests::*;

const FORM: &str = "application/x-www-form-urlencoded";

async fn raw(r: reqwest::RequestBuilder) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let r = r.send().await.expect("send");
    let (st, headers) = (r.status(), r.headers().clone());
    (st, r.text().await.expect("text"), headers)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// What C1 does with an answer: a dict, or the last element of an array.
fn c1_parse(text: &str) -> Value {
    match json_of(text) {
        Value::Array(a) => a.last().cloned().expect("non-empty array"),
        v => v,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ios_sdk_2019_flow() {
    let w = World::new(Db::Sqlite).await;
    // Log-in: JSON labelled form-urlencoded.
    let body = json!({"credentials": {"email": "u@c1.test", "password": "Passw0rd-x"}}).to_string();
    let (st, text, _) =
        raw(w.s.req(Method::POST, None, "/api/authorize/auth").header("Content-Type", FORM).body(body)).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let token = json_of(&text)["access_token"].as_str().expect("access_token").to_string();
    let sess = Session { token, body: Value::Null };

    // Upload to `/api/folders/?`: fields video_0…, pretty-printed payload with phone_info.
    let payload = serde_json::to_string_pretty(&json!({
        "media:tags": {"video_0": ["video_selfie", "video_selfie_left", "orientation_portrait"]},
        "folder:meta_data": {"phone_info": {"manufacturer": "Apple", "model": "iPhone 8", "os_version": "12.4"}}
    }))
    .unwrap();
    let form = reqwest::multipart::Form::new()
        .part(
            "video_0",
            reqwest::multipart::Part::bytes(video_of("astronaut.png", 2, "mp4", 320)).file_name("video_0.mp4"),
        )
        .text("payload", payload);
    let (st, text, _) = raw(w.s.req(Method::POST, Some(&sess), "/api/folders/?").multipart(form)).await;
    assert_eq!(st, StatusCode::CREATED, "{text}");
    let folder = json_of(&text);
    let folder_id = folder["folder_id"].as_str().expect("folder_id").to_string();
    assert_eq!(folder["meta_data"]["phone_info"]["manufacturer"], "Apple");

    // Analyses: JSON labelled form-urlencoded, no trailing slash; the array's last element.
    let body = json!({"analyses": [{"type": "quality"}]}).to_string();
    let path = format!("/api/folders/{folder_id}/analyses");
    let (st, text, _) = raw(w.s.req(Method::POST, Some(&sess), &path).header("Content-Type", FORM).body(body)).await;
    assert_eq!(st, StatusCode::CREATED, "{text}");
    let answer = c1_parse(&text);
    let analyse_id = answer["analyse_id"].as_str().expect("analyse_id").to_string();
    assert!(["PROCESSING", "INITIAL"].contains(&answer["resolution"].as_str().unwrap()), "{answer}");

    // Poll every second as C1 does, with the form header on a bodiless GET, until decided.
    let mut resolution = String::new();
    for _ in 0..120 {
        let path = format!("/api/analyses/{analyse_id}");
        let (st, text, _) = raw(w.s.req(Method::GET, Some(&sess), &path).header("Content-Type", FORM)).await;
        assert_eq!(st, StatusCode::OK, "{text}");
        resolution = c1_parse(&text)["resolution"].as_str().expect("resolution").to_string();
        if resolution != "PROCESSING" && resolution != "INITIAL" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    // C1's enum knows these verdicts; the single-frame-per-second still of a rendered photo is
    // not live, so either verdict is a correct parse here.
    assert!(["SUCCESS", "DECLINED", "OPERATOR_REQUIRED"].contains(&resolution.as_str()), "{resolution}");

    // Adding media later answers an array, which C1 accepts as success when non-empty.
    let form = reqwest::multipart::Form::new()
        .part("video_1", reqwest::multipart::Part::bytes(video_of("astronaut.png", 1, "mp4", 320)).file_name("v.mp4"))
        .text("payload", json!({"media:tags": {"video_1": ["video_selfie", "video_selfie_eyes"]}}).to_string());
    let path = format!("/api/folders/{folder_id}/media/");
    // (Alamofire sets the multipart Content-Type over the configured form header.)
    let (st, text, _) = raw(w.s.req(Method::POST, Some(&sess), &path).multipart(form)).await;
    assert_eq!(st, StatusCode::CREATED, "{text}");
    assert!(!json_of(&text).as_array().expect("array").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn php_client_2018_and_scripts() {
    let w = World::new(Db::Sqlite).await;
    let s = &w.s;

    // C4: an empty folder from a bodiless form POST, then a file with no payload.
    let (st, text, _) = raw(s.req(Method::POST, Some(&w.client), "/api/folders").header("Content-Type", FORM)).await;
    assert_eq!(st, StatusCode::CREATED, "{text}");
    let folder_id = json_of(&text)["folder_id"].as_str().expect("folder_id").to_string();
    let form = reqwest::multipart::Form::new()
        .part("foto1", reqwest::multipart::Part::bytes(test_photo("obama.jpg")).file_name("foto1.jpg"));
    let (st, added) = read(
        s.req(Method::POST, Some(&w.client), &format!("/api/folders/{folder_id}/media"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{added}");
    assert_eq!(added[0]["tags"], json!(["photo_selfie"]), "default tags by media type: {added}");
    assert_eq!(added[0]["technical_meta_data"]["tags_defaulted"], true);
    // A field named after a tag takes it.
    let form = reqwest::multipart::Form::new()
        .part("photo_id_front", reqwest::multipart::Part::bytes(jpeg(640, 400)).file_name("front.jpg"));
    let (_, added) = read(
        s.req(Method::POST, Some(&w.client), &format!("/api/folders/{folder_id}/media/"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(added[0]["tags"], json!(["photo_id_front"]), "{added}");
    let (st, page) = s.get(&w.client, "/api/folders?offset=0&limit=100").await;
    assert_eq!(st, StatusCode::OK);
    assert!(crate::ids(&page, "folder_id").contains(&folder_id));
    // A JSON body on a non-multipart folder POST is the payload.
    let (st, text, _) = raw(s
        .req(Method::POST, Some(&w.client), "/api/folders/")
        .header("Content-Type", "application/json")
        .body(r#"{"folder:meta_data": {"transaction_id": "T-77"}}"#))
    .await;
    assert_eq!(st, StatusCode::CREATED, "{text}");
    assert_eq!(json_of(&text)["meta_data"]["transaction_id"], "T-77");

    // Shell: `curl -d '{json}'` (form-urlencoded label), answer grepped with Oz's separators.
    let (st, text, _) = raw(s
        .req(Method::POST, None, "/api/authorize/auth/")
        .header("Content-Type", FORM)
        .body(r#"{"credentials": {"email": "u@c1.test", "password": "Passw0rd-x"}}"#))
    .await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert!(text.contains(r#""access_token": ""#), "grep-able like Oz's Python server: {text}");
    assert!(text.contains(r#"", "expire_token": ""#), "{text}");
    // Form fields, both nestings.
    for body in [
        "credentials.email=u%40c1.test&credentials.password=Passw0rd-x",
        "credentials[email]=u%40c1.test&credentials[password]=Passw0rd-x",
    ] {
        let (st, text, _) =
            raw(s.req(Method::POST, None, "/api/authorize/auth").header("Content-Type", FORM).body(body)).await;
        assert_eq!(st, StatusCode::OK, "{body}: {text}");
    }
    // text/plain and no Content-Type at all.
    for ct in [Some("text/plain"), None] {
        let mut r = s
            .req(Method::POST, None, "/api/authorize/auth")
            .body(r#"{"credentials":{"email":"u@c1.test","password":"Passw0rd-x"}}"#);
        if let Some(ct) = ct {
            r = r.header("Content-Type", ct);
        }
        assert_eq!(raw(r).await.0, StatusCode::OK, "{ct:?}");
    }
    // Malformed bodies are Oz errors.
    let bad = read(
        s.req(Method::POST, None, "/api/authorize/auth")
            .header("Content-Type", "application/json")
            .body("{\"credentials\":")
            .send()
            .await
            .unwrap(),
    )
    .await;
    oz_err(&bad, 400, 3);

    // GET with a JSON Content-Type and no body, a cache-buster, an empty query, both slashes.
    for path in ["/api/folders", "/api/folders/", "/api/folders/?", "/api/folders?_=1700000000123&utm_source=x"] {
        let (st, text, _) =
            raw(s.req(Method::GET, Some(&w.client), path).header("Content-Type", "application/json")).await;
        assert_eq!(st, StatusCode::OK, "{path}: {text}");
        assert!(text.starts_with(r#"{"total": "#) || text.starts_with(r#"{"items": "#), "{text}");
    }
    // Milliseconds in time filters (JavaScript's Date.now()).
    let ms = ((crate::now() - 3600.0) * 1000.0) as i64;
    let (_, recent) = s.get(&w.client, &format!("/api/folders/?time_created.min={ms}")).await;
    assert!(crate::ids(&recent, "folder_id").contains(&folder_id), "{recent}");
    let ms_future = ((crate::now() + 3600.0) * 1000.0) as i64;
    let (_, none) = s.get(&w.client, &format!("/api/folders/?time_created.min={ms_future}")).await;
    assert_eq!(none["items"], json!([]));
    oz_err(&s.get(&w.client, "/api/folders/?time_created.min=yesterday").await, 400, 5);

    // Every error is an Oz body: unknown path, wrong method, no token.
    oz_err(&s.get(&w.client, "/api/no-such-thing/").await, 404, 10);
    let r = read(s.req(Method::PUT, Some(&w.client), "/api/folders/").send().await.unwrap()).await;
    assert_eq!(r.0, StatusCode::METHOD_NOT_ALLOWED, "{}", r.1);
    assert!(r.1["error_code"].is_number() && r.1.get("details").is_some(), "{}", r.1);
    oz_err(&s.get_anon("/api/folders/").await, 401, 6);

    // C3: a transaction's folders with analyses since a time; refresh ahead of expire_date,
    // which the header also carries on every authenticated answer.
    let (st, f) = s
        .upload(
            &w.client,
            "/api/folders/",
            vec![file("p", "p.jpg", jpeg(320, 240))],
            Some(json!({"folder:meta_data": {"transaction_id": "tx-9"}, "media:tags": {"p": ["photo_selfie"]}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let since = crate::now() as i64 - 60;
    let (_, page) = s
        .get(
            &w.client,
            &format!("/api/folders/?meta_data=transaction_id==tx-9&with_analyses=true&time_created.min={since}"),
        )
        .await;
    assert_eq!(crate::ids(&page, "folder_id"), vec![id(&f, "folder_id")]);
    assert!(page["items"][0]["analyses"].is_array(), "{page}");
    let (_, _, headers) = raw(s.req(Method::GET, Some(&w.client), "/api/folders/")).await;
    let exp: f64 = headers["x-forensic-access-token-expire-date"].to_str().unwrap().parse().unwrap();
    assert!((exp - (crate::now() + 900.0)).abs() < 30.0, "sliding 15 min: {exp}");
    let (_, _, anon) = raw(s.req(Method::GET, None, "/api/healthcheck")).await;
    assert!(anon.get("x-forensic-access-token-expire-date").is_none());
    let body = json!({"expire_token": w.client.body["expire_token"]}).to_string();
    let (st, text, _) =
        raw(s.req(Method::POST, Some(&w.client), "/api/authorize/refresh").header("Content-Type", FORM).body(body))
            .await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert!(json_of(&text)["expire_date"].as_f64().unwrap() > crate::now());
}
