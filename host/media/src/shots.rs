//! Shots sets: a ZIP, a gzip-compressed tar, or one gzip-compressed image, giving its images in
//! name order. Archive entries are read in memory, never written anywhere, under limits on entry
//! count, sizes and compression ratio (zip bombs); entries whose names would escape a directory
//! are refused; every frame's pixel count is read from its header and checked before it is
//! decoded, and more frames than an analysis uses are sampled, not decoded.

use crate::photo;
use image::RgbImage;
use std::io::{Cursor, Read};
use vigil_domain::media::{MediaError, MediaType, Sniffed, sniff};
use vigil_domain::model::ShotFrame;

/// Bounds on what one shots set may expand to.
#[derive(Debug, Clone, Copy)]
pub struct ShotsLimits {
    pub max_entries: usize,
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
    /// Uncompressed size ÷ compressed size, per entry (ZIP) or for the whole stream (gzip).
    pub max_ratio: u64,
    /// Pixels of one frame, read from its header before anything is decoded.
    pub max_pixels: u64,
    /// Frames decoded per shots set: more image entries are sampled evenly, as video frames are.
    pub max_frames: usize,
    /// Decoded frames are scaled to fit this side at once; the full-size frame is dropped.
    pub max_side: u32,
}

impl Default for ShotsLimits {
    fn default() -> Self {
        ShotsLimits {
            max_entries: 64,
            max_entry_bytes: 16 << 20,
            max_total_bytes: 128 << 20,
            max_ratio: 100,
            max_pixels: 16_777_216,
            max_frames: 25,
            max_side: 1280,
        }
    }
}

fn bad(m: impl Into<String>) -> MediaError {
    MediaError::BadArchive(m.into())
}

/// An entry name that is absolute or climbs out with `..` is refused even though nothing is
/// extracted: a client sending one is not a camera SDK.
fn check_name(name: &str) -> Result<(), MediaError> {
    let escapes = name.starts_with('/')
        || name.starts_with('\\')
        || name.contains(':')
        || name.split(['/', '\\']).any(|part| part == "..");
    if escapes { Err(bad(format!("entry '{name}' escapes the archive"))) } else { Ok(()) }
}

/// An image entry of a shots set: its name, where to read it again, and its size from its header.
struct Found {
    name: String,
    at: usize,
    width: u32,
    height: u32,
}

/// The header size of an entry that is an image; `None` for other entries, which are skipped.
fn image_dims(buf: &[u8], name: &str) -> Result<Option<(u32, u32)>, MediaError> {
    match sniff(buf, name) {
        Ok(s) if s.media_type() == MediaType::Image => photo::dimensions(buf, &format!("frame '{name}'")).map(Some),
        _ => Ok(None),
    }
}

/// Which of `n` entries are decoded: all when `n <= max`, else `max` spread evenly, first and
/// last included.
fn sample(n: usize, max: usize) -> Vec<usize> {
    if n <= max || max < 2 {
        return (0..n.min(max.max(1))).collect();
    }
    let mut v: Vec<usize> = (0..max).map(|i| i * (n - 1) / (max - 1)).collect();
    v.dedup();
    v
}

/// Decodes the sampled entries one at a time under the decoded-pixel budget: each frame's header
/// is checked against `max_pixels` before its pixels are allocated, and the frame is scaled to
/// `max_side` at once, so at most one full-size frame exists at a time.
fn decode_found(
    found: &[Found],
    limits: ShotsLimits,
    mut read: impl FnMut(usize) -> Result<Vec<u8>, MediaError>,
) -> Result<Vec<(ShotFrame, RgbImage)>, MediaError> {
    if found.is_empty() {
        return Err(MediaError::EmptyArchive);
    }
    let mut out = Vec::new();
    for i in sample(found.len(), limits.max_frames) {
        let f = &found[i];
        let buf = read(f.at)?;
        // `decode` checks the header against the budget before allocating any pixel.
        let img = photo::decode(&buf, limits.max_pixels, &format!("frame '{}'", f.name))?;
        drop(buf);
        let img = photo::fit(img, limits.max_side).into_rgb8();
        out.push((ShotFrame { name: f.name.clone(), width: f.width, height: f.height }, img));
    }
    Ok(out)
}

/// Decodes the frames of a shots set of either container.
pub fn shots_frames(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<RgbImage>, MediaError> {
    Ok(named_shots_frames(bytes, limits)?.into_iter().map(|(_, f)| f).collect())
}

/// The frames of a shots set with their entries (name and size as stored).
pub fn named_shots_frames(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<(ShotFrame, RgbImage)>, MediaError> {
    match sniff(bytes, "shots set") {
        Ok(Sniffed::Gzip) => gzip_named(bytes, limits),
        _ => zip_named(bytes, limits),
    }
}

/// Decodes the image frames of a ZIP shots set, in entry-name order. Non-image entries are skipped.
pub fn zip_frames(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<RgbImage>, MediaError> {
    Ok(zip_named(bytes, limits)?.into_iter().map(|(_, f)| f).collect())
}

fn zip_named(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<(ShotFrame, RgbImage)>, MediaError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(format!("not a readable ZIP: {e}")))?;
    if archive.len() > limits.max_entries {
        return Err(bad(format!("{} entries, at most {} allowed", archive.len(), limits.max_entries)));
    }
    let mut names: Vec<(String, usize)> = Vec::new();
    for i in 0..archive.len() {
        let f = archive.by_index(i).map_err(|e| bad(format!("entry {i}: {e}")))?;
        let name = f.name().map(|n| n.to_string()).map_err(|e| bad(format!("entry {i}: {e}")))?;
        check_name(&name)?;
        if f.is_file() {
            names.push((name, i));
        }
    }
    names.sort();
    // Reads entry `i`, no more than the limit (+1 to notice a lying header).
    let read = |archive: &mut zip::ZipArchive<Cursor<&[u8]>>, i: usize| -> Result<Vec<u8>, MediaError> {
        let f = archive.by_index(i).map_err(|e| bad(format!("entry {i}: {e}")))?;
        let name = f.name().map(|n| n.to_string()).unwrap_or_else(|_| format!("entry {i}"));
        let (declared, packed) = (f.size(), f.compressed_size().max(1));
        if declared > limits.max_entry_bytes || declared / packed > limits.max_ratio {
            return Err(bad(format!("entry '{name}' expands too much ({declared} bytes from {packed})")));
        }
        let mut buf = Vec::with_capacity(declared as usize);
        f.take(limits.max_entry_bytes + 1).read_to_end(&mut buf).map_err(|e| bad(format!("{name}: {e}")))?;
        if buf.len() as u64 > limits.max_entry_bytes {
            return Err(bad(format!("entry '{name}' is larger than {} bytes", limits.max_entry_bytes)));
        }
        Ok(buf)
    };
    // First pass: which entries are images, and how large their headers say they are.
    let (mut total, mut found) = (0u64, Vec::new());
    for (name, i) in names {
        let buf = read(&mut archive, i)?;
        total += buf.len() as u64;
        if total > limits.max_total_bytes {
            return Err(bad(format!("more than {} bytes uncompressed", limits.max_total_bytes)));
        }
        if let Some((width, height)) = image_dims(&buf, &name)? {
            found.push(Found { name, at: i, width, height });
        }
    }
    // Second pass: decode the sampled frames, one at a time.
    decode_found(&found, limits, |i| read(&mut archive, i))
}

/// A gzip shots set: a tar of images, or a single compressed image. The stream is inflated at
/// most to the total limit and the whole-stream ratio is checked before anything is decoded.
pub fn gzip_frames(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<RgbImage>, MediaError> {
    Ok(gzip_named(bytes, limits)?.into_iter().map(|(_, f)| f).collect())
}

fn gzip_named(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<(ShotFrame, RgbImage)>, MediaError> {
    let cap = limits.max_total_bytes.min((bytes.len() as u64).saturating_mul(limits.max_ratio));
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(cap + 1)
        .read_to_end(&mut raw)
        .map_err(|e| bad(format!("not a readable gzip stream: {e}")))?;
    if raw.len() as u64 > cap {
        return Err(bad(format!("expands beyond {cap} bytes from {} compressed", bytes.len())));
    }
    if let Some((width, height)) = image_dims(&raw, "shots set")? {
        let found = [Found { name: String::new(), at: 0, width, height }];
        return decode_found(&found, limits, |_| Ok(std::mem::take(&mut raw)));
    }
    let mut entries = Vec::new();
    let mut archive = tar::Archive::new(Cursor::new(&raw[..]));
    for entry in archive.entries().map_err(|e| bad(format!("neither an image nor a tar: {e}")))? {
        let mut entry = entry.map_err(|e| bad(format!("tar entry: {e}")))?;
        let name = entry.path_bytes().into_owned();
        let name = String::from_utf8(name).map_err(|_| bad("tar entry name is not UTF-8"))?;
        check_name(&name)?;
        if entries.len() >= limits.max_entries {
            return Err(bad(format!("more than {} entries", limits.max_entries)));
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        if entry.size() > limits.max_entry_bytes {
            return Err(bad(format!("entry '{name}' is larger than {} bytes", limits.max_entry_bytes)));
        }
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).map_err(|e| bad(format!("{name}: {e}")))?;
        entries.push((name, buf));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut found = Vec::new();
    for (i, (name, buf)) in entries.iter().enumerate() {
        if let Some((width, height)) = image_dims(buf, name)? {
            found.push(Found { name: name.clone(), at: i, width, height });
        }
    }
    decode_found(&found, limits, |i| Ok(std::mem::take(&mut entries[i].1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(RgbImage::new(w, h)).write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn frames_in_name_order_and_limits() {
        let z = zip_of(&[("b.png", png(4, 2)), ("a.png", png(2, 2)), ("notes.txt", b"hi".to_vec())]);
        let frames = zip_frames(&z, ShotsLimits::default()).unwrap();
        assert_eq!(frames.iter().map(|f| f.width()).collect::<Vec<_>>(), vec![2, 4]);
        let many: Vec<(String, Vec<u8>)> = (0..5).map(|i| (format!("{i}.png"), png(1, 1))).collect();
        let refs: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        let tight = ShotsLimits { max_entries: 3, ..ShotsLimits::default() };
        assert!(zip_frames(&zip_of(&refs), tight).unwrap_err().to_string().contains("entries"));
        let bomb = zip_of(&[("zeros.bin", vec![0u8; 4 << 20])]);
        assert!(zip_frames(&bomb, ShotsLimits::default()).unwrap_err().to_string().contains("expands too much"));
        assert_eq!(
            zip_frames(&zip_of(&[("x.txt", b"t".to_vec())]), ShotsLimits::default()).unwrap_err(),
            MediaError::EmptyArchive
        );
        assert_eq!(zip_frames(&zip_of(&[]), ShotsLimits::default()).unwrap_err(), MediaError::EmptyArchive);
        assert!(matches!(zip_frames(b"PK\x03\x04garbage", ShotsLimits::default()), Err(MediaError::BadArchive(_))));
        let escape = zip_of(&[("../evil.png", png(2, 2))]);
        assert!(zip_frames(&escape, ShotsLimits::default()).unwrap_err().to_string().contains("escapes"));
    }

    #[test]
    fn the_pixel_budget_holds_before_decoding() {
        // A frame whose header is too large is refused before its pixels exist.
        let big = zip_of(&[("a.png", png(300, 200))]);
        let tight = ShotsLimits { max_pixels: 50_000, ..ShotsLimits::default() };
        assert!(matches!(zip_frames(&big, tight), Err(MediaError::TooManyPixels { width: 300, height: 200, .. })));
        // Frames are scaled to the side limit at once; the entry keeps its stored size.
        let small_side = ShotsLimits { max_side: 100, ..ShotsLimits::default() };
        let named = named_shots_frames(&big, small_side).unwrap();
        assert_eq!((named[0].1.width(), named[0].1.height()), (100, 67));
        assert_eq!((named[0].0.width, named[0].0.height), (300, 200));
        // Beyond max_frames, entries are sampled evenly, first and last kept.
        let many: Vec<(String, Vec<u8>)> = (0..40).map(|i| (format!("{i:02}.png"), png(2, 2))).collect();
        let refs: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        let named = named_shots_frames(&zip_of(&refs), ShotsLimits::default()).unwrap();
        assert_eq!(named.len(), 25);
        assert_eq!((named[0].0.name.as_str(), named[24].0.name.as_str()), ("00.png", "39.png"));
        assert_eq!(sample(3, 25), vec![0, 1, 2]);
        assert_eq!(sample(10, 4), vec![0, 3, 6, 9]);
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn tar_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // Written raw so that hostile names reach the reader as they are.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn gzip_shots_sets() {
        let one = gz(&png(3, 2));
        assert_eq!(shots_frames(&one, ShotsLimits::default()).unwrap()[0].width(), 3);
        let set = gz(&tar_of(&[("2.png", png(5, 1)), ("1.png", png(4, 1)), ("readme", b"x".to_vec())]));
        let frames = shots_frames(&set, ShotsLimits::default()).unwrap();
        assert_eq!(frames.iter().map(|f| f.width()).collect::<Vec<_>>(), vec![4, 5]);
        let escape = gz(&tar_of(&[("../../etc/x.png", png(2, 2))]));
        assert!(shots_frames(&escape, ShotsLimits::default()).unwrap_err().to_string().contains("escapes"));
        let bomb = gz(&vec![0u8; 8 << 20]);
        assert!(shots_frames(&bomb, ShotsLimits::default()).unwrap_err().to_string().contains("expands beyond"));
        assert_eq!(shots_frames(&gz(&tar_of(&[])), ShotsLimits::default()).unwrap_err(), MediaError::EmptyArchive);
        assert!(matches!(shots_frames(&one[..one.len() / 2], ShotsLimits::default()), Err(MediaError::BadArchive(_))));
    }
}
