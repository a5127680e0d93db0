//! The S3 blob backend against an in-process S3 server.

use crate::{id, photo_payload};
use vigil_tests::*;

async fn s3_backend(db: Db) {
    let s = Server::builder(db).blobs(Blobs::S3).start().await;
    let a = s.admin().await;
    let photo = jpeg(300, 200);
    let video = mp4_bytes(512 * 1024);
    let payload = serde_json::json!({"media:tags": {"p": ["photo_selfie"], "v": ["video_selfie", "video_selfie_blank", "orientation_portrait"]}});
    let (st, f) = s
        .upload(
            &a,
            "/api/folders",
            vec![file("p", "p.jpg", photo.clone()), file("v", "v.mp4", video.clone())],
            Some(payload),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    assert_eq!(s.media_blob_files().len(), 3, "photo, thumbnail and video are objects in the bucket");
    assert!(s.fetch(Some(&a), &id(&f["media"][0], "original_url")).await.1 == photo, "photo differs");
    assert!(s.fetch(Some(&a), &id(&f["media"][1], "original_url")).await.1 == video, "video differs");
    assert_eq!(s.get_anon("/api/healthcheck").await.1["storage"], "ok");
    // A failed upload leaves no object behind in S3 either.
    let (st, _) = s
        .upload(&a, "/api/folders", vec![file("p", "p.jpg", photo)], Some(serde_json::json!({"media:tags": {"q": []}})))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(s.media_blob_files().len(), 3);
    let (st, _) = s
        .upload(
            &a,
            &format!("/api/folders/{}/media", id(&f, "folder_id")),
            vec![file("x", "x.jpg", jpeg(20, 20))],
            Some(photo_payload("x")),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(s.media_blob_files().len(), 5);
    assert_eq!(s.delete(&a, &format!("/api/folders/{}", id(&f, "folder_id"))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.media_blob_files().len(), 0, "{:?}", s.media_blob_files());
}
both_dbs!(s3_backend_t, s3_backend);
