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
