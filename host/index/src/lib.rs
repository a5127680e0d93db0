//! Face indexes for 1:N search: the faces enrolled in a company's collections, searched for the
//! persons most similar to a query face.
//!
//! One interface, [`FaceIndex`], in front of every backend. The database is the source of truth
//! (each person image's embedding is stored there with the model that made it); an index is a
//! cache of it that can always be rebuilt with [`FaceIndex::rebuild`]. Backends: the exact scan,
//! [`Exact`] (always correct, the oracle the others are measured against), [`QuantisedScan`]
//! (every face through 4- and 8-bit copies: the default), and [`Hnsw`], an HNSW graph per
//! collection, optionally persisted.
//!
//! Scores are raw cosine similarities of L2-normalised embeddings; mapping them onto Vigil's
//! calibrated confidence scale is the caller's business (it depends on the embedding model).

mod exact;
mod hnsw;
mod quantised;
mod table;

pub use exact::Exact;
pub use hnsw::{Hnsw, HnswConfig};
pub use quantised::QuantisedScan;
use uuid::Uuid;

/// One enrolled face: a person image's embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub image_id: Uuid,
    pub person_id: Uuid,
    pub vector: Vec<f32>,
}

/// A person found by a search: the best of the person's images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub person_id: Uuid,
    /// The person image that matched best.
    pub image_id: Uuid,
    /// Cosine similarity in [-1, 1].
    pub cosine: f32,
}

/// Why an index refused an operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndexError {
    /// A collection holds embeddings of one size (one model); another size is a mismatch.
    #[error("the collection holds {expected}-dimensional embeddings, got {got}")]
    Dimension { expected: usize, got: usize },
    /// Empty, all-zero, or with NaN or infinite values.
    #[error("the embedding is unusable (empty, zero or not finite)")]
    BadVector,
    /// The backend failed (a graph operation, a persisted file).
    #[error("face index: {0}")]
    Backend(String),
}

/// A per-collection index of enrolled faces. Implementations are safe to share between threads;
/// writes to one collection never show in another.
pub trait FaceIndex: Send + Sync {
    /// Adds a face, or replaces the one with the same image id.
    fn upsert(&self, collection: Uuid, entry: Entry) -> Result<(), IndexError>;
    /// Removes a face; `false` when it was not there.
    fn remove(&self, collection: Uuid, image_id: Uuid) -> bool;
    /// Forgets a whole collection.
    fn drop_collection(&self, collection: Uuid);
    /// Replaces a collection's faces with `entries` (from the database, the source of truth).
    fn rebuild(&self, collection: Uuid, entries: Vec<Entry>) -> Result<(), IndexError>;
    /// The faces enrolled in a collection.
    fn len(&self, collection: Uuid) -> usize;
    /// The image ids of a collection's faces (to compare an index with the database).
    fn image_ids(&self, collection: Uuid) -> Vec<Uuid>;
    /// Whether a collection has no face (an unknown collection is empty, not an error).
    fn is_empty(&self, collection: Uuid) -> bool {
        self.len(collection) == 0
    }
    /// The `k` persons most similar to `query` with a cosine of at least `min_cosine`, best first,
    /// one hit per person (their best image). Searching an empty or unknown collection finds
    /// nothing; a query of the wrong size is an error.
    fn search(&self, collection: Uuid, query: &[f32], k: usize, min_cosine: f32) -> Result<Vec<Hit>, IndexError>;
    /// Loads the collections persisted by an earlier process; returns each with the database
    /// faces version it was saved at. Backends that keep nothing return nothing.
    fn persisted(&self) -> Vec<(Uuid, i64)> {
        Vec::new()
    }
    /// Persists a collection as matching the database's faces `version` (no-op when the backend
    /// keeps nothing).
    fn save(&self, _collection: Uuid, _version: i64) -> Result<(), IndexError> {
        Ok(())
    }
}

/// Candidates a caller should ask an approximate index for and score again against the stored
/// embeddings before keeping the best few: the graph's order is that of quantised vectors.
pub const RESCORED: usize = 64;

/// `v` scaled to unit length, or an error for a vector that has none.
pub fn normalised(v: &[f32]) -> Result<Vec<f32>, IndexError> {
    if v.is_empty() || !v.iter().all(|x| x.is_finite()) {
        return Err(IndexError::BadVector);
    }
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if norm <= 1e-12 {
        return Err(IndexError::BadVector);
    }
    Ok(v.iter().map(|x| (f64::from(*x) / norm) as f32).collect())
}
