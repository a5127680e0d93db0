//! The operator console over HTTP, as a browser without scripts would use it: cookies, forms,
//! redirects. Sign-in, the session cookie's flags and the page headers, finding a folder by
//! transaction id, the queue, deciding a case (seen through the API with the operator's id),
//! CSRF refusals, another company's reach, and sign-out ending the session.

use crate::{World, id};
use serde_json::json;
use std::collections::BTreeMap;
use vigil_tests::*;

/// A cookie jar and a client that does not follow redirects.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    /// The value of the first hidden `csrf` input.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Browser {
    fn new(s: &Server) -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: s.base.clone(), cookies: BTreeMap::new() }
    }

    fn jar(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn read(&mut self, r: reqwest::Response) -> Page {
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        // The templates escape '/' in values as HTML does not require; a browser reads it back.
        let body = r.text().await.unwrap().replace("&#x2f;", "/");
        Page { status, headers, body }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self.http.get(format!("{}{path}", self.base)).header("cookie", self.jar()).send().await.unwrap();
        self.read(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.jar())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.read(r).await
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.csrf();
        self.post("/console/login", &[("email", email), ("password", password), ("csrf", &csrf)]).await
    }
}

/// Makes every BIOMETRY of C1 wait for an operator: a matching threshold no real pair reaches
/// and a grey zone from 0.
async fn grey_zone(w: &World) {
    let manifest = json!({"kind": "analysis", "name": "biometry", "version": "grey",
                          "config": {"threshold": "0.999", "grey_zone_min": "0"}, "activate": true});
    let (st, p) = w.s.upload_plugin(&w.cadmin, component("biometry"), manifest).await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
}

/// A folder of two photos of one person with a transaction id, and its BIOMETRY analysis once it
/// waits for an operator: (folder id, analysis id).
async fn waiting_case(w: &World, transaction: &str, photos: [&str; 2]) -> (String, String) {
    let s = &w.s;
    let files = vec![file("p1", "a.jpg", test_photo(photos[0])), file("p2", "b.jpg", test_photo(photos[1]))];
    let payload = json!({"media:tags": {"p1": ["photo_selfie"], "p2": ["photo_selfie"]},
                         "folder:meta_data": {"transaction_id": transaction}});
    let (st, f) = s.upload(&w.client, "/api/folders/", files, Some(payload)).await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let fid = id(&f, "folder_id");
    let body = json!({"analyses": [{"type": "biometry"}]});
    let (st, list) = s.post(&w.client, &format!("/api/folders/{fid}/analyses/"), body).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    let aid = id(&list[0], "analyse_id");
    let a = s.wait_analysis(&w.client, &aid, 120).await;
    assert_eq!(a["resolution_status"], "OPERATOR_REQUIRED", "{a}");
    (fid, aid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_a_case_in_the_console() {
    let w = World::new(Db::Sqlite).await;
    let s = &w.s;
    grey_zone(&w).await;
    let (fid, aid) = waiting_case(&w, "TX-4242", ["obama.jpg", "obama2.jpg"]).await;

    // Not signed in: the sign-in page, with the console's headers.
    let mut b = Browser::new(s);
    let r = b.get("/console/").await;
    assert_eq!((r.status, r.location()), (303, "/console/login"));
    let form = b.get("/console/login").await;
    let csp = form.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    assert_eq!(form.headers["x-frame-options"], "DENY");
    // A forged sign-in (no form token) is refused; a wrong password re-asks.
    let r = b.post("/console/login", &[("email", "op@c1.test"), ("password", "Passw0rd-x")]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!b.cookies.contains_key("vigil_console"));
    let r = b.sign_in("op@c1.test", "wrong-password").await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("Sign in") && !b.cookies.contains_key("vigil_console"));
    // Signing in: a cookie the page's scripts cannot read, never sent cross-site, no token in a URL.
    let r = b.post("/console/login", &[]).await;
    assert_eq!(r.status, 403);
    let mut b = Browser::new(s);
    let r = b.sign_in("op@c1.test", "Passw0rd-x").await;
    assert_eq!((r.status, r.location()), (303, "/console/"), "{}", r.body);
    let set = r.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>();
    let session = set.iter().find(|c| c.starts_with("vigil_console=")).unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/console"));
    let token = b.cookies["vigil_console"].clone();
    assert!(!r.location().contains(&token));

    // The folder list finds the folder by its transaction id, and only it.
    let list = b.get("/console/?transaction_id=TX-4242").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&fid) && list.body.contains("OPERATOR_REQUIRED"), "{}", list.body);
    assert!(list.body.contains("1 folder<"), "{}", list.body);
    // By analysis type (the folders without a BIOMETRY drop out).
    let bio = b.get("/console/?type=biometry").await;
    assert!(bio.body.contains(&fid) && !bio.body.contains(&id(&w.f1, "folder_id")), "{}", bio.body);
    assert!(!b.get("/console/?type=QUALITY").await.body.contains(&fid));
    let none = b.get("/console/?transaction_id=TX-0000").await;
    assert!(!none.body.contains(&fid) && none.body.contains("No folder matches"));
    // The queue lists the case; the folder page shows it with its score and a decision form.
    let queue = b.get("/console/queue").await;
    assert!(queue.body.contains(&aid) && queue.body.contains(&fid), "{}", queue.body);
    let page = b.get(&format!("/console/folders/{fid}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("min_confidence") && page.body.contains(&format!("/console/analyses/{aid}/decide")));
    assert!(page.body.contains("TX-4242") && page.body.contains("Least similar pair"), "{}", page.body);
    // Thumbnails come through the console with the session's rights.
    let thumb = page.body.split("src=\"/console/files/").nth(1).map(|r| r[..r.find('"').unwrap()].to_string()).unwrap();
    let img = b.http.get(format!("{}/console/files/{thumb}", b.base)).header("cookie", b.jar()).send().await.unwrap();
    assert_eq!(img.status(), 200);
    assert_eq!(img.headers()["content-type"], "image/jpeg");

    // A decision without the form token changes nothing.
    let r = b.post(&format!("/console/analyses/{aid}/decide"), &[("resolution", "SUCCESS")]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let (_, a) = s.get(&w.client, &format!("/api/analyses/{aid}")).await;
    assert_eq!(a["resolution_status"], "OPERATOR_REQUIRED");
    // Approving from the queue: back to the (now empty) queue; the API shows the decision and who made it.
    let csrf = queue.csrf();
    let r = b
        .post(
            &format!("/console/analyses/{aid}/decide"),
            &[
                ("resolution", "SUCCESS"),
                ("comment", "same person, checked by hand"),
                ("csrf", &csrf),
                ("next", "queue"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, "/console/queue"), "{}", r.body);
    let (_, a) = s.get(&w.client, &format!("/api/analyses/{aid}")).await;
    assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
    assert_eq!(a["operator_comment"], "same person, checked by hand");
    assert_eq!(a["operator_id"].as_str(), Some(w.cop.user_id().as_str()), "{a}");
    let (_, folder) = s.get(&w.client, &format!("/api/folders/{fid}")).await;
    assert_eq!(folder["system_resolution"], "SUCCESS", "{folder}");
    assert!(b.get("/console/queue").await.body.contains("Nothing waits"));
    // Operator status and comment on the folder.
    let r = b
        .post(
            &format!("/console/folders/{fid}/operator"),
            &[("operator_status", "checked"), ("operator_comment", "ok"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (_, folder) = s.get(&w.client, &format!("/api/folders/{fid}")).await;
    assert_eq!(
        (folder["operator_status"].as_str(), folder["operator_comment"].as_str()),
        (Some("checked"), Some("ok"))
    );

    // A CLIENT of another company sees nothing of it, not even by URL.
    let mut other = Browser::new(s);
    assert_eq!(other.sign_in("u@c2.test", "Passw0rd-x").await.status, 303);
    assert!(!other.get("/console/?transaction_id=TX-4242").await.body.contains(&fid));
    assert!(!other.get("/console/queue").await.body.contains(&aid));
    assert_eq!(other.get(&format!("/console/folders/{fid}")).await.status, 404);
    assert_eq!(other.get(&format!("/console/files/{thumb}")).await.status, 404);
    // ... and cannot decide it with its own valid form token.
    let csrf2 = other.get("/console/queue").await.csrf();
    let r =
        other.post(&format!("/console/analyses/{aid}/decide"), &[("resolution", "DECLINED"), ("csrf", &csrf2)]).await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Another session's token is no good either.
    let r = b.post(&format!("/console/analyses/{aid}/decide"), &[("resolution", "DECLINED"), ("csrf", &csrf2)]).await;
    assert_eq!(r.status, 403);

    // Signing out ends the session itself: the token no longer works anywhere.
    let r = b.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!((r.status, r.location()), (303, "/console/login"));
    assert!(!b.cookies.contains_key("vigil_console"));
    let (st, _) = s.get(&crate::with_token(&token), "/api/folders/").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    b.cookies.insert("vigil_console".into(), token);
    assert_eq!(b.get("/console/").await.location(), "/console/login");
}

/// In a real browser (chromium over WebDriver): an operator signs in, finds a folder by its
/// transaction id, opens it, and works through the queue; every decision shows through the API
/// with the operator's id. Signing out ends the session; another company's user cannot reach the
/// folder by URL. With `VIGIL_SCREENSHOTS=1` the folder list and a folder page are saved to
/// `docs/` (the README shows them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    use vigil_tests::browser::{Driver, Locator};
    let w = World::new(Db::Sqlite).await;
    let s = &w.s;
    grey_zone(&w).await;
    let cases = [
        waiting_case(&w, "TX-1001", ["obama.jpg", "obama2.jpg"]).await,
        waiting_case(&w, "TX-1002", ["obama2.jpg", "obama3.jpg"]).await,
    ];
    let driver = Driver::start().await;
    let c = driver.browser(1280, 1000).await;
    let path = |c: &vigil_tests::browser::Client| {
        let c = c.clone();
        async move { c.current_url().await.unwrap().path().to_string() }
    };
    let main_text = |c: &vigil_tests::browser::Client| {
        let c = c.clone();
        async move { c.find(Locator::Css("main")).await.unwrap().text().await.unwrap() }
    };
    let sign_in = |email: &'static str| {
        let (c, base) = (c.clone(), s.base.clone());
        async move {
            c.goto(&format!("{base}/console/")).await.unwrap();
            assert!(c.current_url().await.unwrap().path().ends_with("/console/login"));
            c.find(Locator::Id("email")).await.unwrap().send_keys(email).await.unwrap();
            c.find(Locator::Id("password")).await.unwrap().send_keys("Passw0rd-x").await.unwrap();
            c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while c.current_url().await.unwrap().path() != "/console/" {
                assert!(std::time::Instant::now() < until, "{email} was not signed in");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    sign_in("op@c1.test").await;
    assert_eq!(path(&c).await, "/console/");
    // Find the second case by its transaction id.
    c.find(Locator::Id("transaction_id")).await.unwrap().send_keys("TX-1002").await.unwrap();
    c.find(Locator::Css("form.filters button[type=submit]")).await.unwrap().click().await.unwrap();
    // The click returns before the next page has loaded.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !c.current_url().await.unwrap().as_str().contains("transaction_id=TX-1002") {
        assert!(std::time::Instant::now() < until, "the filter form did not submit");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    c.wait().for_element(Locator::Css("p.muted")).await.unwrap();
    let rows = c.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = rows[0].text().await.unwrap();
    assert!(row.contains(&cases[1].0) && row.contains("TX-1002") && row.contains("OPERATOR_REQUIRED"), "{row}");
    let shots = std::env::var("VIGIL_SCREENSHOTS").is_ok_and(|v| v == "1");
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    if shots {
        c.goto(&format!("{}/console/", s.base)).await.unwrap();
        std::fs::write(docs.join("console-folders.png"), c.screenshot().await.unwrap()).unwrap();
        c.back().await.unwrap();
    }
    // Open it: its media and its analysis with the score, waiting for a decision.
    c.find(Locator::LinkText(&cases[1].0)).await.unwrap().click().await.unwrap();
    assert_eq!(path(&c).await, format!("/console/folders/{}", cases[1].0));
    let text = main_text(&c).await;
    assert!(text.contains("BIOMETRY") && text.contains("min_confidence") && text.contains("TX-1002"), "{text}");
    assert_eq!(c.find_all(Locator::Css("ul.media img")).await.unwrap().len(), 2, "two thumbnails");
    if shots {
        std::fs::write(docs.join("console-folder.png"), c.screenshot().await.unwrap()).unwrap();
    }
    // Work through the queue, oldest first: approve the first, decline the second.
    for (n, (fid, aid)) in cases.iter().enumerate() {
        c.goto(&format!("{}/console/queue", s.base)).await.unwrap();
        let first = c.find(Locator::Css("section.analysis")).await.unwrap();
        assert!(first.text().await.unwrap().contains(fid.as_str()), "oldest first");
        first.find(Locator::Css("input[name=comment]")).await.unwrap().send_keys(&format!("case {n}")).await.unwrap();
        let verdict = if n == 0 { "SUCCESS" } else { "DECLINED" };
        first.find(Locator::Css(&format!("button[value={verdict}]"))).await.unwrap().click().await.unwrap();
        // The click returns before the form's answer: wait for the decision to land.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let a = loop {
            let (_, a) = s.get(&w.client, &format!("/api/analyses/{aid}")).await;
            if a["resolution_status"] != "OPERATOR_REQUIRED" || std::time::Instant::now() > until {
                break a;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(a["resolution_status"], verdict, "{a}");
        c.wait().for_element(Locator::Css("main h1")).await.unwrap();
        assert_eq!(path(&c).await, "/console/queue");
        assert_eq!(a["operator_id"].as_str(), Some(w.cop.user_id().as_str()));
        assert_eq!(a["operator_comment"], format!("case {n}"));
        let (_, f) = s.get(&w.client, &format!("/api/folders/{fid}")).await;
        assert_eq!(f["system_resolution"], verdict, "{f}");
    }
    assert!(main_text(&c).await.contains("Nothing waits"));
    // Sign out: the folder's URL leads to the sign-in page.
    c.find(Locator::Css("form.signout button")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("password")).await.unwrap();
    assert!(path(&c).await.ends_with("/console/login"));
    c.goto(&format!("{}/console/folders/{}", s.base, cases[0].0)).await.unwrap();
    assert!(path(&c).await.ends_with("/console/login"), "signed out");
    // Another company's client: the folder does not exist for it, and its list is empty.
    sign_in("u@c2.test").await;
    c.goto(&format!("{}/console/folders/{}", s.base, cases[0].0)).await.unwrap();
    let text = main_text(&c).await;
    assert!(text.contains("does not exist"), "{text}");
    c.goto(&format!("{}/console/", s.base)).await.unwrap();
    let text = main_text(&c).await;
    assert!(!text.contains(&cases[0].0) && text.contains(&id(&w.g, "folder_id")), "only its own folder: {text}");
    c.close().await.unwrap();
}

/// CLIENT ADMIN's pages: users (create, block, a new password) and plugins (upload, roll back),
/// limited to its company; a folder report made and downloaded; ADMIN's companies and jobs. The
/// same policy as the API decides, so other roles get its refusals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_admin_manages_users_plugins_and_reports() {
    let w = World::new(Db::Sqlite).await;
    let s = &w.s;
    let mut b = Browser::new(s);
    assert_eq!(b.sign_in("admin@c1.test", "Passw0rd-x").await.status, 303);
    let users = b.get("/console/users").await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains("u2@c1.test") && !users.body.contains("u@c2.test"), "only its company");
    let csrf = users.csrf();
    // A new user of the company, made through the form.
    let r = b
        .post(
            "/console/users",
            &[
                ("email", "new@c1.test"),
                ("password", "Fresh-Passw0rd"),
                ("user_type", "CLIENT_OPERATOR"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let fresh = s.login("new@c1.test", "Fresh-Passw0rd").await;
    let (_, me) = s.get(&w.cadmin, &format!("/api/users/{}", fresh.user_id())).await;
    assert_eq!((me["user_type"].as_str(), me["company_id"].as_str()), (Some("CLIENT_OPERATOR"), Some(w.c1.as_str())));
    // Block a user, set a new password, unblock: the API follows each step.
    let u2 = w.client2.user_id();
    let r = b.post(&format!("/console/users/{u2}/active"), &[("active", "false"), ("csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (st, _) = s.get(&w.client2, "/api/folders/").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "a blocked user's session ends");
    let r =
        b.post(&format!("/console/users/{u2}/password"), &[("new_password", "Another-Pass-9"), ("csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    b.post(&format!("/console/users/{u2}/active"), &[("active", "true"), ("csrf", &csrf)]).await;
    let again = s.login("u2@c1.test", "Another-Pass-9").await;
    assert_eq!(s.get(&again, "/api/folders/").await.0, StatusCode::OK);
    // Another company's user is out of reach.
    let other = id(&s.get(&w.other_admin, "/api/users/").await.1["items"][0], "user_id");
    let r = b.post(&format!("/console/users/{other}/active"), &[("active", "false"), ("csrf", &csrf)]).await;
    assert_eq!(r.status, 404, "{}", r.body);

    // Plugins: upload two versions through the form, then roll back to the first.
    for v in ["1", "2"] {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("kind", "analysis")
            .text("name", "answer")
            .text("version", v)
            .text("activate", "true")
            .part("file", reqwest::multipart::Part::bytes(component("answer")).file_name("answer.wasm"));
        let r = b
            .http
            .post(format!("{}/console/plugins/upload", b.base))
            .header("cookie", b.jar())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    }
    let (_, list) = s.get(&w.cadmin, "/api/plugins/").await;
    let answer = |v: &str| {
        list["items"].as_array().unwrap().iter().find(|p| p["name"] == "answer" && p["version"] == v).cloned()
    };
    let (v1, v2) = (answer("1").unwrap(), answer("2").unwrap());
    assert_eq!((v1["active"].as_bool(), v2["active"].as_bool()), (Some(false), Some(true)));
    let page = b.get("/console/plugins").await;
    assert!(page.body.contains(&format!("/console/plugins/{}/activate", id(&v1, "plugin_id"))), "{}", page.body);
    let r = b.post(&format!("/console/plugins/{}/activate", id(&v1, "plugin_id")), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (_, p1) = s.get(&w.cadmin, &format!("/api/plugins/{}", id(&v1, "plugin_id"))).await;
    assert_eq!(p1["active"], true, "rolled back");

    // A report of a folder: made from its page, listed there, downloaded as a PDF.
    let fid = id(&w.f1, "folder_id");
    let r = b.post(&format!("/console/folders/{fid}/reports"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get(&format!("/console/folders/{fid}")).await;
    let link = page.body.split(&format!("href=\"/console/folders/{fid}/reports/")).nth(1).expect("a report link");
    let rid = &link[..link.find('"').unwrap()];
    let pdf = b
        .http
        .get(format!("{}/console/folders/{fid}/reports/{rid}", b.base))
        .header("cookie", b.jar())
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert!(pdf.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));

    // Roles, as in the API: an operator reads the company's users but changes none; companies
    // and jobs are ADMIN's.
    let mut op = Browser::new(s);
    op.sign_in("op@c1.test", "Passw0rd-x").await;
    let page = op.get("/console/users").await;
    assert!(page.status == 200 && page.body.contains("u2@c1.test") && !page.body.contains("Block"), "{}", page.body);
    let r = op.post(&format!("/console/users/{u2}/active"), &[("active", "false"), ("csrf", &page.csrf())]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(b.get("/console/admin").await.status, 403);
    let mut admin = Browser::new(s);
    assert_eq!(admin.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, 303);
    let page = admin.get("/console/admin").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("C1") && page.body.contains("C2") && page.body.contains("Queued"), "{}", page.body);
}
