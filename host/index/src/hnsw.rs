//! The in-process approximate index: one HNSW graph per collection (USearch). Vectors of up to
//! 512 dimensions are kept in single precision — a face of the default 128-d embedder costs
//! under 1.2 KB with its graph links; a 512-d one about 2.4 KB — and larger ones in 8 bits.
//! Opt-in (`VIGIL_FACE_INDEX=hnsw`): at a million faces it misses some enrolled faces, which the
//! quantised scan does not (docs/COLLECTIONS.md). Optionally persisted, one pair of files per collection, with the
//! faces version of the database it matches; the caller catches up on the rest.
//!
//! Cosines from the graph are those of the quantised vectors: the caller re-scores the few hits
//! it keeps against the stored embeddings when exact scores matter.

use crate::{Entry, FaceIndex, Hit, IndexError, normalised};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};
use uuid::Uuid;

/// Graph and search settings.
#[derive(Debug, Clone)]
pub struct HnswConfig {
    /// Links per node (HNSW's M).
    pub connectivity: usize,
    /// Candidates kept while inserting (efConstruction).
    pub expansion_add: usize,
    /// Candidates kept while searching (ef): recall against speed.
    pub expansion_search: usize,
    /// Where collections are persisted; `None` keeps them in memory only.
    pub dir: Option<PathBuf>,
    /// Threads used to build a collection from scratch.
    pub build_threads: usize,
}

impl Default for HnswConfig {
    fn default() -> Self {
        HnswConfig { connectivity: 16, expansion_add: 64, expansion_search: 256, dir: None, build_threads: 2 }
    }
}

const MAGIC: &[u8; 8] = b"VIGILHN1";

struct Graph {
    index: Index,
    dim: usize,
    scalar: ScalarKind,
    /// key → (image, person)
    keys: HashMap<u64, (Uuid, Uuid)>,
    by_image: HashMap<Uuid, u64>,
    next_key: u64,
}

fn err(e: impl std::fmt::Display) -> IndexError {
    IndexError::Backend(e.to_string())
}

impl Graph {
    fn new(cfg: &HnswConfig, dim: usize, capacity: usize) -> Result<Graph, IndexError> {
        let options = IndexOptions {
            dimensions: dim,
            metric: MetricKind::Cos,
            quantization: quantization(dim),
            connectivity: cfg.connectivity,
            expansion_add: cfg.expansion_add,
            expansion_search: cfg.expansion_search,
            multi: false,
        };
        let index = Index::new(&options).map_err(err)?;
        index.reserve_capacity_and_threads(capacity.max(64), cfg.build_threads.max(1)).map_err(err)?;
        Ok(Graph { index, dim, scalar: quantization(dim), keys: HashMap::new(), by_image: HashMap::new(), next_key: 1 })
    }

    /// Adds a unit vector in the graph's representation.
    fn add(&self, key: u64, v: &[f32]) -> Result<(), IndexError> {
        match self.scalar {
            ScalarKind::I8 => self.index.add(key, &to_i8(v)),
            _ => self.index.add(key, v),
        }
        .map_err(err)
    }

    fn nearest(&self, q: &[f32], count: usize) -> Result<usearch::ffi::Matches, IndexError> {
        match self.scalar {
            ScalarKind::I8 => self.index.search(&to_i8(q), count),
            _ => self.index.search(q, count),
        }
        .map_err(err)
    }

    fn grow(&self, more: usize) -> Result<(), IndexError> {
        let need = self.index.size() + more;
        if need > self.index.capacity() {
            // Doubling keeps insertion amortised.
            let cap = need.max(self.index.capacity() * 2);
            self.index.reserve_capacity_and_threads(cap, 2).map_err(err)?;
        }
        Ok(())
    }

    fn check(&self, v: &[f32]) -> Result<(), IndexError> {
        if v.len() != self.dim {
            return Err(IndexError::Dimension { expected: self.dim, got: v.len() });
        }
        Ok(())
    }

    fn remove(&mut self, image: Uuid) -> bool {
        let Some(key) = self.by_image.remove(&image) else { return false };
        self.keys.remove(&key);
        let _ = self.index.remove(key);
        true
    }

    fn upsert(&mut self, e: Entry) -> Result<(), IndexError> {
        self.check(&e.vector)?;
        let v = normalised(&e.vector)?;
        self.remove(e.image_id);
        self.grow(1)?;
        let key = self.next_key;
        self.next_key += 1;
        self.add(key, &v)?;
        self.keys.insert(key, (e.image_id, e.person_id));
        self.by_image.insert(e.image_id, key);
        Ok(())
    }
}

/// Single precision up to 512 dimensions: 8 bits cost a 512-d collection recall on hard (random)
/// queries (0.82 against 0.89 in single precision, measured with M = 32), and half precision
/// without the SIMD kernels (not built, see Cargo.toml) is slower to convert than it saves.
fn quantization(dim: usize) -> ScalarKind {
    if dim <= 512 { ScalarKind::F32 } else { ScalarKind::I8 }
}

/// A unit vector in 8 bits. USearch's own cast scales a unit vector to ±127, which leaves a
/// 512-d face's components (about ±0.04) a handful of levels; here four standard deviations of
/// a component span the range (cosine does not mind the common scale), the rare larger values
/// clipped.
fn to_i8(v: &[f32]) -> Vec<i8> {
    let scale = 127.0 * (v.len() as f32).sqrt() / 4.0;
    v.iter().map(|x| (x * scale).round().clamp(-127.0, 127.0) as i8).collect()
}

/// The HNSW index of every collection.
pub struct Hnsw {
    cfg: HnswConfig,
    graphs: RwLock<HashMap<Uuid, Arc<RwLock<Graph>>>>,
}

impl Hnsw {
    pub fn new(cfg: HnswConfig) -> Hnsw {
        Hnsw { cfg, graphs: RwLock::new(HashMap::new()) }
    }

    fn graph(&self, c: Uuid) -> Option<Arc<RwLock<Graph>>> {
        self.graphs.read().unwrap_or_else(PoisonError::into_inner).get(&c).cloned()
    }

    fn paths(&self, c: Uuid) -> Option<(PathBuf, PathBuf)> {
        let dir = self.cfg.dir.as_ref()?;
        Some((dir.join(format!("{c}.usearch")), dir.join(format!("{c}.keys"))))
    }

    /// Bytes of memory the collection's graph and vectors take, and its key maps (estimated).
    pub fn memory_bytes(&self, c: Uuid) -> usize {
        self.graph(c).map_or(0, |g| {
            let g = g.read().unwrap_or_else(PoisonError::into_inner);
            // Two hash maps of 16–40-byte entries with their control bytes and slack.
            g.index.memory_usage() + g.keys.len() * (8 + 32 + 16 + 8 + 2) * 8 / 7
        })
    }

    fn build(&self, entries: Vec<Entry>) -> Result<Graph, IndexError> {
        let Some(dim) = entries.first().map(|e| e.vector.len()) else {
            return Graph::new(&self.cfg, 1, 64);
        };
        let mut g = Graph::new(&self.cfg, dim, entries.len())?;
        let mut rows = Vec::with_capacity(entries.len());
        for (i, e) in entries.into_iter().enumerate() {
            g.check(&e.vector)?;
            let v = normalised(&e.vector)?;
            let key = i as u64 + 1;
            g.keys.insert(key, (e.image_id, e.person_id));
            if let Some(old) = g.by_image.insert(e.image_id, key) {
                g.keys.remove(&old);
            }
            rows.push((key, v));
        }
        g.next_key = rows.len() as u64 + 1;
        let live: HashSet<u64> = g.by_image.values().copied().collect();
        rows.retain(|(k, _)| live.contains(k));
        // Inserted from several threads: USearch's graph takes concurrent additions once its
        // capacity and thread slots are reserved.
        let threads = self.cfg.build_threads.max(1);
        let graph = &g;
        let failed = std::thread::scope(|s| {
            let chunks: Vec<_> = rows.chunks(rows.len().div_ceil(threads).max(1)).collect();
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| s.spawn(move || chunk.iter().find_map(|(k, v)| graph.add(*k, v).err())))
                .collect();
            handles.into_iter().find_map(|h| h.join().unwrap_or_else(|_| Some(err("index build thread panicked"))))
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(g),
        }
    }

    fn save_files(&self, c: Uuid, g: &Graph, version: i64) -> Result<(), IndexError> {
        let Some((graph_path, keys_path)) = self.paths(c) else { return Ok(()) };
        if let Some(dir) = graph_path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp_graph = graph_path.with_extension("usearch.tmp");
        let tmp_keys = keys_path.with_extension("keys.tmp");
        let path_str = tmp_graph.to_str().ok_or_else(|| err("index path is not UTF-8"))?;
        g.index.save(path_str).map_err(err)?;
        let mut out = Vec::with_capacity(40 + g.keys.len() * 40);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(g.dim as u64).to_le_bytes());
        out.extend_from_slice(&g.next_key.to_le_bytes());
        out.extend_from_slice(&(g.keys.len() as u64).to_le_bytes());
        for (k, (image, person)) in &g.keys {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(image.as_bytes());
            out.extend_from_slice(person.as_bytes());
        }
        let mut f = std::fs::File::create(&tmp_keys).map_err(err)?;
        f.write_all(&out).map_err(err)?;
        f.sync_all().map_err(err)?;
        // The keys file is renamed last: a crash in between leaves a graph without its matching
        // keys, which the load refuses (counts differ) and the caller rebuilds.
        std::fs::rename(&tmp_graph, &graph_path).map_err(err)?;
        std::fs::rename(&tmp_keys, &keys_path).map_err(err)?;
        Ok(())
    }

    fn load_files(&self, graph_path: &Path, keys_path: &Path) -> Result<(Graph, i64), IndexError> {
        let mut raw = Vec::new();
        std::fs::File::open(keys_path).map_err(err)?.read_to_end(&mut raw).map_err(err)?;
        let word = |at: usize| -> Result<[u8; 8], IndexError> {
            raw.get(at..at + 8).and_then(|s| s.try_into().ok()).ok_or_else(|| err("keys file is truncated"))
        };
        if raw.get(..8) != Some(MAGIC.as_slice()) {
            return Err(err("not a Vigil index keys file"));
        }
        let version = i64::from_le_bytes(word(8)?);
        let dim = u64::from_le_bytes(word(16)?) as usize;
        let next_key = u64::from_le_bytes(word(24)?);
        let count = u64::from_le_bytes(word(32)?) as usize;
        if raw.len() != 40 + count * 40 {
            return Err(err("keys file is truncated"));
        }
        let path_str = graph_path.to_str().ok_or_else(|| err("index path is not UTF-8"))?;
        let mut g = Graph::new(&self.cfg, dim, 64)?;
        g.index.load(path_str).map_err(err)?;
        g.index.change_expansion_search(self.cfg.expansion_search);
        if g.index.dimensions() != dim || g.index.size() != count {
            return Err(err("graph and keys files disagree"));
        }
        g.next_key = next_key;
        for i in 0..count {
            let at = 40 + i * 40;
            let key = u64::from_le_bytes(word(at)?);
            let id = |o: usize| Uuid::from_slice(&raw[at + o..at + o + 16]).map_err(err);
            let (image, person) = (id(8)?, id(24)?);
            g.keys.insert(key, (image, person));
            g.by_image.insert(image, key);
        }
        Ok((g, version))
    }
}

impl FaceIndex for Hnsw {
    fn upsert(&self, collection: Uuid, entry: Entry) -> Result<(), IndexError> {
        let g = match self.graph(collection) {
            Some(g) => g,
            None => {
                let mut all = self.graphs.write().unwrap_or_else(PoisonError::into_inner);
                let made = Graph::new(&self.cfg, entry.vector.len(), 64)?;
                all.entry(collection).or_insert_with(|| Arc::new(RwLock::new(made))).clone()
            }
        };
        let mut g = g.write().unwrap_or_else(PoisonError::into_inner);
        if g.keys.is_empty() && g.dim != entry.vector.len() {
            *g = Graph::new(&self.cfg, entry.vector.len(), 64)?;
        }
        g.upsert(entry)
    }

    fn remove(&self, collection: Uuid, image_id: Uuid) -> bool {
        self.graph(collection).is_some_and(|g| g.write().unwrap_or_else(PoisonError::into_inner).remove(image_id))
    }

    fn drop_collection(&self, collection: Uuid) {
        self.graphs.write().unwrap_or_else(PoisonError::into_inner).remove(&collection);
        if let Some((a, b)) = self.paths(collection) {
            let _ = std::fs::remove_file(a);
            let _ = std::fs::remove_file(b);
        }
    }

    fn rebuild(&self, collection: Uuid, entries: Vec<Entry>) -> Result<(), IndexError> {
        let g = self.build(entries)?;
        self.graphs.write().unwrap_or_else(PoisonError::into_inner).insert(collection, Arc::new(RwLock::new(g)));
        Ok(())
    }

    fn len(&self, collection: Uuid) -> usize {
        self.graph(collection).map_or(0, |g| g.read().unwrap_or_else(PoisonError::into_inner).keys.len())
    }

    fn image_ids(&self, collection: Uuid) -> Vec<Uuid> {
        self.graph(collection)
            .map(|g| g.read().unwrap_or_else(PoisonError::into_inner).by_image.keys().copied().collect())
            .unwrap_or_default()
    }

    fn search(&self, collection: Uuid, query: &[f32], k: usize, min_cosine: f32) -> Result<Vec<Hit>, IndexError> {
        let Some(g) = self.graph(collection) else { return Ok(Vec::new()) };
        let g = g.read().unwrap_or_else(PoisonError::into_inner);
        if g.keys.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        g.check(query)?;
        let q = normalised(query)?;
        // A few faces per wanted person (persons have several images); more when those hold
        // fewer than k persons.
        let mut count = k.saturating_mul(4).max(16);
        loop {
            let m = g.nearest(&q, count.min(g.keys.len()))?;
            let mut seen = HashSet::new();
            let mut hits = Vec::with_capacity(k);
            for (key, distance) in m.keys.iter().zip(&m.distances) {
                let Some(&(image_id, person_id)) = g.keys.get(key) else { continue };
                let cosine = 1.0 - distance;
                if cosine >= min_cosine && hits.len() < k && seen.insert(person_id) {
                    hits.push(Hit { person_id, image_id, cosine });
                }
            }
            if hits.len() >= k || m.keys.len() < count || count >= g.keys.len() {
                return Ok(hits);
            }
            count = count.saturating_mul(4);
        }
    }

    fn persisted(&self) -> Vec<(Uuid, i64)> {
        let Some(dir) = &self.cfg.dir else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".usearch"))
                .and_then(|n| Uuid::parse_str(n).ok())
            else {
                continue;
            };
            let keys = path.with_extension("keys");
            match self.load_files(&path, &keys) {
                Ok((g, version)) => {
                    self.graphs.write().unwrap_or_else(PoisonError::into_inner).insert(id, Arc::new(RwLock::new(g)));
                    out.push((id, version));
                }
                Err(e) => {
                    tracing::warn!(collection = %id, error = %e, "persisted face index unusable; it will be rebuilt");
                    let _ = std::fs::remove_file(&path);
                    let _ = std::fs::remove_file(&keys);
                }
            }
        }
        out
    }

    fn save(&self, collection: Uuid, version: i64) -> Result<(), IndexError> {
        let Some(g) = self.graph(collection) else { return Ok(()) };
        let g = g.read().unwrap_or_else(PoisonError::into_inner);
        self.save_files(collection, &g, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exact;

    fn vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        crate::table::test_vectors(n, dim, seed | 1)
    }

    fn entries(vs: &[Vec<f32>]) -> Vec<Entry> {
        vs.iter()
            .enumerate()
            .map(|(i, v)| Entry {
                image_id: Uuid::from_u128(i as u128 + 1),
                person_id: Uuid::from_u128(i as u128 + 1_000_000),
                vector: v.clone(),
            })
            .collect()
    }

    /// Recall@1 of the graph against the exact scan, for random queries and for noisy copies of
    /// enrolled faces (the identification case), at each embedder's size, on small collections.
    /// Uniform random vectors are the hardest case there is for a graph (their intrinsic
    /// dimension is the full one): the floors for random queries guard against regressions, they
    /// are not the target; at a million faces even mated recall falls to 0.785, which is why the
    /// graph is not the default (docs/COLLECTIONS.md, `make bench`).
    #[test]
    fn recall_against_exact() {
        for (dim, n, random_min) in [(128, 20_000, 0.5), (512, 10_000, 0.4)] {
            let c = Uuid::new_v4();
            let base = vectors(n, dim, 7 + dim as u64);
            let hnsw = Hnsw::new(HnswConfig::default());
            let exact = Exact::new();
            let t = std::time::Instant::now();
            hnsw.rebuild(c, entries(&base)).unwrap();
            eprintln!("dim {dim}: built {n} in {:?}", t.elapsed());
            exact.rebuild(c, entries(&base)).unwrap();
            let noise = vectors(200, dim, 99);
            let mut agree = [0usize; 2];
            for (i, n) in noise.iter().enumerate() {
                let random = vectors(1, dim, 1000 + i as u64).remove(0);
                let mated: Vec<f32> = base[i * 47].iter().zip(n).map(|(a, b)| a + 0.6 * b).collect();
                for (j, q) in [random, mated].iter().enumerate() {
                    let want = exact.search(c, q, 1, -1.0).unwrap();
                    // As the server uses it: candidates from the graph, scored again in full
                    // precision against the stored embeddings.
                    let qn = normalised(q).unwrap();
                    let best = hnsw
                        .search(c, q, crate::RESCORED, -1.0)
                        .unwrap()
                        .into_iter()
                        .map(|h| {
                            let v = normalised(&base[h.image_id.as_u128() as usize - 1]).unwrap();
                            (h.person_id, v.iter().zip(&qn).map(|(a, b)| a * b).sum::<f32>())
                        })
                        .max_by(|a, b| a.1.total_cmp(&b.1));
                    agree[j] += usize::from(best.map(|b| b.0) == want.first().map(|h| h.person_id));
                }
            }
            let (random, mated) = (agree[0] as f64 / 200.0, agree[1] as f64 / 200.0);
            assert!(mated >= 0.99, "dim {dim}: recall@1 of mated queries {mated}");
            eprintln!("dim {dim}: recall@1 random {random}, mated {mated}");
            assert!(random >= random_min, "dim {dim}: recall@1 of random queries {random}");
        }
    }

    #[test]
    fn writes_removes_and_survives_a_save() {
        let dir = std::env::temp_dir().join(format!("vigil-hnsw-{}", Uuid::new_v4()));
        let cfg = HnswConfig { dir: Some(dir.clone()), ..HnswConfig::default() };
        let c = Uuid::new_v4();
        let base = vectors(500, 128, 3);
        let h = Hnsw::new(cfg.clone());
        for e in entries(&base) {
            h.upsert(c, e).unwrap();
        }
        assert_eq!(h.len(c), 500);
        let gone = Uuid::from_u128(11);
        assert!(h.remove(c, gone));
        assert!(!h.remove(c, gone));
        let hit = h.search(c, &base[10], 1, 0.9).unwrap();
        assert!(hit.is_empty() || hit[0].image_id != gone, "{hit:?}");
        assert_eq!(h.search(c, &base[20], 1, 0.99).unwrap()[0].image_id, Uuid::from_u128(21));
        assert!(matches!(h.search(c, &[1.0; 3], 1, 0.0), Err(IndexError::Dimension { .. })));
        h.save(c, 42).unwrap();

        let again = Hnsw::new(cfg);
        assert_eq!(again.persisted(), vec![(c, 42)]);
        assert_eq!(again.len(c), 499);
        assert_eq!(again.search(c, &base[20], 1, 0.99).unwrap()[0].image_id, Uuid::from_u128(21));
        again.drop_collection(c);
        assert!(std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) == 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}
