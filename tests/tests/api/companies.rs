//! Company CRUD and deletion that removes everything the company owns.

use crate::{World, id, ids, oz_err};
use serde_json::json;
use vigil_tests::*;

async fn company_crud_and_cleanup(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let (_, page) = s.get(&w.admin, "/api/companies/?search_text=c2").await;
    assert_eq!(ids(&page, "company_id"), vec![w.c2.clone()]);
    let (st, c) = s.patch(&w.admin, &format!("/api/companies/{}/", w.c2), json!({"name": "C2 renamed"})).await;
    assert_eq!((st, c["name"].clone()), (StatusCode::OK, json!("C2 renamed")));
    oz_err(&s.post(&w.admin, "/api/companies", json!({"name": " "})).await, 400, 4);
    oz_err(&s.post(&w.admin, "/api/companies", json!({"title": "x"})).await, 400, 3);
    let (_, sys) = s.get(&w.admin, &format!("/api/users/{}", w.admin.user_id())).await;
    assert_eq!(
        oz_err(&s.delete(&w.admin, &format!("/api/companies/{}", id(&sys, "company_id"))).await, 400, 4),
        "the system company cannot be deleted"
    );

    // Deleting C2 removes its users, folders, media rows and files; C1 is untouched.
    let before = s.blob_files().len();
    let g = id(&w.g, "folder_id");
    assert_eq!(s.delete(&w.admin, &format!("/api/companies/{}", w.c2)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.blob_files().len(), before - 2, "C2's photo and thumbnail are gone");
    assert_eq!(s.get(&w.admin, &format!("/api/folders/{g}")).await.0, StatusCode::NOT_FOUND);
    oz_err(&s.get(&w.other, "/api/folders").await, 401, 7);
    oz_err(&s.login_raw("u@c2.test", "Passw0rd-x").await, 401, 7);
    let (_, f1) = s.get(&w.client, &format!("/api/folders/{}", id(&w.f1, "folder_id"))).await;
    assert_eq!(s.fetch(Some(&w.client), &id(&f1["media"][0], "original_url")).await.0, StatusCode::OK);
}
both_dbs!(company_crud_and_cleanup_t, company_crud_and_cleanup);
