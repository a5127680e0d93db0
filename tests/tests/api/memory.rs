//! The decoded-pixel budget, measured: the worst shots set an upload may carry — 64 entries of
//! frames as large as the per-frame limit, each a few kilobytes of compressed zeros — must not
//! grow the server's resident memory beyond the bound the README states, at upload or analysis.

use crate::World;
use serde_json::json;
use vigil_tests::*;

/// Peak resident memory of a process so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// A PNG of `w`×`h` black pixels at the best compression.
fn black_png(w: u32, h: u32) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let enc = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::NoFilter,
    );
    enc.write_image(&vec![0u8; (w * h * 3) as usize], w, h, image::ExtendedColorType::Rgb8).unwrap();
    out
}

/// A ZIP whose entries are stored, not deflated: the archive's own ratio check sees 1:1.
fn stored_zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// The worst shots set an upload may carry: 64 entries (the entry limit) of 4096 × 4096 frames
/// (the default per-frame limit, 16,777,216 pixels): 48 MiB of RGB per frame, 3 GiB if every
/// frame were held at full size.
fn worst_case_zip() -> Vec<u8> {
    let frame = black_png(4096, 4096);
    let entries: Vec<(String, Vec<u8>)> = (0..64).map(|i| (format!("{i:03}.png"), frame.clone())).collect();
    stored_zip(&entries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worst_case_shots_set_stays_within_the_memory_bound() {
    let s = Server::builder(Db::Sqlite).spawn().await;
    let pid = s.pid().expect("a child process");
    let w = World::with(s).await;
    let before = peak_rss(pid);
    let zip = worst_case_zip();
    assert!(zip.len() < 8 << 20, "the attack is small: {} bytes", zip.len());
    let (st, f) =
        w.s.upload(
            &w.client,
            "/api/folders/",
            vec![file("z", "frames.zip", zip)],
            Some(json!({"media:tags": {"z": ["video_selfie", "video_selfie_blank"]}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let listed = f["media"][0]["frames"].as_array().unwrap_or_else(|| panic!("{}", f["media"][0]));
    assert_eq!(listed.len(), 25, "64 entries sampled to the video frame count");
    assert_eq!((listed[0]["width"].as_u64(), listed[0]["height"].as_u64()), (Some(4096), Some(4096)));
    let after_upload = peak_rss(pid);
    // The analysis decodes the same media again, in a worker.
    let fid = f["folder_id"].as_str().unwrap();
    let (st, list) =
        w.s.post(&w.client, &format!("/api/folders/{fid}/analyses/"), json!({"analyses": [{"type": "quality"}]})).await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    w.s.wait_analysis(&w.client, list[0]["analyse_id"].as_str().unwrap(), 120).await;
    let after_analysis = peak_rss(pid);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "peak RSS: {:.0} MiB before, {:.0} MiB after the upload, {:.0} MiB after the analysis",
        mib(before),
        mib(after_upload),
        mib(after_analysis)
    );
    // The bound stated in the README: one full-size frame (48 MiB RGB plus the decoder's own
    // buffers) and the 25 sampled frames at 1280 px (≤ 118 MiB) per media being decoded.
    let bound = 400u64 << 20;
    assert!(after_upload - before < bound, "upload grew the peak by {:.0} MiB", mib(after_upload - before));
    assert!(after_analysis - before < bound, "analysis grew the peak by {:.0} MiB", mib(after_analysis - before));
}

/// Concurrent uploads wait for a decode slot: three worst-case shots sets sent at once to a server
/// that decodes one media at a time grow its peak by no more than one media's bound (before the
/// limit, each decoded at once beside the others: about three times the growth of one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_decode_one_at_a_time_within_the_bound() {
    let s = Server::builder(Db::Sqlite).set("decode_concurrency", "1").spawn().await;
    let pid = s.pid().expect("a child process");
    let w = World::with(s).await;
    let before = peak_rss(pid);
    let zip = worst_case_zip();
    let upload = |i: usize| {
        let (s, client, zip) = (&w.s, &w.client, zip.clone());
        async move {
            s.upload(
                client,
                "/api/folders/",
                vec![file("z", &format!("frames{i}.zip"), zip)],
                Some(json!({"media:tags": {"z": ["video_selfie", "video_selfie_blank"]}})),
            )
            .await
        }
    };
    let (a, b, c) = tokio::join!(upload(0), upload(1), upload(2));
    for (st, f) in [a, b, c] {
        assert_eq!(st, StatusCode::CREATED, "{f}");
        assert_eq!(f["media"][0]["frames"].as_array().map(Vec::len), Some(25), "{f}");
    }
    let grew = peak_rss(pid) - before;
    println!("three concurrent worst-case uploads grew the peak by {:.0} MiB", grew as f64 / (1 << 20) as f64);
    assert!(grew < 400 << 20, "three concurrent uploads grew the peak by {} MiB", grew >> 20);
}
