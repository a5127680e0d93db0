//! The exact scan: every enrolled face compared with the query. Linear in the collection's size
//! (about 0.3 s per million 512-dimensional faces on one core), exact and deterministic, with no
//! structure to keep in step.

use crate::table::{Tables, persons, table_methods};
use crate::{Entry, FaceIndex, Hit, IndexError, normalised};
use uuid::Uuid;

/// The exact scan over every face of a collection, held in memory.
pub struct Exact {
    tables: Tables<f32>,
}

impl Default for Exact {
    fn default() -> Self {
        Exact { tables: Tables::new(|v| (v.to_vec(), Vec::new())) }
    }
}

impl Exact {
    pub fn new() -> Exact {
        Exact::default()
    }
}

impl FaceIndex for Exact {
    table_methods!();

    fn search(&self, collection: Uuid, query: &[f32], k: usize, min_cosine: f32) -> Result<Vec<Hit>, IndexError> {
        self.tables.search(collection, query.len(), |faces| {
            let q = normalised(query)?;
            let scores: Vec<f32> =
                faces.data.chunks_exact(faces.dim).map(|v| v.iter().zip(&q).map(|(a, b)| a * b).sum()).collect();
            let mut rows: Vec<usize> = (0..scores.len()).filter(|&r| scores[r] >= min_cosine).collect();
            // The best rows first, a few per wanted person (persons have several images); more only
            // when those do not hold `k` different persons.
            let mut take = k.saturating_mul(4).max(16);
            let hits = loop {
                let n = take.min(rows.len());
                if n < rows.len() {
                    rows.select_nth_unstable_by(n, |&a, &b| scores[b].total_cmp(&scores[a]));
                }
                let (hits, enough) = persons(&faces.ids, rows[..n].iter().map(|&r| (r, scores[r])).collect(), k);
                if enough || n == rows.len() {
                    break hits;
                }
                take = take.saturating_mul(4);
            };
            Ok(hits)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        crate::table::test_vectors(n, dim, seed)
    }

    fn id(i: u128) -> Uuid {
        Uuid::from_u128(i + 1)
    }

    fn brute_force(entries: &[Entry], q: &[f32]) -> Vec<(Uuid, f32)> {
        let q = normalised(q).unwrap();
        let mut best: HashMap<Uuid, f32> = HashMap::new();
        for e in entries {
            let v = normalised(&e.vector).unwrap();
            let c: f32 = v.iter().zip(&q).map(|(a, b)| a * b).sum();
            let b = best.entry(e.person_id).or_insert(f32::MIN);
            *b = b.max(c);
        }
        let mut out: Vec<(Uuid, f32)> = best.into_iter().collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    #[test]
    fn search_finds_the_most_similar_persons_best_image_first() {
        let idx = Exact::new();
        let c = id(1000);
        let vs = vectors(300, 64, 7);
        // 100 persons with three images each.
        let entries: Vec<Entry> = vs
            .iter()
            .enumerate()
            .map(|(i, v)| Entry { image_id: id(i as u128), person_id: id(i as u128 / 3 + 500), vector: v.clone() })
            .collect();
        for e in &entries {
            idx.upsert(c, e.clone()).unwrap();
        }
        assert_eq!(idx.len(c), 300);
        for q in vectors(20, 64, 99) {
            let hits = idx.search(c, &q, 5, -1.0).unwrap();
            let truth = brute_force(&entries, &q);
            assert_eq!(hits.len(), 5);
            for (h, t) in hits.iter().zip(&truth) {
                assert_eq!(h.person_id, t.0);
                assert!((h.cosine - t.1).abs() < 1e-5);
            }
        }
        // A query equal to an enrolled image finds its person first with cosine 1.
        let hits = idx.search(c, &entries[42].vector, 1, 0.5).unwrap();
        assert_eq!((hits[0].person_id, hits[0].image_id), (entries[42].person_id, entries[42].image_id));
        assert!((hits[0].cosine - 1.0).abs() < 1e-5);
    }

    #[test]
    fn threshold_removal_replacement_and_isolation() {
        let idx = Exact::new();
        let (a, b) = (id(1), id(2));
        let vs = vectors(10, 16, 3);
        for (i, v) in vs.iter().enumerate() {
            idx.upsert(a, Entry { image_id: id(10 + i as u128), person_id: id(100 + i as u128), vector: v.clone() })
                .unwrap();
        }
        // Nothing of collection a shows in b; an unknown collection is empty, not an error.
        assert!(idx.search(b, &vs[0], 5, -1.0).unwrap().is_empty());
        assert!(idx.is_empty(b));
        // The threshold keeps only what reaches it.
        let hits = idx.search(a, &vs[0], 10, 0.99).unwrap();
        assert_eq!(hits.iter().map(|h| h.person_id).collect::<Vec<_>>(), vec![id(100)]);
        // Removed faces are not found; the row moved into the hole still is.
        assert!(idx.remove(a, id(10)));
        assert!(!idx.remove(a, id(10)));
        assert!(idx.search(a, &vs[0], 10, 0.99).unwrap().is_empty());
        let last = idx.search(a, &vs[9], 1, 0.99).unwrap();
        assert_eq!(last[0].image_id, id(19));
        // Upserting an image again replaces its face.
        idx.upsert(a, Entry { image_id: id(19), person_id: id(109), vector: vs[1].clone() }).unwrap();
        assert_eq!(idx.len(a), 9);
        assert!(idx.search(a, &vs[9], 1, 0.99).unwrap().is_empty());
        // Rebuild replaces the collection; drop forgets it.
        idx.rebuild(a, vec![Entry { image_id: id(50), person_id: id(150), vector: vs[5].clone() }]).unwrap();
        assert_eq!(idx.len(a), 1);
        idx.drop_collection(a);
        assert!(idx.is_empty(a));
    }

    #[test]
    fn bad_vectors_and_mismatched_sizes_are_refused() {
        let idx = Exact::new();
        let c = id(1);
        let e = |v: Vec<f32>| Entry { image_id: id(2), person_id: id(3), vector: v };
        assert_eq!(idx.upsert(c, e(vec![])), Err(IndexError::BadVector));
        assert_eq!(idx.upsert(c, e(vec![0.0; 8])), Err(IndexError::BadVector));
        assert_eq!(idx.upsert(c, e(vec![f32::NAN; 8])), Err(IndexError::BadVector));
        idx.upsert(c, e(vec![1.0; 8])).unwrap();
        assert_eq!(idx.upsert(c, e(vec![1.0; 4])), Err(IndexError::Dimension { expected: 8, got: 4 }));
        assert_eq!(idx.search(c, &[1.0; 4], 1, 0.0), Err(IndexError::Dimension { expected: 8, got: 4 }));
        assert_eq!(idx.search(c, &[f32::INFINITY; 8], 1, 0.0), Err(IndexError::BadVector));
        // A rebuild with a bad entry leaves the collection as it was.
        assert!(idx.rebuild(c, vec![e(vec![1.0; 8]), e(vec![0.0; 8])]).is_err());
        assert_eq!(idx.len(c), 1);
    }
}
