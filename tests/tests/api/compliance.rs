//! Compliance: the audit log (one entry per change, none for a failed one, secrets never, read
//! by ADMIN and CLIENT ADMIN only, append-only), personal-data deletion (files, rows and results
//! scanned afterwards; a crash halfway completed by a retry) and SDK event sessions.

use crate::{World, id, oz_err, photo_payload};
use serde_json::{Value, json};
use vigil_store::{Exec, Sql, Store};
use vigil_tests::*;

/// The number of entries ADMIN sees.
async fn entries(s: &Server, admin: &Session) -> i64 {
    let (st, page) = s.get(admin, "/api/audit_log/?limit=1").await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["total"].as_i64().expect("total")
}

/// The newest entry.
async fn last(s: &Server, admin: &Session) -> Value {
    let (_, page) = s.get(admin, "/api/audit_log/?limit=1").await;
    page["items"][0].clone()
}

/// Runs a mutation and checks that it wrote exactly one entry with this action and object.
async fn one_entry<F: std::future::Future<Output = (StatusCode, Value)>>(
    w: &World,
    what: &str,
    action: &str,
    object_type: &str,
    call: F,
) -> Value {
    let before = entries(&w.s, &w.admin).await;
    let (st, body) = call.await;
    assert!(st.is_success(), "{what}: {st} {body}");
    let after = entries(&w.s, &w.admin).await;
    assert_eq!(after, before + 1, "{what} must write exactly one audit entry");
    let e = last(&w.s, &w.admin).await;
    assert_eq!((e["action"].as_str(), e["object_type"].as_str()), (Some(action), Some(object_type)), "{what}: {e}");
    e
}

/// Runs a mutation that must fail and checks it wrote nothing.
async fn no_entry<F: std::future::Future<Output = (StatusCode, Value)>>(w: &World, what: &str, call: F) {
    let before = entries(&w.s, &w.admin).await;
    let (st, body) = call.await;
    assert!(!st.is_success(), "{what} should fail: {body}");
    assert_eq!(entries(&w.s, &w.admin).await, before, "{what} failed but wrote an audit entry");
}

async fn audit_log(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let f1 = id(&w.f1, "folder_id");
    let media = id(&w.f1["media"][0], "media_id");

    // Folders, media, analyses, reports.
    let e = one_entry(&w, "create folder", "create", "folder", async {
        s.upload(
            &w.client,
            "/api/folders/",
            vec![file("p", "p.jpg", test_photo("obama.jpg"))],
            Some(json!({
                "media:tags": {"p": ["photo_selfie"]}, "folder:meta_data": {"client_iin": "990101300123"}
            })),
        )
        .await
    })
    .await;
    assert_eq!(e["user_id"].as_str(), Some(w.client.user_id().as_str()));
    assert!(e["ip"].as_str().is_some_and(|ip| ip == "127.0.0.1"), "{e}");
    assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
    assert_eq!(e["changes"]["meta_data"], json!({"keys": ["client_iin"]}), "metadata keys only: {e}");
    assert!(!e.to_string().contains("990101300123"), "personal data in the log: {e}");
    let fresh = id(&e, "object_id");
    one_entry(&w, "add media", "add_media", "folder", async {
        s.upload(
            &w.client,
            &format!("/api/folders/{f1}/media/"),
            vec![file("q", "q.jpg", jpeg(48, 48))],
            Some(photo_payload("q")),
        )
        .await
    })
    .await;
    let e = one_entry(
        &w,
        "patch folder",
        "update",
        "folder",
        s.patch(
            &w.cadmin,
            &format!("/api/folders/{f1}/"),
            json!({
                "operator_status": "CHECKED", "operator_comment": "looks fine", "user_id": w.client2.user_id()
            }),
        ),
    )
    .await;
    assert_eq!(e["changes"]["operator_status"], json!({"old": null, "new": "CHECKED"}));
    assert_eq!(e["changes"]["user_id"]["new"].as_str(), Some(w.client2.user_id().as_str()), "owner change: {e}");
    assert_eq!(e["folder_id"].as_str(), Some(f1.as_str()));
    one_entry(
        &w,
        "folder meta",
        "update_meta_data",
        "folder",
        s.patch(&w.cadmin, &format!("/api/folders/{f1}/meta_data/"), json!({"k": "v"})),
    )
    .await;
    let e = one_entry(
        &w,
        "retag media",
        "update",
        "media",
        s.patch(&w.cadmin, &format!("/api/media/{media}/"), json!({"tags": ["photo_id_front"]})),
    )
    .await;
    assert_eq!(e["changes"]["tags"], json!({"old": ["photo_selfie"], "new": ["photo_id_front"]}));
    one_entry(
        &w,
        "media meta",
        "update_meta_data",
        "media",
        s.post(&w.cadmin, &format!("/api/media/{media}/meta_data/"), json!({"a": 1})),
    )
    .await;
    let (st, list) =
        s.post(&w.cadmin, &format!("/api/folders/{fresh}/analyses/"), json!({"analyses": [{"type": "QUALITY"}]})).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    let e = last(s, &w.admin).await;
    assert_eq!((e["action"].as_str(), e["object_id"].as_str()), (Some("request_analyses"), Some(fresh.as_str())));
    let aid = id(&list[0], "analyse_id");
    s.wait_analysis(&w.cadmin, &aid, 90).await;
    let e = one_entry(
        &w,
        "decide",
        "decide",
        "analysis",
        s.patch(&w.cop, &format!("/api/analyses/{aid}/"), json!({"resolution": "SUCCESS", "comment": "ok"})),
    )
    .await;
    assert_eq!(e["changes"]["resolution_status"]["new"], "SUCCESS");
    let e = one_entry(
        &w,
        "report",
        "create",
        "report",
        s.post(&w.cadmin, &format!("/api/folders/{fresh}/reports/"), json!({"format": "html"})),
    )
    .await;
    let rid = id(&e, "object_id");
    one_entry(
        &w,
        "delete report",
        "delete",
        "report",
        s.delete(&w.cadmin, &format!("/api/folders/{fresh}/reports/{rid}/")),
    )
    .await;
    one_entry(&w, "delete analysis", "delete", "analysis", s.delete(&w.cadmin, &format!("/api/analyses/{aid}/"))).await;
    one_entry(&w, "delete media", "delete", "media", s.delete(&w.cadmin, &format!("/api/media/{media}/"))).await;
    one_entry(&w, "delete folder", "delete", "folder", s.delete(&w.cadmin, &format!("/api/folders/{fresh}/"))).await;

    // Users and sessions: passwords never appear.
    let e = one_entry(
        &w,
        "create user",
        "create",
        "user",
        s.post(
            &w.cadmin,
            "/api/users/",
            json!({
                "email": "audited@c1.test", "password": "Secret-pass-123", "user_type": "CLIENT", "company_id": w.c1,
                "first_name": "Au", "last_name": "Dit"
            }),
        ),
    )
    .await;
    let u = id(&e, "object_id");
    let e = one_entry(
        &w,
        "role change",
        "update",
        "user",
        s.patch(&w.cadmin, &format!("/api/users/{u}/"), json!({"is_admin": true})),
    )
    .await;
    assert_eq!(e["changes"]["is_admin"], json!({"old": false, "new": true}));
    one_entry(
        &w,
        "block",
        "block",
        "user",
        s.patch(&w.cadmin, &format!("/api/users/{u}/"), json!({"is_active": false})),
    )
    .await;
    one_entry(
        &w,
        "unblock",
        "unblock",
        "user",
        s.patch(&w.cadmin, &format!("/api/users/{u}/"), json!({"is_active": true})),
    )
    .await;
    let e = one_entry(
        &w,
        "password",
        "change_password",
        "user",
        s.post(&w.cadmin, &format!("/api/users/{u}/change-password/"), json!({"new_password": "Other-pass-456"})),
    )
    .await;
    assert_eq!(e["changes"]["password"], json!({"changed": true}));
    let sess = s.login("audited@c1.test", "Other-pass-456").await;
    one_entry(
        &w,
        "revoke sessions",
        "revoke_sessions",
        "user",
        s.delete(&w.cadmin, &format!("/api/users/{u}/sessions/")),
    )
    .await;
    oz_err(&s.get(&sess, "/api/users/").await, 401, 7);
    one_entry(&w, "user meta", "update_meta_data", "user", s.delete(&w.cadmin, &format!("/api/users/{u}/meta_data/")))
        .await;
    one_entry(&w, "delete user", "delete", "user", s.delete(&w.cadmin, &format!("/api/users/{u}/"))).await;

    // Companies, webhooks, plugins.
    let e = one_entry(
        &w,
        "create company",
        "create",
        "company",
        s.post(&w.admin, "/api/companies/", json!({"name": "Gone Ltd"})),
    )
    .await;
    let gone = id(&e, "object_id");
    one_entry(
        &w,
        "rename",
        "update",
        "company",
        s.patch(&w.admin, &format!("/api/companies/{gone}/"), json!({"name": "Gone plc"})),
    )
    .await;
    let hook = json!({"url": "https://hooks.example/vigil", "secret": "a-very-secret-webhook-key"});
    let e = one_entry(&w, "webhook", "set_webhook", "company", async {
        read(
            s.req(reqwest::Method::PUT, Some(&w.cadmin), &format!("/api/companies/{}/webhook/", w.c1))
                .json(&hook)
                .send()
                .await
                .expect("send"),
        )
        .await
    })
    .await;
    assert!(!e.to_string().contains("a-very-secret-webhook-key"), "webhook secret in the log: {e}");
    assert_eq!(e["changes"]["webhook_secret"], json!({"changed": true}));
    let manifest =
        json!({"name": "audited", "version": "1.0.0", "kind": "analysis", "company_id": gone, "activate": false});
    let e =
        one_entry(&w, "upload plugin", "upload", "plugin", s.upload_plugin(&w.admin, component("quality"), manifest))
            .await;
    let pid = id(&e, "object_id");
    one_entry(
        &w,
        "activate",
        "activate",
        "plugin",
        s.post(&w.admin, &format!("/api/plugins/{pid}/activate/"), json!({})),
    )
    .await;
    one_entry(
        &w,
        "deactivate",
        "deactivate",
        "plugin",
        s.post(&w.admin, &format!("/api/plugins/{pid}/deactivate/"), json!({})),
    )
    .await;
    one_entry(&w, "delete plugin", "delete", "plugin", s.delete(&w.admin, &format!("/api/plugins/{pid}/"))).await;
    one_entry(&w, "delete company", "delete", "company", s.delete(&w.admin, &format!("/api/companies/{gone}/"))).await;
    // The entries of a deleted company are kept.
    let (_, page) = s.get(&w.admin, &format!("/api/audit_log/?company_id={gone}&sorting=time_created{{asc}}")).await;
    let actions: Vec<&str> = page["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["create", "update", "upload", "activate", "deactivate", "delete", "delete"], "{page}");

    // Collections and report templates, by CLIENT ADMIN: person metadata by key only.
    let e = one_entry(
        &w,
        "collection",
        "create",
        "collection",
        s.post(&w.cadmin, "/api/collections/", json!({"alias": "watch"})),
    )
    .await;
    let col = id(&e, "object_id");
    let e = one_entry(&w, "enrol", "create", "person", async {
        s.upload(
            &w.cadmin,
            &format!("/api/collections/{col}/persons/"),
            vec![file("i1", "o.jpg", test_photo("obama.jpg"))],
            Some(json!({
                "media:tags": {"i1": ["photo_selfie"]}, "person:meta_data": {"person_info": {"last_name": "Watched"}}
            })),
        )
        .await
    })
    .await;
    assert!(!e.to_string().contains("Watched"), "{e}");
    let person = id(&e, "object_id");
    one_entry(&w, "add image", "add_images", "person", async {
        s.upload(
            &w.cadmin,
            &format!("/api/collections/{col}/persons/{person}/images/"),
            vec![file("i2", "o2.jpg", test_photo("obama2.jpg"))],
            Some(json!({"media:tags": {"i2": ["photo_selfie"]}})),
        )
        .await
    })
    .await;
    let (_, images) = s.get(&w.cadmin, &format!("/api/collections/{col}/persons/{person}/images/")).await;
    let image = crate::ids(&images, "person_image_id")[1].clone();
    one_entry(
        &w,
        "person meta",
        "update_meta_data",
        "person",
        s.patch(&w.cadmin, &format!("/api/collections/{col}/persons/{person}/meta_data/"), json!({"note": "x"})),
    )
    .await;
    one_entry(
        &w,
        "delete image",
        "delete",
        "person_image",
        s.delete(&w.cadmin, &format!("/api/collections/{col}/persons/{person}/images/{image}/")),
    )
    .await;
    one_entry(
        &w,
        "delete person",
        "delete",
        "person",
        s.delete(&w.cadmin, &format!("/api/collections/{col}/persons/{person}/")),
    )
    .await;
    one_entry(
        &w,
        "delete collection",
        "delete",
        "collection",
        s.delete(&w.cadmin, &format!("/api/collections/{col}/")),
    )
    .await;
    let e = one_entry(
        &w,
        "template",
        "create",
        "report_template",
        s.upload(
            &w.cadmin,
            "/api/report_templates/",
            vec![file("template", "t.html", b"<p>{{ verdict }}</p>".to_vec())],
            Some(json!({"name": "Audited"})),
        ),
    )
    .await;
    let tpl = id(&e, "object_id");
    one_entry(
        &w,
        "template version",
        "update",
        "report_template",
        s.upload_with(
            &w.cadmin,
            reqwest::Method::PUT,
            &format!("/api/report_templates/{tpl}/"),
            vec![file("template", "t.html", b"<p>v2 {{ verdict }}</p>".to_vec())],
            None,
        ),
    )
    .await;
    one_entry(
        &w,
        "attachment",
        "add_attachments",
        "report_template",
        s.upload(
            &w.cadmin,
            &format!("/api/report_templates/{tpl}/attachments/"),
            vec![file("logo", "logo.png", png(8, 8))],
            None,
        ),
    )
    .await;
    let (_, t) = s.get(&w.cadmin, &format!("/api/report_templates/{tpl}/")).await;
    let att = id(&t["attachments"][0], "attachment_id");
    one_entry(
        &w,
        "delete attachment",
        "delete_attachment",
        "report_template",
        s.delete(&w.cadmin, &format!("/api/report_templates/{tpl}/attachments/{att}/")),
    )
    .await;
    one_entry(
        &w,
        "delete template",
        "delete",
        "report_template",
        s.delete(&w.cadmin, &format!("/api/report_templates/{tpl}/")),
    )
    .await;

    // Failed mutations write nothing.
    no_entry(&w, "other company's folder", s.patch(&w.other, &format!("/api/folders/{f1}/"), json!({"meta_data": {}})))
        .await;
    no_entry(&w, "CLIENT decides", s.patch(&w.client, &format!("/api/folders/{f1}/"), json!({"operator_status": "X"})))
        .await;
    no_entry(
        &w,
        "duplicate e-mail",
        s.post(
            &w.cadmin,
            "/api/users/",
            json!({
                "email": "u@c1.test", "password": "Secret-pass-123", "user_type": "CLIENT", "company_id": w.c1
            }),
        ),
    )
    .await;
    no_entry(
        &w,
        "weak password",
        s.post(&w.cadmin, &format!("/api/users/{}/change-password/", w.client.user_id()), json!({"new_password": "x"})),
    )
    .await;
    no_entry(
        &w,
        "bad upload",
        s.upload(
            &w.client,
            "/api/folders/",
            vec![file("p", "p.jpg", b"not an image".to_vec())],
            Some(photo_payload("p")),
        ),
    )
    .await;
    no_entry(&w, "CLIENT deletes a folder", s.delete(&w.client, &format!("/api/folders/{f1}/"))).await;

    // Who reads what.
    oz_err(&s.get(&w.client, "/api/audit_log/").await, 403, 9);
    oz_err(&s.get(&w.operator, "/api/audit_log/").await, 403, 9);
    oz_err(&s.get(&w.cop, "/api/audit_log/").await, 403, 9);
    let (st, mine) = s.get(&w.cadmin, "/api/audit_log/?limit=1000").await;
    assert_eq!(st, StatusCode::OK);
    let companies: std::collections::BTreeSet<&str> =
        mine["items"].as_array().unwrap().iter().filter_map(|e| e["company_id"].as_str()).collect();
    assert_eq!(companies.into_iter().collect::<Vec<_>>(), [w.c1.as_str()], "CLIENT ADMIN sees its company only");
    let (_, theirs) = s.get(&w.other_admin, &format!("/api/audit_log/?folder_id={f1}")).await;
    assert_eq!(theirs["total"], 0, "{theirs}");
    let (_, theirs) = s.get(&w.other_admin, &format!("/api/folders/{f1}/audit_log/")).await;
    assert_eq!(theirs["total"], 0, "another company's folder shows nothing: {theirs}");
    oz_err(&s.get(&w.other_admin, &format!("/api/companies/{}/audit_log/", w.c1)).await, 404, 10);

    // Filters, sorting, paging, shortcuts.
    let (_, page) = s.get(&w.admin, &format!("/api/folders/{f1}/audit_log/?sorting=time_created{{asc}}")).await;
    let actions: Vec<&str> = page["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["create", "add_media", "update", "update_meta_data", "update", "update_meta_data", "delete"],
        "{page}"
    );
    let (_, page) = s.get(&w.admin, "/api/audit_log/?action=block,unblock&object_type=user&total_omit=true").await;
    assert!(page.get("total").is_none() && page["items"].as_array().unwrap().len() == 2, "{page}");
    // A deleted user's history stays readable.
    let (_, page) = s.get(&w.cadmin, &format!("/api/users/{u}/audit_log/?limit=2&offset=1")).await;
    assert_eq!((page["total"].as_i64(), page["items"].as_array().map(Vec::len)), (Some(8), Some(2)), "{page}");
    let (_, page) = s
        .get(&w.admin, &format!("/api/audit_log/?user_id={}&action=create&object_type=folder", w.client.user_id()))
        .await;
    assert!(page["total"].as_i64().unwrap() >= 2, "{page}");
    let (_, page) = s
        .get(&w.admin, &format!("/api/companies/{}/audit_log/?time_created.min={}", w.c2, crate::now() + 3600.0))
        .await;
    assert_eq!(page["total"], 0);
    oz_err(&s.get(&w.admin, "/api/audit_log/?time_created.min=yesterday").await, 400, 5);

    // Append-only: no method changes an entry, and the database refuses too.
    let first = id(&last(s, &w.admin).await, "audit_id");
    for m in [reqwest::Method::PUT, reqwest::Method::PATCH, reqwest::Method::DELETE, reqwest::Method::POST] {
        let r = s.req(m.clone(), Some(&w.admin), "/api/audit_log/").json(&json!({})).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405, "{m} /api/audit_log/");
    }
    let r = s.req(reqwest::Method::DELETE, Some(&w.admin), &format!("/api/audit_log/{first}/")).send().await.unwrap();
    assert!(r.status().is_client_error());
    let mut db = Store::connect(&s.db_url()).await.unwrap();
    let mut q = Sql::new("DELETE FROM audit_log WHERE audit_id = ");
    q.bind(first.as_str());
    assert!(db.execute(q).await.is_err(), "the database must refuse to delete an audit entry");
    let mut q = Sql::new("UPDATE audit_log SET action = 'x' WHERE audit_id = ");
    q.bind(first.as_str());
    assert!(db.execute(q).await.is_err(), "the database must refuse to change an audit entry");
    // No password or password hash anywhere in the log.
    let all = db.fetch_all(Sql::new("SELECT changes FROM audit_log"), |r| r.text("changes")).await.unwrap();
    assert!(
        all.iter().all(|c| !c.contains("Secret-pass") && !c.contains("Other-pass") && !c.contains("$argon2")),
        "{all:?}"
    );
}
both_dbs!(audit_log_t, audit_log);

/// Every row and file that could hold `folder`'s personal data, as text.
async fn traces(s: &Server, folder: &str) -> Vec<String> {
    let mut db = Store::connect(&s.db_url()).await.unwrap();
    let mut out = Vec::new();
    let queries: [(&str, &str); 5] = [
        ("SELECT media_id AS v FROM media WHERE folder_id = ", "media row"),
        ("SELECT report_id AS v FROM reports WHERE folder_id = ", "report row"),
        ("SELECT session_id AS v FROM event_sessions WHERE folder_id = ", "event session"),
        ("SELECT meta_data AS v FROM folders WHERE meta_data <> '{}' AND folder_id = ", "folder metadata"),
        ("SELECT results_media AS v FROM analyses WHERE results_media <> '[]' AND folder_id = ", "output images"),
    ];
    for (sql, what) in queries {
        let mut q = Sql::new(sql);
        q.bind(folder);
        for v in db.fetch_all(q, |r| r.text("v")).await.unwrap() {
            out.push(format!("{what}: {v}"));
        }
    }
    for f in s.blob_files() {
        if f.to_string_lossy().contains(folder) {
            out.push(format!("file: {}", f.display()));
        }
    }
    out
}

/// The whole database as text: to search for a name anywhere.
async fn dump(s: &Server) -> String {
    let mut db = Store::connect(&s.db_url()).await.unwrap();
    let mut out = String::new();
    for (table, cols) in [
        ("folders", "meta_data || technical_meta_data"),
        ("media", "COALESCE(original_name, '') || meta_data"),
        ("analyses", "COALESCE(results_data, '') || results_media || meta_data"),
        ("audit_log", "changes"),
        ("event_sessions", "events"),
    ] {
        let q = Sql::new(&format!("SELECT {cols} AS v FROM {table}"));
        for v in db.fetch_all(q, |r| r.text("v")).await.unwrap() {
            out.push_str(&v);
        }
    }
    out
}

async fn passport_folder(s: &Server, who: &Session) -> (Value, String) {
    use vigil_docgen::{Capture, Defect, Layout, Rng, document, photograph};
    let mut rng = Rng::new(7);
    let face = image::load_from_memory(&test_photo("biden.jpg")).expect("photo").to_rgb8();
    let doc = document(&mut rng, Layout::Td3, Defect::None, &face, 12.0).expect("document");
    let cap = Capture::phone(&mut rng);
    let page = photograph(&doc.pages[0], &Capture { blur: cap.blur.min(0.8), ..cap }, &mut rng);
    let payload = json!({
        "media:tags": {"doc": ["photo_id_front"], "selfie": ["photo_selfie"]},
        "folder:meta_data": {"client_iin": "880312400765", "full_name": doc.holder.surname},
        "media:meta_data": {"selfie": {"device": "Pixel of Ann"}}
    });
    let files = vec![file("doc", "doc.jpg", page), file("selfie", "selfie.jpg", test_photo("biden.jpg"))];
    let (st, f) = s.upload(who, "/api/folders/", files, Some(payload)).await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    (f, doc.holder.surname.clone())
}

/// What a personal-data deletion must keep of an analysis: its verdicts and scores.
fn verdict(a: &Value) -> Value {
    let r = &a["results_data"];
    json!([
        a["type"],
        a["resolution_status"],
        a["system_resolution"],
        r["confidence_spoofing"],
        r["mrz"]["confidence"],
        r["mrz"]["valid"]
    ])
}

async fn personal_data_deletion(db: Db, blobs: Blobs) {
    let w = World::with(Server::builder(db).blobs(blobs).start().await).await;
    let s = &w.s;
    let (f, surname) = passport_folder(s, &w.client).await;
    let fid = id(&f, "folder_id");
    let list = crate::collections::analyse(s, &w.client, &f, json!([{"type": "documents"}, {"type": "quality"}])).await;
    let verdicts: Vec<Value> = list.iter().map(verdict).collect();
    assert!(
        list[0]["results_data"].to_string().contains(&surname),
        "the document was read: {}",
        list[0]["results_data"]
    );
    let (st, r) = s.post(&w.client, &format!("/api/folders/{fid}/reports/"), json!({"format": "html"})).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let media = id(&f["media"][0], "media_id");
    assert_eq!(s.get(&w.client, &format!("/api/media/{media}/snapshot/")).await.0, StatusCode::OK);
    let (st, _) = s
        .post(
            &w.client,
            "/api/event_sessions/",
            json!({"session_id": "sdk-1", "folder_id": fid, "events": [{"e": "start"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert!(traces(s, &fid).await.len() >= 5, "{:?}", traces(s, &fid).await);
    assert!(dump(s).await.contains(&surname));

    // Who may: as for deleting the folder.
    oz_err(&s.delete(&w.client, &format!("/api/folders/{fid}/pi/")).await, 403, 9);
    oz_err(&s.delete(&w.other_admin, &format!("/api/folders/{fid}/pi/")).await, 404, 10);
    let (st, body) = s.delete(&w.cadmin, &format!("/api/folders/{fid}/pi/")).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");

    assert_eq!(traces(s, &fid).await, Vec::<String>::new(), "personal data left behind");
    assert!(!dump(s).await.contains(&surname), "the holder's name is still stored");
    assert!(!dump(s).await.contains("880312400765") && !dump(s).await.contains("Pixel of Ann"));
    let (_, folder) = s.get(&w.client, &format!("/api/folders/{fid}/?with_analyses=true")).await;
    assert!(folder["time_pi_deleted"].as_f64().is_some(), "{folder}");
    assert_eq!(folder["media"], json!([]));
    let mut kept: Vec<Value> = folder["analyses"].as_array().unwrap().iter().map(verdict).collect();
    let mut want = verdicts.clone();
    want.sort_by_key(Value::to_string);
    kept.sort_by_key(Value::to_string);
    assert_eq!(kept, want, "verdicts and scores are kept");

    // Afterwards: no media, no analyses, reports say so; the alias repeats it harmlessly.
    let msg = oz_err(
        &s.upload(
            &w.client,
            &format!("/api/folders/{fid}/media/"),
            vec![file("p", "p.jpg", jpeg(32, 32))],
            Some(photo_payload("p")),
        )
        .await,
        400,
        4,
    );
    assert!(msg.contains("personal data"), "{msg}");
    oz_err(
        &s.post(&w.client, &format!("/api/folders/{fid}/analyses/"), json!({"analyses": [{"type": "QUALITY"}]})).await,
        400,
        4,
    );
    let (st, r) = s.post(&w.client, &format!("/api/folders/{fid}/reports/"), json!({"format": "html"})).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let (_, html) = s.fetch(Some(&w.client), &id(&r, "file_url")).await;
    assert!(String::from_utf8_lossy(&html).contains("Personal data deleted"), "the report says the data was deleted");
    let (st, again) = s.post(&w.admin, &format!("/api/folders/{fid}/delete_pi/"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["time_pi_deleted"], folder["time_pi_deleted"], "the first deletion's time is kept");
    let (_, log) = s.get(&w.admin, &format!("/api/folders/{fid}/audit_log/?action=delete_pi")).await;
    assert_eq!(log["total"], 2, "{log}");
}

async fn pi_deletion_fs(db: Db) {
    personal_data_deletion(db, Blobs::Fs).await
}
both_dbs!(pi_deletion_fs_t, pi_deletion_fs);

async fn pi_deletion_s3(db: Db) {
    personal_data_deletion(db, Blobs::S3).await
}
both_dbs!(pi_deletion_s3_t, pi_deletion_s3);

/// A crash after each step of a deletion (the process aborts, as under `kill -9`) leaves the
/// folder marked and refusing media; a retry on the restarted server finishes the deletion.
async fn pi_deletion_crash(db: Db) {
    for point in ["pi_deletion.marked", "pi_deletion.files_removed"] {
        let mut s = Server::builder(db).set("failpoints", point).spawn().await;
        let admin = s.admin().await;
        let (f, surname) = passport_folder(&s, &admin).await;
        let fid = id(&f, "folder_id");
        let r = s.req(reqwest::Method::DELETE, Some(&admin), &format!("/api/folders/{fid}/pi/")).send().await;
        assert!(r.is_err() || r.is_ok_and(|r| r.status().is_server_error()), "the server should have died at {point}");
        s.kill9();
        s.unset("failpoints");
        let s = s.respawn().await;
        let admin = s.admin().await;
        let (_, folder) = s.get(&admin, &format!("/api/folders/{fid}/")).await;
        assert!(folder["time_pi_deleted"].as_f64().is_some(), "marked before the crash at {point}: {folder}");
        oz_err(
            &s.upload(
                &admin,
                &format!("/api/folders/{fid}/media/"),
                vec![file("p", "p.jpg", jpeg(32, 32))],
                Some(photo_payload("p")),
            )
            .await,
            400,
            4,
        );
        assert_eq!(s.delete(&admin, &format!("/api/folders/{fid}/pi/")).await.0, StatusCode::NO_CONTENT);
        assert_eq!(traces(&s, &fid).await, Vec::<String>::new(), "after the retry ({point})");
        assert!(!dump(&s).await.contains(&surname));
        s.stop().await;
    }
}
both_dbs!(pi_deletion_crash_t, pi_deletion_crash);

async fn event_sessions(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let f1 = id(&w.f1, "folder_id");
    let batch = json!({"event_session_id": "sess-A", "folder_id": f1, "events": [{"t": 1, "e": "open"}, {"t": 2, "e": "capture"}]});
    let (st, a) = s.post(&w.client, "/api/event_sessions/", batch.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{a}");
    assert_eq!((a["session_id"].as_str(), a["events"].as_array().map(Vec::len)), (Some("sess-A"), Some(2)));
    // Idempotent: the same batch again changes nothing; a later batch adds only new events.
    let (st, again) = s.post(&w.client, "/api/event_sessions/", batch).await;
    assert_eq!((st, &again["events"]), (StatusCode::OK, &a["events"]));
    assert_eq!(again["time_updated"], a["time_updated"]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, more) = s
        .post(
            &w.client,
            "/api/event_sessions",
            json!({"session_id": "sess-A", "events": [{"t": 2, "e": "capture"}, {"t": 3, "e": "done"}]}),
        )
        .await;
    assert_eq!(more["events"].as_array().map(Vec::len), Some(3), "{more}");
    assert_eq!(more["folder_id"].as_str(), Some(f1.as_str()), "the folder link stays");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (st, b) = s.post(&w.svc, "/api/event_sessions/", json!({"session_id": "sess-B"})).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (st, _) = s.post(&w.other, "/api/event_sessions/", json!({"session_id": "sess-A", "events": [{"x": 1}]})).await;
    assert_eq!(st, StatusCode::CREATED, "another company's session of the same id is its own");

    // Bad input.
    oz_err(&s.post(&w.client, "/api/event_sessions/", json!({"session_id": "has space"})).await, 400, 4);
    oz_err(&s.post(&w.client, "/api/event_sessions/", json!({"events": []})).await, 400, 3);
    oz_err(&s.post(&w.other, "/api/event_sessions/", json!({"session_id": "x", "folder_id": f1})).await, 404, 10);

    // Every 5.2 filter, company-scoped.
    let q = |s: &'static str| s;
    let count = |v: &Value| v["items"].as_array().map(Vec::len).unwrap_or(0);
    let (_, all) = s.get(&w.cadmin, q("/api/event_sessions/")).await;
    assert_eq!((all["total"].as_i64(), count(&all)), (Some(2), 2), "{all}");
    let (_, only) = s.get(&w.cadmin, "/api/event_sessions/?session_id=sess-A").await;
    assert_eq!(crate::ids(&only, "session_id"), ["sess-A"]);
    let (_, ex) = s.get(&w.cadmin, "/api/event_sessions/?session_id.exclude=sess-A&total_omit=true").await;
    assert!(ex.get("total").is_none());
    assert_eq!(crate::ids(&ex, "session_id"), ["sess-B"]);
    let created = a["time_created"].as_f64().unwrap();
    let (_, at) = s.get(&w.cadmin, &format!("/api/event_sessions/?time_created={}", created.floor())).await;
    assert!(crate::ids(&at, "session_id").contains(&"sess-A".to_string()), "{at}");
    let (_, none) = s.get(&w.cadmin, &format!("/api/event_sessions/?time_created.max={}", created - 10.0)).await;
    assert_eq!(none["total"], 0);
    let (_, min) = s.get(&w.cadmin, &format!("/api/event_sessions/?time_created.min={}", created - 10.0)).await;
    assert_eq!(min["total"], 2);
    let updated = more["time_updated"].as_f64().unwrap();
    let (_, u) = s
        .get(
            &w.cadmin,
            &format!("/api/event_sessions/?time_updated.min={}&time_updated.max={}", updated - 0.5, updated + 0.5),
        )
        .await;
    assert_eq!(crate::ids(&u, "session_id"), ["sess-A"], "{u}");
    let (_, u) = s.get(&w.cadmin, &format!("/api/event_sessions/?time_updated={}", updated.floor())).await;
    assert_eq!(crate::ids(&u, "session_id"), ["sess-A"], "{u}");
    let (_, asc) = s.get(&w.cadmin, "/api/event_sessions/?sorting=time_created{asc}").await;
    assert_eq!(crate::ids(&asc, "session_id"), ["sess-A", "sess-B"]);
    let (_, desc) = s.get(&w.cadmin, "/api/event_sessions/?sorting=-time_updated&limit=1&offset=0").await;
    assert_eq!(crate::ids(&desc, "session_id"), ["sess-B"]);
    let (_, second) = s.get(&w.cadmin, "/api/event_sessions/?sorting=-time_updated&limit=1&offset=1").await;
    assert_eq!(crate::ids(&second, "session_id"), ["sess-A"]);
    let (_, theirs) = s.get(&w.other_admin, "/api/event_sessions/").await;
    assert_eq!(theirs["total"], 1, "company-scoped: {theirs}");
    let (_, every) = s.get(&w.admin, "/api/event_sessions/").await;
    assert_eq!(every["total"], 3);
    oz_err(&s.get(&w.cadmin, "/api/event_sessions/?time_updated.min=soon").await, 400, 5);
    oz_err(&s.get(&w.cadmin, "/api/event_sessions/?sorting=name").await, 400, 4);
}
both_dbs!(event_sessions_t, event_sessions);
