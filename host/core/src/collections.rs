//! Collections for 1:N search: collections, persons and their face images (enrolment), the face
//! index kept in step with the database, and the search plugins call through WIT.
//!
//! The database is the source of truth: every enrolled face's embedding is stored with the model
//! that made it. The face index is a cache of it. Every change to a collection's faces raises the
//! collection's `faces_version` in the same transaction; an index that applied an older version
//! (a write by another replica or by the CLI, a crash between the commit and the index update)
//! is brought up to date from the database before it is searched.

use crate::{App, Infra, now_micros};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use md5::Digest;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::audit::Change;
use vigil_domain::filter::Paging;
use vigil_domain::media::{MediaType, SNIFF_LEN, sniff, validate_tags};
use vigil_domain::model::{Collection, MediaInfo, Page, Person, PersonImage};
use vigil_domain::policy::{Caller, Principal, Role, Visitor};
use vigil_domain::time::micros_to_secs;
use vigil_domain::{Code, Error, Result};
use vigil_index::{Entry, FaceIndex};
use vigil_plugin_host::{CallContext, CollectionInfo, FaceBox, GuestError};
use vigil_store::collections as store;

/// Body of `POST /api/collections/`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewCollection {
    /// The collection's name within its company (`blacklist` is the one the Oz SDKs look for).
    pub alias: String,
    /// ADMIN names the company; others create in their own.
    #[serde(default)]
    pub company_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
}

/// The most persons a search returns.
pub const MAX_SEARCH_LIMIT: u32 = 100;
/// A second face counts when its box is at least this fraction of the largest face's side: a
/// face far in the background does not make a portrait ambiguous.
const SECOND_FACE_SIDE: f32 = 0.33;
/// Analyses named in a delete refusal.
const NAMED_REFS: i64 = 10;
/// Rows fetched per query when an index catches up with the database.
const SYNC_CHUNK: usize = 500;

/// The face index and, per collection, the faces version it has applied.
pub(crate) struct FaceCache {
    index: Arc<dyn FaceIndex>,
    applied: Mutex<HashMap<Uuid, i64>>,
    /// The version each collection was last persisted at (backends that persist).
    saved: Mutex<HashMap<Uuid, i64>>,
    /// Every change to the index goes through this lock, so a catch-up from the database never
    /// interleaves with a local write.
    write: tokio::sync::Mutex<()>,
    pg: PgVector,
}

/// The pgvector backend (`VIGIL_FACE_INDEX=pgvector`): the database searches, the in-process
/// index above stands by for when it cannot.
struct PgVector {
    wanted: bool,
    /// HNSW search breadth.
    ef: i64,
    /// Decided at first use: whether the database serves the searches.
    serving: tokio::sync::OnceCell<bool>,
    /// Collections whose HNSW index this process has built or found.
    hnsw: Mutex<HashSet<Uuid>>,
}

impl FaceCache {
    pub(crate) fn new(index: Arc<dyn FaceIndex>, pgvector: bool, ef: usize) -> FaceCache {
        FaceCache {
            index,
            applied: Mutex::new(HashMap::new()),
            saved: Mutex::new(HashMap::new()),
            write: tokio::sync::Mutex::new(()),
            pg: PgVector {
                wanted: pgvector,
                ef: ef as i64,
                serving: tokio::sync::OnceCell::new(),
                hnsw: Mutex::new(HashSet::new()),
            },
        }
    }

    fn applied(&self, c: Uuid) -> Option<i64> {
        self.applied.lock().unwrap_or_else(PoisonError::into_inner).get(&c).copied()
    }

    fn set_applied(&self, c: Uuid, v: Option<i64>) {
        let mut m = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        match v {
            Some(v) => m.insert(c, v),
            None => m.remove(&c),
        };
    }
}

/// A face ready to be stored: decoded, found, embedded.
struct Enrolled {
    image_id: Uuid,
    field: String,
    original_name: Option<String>,
    ext: &'static str,
    content_type: &'static str,
    bytes: Bytes,
    md5: String,
    width: u32,
    height: u32,
    face: FaceBox,
    vector: Vec<f32>,
}

/// A person-creation or image-addition request being received: files are held in memory (each
/// bounded by the file-size limit, all by the request limit) until every part has arrived, then
/// each is decoded, its face found and embedded, and only then is anything stored.
pub struct PersonUpload {
    app: App,
    principal: Principal,
    collection: Collection,
    /// The person images are added to; `None` creates one.
    person: Option<Uuid>,
    files: Vec<(String, Option<String>, Bytes)>,
    tags: HashMap<String, Vec<String>>,
    person_meta: Option<Value>,
    /// Where a bulk enrolment took the person from (`technical_meta_data.source`), so a rerun
    /// can skip it.
    source: Option<String>,
    payload_seen: bool,
    total: u64,
}

impl PersonUpload {
    /// Records where the person came from (the CLI's path relative to its directory).
    pub fn set_source(&mut self, source: &str) {
        self.source = Some(source.to_string());
    }

    /// Parses the `payload` part: `media:tags` per file field, `person:meta_data` (with
    /// `person_info`). Unknown keys are ignored.
    pub fn set_payload(&mut self, raw: &[u8]) -> Result<()> {
        if self.payload_seen {
            return Err(Error::structure("the request has more than one 'payload' part"));
        }
        self.payload_seen = true;
        self.count(raw.len() as u64)?;
        let v: Value =
            serde_json::from_slice(raw).map_err(|e| Error::structure(format!("'payload' is not valid JSON: {e}")))?;
        let Value::Object(m) = v else {
            return Err(Error::structure("'payload' must be a JSON object"));
        };
        match m.get("media:tags") {
            None | Some(Value::Null) => {}
            Some(Value::Object(t)) => {
                for (field, tags) in t {
                    let tags: Vec<String> = serde_json::from_value(tags.clone())
                        .map_err(|_| Error::value(format!("media:tags of '{field}' must be a list of strings")))?;
                    self.tags.insert(field.clone(), validate_tags(&tags)?);
                }
            }
            Some(_) => return Err(Error::value("payload field 'media:tags' must be a JSON object")),
        }
        match m.get("person:meta_data") {
            None | Some(Value::Null) => {}
            Some(meta @ Value::Object(_)) => {
                check_person_meta(meta)?;
                vigil_domain::text::check_meta("person:meta_data", meta)?;
                self.person_meta = Some(meta.clone());
            }
            Some(_) => return Err(Error::value("payload field 'person:meta_data' must be a JSON object")),
        }
        Ok(())
    }

    fn count(&mut self, n: u64) -> Result<()> {
        self.total += n;
        let max = self.app.cfg().limits.max_request_size;
        if self.total > max {
            return Err(Error::new(Code::TooLarge, format!("the request is larger than the limit of {max} bytes")));
        }
        Ok(())
    }

    /// Receives one image part into memory, within the limits.
    pub async fn add_file<S, E>(&mut self, field: String, original_name: Option<String>, mut stream: S) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let limits = self.app.cfg().limits.clone();
        let seen = self.files.iter().map(|(f, _, _)| f.as_str());
        crate::upload::check_file_part(&field, original_name.as_deref(), seen, &limits)?;
        let mut buf = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| Error::structure(format!("the request body is truncated or malformed: {e}")))?;
            if (buf.len() + chunk.len()) as u64 > limits.max_file_size {
                return Err(Error::new(
                    Code::TooLarge,
                    format!("image '{field}' is larger than the limit of {} bytes", limits.max_file_size),
                ));
            }
            self.count(chunk.len() as u64)?;
            buf.extend_from_slice(&chunk);
        }
        self.files.push((field, original_name, buf.freeze()));
        Ok(())
    }

    /// Enrolls every image (all or nothing) and answers with the person and all its images.
    pub async fn commit(self) -> Result<Person> {
        if self.files.is_empty() {
            return Err(Error::value("send at least one image of the person (a multipart file part)"));
        }
        for named in self.tags.keys() {
            if !self.files.iter().any(|(f, _, _)| f == named) {
                return Err(Error::value(format!("the payload names file '{named}', which was not sent")));
            }
        }
        let app = self.app.clone();
        let c = &self.collection;
        let mut enrolled = Vec::with_capacity(self.files.len());
        for (field, name, bytes) in &self.files {
            enrolled.push(app.enroll_face(c, field, name.as_deref(), bytes.clone()).await?);
        }
        let person_id = self.person.unwrap_or_else(Uuid::new_v4);
        let stem = format!("{}/collections/{}/{}", c.company_id, c.collection_id, person_id);
        let mut written = Vec::new();
        let stored = app.store_enrolled(&self, person_id, &stem, &enrolled, &mut written).await;
        match stored {
            Ok(version) => {
                let entries = enrolled
                    .into_iter()
                    .map(|e| Entry { image_id: e.image_id, person_id, vector: e.vector })
                    .collect::<Vec<_>>();
                app.index_apply(c.collection_id, version, |idx| {
                    for e in entries {
                        idx.upsert(c.collection_id, e).map_err(Error::internal)?;
                    }
                    Ok(())
                })
                .await;
                app.person_view(person_id).await
            }
            Err(e) => {
                for k in &written {
                    if let Err(err) = app.blob().delete(k).await {
                        tracing::error!(key = %k, error = %err, "person image not removed after a failed enrolment");
                    }
                }
                Err(e)
            }
        }
    }
}

fn face_json(f: &FaceBox) -> Value {
    json!({ "x": f.x, "y": f.y, "width": f.width, "height": f.height, "score": f.score })
}

fn guest_error(what: &str, e: GuestError) -> Error {
    match e {
        GuestError::NotAvailable(m) => Error::new(Code::NotRealized, m),
        GuestError::InvalidInput(m) => Error::value(format!("{what}: {m}")),
        other => Error::internal(format!("{what}: {}", other.message())),
    }
}

impl App {
    fn index(&self) -> &FaceCache {
        &self.inner.faces
    }

    /// Applies a local change to the index, under the index's write lock, and records `version`
    /// as applied when the index was exactly one version behind (otherwise the next search
    /// catches up from the database).
    async fn index_apply(&self, collection: Uuid, version: i64, change: impl FnOnce(&dyn FaceIndex) -> Result<()>) {
        let cache = self.index();
        let _w = cache.write.lock().await;
        let chained = cache.applied(collection) == Some(version - 1);
        match change(cache.index.as_ref()) {
            Ok(()) if chained => cache.set_applied(collection, Some(version)),
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(%collection, error = %e.message, "face index not updated; it will catch up from the database");
                cache.set_applied(collection, None);
            }
        }
    }

    /// Whether the database's pgvector index serves this process's searches: configured, and
    /// the database has it (decided once; otherwise the in-process index serves, and the log
    /// says why).
    async fn pgvector(&self) -> bool {
        let pg = &self.index().pg;
        if !pg.wanted {
            return false;
        }
        *pg.serving
            .get_or_init(|| async {
                match vigil_store::vectors::enable(&mut self.store()).await {
                    Ok(None) => {
                        tracing::info!("face index: pgvector, in the database");
                        true
                    }
                    Ok(Some(why)) => {
                        tracing::warn!(reason = %why, "VIGIL_FACE_INDEX=pgvector but pgvector is unavailable; the in-process quantised scan serves instead");
                        false
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "VIGIL_FACE_INDEX=pgvector but pgvector could not be checked; the in-process quantised scan serves instead");
                        false
                    }
                }
            })
            .await
    }

    /// Gives the collection's faces that have no pgvector vector yet (enrolled by any process
    /// since) theirs, and starts the collection's HNSW build once it is large enough.
    async fn vectors_sync(&self, collection: Uuid, faces: i64, dim: Option<usize>) -> Result<usize> {
        let mut filled = 0;
        loop {
            let rows =
                vigil_store::vectors::unfilled(&mut self.store(), collection, SYNC_CHUNK as i64).await.infra()?;
            let fetched = rows.len();
            let good: Vec<(Uuid, Vec<f32>)> =
                rows.into_iter().filter_map(|(image, bytes)| Some((image, store::embedding_values(&bytes)?))).collect();
            // Nothing to fill is the common case (every search asks); no statement then.
            if !good.is_empty() {
                vigil_store::vectors::fill(&mut self.store(), &good).await.infra()?;
            }
            filled += good.len();
            if good.len() < fetched {
                tracing::error!(%collection, bad = fetched - good.len(), "stored embeddings that are not whole f32 values stay out of pgvector");
                break;
            }
            if fetched < SYNC_CHUNK {
                break;
            }
        }
        if filled > 0 {
            tracing::info!(%collection, faces = filled, "faces indexed in pgvector");
        }
        if let Some(dim) = dim.filter(|_| faces >= vigil_store::vectors::HNSW_FROM)
            && self.index().pg.hnsw.lock().unwrap_or_else(PoisonError::into_inner).insert(collection)
        {
            // Built beside the searches (which scan exactly meanwhile), without blocking writes.
            let st = self.store();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                match vigil_store::vectors::ensure_hnsw(&st, collection, dim).await {
                    Ok(_) => {
                        tracing::info!(%collection, secs = started.elapsed().as_secs_f64(), "pgvector HNSW index ready")
                    }
                    Err(e) => {
                        tracing::error!(%collection, error = %e, "pgvector HNSW index not built; searches scan exactly")
                    }
                }
            });
        }
        Ok(filled)
    }

    /// Brings a collection's index up to the database's faces version.
    async fn index_sync(&self, collection: Uuid) -> Result<()> {
        if self.pgvector().await {
            return self.vectors_sync(collection, 0, None).await.map(|_| ());
        }
        let cache = self.index();
        let current = store::faces_version(&mut self.store(), collection).await.infra()?;
        let Some(version) = current else {
            return Err(Error::not_found("collection"));
        };
        if cache.applied(collection) == Some(version) {
            return Ok(());
        }
        let _w = cache.write.lock().await;
        // The version is read before the rows: a change committed meanwhile shows as a newer
        // version next time.
        let Some(version) = store::faces_version(&mut self.store(), collection).await.infra()? else {
            cache.index.drop_collection(collection);
            return Err(Error::not_found("collection"));
        };
        if cache.applied(collection) == Some(version) {
            return Ok(());
        }
        // Nothing loaded, or most of it missing (a bulk load by another process): build it
        // whole from the stored faces, in parallel and with one query.
        let loaded = cache.index.len(collection);
        let stored = store::get_collection(&mut self.store(), collection).await.infra()?.map_or(0, |c| c.images_count);
        if loaded == 0 || (stored > 10_000 && loaded < stored as usize / 2) {
            let rows = store::faces_of_collection(&mut self.store(), collection).await.infra()?;
            let entries: Vec<Entry> = rows
                .into_iter()
                .filter_map(|(image_id, person_id, _model, bytes)| {
                    let vector = store::embedding_values(&bytes)?;
                    Some(Entry { image_id, person_id, vector })
                })
                .collect();
            let n = entries.len();
            let index = cache.index.clone();
            tokio::task::spawn_blocking(move || index.rebuild(collection, entries))
                .await
                .map_err(Error::internal)?
                .map_err(Error::internal)?;
            if n > 0 {
                tracing::info!(%collection, version, faces = n, "face index built from the database");
            }
            cache.set_applied(collection, Some(version));
            return Ok(());
        }
        let want = store::face_ids(&mut self.store(), collection).await.infra()?;
        let want_ids: HashSet<Uuid> = want.iter().map(|(i, _)| *i).collect();
        let have: HashSet<Uuid> = cache.index.image_ids(collection).into_iter().collect();
        let mut removed = 0;
        for gone in have.difference(&want_ids) {
            removed += usize::from(cache.index.remove(collection, *gone));
        }
        let missing: Vec<Uuid> = want_ids.difference(&have).copied().collect();
        for chunk in missing.chunks(SYNC_CHUNK) {
            for (image_id, person_id, _model, bytes) in
                store::faces_by_ids(&mut self.store(), collection, chunk).await.infra()?
            {
                let Some(vector) = store::embedding_values(&bytes) else {
                    tracing::error!(%image_id, "stored embedding is not a whole number of f32 values; skipped");
                    continue;
                };
                if let Err(e) = cache.index.upsert(collection, Entry { image_id, person_id, vector }) {
                    tracing::error!(%image_id, error = %e, "stored embedding not indexed");
                }
            }
        }
        if removed + missing.len() > 0 {
            tracing::info!(%collection, version, added = missing.len(), removed, "face index caught up with the database");
        }
        cache.set_applied(collection, Some(version));
        Ok(())
    }

    /// Persists the collections whose index changed since they were last persisted (backends
    /// that keep nothing ignore it); returns how many were written.
    pub async fn persist_face_index(&self) -> Result<usize> {
        let cache = self.index();
        let _w = cache.write.lock().await;
        let applied: Vec<(Uuid, i64)> =
            cache.applied.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(c, v)| (*c, *v)).collect();
        let mut written = 0;
        for (c, version) in applied {
            if cache.saved.lock().unwrap_or_else(PoisonError::into_inner).get(&c) == Some(&version) {
                continue;
            }
            let index = cache.index.clone();
            tokio::task::spawn_blocking(move || index.save(c, version))
                .await
                .map_err(Error::internal)?
                .map_err(Error::internal)?;
            cache.saved.lock().unwrap_or_else(PoisonError::into_inner).insert(c, version);
            written += 1;
        }
        Ok(written)
    }

    /// Drops deleted collections from the index.
    pub(crate) async fn forget_collections(&self, ids: &[Uuid]) {
        if self.pgvector().await {
            for id in ids {
                self.index().pg.hnsw.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
                if let Err(e) = vigil_store::vectors::drop_hnsw(&self.store(), *id).await {
                    tracing::error!(collection = %id, error = %e, "pgvector HNSW index of a deleted collection not dropped");
                }
            }
        }
        let cache = self.index();
        let _w = cache.write.lock().await;
        for id in ids {
            cache.index.drop_collection(*id);
            cache.set_applied(*id, None);
            cache.saved.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        }
    }

    /// Loads every collection's faces into the index (at start, in the background): what an
    /// earlier process persisted first, then whatever the database holds beyond it; a persisted
    /// collection the database no longer has is removed.
    pub async fn warm_face_index(&self) -> Result<usize> {
        let all = store::all_collections(&mut self.store()).await.infra()?;
        if self.pgvector().await {
            let mut filled = 0;
            for (c, _, _) in &all {
                filled += self.vectors_sync(*c, 0, None).await?;
            }
            return Ok(filled);
        }
        {
            let cache = self.index();
            let _w = cache.write.lock().await;
            let index = cache.index.clone();
            let persisted = tokio::task::spawn_blocking(move || index.persisted()).await.map_err(Error::internal)?;
            let known: HashSet<Uuid> = all.iter().map(|c| c.0).collect();
            for (c, version) in persisted {
                if known.contains(&c) {
                    cache.set_applied(c, Some(version));
                    cache.saved.lock().unwrap_or_else(PoisonError::into_inner).insert(c, version);
                } else {
                    cache.index.drop_collection(c);
                }
            }
        }
        let mut faces = 0;
        for (c, _, _) in &all {
            self.index_sync(*c).await?;
            faces += self.index().index.len(*c);
        }
        Ok(faces)
    }

    async fn collection_for_read(&self, p: &Principal, id: Uuid) -> Result<Collection> {
        let c = store::get_collection(&mut self.store(), id)
            .await
            .infra()?
            .filter(|c| p.can_read_collection(c.company_id))
            .ok_or_else(|| Error::not_found("collection"))?;
        Ok(c)
    }

    /// `POST /api/collections/`: bound to the company's embedding model of the moment.
    pub async fn create_collection(&self, p: &Principal, b: NewCollection) -> Result<Collection> {
        let company_id = match (p.role, b.company_id) {
            (Role::Admin, Some(c)) => c,
            (Role::Admin, None) => return Err(Error::value("ADMIN must name the collection's company_id")),
            (_, Some(c)) if c != p.company_id => return Err(Error::forbidden()),
            (_, _) => p.company_id,
        };
        if !p.can_manage_collection(company_id) {
            return Err(Error::forbidden());
        }
        let alias = b.alias.trim().to_string();
        vigil_domain::text::check_name("alias", &alias, vigil_domain::text::MAX_NAME)?;
        let meta = b.meta_data.unwrap_or_else(|| json!({}));
        if !meta.is_object() {
            return Err(Error::value("meta_data must be a JSON object"));
        }
        vigil_domain::text::check_meta("meta_data", &meta)?;
        if vigil_store::companies::get(&mut self.store(), company_id).await.infra()?.is_none_or(|c| c.is_system) {
            return Err(Error::value(format!("company {company_id} does not exist")));
        }
        let model = self.inner.plugins.host.services().embedding_model(company_id).ok_or_else(|| {
            Error::new(Code::NotRealized, "face embedding is not available on this server: collections need it")
        })?;
        let now = now_micros();
        let c = Collection {
            collection_id: Uuid::new_v4(),
            alias: alias.clone(),
            company_id,
            embedding_model: model,
            persons_count: 0,
            images_count: 0,
            meta_data: meta,
            technical_meta_data: json!({}),
            time_created: micros_to_secs(now),
            time_updated: micros_to_secs(now),
        };
        let mut tx = self.store().begin().await.infra()?;
        store::insert_collection(&mut tx, &c, now).await.infra().map_err(|e| {
            if e.code == Code::Conflict {
                Error::new(Code::Conflict, format!("the company already has a collection with alias '{alias}'"))
            } else {
                e
            }
        })?;
        let change = Change::new("create", "collection", c.collection_id, Some(c.company_id)).diff(None, Some(&c));
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.index().set_applied(c.collection_id, Some(0));
        self.collection_for_read(p, c.collection_id).await
    }

    /// `GET /api/collections/`: the caller's company's (ADMIN and OPERATOR: every company's, or
    /// one's with `company_id`), optionally one alias.
    pub async fn list_collections(
        &self,
        p: &Principal,
        company: Option<Uuid>,
        alias: Option<&str>,
        paging: Paging,
    ) -> Result<Page<Collection>> {
        let company = if p.role.is_global() { company } else { Some(p.company_id) };
        let (items, total) = store::list_collections(&mut self.store(), company, alias, paging).await.infra()?;
        Ok(Page { total, items })
    }

    pub async fn get_collection(&self, p: &Principal, id: Uuid) -> Result<Collection> {
        self.collection_for_read(p, id).await
    }

    /// Refuses when analyses refer to the collection (or person), naming some of them.
    async fn check_unreferenced(&self, collection: Uuid, person: Option<Uuid>, what: &str) -> Result<()> {
        let refs = store::referring_analyses(&mut self.store(), collection, person, NAMED_REFS).await.infra()?;
        if refs.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = refs.iter().map(Uuid::to_string).collect();
        Err(Error::new(
            Code::Conflict,
            format!(
                "the {what} cannot be deleted: COLLECTION analyses refer to it ({}{}); delete those analyses first",
                ids.join(", "),
                if refs.len() as i64 == NAMED_REFS { ", …" } else { "" }
            ),
        )
        .with_details(json!({ "analyses": ids })))
    }

    /// `DELETE /api/collections/{id}/`: the collection, its persons, images, files and index.
    pub async fn delete_collection(&self, p: &Principal, id: Uuid) -> Result<()> {
        let c = self.collection_for_read(p, id).await?;
        if !p.can_manage_collection(c.company_id) {
            return Err(Error::forbidden());
        }
        self.check_unreferenced(id, None, "collection").await?;
        let mut tx = self.store().begin().await.infra()?;
        store::delete_collection(&mut tx, id).await.infra()?;
        let change = Change::new("delete", "collection", id, Some(c.company_id)).diff(Some(&c), None);
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.forget_collections(&[id]).await;
        if let Err(e) = self.blob().delete_prefix(&format!("{}/collections/{id}/", c.company_id)).await {
            tracing::error!(collection_id = %id, error = %e, "collection files not removed");
        }
        Ok(())
    }

    /// Starts `POST /api/collections/{id}/persons/` (`person = None`) or
    /// `POST …/persons/{pid}/images/`.
    pub async fn begin_person_upload(
        &self,
        p: &Principal,
        collection_id: Uuid,
        person: Option<Uuid>,
    ) -> Result<PersonUpload> {
        let collection = self.collection_for_read(p, collection_id).await?;
        if !p.can_enroll_person(collection.company_id) {
            return Err(Error::forbidden());
        }
        if let Some(pid) = person {
            self.person_in(&collection, pid).await?;
        }
        Ok(PersonUpload {
            app: self.clone(),
            principal: p.clone(),
            collection,
            person,
            files: Vec::new(),
            tags: HashMap::new(),
            person_meta: None,
            source: None,
            payload_seen: false,
            total: 0,
        })
    }

    async fn person_in(&self, c: &Collection, pid: Uuid) -> Result<Person> {
        store::get_person(&mut self.store(), pid)
            .await
            .infra()?
            .filter(|x| x.collection_id == c.collection_id)
            .ok_or_else(|| Error::not_found("person"))
    }

    /// Decodes one image, finds its single face and embeds it with the collection's model.
    async fn enroll_face(&self, c: &Collection, field: &str, name: Option<&str>, bytes: Bytes) -> Result<Enrolled> {
        let label = match name {
            Some(n) => format!("image '{field}' ({n})"),
            None => format!("image '{field}'"),
        };
        let head = &bytes[..bytes.len().min(SNIFF_LEN)];
        let sniffed = sniff(head, field)?;
        if sniffed.media_type() != MediaType::Image {
            return Err(Error::value(format!("{label} must be a photo (JPEG, PNG, …), not a video or archive")));
        }
        let frame = {
            let _slot = self.decode_slot().await?;
            let frames = vigil_media::decode_frames(bytes.clone(), sniffed.extension(), &self.cfg().media_limits())
                .await
                .map_err(|e| Error::value(format!("{label}: {e}")))?;
            frames.into_iter().next().ok_or_else(|| Error::value(format!("{label} holds no picture")))?
        };
        let (width, height) = frame.dimensions();
        let img = Arc::new(frame);
        let svc = self.inner.plugins.host.services().clone();
        let ctx = CallContext { company_id: c.company_id, plugin: "enrolment".into(), version: String::new() };
        let faces = svc.detect_faces(&ctx, img.clone()).await.map_err(|e| guest_error(&label, e))?;
        let largest = faces.iter().map(|f| f.width.max(f.height)).max().unwrap_or(0) as f32;
        let counted: Vec<&FaceBox> =
            faces.iter().filter(|f| f.width.max(f.height) as f32 >= SECOND_FACE_SIDE * largest).collect();
        let face = match counted.as_slice() {
            [] => return Err(Error::value(format!("{label}: no face found; enrol a photo of one face"))),
            [one] => (*one).clone(),
            many => {
                return Err(Error::value(format!(
                    "{label}: {} faces found; enrol a photo of the person alone",
                    many.len()
                )));
            }
        };
        let (model, vector) = svc
            .embed(&ctx, img, face.clone(), Some(c.embedding_model.clone()))
            .await
            .map_err(|e| guest_error(&label, e))?;
        if model != c.embedding_model {
            return Err(Error::internal(format!(
                "embedded with {model}, the collection is bound to {}",
                c.embedding_model
            )));
        }
        let vector = vigil_index::normalised(&vector).map_err(|e| Error::internal(format!("{label}: {e}")))?;
        let mut md5 = md5::Md5::new();
        md5.update(&bytes);
        Ok(Enrolled {
            image_id: Uuid::new_v4(),
            field: field.to_string(),
            original_name: name.map(str::to_string),
            ext: sniffed.extension(),
            content_type: sniffed.content_type(),
            bytes,
            md5: hex::encode(md5.finalize()),
            width,
            height,
            face,
            vector,
        })
    }

    /// Writes the files, then the rows in one transaction; returns the collection's new faces
    /// version. `written` collects the keys so the caller can remove them on failure.
    async fn store_enrolled(
        &self,
        up: &PersonUpload,
        person_id: Uuid,
        stem: &str,
        enrolled: &[Enrolled],
        written: &mut Vec<String>,
    ) -> Result<i64> {
        let c = &up.collection;
        for e in enrolled {
            let key = format!("{stem}/{}.{}", e.image_id, e.ext);
            written.push(key.clone());
            self.blob().put(&key, e.bytes.clone()).await.infra()?;
        }
        let now = now_micros();
        let mut tx = self.store().begin().await.infra()?;
        let new_person = i64::from(up.person.is_none());
        let version = store::bump_faces(&mut tx, c.collection_id, new_person, enrolled.len() as i64, now)
            .await
            .infra()?
            .ok_or_else(|| Error::not_found("collection"))?;
        if up.person.is_none() {
            let person = Person {
                person_id,
                collection_id: c.collection_id,
                company_id: c.company_id,
                images: Vec::new(),
                meta_data: up.person_meta.clone().unwrap_or_else(|| json!({})),
                technical_meta_data: match &up.source {
                    Some(src) => json!({ "created_by": up.principal.user_id, "source": src }),
                    None => json!({ "created_by": up.principal.user_id }),
                },
                time_created: 0.0,
                time_updated: 0.0,
            };
            store::insert_person(&mut tx, &person, now).await.infra()?;
        } else if store::get_person(&mut tx, person_id).await.infra()?.is_none() {
            return Err(Error::not_found("person"));
        }
        for (i, e) in enrolled.iter().enumerate() {
            let img = PersonImage {
                person_image_id: e.image_id,
                person_id,
                collection_id: c.collection_id,
                company_id: c.company_id,
                original_name: e.original_name.clone(),
                tags: up.tags.get(&e.field).cloned().unwrap_or_else(|| vec!["photo_selfie".into()]),
                original_url: String::new(),
                info: MediaInfo {
                    size: e.bytes.len() as i64,
                    content_type: e.content_type.to_string(),
                    width: Some(i64::from(e.width)),
                    height: Some(i64::from(e.height)),
                },
                face: face_json(&e.face),
                embedding_model: c.embedding_model.clone(),
                meta_data: json!({ "field_name": e.field }),
                time_created: 0.0,
                time_updated: 0.0,
                blob_key: format!("{stem}/{}.{}", e.image_id, e.ext),
                md5: Some(e.md5.clone()),
            };
            // One microsecond apart, so images list in the order they were sent.
            store::insert_image(&mut tx, &img, &e.vector, now + i as i64).await.infra()?;
        }
        let images = Value::Array(enrolled.iter().map(|e| json!(e.image_id)).collect());
        let change = if up.person.is_none() {
            Change::new("create", "person", person_id, Some(c.company_id)).field(
                "meta_data",
                Value::Null,
                up.person_meta.clone().unwrap_or(Value::Null),
            )
        } else {
            Change::new("add_images", "person", person_id, Some(c.company_id))
        };
        let change =
            change.field("collection_id", Value::Null, json!(c.collection_id)).field("images", Value::Null, images);
        crate::audit::record(&mut tx, Caller::User(&up.principal), change).await?;
        tx.commit().await.infra()?;
        Ok(version)
    }

    fn image_url(&self, mut i: PersonImage) -> PersonImage {
        let ext = i.blob_key.rsplit('.').next().unwrap_or("jpg").to_string();
        i.original_url =
            format!("{}/static/collections/{}/{}.{ext}", self.cfg().public_url, i.collection_id, i.person_image_id);
        i
    }

    /// A person with its images (no permission check: callers have made it).
    async fn person_view(&self, pid: Uuid) -> Result<Person> {
        let mut person =
            store::get_person(&mut self.store(), pid).await.infra()?.ok_or_else(|| Error::not_found("person"))?;
        person.images = store::images_of_persons(&mut self.store(), &[pid])
            .await
            .infra()?
            .into_iter()
            .map(|i| self.image_url(i))
            .collect();
        Ok(person)
    }

    pub async fn list_persons(&self, p: &Principal, collection_id: Uuid, paging: Paging) -> Result<Page<Person>> {
        let c = self.collection_for_read(p, collection_id).await?;
        let (mut items, total) = store::list_persons(&mut self.store(), c.collection_id, paging).await.infra()?;
        let ids: Vec<Uuid> = items.iter().map(|x| x.person_id).collect();
        let mut images: HashMap<Uuid, Vec<PersonImage>> = HashMap::new();
        for i in store::images_of_persons(&mut self.store(), &ids).await.infra()? {
            images.entry(i.person_id).or_default().push(self.image_url(i));
        }
        for x in &mut items {
            x.images = images.remove(&x.person_id).unwrap_or_default();
        }
        Ok(Page { total, items })
    }

    pub async fn get_person(&self, p: &Principal, collection_id: Uuid, pid: Uuid) -> Result<Person> {
        let c = self.collection_for_read(p, collection_id).await?;
        self.person_in(&c, pid).await?;
        self.person_view(pid).await
    }

    /// `DELETE …/persons/{pid}/`: the person, its images, files and index entries.
    pub async fn delete_person(&self, p: &Principal, collection_id: Uuid, pid: Uuid) -> Result<()> {
        let c = self.collection_for_read(p, collection_id).await?;
        self.person_in(&c, pid).await?;
        if !p.can_manage_collection(c.company_id) {
            return Err(Error::forbidden());
        }
        self.check_unreferenced(collection_id, Some(pid), "person").await?;
        let images = store::image_keys(&mut self.store(), collection_id, Some(pid)).await.infra()?;
        let mut tx = self.store().begin().await.infra()?;
        let version =
            store::bump_faces(&mut tx, collection_id, -1, -(images.len() as i64), now_micros()).await.infra()?;
        store::delete_person(&mut tx, pid).await.infra()?;
        let change = Change::new("delete", "person", pid, Some(c.company_id))
            .field("collection_id", json!(collection_id), Value::Null)
            .field("images", json!(images.len()), Value::Null);
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        if let Some(v) = version {
            self.index_apply(collection_id, v, |idx| {
                for (image, _) in &images {
                    idx.remove(collection_id, *image);
                }
                Ok(())
            })
            .await;
        }
        if let Err(e) = self.blob().delete_prefix(&format!("{}/collections/{collection_id}/{pid}/", c.company_id)).await
        {
            tracing::error!(person_id = %pid, error = %e, "person files not removed");
        }
        Ok(())
    }

    pub async fn list_person_images(
        &self,
        p: &Principal,
        collection_id: Uuid,
        pid: Uuid,
        paging: Paging,
    ) -> Result<Page<PersonImage>> {
        let c = self.collection_for_read(p, collection_id).await?;
        self.person_in(&c, pid).await?;
        let (items, total) = store::list_images(&mut self.store(), pid, paging).await.infra()?;
        Ok(Page { total, items: items.into_iter().map(|i| self.image_url(i)).collect() })
    }

    /// `DELETE …/images/{iid}/`: one image, its file and index entry (a person may be left with
    /// none, and then is found by nobody).
    pub async fn delete_person_image(&self, p: &Principal, collection_id: Uuid, pid: Uuid, iid: Uuid) -> Result<()> {
        let c = self.collection_for_read(p, collection_id).await?;
        if !p.can_manage_collection(c.company_id) {
            self.person_in(&c, pid).await?;
            return Err(Error::forbidden());
        }
        let img = store::get_image(&mut self.store(), iid)
            .await
            .infra()?
            .filter(|i| i.person_id == pid && i.collection_id == collection_id)
            .ok_or_else(|| Error::not_found("person image"))?;
        let mut tx = self.store().begin().await.infra()?;
        let version = store::bump_faces(&mut tx, collection_id, 0, -1, now_micros()).await.infra()?;
        store::delete_image(&mut tx, iid).await.infra()?;
        let change = Change::new("delete", "person_image", iid, Some(c.company_id))
            .field("person_id", json!(pid), Value::Null)
            .field("collection_id", json!(collection_id), Value::Null);
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        if let Some(v) = version {
            self.index_apply(collection_id, v, |idx| {
                idx.remove(collection_id, iid);
                Ok(())
            })
            .await;
        }
        if let Err(e) = self.blob().delete(&img.blob_key).await {
            tracing::error!(person_image_id = %iid, error = %e, "person image file not removed");
        }
        Ok(())
    }

    /// `/static/collections/{collection_id}/{image_id}.{ext}`: always permission-checked (a
    /// watch-list photo is personal data whoever links to it).
    pub async fn person_image_file(
        &self,
        p: Visitor<'_>,
        collection_id: Uuid,
        file: &str,
    ) -> Result<crate::media::FileBody> {
        let not_found = || Error::not_found("file");
        let Visitor::User(p) = p else {
            return Err(Error::new(
                Code::AuthNotProvided,
                "access token not provided; send it in the X-Forensic-Access-Token header",
            ));
        };
        let (stem, ext) = file.rsplit_once('.').ok_or_else(not_found)?;
        let iid = Uuid::parse_str(stem).map_err(|_| not_found())?;
        let img = store::get_image(&mut self.store(), iid)
            .await
            .infra()?
            .filter(|i| i.collection_id == collection_id && p.can_read_collection(i.company_id))
            .filter(|i| i.blob_key.ends_with(&format!(".{ext}")))
            .ok_or_else(not_found)?;
        let size = self.blob().size(&img.blob_key).await.infra()?;
        let stream = self.blob().stream(&img.blob_key).await.infra()?;
        Ok(crate::media::FileBody { content_type: img.info.content_type, size, stream: Box::pin(stream) })
    }

    /// The `source` of every person of a collection enrolled in bulk (to resume an enrolment).
    pub async fn enrolled_sources(&self, p: &Principal, collection_id: Uuid) -> Result<HashSet<String>> {
        let c = self.collection_for_read(p, collection_id).await?;
        Ok(store::person_sources(&mut self.store(), c.collection_id).await.infra()?.into_iter().collect())
    }

    /// A collection by id, or by alias within `company`.
    pub async fn find_collection(&self, p: &Principal, key: &str, company: Option<Uuid>) -> Result<Collection> {
        if let Ok(id) = Uuid::parse_str(key.trim()) {
            return self.collection_for_read(p, id).await;
        }
        let company = company.ok_or_else(|| {
            Error::value(format!("'{key}' is not a collection id: name the company to look the alias up in"))
        })?;
        let paging = Paging { offset: 0, limit: 1, total_omit: true };
        let (found, _) =
            store::list_collections(&mut self.store(), Some(company), Some(key.trim()), paging).await.infra()?;
        let c = found.into_iter().next().ok_or_else(|| Error::not_found("collection"))?;
        self.collection_for_read(p, c.collection_id).await
    }

    /// Brings one collection's index up to the database (loading it in a fresh process).
    pub async fn sync_collection_index(&self, collection_id: Uuid) -> Result<()> {
        self.index_sync(collection_id).await
    }

    /// Per collection: the faces its index holds, and whether it is up to date with the database.
    pub async fn index_stats(&self, collection_id: Uuid) -> Result<(usize, bool)> {
        if self.pgvector().await {
            let faces =
                store::get_collection(&mut self.store(), collection_id).await.infra()?.map_or(0, |c| c.images_count);
            let filled = vigil_store::vectors::filled(&mut self.store(), collection_id).await.infra()?;
            return Ok((filled.max(0) as usize, filled == faces));
        }
        let version = store::faces_version(&mut self.store(), collection_id).await.infra()?;
        let cache = self.index();
        Ok((cache.index.len(collection_id), version.is_some() && cache.applied(collection_id) == version))
    }

    /// Brings every collection's index up to date now (the `vigil collection reindex` command).
    pub async fn reindex(&self, collection: Option<Uuid>) -> Result<usize> {
        if self.pgvector().await {
            let all: Vec<Uuid> = match collection {
                Some(c) => vec![c],
                None => store::all_collections(&mut self.store()).await.infra()?.into_iter().map(|c| c.0).collect(),
            };
            let mut faces = 0;
            for c in all {
                self.vectors_sync(c, 0, None).await?;
                let n = vigil_store::vectors::filled(&mut self.store(), c).await.infra()?;
                let dim = store::faces_of_collection_first(&mut self.store(), c)
                    .await
                    .infra()?
                    .and_then(|b| store::embedding_values(&b))
                    .map(|v| v.len());
                if let Some(dim) = dim.filter(|_| n >= vigil_store::vectors::HNSW_FROM) {
                    vigil_store::vectors::ensure_hnsw(&self.store(), c, dim).await.infra()?;
                    self.index().pg.hnsw.lock().unwrap_or_else(PoisonError::into_inner).insert(c);
                }
                faces += n.max(0) as usize;
            }
            return Ok(faces);
        }
        match collection {
            Some(c) => {
                self.forget_collections(&[c]).await;
                self.index_sync(c).await?;
                Ok(self.index().index.len(c))
            }
            None => {
                let all: Vec<Uuid> =
                    store::all_collections(&mut self.store()).await.infra()?.into_iter().map(|c| c.0).collect();
                self.forget_collections(&all).await;
                self.warm_face_index().await
            }
        }
    }

    /// What a plugin of `company` may search.
    pub(crate) async fn plugin_collections(&self, company: Uuid) -> Result<Vec<CollectionInfo>> {
        let paging = Paging { offset: 0, limit: vigil_domain::filter::MAX_LIMIT, total_omit: true };
        let (list, _) = store::list_collections(&mut self.store(), Some(company), None, paging).await.infra()?;
        Ok(list
            .into_iter()
            .map(|c| CollectionInfo {
                collection_id: c.collection_id.to_string(),
                alias: c.alias,
                embedding_model: c.embedding_model,
                persons: c.persons_count.max(0) as u64,
                faces: c.images_count.max(0) as u64,
            })
            .collect())
    }

    /// The search behind WIT `collections.search`: persons of one of `company`'s collections most
    /// like `query` (an embedding of `model`), scored on the model's calibrated scale.
    pub(crate) async fn plugin_search(
        &self,
        company: Uuid,
        collection: &str,
        model: &str,
        query: Vec<f32>,
        limit: u32,
    ) -> std::result::Result<Vec<(String, f32)>, GuestError> {
        let host = |e: Error| GuestError::Host(e.message);
        let id = Uuid::parse_str(collection.trim())
            .map_err(|_| GuestError::InvalidInput(format!("'{collection}' is not a collection id")))?;
        let c = store::get_collection(&mut self.store(), id)
            .await
            .map_err(|e| GuestError::Host(e.to_string()))?
            .filter(|c| c.company_id == company)
            .ok_or_else(|| GuestError::InvalidInput(format!("collection {collection} does not exist")))?;
        if c.embedding_model != model {
            return Err(GuestError::InvalidInput(format!(
                "collection {} ('{}') holds faces embedded with {}; the query was embedded with {model}",
                c.collection_id, c.alias, c.embedding_model
            )));
        }
        if c.images_count == 0 {
            return Ok(Vec::new());
        }
        let k = limit.clamp(1, MAX_SEARCH_LIMIT) as usize;
        // Normalised once: the index searches with it and the re-scoring below reuses it.
        let q = Arc::new(vigil_index::normalised(&query).map_err(|e| GuestError::InvalidInput(e.to_string()))?);
        let wanted = k.max(vigil_index::RESCORED);
        // (image, person) candidates: one per person from an in-process index, faces (so twice
        // as many) from pgvector.
        let hits: Vec<(Uuid, Uuid)> = if self.pgvector().await {
            self.vectors_sync(id, c.images_count, Some(q.len())).await.map_err(host)?;
            vigil_store::vectors::search(&self.store(), id, &q, 2 * wanted as i64, self.index().pg.ef)
                .await
                .map_err(|e| GuestError::Host(e.to_string()))?
        } else {
            self.index_sync(id).await.map_err(host)?;
            let index = self.index().index.clone();
            let q_search = q.clone();
            tokio::task::spawn_blocking(move || index.search(id, &q_search, wanted, -1.0))
                .await
                .map_err(|e| GuestError::Host(format!("search task failed: {e}")))?
                .map_err(|e| GuestError::InvalidInput(e.to_string()))?
                .into_iter()
                .map(|h| (h.image_id, h.person_id))
                .collect()
        };
        // The index proposes; the stored embeddings decide: each hit is scored again in full
        // precision (an approximate index holds quantised vectors), and the order follows.
        let images: Vec<Uuid> = hits.iter().map(|h| h.0).collect();
        let stored =
            store::faces_by_ids(&mut self.store(), id, &images).await.map_err(|e| GuestError::Host(e.to_string()))?;
        let exact: HashMap<Uuid, Vec<f32>> = stored
            .into_iter()
            .filter_map(|(image, _, _, bytes)| Some((image, store::embedding_values(&bytes)?)))
            .collect();
        let mut scored: Vec<(Uuid, f32)> = hits
            .iter()
            .filter_map(|(image, person)| {
                // A face deleted since the index was read is no hit.
                let v = exact.get(image)?;
                Some((*person, v.iter().zip(q.iter()).map(|(a, b)| a * b).sum::<f32>()))
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        // A person once, with their best face.
        let mut seen = HashSet::new();
        scored.retain(|(person, _)| seen.insert(*person));
        scored.truncate(k);
        let svc = self.inner.plugins.host.services().clone();
        scored.into_iter().map(|(person, cosine)| Ok((person.to_string(), svc.confidence(model, cosine)?))).collect()
    }

    /// Records, in the transaction that finishes a COLLECTION analysis, which collections it
    /// searched and which persons it found (read from its result), so they cannot be deleted
    /// from under it.
    pub(crate) async fn record_collection_refs(
        &self,
        ex: &mut impl vigil_store::Exec,
        analyse_id: Uuid,
        company: Uuid,
        results: &Value,
    ) -> Result<()> {
        let uuid = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let mut refs: Vec<(Uuid, Option<Uuid>)> = Vec::new();
        for c in results.get("collections").and_then(Value::as_array).into_iter().flatten() {
            if let Some(id) = uuid(c.get("collection_id")) {
                refs.push((id, None));
            }
        }
        for m in results.get("matches").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(c), Some(p)) = (uuid(m.get("collection_id")), uuid(m.get("person_id"))) {
                refs.push((c, Some(p)));
            }
        }
        refs.sort();
        refs.dedup();
        for (c, p) in refs.into_iter().take(256) {
            store::add_ref(ex, analyse_id, company, c, p).await.infra()?;
        }
        Ok(())
    }
}

/// Person metadata must be an object; `person_info` (if any) an object of strings.
pub fn check_person_meta(v: &Value) -> Result<()> {
    let Value::Object(m) = v else {
        return Err(Error::value("meta_data must be a JSON object"));
    };
    if let Some(info) = m.get("person_info")
        && !matches!(info, Value::Object(_) | Value::Null)
    {
        return Err(Error::value("person_info must be a JSON object (first_name, middle_name, last_name)"));
    }
    Ok(())
}
