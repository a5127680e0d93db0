//! The role × endpoint permission matrix of reference §5, checked for every role.

use crate::{World, folder_with_photo, id, ids, photo_payload};
use serde_json::{Value, json};
use vigil_tests::*;

#[derive(Clone, Copy)]
enum M {
    Get,
    Post,
    Patch,
    Upload,
}

async fn call(w: &World, who: &Session, m: M, path: &str, body: Value) -> (StatusCode, Value) {
    match m {
        M::Get => w.s.get(who, path).await,
        M::Post => w.s.post(who, path, body).await,
        M::Patch => w.s.patch(who, path, body).await,
        M::Upload => {
            w.s.upload(who, path, vec![file("photo1", "p.jpg", jpeg(64, 48))], Some(photo_payload("photo1"))).await
        }
    }
}

async fn matrix(db: Db) {
    let w = World::new(db).await;
    let (c1, c2) = (w.c1.clone(), w.c2.clone());
    let f1 = id(&w.f1, "folder_id");
    let f2 = id(&w.f2, "folder_id");
    let g = id(&w.g, "folder_id");
    let m1 = id(&w.f1["media"][0], "media_id");
    let client2_id = w.client2.user_id();
    let mut n = 0;
    // (what, method, path, body, expected status for ADMIN, OPERATOR, CLIENT ADMIN, CLIENT OPERATOR, CLIENT, CLIENT SERVICE)
    let rows: Vec<(&str, M, String, Value, [u16; 6])> = vec![
        ("create company", M::Post, "/api/companies".into(), json!({"name": "New"}), [201, 403, 403, 403, 403, 403]),
        ("read own company", M::Get, format!("/api/companies/{c1}"), json!(null), [200, 200, 200, 200, 200, 200]),
        ("read other company", M::Get, format!("/api/companies/{c2}"), json!(null), [200, 200, 404, 404, 404, 404]),
        (
            "rename company",
            M::Patch,
            format!("/api/companies/{c1}"),
            json!({"name": "C1"}),
            [200, 403, 403, 403, 403, 403],
        ),
        (
            "create ADMIN user",
            M::Post,
            "/api/users".into(),
            json!({"user_type": "ADMIN"}),
            [201, 403, 403, 403, 403, 403],
        ),
        (
            "create C1 user",
            M::Post,
            "/api/users".into(),
            json!({"user_type": "CLIENT", "company_id": c1}),
            [201, 403, 201, 403, 403, 403],
        ),
        ("read colleague", M::Get, format!("/api/users/{client2_id}"), json!(null), [200, 200, 200, 200, 404, 404]),
        (
            "edit colleague",
            M::Patch,
            format!("/api/users/{client2_id}"),
            json!({"first_name": "X"}),
            [200, 403, 200, 403, 404, 404],
        ),
        (
            "read own folder of CLIENT",
            M::Get,
            format!("/api/folders/{f1}"),
            json!(null),
            [200, 200, 200, 200, 200, 404],
        ),
        ("read colleague's folder", M::Get, format!("/api/folders/{f2}"), json!(null), [200, 200, 200, 200, 404, 404]),
        (
            "read other company's folder",
            M::Get,
            format!("/api/folders/{g}"),
            json!(null),
            [200, 200, 404, 404, 404, 404],
        ),
        ("create folder", M::Upload, "/api/folders".into(), json!(null), [201, 403, 201, 403, 201, 201]),
        (
            "edit folder",
            M::Patch,
            format!("/api/folders/{f1}"),
            json!({"meta_data": {"k": 1}}),
            [200, 403, 200, 403, 200, 404],
        ),
        ("add media", M::Upload, format!("/api/folders/{f1}/media"), json!(null), [201, 403, 201, 403, 201, 404]),
        (
            "retag media",
            M::Patch,
            format!("/api/media/{m1}"),
            json!({"tags": ["photo_selfie"]}),
            [200, 403, 200, 403, 200, 404],
        ),
        ("read media", M::Get, format!("/api/media/{m1}"), json!(null), [200, 200, 200, 200, 200, 404]),
        (
            "write folder meta",
            M::Post,
            format!("/api/folders/{f1}/meta_data"),
            json!({"a": 1}),
            [200, 403, 200, 403, 200, 404],
        ),
        (
            "read folder meta",
            M::Get,
            format!("/api/folders/{f1}/meta_data"),
            json!(null),
            [200, 200, 200, 200, 200, 404],
        ),
        (
            "set operator status",
            M::Patch,
            format!("/api/folders/{f1}"),
            json!({"operator_status": "checked"}),
            [200, 200, 200, 200, 403, 404],
        ),
    ];
    for (what, m, path, mut body, expected) in rows {
        for (i, (role, who)) in w.roles().into_iter().enumerate() {
            if body.get("user_type").is_some() {
                n += 1;
                body["email"] = json!(format!("new{n}@matrix.test"));
                body["password"] = json!("Passw0rd-x");
            }
            let (st, b) = call(&w, who, m, &path, body.clone()).await;
            assert_eq!(st.as_u16(), expected[i], "{what} as {role}: {b}");
            if !st.is_success() {
                assert!(b["error_code"].is_i64(), "{what} as {role}: no Oz error body: {b}");
            }
        }
    }

    // Deleting: a fresh C1 folder for each role that may try.
    for (i, (role, who)) in w.roles().into_iter().enumerate() {
        let f = folder_with_photo(&w.s, &w.client).await;
        let (fid, mid) = (id(&f, "folder_id"), id(&f["media"][0], "media_id"));
        let expected = [204, 403, 204, 403, 403, 404][i];
        assert_eq!(w.s.delete(who, &format!("/api/media/{mid}")).await.0.as_u16(), expected, "delete media as {role}");
        assert_eq!(
            w.s.delete(who, &format!("/api/folders/{fid}")).await.0.as_u16(),
            expected,
            "delete folder as {role}"
        );
    }

    // List scopes: global roles see every company, company roles their company, CLIENTs their own.
    let all = [f1.clone(), f2.clone(), g.clone()];
    for (role, who) in w.roles() {
        let (_, page) = w.s.get(who, "/api/folders/?limit=1000").await;
        let seen = ids(&page, "folder_id");
        let expect: Vec<bool> = match role {
            "ADMIN" | "OPERATOR" => vec![true, true, true],
            "CLIENT ADMIN" | "CLIENT OPERATOR" => vec![true, true, false],
            "CLIENT" => vec![true, false, false],
            _ => vec![false, false, false],
        };
        for (f, e) in all.iter().zip(expect) {
            assert_eq!(seen.contains(f), e, "{role} listing folder {f}");
        }
        let (_, users) = w.s.get(who, "/api/users/?limit=1000").await;
        let companies: Vec<String> = users["items"].as_array().unwrap().iter().map(|u| id(u, "company_id")).collect();
        match role {
            "ADMIN" | "OPERATOR" => assert!(companies.contains(&c2)),
            "CLIENT ADMIN" | "CLIENT OPERATOR" => assert!(companies.iter().all(|c| *c == c1) && companies.len() > 1),
            _ => assert_eq!(users["items"].as_array().unwrap().len(), 1, "{role} sees only itself"),
        }
        let (_, comps) = w.s.get(who, "/api/companies/").await;
        let n = comps["items"].as_array().unwrap().len();
        if role == "ADMIN" || role == "OPERATOR" { assert!(n >= 3, "{role}") } else { assert_eq!(n, 1, "{role}") }
    }
}
both_dbs!(matrix_t, matrix);

async fn folder_owner_change(db: Db) {
    let w = World::new(db).await;
    let f1 = id(&w.f1, "folder_id");
    let path = format!("/api/folders/{f1}");
    assert_eq!(w.s.patch(&w.client, &path, json!({"user_id": w.client2.user_id()})).await.0, StatusCode::FORBIDDEN);
    let (st, b) = w.s.patch(&w.cadmin, &path, json!({"user_id": w.other.user_id()})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    let (st, b) = w.s.patch(&w.cadmin, &path, json!({"user_id": w.client2.user_id()})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["user_id"].as_str(), Some(w.client2.user_id().as_str()));
    assert_eq!(w.s.get(&w.client, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(w.s.get(&w.client2, &path).await.0, StatusCode::OK);
}
both_dbs!(folder_owner_change_t, folder_owner_change);
