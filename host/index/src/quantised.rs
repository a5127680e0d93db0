//! The quantised scan: every enrolled face compared with the query, in two passes over
//! quantised copies. The first pass reads every face in 4 bits per dimension (an eighth of the
//! exact scan's memory traffic), on as many threads as the machine lends it, against the query
//! in full 8-bit precision; the few hundred best are scored again from their 8-bit copies, and
//! the best of those proposed. The caller scores the proposals once more against the stored
//! embeddings, so only a face whose quantised cosine falls behind hundreds of others it truly
//! beats could be missed: the rounding errors (below 0.01 in cosine at 128 dimensions) are far
//! smaller than the gaps that would take.
//!
//! Unlike a graph, nothing here depends on how the faces are spread: random vectors, the worst
//! case of a graph, are found as reliably as real faces.

use crate::table::{Tables, persons, table_methods};
use crate::{Entry, FaceIndex, Hit, IndexError, normalised};
use uuid::Uuid;

/// Below this many faces one thread scans (starting threads costs more than it saves).
const PARALLEL_FROM: usize = 32_768;
/// Faces scored per block before their scores are sifted.
const BLOCK: usize = 1024;
/// First-pass survivors per candidate proposed (and at least [`FIRST_PASS_MIN`]).
const FIRST_PASS_FACTOR: usize = 2;
const FIRST_PASS_MIN: usize = 256;

/// A face's row: 4-bit codes (`data`, two dimensions a byte: dimension j in the low half of
/// byte j, dimension j + ⌈dim/2⌉ in the high half, offset by 8) and 8-bit codes (`side`).
fn encode(v: &[f32]) -> (Vec<u8>, Vec<u8>) {
    (quantise4(v), quantise8(v).into_iter().map(|c| c as u8).collect())
}

/// The scale of a unit vector's 8-bit codes: four standard deviations of a component span
/// ±127 (the rare larger values are clipped); the cosine does not mind a common scale.
fn scale8(dim: usize) -> f32 {
    127.0 * (dim as f32).sqrt() / 4.0
}

/// The scale of the 4-bit codes: one step is a third of a component's standard deviation (near
/// the best uniform 16-level quantiser of a normal value), about ±2.7 deviations in range.
fn scale4(dim: usize) -> f32 {
    (dim as f32).sqrt() * 3.0
}

fn quantise8(v: &[f32]) -> Vec<i8> {
    let s = scale8(v.len());
    v.iter().map(|x| (x * s).round().clamp(-127.0, 127.0) as i8).collect()
}

fn quantise4(v: &[f32]) -> Vec<u8> {
    let s = scale4(v.len());
    let half = v.len().div_ceil(2);
    let code = |i: usize| v.get(i).map_or(8, |x| ((x * s).round().clamp(-8.0, 7.0) + 8.0) as u8);
    (0..half).map(|j| code(j) | (code(j + half) << 4)).collect()
}

/// The quantised scan over every face of a collection, held in memory.
pub struct QuantisedScan {
    tables: Tables<u8>,
    threads: usize,
}

impl Default for QuantisedScan {
    fn default() -> Self {
        QuantisedScan::new(std::thread::available_parallelism().map_or(1, |n| n.get()).min(8))
    }
}

impl QuantisedScan {
    /// A scan using up to `threads` threads per search of a large collection.
    pub fn new(threads: usize) -> QuantisedScan {
        QuantisedScan { tables: Tables::new(encode), threads: threads.max(1) }
    }

    /// Bytes the collection's codes, ids and row map take.
    pub fn memory_bytes(&self, collection: Uuid) -> usize {
        self.tables.memory_bytes(collection)
    }
}

impl FaceIndex for QuantisedScan {
    table_methods!();

    /// Cosines of the hits are those of the 8-bit codes; `min_cosine` is applied to them less
    /// their rounding error, so that no face reaching it in full precision is left out.
    fn search(&self, collection: Uuid, query: &[f32], k: usize, min_cosine: f32) -> Result<Vec<Hit>, IndexError> {
        self.tables.search(collection, query.len(), |faces| {
            let dim = faces.dim;
            let half = dim.div_ceil(2);
            let q8 = quantise8(&normalised(query)?);
            let lo8 = q8[..half].to_vec();
            let mut hi8 = q8[half..].to_vec();
            hi8.resize(half, 0);
            let offset: i32 = 8 * q8.iter().map(|&x| i32::from(x)).sum::<i32>();
            let unit8 = scale8(dim) * scale8(dim);
            let unit4 = scale8(dim) * scale4(dim);
            // Margins for the rounding of each pass, so that the floor drops nothing it should keep.
            let floor4 = ((min_cosine - 0.1) * unit4).floor().max(i32::MIN as f32) as i32;
            let floor8 = ((min_cosine - 0.02) * unit8).floor().max(i32::MIN as f32) as i32;
            let threads = if faces.len() >= PARALLEL_FROM { self.threads } else { 1 };
            let query = Query { lo8, hi8, offset };
            // The best rows, a few per wanted person (persons have several images); more only when
            // those do not hold `k` different persons.
            let mut take = k.saturating_mul(4).max(16);
            loop {
                let first = take.saturating_mul(FIRST_PASS_FACTOR).max(FIRST_PASS_MIN);
                let rows = best_rows(&faces.data, half, &query, first, floor4, threads);
                let scanned_all = rows.len() < first;
                let mut second: Vec<(usize, f32)> = rows
                    .into_iter()
                    .filter_map(|(_, r)| {
                        let codes = &faces.side[r * dim..(r + 1) * dim];
                        let s: i32 = codes.iter().zip(&q8).map(|(&a, &b)| i32::from(a as i8) * i32::from(b)).sum();
                        (s >= floor8).then_some((r, s as f32 / unit8))
                    })
                    .collect();
                second.sort_by(|a, b| b.1.total_cmp(&a.1));
                let complete = scanned_all && second.len() <= take;
                second.truncate(take);
                let (hits, enough) = persons(&faces.ids, second, k);
                if enough || complete {
                    return Ok(hits);
                }
                take = take.saturating_mul(4);
            }
        })
    }
}

/// The query of a first pass: its 8-bit values facing each half of the 4-bit codes (zero past
/// the dimension), and what the codes' offset of 8 adds to every dot product.
struct Query {
    lo8: Vec<i8>,
    hi8: Vec<i8>,
    offset: i32,
}

/// The `take` rows with the highest first-pass scores of at least `floor`, as (score, row), over
/// `threads` threads each scanning its share of the rows (`width` bytes each).
fn best_rows(data: &[u8], width: usize, q: &Query, take: usize, floor: i32, threads: usize) -> Vec<(i32, usize)> {
    let n = data.len() / width;
    let share = n.div_ceil(threads).max(1);
    if threads == 1 || n <= share {
        return scan(data, width, q, take, floor, 0);
    }
    let mut all: Vec<(i32, usize)> = std::thread::scope(|s| {
        let parts: Vec<_> = data
            .chunks(share * width)
            .enumerate()
            .map(|(i, part)| s.spawn(move || scan(part, width, q, take, floor, i * share)))
            .collect();
        // A scan thread does not panic (no input reaches one that could make it); if one did,
        // its rows would be missing, not wrong.
        parts.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    all.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    all.truncate(take);
    all
}

/// One thread's share: blocks of rows scored at once; those above the bar are kept, and when
/// twice `take` are kept the best `take` stay and the bar rises to the worst of them.
fn scan(data: &[u8], width: usize, q: &Query, take: usize, floor: i32, first_row: usize) -> Vec<(i32, usize)> {
    let mut kept: Vec<(i32, usize)> = Vec::with_capacity(2 * take + BLOCK);
    let mut scores = vec![0i32; BLOCK];
    let mut bar = floor;
    let best_first = |a: &(i32, usize), b: &(i32, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
    for (b, block) in data.chunks(BLOCK * width).enumerate() {
        let out = &mut scores[..block.len() / width];
        dots(block, width, q, out);
        let base = first_row + b * BLOCK;
        kept.extend(out.iter().enumerate().filter(|&(_, &s)| s >= bar).map(|(i, &s)| (s, base + i)));
        if kept.len() >= 2 * take.max(1) {
            kept.select_nth_unstable_by(take - 1, best_first);
            kept.truncate(take);
            // Only a score above the worst kept one can enter from now on.
            bar = kept.iter().map(|k| k.0).min().map_or(floor, |w| w.saturating_add(1)).max(floor);
        }
    }
    if kept.len() > take {
        kept.select_nth_unstable_by(take - 1, best_first);
        kept.truncate(take);
    }
    kept
}

/// The first-pass dot products of the query with each row of `block`, into `out`.
fn dots(block: &[u8], width: usize, q: &Query, out: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if width.is_multiple_of(32) && std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above), all `avx2::dots` requires.
        #[allow(unsafe_code)]
        unsafe {
            avx2::dots(block, width, q, out)
        };
        return;
    }
    dots_portable(block, width, q, out);
}

fn dots_portable(block: &[u8], width: usize, q: &Query, out: &mut [i32]) {
    for (o, row) in out.iter_mut().zip(block.chunks_exact(width)) {
        let low: i32 = row.iter().zip(&q.lo8).map(|(&b, &l)| i32::from(b & 15) * i32::from(l)).sum();
        let high: i32 = row.iter().zip(&q.hi8).map(|(&b, &h)| i32::from(b >> 4) * i32::from(h)).sum();
        *o = low + high - q.offset;
    }
}

/// The first pass in AVX2: 32 codes' bytes at a time, each half multiplied with the query's
/// bytes and summed in pairs by one instruction (`vpmaddubsw`: unsigned codes times signed
/// query), the 16-bit sums widened every four steps, before they could overflow.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use super::Query;
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX2; `width` must be a multiple of 32.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dots(block: &[u8], width: usize, q: &Query, out: &mut [i32]) {
        let steps = width / 32;
        let nibble = _mm256_set1_epi8(15);
        let ones = _mm256_set1_epi16(1);
        // SAFETY (loads): every pointer is at an offset below `width` of a row of `width` bytes
        // (chunks_exact), or of the query halves, which are `width` bytes long (checked here).
        if q.lo8.len() != width || q.hi8.len() != width {
            return;
        }
        let load = |p: *const i8| unsafe { _mm256_loadu_si256(p.cast::<__m256i>()) };
        for (o, row) in out.iter_mut().zip(block.chunks_exact(width)) {
            let mut acc = _mm256_setzero_si256();
            let mut step = 0;
            while step < steps {
                // Up to four steps summed in 16 bits: 4 × 2 × 2 × 15 × 127 < 2^15.
                let mut sum16 = _mm256_setzero_si256();
                for s in step..(step + 4).min(steps) {
                    let codes = load(unsafe { row.as_ptr().add(s * 32) }.cast::<i8>());
                    let low = _mm256_and_si256(codes, nibble);
                    let high = _mm256_and_si256(_mm256_srli_epi16::<4>(codes), nibble);
                    let ql = load(unsafe { q.lo8.as_ptr().add(s * 32) });
                    let qh = load(unsafe { q.hi8.as_ptr().add(s * 32) });
                    sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(low, ql));
                    sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(high, qh));
                }
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(sum16, ones));
                step += 4;
            }
            let half = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256::<1>(acc));
            let quarter = _mm_add_epi32(half, _mm_shuffle_epi32::<0b01_00_11_10>(half));
            let one = _mm_add_epi32(quarter, _mm_shuffle_epi32::<0b10_11_00_01>(quarter));
            *o = _mm_cvtsi128_si32(one) - q.offset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exact;
    use crate::table::test_vectors;

    fn id(i: u128) -> Uuid {
        Uuid::from_u128(i + 1)
    }

    fn entries(vs: &[Vec<f32>]) -> Vec<Entry> {
        vs.iter()
            .enumerate()
            .map(|(i, v)| Entry {
                image_id: id(i as u128),
                person_id: id(i as u128 / 2 + 1_000_000),
                vector: v.clone(),
            })
            .collect()
    }

    /// The scan's candidates, re-scored in full precision as the server does, name the exact
    /// scan's best person for random queries (the graph's hard case) and mated ones — on one
    /// thread and several, at the embedders' sizes and an odd one.
    #[test]
    fn candidates_hold_the_exact_best() {
        for (dim, n, threads) in [(128, 40_000, 2), (512, 10_000, 1), (100, 3_000, 3)] {
            let base = test_vectors(n, dim, 11 + dim as u64);
            let scan = QuantisedScan::new(threads);
            let exact = Exact::new();
            let c = id(7);
            scan.rebuild(c, entries(&base)).unwrap();
            exact.rebuild(c, entries(&base)).unwrap();
            let noise = test_vectors(200, dim, 5);
            let mut queries = test_vectors(200, dim, 3 + dim as u64);
            queries.extend((0..200).map(|i| {
                let b = normalised(&base[(i * 37) % n]).unwrap();
                let e = normalised(&noise[i]).unwrap();
                b.iter().zip(&e).map(|(x, y)| x + 0.6 * y).collect::<Vec<f32>>()
            }));
            for q in &queries {
                let qn = normalised(q).unwrap();
                let want = exact.search(c, q, 1, -1.0).unwrap()[0];
                let got = scan.search(c, q, crate::RESCORED, -1.0).unwrap();
                assert_eq!(got.len(), crate::RESCORED);
                let best = got
                    .iter()
                    .map(|h| {
                        let v = normalised(&base[h.image_id.as_u128() as usize - 1]).unwrap();
                        (h.person_id, v.iter().zip(&qn).map(|(a, b)| a * b).sum::<f32>())
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap();
                assert_eq!(best.0, want.person_id, "dim {dim}");
                // The 8-bit cosine is close to the true one.
                let h = got.iter().find(|h| h.person_id == want.person_id).unwrap();
                assert!((h.cosine - want.cosine).abs() < 0.02, "dim {dim}: {} vs {}", h.cosine, want.cosine);
            }
        }
    }

    #[test]
    fn threshold_removal_replacement_isolation_and_bad_input() {
        let idx = QuantisedScan::new(2);
        let (a, b) = (id(1), id(2));
        let vs = test_vectors(10, 16, 3);
        for (i, v) in vs.iter().enumerate() {
            idx.upsert(a, Entry { image_id: id(10 + i as u128), person_id: id(100 + i as u128), vector: v.clone() })
                .unwrap();
        }
        assert!(idx.search(b, &vs[0], 5, -1.0).unwrap().is_empty());
        let hits = idx.search(a, &vs[0], 10, 0.95).unwrap();
        assert_eq!(hits.iter().map(|h| h.person_id).collect::<Vec<_>>(), vec![id(100)]);
        assert!(idx.remove(a, id(10)));
        assert!(!idx.remove(a, id(10)));
        assert!(idx.search(a, &vs[0], 10, 0.95).unwrap().is_empty());
        assert_eq!(idx.search(a, &vs[9], 1, 0.95).unwrap()[0].image_id, id(19));
        idx.upsert(a, Entry { image_id: id(19), person_id: id(109), vector: vs[1].clone() }).unwrap();
        assert_eq!(idx.len(a), 9);
        assert!(idx.search(a, &vs[9], 1, 0.95).unwrap().is_empty());
        assert_eq!(idx.search(a, &[1.0; 4], 1, 0.0), Err(IndexError::Dimension { expected: 16, got: 4 }));
        assert_eq!(idx.search(a, &[f32::NAN; 16], 1, 0.0), Err(IndexError::BadVector));
        assert!(idx.rebuild(a, vec![Entry { image_id: id(1), person_id: id(1), vector: vec![0.0; 16] }]).is_err());
        assert_eq!(idx.len(a), 9);
        idx.drop_collection(a);
        assert!(idx.is_empty(a));
    }

    /// The AVX2 first pass (when the CPU has it) computes what the portable one does, for every
    /// code and query value including the extremes.
    #[test]
    fn first_pass_kernels_agree() {
        for (dim, seed) in [(128, 1), (512, 2), (64, 3), (100, 4)] {
            let vs = test_vectors(300, dim, seed);
            let mut rows: Vec<u8> = vs.iter().flat_map(|v| quantise4(&normalised(v).unwrap())).collect();
            // Extreme rows: every code 0 and every code 15.
            let width = dim.div_ceil(2);
            rows.extend(std::iter::repeat_n(0u8, width));
            rows.extend(std::iter::repeat_n(0xFFu8, width));
            for q in
                [vec![127i8; width], vec![-127i8; width], quantise8(&normalised(&vs[7]).unwrap())[..width].to_vec()]
            {
                let query =
                    Query { lo8: q.clone(), hi8: q.iter().rev().copied().collect(), offset: 8 * q.len() as i32 };
                let n = rows.len() / width;
                let (mut fast, mut slow) = (vec![0; n], vec![0; n]);
                dots(&rows, width, &query, &mut fast);
                dots_portable(&rows, width, &query, &mut slow);
                assert_eq!(fast, slow, "dim {dim}");
            }
        }
    }

    /// Many images of few persons: the scan looks further than its first candidates until it
    /// has `k` different persons.
    #[test]
    fn looks_further_for_enough_persons() {
        let idx = QuantisedScan::new(1);
        let c = id(3);
        let vs = test_vectors(400, 32, 9);
        let es: Vec<Entry> = vs
            .iter()
            .enumerate()
            .map(|(i, v)| Entry { image_id: id(i as u128), person_id: id(u128::from(i >= 390)), vector: v.clone() })
            .collect();
        idx.rebuild(c, es).unwrap();
        let hits = idx.search(c, &vs[0], 2, -1.0).unwrap();
        assert_eq!(hits.len(), 2);
        assert_ne!(hits[0].person_id, hits[1].person_id);
    }
}
