//! The pgvector face index (PostgreSQL with the `vector` extension; see migration 0010): each
//! person image's embedding is also kept as a `vector` in `person_images.embedding_vec`, filled
//! in after the fact (NULL means "not indexed yet", found through a partial index), and searched
//! in the database: a collection of at least [`HNSW_FROM`] faces gets its own HNSW index (a
//! partial index on its rows), smaller ones are scanned exactly.
//!
//! Only [`status`] and [`enable`] may be called on SQLite (they say pgvector is unavailable);
//! the rest is for a database where they answered `None`.

use crate::{Exec, Result, Sql, Store};
use uuid::Uuid;

/// Faces from which a collection gets an HNSW index; below it the planner scans the
/// collection's rows exactly (a few milliseconds).
pub const HNSW_FROM: i64 = 10_000;

/// `None` when the pgvector index can serve (PostgreSQL, the extension created, the column
/// there); otherwise why not.
pub async fn status(ex: &mut impl Exec) -> Result<Option<String>> {
    if ex.dialect() != crate::Dialect::Postgres {
        return Ok(Some("pgvector needs PostgreSQL; this database is SQLite".into()));
    }
    let q = Sql::new(
        "SELECT COUNT(*) AS n FROM information_schema.columns \
         WHERE table_name = 'person_images' AND column_name = 'embedding_vec'",
    );
    Ok((ex.fetch_count(q).await? == 0)
        .then(|| "the database has no pgvector column (migration 0010 found no extension)".into()))
}

/// Creates the extension and the column when the server offers pgvector and this role may
/// (what migration 0010 does when the extension was there already); `None` when ready.
pub async fn enable(ex: &mut impl Exec) -> Result<Option<String>> {
    if let Some(why) = status(ex).await? {
        if ex.dialect() != crate::Dialect::Postgres {
            return Ok(Some(why));
        }
        let said = ex.fetch_optional(Sql::new("SELECT vigil_enable_pgvector() AS s"), |r| r.text("s")).await?;
        if let Some(s) = said.filter(|s| s != "ready") {
            return Ok(Some(s));
        }
    }
    status(ex).await
}

/// Up to `limit` faces of a collection not indexed yet: (image, embedding bytes).
pub async fn unfilled(ex: &mut impl Exec, collection: Uuid, limit: i64) -> Result<Vec<(Uuid, Vec<u8>)>> {
    let mut q = Sql::new("SELECT person_image_id, embedding FROM person_images WHERE collection_id = ");
    q.bind(collection).push(" AND embedding_vec IS NULL LIMIT ").bind(limit);
    ex.fetch_all(q, |r| Ok((r.uuid("person_image_id")?, r.bytes("embedding")?))).await
}

/// pgvector's text form of a vector.
fn literal(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 12 + 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x.to_string());
    }
    s.push(']');
    s
}

/// Indexes faces: sets their vector from their embedding, up to 500 in one statement.
pub async fn fill(ex: &mut impl Exec, faces: &[(Uuid, Vec<f32>)]) -> Result<()> {
    for chunk in faces.chunks(500) {
        let mut q = Sql::new("UPDATE person_images SET embedding_vec = CAST(v.vec AS vector) FROM (VALUES ");
        for (i, (image, v)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" }).bind(*image).push(", ").bind(literal(v)).push(")");
        }
        q.push(") AS v (id, vec) WHERE person_images.person_image_id = v.id");
        ex.execute(q).await?;
    }
    Ok(())
}

/// The name of a collection's HNSW index.
fn hnsw_name(collection: Uuid) -> String {
    format!("person_images_hnsw_{}", collection.simple())
}

/// The `limit` faces of a collection nearest to `query` (unit length, `dim` values) by cosine,
/// best first: (image, person). `ef` is the HNSW search breadth (pgvector's `hnsw.ef_search`,
/// at most 1,000).
pub async fn search(store: &Store, collection: Uuid, query: &[f32], limit: i64, ef: i64) -> Result<Vec<(Uuid, Uuid)>> {
    let mut tx = store.begin().await?;
    tx.execute(Sql::new(&format!("SET LOCAL hnsw.ef_search = {}", ef.clamp(1, 1000)))).await?;
    let rows = tx
        .fetch_all(nearest(collection, query, limit, ""), |r| Ok((r.uuid("person_image_id")?, r.uuid("person_id")?)))
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The plan PostgreSQL picks for [`search`] (whether the collection's HNSW index serves).
pub async fn explain(store: &Store, collection: Uuid, query: &[f32], limit: i64, ef: i64) -> Result<String> {
    let mut tx = store.begin().await?;
    tx.execute(Sql::new(&format!("SET LOCAL hnsw.ef_search = {}", ef.clamp(1, 1000)))).await?;
    let lines = tx.fetch_all(nearest(collection, query, limit, "EXPLAIN "), |r| r.text("QUERY PLAN")).await?;
    tx.commit().await?;
    Ok(lines.join("\n"))
}

fn nearest(collection: Uuid, query: &[f32], limit: i64, prefix: &str) -> Sql {
    let dim = query.len();
    // The collection id is written into the statement, not bound: the planner matches a
    // collection's partial HNSW index only against a constant. It is a UUID, nothing else.
    let distance = format!("CAST(embedding_vec AS vector({dim})) <=> CAST($1 AS vector({dim}))");
    let mut q = Sql::new(&format!(
        "{prefix}SELECT person_image_id, person_id FROM person_images WHERE collection_id = '{collection}' \
         AND embedding_vec IS NOT NULL ORDER BY {distance} LIMIT "
    ));
    q.params.push(literal(query).into());
    q.bind(limit);
    q
}

/// Creates the collection's HNSW index over its `dim`-dimensional faces unless it exists (built
/// without blocking writes; minutes at a million faces). Returns whether it is usable.
pub async fn ensure_hnsw(store: &Store, collection: Uuid, dim: usize) -> Result<bool> {
    let name = hnsw_name(collection);
    let mut ex = store.clone();
    let mut q = Sql::new(
        "SELECT COUNT(*) AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = ",
    );
    q.bind(name.as_str()).push(" AND i.indisvalid");
    if ex.fetch_count(q).await? > 0 {
        return Ok(true);
    }
    let mut q = Sql::new("SELECT COUNT(*) AS n FROM person_images WHERE collection_id = ");
    q.bind(collection);
    let faces = ex.fetch_count(q).await?;
    // pgvector builds fast only while the graph fits in maintenance_work_mem; past it, it goes
    // on on disk many times slower. 4 bytes a dimension and ~1.2 KB of links and bookkeeping a
    // face (912 bytes a 128-d face was measured short at a million), for this build alone.
    let mb = (64 + faces * (dim as i64 * 4 + 1200) / (1 << 20)).clamp(64, 4096);
    // A build that died halfway leaves an invalid index behind; it is replaced.
    store
        .on_one_connection(vec![
            Sql::new(&format!("SET maintenance_work_mem = '{mb}MB'")),
            Sql::new(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}")),
            Sql::new(&format!(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON person_images \
                 USING hnsw ((CAST(embedding_vec AS vector({dim}))) vector_cosine_ops) \
                 WHERE collection_id = '{collection}'"
            )),
        ])
        .await?;
    Ok(true)
}

/// Drops a deleted collection's HNSW index, if it had one.
pub async fn drop_hnsw(store: &Store, collection: Uuid) -> Result<()> {
    store.clone().execute(Sql::new(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", hnsw_name(collection)))).await?;
    Ok(())
}

/// Faces of a collection indexed in the database (their vector set).
pub async fn filled(ex: &mut impl Exec, collection: Uuid) -> Result<i64> {
    let mut q = Sql::new("SELECT COUNT(*) AS n FROM person_images WHERE collection_id = ");
    q.bind(collection).push(" AND embedding_vec IS NOT NULL");
    ex.fetch_count(q).await
}
