//! `/api/report_templates/...` (templates and attachments) and `/api/folders/{id}/reports/...`
//! (generate, list, read, download, delete).

use crate::error::ApiResult;
use crate::extract::{Auth, Json, Multipart, QueryPairs, parse_id};
use crate::reply::OzJson;
use crate::routes::paging_and;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::reports::{GeneratedReport, ReportRequest, TemplateUpload};
use vigil_domain::model::{Page, Report, ReportAttachment, ReportTemplate};
use vigil_domain::{Code, Error, Result};

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    // Template uploads (a component, attachments) are bounded part by part below.
    let uploads = OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, replace_template, update_template, delete_template))
        .routes(routes!(list_attachments, add_attachments))
        .route_layer(DefaultBodyLimit::disable());
    r.merge(uploads)
        .routes(routes!(delete_attachment))
        .routes(routes!(list_reports, create_report))
        .routes(routes!(get_report, delete_report))
        .routes(routes!(report_file))
}

const MAX_PAYLOAD: usize = 1 << 20;

/// Reads every part: `payload` (JSON), `template` (the template file), any other file part as an
/// attachment named by its file name. Each part and the part count are bounded.
async fn read_upload(mut mp: axum::extract::Multipart) -> Result<TemplateUpload> {
    let malformed = |e: axum::extract::multipart::MultipartError| {
        Error::structure(format!("the request body is truncated or malformed: {}", e.body_text()))
    };
    let mut up = TemplateUpload::default();
    let mut parts = 0;
    while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
        parts += 1;
        if parts > TemplateUpload::MAX_PARTS {
            return Err(Error::value(format!("at most {} parts per request", TemplateUpload::MAX_PARTS)));
        }
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let cap = if name == "payload" { MAX_PAYLOAD } else { TemplateUpload::max_part(&name) };
        let mut buf = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if buf.len() + chunk.len() > cap {
                return Err(Error::new(Code::TooLarge, format!("part '{name}' is larger than {cap} bytes")));
            }
            buf.extend_from_slice(&chunk);
        }
        match (name.as_str(), file_name) {
            ("payload", _) => up.payload = Some(buf),
            ("template", Some(f)) => up.template = Some((f, Bytes::from(buf))),
            ("template", None) => {
                return Err(Error::value("the 'template' part needs a file name (report.typ, report.html or a .wasm)"));
            }
            (_, Some(f)) => up.attachments.push((f, Bytes::from(buf))),
            (other, None) => tracing::debug!(part = other, "ignored form field"),
        }
    }
    Ok(up)
}

#[utoipa::path(get, path = "/api/report_templates", tag = "reports",
    params(("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<ReportTemplate>)))]
async fn list_templates(
    State(app): State<App>,
    Auth(p): Auth,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<ReportTemplate>>> {
    let paging = paging_and(&q, |_, _| Ok(false))?;
    Ok(OzJson(app.list_report_templates(&p, paging).await?))
}

/// Upload a template: a `template` file part (`.typ` minijinja producing Typst for PDF, `.html`
/// minijinja producing HTML, or a `.wasm` report-template component), further file parts as
/// attachments (referred to as `attachments/<file name>`), and a `payload` part with `name`,
/// `is_default` (default true), `meta_data`, and for ADMIN `company_id` (absent: global).
#[utoipa::path(post, path = "/api/report_templates", tag = "reports",
    request_body(content_type = "multipart/form-data", description = "`template` file, attachments, `payload` JSON"),
    responses((status = 201, body = ReportTemplate), (status = 400), (status = 403), (status = 413)))]
async fn create_template(
    State(app): State<App>,
    Auth(p): Auth,
    Multipart(mp): Multipart,
) -> ApiResult<(StatusCode, OzJson<ReportTemplate>)> {
    let up = read_upload(mp).await?;
    Ok((StatusCode::CREATED, OzJson(app.create_report_template(&p, up).await?)))
}

#[utoipa::path(get, path = "/api/report_templates/{report_template_id}", tag = "reports",
    params(("report_template_id" = String, Path)), responses((status = 200, body = ReportTemplate), (status = 404)))]
async fn get_template(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<OzJson<ReportTemplate>> {
    Ok(OzJson(app.get_report_template(&p, parse_id("report_template_id", &id)?).await?))
}

/// A new version (same parts as the upload, all optional): the next report uses it.
#[utoipa::path(put, path = "/api/report_templates/{report_template_id}", tag = "reports",
    params(("report_template_id" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "`template` file, attachments, `payload` JSON"),
    responses((status = 200, body = ReportTemplate), (status = 400), (status = 403), (status = 404)))]
async fn replace_template(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Multipart(mp): Multipart,
) -> ApiResult<OzJson<ReportTemplate>> {
    new_version(&app, &p, &id, mp).await
}

async fn new_version(
    app: &App,
    p: &vigil_domain::Principal,
    id: &str,
    mp: axum::extract::Multipart,
) -> ApiResult<OzJson<ReportTemplate>> {
    let id = parse_id("report_template_id", id)?;
    let up = read_upload(mp).await?;
    Ok(OzJson(app.update_report_template(p, id, up).await?))
}

/// As `PUT`.
#[utoipa::path(patch, path = "/api/report_templates/{report_template_id}", tag = "reports",
    params(("report_template_id" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "`template` file, attachments, `payload` JSON"),
    responses((status = 200, body = ReportTemplate), (status = 400), (status = 403), (status = 404)))]
async fn update_template(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Multipart(mp): Multipart,
) -> ApiResult<OzJson<ReportTemplate>> {
    new_version(&app, &p, &id, mp).await
}

#[utoipa::path(delete, path = "/api/report_templates/{report_template_id}", tag = "reports",
    params(("report_template_id" = String, Path)), responses((status = 204), (status = 403), (status = 404)))]
async fn delete_template(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_report_template(&p, parse_id("report_template_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/report_templates/{report_template_id}/attachments", tag = "reports",
    params(("report_template_id" = String, Path)), responses((status = 200, body = Page<ReportAttachment>), (status = 404)))]
async fn list_attachments(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<OzJson<Page<ReportAttachment>>> {
    Ok(OzJson(app.list_report_attachments(&p, parse_id("report_template_id", &id)?).await?))
}

/// Add attachments (file parts, named by their file names; a name already present is replaced).
#[utoipa::path(post, path = "/api/report_templates/{report_template_id}/attachments", tag = "reports",
    params(("report_template_id" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "attachment files"),
    responses((status = 201, body = Vec<ReportAttachment>), (status = 400), (status = 403), (status = 404)))]
async fn add_attachments(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Multipart(mp): Multipart,
) -> ApiResult<(StatusCode, OzJson<Vec<ReportAttachment>>)> {
    let id = parse_id("report_template_id", &id)?;
    let mut up = read_upload(mp).await?;
    // A part named `template` here is an attachment like any other.
    up.attachments.extend(up.template.take());
    Ok((StatusCode::CREATED, OzJson(app.add_report_attachments(&p, id, up.attachments).await?)))
}

#[utoipa::path(delete, path = "/api/report_templates/{report_template_id}/attachments/{attachment_id}", tag = "reports",
    params(("report_template_id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_attachment(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, a)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app.delete_report_attachment(&p, parse_id("report_template_id", &id)?, parse_id("attachment_id", &a)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/folders/{folder_id}/reports", tag = "reports",
    params(("folder_id" = String, Path), ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query),
        ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<Report>), (status = 404)))]
async fn list_reports(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<Report>>> {
    let paging = paging_and(&q, |_, _| Ok(false))?;
    Ok(OzJson(app.list_reports(&p, parse_id("folder_id", &id)?, paging).await?))
}

/// Generate a report of the folder (body optional: `report_template_id`, `format` `pdf` or
/// `html`). Without a template id: the company's default template, else the built-in one.
#[utoipa::path(post, path = "/api/folders/{folder_id}/reports", tag = "reports",
    params(("folder_id" = String, Path)), request_body = ReportRequest,
    responses((status = 201, body = GeneratedReport), (status = 400), (status = 404)))]
async fn create_report(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(req): Json<ReportRequest>,
) -> ApiResult<(StatusCode, OzJson<GeneratedReport>)> {
    Ok((StatusCode::CREATED, OzJson(app.generate_report(&p, parse_id("folder_id", &id)?, req).await?)))
}

#[utoipa::path(get, path = "/api/folders/{folder_id}/reports/{report_id}", tag = "reports",
    params(("folder_id" = String, Path), ("report_id" = String, Path)),
    responses((status = 200, body = Report), (status = 404)))]
async fn get_report(
    State(app): State<App>,
    Auth(p): Auth,
    Path((f, id)): Path<(String, String)>,
) -> ApiResult<OzJson<Report>> {
    Ok(OzJson(app.get_report(&p, parse_id("folder_id", &f)?, parse_id("report_id", &id)?).await?))
}

#[utoipa::path(delete, path = "/api/folders/{folder_id}/reports/{report_id}", tag = "reports",
    params(("folder_id" = String, Path), ("report_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_report(
    State(app): State<App>,
    Auth(p): Auth,
    Path((f, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app.delete_report(&p, parse_id("folder_id", &f)?, parse_id("report_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The report file (PDF or a self-contained HTML page), as `file_url` links it.
#[utoipa::path(get, path = "/api/folders/{folder_id}/reports/{report_id}/file", tag = "reports",
    params(("folder_id" = String, Path), ("report_id" = String, Path)),
    responses((status = 200, description = "the report"), (status = 404)))]
async fn report_file(
    State(app): State<App>,
    Auth(p): Auth,
    Path((f, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (name, body) = app.report_file(&p, parse_id("folder_id", &f)?, parse_id("report_id", &id)?).await?;
    // An HTML report is shown sandboxed: no scripts, nothing fetched, its embedded images only.
    Ok((
        [
            (header::CONTENT_TYPE, body.content_type),
            (header::CONTENT_LENGTH, body.size.to_string()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'".to_string(),
            ),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}\"")),
        ],
        Body::from_stream(body.stream),
    )
        .into_response())
}
