//! Tenant isolation: company C2 can never list, read, change, delete or download C1's objects,
//! whatever ids or URLs it guesses.

use crate::{World, id, ids, photo_payload};
use serde_json::json;
use vigil_tests::*;

async fn tenant_isolation(db: Db) {
    let w = World::new(db).await;
    let f1 = id(&w.f1, "folder_id");
    let m1 = &w.f1["media"][0];
    let mid = id(m1, "media_id");
    for (role, who) in [("C2 CLIENT", &w.other), ("C2 CLIENT ADMIN", &w.other_admin)] {
        // Lists never show C1 objects, even when asked by id or company.
        for q in ["", "?company_id=C1", "?folder_id=F1", "?user_id=U1"] {
            let q = q.replace("C1", &w.c1).replace("F1", &f1).replace("U1", &w.client.user_id());
            let (st, page) = w.s.get(who, &format!("/api/folders/{q}")).await;
            assert_eq!(st, StatusCode::OK);
            assert!(!ids(&page, "folder_id").contains(&f1), "{role} listed C1's folder with '{q}'");
        }
        let (_, users) = w.s.get(who, &format!("/api/users/?company_id={}", w.c1)).await;
        assert!(users["items"].as_array().unwrap().is_empty(), "{role} listed C1 users");
        // Reads, writes and deletes by id all answer "not found".
        let probes = [
            w.s.get(who, &format!("/api/folders/{f1}")).await,
            w.s.get(who, &format!("/api/media/{mid}")).await,
            w.s.get(who, &format!("/api/folders/{f1}/meta_data")).await,
            w.s.get(who, &format!("/api/media/{mid}/meta_data")).await,
            w.s.get(who, &format!("/api/users/{}", w.client.user_id())).await,
            w.s.get(who, &format!("/api/users/{}/meta_data", w.client.user_id())).await,
            w.s.get(who, &format!("/api/companies/{}", w.c1)).await,
            w.s.patch(who, &format!("/api/folders/{f1}"), json!({"meta_data": {"x": 1}})).await,
            w.s.patch(who, &format!("/api/media/{mid}"), json!({"tags": []})).await,
            w.s.post(who, &format!("/api/folders/{f1}/meta_data"), json!({"x": 1})).await,
            w.s.patch(who, &format!("/api/users/{}", w.client.user_id()), json!({"is_active": false})).await,
            w.s.upload(
                who,
                &format!("/api/folders/{f1}/media"),
                vec![file("p", "p.jpg", jpeg(32, 32))],
                Some(photo_payload("p")),
            )
            .await,
            w.s.delete(who, &format!("/api/media/{mid}")).await,
            w.s.delete(who, &format!("/api/folders/{f1}")).await,
            w.s.delete(who, &format!("/api/users/{}", w.client.user_id())).await,
        ];
        for (i, (st, b)) in probes.iter().enumerate() {
            assert_eq!(*st, StatusCode::NOT_FOUND, "{role} probe {i}: {b}");
            assert_eq!(b["error_code"], 10, "{role} probe {i}: {b}");
        }
        // Media links: another company's token gets nothing.
        for url in [id(m1, "original_url"), id(m1, "thumb_url")] {
            assert_eq!(w.s.fetch(Some(who), &url).await.0, StatusCode::NOT_FOUND, "{role} downloaded {url}");
        }
        // A C1 user cannot be created by C2's admin.
        let body = json!({"email": "x@c1.test", "password": "Passw0rd-x", "user_type": "CLIENT", "company_id": w.c1});
        assert_eq!(w.s.post(who, "/api/users", body).await.0, StatusCode::FORBIDDEN, "{role} created a C1 user");
    }
    // The owner's own links work; without a token they are refused.
    let url = id(m1, "original_url");
    let (st, bytes) = w.s.fetch(Some(&w.client), &url).await;
    assert_eq!(st, StatusCode::OK);
    assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]));
    assert_eq!(w.s.fetch(None, &url).await.0, StatusCode::UNAUTHORIZED);
    // A link whose folder id does not match the media's is not found, even for its owner.
    let forged = url.replace(&f1, &id(&w.g, "folder_id"));
    assert_eq!(w.s.fetch(Some(&w.admin), &forged).await.0, StatusCode::NOT_FOUND);
    // Objects are still intact after all that.
    let (st, f) = w.s.get(&w.client, &format!("/api/folders/{f1}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(f["media"].as_array().unwrap().len(), 1);
    assert_eq!(f["meta_data"], json!({}));
}
both_dbs!(tenant_isolation_t, tenant_isolation);
