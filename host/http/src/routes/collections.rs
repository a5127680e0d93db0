//! `/api/collections/...`: collections, persons, person images and their metadata, and the
//! permission-checked `/static/collections/...` files.

use crate::error::ApiResult;
use crate::extract::{Auth, Json, MaybeAuth, Multipart, QueryPairs, parse_id};
use crate::reply::OzJson;
use crate::routes::paging_and;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::collections::{NewCollection, PersonUpload};
use vigil_core::meta::{MetaOp, MetaOwner};
use vigil_domain::model::{Collection, Page, Person, PersonImage};
use vigil_domain::policy::Visitor;
use vigil_domain::{Error, Result};

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    // Enrolment uploads stream under their own limits, not axum's 2 MB default.
    let uploads = OpenApiRouter::new()
        .routes(routes!(list_persons, create_person))
        .routes(routes!(list_images, add_images))
        .route_layer(DefaultBodyLimit::disable());
    r.merge(uploads)
        .routes(routes!(list_collections, create_collection))
        .routes(routes!(get_collection, delete_collection))
        .routes(routes!(get_person, delete_person))
        .routes(routes!(delete_image))
        .routes(routes!(get_collection_meta, replace_collection_meta, merge_collection_meta, clear_collection_meta))
        .routes(routes!(get_person_meta, replace_person_meta, merge_person_meta, clear_person_meta))
        .routes(routes!(person_image_file))
}

const MAX_PAYLOAD: usize = 1 << 20;

/// Reads what is left of a refused request (up to the request limit), so the client, still
/// sending its images, gets the error body instead of a closed connection.
async fn drain(mp: &mut axum::extract::Multipart, limit: u64) {
    let mut read = 0u64;
    while let Ok(Some(mut field)) = mp.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            read += chunk.len() as u64;
            if read > limit {
                return;
            }
        }
    }
}

/// Starts an enrolment, or drains the body and refuses.
async fn begin(
    app: &App,
    p: &vigil_domain::Principal,
    mp: &mut axum::extract::Multipart,
    collection: &str,
    person: Option<&str>,
) -> Result<PersonUpload> {
    let started = async {
        let c = parse_id("collection_id", collection).map_err(|e| e.0)?;
        let person = person.map(|p| parse_id("person_id", p).map_err(|e| e.0)).transpose()?;
        app.begin_person_upload(p, c, person).await
    }
    .await;
    let mut up = match started {
        Ok(up) => up,
        Err(e) => {
            drain(mp, app.cfg().limits.max_request_size).await;
            return Err(e);
        }
    };
    if let Err(e) = fill(&mut up, mp).await {
        drain(mp, app.cfg().limits.max_request_size).await;
        return Err(e);
    }
    Ok(up)
}

/// Feeds every multipart part into the enrolment: `payload` (JSON) and image files.
async fn fill(up: &mut PersonUpload, mp: &mut axum::extract::Multipart) -> Result<()> {
    let malformed = |e: axum::extract::multipart::MultipartError| {
        Error::structure(format!("the request body is truncated or malformed: {}", e.body_text()))
    };
    while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        if name == "payload" || file_name.is_none() {
            let mut buf = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                buf.extend_from_slice(&chunk);
                if buf.len() > MAX_PAYLOAD {
                    return Err(Error::value(format!("part '{name}' is larger than {MAX_PAYLOAD} bytes")));
                }
            }
            if name == "payload" {
                up.set_payload(&buf)?;
            } else {
                // A plain form field that is not the payload is an image sent without a file
                // name (some clients do); anything else is refused when it fails to decode.
                up.add_file(name, None, futures::stream::iter([Ok::<_, Error>(buf.into())])).await?;
            }
        } else {
            up.add_file(name, file_name, field).await?;
        }
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/collections", tag = "collections",
    params(("alias" = Option<String>, Query), ("company_id" = Option<String>, Query), ("offset" = Option<i64>, Query),
        ("limit" = Option<i64>, Query), ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<Collection>)))]
async fn list_collections(
    State(app): State<App>,
    Auth(p): Auth,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<Collection>>> {
    let (mut alias, mut company) = (None, None);
    let paging = paging_and(&q, |k, v| {
        Ok(match k {
            "alias" => {
                alias = Some(v.to_string());
                true
            }
            "company_id" => {
                let id = uuid::Uuid::parse_str(v.trim())
                    .map_err(|_| Error::value(format!("'company_id' must be a UUID, got '{v}'")))?;
                company = Some(id);
                true
            }
            _ => false,
        })
    })?;
    Ok(OzJson(app.list_collections(&p, company, alias.as_deref(), paging).await?))
}

/// Create a collection (ADMIN with `company_id`; CLIENT ADMIN in its company). It is bound to
/// the company's embedding model of the moment.
#[utoipa::path(post, path = "/api/collections", tag = "collections", request_body = NewCollection,
    responses((status = 201, body = Collection), (status = 400), (status = 403), (status = 409)))]
async fn create_collection(
    State(app): State<App>,
    Auth(p): Auth,
    Json(b): Json<NewCollection>,
) -> ApiResult<(StatusCode, OzJson<Collection>)> {
    Ok((StatusCode::CREATED, OzJson(app.create_collection(&p, b).await?)))
}

#[utoipa::path(get, path = "/api/collections/{collection_id}", tag = "collections",
    params(("collection_id" = String, Path)), responses((status = 200, body = Collection), (status = 404)))]
async fn get_collection(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<OzJson<Collection>> {
    Ok(OzJson(app.get_collection(&p, parse_id("collection_id", &id)?).await?))
}

/// Delete a collection with its persons, images and files; refused (409) while COLLECTION
/// analyses refer to it.
#[utoipa::path(delete, path = "/api/collections/{collection_id}", tag = "collections",
    params(("collection_id" = String, Path)), responses((status = 204), (status = 403), (status = 404), (status = 409)))]
async fn delete_collection(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_collection(&p, parse_id("collection_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/collections/{collection_id}/persons", tag = "collections",
    params(("collection_id" = String, Path), ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query),
        ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<Person>), (status = 404)))]
async fn list_persons(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<Person>>> {
    let paging = paging_and(&q, |_, _| Ok(false))?;
    Ok(OzJson(app.list_persons(&p, parse_id("collection_id", &id)?, paging).await?))
}

/// Enrol a person: image files (one face each) plus a `payload` part with `media:tags` and
/// `person:meta_data` (`person_info`: `first_name`, `middle_name`, `last_name`). An image with
/// no face or several is refused, naming the image, and nothing of the request is kept.
#[utoipa::path(post, path = "/api/collections/{collection_id}/persons", tag = "collections",
    params(("collection_id" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "image files plus `payload` JSON"),
    responses((status = 201, body = Person), (status = 400), (status = 403), (status = 404), (status = 413)))]
async fn create_person(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Multipart(mut mp): Multipart,
) -> ApiResult<(StatusCode, OzJson<Person>)> {
    let up = begin(&app, &p, &mut mp, &id, None).await?;
    Ok((StatusCode::CREATED, OzJson(up.commit().await?)))
}

#[utoipa::path(get, path = "/api/collections/{collection_id}/persons/{person_id}", tag = "collections",
    params(("collection_id" = String, Path), ("person_id" = String, Path)),
    responses((status = 200, body = Person), (status = 404)))]
async fn get_person(
    State(app): State<App>,
    Auth(p): Auth,
    Path((c, id)): Path<(String, String)>,
) -> ApiResult<OzJson<Person>> {
    Ok(OzJson(app.get_person(&p, parse_id("collection_id", &c)?, parse_id("person_id", &id)?).await?))
}

/// Delete a person with its images and files; refused (409) while COLLECTION analyses found it.
#[utoipa::path(delete, path = "/api/collections/{collection_id}/persons/{person_id}", tag = "collections",
    params(("collection_id" = String, Path), ("person_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
async fn delete_person(
    State(app): State<App>,
    Auth(p): Auth,
    Path((c, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app.delete_person(&p, parse_id("collection_id", &c)?, parse_id("person_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/collections/{collection_id}/persons/{person_id}/images", tag = "collections",
    params(("collection_id" = String, Path), ("person_id" = String, Path), ("offset" = Option<i64>, Query),
        ("limit" = Option<i64>, Query), ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<PersonImage>), (status = 404)))]
async fn list_images(
    State(app): State<App>,
    Auth(p): Auth,
    Path((c, id)): Path<(String, String)>,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<PersonImage>>> {
    let paging = paging_and(&q, |_, _| Ok(false))?;
    Ok(OzJson(app.list_person_images(&p, parse_id("collection_id", &c)?, parse_id("person_id", &id)?, paging).await?))
}

/// Add photos of a person (the same multipart form as enrolment); answers with the person and
/// all its images.
#[utoipa::path(post, path = "/api/collections/{collection_id}/persons/{person_id}/images", tag = "collections",
    params(("collection_id" = String, Path), ("person_id" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "image files plus `payload` JSON"),
    responses((status = 201, body = Person), (status = 400), (status = 403), (status = 404)))]
async fn add_images(
    State(app): State<App>,
    Auth(p): Auth,
    Path((c, id)): Path<(String, String)>,
    Multipart(mut mp): Multipart,
) -> ApiResult<(StatusCode, OzJson<Person>)> {
    let up = begin(&app, &p, &mut mp, &c, Some(&id)).await?;
    Ok((StatusCode::CREATED, OzJson(up.commit().await?)))
}

#[utoipa::path(delete, path = "/api/collections/{collection_id}/persons/{person_id}/images/{person_image_id}",
    tag = "collections",
    params(("collection_id" = String, Path), ("person_id" = String, Path), ("person_image_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_image(
    State(app): State<App>,
    Auth(p): Auth,
    Path((c, pid, iid)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    app.delete_person_image(
        &p,
        parse_id("collection_id", &c)?,
        parse_id("person_id", &pid)?,
        parse_id("person_image_id", &iid)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person image (`{person_image_id}.{ext}`), as linked from `original_url`; the caller must be
/// able to read the collection.
#[utoipa::path(get, path = "/static/collections/{collection_id}/{file}", tag = "collections",
    params(("collection_id" = String, Path), ("file" = String, Path)),
    responses((status = 200, description = "the image"), (status = 401), (status = 404)))]
async fn person_image_file(
    State(app): State<App>,
    MaybeAuth(p): MaybeAuth,
    Path((c, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let body = app.person_image_file(Visitor::from_token(p.as_ref()), parse_id("collection_id", &c)?, &file).await?;
    Ok(crate::routes::files::streamed(body, &file, "private, max-age=3600"))
}

async fn collection_meta(app: &App, p: &vigil_domain::Principal, id: &str, op: MetaOp) -> ApiResult<OzJson<Value>> {
    Ok(OzJson(app.meta(p, MetaOwner::Collection, parse_id("collection_id", id)?, op).await?))
}

async fn person_meta(
    app: &App,
    p: &vigil_domain::Principal,
    (c, id): (String, String),
    op: MetaOp,
) -> ApiResult<OzJson<Value>> {
    let owner = MetaOwner::Person(parse_id("collection_id", &c)?);
    Ok(OzJson(app.meta(p, owner, parse_id("person_id", &id)?, op).await?))
}

#[utoipa::path(get, path = "/api/collections/{collection_id}/meta_data", tag = "collections",
    params(("collection_id" = String, Path)), responses((status = 200, body = Object), (status = 404)))]
async fn get_collection_meta(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<OzJson<Value>> {
    collection_meta(&app, &p, &id, MetaOp::Get).await
}

/// Replace the collection's metadata (ADMIN, CLIENT ADMIN).
#[utoipa::path(post, path = "/api/collections/{collection_id}/meta_data", tag = "collections",
    params(("collection_id" = String, Path)), request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 403)))]
async fn replace_collection_meta(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(v): Json<Value>,
) -> ApiResult<OzJson<Value>> {
    collection_meta(&app, &p, &id, MetaOp::Replace(v)).await
}

/// Merge the body's top-level keys into the collection's metadata.
#[utoipa::path(patch, path = "/api/collections/{collection_id}/meta_data", tag = "collections",
    params(("collection_id" = String, Path)), request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 403)))]
async fn merge_collection_meta(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(v): Json<Value>,
) -> ApiResult<OzJson<Value>> {
    collection_meta(&app, &p, &id, MetaOp::Merge(v)).await
}

#[utoipa::path(delete, path = "/api/collections/{collection_id}/meta_data", tag = "collections",
    params(("collection_id" = String, Path)), responses((status = 204), (status = 403)))]
async fn clear_collection_meta(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    collection_meta(&app, &p, &id, MetaOp::Clear).await.map(|_| StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/collections/{collection_id}/persons/{person_id}/meta_data", tag = "collections",
    params(("collection_id" = String, Path), ("person_id" = String, Path)),
    responses((status = 200, body = Object), (status = 404)))]
async fn get_person_meta(
    State(app): State<App>,
    Auth(p): Auth,
    Path(ids): Path<(String, String)>,
) -> ApiResult<OzJson<Value>> {
    person_meta(&app, &p, ids, MetaOp::Get).await
}

/// Replace the person's metadata (ADMIN, CLIENT ADMIN).
#[utoipa::path(post, path = "/api/collections/{collection_id}/persons/{person_id}/meta_data", tag = "collections",
    params(("collection_id" = String, Path), ("person_id" = String, Path)), request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 403)))]
async fn replace_person_meta(
    State(app): State<App>,
    Auth(p): Auth,
    Path(ids): Path<(String, String)>,
    Json(v): Json<Value>,
) -> ApiResult<OzJson<Value>> {
    person_meta(&app, &p, ids, MetaOp::Replace(v)).await
}

/// Merge the body's top-level keys into the person's metadata.
#[utoipa::path(patch, path = "/api/collections/{collection_id}/persons/{person_id}/meta_data", tag = "collections",
    params(("collection_id" = String, Path), ("person_id" = String, Path)), request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 403)))]
async fn merge_person_meta(
    State(app): State<App>,
    Auth(p): Auth,
    Path(ids): Path<(String, String)>,
    Json(v): Json<Value>,
) -> ApiResult<OzJson<Value>> {
    person_meta(&app, &p, ids, MetaOp::Merge(v)).await
}

#[utoipa::path(delete, path = "/api/collections/{collection_id}/persons/{person_id}/meta_data", tag = "collections",
    params(("collection_id" = String, Path), ("person_id" = String, Path)),
    responses((status = 204), (status = 403)))]
async fn clear_person_meta(
    State(app): State<App>,
    Auth(p): Auth,
    Path(ids): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    person_meta(&app, &p, ids, MetaOp::Clear).await.map(|_| StatusCode::NO_CONTENT)
}
