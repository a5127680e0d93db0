//! Frames of a stored media file for plugins: a photo is one frame; a shots set (ZIP of images)
//! gives its images in name order. Archive entries are read in memory, never written anywhere,
//! under limits on entry count, sizes and compression ratio (zip bombs).

use image::RgbImage;
use std::io::{Cursor, Read};
use vigil_domain::{Error, Result};

/// Bounds on what one shots set may expand to.
#[derive(Debug, Clone, Copy)]
pub struct ShotsLimits {
    pub max_entries: usize,
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
    /// Uncompressed size ÷ compressed size, per entry.
    pub max_ratio: u64,
    pub max_pixels: u64,
}

impl Default for ShotsLimits {
    fn default() -> Self {
        ShotsLimits {
            max_entries: 64,
            max_entry_bytes: 16 << 20,
            max_total_bytes: 128 << 20,
            max_ratio: 100,
            max_pixels: 50_000_000,
        }
    }
}

/// Decodes the image frames of a ZIP shots set, in entry-name order. Non-image entries are skipped.
pub fn zip_frames(bytes: &[u8], limits: ShotsLimits) -> Result<Vec<RgbImage>> {
    let bad = |m: String| Error::value(format!("shots set: {m}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(format!("not a readable ZIP: {e}")))?;
    if archive.len() > limits.max_entries {
        return Err(bad(format!("{} entries, at most {} allowed", archive.len(), limits.max_entries)));
    }
    let mut names: Vec<(String, usize)> = Vec::new();
    for i in 0..archive.len() {
        let f = archive.by_index(i).map_err(|e| bad(format!("entry {i}: {e}")))?;
        if f.is_file() {
            names.push((f.name().map(|n| n.to_string()).map_err(|e| bad(format!("entry {i}: {e}")))?, i));
        }
    }
    names.sort();
    let (mut total, mut frames) = (0u64, Vec::new());
    for (name, i) in names {
        let f = archive.by_index(i).map_err(|e| bad(format!("{name}: {e}")))?;
        let (declared, packed) = (f.size(), f.compressed_size().max(1));
        if declared > limits.max_entry_bytes || declared / packed > limits.max_ratio {
            return Err(bad(format!("entry '{name}' expands too much ({declared} bytes from {packed})")));
        }
        // Read no more than declared (+1 to notice a lying header).
        let mut buf = Vec::with_capacity(declared as usize);
        f.take(limits.max_entry_bytes + 1).read_to_end(&mut buf).map_err(|e| bad(format!("{name}: {e}")))?;
        if buf.len() as u64 > limits.max_entry_bytes {
            return Err(bad(format!("entry '{name}' is larger than {} bytes", limits.max_entry_bytes)));
        }
        total += buf.len() as u64;
        if total > limits.max_total_bytes {
            return Err(bad(format!("more than {} bytes uncompressed", limits.max_total_bytes)));
        }
        if vigil_domain::media::sniff(&buf, &name)
            .is_ok_and(|s| s.media_type() == vigil_domain::media::MediaType::Image)
        {
            frames.push(crate::media::decode_rgb(&buf, limits.max_pixels)?);
        }
    }
    if frames.is_empty() {
        return Err(bad("no image frames in the archive".into()));
    }
    Ok(frames)
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
        assert!(zip_frames(&zip_of(&refs), tight).unwrap_err().message.contains("entries"));
        let bomb = zip_of(&[("zeros.bin", vec![0u8; 4 << 20])]);
        assert!(zip_frames(&bomb, ShotsLimits::default()).unwrap_err().message.contains("expands too much"));
        assert!(
            zip_frames(&zip_of(&[("x.txt", b"t".to_vec())]), ShotsLimits::default())
                .unwrap_err()
                .message
                .contains("no image")
        );
        assert!(zip_frames(b"PK\x03\x04garbage", ShotsLimits::default()).is_err());
    }
}
