//! Synthetic enrolled faces straight in the database, for measuring face indexes at sizes no
//! enrolment over HTTP reaches in a test: deterministic unit vectors, one person each, in one
//! collection of the system company, stored the way enrolment stores them.

use uuid::Uuid;
use vigil_store::{Exec, Sql, Store};

/// Deterministic vectors in [-0.5, 0.5) (xorshift).
pub fn synthetic(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            (0..dim)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect()
        })
        .collect()
}

pub fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

/// `v` moved away by noise: cosine ≈ 0.86 to `v`, as another photo of the same person.
pub fn mated(v: &[f32], noise: &[f32]) -> Vec<f32> {
    unit(&v.iter().zip(unit(noise)).map(|(a, b)| a + 0.6 * b).collect::<Vec<_>>())
}

/// The person and the image id of face `i`.
pub fn person_id(i: usize) -> Uuid {
    Uuid::from_u128(i as u128 + 1)
}
pub fn image_id(i: usize) -> Uuid {
    Uuid::from_u128(i as u128 + 1 + (1 << 64))
}

/// A new collection of the system company holding `faces` (one person each), 500 rows a
/// statement. Panics on a database error (test and benchmark set-up).
pub async fn collection_of(store: &Store, faces: &[Vec<f32>]) -> Uuid {
    let mut ex = store.clone();
    let collection = Uuid::new_v4();
    let company = vigil_store::SYSTEM_COMPANY_ID;
    let mut q = Sql::new(
        "INSERT INTO collections (collection_id, company_id, alias, embedding_model, faces_total, persons_total, \
         time_created, time_updated) VALUES (",
    );
    q.bind(collection).push(", ").bind(company).push(", ").bind(format!("synthetic-{}", collection.simple()));
    q.push(", 'synthetic', ").bind(faces.len() as i64).push(", ").bind(faces.len() as i64).push(", 0, 0)");
    ex.execute(q).await.expect("collection");
    let ids: Vec<usize> = (0..faces.len()).collect();
    for chunk in ids.chunks(500) {
        let mut q =
            Sql::new("INSERT INTO persons (person_id, collection_id, company_id, time_created, time_updated) VALUES ");
        for (j, &i) in chunk.iter().enumerate() {
            q.push(if j == 0 { "(" } else { ", (" }).bind(person_id(i)).push(", ").bind(collection).push(", ");
            q.bind(company).push(", 0, 0)");
        }
        ex.execute(q).await.expect("persons");
        let mut q = Sql::new(
            "INSERT INTO person_images (person_image_id, person_id, collection_id, company_id, blob_key, \
             content_type, size, embedding_model, embedding, time_created, time_updated) VALUES ",
        );
        for (j, &i) in chunk.iter().enumerate() {
            q.push(if j == 0 { "(" } else { ", (" }).bind(image_id(i)).push(", ").bind(person_id(i)).push(", ");
            q.bind(collection).push(", ").bind(company).push(", 'synthetic', 'image/jpeg', 0, 'synthetic', ");
            q.bind(vigil_store::collections::embedding_bytes(&faces[i])).push(", 0, 0)");
        }
        ex.execute(q).await.expect("images");
    }
    collection
}

/// Gives every face of the collection its pgvector vector, as the server does (the unfilled
/// faces, their stored bytes decoded).
pub async fn fill_vectors(store: &Store, collection: Uuid) {
    let mut ex = store.clone();
    loop {
        let rows = vigil_store::vectors::unfilled(&mut ex, collection, 5_000).await.expect("unfilled");
        if rows.is_empty() {
            break;
        }
        let faces: Vec<(Uuid, Vec<f32>)> = rows
            .into_iter()
            .map(|(i, b)| (i, vigil_store::collections::embedding_values(&b).expect("whole f32 values")))
            .collect();
        let mut tx = store.begin().await.expect("begin");
        vigil_store::vectors::fill(&mut tx, &faces).await.expect("fill");
        tx.commit().await.expect("commit");
    }
}

/// The index of the face most similar to `q` (the exact answer).
pub fn exact_best(faces: &[Vec<f32>], q: &[f32]) -> usize {
    let dot = |v: &[f32]| v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>();
    (0..faces.len()).max_by(|&a, &b| dot(&faces[a]).total_cmp(&dot(&faces[b]))).unwrap_or(0)
}
