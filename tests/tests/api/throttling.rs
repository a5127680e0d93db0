//! Throttling (`OZ_THROTTLING_RATES`) over HTTP: log-in attempts per address and per e-mail,
//! calls without a valid token per address, calls per token; 429 with `Retry-After`; an attacker
//! being throttled does not hold back a legitimate user. Client addresses are told apart by
//! `X-Forwarded-For`, which the server honours from a loopback peer (its reverse proxy).

use crate::oz_err;
use serde_json::{Value, json};
use vigil_tests::*;

async fn login_from(s: &Server, ip: &str, email: &str, password: &str) -> (StatusCode, Value, Option<String>) {
    let r = s
        .req(reqwest::Method::POST, None, "/api/authorize/auth")
        .header("x-forwarded-for", ip)
        .json(&json!({"credentials": {"email": email, "password": password}}))
        .send()
        .await
        .unwrap();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (st, body) = read(r).await;
    (st, body, retry)
}

async fn get_from(s: &Server, ip: &str, token: Option<&str>, path: &str) -> (StatusCode, Value, Option<String>) {
    let mut r = s.req(reqwest::Method::GET, None, path).header("x-forwarded-for", ip);
    if let Some(t) = token {
        r = r.header("X-Forensic-Access-Token", t);
    }
    let r = r.send().await.unwrap();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (st, body) = read(r).await;
    (st, body, retry)
}

fn throttled(r: &(StatusCode, Value, Option<String>), scope: &str) {
    oz_err(&(r.0, r.1.clone()), 429, 4);
    assert_eq!(r.1["details"]["scope"], scope, "{}", r.1);
    let secs: u64 = r.2.as_deref().and_then(|v| v.parse().ok()).expect("Retry-After header");
    assert!(secs >= 1 && Some(secs) == r.1["details"]["retry_after"].as_u64(), "{secs} vs {}", r.1);
}

async fn throttling(db: Db) {
    // Slow refills, so that a loaded machine's slowness does not change what the test sees.
    let rates = json!({"auth": "5/min", "rest_unauthorized": "10/min", "rps_with_token": "20/min"}).to_string();
    let s = Server::builder(db).set("throttling_rates", &rates).start().await;
    let admin = s.admin().await;
    let company = s.company(&admin, "C").await;
    s.user(&admin, "victim@c.test", "CLIENT", Some(&company)).await;
    let user = s.user(&admin, "legit@c.test", "CLIENT", Some(&company)).await;

    // Log-in attempts: five per minute from one address, then 429 with Retry-After.
    let attacker = "203.0.113.66";
    for i in 0..5 {
        let r = login_from(&s, attacker, &format!("guess{i}@c.test"), "wrong").await;
        assert_eq!(r.0, StatusCode::UNAUTHORIZED, "attempt {i}: {}", r.1);
    }
    throttled(&login_from(&s, attacker, "legit@c.test", "Passw0rd-x").await, "auth");
    // The console's sign-in counts against the same budget: the form from that address gets 429.
    let form = s.http.get(s.url("/console/login")).header("x-forwarded-for", attacker).send().await.unwrap();
    let cookie = form.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = cookie.split_once('=').unwrap().1.to_string();
    let r = s
        .http
        .post(s.url("/console/login"))
        .header("x-forwarded-for", attacker)
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email=legit%40c.test&password=Passw0rd-x&csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "{}", r.text().await.unwrap());
    // Per e-mail as well: the victim's account is guarded whatever address guesses (its own
    // sign-in when it was created was the first of five).
    for i in 0..4 {
        let r = login_from(&s, &format!("198.51.100.{i}"), "victim@c.test", "wrong").await;
        assert_eq!(r.0, StatusCode::UNAUTHORIZED, "{}", r.1);
    }
    throttled(&login_from(&s, "198.51.100.99", "victim@c.test", "Passw0rd-x").await, "auth");
    // The legitimate user, from its own address, signs in.
    let (st, body, _) = login_from(&s, "192.0.2.10", "legit@c.test", "Passw0rd-x").await;
    assert_eq!(st, StatusCode::OK, "{body}");

    // Calls without a valid token: ten per minute per address; invalid tokens count too.
    for i in 0..10 {
        let token = (i % 2 == 0).then_some("not-a-token");
        let r = get_from(&s, attacker, token, "/api/folders/").await;
        assert_eq!(r.0, StatusCode::UNAUTHORIZED, "{}", r.1);
    }
    throttled(&get_from(&s, attacker, None, "/api/folders/").await, "rest_unauthorized");
    throttled(&get_from(&s, attacker, Some("another-guess"), "/api/folders/").await, "rest_unauthorized");
    // A valid token from the same address (a shared NAT) is not held back, nor is the health check.
    assert_eq!(get_from(&s, attacker, Some(&user.token), "/api/folders/").await.0, StatusCode::OK);
    assert_eq!(get_from(&s, attacker, None, "/api/healthcheck").await.0, StatusCode::OK);

    // An attacker hammering meanwhile does not slow the legitimate user: every call of the
    // user's answers, none throttled.
    let flood = {
        let s2 = s.url("/api/folders/");
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut refused = 0;
            for _ in 0..200 {
                let r = http.get(&s2).header("x-forwarded-for", "203.0.113.66").send().await.unwrap();
                refused += usize::from(r.status() == StatusCode::TOO_MANY_REQUESTS);
            }
            refused
        })
    };
    for _ in 0..15 {
        let r = get_from(&s, "192.0.2.10", Some(&user.token), "/api/folders/").await;
        assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    }
    assert!(flood.await.unwrap() >= 195, "the flood is refused (one call per 6 s comes back)");

    // Per token: a burst of 20, then one call every 3 s; another session counts on its own.
    let (st, fresh, _) = login_from(&s, "192.0.2.11", "legit@c.test", "Passw0rd-x").await;
    assert_eq!(st, StatusCode::OK, "{fresh}");
    let token = fresh["access_token"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let mut codes = Vec::new();
    for _ in 0..30 {
        codes.push(get_from(&s, "192.0.2.11", Some(&token), "/api/folders/").await.0.as_u16());
    }
    let ok = codes.iter().filter(|c| **c == 200).count();
    let refilled = (started.elapsed().as_secs_f64() / 3.0).ceil() as usize;
    assert!(ok >= 20 && ok <= 20 + refilled && codes.contains(&429), "{codes:?}");
    assert_eq!(&codes[..20], &[200; 20], "the burst is served whole");
    let r = get_from(&s, "192.0.2.11", Some(&token), "/api/folders/").await;
    if r.0 == StatusCode::TOO_MANY_REQUESTS {
        throttled(&r, "rps_with_token");
    }
    assert_eq!(s.get(&admin, "/api/folders/").await.0, StatusCode::OK, "another session is not held back");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(get_from(&s, "192.0.2.11", Some(&token), "/api/folders/").await.0, StatusCode::OK, "a call came back");
}
both_dbs!(throttling_t, throttling);

/// Off by default: nothing is throttled, and a bad setting stops the server at start.
async fn throttling_off(db: Db) {
    let s = Server::start(db).await;
    for _ in 0..30 {
        assert_eq!(login_from(&s, "203.0.113.1", "nobody@c.test", "x").await.0, StatusCode::UNAUTHORIZED);
    }
    let bad = vigil::config::Settings::load(
        None,
        |k| (k == "OZ_THROTTLING_RATES").then(|| r#"{"anon": "5/min"}"#.to_string()),
        &Default::default(),
    );
    assert!(bad.is_err_and(|e| e.to_string().contains("unknown throttling scope")));
    let good = vigil::config::Settings::load(
        None,
        |k| (k == "OZ_THROTTLING_RATES").then(|| r#"{"auth": "5/min"}"#.to_string()),
        &Default::default(),
    );
    assert_eq!(good.unwrap().core.throttling.len(), 1);
}
both_dbs!(throttling_off_t, throttling_off);
