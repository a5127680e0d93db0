//! Synthetic enrolled faces straight in the database, for measuring face indexes at sizes no
//! enrolment over HTTP reaches in a test: deterministic unit vectors, one person each, in one
//! collection of the system company, stored the way enrolment stores them.

use uuid::Uuid;
use vigil_store::Store;

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

/// Enrols `faces` (unit vectors, one person each: `person_id(first + i)`) into an existing
/// collection the way enrolment stores them — through the store's own inserts, 20,000 rows a
/// transaction — and counts them in the collection. Panics on a database error (set-up).
pub async fn enroll(store: &Store, company: Uuid, collection: Uuid, model: &str, faces: &[Vec<f32>], first: usize) {
    use vigil_domain::model::{MediaInfo, Person, PersonImage};
    use vigil_store::collections as rows;
    for (c, chunk) in faces.chunks(20_000).enumerate() {
        let mut tx = store.begin().await.expect("begin");
        for (j, v) in chunk.iter().enumerate() {
            let i = first + c * 20_000 + j;
            let person = Person {
                person_id: person_id(i),
                collection_id: collection,
                company_id: company,
                images: Vec::new(),
                meta_data: serde_json::json!({}),
                technical_meta_data: serde_json::json!({"source": "synthetic"}),
                time_created: 0.0,
                time_updated: 0.0,
            };
            rows::insert_person(&mut tx, &person, i as i64).await.expect("person");
            let image = PersonImage {
                person_image_id: image_id(i),
                person_id: person_id(i),
                collection_id: collection,
                company_id: company,
                original_name: None,
                tags: vec![],
                original_url: String::new(),
                info: MediaInfo { size: 0, content_type: "image/jpeg".into(), width: None, height: None },
                face: serde_json::json!({}),
                embedding_model: model.to_string(),
                meta_data: serde_json::json!({}),
                time_created: 0.0,
                time_updated: 0.0,
                blob_key: format!("{company}/collections/{collection}/{}/synthetic.jpg", person_id(i)),
                md5: None,
            };
            rows::insert_image(&mut tx, &image, v, i as i64).await.expect("image");
        }
        tx.commit().await.expect("commit");
    }
    let n = faces.len() as i64;
    rows::bump_faces(&mut store.clone(), collection, n, n, 0).await.expect("count");
}

/// A new collection of the system company holding `faces`.
pub async fn collection_of(store: &Store, faces: &[Vec<f32>]) -> Uuid {
    let collection = Uuid::new_v4();
    let company = vigil_store::SYSTEM_COMPANY_ID;
    let c = vigil_domain::model::Collection {
        collection_id: collection,
        alias: format!("synthetic-{}", collection.simple()),
        company_id: company,
        embedding_model: "synthetic".into(),
        persons_count: 0,
        images_count: 0,
        meta_data: serde_json::json!({}),
        technical_meta_data: serde_json::json!({}),
        time_created: 0.0,
        time_updated: 0.0,
    };
    vigil_store::collections::insert_collection(&mut store.clone(), &c, 0).await.expect("collection");
    enroll(store, company, collection, "synthetic", faces, 0).await;
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
        vigil_store::vectors::fill(&mut ex, &faces).await.expect("fill");
    }
}

/// The index of the face most similar to `q` (the exact answer).
pub fn exact_best(faces: &[Vec<f32>], q: &[f32]) -> usize {
    let dot = |v: &[f32]| v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>();
    (0..faces.len()).max_by(|&a, &b| dot(&faces[a]).total_cmp(&dot(&faces[b]))).unwrap_or(0)
}
