//! Property and mutation fuzzing of the parsers that read client input before any business rule:
//! list filters, content sniffing, image headers and decoding under the pixel budget, and shots
//! sets (ZIP, gzip, tar). The property is the same for each: any input ends in a value or a clear
//! error — never a panic, never unbounded work.
//!
//! A seeded xorshift generator drives structured generation and byte mutation (bit flips, byte
//! replacement, truncation, splicing, length-field corruption) of valid seeds. `make test` runs
//! `VIGIL_FUZZ_CASES` (default 3,000) cases per target; `make fuzz` runs 200,000 and prints the seed,
//! so a failure can be replayed with `VIGIL_FUZZ_SEED`.
#![allow(clippy::unwrap_used)]

use std::io::{Cursor, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};
use vigil_domain::filter::{FolderFilter, MediaFilter, parse_sorting};
use vigil_media::shots::{ShotsLimits, named_shots_frames};
use vigil_tests::{gz, tar_of};

struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("VIGIL_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
        println!("VIGIL_FUZZ_SEED={seed}");
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

fn cases() -> usize {
    std::env::var("VIGIL_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(3000)
}

/// Runs `f` on `input`, failing the test with the input on a panic or on slow work.
fn check<T: std::fmt::Debug>(what: &str, input: &T, budget: Duration, f: impl FnOnce()) {
    let start = Instant::now();
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        panic!("{what} panicked on {input:?}");
    }
    assert!(start.elapsed() < budget, "{what} took {:?} on {input:?}", start.elapsed());
}

/// Mutates `seed` a few times: flips, replaced bytes, truncation, splicing, duplicated ranges,
/// and 16/32-bit fields set to extreme values (lengths and sizes in headers).
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            v.push(rng.next() as u8);
            continue;
        }
        let at = rng.below(v.len());
        match rng.below(7) {
            0 => v[at] ^= 1 << rng.below(8),
            1 => v[at] = rng.next() as u8,
            2 => v.truncate(at),
            3 => {
                let n = rng.below(64);
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, junk);
            }
            4 => {
                let end = (at + rng.below(256)).min(v.len());
                let dup = v[at..end].to_vec();
                v.splice(at..at, dup);
            }
            5 if at + 4 <= v.len() => {
                let x = *rng.pick(&[0u32, 1, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF]);
                v[at..at + 4].copy_from_slice(&x.to_le_bytes());
            }
            _ if at + 4 <= v.len() => {
                let x = *rng.pick(&[0u32, 1, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF]);
                v[at..at + 4].copy_from_slice(&x.to_be_bytes());
            }
            _ => v[at] = 0,
        }
    }
    v
}

#[test]
fn filter_parsers_never_panic() {
    let mut rng = Rng::from_env();
    let keys = [
        "limit",
        "offset",
        "total_omit",
        "sorting",
        "time_created.min",
        "time_created.max",
        "time_updated",
        "meta_data",
        "resolution_status",
        "folder_id",
        "user_id",
        "company_id",
        "with_analyses",
        "with_results_media_filter",
        "analyse.resolution_status",
        "analyse.time_created.min",
        "analyse.results_data.a.b",
        "results_data.max_confidence",
        "results_data",
        "results_data.k!",
        "results_media_results_data.confidence_spoofing.max",
        "results_data.x<0.5",
        "media_type",
        "tags",
        "_",
    ];
    let atoms = [
        "",
        "0",
        "-1",
        "1e308",
        "NaN",
        "1700000000000",
        "true",
        "FALSE",
        "==",
        "!=",
        ">=",
        "<",
        "a==b",
        "k!=v",
        "SUCCESS,DECLINED",
        "time_created{desc}",
        "-time_updated",
        "\u{0}",
        "é",
        "💥",
        ".",
        "..",
        "a.b.c.d.e.f.g.h.i",
        "00000000-0000-0000-0000-000000000000",
        ",",
        "IMAGE_FOLDER",
        "video_selfie",
    ];
    for _ in 0..cases() {
        let n = rng.below(12);
        let pairs: Vec<(String, String)> = (0..n)
            .map(|_| {
                let mut v = String::new();
                for _ in 0..rng.below(4) {
                    let atom: &&str = rng.pick(&atoms[..]);
                    v.push_str(atom);
                }
                if rng.below(8) == 0 {
                    v = "x".repeat(rng.below(5000));
                }
                ((*rng.pick(&keys)).to_string(), v)
            })
            .collect();
        check("FolderFilter::parse", &pairs, Duration::from_secs(1), || {
            let _ = FolderFilter::parse(&pairs);
        });
        check("MediaFilter::parse", &pairs, Duration::from_secs(1), || {
            let _ = MediaFilter::parse(&pairs);
        });
        if let Some((_, v)) = pairs.first() {
            check("parse_sorting", v, Duration::from_secs(1), || {
                let _ = parse_sorting(v);
                let _ = vigil_domain::time::parse_unix_secs(v);
            });
        }
    }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7])))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 9])))
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

#[test]
fn images_under_the_pixel_budget_never_panic() {
    let mut rng = Rng::from_env();
    let seeds = [png(37, 21), jpeg(40, 30), vigil_tests::jpeg(64, 48)];
    for _ in 0..cases() {
        let seed = rng.pick(&seeds).clone();
        let input = mutate(&mut rng, &seed);
        check("sniff + decode", &input.len(), Duration::from_secs(5), || {
            let _ = vigil_domain::media::sniff(&input, "fuzz");
            // A small pixel budget: a header that claims more is refused before decoding.
            if let Ok(img) = vigil_media::photo::decode(&input, 1_000_000, "fuzz") {
                assert!(u64::from(img.width()) * u64::from(img.height()) <= 1_000_000);
            }
        });
    }
}

fn zip_of(entries: &[(&str, Vec<u8>)], stored: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if stored { zip::CompressionMethod::Stored } else { zip::CompressionMethod::Deflated };
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default().compression_method(method)).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn shots_sets_never_panic_and_stay_bounded() {
    let mut rng = Rng::from_env();
    let frames = [("0001.png", png(24, 16)), ("0002.jpg", jpeg(32, 24)), ("notes.txt", b"hello".to_vec())];
    let seeds = [
        zip_of(&frames, false),
        zip_of(&frames, true),
        gz(&tar_of(&frames)),
        gz(&png(20, 20)),
        zip_of(&[("a/../../b.png", png(4, 4))], true),
    ];
    let limits = ShotsLimits { max_pixels: 1_000_000, max_frames: 8, max_side: 64, ..ShotsLimits::default() };
    for _ in 0..cases() {
        let seed = rng.pick(&seeds).clone();
        let input = mutate(&mut rng, &seed);
        check("named_shots_frames", &input.len(), Duration::from_secs(5), || {
            if let Ok(frames) = named_shots_frames(&input, limits) {
                assert!(frames.len() <= limits.max_frames);
                for (entry, img) in &frames {
                    assert!(img.width().max(img.height()) <= limits.max_side, "{entry:?}");
                    assert!(u64::from(entry.width) * u64::from(entry.height) <= limits.max_pixels);
                }
            }
        });
    }
}
