//! Collections, persons and person images (1:N search), and the analyses that refer to them.
//! Embeddings are stored here as little-endian f32 bytes: the source every face index is built
//! from.

use crate::{Exec, Result, Row, Sql};
use uuid::Uuid;
use vigil_domain::filter::Paging;
use vigil_domain::model::{Collection, MediaInfo, Person, PersonImage};
use vigil_domain::time::Micros;

const COLLECTION_COLS: &str = "collection_id, company_id, alias, embedding_model, meta_data, technical_meta_data, \
     time_created, time_updated, persons_total AS persons_count, faces_total AS images_count";

fn collection_row(r: &dyn Row) -> Result<Collection> {
    Ok(Collection {
        collection_id: r.uuid("collection_id")?,
        alias: r.text("alias")?,
        company_id: r.uuid("company_id")?,
        embedding_model: r.text("embedding_model")?,
        persons_count: r.int("persons_count")?,
        images_count: r.int("images_count")?,
        meta_data: r.json("meta_data")?,
        technical_meta_data: r.json("technical_meta_data")?,
        time_created: r.secs("time_created")?,
        time_updated: r.secs("time_updated")?,
    })
}

pub async fn insert_collection(ex: &mut impl Exec, c: &Collection, now: Micros) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO collections (collection_id, company_id, alias, embedding_model, meta_data, \
         technical_meta_data, time_created, time_updated) VALUES (",
    );
    q.bind(c.collection_id).push(", ").bind(c.company_id).push(", ").bind(c.alias.as_str()).push(", ");
    q.bind(c.embedding_model.as_str()).push(", ").bind(&c.meta_data).push(", ").bind(&c.technical_meta_data);
    q.push(", ").bind(now).push(", ").bind(now).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get_collection(ex: &mut impl Exec, id: Uuid) -> Result<Option<Collection>> {
    let mut q = Sql::new(&format!("SELECT {COLLECTION_COLS} FROM collections WHERE collection_id = "));
    q.bind(id);
    ex.fetch_optional(q, collection_row).await
}

/// A company's collections (all companies' with `None`), oldest first.
pub async fn list_collections(
    ex: &mut impl Exec,
    company: Option<Uuid>,
    alias: Option<&str>,
    paging: Paging,
) -> Result<(Vec<Collection>, Option<i64>)> {
    let mut w = Sql::new(" WHERE 1=1");
    if let Some(c) = company {
        w.push(" AND company_id = ").bind(c);
    }
    if let Some(a) = alias {
        w.push(" AND alias = ").bind(a);
    }
    crate::page(ex, "collections", COLLECTION_COLS, w, "time_created, collection_id", paging, collection_row).await
}

/// Every collection of the deployment: (collection, company, embedding model), for building the
/// face index at start.
pub async fn all_collections(ex: &mut impl Exec) -> Result<Vec<(Uuid, Uuid, String)>> {
    let q = Sql::new("SELECT collection_id, company_id, embedding_model FROM collections ORDER BY time_created");
    ex.fetch_all(q, |r| Ok((r.uuid("collection_id")?, r.uuid("company_id")?, r.text("embedding_model")?))).await
}

pub async fn collections_of_company(ex: &mut impl Exec, company: Uuid) -> Result<Vec<Uuid>> {
    let mut q = Sql::new("SELECT collection_id FROM collections WHERE company_id = ");
    q.bind(company);
    ex.fetch_all(q, |r| r.uuid("collection_id")).await
}

/// Deletes the collection; its persons and images go with it (ON DELETE CASCADE).
pub async fn delete_collection(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM collections WHERE collection_id = ");
    q.bind(id);
    ex.execute(q).await
}

/// Raises the collection's faces version in the transaction that changes its faces (writers of
/// one collection serialise on its row) and moves its person and face counts by the change;
/// returns the new version, `None` when it is gone.
pub async fn bump_faces(ex: &mut impl Exec, id: Uuid, persons: i64, faces: i64, now: Micros) -> Result<Option<i64>> {
    let mut q = Sql::new("UPDATE collections SET faces_version = faces_version + 1, persons_total = persons_total + ");
    q.bind(persons).push(", faces_total = faces_total + ").bind(faces).push(", time_updated = ");
    q.bind(now).push(" WHERE collection_id = ").bind(id);
    if ex.execute(q).await? == 0 {
        return Ok(None);
    }
    faces_version(ex, id).await
}

/// The collection's faces version (see the migration), `None` when it is gone.
pub async fn faces_version(ex: &mut impl Exec, id: Uuid) -> Result<Option<i64>> {
    let mut q = Sql::new("SELECT faces_version FROM collections WHERE collection_id = ");
    q.bind(id);
    ex.fetch_optional(q, |r| r.int("faces_version")).await
}

/// (image, person) of every face of a collection: what an index must hold.
pub async fn face_ids(ex: &mut impl Exec, collection: Uuid) -> Result<Vec<(Uuid, Uuid)>> {
    let mut q = Sql::new("SELECT person_image_id, person_id FROM person_images WHERE collection_id = ");
    q.bind(collection);
    ex.fetch_all(q, |r| Ok((r.uuid("person_image_id")?, r.uuid("person_id")?))).await
}

/// The stored faces of some images of a collection.
pub async fn faces_by_ids(ex: &mut impl Exec, collection: Uuid, images: &[Uuid]) -> Result<Vec<StoredFace>> {
    if images.is_empty() {
        return Ok(Vec::new());
    }
    // By primary key alone: with `collection_id = …` beside it SQLite's planner walks the
    // collection's index (a million rows) instead; the collection is checked on the rows.
    let mut q = Sql::new(
        "SELECT person_image_id, person_id, collection_id, embedding_model, embedding FROM person_images \
         WHERE person_image_id IN ",
    );
    q.bind_list(images.iter().copied());
    let rows = ex
        .fetch_all(q, |r| {
            Ok((
                r.uuid("collection_id")?,
                (r.uuid("person_image_id")?, r.uuid("person_id")?, r.text("embedding_model")?, r.bytes("embedding")?),
            ))
        })
        .await?;
    Ok(rows.into_iter().filter(|(c, _)| *c == collection).map(|(_, f)| f).collect())
}

const PERSON_COLS: &str =
    "person_id, collection_id, company_id, meta_data, technical_meta_data, time_created, time_updated";

fn person_row(r: &dyn Row) -> Result<Person> {
    Ok(Person {
        person_id: r.uuid("person_id")?,
        collection_id: r.uuid("collection_id")?,
        company_id: r.uuid("company_id")?,
        images: Vec::new(),
        meta_data: r.json("meta_data")?,
        technical_meta_data: r.json("technical_meta_data")?,
        time_created: r.secs("time_created")?,
        time_updated: r.secs("time_updated")?,
    })
}

pub async fn insert_person(ex: &mut impl Exec, p: &Person, now: Micros) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO persons ({PERSON_COLS}) VALUES ("));
    q.bind(p.person_id).push(", ").bind(p.collection_id).push(", ").bind(p.company_id).push(", ");
    q.bind(&p.meta_data).push(", ").bind(&p.technical_meta_data).push(", ").bind(now).push(", ").bind(now);
    q.push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get_person(ex: &mut impl Exec, id: Uuid) -> Result<Option<Person>> {
    let mut q = Sql::new(&format!("SELECT {PERSON_COLS} FROM persons WHERE person_id = "));
    q.bind(id);
    ex.fetch_optional(q, person_row).await
}

pub async fn list_persons(ex: &mut impl Exec, collection: Uuid, paging: Paging) -> Result<(Vec<Person>, Option<i64>)> {
    let mut w = Sql::new(" WHERE collection_id = ");
    w.bind(collection);
    crate::page(ex, "persons", PERSON_COLS, w, "time_created, person_id", paging, person_row).await
}

pub async fn delete_person(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM persons WHERE person_id = ");
    q.bind(id);
    ex.execute(q).await
}

const IMAGE_COLS: &str = "person_image_id, person_id, collection_id, company_id, original_name, tags, blob_key, \
     content_type, size, width, height, md5, face, embedding_model, meta_data, time_created, time_updated";

fn image_row(r: &dyn Row) -> Result<PersonImage> {
    let tags = serde_json::from_value(r.json("tags")?)
        .map_err(|e| crate::StoreError::Corrupt { column: "tags".into(), reason: e.to_string() })?;
    Ok(PersonImage {
        person_image_id: r.uuid("person_image_id")?,
        person_id: r.uuid("person_id")?,
        collection_id: r.uuid("collection_id")?,
        company_id: r.uuid("company_id")?,
        original_name: r.opt_text("original_name")?,
        tags,
        original_url: String::new(),
        info: MediaInfo {
            size: r.int("size")?,
            content_type: r.text("content_type")?,
            width: r.opt_int("width")?,
            height: r.opt_int("height")?,
        },
        face: r.json("face")?,
        embedding_model: r.text("embedding_model")?,
        meta_data: r.json("meta_data")?,
        time_created: r.secs("time_created")?,
        time_updated: r.secs("time_updated")?,
        blob_key: r.text("blob_key")?,
        md5: r.opt_text("md5")?,
    })
}

/// The embedding as stored: little-endian f32.
pub fn embedding_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The stored bytes back as f32 values; `None` when the length is not a whole number of them.
pub fn embedding_values(b: &[u8]) -> Option<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    Some(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

pub async fn insert_image(ex: &mut impl Exec, i: &PersonImage, embedding: &[f32], now: Micros) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO person_images ({IMAGE_COLS}, embedding) VALUES ("));
    q.bind(i.person_image_id).push(", ").bind(i.person_id).push(", ").bind(i.collection_id).push(", ");
    q.bind(i.company_id).push(", ").bind(i.original_name.clone()).push(", ");
    q.bind(serde_json::Value::from(i.tags.clone()).to_string()).push(", ").bind(i.blob_key.as_str()).push(", ");
    q.bind(i.info.content_type.as_str()).push(", ").bind(i.info.size).push(", ").bind(i.info.width).push(", ");
    q.bind(i.info.height).push(", ").bind(i.md5.clone()).push(", ").bind(&i.face).push(", ");
    q.bind(i.embedding_model.as_str()).push(", ").bind(&i.meta_data).push(", ").bind(now).push(", ").bind(now);
    q.push(", ").bind(embedding_bytes(embedding)).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get_image(ex: &mut impl Exec, id: Uuid) -> Result<Option<PersonImage>> {
    let mut q = Sql::new(&format!("SELECT {IMAGE_COLS} FROM person_images WHERE person_image_id = "));
    q.bind(id);
    ex.fetch_optional(q, image_row).await
}

pub async fn list_images(ex: &mut impl Exec, person: Uuid, paging: Paging) -> Result<(Vec<PersonImage>, Option<i64>)> {
    let mut w = Sql::new(" WHERE person_id = ");
    w.bind(person);
    crate::page(ex, "person_images", IMAGE_COLS, w, "time_created, person_image_id", paging, image_row).await
}

/// The images of several persons, for filling person objects.
pub async fn images_of_persons(ex: &mut impl Exec, persons: &[Uuid]) -> Result<Vec<PersonImage>> {
    if persons.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(&format!("SELECT {IMAGE_COLS} FROM person_images WHERE person_id IN "));
    q.bind_list(persons.iter().copied()).push(" ORDER BY time_created, person_image_id");
    ex.fetch_all(q, image_row).await
}

/// Blob keys of a person's images (or of a whole collection's with `person = None`).
pub async fn image_keys(ex: &mut impl Exec, collection: Uuid, person: Option<Uuid>) -> Result<Vec<(Uuid, String)>> {
    let mut q = Sql::new("SELECT person_image_id, blob_key FROM person_images WHERE collection_id = ");
    q.bind(collection);
    if let Some(p) = person {
        q.push(" AND person_id = ").bind(p);
    }
    ex.fetch_all(q, |r| Ok((r.uuid("person_image_id")?, r.text("blob_key")?))).await
}

pub async fn delete_image(ex: &mut impl Exec, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM person_images WHERE person_image_id = ");
    q.bind(id);
    ex.execute(q).await
}

/// One stored face: (image, person, model, embedding bytes).
pub type StoredFace = (Uuid, Uuid, String, Vec<u8>);

/// Every face of a collection, in a stable order, for (re)building its index.
pub async fn faces_of_collection(ex: &mut impl Exec, collection: Uuid) -> Result<Vec<StoredFace>> {
    let mut q = Sql::new(
        "SELECT person_image_id, person_id, embedding_model, embedding FROM person_images WHERE collection_id = ",
    );
    q.bind(collection).push(" ORDER BY person_image_id");
    ex.fetch_all(q, |r| {
        Ok((r.uuid("person_image_id")?, r.uuid("person_id")?, r.text("embedding_model")?, r.bytes("embedding")?))
    })
    .await
}

/// The embedding of one face of a collection (any), to learn its size.
pub async fn faces_of_collection_first(ex: &mut impl Exec, collection: Uuid) -> Result<Option<Vec<u8>>> {
    let mut q = Sql::new("SELECT embedding FROM person_images WHERE collection_id = ");
    q.bind(collection).push(" LIMIT 1");
    ex.fetch_optional(q, |r| r.bytes("embedding")).await
}

/// Records that an analysis searched a collection (`person = None`) or found a person in it; only
/// ids of the analysis's own company are recorded.
pub async fn add_ref(
    ex: &mut impl Exec,
    analyse_id: Uuid,
    company: Uuid,
    collection: Uuid,
    person: Option<Uuid>,
) -> Result<u64> {
    let mut q = Sql::new("INSERT INTO analysis_refs (analyse_id, collection_id, person_id) SELECT ");
    q.bind(analyse_id).push(", collection_id, ").bind(person.map(|p| p.to_string()).unwrap_or_default());
    q.push(" FROM collections WHERE collection_id = ").bind(collection).push(" AND company_id = ").bind(company);
    if let Some(p) = person {
        q.push(" AND EXISTS (SELECT 1 FROM persons WHERE person_id = ").bind(p);
        q.push(" AND persons.collection_id = collections.collection_id)");
    }
    q.push(" AND NOT EXISTS (SELECT 1 FROM analysis_refs r WHERE r.analyse_id = ").bind(analyse_id);
    q.push(" AND r.collection_id = ").bind(collection).push(" AND r.person_id = ");
    q.bind(person.map(|p| p.to_string()).unwrap_or_default()).push(")");
    ex.execute(q).await
}

/// The analyses that refer to a collection (any row) or to a person, at most `limit` of them.
pub async fn referring_analyses(
    ex: &mut impl Exec,
    collection: Uuid,
    person: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Uuid>> {
    let mut q = Sql::new("SELECT DISTINCT analyse_id FROM analysis_refs WHERE collection_id = ");
    q.bind(collection);
    if let Some(p) = person {
        q.push(" AND person_id = ").bind(p.to_string());
    }
    q.push(" ORDER BY analyse_id LIMIT ").bind(limit);
    ex.fetch_all(q, |r| r.uuid("analyse_id")).await
}

/// The `source` recorded on the persons of a collection enrolled in bulk.
pub async fn person_sources(ex: &mut impl Exec, collection: Uuid) -> Result<Vec<String>> {
    let mut q = Sql::new("SELECT technical_meta_data FROM persons WHERE collection_id = ");
    q.bind(collection);
    let docs = ex.fetch_all(q, |r| r.json("technical_meta_data")).await?;
    Ok(docs.into_iter().filter_map(|d| d.get("source").and_then(|s| s.as_str()).map(str::to_string)).collect())
}
