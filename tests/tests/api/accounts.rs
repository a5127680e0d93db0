//! Auth and role completeness (#12): the sessions API, password restore through the company's
//! webhook, token lifetimes by role, one's own profile, on both databases.

use crate::{World, id, oz_err};
use reqwest::Method;
use serde_json::json;
use vigil_tests::*;

async fn login_as(s: &Server, email: &str, password: &str, agent: &str) -> Session {
    let r = s
        .req(Method::POST, None, "/api/authorize/auth")
        .header("User-Agent", agent)
        .json(&json!({"credentials": {"email": email, "password": password}}))
        .send()
        .await
        .unwrap();
    let (st, body) = read(r).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    Session { token: body["access_token"].as_str().unwrap().to_string(), body }
}

async fn sessions(db: Db) {
    let w = World::new(db).await;
    let me = w.client.user_id();
    let phone = login_as(&w.s, "u@c1.test", "Passw0rd-x", "OzLiveness/1.0 (iPhone)").await;
    let laptop = login_as(&w.s, "u@c1.test", "Passw0rd-x", "curl/8.5").await;
    w.s.get(&phone, "/api/folders/").await;

    let (st, list) = w.s.get(&laptop, &format!("/api/users/{me}/sessions/")).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "World's log-in, the phone, the laptop: {list}");
    let by_agent =
        |a: &str| items.iter().find(|i| i["user_agent"] == a).cloned().unwrap_or_else(|| panic!("{a}: {list}"));
    let (p, l) = (by_agent("OzLiveness/1.0 (iPhone)"), by_agent("curl/8.5"));
    assert_eq!(p["ip"], "127.0.0.1");
    assert!(p["time_last_used"].as_f64().is_some(), "the phone was used: {p}");
    assert_eq!((p["current"].as_bool(), l["current"].as_bool()), (Some(false), Some(true)));
    assert!(!list.to_string().contains(&phone.token), "tokens are never listed");

    // End the phone's session: its token stops working; others go on.
    let sid = id(&p, "session_id");
    assert_eq!(w.s.delete(&laptop, &format!("/api/users/{me}/sessions/{sid}")).await.0, StatusCode::NO_CONTENT);
    oz_err(&w.s.get(&phone, "/api/folders/").await, 401, 7);
    oz_err(&w.s.delete(&laptop, &format!("/api/users/{me}/sessions/{sid}")).await, 404, 10);

    // Other users' sessions: CLIENT no, CLIENT ADMIN of the company yes, another company's no.
    let other = w.client2.user_id();
    oz_err(&w.s.get(&w.client, &format!("/api/users/{other}/sessions")).await, 404, 10);
    let (st, theirs) = w.s.get(&w.cadmin, &format!("/api/users/{me}/sessions")).await;
    assert_eq!((st, theirs["items"].as_array().unwrap().len()), (StatusCode::OK, 2));
    oz_err(&w.s.get(&w.other_admin, &format!("/api/users/{me}/sessions")).await, 404, 10);
    assert_eq!(w.s.get(&w.admin, &format!("/api/users/{me}/sessions")).await.0, StatusCode::OK);

    // "Log out everywhere else" keeps the calling session; an admin's revoke ends them all.
    assert_eq!(w.s.delete(&laptop, &format!("/api/users/{me}/sessions")).await.0, StatusCode::NO_CONTENT);
    oz_err(&w.s.get(&w.client, "/api/folders/").await, 401, 7);
    assert_eq!(w.s.get(&laptop, "/api/folders/").await.0, StatusCode::OK);
    assert_eq!(w.s.delete(&w.cadmin, &format!("/api/users/{me}/sessions")).await.0, StatusCode::NO_CONTENT);
    oz_err(&w.s.get(&laptop, "/api/folders/").await, 401, 7);
    oz_err(&w.s.get(&w.cadmin, "/api/users/not-a-uuid/sessions").await, 400, 4);

    // Token lifetimes: 15 min for a user, 5 years for ADMIN and service accounts.
    let year = 365.0 * 86_400.0;
    let exp = |s: &Session| s.body["expire_date"].as_f64().unwrap() - crate::now();
    let u = w.s.login("u@c1.test", "Passw0rd-x").await;
    assert!((exp(&u) - 900.0).abs() < 30.0, "{}", exp(&u));
    assert!((exp(&w.admin) - 5.0 * year).abs() < 3600.0, "ADMIN: {}", exp(&w.admin));
    assert!((exp(&w.svc) - 5.0 * year).abs() < 3600.0, "service: {}", exp(&w.svc));
    assert!((exp(&w.operator) - 900.0).abs() < 60.0, "OPERATOR: {}", exp(&w.operator));

    // Changing one's own password ends one's other sessions, not the one in use.
    let second = w.s.login("u@c1.test", "Passw0rd-x").await;
    let (st, b) =
        w.s.post(
            &u,
            &format!("/api/users/{me}/change-password/"),
            json!({"old_password": "Passw0rd-x", "new_password": "Changed-Passw0rd1"}),
        )
        .await;
    assert!(st.is_success(), "{st} {b}");
    oz_err(&w.s.get(&second, "/api/folders/").await, 401, 7);
    assert_eq!(w.s.get(&u, "/api/folders/").await.0, StatusCode::OK);
}
both_dbs!(sessions_t, sessions);

async fn restore(db: Db) {
    let hook = Receiver::start(0).await;
    let w = World::new(db).await;
    let old = w.s.login("u@c1.test", "Passw0rd-x").await;
    let ask = |email: &str| {
        let s = &w.s;
        let body = json!({"email": email});
        async move {
            read(s.req(Method::POST, None, "/api/authorize/auth_restore/").json(&body).send().await.unwrap()).await
        }
    };
    // Without a company webhook nothing is sent, and the answer does not tell.
    let (st, a) = ask("u@c1.test").await;
    assert_eq!((st, a["status"].as_str()), (StatusCode::OK, Some("requested")), "{a}");
    assert_eq!(ask("nobody@c1.test").await, (StatusCode::OK, json!({"status": "requested"})));
    oz_err(
        &read(w.s.req(Method::POST, None, "/api/authorize/auth_restore").json(&json!({})).send().await.unwrap()).await,
        400,
        3,
    );

    let path = format!("/api/companies/{}/webhook", w.c1);
    let body = json!({"url": hook.url, "secret": "company-secret-0123456789"});
    assert_eq!(
        read(w.s.req(Method::PUT, Some(&w.cadmin), &path).json(&body).send().await.unwrap()).await.0,
        StatusCode::OK
    );
    // A minute has not passed since the first request (which made no token): it is sent now.
    let (st, _) = ask("U@C1.test").await;
    assert_eq!(st, StatusCode::OK);
    let mut hit = None;
    for _ in 0..100 {
        if let Some(h) = hook
            .hits()
            .into_iter()
            .find(|h| h.headers.get("x-vigil-event").map(String::as_str) == Some("user.password_restore"))
        {
            hit = Some(h);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let hit = hit.expect("the restore token reached the company's webhook");
    let ts = &hit.headers["x-vigil-timestamp"];
    let signed = format!("{ts}.{}", String::from_utf8_lossy(&hit.body));
    assert_eq!(
        hit.headers["x-vigil-signature"],
        format!("sha256={}", hmac_hex(b"company-secret-0123456789", signed.as_bytes()))
    );
    let msg = hit.json();
    assert_eq!(msg["user"]["email"], "u@c1.test");
    let token = msg["token"].as_str().unwrap().to_string();
    assert!((msg["expire_date"].as_f64().unwrap() - crate::now() - 900.0).abs() < 30.0, "{msg}");
    // Asked again within a minute: nothing new is sent.
    ask("u@c1.test").await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let sent = hook
        .hits()
        .iter()
        .filter(|h| h.headers.get("x-vigil-event").map(String::as_str) == Some("user.password_restore"))
        .count();
    assert_eq!(sent, 1);

    let finish = |token: &str, pw: &str| {
        let s = &w.s;
        let body = json!({"token": token, "new_password": pw});
        async move { read(s.req(Method::POST, None, "/api/authorize/auth_restore").json(&body).send().await.unwrap()).await }
    };
    // A weak password is refused without spending the token; then it works once.
    oz_err(&finish(&token, "short").await, 400, 4);
    let (st, done) = finish(&token, "Restored-Passw0rd").await;
    assert_eq!((st, done["status"].as_str()), (StatusCode::OK, Some("password_changed")), "{done}");
    oz_err(&finish(&token, "Another-Passw0rd1").await, 401, 7);
    oz_err(&finish("made-up-token", "Another-Passw0rd1").await, 401, 7);
    // Every earlier session ended; the new password logs in, the old one does not.
    oz_err(&w.s.get(&old, "/api/folders/").await, 401, 7);
    assert_eq!(w.s.login_raw("u@c1.test", "Passw0rd-x").await.0, StatusCode::UNAUTHORIZED);
    w.s.login("u@c1.test", "Restored-Passw0rd").await;
    // The delivery is recorded for the company (without the token).
    let (_, recs) = w.s.get(&w.cadmin, "/api/webhook_deliveries").await;
    let text = recs.to_string();
    assert!(text.contains("user.password_restore") && !text.contains(&token), "{recs}");
}
both_dbs!(restore_t, restore);

/// CLIENT and CLIENT OPERATOR edit their own names; the object read may be sent back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_profile() {
    let w = World::new(Db::Sqlite).await;
    for who in [&w.client, &w.cop, &w.svc] {
        let path = format!("/api/users/{}", who.user_id());
        let (_, mut me) = w.s.get(who, &path).await;
        me["first_name"] = json!("Ada");
        me["last_name"] = json!("Lovelace");
        let (st, after) = w.s.patch(who, &path, me.clone()).await;
        assert_eq!(st, StatusCode::OK, "{after}");
        assert_eq!((after["first_name"].as_str(), after["last_name"].as_str()), (Some("Ada"), Some("Lovelace")));
        // Read-only fields sent back changed are refused, and nothing is written.
        for (k, v) in [
            ("user_type", json!("ADMIN")),
            ("is_admin", json!(true)),
            ("email", json!("x@c1.test")),
            ("can_start_analyse_quality", json!(false)),
        ] {
            let mut changed = me.clone();
            changed[k] = v;
            changed["first_name"] = json!("Eve");
            oz_err(&w.s.patch(who, &path, changed).await, 403, 9);
        }
        assert_eq!(w.s.get(who, &path).await.1["first_name"], "Ada");
    }
    // Others' profiles stay out of reach.
    let other = format!("/api/users/{}", w.client2.user_id());
    let r = w.s.patch(&w.client, &other, json!({"first_name": "X"})).await;
    assert!(r.0 == StatusCode::NOT_FOUND || r.0 == StatusCode::FORBIDDEN, "{}", r.1);
}

/// Who may make service accounts (five-year tokens), and who reviews folders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts_and_review_rights() {
    let w = World::new(Db::Sqlite).await;
    // A CLIENT ADMIN makes plain service accounts, not operator or admin ones.
    let mk = |email: &str, ty: &str, svc: bool| json!({"email": email, "password": "Passw0rd-x", "user_type": ty, "is_service": svc, "company_id": w.c1});
    let (st, made) = w.s.post(&w.cadmin, "/api/users/", mk("svc2@c1.test", "CLIENT", true)).await;
    assert_eq!((st, made["is_service"].as_bool()), (StatusCode::CREATED, Some(true)), "{made}");
    oz_err(&w.s.post(&w.cadmin, "/api/users/", mk("opsvc@c1.test", "CLIENT_OPERATOR", true)).await, 403, 9);
    oz_err(
        &w.s.patch(&w.cadmin, &format!("/api/users/{}", w.cop.user_id()), json!({"is_service": true})).await,
        403,
        9,
    );
    // ADMIN may; the CLIENT ADMIN can still block that account.
    let (st, opsvc) = w.s.post(&w.admin, "/api/users/", mk("opsvc@c1.test", "CLIENT_OPERATOR", true)).await;
    assert_eq!(st, StatusCode::CREATED, "{opsvc}");
    let path = format!("/api/users/{}", id(&opsvc, "user_id"));
    assert_eq!(w.s.patch(&w.cadmin, &path, json!({"is_active": false})).await.0, StatusCode::OK);

    // Operator status on a folder: reviewers only, never the folder's own CLIENT or service account.
    let (st, f) = w.s.upload(&w.svc, "/api/folders/", vec![file("p", "p.jpg", jpeg(64, 48))], None).await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let fpath = format!("/api/folders/{}", id(&f, "folder_id"));
    oz_err(&w.s.patch(&w.svc, &fpath, json!({"operator_status": "OK"})).await, 403, 9);
    oz_err(
        &w.s.patch(&w.client, &format!("/api/folders/{}", id(&w.f1, "folder_id")), json!({"operator_status": "OK"}))
            .await,
        403,
        9,
    );
    assert_eq!(w.s.patch(&w.cop, &fpath, json!({"operator_status": "OK"})).await.0, StatusCode::OK);
}

/// Every input has a size and a character class; e-mails do not reveal other companies' users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_no_probing() {
    let w = World::new(Db::Sqlite).await;
    let mk = |email: &str, first: &str| json!({"email": email, "password": "Passw0rd-x", "user_type": "CLIENT", "first_name": first, "company_id": w.c1});
    for bad in ["a\u{0}b", "line\nbreak", &"x".repeat(151)] {
        let m = oz_err(&w.s.post(&w.cadmin, "/api/users/", mk("n@c1.test", bad)).await, 400, 4);
        assert!(m.contains("first_name"), "{m}");
    }
    oz_err(&w.s.post(&w.cadmin, "/api/users/", mk("nul\u{0}@c1.test", "A")).await, 400, 4);
    oz_err(&w.s.post(&w.admin, "/api/companies/", json!({"name": "Evil\nCorp"})).await, 400, 4);
    // The same answer for an e-mail of one's own company and of another: no probing.
    let own = oz_err(&w.s.post(&w.cadmin, "/api/users/", mk("u2@c1.test", "A")).await, 409, 4);
    let theirs = oz_err(&w.s.post(&w.cadmin, "/api/users/", mk("u@c2.test", "A")).await, 409, 4);
    assert_eq!(own.replace("u2@c1.test", "E"), theirs.replace("u@c2.test", "E"));
    assert!(!theirs.contains("exists"), "{theirs}");
    let admin = oz_err(&w.s.post(&w.admin, "/api/users/", mk("u@c2.test", "A")).await, 409, 4);
    assert!(admin.contains("already exists"), "{admin}");

    // Metadata documents: bounded, keys printable.
    let f1 = format!("/api/folders/{}/meta_data", id(&w.f1, "folder_id"));
    oz_err(&w.s.post(&w.client, &f1, json!({"k\u{0}": 1})).await, 400, 4);
    oz_err(&w.s.post(&w.client, &f1, json!({"k": "x".repeat(70_000)})).await, 400, 4);
    assert_eq!(w.s.post(&w.client, &f1, json!({"transaction_id": "T-1"})).await.0, StatusCode::OK);
    // Too many filters are refused, not a database error.
    let many: String = (0..100).map(|i| format!("meta_data=k{i}==v&")).collect();
    oz_err(&w.s.get(&w.client, &format!("/api/folders/?{many}")).await, 400, 4);

    // The request limit counts every part, and a request has only a few form fields.
    let mut form = reqwest::multipart::Form::new();
    for _ in 0..9 {
        form = form.text("additional_info", "x");
    }
    let r = read(w.s.req(Method::POST, Some(&w.client), "/api/folders/").multipart(form).send().await.unwrap()).await;
    assert!(oz_err(&r, 400, 3).contains("form fields"), "{}", r.1);
    let s2 = Server::builder(Db::Sqlite).set("max_request_size", "100000").start().await;
    let a = s2.admin().await;
    let form = reqwest::multipart::Form::new()
        .text("additional_info", "x".repeat(60_000))
        .text("payload", format!("{{\"additional_info\": \"{}\"}}", "y".repeat(60_000)));
    let r = read(s2.req(Method::POST, Some(&a), "/api/folders/").multipart(form).send().await.unwrap()).await;
    assert_eq!(r.0, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.1);
    // A file field name with a control character (how it arrives depends on the client's
    // encoding; refused either way), and an overlong file name.
    let form = reqwest::multipart::Form::new()
        .part("p\u{1}x", reqwest::multipart::Part::bytes(jpeg(32, 32)).file_name("p.jpg"));
    let r = read(w.s.req(Method::POST, Some(&w.client), "/api/folders/").multipart(form).send().await.unwrap()).await;
    assert_eq!(r.0, StatusCode::BAD_REQUEST, "{}", r.1);
    let long = format!("{}.jpg", "n".repeat(300));
    let form = reqwest::multipart::Form::new().part("p", reqwest::multipart::Part::bytes(jpeg(32, 32)).file_name(long));
    let r = read(w.s.req(Method::POST, Some(&w.client), "/api/folders/").multipart(form).send().await.unwrap()).await;
    oz_err(&r, 400, 4);
}
