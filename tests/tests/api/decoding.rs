//! Media decoding end to end: real videos (made by ffmpeg from a public-domain portrait) and
//! shots sets reach plugins as frames, get thumbnails, previews and snapshots; every kind of
//! undecodable media is a typed error.

use crate::{World, id, oz_err};
use serde_json::{Value, json};
use vigil_tests::*;

pub(crate) fn as_jpeg(png: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(png).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

async fn upload_one(w: &World, name: &str, bytes: Vec<u8>) -> Value {
    let payload = json!({"media:tags": {"f": ["video_selfie", "video_selfie_blank"]}});
    let (st, f) = w.s.upload(&w.cadmin, "/api/folders", vec![file("f", name, bytes)], Some(payload)).await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    f
}

async fn plugin(w: &World, component_name: &str, name: &str) -> String {
    // The portraits' faces cover ~4% of the frame; strict-liveness wants 5% by default.
    let manifest = json!({"kind": "analysis", "name": name, "version": "1", "config": {"min_face_ratio": "0.03"}});
    let (st, p) = w.s.upload_plugin(&w.cadmin, component(component_name), manifest).await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    id(&p, "plugin_id")
}

async fn run(w: &World, plugin: &str, folder: &Value, params: Value) -> (StatusCode, Value) {
    w.s.post(
        &w.cadmin,
        &format!("/api/plugins/{plugin}/run"),
        json!({"folder_id": id(folder, "folder_id"), "params": params}),
    )
    .await
}

/// A JPEG fetched from the server, decoded.
async fn fetch_image(w: &World, url: &str) -> image::RgbImage {
    let (st, bytes) = w.s.fetch(Some(&w.cadmin), url).await;
    assert_eq!(st, StatusCode::OK, "{url}");
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).expect("a JPEG").into_rgb8()
}

async fn videos_and_shots_sets(db: Db) {
    let w = World::new(db).await;
    let vision = plugin(&w, "hostile", "probe").await;
    let strict = plugin(&w, "strict_liveness", "strict").await;

    for (ext, secs) in [("mp4", 3u32), ("webm", 2), ("mov", 2)] {
        let f = upload_one(&w, &format!("selfie.{ext}"), video_of("astronaut.png", secs, ext, 640)).await;
        let m = &f["media"][0];
        assert_eq!(m["media_type"], "VIDEO_FOLDER", "{m}");
        assert_eq!((m["info"]["width"].as_i64(), m["info"]["height"].as_i64()), (Some(640), Some(640)), "{m}");
        let dur = m["technical_meta_data"]["duration"].as_f64().unwrap_or(0.0);
        assert!((f64::from(secs) - 0.2..f64::from(secs) + 0.2).contains(&dur), "{ext}: duration {dur}");
        // The first frame is the thumbnail.
        let thumb = fetch_image(&w, m["thumb_url"].as_str().unwrap()).await;
        assert_eq!(thumb.dimensions(), (256, 256), "{ext}");
        // Frames reach the plugin: sampled at 5 fps, one face in each, an embedding per face.
        let (st, out) = run(&w, &vision, &f, json!({"mode": "vision"})).await;
        assert_eq!(st, StatusCode::OK, "{out}");
        let r = &out["result"]["results_data"];
        assert_eq!(r["faces"], 1, "{ext}: {out}");
        let frames = r["frames"].as_u64().unwrap();
        assert!((secs as u64 * 5 - 2..=secs as u64 * 5 + 1).contains(&frames), "{ext}: {frames} frames");
        assert_eq!(r["embedding"], json!({"model": "sface", "dims": 128}), "the default embedder: {out}");
        let (_, out) = run(&w, &strict, &f, json!({})).await;
        assert_eq!(out["result"]["resolution"], "SUCCESS", "{ext}: {out}");
    }

    // A gzip shots set (tar of JPEG frames): frames, thumbnail, MP4 preview, snapshots.
    let astronaut = test_photo("astronaut.png");
    let frames: Vec<(&str, Vec<u8>)> =
        vec![("f2.jpg", as_jpeg(&astronaut)), ("f1.jpg", as_jpeg(&astronaut)), ("f3.jpg", as_jpeg(&astronaut))];
    let f = upload_one(&w, "frames.tar.gz", gz(&tar_of(&frames))).await;
    let m = f["media"][0].clone();
    assert_eq!(m["media_type"], "SHOTS_SET");
    assert_eq!(m["technical_meta_data"]["frames"], 3, "{m}");
    let preview = m["video_url"].as_str().expect("a shots set gets a video_url").to_string();
    assert_eq!(m["preview_url"].as_str(), Some(preview.as_str()));
    let (st, mp4) = w.s.fetch(Some(&w.cadmin), &preview).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(&mp4[4..8], b"ftyp", "the preview is an MP4");
    let (_, out) = run(&w, &vision, &f, json!({"mode": "vision", "model": "fr_feature"})).await;
    assert_eq!(
        out["result"]["results_data"],
        json!({"faces": 1, "frames": 3, "embedding": {"model": "fr_feature", "dims": 512}})
    );

    // Snapshots: read (made on first use), regenerate at a frame or a time, refuse nonsense.
    let mid = id(&m, "media_id");
    let snap = fetch_image(&w, &w.s.url(&format!("/api/media/{mid}/snapshot/"))).await;
    assert_eq!(snap.dimensions(), (512, 512));
    let (st, _) = w.s.post(&w.cadmin, &format!("/api/media/{mid}/snapshot/"), json!({"frame": 2})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, e) = w.s.post(&w.cadmin, &format!("/api/media/{mid}/snapshot/"), json!({"frame": 3})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error_message"].as_str().unwrap().contains("has 3"), "{e}");
    let vf = upload_one(&w, "v.mp4", video_of("grace_hopper.jpg", 2, "mp4", 320)).await;
    let vid = id(&vf["media"][0], "media_id");
    let r =
        w.s.req(reqwest::Method::POST, Some(&w.cadmin), &format!("/api/media/{vid}/snapshot")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "an empty body means the first frame");
    let still = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(still.width(), 320);
    let (st, _) = w.s.post(&w.cadmin, &format!("/api/media/{vid}/snapshot/"), json!({"time": 1.5})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = w.s.post(&w.cadmin, &format!("/api/media/{vid}/snapshot/"), json!({"time": -1})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // Another company sees nothing; a CLIENT of the same company may read but not regenerate.
    let (st, _) = w.s.fetch(Some(&w.other_admin), &w.s.url(&format!("/api/media/{vid}/snapshot/"))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = w.s.post(&w.other_admin, &format!("/api/media/{vid}/snapshot/"), json!({})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Deleting the media removes the original and everything derived from it.
    let (st, _) = w.s.delete(&w.cadmin, &format!("/api/media/{mid}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let left: Vec<_> = w.s.blob_files().into_iter().filter(|p| p.to_string_lossy().contains(&mid)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
both_dbs!(videos_and_shots_sets_t, videos_and_shots_sets);

/// Each kind of bad media is a typed error, at upload for photos and in the analysis for videos
/// and shots sets (which are stored, so that the analysis can report why they failed).
async fn decode_errors(db: Db) {
    let w = World::new(db).await;
    let vision = plugin(&w, "hostile", "probe").await;
    let astronaut = test_photo("astronaut.png");
    let payload = |f: &str| crate::photo_payload(f);

    // Photos: corrupt and truncated data is refused at upload with the kind in `details`.
    let truncated = astronaut[..astronaut.len() / 3].to_vec();
    let mut garbage_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    garbage_jpeg.extend(std::iter::repeat_n(0x5Au8, 4000));
    for (name, bytes) in [("cut.png", truncated), ("bad.jpg", garbage_jpeg)] {
        let (st, e) = w.s.upload(&w.cadmin, "/api/folders", vec![file("p", name, bytes)], Some(payload("p"))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{name}: {e}");
        assert_eq!(e["details"]["media_error"], "corrupt_media", "{name}: {e}");
    }
    // Not an image, video or archive at all.
    let (st, e) = w
        .s
        .upload(&w.cadmin, "/api/folders", vec![file("p", "notes.jpg", b"just some text".to_vec())], Some(payload("p")))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");

    // A shots set with no image in it is no media: refused at upload, nothing left stored.
    let before = w.s.blob_files().len();
    for (name, bytes) in [("empty.zip", zip_of(&[])), ("notes.zip", zip_of(&[("readme.txt", b"hello".to_vec())]))] {
        let r = w.s.upload(&w.cadmin, "/api/folders", vec![file("p", name, bytes)], Some(payload("p"))).await;
        assert!(oz_err(&r, 400, 4).contains("holds no image"), "{name}: {}", r.1);
    }
    assert_eq!(w.s.blob_files().len(), before, "no orphan blobs");

    // Stored, then reported by the analysis.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("broken.mp4", mp4_bytes(8192), "unreadable_video"),
        ("escape.zip", zip_of(&[("../../x.jpg", as_jpeg(&astronaut))]), "bad_shots_set"),
        ("cut.zip", zip_of(&[("a.jpg", as_jpeg(&astronaut))])[..200].to_vec(), "bad_shots_set"),
        ("inner.zip", zip_of(&[("a.png", astronaut[..5000].to_vec())]), "corrupt_media"),
    ];
    for (name, bytes, kind) in cases {
        let f = upload_one(&w, name, bytes).await;
        assert_eq!(f["media"][0]["technical_meta_data"]["decode_error"]["kind"], kind, "{name}: {f}");
        assert!(f["media"][0]["thumb_url"].is_null(), "{name}");
        let (st, e) = run(&w, &vision, &f, json!({"mode": "vision"})).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{name}: {e}");
        assert_eq!(e["details"]["media_error"], kind, "{name}: {e}");
    }

    // A readable photo without a face: the host finds none, and a pipeline says so.
    let (_, blank) =
        w.s.upload(&w.cadmin, "/api/folders", vec![file("p", "wall.png", png(640, 480))], Some(payload("p"))).await;
    let (_, out) = run(&w, &vision, &blank, json!({"mode": "vision"})).await;
    assert_eq!(out["result"]["results_data"]["faces"], 0, "{out}");
    let strict = plugin(&w, "strict_liveness", "strict").await;
    let (_, out) = run(&w, &strict, &blank, json!({})).await;
    assert!(out["error"].to_string().contains("0 faces"), "{out}");
}
both_dbs!(decode_errors_t, decode_errors);

/// The preview of shots sets can be switched off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shots_preview_can_be_switched_off() {
    let s = Server::builder(Db::Sqlite).set("shots_preview", "false").start().await;
    let w = World::with(s).await;
    let astronaut = test_photo("astronaut.png");
    let f = upload_one(&w, "frames.zip", zip_of(&[("a.png", astronaut)])).await;
    let m = &f["media"][0];
    assert!(m["video_url"].is_null() && m["preview_url"].is_null(), "{m}");
    assert!(m["thumb_url"].is_string(), "{m}");
}

/// Which embedding model serves a company is configuration: a default for all, and per company.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedding_model_per_company() {
    let s = Server::builder(Db::Sqlite).set("embedding_model", "fr_feature").start().await;
    let w = World::with(s).await;
    let vision = plugin(&w, "hostile", "probe").await;
    let f = upload_one(&w, "a.png", test_photo("astronaut.png")).await;
    let (_, out) = run(&w, &vision, &f, json!({"mode": "vision"})).await;
    assert_eq!(out["result"]["results_data"]["embedding"]["model"], "fr_feature", "{out}");
    // C1 switched to sface (tokens survive the restart); naming a model still picks it.
    let World { s, cadmin, other_admin, c1, .. } = w;
    let s = s.restart_with("company_embedding_models", &format!("{c1}=sface")).await;
    let probe = |sess: &Session, folder: &Value, params: Value| {
        let body = json!({"folder_id": id(folder, "folder_id"), "params": params});
        let path = format!("/api/plugins/{vision}/run");
        let s = &s;
        let sess = sess.clone();
        async move { s.post(&sess, &path, body).await.1["result"]["results_data"]["embedding"]["model"].clone() }
    };
    assert_eq!(probe(&cadmin, &f, json!({"mode": "vision"})).await, "sface");
    assert_eq!(probe(&cadmin, &f, json!({"mode": "vision", "model": "fr_feature"})).await, "fr_feature");
    // Another company keeps the default.
    let (_, p2) = s
        .upload_plugin(&other_admin, component("hostile"), json!({"kind": "analysis", "name": "probe", "version": "1"}))
        .await;
    let (_, f2) = s
        .upload(
            &other_admin,
            "/api/folders",
            vec![file("p", "a.png", test_photo("astronaut.png"))],
            Some(crate::photo_payload("p")),
        )
        .await;
    let (_, out) = s
        .post(
            &other_admin,
            &format!("/api/plugins/{}/run", id(&p2, "plugin_id")),
            json!({"folder_id": id(&f2, "folder_id"), "params": {"mode": "vision"}}),
        )
        .await;
    assert_eq!(out["result"]["results_data"]["embedding"]["model"], "fr_feature", "{out}");
}
