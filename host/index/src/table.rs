//! The rows of one collection as flat arrays: what the scanning backends share. Each face is a
//! row of values in each of two planes (the second may be empty), side by side, so a search is
//! one pass over the memory of a plane, with its ids beside it.

use crate::{Entry, Hit, IndexError, normalised};
use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use uuid::Uuid;

/// How a unit vector becomes a row in the two planes.
pub(crate) type Encode<T> = fn(&[f32]) -> (Vec<T>, Vec<T>);

/// The tables of every collection, and how a face (normalised) becomes a row: the shared half of
/// the scanning backends, each adding its own search.
pub(crate) struct Tables<T> {
    all: RwLock<HashMap<Uuid, Table<T>>>,
    encode: Encode<T>,
}

impl<T: Copy> Tables<T> {
    pub fn new(encode: Encode<T>) -> Tables<T> {
        Tables { all: RwLock::new(HashMap::new()), encode }
    }

    fn add(&self, faces: &mut Table<T>, e: Entry) -> Result<(), IndexError> {
        faces.check(e.vector.len())?;
        let (data, side) = (self.encode)(&normalised(&e.vector)?);
        faces.upsert(e.image_id, e.person_id, e.vector.len(), &data, &side)
    }

    pub fn upsert(&self, collection: Uuid, entry: Entry) -> Result<(), IndexError> {
        let mut all = self.all.write().unwrap_or_else(PoisonError::into_inner);
        self.add(all.entry(collection).or_insert_with(Table::empty), entry)
    }

    pub fn remove(&self, collection: Uuid, image_id: Uuid) -> bool {
        let mut all = self.all.write().unwrap_or_else(PoisonError::into_inner);
        all.get_mut(&collection).is_some_and(|f| f.remove(image_id))
    }

    pub fn drop_collection(&self, collection: Uuid) {
        self.all.write().unwrap_or_else(PoisonError::into_inner).remove(&collection);
    }

    /// Built aside, swapped in whole: a bad entry leaves the old faces in place.
    pub fn rebuild(&self, collection: Uuid, entries: Vec<Entry>) -> Result<(), IndexError> {
        let mut faces = Table::empty();
        for e in entries {
            self.add(&mut faces, e)?;
        }
        self.all.write().unwrap_or_else(PoisonError::into_inner).insert(collection, faces);
        Ok(())
    }

    pub fn len(&self, collection: Uuid) -> usize {
        self.read().get(&collection).map_or(0, Table::len)
    }

    pub fn image_ids(&self, collection: Uuid) -> Vec<Uuid> {
        self.read().get(&collection).map(Table::image_ids).unwrap_or_default()
    }

    pub fn memory_bytes(&self, collection: Uuid) -> usize {
        self.read().get(&collection).map_or(0, Table::memory_bytes)
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<Uuid, Table<T>>> {
        self.all.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A search: `scan` runs on the collection's table once the query's size is checked; an
    /// unknown or empty collection finds nothing.
    pub fn search(
        &self,
        collection: Uuid,
        query_len: usize,
        scan: impl FnOnce(&Table<T>) -> Result<Vec<Hit>, IndexError>,
    ) -> Result<Vec<Hit>, IndexError> {
        let all = self.read();
        let Some(faces) = all.get(&collection).filter(|f| f.len() > 0) else {
            return Ok(Vec::new());
        };
        faces.check(query_len)?;
        scan(faces)
    }
}

/// The [`FaceIndex`](crate::FaceIndex) methods a scanning backend takes from its `tables`.
macro_rules! table_methods {
    () => {
        fn upsert(&self, collection: Uuid, entry: Entry) -> Result<(), IndexError> {
            self.tables.upsert(collection, entry)
        }
        fn remove(&self, collection: Uuid, image_id: Uuid) -> bool {
            self.tables.remove(collection, image_id)
        }
        fn drop_collection(&self, collection: Uuid) {
            self.tables.drop_collection(collection)
        }
        fn rebuild(&self, collection: Uuid, entries: Vec<Entry>) -> Result<(), IndexError> {
            self.tables.rebuild(collection, entries)
        }
        fn len(&self, collection: Uuid) -> usize {
            self.tables.len(collection)
        }
        fn image_ids(&self, collection: Uuid) -> Vec<Uuid> {
            self.tables.image_ids(collection)
        }
    };
}
pub(crate) use table_methods;

pub(crate) struct Table<T> {
    /// The dimension of the embeddings (0 until the first face).
    pub dim: usize,
    /// (image, person) of each row.
    pub ids: Vec<(Uuid, Uuid)>,
    /// Values per row in each plane.
    pub widths: (usize, usize),
    pub data: Vec<T>,
    pub side: Vec<T>,
    /// image id → row.
    rows: HashMap<Uuid, usize>,
}

impl<T: Copy> Table<T> {
    pub fn empty() -> Table<T> {
        Table { dim: 0, ids: Vec::new(), widths: (0, 0), data: Vec::new(), side: Vec::new(), rows: HashMap::new() }
    }

    pub fn check(&self, len: usize) -> Result<(), IndexError> {
        if self.dim != 0 && len != self.dim {
            return Err(IndexError::Dimension { expected: self.dim, got: len });
        }
        Ok(())
    }

    /// Adds a row (`data` and `side` of a `dim`-dimensional face), or replaces the one of the
    /// same image.
    pub fn upsert(
        &mut self,
        image_id: Uuid,
        person_id: Uuid,
        dim: usize,
        data: &[T],
        side: &[T],
    ) -> Result<(), IndexError> {
        self.check(dim)?;
        if self.ids.is_empty() {
            (self.dim, self.widths) = (dim, (data.len(), side.len()));
        }
        let (w0, w1) = self.widths;
        if (data.len(), side.len()) != (w0, w1) {
            return Err(IndexError::Dimension { expected: self.dim, got: dim });
        }
        if let Some(&row) = self.rows.get(&image_id) {
            self.ids[row] = (image_id, person_id);
            self.data[row * w0..(row + 1) * w0].copy_from_slice(data);
            self.side[row * w1..(row + 1) * w1].copy_from_slice(side);
        } else {
            self.rows.insert(image_id, self.ids.len());
            self.ids.push((image_id, person_id));
            self.data.extend_from_slice(data);
            self.side.extend_from_slice(side);
        }
        Ok(())
    }

    pub fn remove(&mut self, image_id: Uuid) -> bool {
        let Some(row) = self.rows.remove(&image_id) else { return false };
        // The last row moves into the hole.
        let last = self.ids.len() - 1;
        let (w0, w1) = self.widths;
        if row != last {
            self.ids[row] = self.ids[last];
            self.data.copy_within(last * w0..(last + 1) * w0, row * w0);
            self.side.copy_within(last * w1..(last + 1) * w1, row * w1);
            self.rows.insert(self.ids[row].0, row);
        }
        self.ids.pop();
        self.data.truncate(last * w0);
        self.side.truncate(last * w1);
        true
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn image_ids(&self) -> Vec<Uuid> {
        self.ids.iter().map(|(image, _)| *image).collect()
    }

    /// Bytes the table holds (its vectors, ids and row map, with the map's slack).
    pub fn memory_bytes(&self) -> usize {
        (self.data.capacity() + self.side.capacity()) * std::mem::size_of::<T>()
            + self.ids.capacity() * 32
            + self.rows.capacity() * (16 + 8 + 1) * 8 / 7
    }
}

/// The first `k` different persons of `rows` (row, cosine), best first, each with its best
/// image; `None` when `rows` holds fewer than `k` persons (the caller may look further).
pub(crate) fn persons(ids: &[(Uuid, Uuid)], mut rows: Vec<(usize, f32)>, k: usize) -> (Vec<Hit>, bool) {
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(ids[a.0].1.cmp(&ids[b.0].1)));
    let mut seen = HashSet::new();
    let mut hits = Vec::with_capacity(k.min(rows.len()));
    for (r, cosine) in rows {
        let (image_id, person_id) = ids[r];
        if hits.len() < k && seen.insert(person_id) {
            hits.push(Hit { person_id, image_id, cosine });
        }
    }
    let enough = hits.len() >= k;
    (hits, enough)
}

/// Deterministic pseudo-random vectors in [-0.5, 0.5) (xorshift): the test data of every
/// backend, so tests need no RNG crate.
#[cfg(test)]
pub(crate) fn test_vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed.max(1);
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f32 / (1u64 << 53) as f32 - 0.5
    };
    (0..n).map(|_| (0..dim).map(|_| next()).collect()).collect()
}
