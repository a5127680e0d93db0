//! The plugin registry over HTTP: upload, list, run, hot swap, rollback, removal, validation and
//! company isolation.

use crate::{World, id, ids, oz_err};
use serde_json::json;
use vigil_tests::*;

/// Dry-runs a plugin as C1's CLIENT ADMIN over C1's folder f1.
async fn run(w: &World, pid: &str) -> serde_json::Value {
    let (st, out) =
        w.s.post(&w.cadmin, &format!("/api/plugins/{pid}/run"), json!({"folder_id": id(&w.f1, "folder_id")})).await;
    assert_eq!(st, StatusCode::OK, "{out}");
    out
}

async fn lifecycle(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let answer = component("answer");
    let manifest = |v: &str, answer: &str| json!({"kind": "analysis", "name": "answer", "version": v, "config": {"answer": answer}});
    // CLIENT ADMIN installs for its company; the first version becomes active.
    let (st, v1) = s.upload_plugin(&w.cadmin, answer.clone(), manifest("1.0.0", "one")).await;
    assert_eq!(st, StatusCode::CREATED, "{v1}");
    assert_eq!(v1["active"], true);
    assert_eq!(v1["company_id"].as_str(), Some(w.c1.as_str()));
    assert!(v1["sdk"].as_str().unwrap().starts_with("world=analysis;wit=1.5.0"));
    assert_eq!(v1["sha256"].as_str().unwrap().len(), 64);
    let (st, v2) = s.upload_plugin(&w.cadmin, answer.clone(), manifest("1.1.0", "two")).await;
    assert_eq!(st, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["active"], false, "later versions wait for activation");
    oz_err(&s.upload_plugin(&w.cadmin, answer.clone(), manifest("1.1.0", "dup")).await, 409, 4);
    // A configuration is a few settings: a huge one is refused, and only managers read it.
    let big = json!({"kind": "analysis", "name": "answer", "version": "9.0.0", "config": {"blob": "x".repeat(20_000)}});
    assert!(oz_err(&s.upload_plugin(&w.cadmin, answer.clone(), big).await, 400, 4).contains("at most"));
    let (_, seen) = s.get(&w.client, &format!("/api/plugins/{}", id(&v1, "plugin_id"))).await;
    assert!(seen["config"].is_null(), "a CLIENT does not read plugin configs: {seen}");
    let (_, listed) = s.get(&w.client, "/api/plugins/").await;
    assert!(listed["items"].as_array().unwrap().iter().all(|p| p["config"].is_null()), "{listed}");
    assert_eq!(s.get(&w.cadmin, &format!("/api/plugins/{}", id(&v1, "plugin_id"))).await.1["config"]["answer"], "one");
    let (v1id, v2id) = (id(&v1, "plugin_id"), id(&v2, "plugin_id"));

    let out = run(&w, &v1id).await;
    assert_eq!(out["result"]["results_data"], json!({"answer": "one", "media": 1}));
    // Swap without a restart, then roll back.
    let (st, a) = s.post(&w.cadmin, &format!("/api/plugins/{v2id}/activate/"), json!({})).await;
    assert_eq!((st, a["active"].clone()), (StatusCode::OK, json!(true)));
    let (_, list) = s.get(&w.cadmin, "/api/plugins/").await;
    let actives: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["active"] == true && p["name"] == "answer")
        .map(|p| id(p, "version"))
        .collect();
    assert_eq!(actives, vec!["1.1.0".to_string()], "exactly one active version");
    assert_eq!(run(&w, &v2id).await["result"]["results_data"]["answer"], "two");
    s.post(&w.cadmin, &format!("/api/plugins/{v1id}/activate"), json!({})).await;
    assert_eq!(s.get(&w.cadmin, &format!("/api/plugins/{v1id}")).await.1["active"], true);
    assert_eq!(s.get(&w.cadmin, &format!("/api/plugins/{v2id}")).await.1["active"], false);
    // Company members can read, not manage.
    assert_eq!(s.get(&w.client, &format!("/api/plugins/{v1id}")).await.0, StatusCode::OK);
    assert_eq!(s.post(&w.client, &format!("/api/plugins/{v2id}/activate"), json!({})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.upload_plugin(&w.client, answer.clone(), manifest("9", "x")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        s.post(&w.client, &format!("/api/plugins/{v1id}/run"), json!({"folder_id": id(&w.f1, "folder_id")})).await.0,
        StatusCode::FORBIDDEN
    );
    // Company B sees nothing of it and cannot use or remove it.
    for who in [&w.other, &w.other_admin] {
        let (_, l) = s.get(who, "/api/plugins").await;
        assert!(!ids(&l, "plugin_id").contains(&v1id));
        oz_err(&s.get(who, &format!("/api/plugins/{v1id}")).await, 404, 10);
        oz_err(&s.post(who, &format!("/api/plugins/{v1id}/activate"), json!({})).await, 404, 10);
        oz_err(
            &s.post(who, &format!("/api/plugins/{v1id}/run"), json!({"folder_id": id(&w.g, "folder_id")})).await,
            404,
            10,
        );
        oz_err(&s.delete(who, &format!("/api/plugins/{v1id}")).await, 404, 10);
    }
    // …nor run a plugin of its own on C1's folder.
    let (_, own) = s.upload_plugin(&w.other_admin, answer.clone(), manifest("1", "b")).await;
    oz_err(
        &s.post(
            &w.other_admin,
            &format!("/api/plugins/{}/run", id(&own, "plugin_id")),
            json!({"folder_id": id(&w.f1, "folder_id")}),
        )
        .await,
        404,
        10,
    );
    // Deactivate and remove.
    assert_eq!(s.post(&w.cadmin, &format!("/api/plugins/{v1id}/deactivate"), json!({})).await.1["active"], false);
    assert_eq!(s.delete(&w.cadmin, &format!("/api/plugins/{v2id}")).await.0, StatusCode::NO_CONTENT);
    oz_err(&s.get(&w.cadmin, &format!("/api/plugins/{v2id}")).await, 404, 10);
    // ADMIN installs a global built-in that every company sees and can run but not manage.
    let (st, g) = s
        .upload_plugin(
            &w.admin,
            answer,
            json!({"kind": "analysis", "name": "shared", "version": "1", "config": {"answer": "g"}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    assert!(g["company_id"].is_null());
    let gid = id(&g, "plugin_id");
    assert!(ids(&s.get(&w.other, "/api/plugins").await.1, "plugin_id").contains(&gid));
    assert_eq!(run(&w, &gid).await["result"]["results_data"]["answer"], "g");
    assert_eq!(s.delete(&w.cadmin, &format!("/api/plugins/{gid}")).await.0, StatusCode::FORBIDDEN);
}
both_dbs!(lifecycle_t, lifecycle);

async fn example_and_refusals(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let before = s.blob_files().iter().filter(|p| !p.to_string_lossy().contains("plugin-cache")).count();
    // The SDK example: uploaded by a company admin, listed, swapped, removed.
    let example = component("strict_liveness");
    let m =
        |v: &str| json!({"kind": "analysis", "name": "strict-liveness", "version": v, "config": {"threshold": 0.3}});
    let (st, a) = s.upload_plugin(&w.cadmin, example.clone(), m("1.0.0")).await;
    assert_eq!(st, StatusCode::CREATED, "{a}");
    assert_eq!(a["config"]["threshold"], 0.3);
    let (_, b) = s.upload_plugin(&w.cadmin, example, m("1.0.1")).await;
    assert_eq!(
        s.post(&w.cadmin, &format!("/api/plugins/{}/activate", id(&b, "plugin_id")), json!({})).await.1["active"],
        true
    );
    let (_, out) = s
        .post(
            &w.cadmin,
            &format!("/api/plugins/{}/run", id(&b, "plugin_id")),
            json!({"folder_id": id(&w.f1, "folder_id")}),
        )
        .await;
    // Native detection runs: the fixture's gradient photo has no face, and the plugin says so.
    assert_eq!(out["error"]["kind"], "invalid-input", "{out}");
    assert!(out["error"]["message"].as_str().unwrap().contains("0 faces"), "{out}");
    // A hostile plugin's failure is reported and contained; the server keeps serving.
    let (_, h) = s
        .upload_plugin(&w.cadmin, component("hostile"), json!({"kind": "analysis", "name": "hostile", "version": "1"}))
        .await;
    let hid = id(&h, "plugin_id");
    let (_, out) = s
        .post(
            &w.cadmin,
            &format!("/api/plugins/{hid}/run"),
            json!({"folder_id": id(&w.f1, "folder_id"), "params": {"mode": "panic"}}),
        )
        .await;
    assert_eq!(out["error"]["kind"], "trap", "{out}");
    let (_, out) = s
        .post(
            &w.cadmin,
            &format!("/api/plugins/{hid}/run"),
            json!({"folder_id": id(&w.f1, "folder_id"), "params": {"mode": "ok"}}),
        )
        .await;
    assert_eq!(out["result"]["resolution"], "SUCCESS", "{out}");
    assert_eq!(s.get_anon("/api/healthcheck").await.0, StatusCode::OK);
    for pid in [id(&a, "plugin_id"), id(&b, "plugin_id"), hid] {
        assert_eq!(s.delete(&w.cadmin, &format!("/api/plugins/{pid}")).await.0, StatusCode::NO_CONTENT);
    }
    let left = s.get(&w.cadmin, "/api/plugins").await.1;
    assert!(
        left["items"].as_array().unwrap().iter().all(|p| p["company_id"].is_null()),
        "only the global built-ins remain: {left}"
    );

    // Refusals name the problem, and leave nothing stored.
    let ok = json!({"kind": "analysis", "name": "x", "version": "1"});
    let cases = vec![
        (component("sneaky"), ok.clone(), 400, "wasi:filesystem"),
        (b"not wasm at all".to_vec(), ok.clone(), 400, "not a WebAssembly binary"),
        (b"\0asm\x01\0\0\0".to_vec(), ok.clone(), 400, "core WebAssembly module"),
        (component("ab_pick"), ok.clone(), 400, "built for the 'ab-rule' world"),
        (component("answer"), json!({"kind": "magic", "name": "x", "version": "1"}), 400, "unknown plugin kind"),
        (component("answer"), json!({"kind": "analysis", "name": "../x", "version": "1"}), 400, "plugin name"),
        (component("answer"), json!({"kind": "analysis", "name": "x"}), 400, "manifest"),
    ];
    for (wasm, manifest, status, needle) in cases {
        let r = s.upload_plugin(&w.cadmin, wasm, manifest).await;
        assert_eq!(r.0.as_u16(), status, "{}", r.1);
        assert!(r.1["error_message"].as_str().unwrap().contains(needle), "{needle}: {}", r.1);
    }
    let mut big = b"\0asm\x0d\0\x01\0".to_vec();
    big.resize((20 << 20) + 10, 0);
    let r = s.upload_plugin(&w.cadmin, big, ok.clone()).await;
    assert!(r.0 == StatusCode::PAYLOAD_TOO_LARGE || r.0 == StatusCode::BAD_REQUEST, "{:?}", r);
    let form = reqwest::multipart::Form::new().text("manifest", ok.to_string());
    let r = read(
        s.http
            .post(s.url("/api/plugins"))
            .header("X-Forensic-Access-Token", &w.cadmin.token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(oz_err(&r, 400, 3).contains("component file is missing"));
    // Only the plugin-cache entries of the accepted uploads remain beyond the fixtures' files.
    let left: Vec<_> = s.blob_files().into_iter().filter(|p| !p.to_string_lossy().contains("plugin-cache")).collect();
    assert_eq!(left.len(), before, "{left:?}");
}
both_dbs!(example_and_refusals_t, example_and_refusals);

/// Active versions survive a restart: they are loaded from the compiled-artifact cache.
async fn active_versions_survive_restart(db: Db) {
    let w = World::new(db).await;
    let (st, p) =
        w.s.upload_plugin(
            &w.cadmin,
            component("answer"),
            json!({"kind": "analysis", "name": "answer", "version": "1", "config": {"answer": "persisted"}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let pid = id(&p, "plugin_id");
    let folder = id(&w.f1, "folder_id");
    let restarted = w.s.restart().await;
    let cadmin = restarted.login("admin@c1.test", "Passw0rd-x").await;
    let (_, out) = restarted.post(&cadmin, &format!("/api/plugins/{pid}/run"), json!({"folder_id": folder})).await;
    assert_eq!(out["result"]["results_data"]["answer"], "persisted", "{out}");
}
both_dbs!(active_versions_survive_restart_t, active_versions_survive_restart);

/// Built-ins from a manifest are registered once, as global versions named after their hash.
async fn builtins_from_manifest(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let wasm = component("answer");
    std::fs::write(dir.path().join("answer.wasm"), &wasm).unwrap();
    let sha = {
        use std::fmt::Write;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&wasm);
        digest.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let manifest = dir.path().join("builtins.toml");
    std::fs::write(&manifest, format!("[[plugin]]\nname = \"answer\"\nkind = \"analysis\"\nfile = \"answer.wasm\"\nsha256 = \"{sha}\"\nconfig = {{ answer = \"builtin\" }}\n")).unwrap();
    let s = Server::builder(db).set("builtins", manifest.to_str().unwrap()).start().await;
    let a = s.admin().await;
    let (_, list) = s.get(&a, "/api/plugins").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert!(items[0]["company_id"].is_null() && items[0]["active"] == true);
    // Named after the component's hash and its configuration's.
    assert!(items[0]["version"].as_str().unwrap().starts_with(&format!("sha-{}-", &sha[..12])), "{list}");
    let s = s.restart().await;
    let a = s.admin().await;
    assert_eq!(s.get(&a, "/api/plugins").await.1["items"].as_array().unwrap().len(), 1, "registered once");
}
both_dbs!(builtins_from_manifest_t, builtins_from_manifest);

/// A plugin calls the host's native face detection and liveness on real photos.
async fn plugin_uses_native_vision(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let assets = std::env::var("VIGIL_ASSETS_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../assets").to_string());
    let astronaut = std::fs::read(format!("{assets}/testdata/astronaut.png")).expect("make assets");
    let (_, f) = s
        .upload(&w.cadmin, "/api/folders", vec![file("p", "astronaut.png", astronaut)], Some(crate::photo_payload("p")))
        .await;
    let (_, h) = s
        .upload_plugin(&w.cadmin, component("hostile"), json!({"kind": "analysis", "name": "hostile", "version": "1"}))
        .await;
    let hid = id(&h, "plugin_id");
    let (_, out) = s
        .post(
            &w.cadmin,
            &format!("/api/plugins/{hid}/run"),
            json!({"folder_id": id(&f, "folder_id"), "params": {"mode": "vision"}}),
        )
        .await;
    assert_eq!(out["result"]["results_data"]["faces"], 1, "{out}");
    // The SDK example runs its whole chain on the portrait: detect, quality, spoofing score.
    let (_, strict) = s
        .upload_plugin(
            &w.cadmin,
            component("strict_liveness"),
            json!({"kind": "analysis", "name": "strict", "version": "1", "config": {"min_face_ratio": "0.03"}}),
        )
        .await;
    let (_, out) = s
        .post(
            &w.cadmin,
            &format!("/api/plugins/{}/run", id(&strict, "plugin_id")),
            json!({"folder_id": id(&f, "folder_id")}),
        )
        .await;
    assert_eq!(out["result"]["resolution"], "SUCCESS", "{out}");
    let spoof = out["result"]["results_media"][0]["results_data"]["confidence_spoofing"].as_f64().unwrap();
    assert!((0.0..0.3).contains(&spoof), "{out}");
    // A shots set (ZIP of frames): the plugin checks every frame.
    let shots = {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for name in ["frame-1.png", "frame-2.png"] {
            z.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            z.write_all(&std::fs::read(format!("{assets}/testdata/astronaut.png")).unwrap()).unwrap();
        }
        z.finish().unwrap().into_inner()
    };
    let payload = json!({"media:tags": {"s": ["video_selfie", "video_selfie_blank"]}});
    let (st, sf) = s.upload(&w.cadmin, "/api/folders", vec![file("s", "frames.zip", shots)], Some(payload)).await;
    assert_eq!(st, StatusCode::CREATED, "{sf}");
    assert_eq!(sf["media"][0]["media_type"], "SHOTS_SET");
    let (_, out) = s
        .post(
            &w.cadmin,
            &format!("/api/plugins/{}/run", id(&strict, "plugin_id")),
            json!({"folder_id": id(&sf, "folder_id")}),
        )
        .await;
    assert_eq!(out["result"]["resolution"], "SUCCESS", "{out}");
    assert_eq!(out["result"]["results_media"].as_array().unwrap().len(), 1, "{out}");
    // The World's gradient photos have no face.
    let (_, out) = s
        .post(
            &w.cadmin,
            &format!("/api/plugins/{hid}/run"),
            json!({"folder_id": id(&w.f1, "folder_id"), "params": {"mode": "vision"}}),
        )
        .await;
    assert_eq!(out["result"]["results_data"]["faces"], 0, "{out}");

    // A component built against the frozen vigil:plugin@1.0.0 WIT (the host speaks 1.5.0) is
    // accepted and its vision calls work unchanged: released versions keep running.
    let (st, legacy) = s
        .upload_plugin(&w.cadmin, component("legacy"), json!({"kind": "analysis", "name": "legacy", "version": "1"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{legacy}");
    let (_, out) = s
        .post(
            &w.cadmin,
            &format!("/api/plugins/{}/run", id(&legacy, "plugin_id")),
            json!({"folder_id": id(&f, "folder_id")}),
        )
        .await;
    assert_eq!(out["result"]["results_data"], json!({"wit": "1.0.0", "embeddings": ["sface:128"]}), "{out}");
}
both_dbs!(plugin_uses_native_vision_t, plugin_uses_native_vision);
