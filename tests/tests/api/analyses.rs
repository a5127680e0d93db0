//! Analyses end to end (reference §9, scenarios 12–24): liveness and face matching through the
//! built-in Wasm pipelines on real videos, photos and shots sets made from public-domain faces.

use crate::{World, id, oz_err};
use serde_json::{Value, json};
use vigil_tests::*;

const VIDEO_TAGS: [&str; 3] = ["video_selfie", "video_selfie_blank", "orientation_portrait"];

/// Creates a folder from `(field, file name, bytes, tags)` parts.
async fn folder(w: &World, who: &Session, parts: Vec<(&str, &str, Vec<u8>, Value)>) -> Value {
    let mut tags = serde_json::Map::new();
    let mut files = Vec::new();
    for (field, name, bytes, t) in parts {
        tags.insert(field.to_string(), t);
        files.push(file(field, name, bytes));
    }
    let (st, f) = w.s.upload(who, "/api/folders/", files, Some(json!({ "media:tags": tags }))).await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    f
}

async fn start(w: &World, who: &Session, folder: &Value, body: Value) -> (StatusCode, Value) {
    w.s.post(who, &format!("/api/folders/{}/analyses/", id(folder, "folder_id")), body).await
}

/// Starts analyses that must be accepted; returns them.
async fn started(w: &World, who: &Session, folder: &Value, body: Value) -> Vec<Value> {
    let (st, list) = start(w, who, folder, body).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    list.as_array().expect("array of analyses").clone()
}

async fn folder_now(w: &World, who: &Session, folder: &Value) -> Value {
    let (st, f) = w.s.get(who, &format!("/api/folders/{}/?with_analyses=true", id(folder, "folder_id"))).await;
    assert_eq!(st, StatusCode::OK, "{f}");
    f
}

fn media_id(folder: &Value, i: usize) -> String {
    id(&folder["media"][i], "media_id")
}

async fn liveness(db: Db) {
    let w = World::new(db).await;
    let live = folder(
        &w,
        &w.client,
        vec![("video1", "live.mp4", video_of("astronaut.png", 3, "mp4", 480), json!(VIDEO_TAGS))],
    )
    .await;
    assert_eq!(live["resolution_status"], "INITIAL");

    // 12. Liveness pass: answered at once in PROCESSING, then FINISHED / SUCCESS.
    let list = started(&w, &w.client, &live, json!({"analyses": [{"type": "quality"}]})).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["type"], "QUALITY");
    assert_eq!(list[0]["state"], "PROCESSING");
    assert_eq!(list[0]["resolution"], "PROCESSING");
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    assert_eq!(a["state"], "FINISHED", "{a}");
    assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
    assert_eq!(a["resolution"], "SUCCESS");
    assert_eq!(a["system_resolution"], "SUCCESS");
    let r = &a["results_media"][0]["results_data"];
    let score = r["confidence_spoofing"].as_f64().expect("confidence_spoofing");
    assert!(score < 0.5, "live video scored {score}");
    assert!(r.get("confidence_replay").is_none(), "the pre-5.0 triple is off by default: {r}");
    assert_eq!(a["source_media"][0]["media_id"], live["media"][0]["media_id"]);
    assert_eq!(a["results_media"][0]["source_media_id"], live["media"][0]["media_id"]);
    assert!(r["frames"].as_u64().unwrap() >= 10, "sampled frames of a 3 s video: {r}");
    let (t0, t1, t2) = (
        a["time_task_send_to_broker"].as_f64().unwrap(),
        a["time_task_received"].as_f64().unwrap(),
        a["time_task_finished"].as_f64().unwrap(),
    );
    assert!(t0 <= t1 && t1 <= t2, "time marks out of order: {t0} {t1} {t2}");
    assert_eq!(a["technical_meta_data"]["attempts"], 1);
    assert!(a["technical_meta_data"]["plugin"].as_str().unwrap().starts_with("quality@"));
    assert_eq!(a["technical_meta_data"]["media_decoded"], 1, "{a}");
    let f = folder_now(&w, &w.client, &live).await;
    assert_eq!((f["resolution_status"].as_str(), f["system_resolution"].as_str()), (Some("FINISHED"), Some("SUCCESS")));
    assert_eq!(f["analyses"].as_array().unwrap().len(), 1);

    // 15. Best shot by default (5.0.0): a fetchable JPEG of a video frame.
    let url = a["results_media"][0]["output_images"][0]["original_url"].as_str().expect("best shot url").to_string();
    let (st, bytes) = w.s.fetch(Some(&w.client), &url).await;
    assert_eq!(st, StatusCode::OK);
    let shot = image::load_from_memory(&bytes).expect("best shot decodes");
    assert_eq!(shot.width(), 480);
    let (st, _) = w.s.fetch(Some(&w.other), &url).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "another company's user must not read the best shot");
    // ... and none when it is switched off.
    let list = started(
        &w,
        &w.client,
        &live,
        json!({"analyses": [{"type": "QUALITY", "params": {"extract_best_shot": false}}]}),
    )
    .await;
    let b = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    assert_eq!(b["results_media"][0]["output_images"], json!([]));
    assert_eq!(b["technical_meta_data"]["media_decoded"], 0, "the video's frames come from the shared cache: {b}");
    assert_eq!(b["params"], json!({"extract_best_shot": false}), "params are echoed");

    // 13. Liveness fail: a video of a print held up to the camera.
    let dir = tempfile::tempdir().unwrap();
    let print = dir.path().join("print.png");
    std::fs::write(&print, held_print("astronaut.png", 0.35)).unwrap();
    let spoof =
        folder(&w, &w.client, vec![("video1", "spoof.mp4", video_from(&print, 2, "mp4", 512), json!(VIDEO_TAGS))])
            .await;
    let list = started(&w, &w.client, &spoof, json!({"analyses": [{"type": "quality"}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    let score = a["results_media"][0]["results_data"]["confidence_spoofing"].as_f64().unwrap();
    assert_eq!(a["resolution_status"], "DECLINED", "held print scored {score}: {a}");
    assert!(score >= 0.5);
    let f = folder_now(&w, &w.client, &spoof).await;
    assert_eq!(f["system_resolution"], "DECLINED");
    // The threshold is the client's to choose: the same video passes at 0.9.
    let list =
        started(&w, &w.client, &spoof, json!({"analyses": [{"type": "quality", "params": {"threshold": 0.9}}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
    assert_eq!(folder_now(&w, &w.client, &spoof).await["system_resolution"], "SUCCESS", "the latest group decides");

    // 16. A ZIP with one frame tagged video_selfie_blank, and a bare selfie photo, are analysed;
    // a document photo is skipped by QUALITY, so a folder holding only one is an error.
    let photo = crate::decoding::as_jpeg(&test_photo("astronaut.png"));
    let zipped = folder(
        &w,
        &w.client,
        vec![(
            "shots",
            "frames.zip",
            zip_of(&[("0001.jpg", photo.clone())]),
            json!(["video_selfie", "video_selfie_blank"]),
        )],
    )
    .await;
    assert_eq!(zipped["media"][0]["media_type"], "SHOTS_SET");
    let list = started(&w, &w.client, &zipped, json!({"analyses": [{"type": "quality"}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
    let mixed = folder(
        &w,
        &w.client,
        vec![
            ("selfie", "me.jpg", photo.clone(), json!(["photo_selfie"])),
            ("front", "id.jpg", photo.clone(), json!(["photo_id", "photo_id_front"])),
        ],
    )
    .await;
    let list = started(&w, &w.client, &mixed, json!({"analyses": [{"type": "quality"}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    let used: Vec<&Value> = a["source_media"].as_array().unwrap().iter().map(|m| &m["media_id"]).collect();
    assert_eq!(used, vec![&mixed["media"][0]["media_id"]], "QUALITY skips photo_id* (5.1.0)");
    let doc_only = folder(&w, &w.client, vec![("front", "id.jpg", photo, json!(["photo_id", "photo_id_front"]))]).await;
    let msg = oz_err(&start(&w, &w.client, &doc_only, json!({"analyses": [{"type": "quality"}]})).await, 400, 4);
    assert!(msg.contains("not enough media for QUALITY"), "{msg}");
    assert_eq!(folder_now(&w, &w.client, &doc_only).await["resolution_status"], "INITIAL", "nothing was started");

    // A face-less media FAILS the analysis with the reason, never a SUCCESS.
    let blank = folder(&w, &w.client, vec![("p", "blank.jpg", jpeg(320, 240), json!(["photo_selfie"]))]).await;
    let list = started(&w, &w.client, &blank, json!({"analyses": [{"type": "quality"}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    assert_eq!((a["state"].as_str(), a["resolution_status"].as_str()), (Some("FAILED"), Some("FAILED")), "{a}");
    assert!(a["error"]["error_message"].as_str().unwrap().contains("no face"), "{a}");
    assert_eq!(a["technical_meta_data"]["attempts"], 1, "a deterministic failure is not retried");
    let f = folder_now(&w, &w.client, &blank).await;
    assert_eq!((f["resolution_status"].as_str(), f["system_resolution"].as_str()), (Some("FAILED"), Some("FAILED")));
}
both_dbs!(liveness_scenarios, liveness);

async fn face_matching(db: Db) {
    let w = World::new(db).await;
    // The README's first session: a selfie video (carphone: a man talking to the camera, head
    // turning, expressions changing) and a reference photo of him from another moment.
    let same = video_still("carphone.mp4", 3.6);
    let f = folder(
        &w,
        &w.client,
        vec![
            ("video1", "selfie.mp4", test_photo("carphone.mp4"), json!(VIDEO_TAGS)),
            ("photo1", "reference.jpg", same.clone(), json!(["photo_selfie"])),
        ],
    )
    .await;
    // 17. Same person: SUCCESS with min ≥ 0.85 and max ≥ min. Types are case-insensitive.
    let list = started(&w, &w.client, &f, json!({"analyses": [{"type": "Biometry"}]})).await;
    assert_eq!(list[0]["type"], "BIOMETRY");
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    let r = &a["results_data"];
    let (min, max) = (r["min_confidence"].as_f64().unwrap(), r["max_confidence"].as_f64().unwrap());
    assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
    assert!(min >= 0.85 && max >= min, "{min} {max}");
    // The confidence is calibrated; the raw cosine, the model and the calibration come with it.
    let cosine = r["min_cosine"].as_f64().expect("min_cosine");
    assert!(cosine < min, "the calibrated confidence of a real pair is above its raw cosine: {r}");
    assert_eq!(r["embedding_model"], "sface", "{r}");
    assert!(r["calibration"].as_str().unwrap().starts_with("sface/"), "{r}");
    let same_group = id(&a, "group_id");

    // Different photographs of one person (Obama) match; another person (Biden) does not.
    let photos = folder(
        &w,
        &w.client,
        vec![
            ("p1", "obama.jpg", test_photo("obama.jpg"), json!(["photo_selfie"])),
            ("p2", "obama2.jpg", test_photo("obama2.jpg"), json!(["photo_selfie"])),
            ("p3", "obama3.jpg", test_photo("obama3.jpg"), json!(["photo_selfie"])),
        ],
    )
    .await;
    let list = started(&w, &w.client, &photos, json!({"analyses": [{"type": "biometry"}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    assert_eq!(a["resolution_status"], "SUCCESS", "three different photos of one person: {a}");
    let (st, added) =
        w.s.upload(
            &w.client,
            &format!("/api/folders/{}/media/", id(&photos, "folder_id")),
            vec![file("p4", "biden.jpg", test_photo("biden.jpg"))],
            Some(json!({"media:tags": {"p4": ["photo_selfie"]}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{added}");
    let pair = json!([media_id(&photos, 0), id(&added[0], "media_id")]);
    let list = started(&w, &w.client, &photos, json!({"analyses": [{"type": "biometry", "source_media": pair}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    assert_eq!(a["resolution_status"], "DECLINED", "Obama against Biden: {a}");
    assert!(a["results_data"]["max_confidence"].as_f64().unwrap() < 0.5, "{a}");

    // 24. Add media later: the answer is an array, the folder has three media now.
    let (st, added) =
        w.s.upload(
            &w.client,
            &format!("/api/folders/{}/media/", id(&f, "folder_id")),
            vec![file("photo2", "other.jpg", test_photo("obama.jpg"))],
            Some(json!({"media:tags": {"photo2": ["photo_selfie"]}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{added}");
    let other_id = id(&added[0], "media_id");
    let f = folder_now(&w, &w.client, &f).await;
    assert_eq!(f["media"].as_array().unwrap().len(), 3);

    // 19 + 18. Three faces, one differs: the worst pair is reported and decides (DECLINED), and
    // the folder verdict follows the newest group.
    let list = started(&w, &w.client, &f, json!({"analyses": [{"type": "biometry"}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    let min3 = a["results_data"]["min_confidence"].as_f64().unwrap();
    assert!(min3 < 0.85, "different people scored {min3}");
    assert_eq!(a["resolution_status"], "DECLINED");
    assert!(
        a["results_data"]["max_confidence"].as_f64().unwrap() >= 0.85,
        "the same-person pair is still the best: {a}"
    );
    assert!(a["results_data"]["worst_pair"].as_array().unwrap().contains(&json!(other_id)), "{a}");
    assert_eq!(a["source_media"].as_array().unwrap().len(), 3);
    let f = folder_now(&w, &w.client, &f).await;
    assert_eq!(
        (f["resolution_status"].as_str(), f["system_resolution"].as_str()),
        (Some("FINISHED"), Some("DECLINED"))
    );

    // 22. source_media restricts the pair: exactly those two, SUCCESS again.
    let pair = json!([media_id(&f, 0), media_id(&f, 1)]);
    let list = started(&w, &w.client, &f, json!({"analyses": [{"type": "biometry", "source_media": pair}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    let used: Vec<Value> = a["source_media"].as_array().unwrap().iter().map(|m| m["media_id"].clone()).collect();
    assert_eq!(Value::from(used), pair);
    assert_eq!(a["resolution_status"], "SUCCESS");
    let msg = oz_err(
        &start(&w, &w.client, &f, json!({"analyses": [{"type": "biometry", "source_media": [uuid::Uuid::new_v4()]}]}))
            .await,
        400,
        4,
    );
    assert!(msg.contains("not in this folder"), "{msg}");

    // 23. A combined request: one group; QUALITY passes, BIOMETRY (with the other person)
    // declines, so the folder is DECLINED.
    let list = started(&w, &w.client, &f, json!({"analyses": [{"type": "quality"}, {"type": "biometry"}]})).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["group_id"], list[1]["group_id"]);
    assert_ne!(id(&list[0], "group_id"), same_group);
    for a in &list {
        w.s.wait_analysis(&w.client, &id(a, "analyse_id"), 60).await;
    }
    let f = folder_now(&w, &w.client, &f).await;
    assert_eq!(f["system_resolution"], "DECLINED");
    // carphone is 176×144 but tagged orientation_portrait: reported, not held against it (the
    // default "note" mode; the 2019 iOS SDK tags every video portrait).
    let q = w.s.get(&w.client, &format!("/api/analyses/{}", id(&list[0], "analyse_id"))).await.1;
    assert_eq!(q["type"], "QUALITY");
    assert_eq!(q["resolution_status"], "SUCCESS", "{q}");
    let video = q["results_media"].as_array().unwrap().iter().find(|m| m["results_data"]["orientation"].is_object());
    let o = &video.expect("the tagged video has an orientation finding")["results_data"]["orientation"];
    assert_eq!((o["tag"].as_str(), o["matches"].as_bool()), (Some("orientation_portrait"), Some(false)), "{o}");

    // 26. Filters of the folder's analyses.
    let fid = id(&f, "folder_id");
    let (_, all) = w.s.get(&w.client, &format!("/api/folders/{fid}/analyses/")).await;
    assert_eq!(all["total"], 5, "{all}");
    let (_, bio) = w.s.get(&w.client, &format!("/api/folders/{fid}/analyses/?type=BIOMETRY&state=FINISHED")).await;
    assert_eq!(bio["items"].as_array().unwrap().len(), 4);
    assert!(bio["items"].as_array().unwrap().iter().all(|a| a["type"] == "BIOMETRY"));
    let (_, no_q) =
        w.s.get(&w.client, &format!("/api/folders/{fid}/analyses/?type.exclude=QUALITY&state=DECLINED")).await;
    assert_eq!(no_q["items"].as_array().unwrap().len(), 2, "state= also matches verdicts: {no_q}");
    let first = id(&all["items"][0], "analyse_id");
    let (_, ex) = w.s.get(&w.client, &format!("/api/folders/{fid}/analyses/?analyse_id.exclude={first}")).await;
    assert_eq!(ex["total"], 4);
    let (_, global) =
        w.s.get(&w.client, &format!("/api/analyses/?folder_id={fid}&limit=2&sorting=time_created{{desc}}")).await;
    assert_eq!(global["items"].as_array().unwrap().len(), 2);
    assert_eq!(global["total"], 5);
    oz_err(&w.s.get(&w.client, "/api/analyses/?state=DONE").await, 400, 4);

    // The folder list's result filters (Oz 4.x) on these real analyses: `f` has a finished
    // QUALITY and four BIOMETRY (one DECLINED), `photos` a SUCCESS and Obama against Biden.
    let pid = id(&photos, "folder_id");
    let listed = |q: String| {
        let w = &w;
        async move {
            let (st, page) = w.s.get(&w.client, &format!("/api/folders/?with_results_media_filter=true&{q}")).await;
            assert_eq!(st, StatusCode::OK, "{q}: {page}");
            let mut v = crate::ids(&page, "folder_id");
            v.sort();
            v
        }
    };
    let both = {
        let mut v = vec![fid.clone(), pid.clone()];
        v.sort();
        v
    };
    assert_eq!(listed("results_data.max_confidence.max=0.5".into()).await, vec![pid.clone()]);
    assert_eq!(listed("results_data.max_confidence=%3C0.5".into()).await, vec![pid.clone()]);
    assert_eq!(listed("results_data.embedding_model==sface".into()).await, both);
    assert!(listed("results_data.embedding_model!=sface".into()).await.is_empty());
    assert_eq!(listed("analyse.resolution_status=DECLINED".into()).await, both);
    assert_eq!(listed("results_media_results_data.confidence_spoofing.max=1".into()).await, vec![fid.clone()]);
    assert!(listed("results_media_results_data.confidence_spoofing=%3E1".into()).await.is_empty());
    let later_ms = ((crate::now() + 3600.0) * 1000.0) as i64;
    assert!(listed(format!("analyse.time_created.min={later_ms}")).await.is_empty(), "milliseconds are read");
    // Without the switch the result filters do nothing; bad values are still refused.
    let (_, all_f) = w.s.get(&w.client, "/api/folders/?results_data.max_confidence.max=0.5").await;
    assert!(all_f["items"].as_array().unwrap().len() > 2, "{all_f}");
    oz_err(
        &w.s.get(&w.client, "/api/folders/?with_results_media_filter=true&analyse.resolution_status=GOOD").await,
        400,
        4,
    );

    // 20. A single photo, and 21. a selfie with only a document back: a clear error, nothing started.
    let one = folder(&w, &w.client, vec![("p", "same.jpg", same.clone(), json!(["photo_selfie"]))]).await;
    let msg = oz_err(&start(&w, &w.client, &one, json!({"analyses": [{"type": "biometry"}]})).await, 400, 4);
    assert!(msg.contains("1 usable, 2 needed"), "{msg}");
    let back = folder(
        &w,
        &w.client,
        vec![
            ("p", "same.jpg", same.clone(), json!(["photo_selfie"])),
            ("b", "back.jpg", jpeg(640, 400), json!(["photo_id", "photo_id_back"])),
        ],
    )
    .await;
    let msg = oz_err(&start(&w, &w.client, &back, json!({"analyses": [{"type": "biometry"}]})).await, 400, 4);
    assert!(msg.contains("photo_id_back"), "{msg}");

    // Bad requests are Oz errors.
    oz_err(&start(&w, &w.client, &one, json!({"analyses": []})).await, 400, 3);
    oz_err(&start(&w, &w.client, &one, json!({"analyses": [{"type": "no such!"}]})).await, 400, 4);
    // DOCUMENTS needs a document photo.
    let msg = oz_err(&start(&w, &w.client, &one, json!({"analyses": [{"type": "documents"}]})).await, 400, 4);
    assert!(msg.contains("photo_id_front"), "{msg}");
    oz_err(&start(&w, &w.client, &one, json!({"analyses": [{"type": "quality", "params": [1]}]})).await, 400, 5);
    oz_err(
        &start(&w, &w.client, &one, json!({"analyses": [{"type": "quality"}], "resolution_endpoint": "ftp://x"})).await,
        400,
        4,
    );
    // Unknown fields are ignored, as Oz ignores them.
    let (st, list) =
        start(&w, &w.client, &one, json!({"analyses": [{"type": "quality", "sauce": 1}], "x": true})).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
}
both_dbs!(face_matching_scenarios, face_matching);

/// Rights, the per-user flags, the operator's decision with a configured grey zone, and the
/// pre-5.0 score triple behind its switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_rights_and_compat_switches() {
    let s = Server::builder(Db::Sqlite)
        .set(
            "builtin_config",
            r#"{"biometry": {"grey_zone_min": "0"}, "quality": {"legacy_scores": "true", "orientation_check": "decline"}}"#,
        )
        .start()
        .await;
    let w = World::with(s).await;
    let same = crate::decoding::as_jpeg(&test_photo("astronaut.png"));
    let f = folder(
        &w,
        &w.client,
        vec![
            ("a", "same.jpg", same.clone(), json!(["photo_selfie"])),
            ("b", "other.jpg", test_photo("grace_hopper.jpg"), json!(["photo_selfie"])),
        ],
    )
    .await;
    // 14. The triple is back with the switch on.
    let list = started(&w, &w.client, &f, json!({"analyses": [{"type": "quality"}]})).await;
    let q = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    let r = &q["results_media"][0]["results_data"];
    for k in ["confidence_replay", "confidence_liveness", "confidence_spoofing"] {
        assert!(r[k].is_number(), "{k} missing in {r}");
    }
    // The orientation check, switched to decline: a portrait photo (512×600) tagged landscape.
    let turned = folder(
        &w,
        &w.client,
        vec![("p", "gh.jpg", test_photo("grace_hopper.jpg"), json!(["photo_selfie", "orientation_landscape"]))],
    )
    .await;
    let list = started(&w, &w.client, &turned, json!({"analyses": [{"type": "quality"}]})).await;
    let q = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    assert_eq!(
        q["results_media"][0]["results_data"]["orientation"],
        json!({"tag": "orientation_landscape", "width": 512, "height": 600, "matches": false})
    );
    assert_eq!(q["resolution_status"], "DECLINED", "{q}");
    assert!(q["results_data"]["declined"].to_string().contains("orientation"), "{q}");

    // 36. The grey zone gives OPERATOR_REQUIRED; operators and the company's CLIENT ADMIN decide.
    let list = started(&w, &w.client, &f, json!({"analyses": [{"type": "biometry"}]})).await;
    let a = w.s.wait_analysis(&w.client, &id(&list[0], "analyse_id"), 60).await;
    assert_eq!(a["resolution_status"], "OPERATOR_REQUIRED", "{a}");
    assert_eq!(folder_now(&w, &w.client, &f).await["system_resolution"], "OPERATOR_REQUIRED");
    let path = format!("/api/analyses/{}", id(&a, "analyse_id"));
    let decision = json!({"resolution": "SUCCESS", "comment": "same person, checked by hand"});
    oz_err(&w.s.patch(&w.admin, &path, decision.clone()).await, 403, 9);
    oz_err(&w.s.patch(&w.client, &path, decision.clone()).await, 403, 9);
    oz_err(&w.s.patch(&w.other_admin, &path, decision.clone()).await, 404, 10);
    oz_err(&w.s.patch(&w.operator, &path, json!({"resolution": "MAYBE"})).await, 400, 4);
    let (st, d) = w.s.patch(&w.cop, &path, decision).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!((d["resolution_status"].as_str(), d["resolution"].as_str()), (Some("SUCCESS"), Some("SUCCESS")));
    assert_eq!(d["system_resolution"], "OPERATOR_REQUIRED", "the analysis's own verdict is kept");
    assert_eq!(d["operator_id"], json!(w.cop.user_id()));
    assert_eq!(folder_now(&w, &w.client, &f).await["system_resolution"], "SUCCESS");
    let (st, d) = w.s.patch(&w.operator, &path, json!({"resolution": "declined"})).await;
    assert_eq!((st, d["resolution_status"].as_str()), (StatusCode::OK, Some("DECLINED")));
    assert_eq!(folder_now(&w, &w.client, &f).await["system_resolution"], "DECLINED");
    // Oz changelog: "Client Admin and Client Operator can change the analysis status".
    let (st, d) = w.s.patch(&w.cadmin, &path, json!({"resolution": "SUCCESS"})).await;
    assert_eq!((st, d["resolution_status"].as_str()), (StatusCode::OK, Some("SUCCESS")), "{d}");
    assert_eq!(d["operator_id"], json!(w.cadmin.user_id()));

    // Tenant isolation: another company sees nothing.
    oz_err(&w.s.get(&w.other, &path).await, 404, 10);
    let (_, theirs) = w.s.get(&w.other, "/api/analyses/").await;
    assert_eq!(theirs["total"], 0);
    oz_err(&start(&w, &w.other, &f, json!({"analyses": [{"type": "quality"}]})).await, 404, 10);
    // A second CLIENT of the same company does not see the first one's folder either.
    oz_err(&w.s.get(&w.client2, &path).await, 404, 10);
    let (_, company) = w.s.get(&w.cadmin, "/api/analyses/").await;
    assert_eq!(company["total"], 3, "the company admin sees the company's analyses");

    // 35. The per-user flags gate the types; operators start nothing.
    let (st, u) = w
        .s
        .patch(&w.cadmin, &format!("/api/users/{}", w.client.user_id()), json!({"can_start_analyse_quality": false}))
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    let client = w.s.login("u@c1.test", "Passw0rd-x").await;
    let msg = oz_err(&start(&w, &client, &f, json!({"analyses": [{"type": "quality"}]})).await, 403, 9);
    assert!(msg.contains("can_start_analyse_quality"), "{msg}");
    assert_eq!(start(&w, &client, &f, json!({"analyses": [{"type": "biometry"}]})).await.0, StatusCode::CREATED);
    oz_err(&start(&w, &w.operator, &f, json!({"analyses": [{"type": "biometry"}]})).await, 403, 9);

    // 28. Metadata of an analysis follows its folder's rights.
    let meta = format!("/api/analyses/{}/meta_data", id(&a, "analyse_id"));
    assert_eq!(w.s.post(&w.client, &meta, json!({"a": 1})).await.1, json!({"a": 1}));
    assert_eq!(w.s.patch(&w.client, &meta, json!({"b": 2})).await.1, json!({"a": 1, "b": 2}));
    assert_eq!(w.s.get(&w.cop, &meta).await.1, json!({"a": 1, "b": 2}));
    oz_err(&w.s.patch(&w.cop, &meta, json!({"c": 3})).await, 403, 9);
    oz_err(&w.s.get(&w.other, &meta).await, 404, 10);
    assert_eq!(w.s.get(&w.client, &path).await.1["meta_data"], json!({"a": 1, "b": 2}));

    // Deleting single analyses: CLIENT ADMIN of the company or ADMIN, with the best shot.
    let shot = q["results_media"][0]["output_images"][0]["original_url"].as_str().unwrap().to_string();
    let qpath = format!("/api/analyses/{}", id(&q, "analyse_id"));
    oz_err(&w.s.delete(&w.client, &qpath).await, 403, 9);
    oz_err(&w.s.delete(&w.other_admin, &qpath).await, 404, 10);
    assert_eq!(w.s.delete(&w.cadmin, &qpath).await.0, StatusCode::NO_CONTENT);
    oz_err(&w.s.get(&w.client, &qpath).await, 404, 10);
    assert_eq!(w.s.fetch(Some(&w.client), &shot).await.0, StatusCode::NOT_FOUND, "the best shot went with it");
}
