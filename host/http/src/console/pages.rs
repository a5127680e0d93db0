//! The console's pages: thin handlers that call the same use-cases as the API and hand their
//! results to a template.

use super::{ConsoleUser, LOGIN_CSRF, SESSION, cookie, error_page, page, same, set_cookie, user_view};
use crate::extract::Client;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use vigil_core::App;
use vigil_core::analyses::Decision;
use vigil_core::audit::Subject;
use vigil_core::folders::{Embed, FolderPatch};
use vigil_domain::analysis::AnalysisFilter;
use vigil_domain::audit::AuditFilter;
use vigil_domain::filter::FolderFilter;
use vigil_domain::policy::Visitor;
use vigil_domain::{Code, Error};

const PAGE_SIZE: i64 = 25;

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    // Without randomness there is no safe form token: the sign-in page then refuses itself.
    if getrandom::fill(&mut b).is_err() {
        return String::new();
    }
    hex::encode(b)
}

/// `2026-12-01 09:30 UTC` from UNIX seconds.
pub(super) fn when(secs: Option<f64>) -> String {
    let Some(t) = secs.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s as i64).ok()) else {
        return String::new();
    };
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// UNIX seconds of a `YYYY-MM-DD` date's midnight (UTC), plus `days`.
fn date_secs(s: &str, days: i64) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    let date = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() + days * 86_400)
}

/// A stored file's link as the console serves it (the API's `/static/` links need a token).
fn console_url(url: Option<&str>) -> Option<String> {
    let url = url?;
    url.find("/static/").map(|i| format!("/console/files/{}", &url[i + "/static/".len()..]))
}

pub(super) async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("templates/console.css"),
    )
        .into_response()
}

pub(super) async fn login_form(State(app): State<App>, headers: HeaderMap) -> Response {
    let csrf = cookie(&headers, LOGIN_CSRF).unwrap_or_else(random_hex);
    let mut r = page(StatusCode::OK, "login.html", json!({ "csrf": csrf }));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(&app, LOGIN_CSRF, &csrf, None));
    r
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// Signs in with the same accounts (and directory) as the API, under the same throttle.
pub(super) async fn login(
    State(app): State<App>,
    Client(c): Client,
    axum::Extension(throttling): axum::Extension<crate::Throttling>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF).unwrap_or_default();
    if expected.is_empty() || !same(&expected, &f.csrf) {
        let e = Error::new(Code::AuthForbidden, "the sign-in form expired; load the page again");
        return error_page(&e, None);
    }
    if let Some(t) = throttling.0 {
        use vigil_domain::throttle::Scope;
        let ip = format!("ip:{}", c.ip.as_deref().unwrap_or("unknown"));
        let email = format!("email:{}", f.email.trim().to_lowercase());
        if let Err(e) = t.check(Scope::Auth, &ip).and_then(|_| t.check(Scope::Auth, &email)) {
            return error_page(&e, None);
        }
    }
    match app.login(&f.email, &f.password, &c).await {
        Ok(pair) => {
            let mut r = see_other("/console/");
            r.headers_mut().append(header::SET_COOKIE, set_cookie(&app, SESSION, &pair.access_token, None));
            r.headers_mut().append(header::SET_COOKIE, set_cookie(&app, LOGIN_CSRF, "", Some(0)));
            r
        }
        Err(e) if e.code.http_status() == 401 || e.code.http_status() == 403 => page(
            StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::UNAUTHORIZED),
            "login.html",
            json!({ "csrf": expected, "email": f.email, "error": e.message }),
        ),
        Err(e) => error_page(&e, None),
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: Option<String>,
}

/// Ends the session itself, not only the cookie.
pub(super) async fn logout(State(app): State<App>, u: ConsoleUser, Form(f): Form<CsrfForm>) -> Response {
    if let Err(e) = u.check_csrf(f.csrf.as_deref()) {
        return error_page(&e, Some(&u.p));
    }
    if let Some(session) = u.p.session_id
        && let Err(e) = app.revoke_session(&u.p, u.p.user_id, session).await
    {
        return error_page(&e, Some(&u.p));
    }
    let mut r = see_other("/console/login");
    r.headers_mut().append(header::SET_COOKIE, set_cookie(&app, SESSION, "", Some(0)));
    r
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    transaction_id: String,
    /// An analysis type the folder has.
    #[serde(default, rename = "type")]
    analysis_type: String,
    #[serde(default)]
    page: i64,
}

/// The folder list with the filters operators use, newest first, 25 a page.
pub(super) async fn folders(State(app): State<App>, u: ConsoleUser, Query(q): Query<ListQuery>) -> Response {
    let mut pairs: Vec<(String, String)> = vec![
        ("with_analyses".into(), "true".into()),
        ("sorting".into(), "-time_created".into()),
        ("limit".into(), PAGE_SIZE.to_string()),
        ("offset".into(), (q.page.max(0) * PAGE_SIZE).to_string()),
    ];
    if !q.status.trim().is_empty() {
        pairs.push(("resolution_status".into(), q.status.trim().to_string()));
    }
    for (v, key, days) in [(&q.from, "time_created.min", 0), (&q.to, "time_created.max", 1)] {
        if v.trim().is_empty() {
            continue;
        }
        match date_secs(v, days) {
            Some(t) => pairs.push((key.into(), t.to_string())),
            None => return error_page(&Error::value(format!("'{v}' is not a date (YYYY-MM-DD)")), Some(&u.p)),
        }
    }
    if !q.transaction_id.trim().is_empty() {
        pairs.push(("meta_data".into(), format!("transaction_id=={}", q.transaction_id.trim())));
    }
    if !q.analysis_type.trim().is_empty() {
        pairs.push(("with_results_media_filter".into(), "true".into()));
        pairs.push(("analyse.type".into(), q.analysis_type.trim().to_string()));
    }
    let listed = match FolderFilter::parse(&pairs) {
        Ok(f) => app.list_folders(&u.p, &f).await,
        Err(e) => Err(e),
    };
    let list = match listed {
        Ok(l) => l,
        Err(e) => return error_page(&e, Some(&u.p)),
    };
    let rows: Vec<Value> = list
        .items
        .iter()
        .map(|f| {
            let analyses: Vec<Value> = f
                .analyses
                .iter()
                .flatten()
                .map(|a| json!({"type": a["type"], "verdict": a["resolution_status"]}))
                .collect();
            json!({
                "id": f.folder_id,
                "created": when(Some(f.time_created)),
                "transaction_id": f.meta_data.get("transaction_id").and_then(Value::as_str),
                "stage": f.resolution_status,
                "verdict": f.system_resolution,
                "operator_status": f.operator_status,
                "analyses": analyses,
            })
        })
        .collect();
    let total = list.total.unwrap_or(rows.len() as i64);
    let next = (q.page.max(0) + 1) * PAGE_SIZE < total;
    page(
        StatusCode::OK,
        "folders.html",
        json!({
            "user": user_view(&u.p), "csrf": u.csrf(), "folders": rows, "total": total,
            "q": {"status": q.status, "from": q.from, "to": q.to, "transaction_id": q.transaction_id,
                  "type": q.analysis_type},
            "page": q.page.max(0), "prev": q.page > 0, "next": next,
        }),
    )
}

/// What the page shows of an analysis: verdict, headline score, reasons, best shots, document
/// fields, and whether this user may decide it.
fn analysis_view(a: &Value, decides: bool, thumbs: &std::collections::HashMap<String, String>) -> Value {
    let r = &a["results_data"];
    let score = ["confidence_spoofing", "min_confidence", "score"]
        .iter()
        .find_map(|k| r.get(*k).and_then(Value::as_f64).map(|v| json!({"name": k, "value": format!("{v:.3}")})));
    let mut reasons: Vec<String> = Vec::new();
    let mut shots: Vec<String> = Vec::new();
    for m in a["results_media"].as_array().into_iter().flatten() {
        let l = &m["results_data"]["liveness"];
        reasons.extend(l["reasons"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string));
        for o in m["output_images"].as_array().into_iter().flatten() {
            shots.extend(console_url(o["original_url"].as_str()));
        }
    }
    let fields: Vec<Value> = r["text_fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| json!({"name": t["field_name"], "visual": t["visual"], "mrz": t["mrz"]}))
        .collect();
    // BIOMETRY's least similar pair, side by side, when the page has their thumbnails.
    let worst_pair: Vec<&String> =
        r["worst_pair"].as_array().into_iter().flatten().filter_map(|m| thumbs.get(m.as_str()?)).collect();
    let finished = a["state"] == "FINISHED";
    json!({
        "id": a["analyse_id"],
        "type": a["type"],
        "state": a["state"],
        "verdict": a["resolution_status"],
        "system_verdict": a["system_resolution"],
        "score": score,
        "reasons": reasons,
        "shots": shots,
        "fields": fields,
        "worst_pair": worst_pair,
        "error": a["error"]["error_message"],
        "operator_id": a["operator_id"],
        "operator_comment": a["operator_comment"],
        "needs_decision": finished && a["resolution_status"] == "OPERATOR_REQUIRED",
        "decidable": finished && decides,
        "created": when(a["time_created"].as_f64()),
    })
}

pub(super) async fn folder(State(app): State<App>, u: ConsoleUser, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return error_page(&Error::not_found("folder"), Some(&u.p));
    };
    let f = match app.get_folder(&u.p, id, Embed { analyses: true, user: false, company: false }).await {
        Ok(f) => f,
        Err(e) => return error_page(&e, Some(&u.p)),
    };
    let decides = super::decides(&u.p);
    let media: Vec<Value> = f
        .media
        .iter()
        .map(|m| {
            json!({
                "id": m.media_id,
                "type": m.media_type,
                "tags": m.tags,
                "video": m.media_type == "VIDEO_FOLDER",
                "thumb": console_url(m.thumb_url.as_deref()),
                "original": console_url(Some(&m.original_url)),
                "video_url": console_url(m.video_url.as_deref()),
            })
        })
        .collect();
    let thumbs: std::collections::HashMap<String, String> =
        f.media.iter().filter_map(|m| Some((m.media_id.to_string(), console_url(m.thumb_url.as_deref())?))).collect();
    let analyses: Vec<Value> = f.analyses.iter().flatten().map(|a| analysis_view(a, decides, &thumbs)).collect();
    // The audit trail shows only where the role may read the log.
    let audit: Option<Vec<Value>> = app.audit_of(&u.p, Subject::Folder(id), AuditFilter::default()).await.ok().map(|l| {
        l.items
            .iter()
            .map(|e| {
                json!({"when": when(Some(e.time_created)), "action": e.action, "object": e.object_type,
                       "user": e.user_id, "fields": e.changes.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>())})
            })
            .collect()
    });
    let meta: Vec<Value> = f
        .meta_data
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| json!({"key": k, "value": v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())}))
        .collect();
    let reports = super::manage::reports_of(&app, &u.p, id).await;
    page(
        StatusCode::OK,
        "folder.html",
        json!({
            "user": user_view(&u.p), "csrf": u.csrf(), "reports": reports,
            "folder": {"id": f.folder_id, "created": when(Some(f.time_created)), "stage": f.resolution_status,
                       "verdict": f.system_resolution, "operator_status": f.operator_status,
                       "operator_comment": f.operator_comment, "meta": meta,
                       "pi_deleted": f.time_pi_deleted.is_some()},
            "media": media, "analyses": analyses, "audit": audit,
        }),
    )
}

#[derive(Deserialize)]
pub(super) struct DecideForm {
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    csrf: Option<String>,
    /// `queue`: back to the queue for the next case.
    #[serde(default)]
    next: String,
}

pub(super) async fn decide(
    State(app): State<App>,
    u: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<DecideForm>,
) -> Response {
    let id = match u.action(f.csrf.as_deref(), "analysis", &id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let comment = Some(f.comment.trim().to_string()).filter(|c| !c.is_empty());
    match app.decide_analysis(&u.p, id, Decision { resolution: f.resolution, comment }).await {
        Ok(_) if f.next == "queue" => see_other("/console/queue"),
        Ok(a) => see_other(&format!("/console/folders/{}", a.folder_id)),
        Err(e) => error_page(&e, Some(&u.p)),
    }
}

#[derive(Deserialize)]
pub(super) struct OperatorForm {
    #[serde(default)]
    operator_status: String,
    #[serde(default)]
    operator_comment: String,
    #[serde(default)]
    csrf: Option<String>,
}

pub(super) async fn operator_fields(
    State(app): State<App>,
    u: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<OperatorForm>,
) -> Response {
    let id = match u.action(f.csrf.as_deref(), "folder", &id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let patch = FolderPatch {
        meta_data: None,
        user_id: None,
        operator_status: Some(f.operator_status.trim().to_string()),
        operator_comment: Some(f.operator_comment.trim().to_string()),
    };
    match app.patch_folder(&u.p, id, patch).await {
        Ok(_) => see_other(&format!("/console/folders/{id}")),
        Err(e) => error_page(&e, Some(&u.p)),
    }
}

/// Cases waiting for an operator, oldest first.
pub(super) async fn queue(State(app): State<App>, u: ConsoleUser) -> Response {
    let pairs: Vec<(String, String)> =
        [("resolution_status", "OPERATOR_REQUIRED"), ("sorting", "time_created{asc}"), ("limit", "100")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let listed = match AnalysisFilter::parse(&pairs) {
        Ok(f) => app.list_analyses(&u.p, None, f).await,
        Err(e) => Err(e),
    };
    let list = match listed {
        Ok(l) => l,
        Err(e) => return error_page(&e, Some(&u.p)),
    };
    let decides = super::decides(&u.p);
    let items: Vec<Value> = list
        .items
        .iter()
        .filter_map(|a| serde_json::to_value(a).ok())
        .map(|a| {
            let mut v = analysis_view(&a, decides, &Default::default());
            v["folder_id"] = a["folder_id"].clone();
            v
        })
        .collect();
    page(
        StatusCode::OK,
        "queue.html",
        json!({ "user": user_view(&u.p), "csrf": u.csrf(), "items": items, "total": list.total }),
    )
}

/// A folder's stored file for the console's pages, under the same rights as the API's links.
pub(super) async fn file(
    State(app): State<App>,
    u: ConsoleUser,
    Path((folder, file)): Path<(String, String)>,
) -> Response {
    let Ok(folder) = Uuid::parse_str(&folder) else {
        return error_page(&Error::not_found("file"), Some(&u.p));
    };
    match app.media_file(Visitor::User(&u.p), folder, &file).await {
        Ok(body) => crate::routes::files::streamed(body, &file, "private, max-age=3600"),
        Err(e) => error_page(&e, Some(&u.p)),
    }
}
