//! The console's management pages: users and plugins (CLIENT ADMIN for its company, ADMIN for
//! all), companies and the job queue (ADMIN), and folder reports. Each calls the API's use-case,
//! whose policy decides; a refusal is an error page.

use super::{ConsoleUser, error_page, page, user_view};
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use vigil_core::App;
use vigil_core::users::{NewUser, PasswordChange, UserPatch, UserQuery};
use vigil_domain::filter::{MAX_LIMIT, Paging};
use vigil_domain::policy::Caller;
use vigil_domain::{Error, Principal};

fn back(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn parse_id(what: &str, s: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(s).map_err(|_| Error::not_found(what))
}

/// A use-case's answer, or its error as a page.
fn or_page<T>(u: &ConsoleUser, r: Result<T, Error>, ok: impl FnOnce(T) -> Response) -> Response {
    match r {
        Ok(v) => ok(v),
        Err(e) => error_page(&e, Some(&u.p)),
    }
}

fn all() -> Paging {
    Paging { offset: 0, limit: MAX_LIMIT, total_omit: false }
}

pub(super) async fn users(State(app): State<App>, u: ConsoleUser) -> Response {
    let q = UserQuery { paging: all(), ..Default::default() };
    let listed = app.list_users(&u.p, &q).await;
    or_page(&u, listed, |list| {
        let rows: Vec<Value> = list
            .items
            .iter()
            .map(|x| {
                let role = vigil_domain::Role::derive(&x.user_type, x.is_admin, x.is_service);
                json!({"id": x.user_id, "email": x.email, "role": role.as_str(),
                       "active": x.is_active, "company": x.company_id})
            })
            .collect();
        page(StatusCode::OK, "users.html", json!({"user": user_view(&u.p), "csrf": u.csrf(), "users": rows}))
    })
}

#[derive(Deserialize)]
pub(super) struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    user_type: String,
    #[serde(default)]
    csrf: Option<String>,
}

pub(super) async fn create_user(State(app): State<App>, u: ConsoleUser, Form(f): Form<NewUserForm>) -> Response {
    if let Err(e) = u.check_csrf(f.csrf.as_deref()) {
        return error_page(&e, Some(&u.p));
    }
    let n: Result<NewUser, Error> = serde_json::from_value(json!({
        "email": f.email, "password": f.password, "user_type": f.user_type, "company_id": u.p.company_id,
    }))
    .map_err(|e| Error::value(e.to_string()));
    let made = match n {
        Ok(n) => app.create_user(Caller::User(&u.p), n).await,
        Err(e) => Err(e),
    };
    or_page(&u, made, |_| back("/console/users"))
}

#[derive(Deserialize)]
pub(super) struct UserActionForm {
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    new_password: Option<String>,
    #[serde(default)]
    csrf: Option<String>,
}

/// Blocks or unblocks a user, or sets a new password for one (`…/active`, `…/password`).
pub(super) async fn user_action(
    State(app): State<App>,
    u: ConsoleUser,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<UserActionForm>,
) -> Response {
    let id = match u.action(f.csrf.as_deref(), "user", &id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let done = match action.as_str() {
        "active" => {
            let patch: UserPatch =
                UserPatch { is_active: Some(f.active.as_deref() == Some("true")), ..Default::default() };
            app.patch_user(&u.p, id, patch).await.map(|_| ())
        }
        "password" => {
            let c = PasswordChange { old_password: None, new_password: f.new_password.unwrap_or_default() };
            app.change_password(&u.p, id, c).await
        }
        _ => Err(Error::not_found("page")),
    };
    or_page(&u, done, |_| back("/console/users"))
}

pub(super) async fn plugins(State(app): State<App>, u: ConsoleUser) -> Response {
    let listed = app.list_plugins(&u.p).await;
    or_page(&u, listed, |list| {
        let manages = matches!(u.p.role, vigil_domain::Role::Admin | vigil_domain::Role::ClientAdmin);
        let rows: Vec<Value> = list
            .items
            .iter()
            .map(|x| {
                let own = x.company_id.is_some_and(|c| c == u.p.company_id) || u.p.role == vigil_domain::Role::Admin;
                json!({"id": x.plugin_id, "name": x.name, "version": x.version, "kind": x.kind, "active": x.active,
                       "owner": if x.company_id.is_some() { "company" } else { "built-in" },
                       "created": super::pages::when(Some(x.time_created)), "manage": manages && own})
            })
            .collect();
        page(
            StatusCode::OK,
            "plugins.html",
            json!({"user": user_view(&u.p), "csrf": u.csrf(), "plugins": rows, "manages": manages}),
        )
    })
}

/// Activates a version: the way forward, and the way back (roll back = activate the older one).
pub(super) async fn activate_plugin(
    State(app): State<App>,
    u: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<super::pages::CsrfForm>,
) -> Response {
    let id = match u.action(f.csrf.as_deref(), "plugin", &id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let done = app.activate_plugin(&u.p, id).await;
    or_page(&u, done, |_| back("/console/plugins"))
}

/// A multipart upload: the component and the manifest's fields, then the API's upload.
pub(super) async fn upload_plugin(State(app): State<App>, u: ConsoleUser, mut form: Multipart) -> Response {
    let mut fields = serde_json::Map::new();
    let mut wasm: Option<Vec<u8>> = None;
    loop {
        let part = match form.next_field().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return error_page(&Error::structure(format!("unreadable upload: {e}")), Some(&u.p)),
        };
        let name = part.name().unwrap_or_default().to_string();
        let bytes = match part.bytes().await {
            Ok(b) => b,
            Err(e) => return error_page(&Error::structure(format!("unreadable upload: {e}")), Some(&u.p)),
        };
        if name == "file" {
            wasm = Some(bytes.to_vec());
        } else if ["csrf", "kind", "name", "version", "activate"].contains(&name.as_str()) {
            fields.insert(name, Value::String(String::from_utf8_lossy(&bytes).trim().to_string()));
        }
    }
    if let Err(e) = u.check_csrf(fields.get("csrf").and_then(Value::as_str)) {
        return error_page(&e, Some(&u.p));
    }
    let Some(wasm) = wasm.filter(|w| !w.is_empty()) else {
        return error_page(&Error::value("choose the component file (.wasm) to upload"), Some(&u.p));
    };
    let manifest = json!({
        "kind": fields.get("kind"), "name": fields.get("name"), "version": fields.get("version"),
        "activate": fields.get("activate").and_then(Value::as_str) == Some("true"),
    });
    let done = app.upload_plugin(Caller::User(&u.p), manifest.to_string().as_bytes(), wasm).await;
    or_page(&u, done, |_| back("/console/plugins"))
}

/// ADMIN: the companies and the job queue of the whole deployment.
pub(super) async fn admin(State(app): State<App>, u: ConsoleUser) -> Response {
    if u.p.role != vigil_domain::Role::Admin {
        return error_page(&Error::forbidden(), Some(&u.p));
    }
    let (companies, jobs) = (app.list_companies(&u.p, None, all()).await, app.job_stats(&u.p).await);
    let both = companies.and_then(|c| jobs.map(|j| (c, j)));
    or_page(&u, both, |(companies, jobs)| {
        let rows: Vec<Value> = companies
            .items
            .iter()
            .map(|c| json!({"id": c.company_id, "name": c.name, "created": super::pages::when(Some(c.time_created))}))
            .collect();
        page(
            StatusCode::OK,
            "admin.html",
            json!({"user": user_view(&u.p), "csrf": u.csrf(), "companies": rows, "jobs": jobs}),
        )
    })
}

/// Makes a PDF report of a folder with the company's template.
pub(super) async fn make_report(
    State(app): State<App>,
    u: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<super::pages::CsrfForm>,
) -> Response {
    let fid = match u.action(f.csrf.as_deref(), "folder", &id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let made = app.generate_report(&u.p, fid, Default::default()).await;
    or_page(&u, made, |_| back(&format!("/console/folders/{fid}#reports")))
}

pub(super) async fn report_file(
    State(app): State<App>,
    u: ConsoleUser,
    Path((folder, report)): Path<(String, String)>,
) -> Response {
    let ids = parse_id("folder", &folder).and_then(|f| parse_id("report", &report).map(|r| (f, r)));
    let file = match ids {
        Ok((f, r)) => app.report_file(&u.p, f, r).await,
        Err(e) => Err(e),
    };
    or_page(&u, file, |(name, body)| {
        let mut r = crate::routes::files::streamed(body, &name, "private, no-store");
        if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        r
    })
}

/// The folder's reports for its page (empty when the role may not read them).
pub(super) async fn reports_of(app: &App, p: &Principal, folder: Uuid) -> Vec<Value> {
    let Ok(list) = app.list_reports(p, folder, all()).await else { return Vec::new() };
    list.items
        .iter()
        .map(|r| {
            json!({"id": r.report_id, "name": r.file_name, "template": r.template_name,
                   "created": super::pages::when(Some(r.time_created))})
        })
        .collect()
}
