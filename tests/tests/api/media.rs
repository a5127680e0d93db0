//! Adding, reading, retagging and deleting media; files and thumbnails; metadata sub-resources.

use crate::{World, id, oz_err, photo_payload};
use serde_json::json;
use vigil_tests::*;

async fn media_lifecycle(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let f1 = id(&w.f1, "folder_id");
    let before = s.blob_files().len();
    let photo = jpeg(640, 480);
    let (st, added) = s
        .upload(
            &w.client,
            &format!("/api/folders/{f1}/media/"),
            vec![file("ref", "ref.jpg", photo.clone())],
            Some(photo_payload("ref")),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{added}");
    let arr = added.as_array().expect("an array of media");
    assert_eq!(arr.len(), 1);
    let m = &arr[0];
    assert_eq!(m["media_type"], "IMAGE_FOLDER");
    assert_eq!(m["tags"], json!(["photo_selfie"]));
    assert_eq!(m["original_name"], "ref.jpg");
    assert_eq!((m["info"]["width"].as_i64(), m["info"]["height"].as_i64()), (Some(640), Some(480)));
    assert_eq!(s.blob_files().len(), before + 2, "original and thumbnail stored");
    let mid = id(m, "media_id");
    let (_, f) = s.get(&w.client, &format!("/api/folders/{f1}")).await;
    assert_eq!(f["media"].as_array().unwrap().len(), 2);

    // The file comes back byte for byte; the thumbnail keeps the aspect ratio.
    let (st, bytes) = s.fetch(Some(&w.client), &id(m, "original_url")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(bytes == photo, "the file came back different");
    let (st, thumb) = s.fetch(Some(&w.client), &id(m, "thumb_url")).await;
    assert_eq!(st, StatusCode::OK);
    let t = image::load_from_memory(&thumb).expect("thumbnail decodes");
    assert_eq!((t.width(), t.height()), (256, 192));
    // Stored bytes are never a page to a browser.
    let r = s.http.get(id(m, "original_url")).header("X-Forensic-Access-Token", &w.client.token).send().await.unwrap();
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    assert_eq!(
        h["content-disposition"],
        format!("inline; filename=\"{mid_file}\"", mid_file = id(m, "original_url").rsplit('/').next().unwrap())
    );
    assert_eq!(h["content-type"], "image/jpeg");
    // `?access_token=` works for links embedded in pages.
    let url = format!("{}?access_token={}", id(m, "original_url"), w.client.token);
    assert_eq!(s.fetch(None, &url).await.0, StatusCode::OK);

    // Retag: replace, clear; an unknown tag is stored as Oz stores it, an unprintable one refused.
    let path = format!("/api/media/{mid}");
    let (st, r) = s.patch(&w.client, &path, json!({"tags": ["photo_id", "photo_id_front"]})).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(s.get(&w.client, &path).await.1["tags"], json!(["photo_id", "photo_id_front"]));
    assert_eq!(s.patch(&w.client, &path, json!({"tags": []})).await.1["tags"], json!([]));
    let (st, r) = s.patch(&w.client, &path, json!({"tags": ["photo_selfie", "my_app_v2"]})).await;
    assert_eq!((st, r["tags"].clone()), (StatusCode::OK, json!(["photo_selfie", "my_app_v2"])), "{r}");
    assert!(oz_err(&s.patch(&w.client, &path, json!({"tags": [""]})).await, 400, 4).contains("printable"));
    oz_err(&s.patch(&w.client, &path, json!({"tag": []})).await, 400, 3);

    // Delete: rows and both files go.
    assert_eq!(s.delete(&w.cadmin, &path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&w.client, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.fetch(Some(&w.admin), &id(m, "original_url")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.blob_files().len(), before);
    // Deleting the folder removes its remaining files.
    assert_eq!(s.delete(&w.cadmin, &format!("/api/folders/{f1}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.blob_files().len(), before - 2);
    assert_eq!(s.get(&w.admin, &format!("/api/folders/{f1}")).await.0, StatusCode::NOT_FOUND);
}
both_dbs!(media_lifecycle_t, media_lifecycle);

async fn meta_data_crud(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let targets = [
        (format!("/api/folders/{}/meta_data", id(&w.f1, "folder_id")), &w.client),
        (format!("/api/media/{}/meta_data", id(&w.f1["media"][0], "media_id")), &w.client),
        (format!("/api/users/{}/meta_data/", w.client.user_id()), &w.cadmin),
    ];
    for (path, who) in targets {
        assert_eq!(s.get(who, &path).await.1, json!({}), "{path}");
        let (st, v) = s.post(who, &path, json!({"a": 1, "client_iin": "123"})).await;
        assert_eq!((st, v), (StatusCode::OK, json!({"a": 1, "client_iin": "123"})), "{path}");
        let (_, v) = s.post(who, &path, json!({"a": 1})).await;
        assert_eq!(v, json!({"a": 1}), "POST replaces: {path}");
        let (_, v) = s.patch(who, &path, json!({"b": {"c": 2}})).await;
        assert_eq!(v, json!({"a": 1, "b": {"c": 2}}), "PATCH merges: {path}");
        assert_eq!(s.get(who, &path).await.1, json!({"a": 1, "b": {"c": 2}}));
        oz_err(&s.post(who, &path, json!([1, 2])).await, 400, 4);
        assert_eq!(s.delete(who, &path).await.0, StatusCode::NO_CONTENT);
        assert_eq!(s.get(who, &path).await.1, json!({}));
    }
    // Folder metadata from the upload payload is what the sub-resource serves.
    let payload = json!({"folder:meta_data": {"transaction_id": "T-1"}, "media:tags": {"p": ["photo_selfie"]}, "media:meta_data": {"p": {"side": "left"}}});
    let (_, f) = s.upload(&w.client, "/api/folders", vec![file("p", "p.jpg", jpeg(32, 32))], Some(payload)).await;
    assert_eq!(
        s.get(&w.client, &format!("/api/folders/{}/meta_data", id(&f, "folder_id"))).await.1,
        json!({"transaction_id": "T-1"})
    );
    assert_eq!(f["media"][0]["meta_data"], json!({"side": "left"}));
    // A CLIENT may read but not edit its own user's metadata (rights follow the user object).
    let own = format!("/api/users/{}/meta_data", w.client.user_id());
    assert_eq!(s.get(&w.client, &own).await.0, StatusCode::OK);
    assert_eq!(s.post(&w.client, &own, json!({"x": 1})).await.0, StatusCode::FORBIDDEN);
}
both_dbs!(meta_data_crud_t, meta_data_crud);

async fn static_permissions_off(db: Db) {
    let s = Server::builder(db).set("use_permissions_for_static", "false").start().await;
    let a = s.admin().await;
    let (_, f) = s.upload(&a, "/api/folders", vec![file("p", "p.png", png(50, 20))], Some(photo_payload("p"))).await;
    let m = &f["media"][0];
    let (st, bytes) = s.fetch(None, &id(m, "original_url")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(bytes.starts_with(b"\x89PNG"));
    let (st, thumb) = s.fetch(None, &id(m, "thumb_url")).await;
    assert_eq!(st, StatusCode::OK);
    let t = image::load_from_memory(&thumb).unwrap();
    assert_eq!((t.width(), t.height()), (50, 20), "small images are not enlarged");
}
both_dbs!(static_permissions_off_t, static_permissions_off);

/// `GET /api/folders/{id}/media/`, `original_info` (MD5 computed while streaming, size, MIME
/// type) and a shots set's frame list.
async fn media_listing_and_info(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let photo = test_photo("obama.jpg");
    let frames = zip_of(&[("0002.png", png(64, 48)), ("0001.jpg", jpeg(80, 60)), ("notes.txt", b"x".to_vec())]);
    let video = video_of("astronaut.png", 1, "mp4", 320);
    let (st, f) = s
        .upload(
            &w.client,
            "/api/folders/",
            vec![file("p", "p.jpg", photo.clone()), file("z", "frames.zip", frames.clone()), file("v", "v.mp4", video)],
            Some(json!({"media:tags": {"p": ["photo_selfie"], "z": ["video_selfie", "video_selfie_blank"], "v": ["video_selfie", "video_selfie_eyes"]}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let fid = id(&f, "folder_id");
    let md5 = |b: &[u8]| {
        use md5::Digest;
        hex::encode(md5::Md5::digest(b))
    };
    let by_name =
        |name: &str| f["media"].as_array().unwrap().iter().find(|m| m["original_name"] == name).cloned().unwrap();
    let p = by_name("p.jpg");
    assert_eq!(p["original_info"], json!({"md5": md5(&photo), "size": photo.len(), "mime-type": "image/jpeg"}));
    let z = by_name("frames.zip");
    assert_eq!(z["original_info"]["md5"], json!(md5(&frames)));
    assert_eq!(z["original_info"]["mime-type"], "application/zip");
    // Image entries in name order (what the analysis reads); other entries are not frames.
    assert_eq!(
        z["frames"],
        json!([{"name": "0001.jpg", "width": 80, "height": 60}, {"name": "0002.png", "width": 64, "height": 48}])
    );
    assert!(p.get("frames").is_none(), "only shots sets list frames: {p}");

    // The listing: upload order, paging, filters by type and tag.
    let (st, all) = s.get(&w.client, &format!("/api/folders/{fid}/media/")).await;
    assert_eq!(st, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 3);
    let names: Vec<&str> =
        all["items"].as_array().unwrap().iter().map(|m| m["original_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["p.jpg", "frames.zip", "v.mp4"]);
    assert_eq!(all["items"][0]["original_url"], p["original_url"]);
    let (_, page) = s.get(&w.client, &format!("/api/folders/{fid}/media?limit=1&offset=1")).await;
    assert_eq!(page["items"][0]["original_name"], "frames.zip");
    let (_, vids) = s.get(&w.client, &format!("/api/folders/{fid}/media/?media_type=VIDEO_FOLDER,SHOTS_SET")).await;
    assert_eq!(vids["total"], 2);
    let (_, eyes) = s.get(&w.client, &format!("/api/folders/{fid}/media/?tags=video_selfie_eyes,photo_id")).await;
    assert_eq!(eyes["items"].as_array().unwrap().len(), 1);
    assert_eq!(eyes["items"][0]["original_name"], "v.mp4");
    oz_err(&s.get(&w.client, &format!("/api/folders/{fid}/media/?media_type=AUDIO")).await, 400, 4);
    // Someone else's folder is not there.
    oz_err(&s.get(&w.other, &format!("/api/folders/{fid}/media/")).await, 404, 10);
    assert_eq!(s.get(&w.cadmin, &format!("/api/folders/{fid}/media/")).await.0, StatusCode::OK);
}
both_dbs!(media_listing_and_info_t, media_listing_and_info);
