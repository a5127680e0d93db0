//! Multipart edge cases: each bad request gets a clear Oz error and leaves no blob and no row.

use crate::{oz_err, photo_payload};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigil_tests::*;

async fn folder_total(s: &Server, a: &Session) -> i64 {
    s.get(a, "/api/folders/").await.1["total"].as_i64().expect("total")
}

async fn edge_cases(db: Db) {
    let s = Server::builder(db)
        .set("max_file_size", "200K")
        .set("max_files", "3")
        .set("max_request_size", "400K")
        .start()
        .await;
    let a = s.admin().await;
    let photo = || file("photo1", "p.jpg", jpeg(160, 120));
    let tags = Some(photo_payload("photo1"));

    // The good cases first: an empty folder, every accepted kind with its media_type.
    let (st, f) = s.upload(&a, "/api/folders", vec![], Some(json!({}))).await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    assert_eq!(f["resolution_status"], "INITIAL");
    let webp = {
        let img = image::RgbImage::from_fn(40, 30, |x, _| image::Rgb([x as u8, 0, 0]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::WebP).unwrap();
        out.into_inner()
    };
    let mut mov = mp4_bytes(64);
    mov[8..12].copy_from_slice(b"qt  ");
    let kinds = vec![
        (file("a", "a.jpg", jpeg(40, 30)), "IMAGE_FOLDER", "image/jpeg"),
        (file("b", "b.png", png(40, 30)), "IMAGE_FOLDER", "image/png"),
        (file("c", "c.webp", webp), "IMAGE_FOLDER", "image/webp"),
    ];
    // Files that merely start like a video are kept (the analysis reports why they do not
    // decode) but not as video: they are served as bytes.
    let more = vec![
        (file("d", "d.mp4", mp4_bytes(4096)), "VIDEO_FOLDER", "application/octet-stream"),
        (file("e", "e.mov", mov), "VIDEO_FOLDER", "application/octet-stream"),
        (
            file("f", "f.webm", [&[0x1A, 0x45, 0xDF, 0xA3][..], &[0u8; 60][..]].concat()),
            "VIDEO_FOLDER",
            "application/octet-stream",
        ),
    ];
    let sets = vec![
        (file("g", "g.zip", zip_of(&[("0001.jpg", jpeg(40, 30))])), "SHOTS_SET", "application/zip"),
        (file("h", "h.tar.gz", gzip_of(&png(40, 30))), "SHOTS_SET", "application/gzip"),
    ];
    for batch in [kinds, more, sets] {
        let fields: Vec<String> = batch.iter().map(|(f, _, _)| f.field.clone()).collect();
        let expect: Vec<(&str, &str)> = batch.iter().map(|(_, t, c)| (*t, *c)).collect();
        let tags: serde_json::Map<String, serde_json::Value> =
            fields.iter().map(|f| (f.clone(), json!(["video_selfie", "video_selfie_blank"]))).collect();
        let (st, f) = s
            .upload(
                &a,
                "/api/folders",
                batch.into_iter().map(|(f, _, _)| f).collect(),
                Some(json!({"media:tags": tags})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{f}");
        for (i, (t, c)) in expect.iter().enumerate() {
            let m = &f["media"][i];
            assert_eq!(m["media_type"], *t, "{m}");
            assert_eq!(m["info"]["content_type"], *c, "{m}");
            assert_eq!(m["thumb_url"].is_string(), *t != "VIDEO_FOLDER", "{m}");
            // Videos that do not decode have no thumbnail; shots sets always decode here.
            assert_eq!(m["video_url"].is_string(), *t != "IMAGE_FOLDER", "{m}");
        }
    }

    let blobs = s.blob_files().len();
    let folders = folder_total(&s, &a).await;
    let big = file("big", "big.mp4", mp4_bytes(300 * 1024));
    // (what, files, payload, HTTP status, Oz code, message fragment)
    type Case<'a> = (&'a str, Vec<FilePart>, Option<serde_json::Value>, u16, i64, &'a str);
    let cases: Vec<Case> = vec![
        ("payload not JSON", vec![photo()], None, 400, 3, "not valid JSON"),
        ("payload not an object", vec![photo()], None, 400, 3, "JSON object"),
        (
            "payload names a missing file",
            vec![photo()],
            Some(json!({"media:tags": {"photo1": ["photo_selfie"], "photo2": ["photo_selfie"]}})),
            400,
            4,
            "'photo2', which was not sent",
        ),
        (
            "zero-byte file",
            vec![photo(), file("empty", "e.jpg", vec![])],
            Some(json!({"media:tags": {"photo1": [], "empty": []}})),
            400,
            4,
            "'empty' is empty",
        ),
        ("oversize file", vec![photo(), big], Some(json!({})), 413, 4, "larger than the limit"),
        (
            "too many files",
            (0..4).map(|i| file(&format!("p{i}"), "p.jpg", jpeg(16, 16))).collect(),
            Some(json!({})),
            413,
            4,
            "too many files",
        ),
        (
            "request too large",
            (0..3).map(|i| file(&format!("v{i}"), "v.mp4", mp4_bytes(150 * 1024))).collect(),
            Some(json!({})),
            413,
            4,
            "request is larger",
        ),
        (
            "a tag with a control character",
            vec![photo()],
            Some(json!({"media:tags": {"photo1": ["photo_selfie", "selfie\u{0}photo"]}})),
            400,
            4,
            "printable",
        ),
        (
            "tags not a list",
            vec![photo()],
            Some(json!({"media:tags": {"photo1": "photo_selfie"}})),
            400,
            4,
            "list of strings",
        ),
        (
            "RAR archive",
            vec![photo(), file("r", "r.rar", b"Rar!\x1a\x07\x01\x00rest-of-archive".to_vec())],
            Some(json!({})),
            400,
            4,
            "RAR",
        ),
        (
            "text file",
            vec![file("t", "t.txt", b"just some words here".to_vec())],
            Some(json!({})),
            400,
            4,
            "unsupported format",
        ),
        (
            "corrupt JPEG",
            vec![photo(), file("bad", "bad.jpg", [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[7u8; 500][..]].concat())],
            Some(json!({})),
            400,
            4,
            "is corrupt or truncated",
        ),
        ("duplicate field", vec![photo(), photo()], tags.clone(), 400, 3, "appears twice"),
    ];
    for (what, files, payload, status, code, needle) in cases {
        let r = if what == "payload not JSON" || what == "payload not an object" || what == "files without payload" {
            let mut form = reqwest::multipart::Form::new();
            for f in files {
                form = form.part(f.field, reqwest::multipart::Part::bytes(f.bytes).file_name(f.name));
            }
            if what == "payload not JSON" {
                form = form.text("payload", "{\"media:tags\": ");
            } else if what == "payload not an object" {
                form = form.text("payload", "[1, 2]");
            }
            read(
                s.http
                    .post(s.url("/api/folders"))
                    .header("X-Forensic-Access-Token", &a.token)
                    .multipart(form)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        } else {
            s.upload(&a, "/api/folders", files, payload).await
        };
        let m = oz_err(&r, status, code);
        assert!(m.contains(needle), "{what}: {m}");
    }
    // Content types: a JSON body is a payload without files (an empty folder, as old clients
    // make them); a multipart label without a boundary is refused.
    let r = s
        .http
        .post(s.url("/api/folders"))
        .header("X-Forensic-Access-Token", &a.token)
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    let (st, empty) = read(r).await;
    assert_eq!((st, empty["media"].clone()), (StatusCode::CREATED, json!([])), "{empty}");
    let made = format!("/api/folders/{}", empty["folder_id"].as_str().unwrap());
    assert_eq!(s.delete(&a, &made).await.0, StatusCode::NO_CONTENT);
    let r = s
        .http
        .post(s.url("/api/folders"))
        .header("X-Forensic-Access-Token", &a.token)
        .header("Content-Type", "multipart/form-data")
        .body("--x\r\n")
        .send()
        .await
        .unwrap();
    assert!(oz_err(&read(r).await, 400, 3).contains("multipart/form-data"));
    let r = s
        .http
        .post(s.url("/api/users"))
        .header("X-Forensic-Access-Token", &a.token)
        .body("email=x")
        .send()
        .await
        .unwrap();
    oz_err(&read(r).await, 400, 3);
    let r = s
        .http
        .post(s.url("/api/users"))
        .header("X-Forensic-Access-Token", &a.token)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    oz_err(&read(r).await, 400, 3);

    // A truncated body: the connection ends mid-file.
    let host = s.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&host).await.unwrap();
    let body_start = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"photo1\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
        photo_payload("photo1")
    );
    let mut body = body_start.into_bytes();
    body.extend_from_slice(&mp4_bytes(64 * 1024));
    let head = format!(
        "POST /api/folders HTTP/1.1\r\nHost: {host}\r\nX-Forensic-Access-Token: {}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        a.token,
        body.len() + 100_000
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&body).await.unwrap();
    sock.shutdown().await.unwrap();
    let mut resp = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut resp)).await;
    let resp = String::from_utf8_lossy(&resp);
    assert!(resp.is_empty() || resp.starts_with("HTTP/1.1 400"), "truncated upload answered: {resp}");

    // Ids that are not UUIDs.
    for p in ["/api/folders/123", "/api/media/abc", "/api/users/x/meta_data", "/api/companies/%20"] {
        oz_err(&s.get(&a, p).await, 400, 4);
    }
    // Nothing half-written remains: no extra blobs (clean-up of a dropped request is
    // asynchronous, so allow it a moment), no extra folders.
    let mut left = s.blob_files().len();
    for _ in 0..50 {
        if left == blobs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = s.blob_files().len();
    }
    assert_eq!(left, blobs, "orphan blobs: {:?}", s.blob_files());
    assert_eq!(folder_total(&s, &a).await, folders);
}
both_dbs!(edge_cases_t, edge_cases);

/// One file compressed with gzip (a shots set of a single image).
fn gzip_of(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The multipart reader through HTTP, fuzzed: mutated upload bodies (broken boundaries, headers,
/// truncated parts, odd names, huge declared lengths) always get an answer below 500 and leave no
/// blob behind when refused. `VIGIL_FUZZ_CASES` sets the number of bodies (default 150).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_bodies_fuzzed() {
    let s = Server::start(Db::Sqlite).await;
    let a = s.admin().await;
    let cases: usize = std::env::var("VIGIL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(150).min(2000);
    let mut x: u64 =
        std::env::var("VIGIL_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    println!("VIGIL_FUZZ_SEED={x}");
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let photo = jpeg(48, 32);
    let mut seed = Vec::new();
    seed.extend_from_slice(b"--B0undary\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n");
    seed.extend_from_slice(photo_payload("photo1").to_string().as_bytes());
    seed.extend_from_slice(b"\r\n--B0undary\r\nContent-Disposition: form-data; name=\"photo1\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n");
    seed.extend_from_slice(&photo);
    seed.extend_from_slice(b"\r\n--B0undary--\r\n");
    let blobs = s.blob_files().len();
    let (mut created, mut refused) = (0usize, 0usize);
    for _ in 0..cases {
        let mut body = seed.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % body.len().max(1);
            match next() % 6 {
                0 => body[at] ^= 1 << (next() % 8),
                1 => body.truncate(at),
                2 => body.splice(at..at, b"\r\n--B0undary\r\n".iter().copied()).for_each(drop),
                3 => body
                    .splice(
                        at..at,
                        b"Content-Disposition: form-data; name=\"\0\"; filename=\"../../x\"\r\n".iter().copied(),
                    )
                    .for_each(drop),
                4 => body.splice(at..at, std::iter::repeat_n(b'A', (next() % 5000) as usize)).for_each(drop),
                _ => {
                    if at < body.len() {
                        body[at] = b'\r';
                    }
                }
            }
        }
        let boundary = if next() % 10 == 0 { "wrong" } else { "B0undary" };
        let r = s
            .http
            .post(s.url("/api/folders/"))
            .header("X-Forensic-Access-Token", &a.token)
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let st = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(st.as_u16() < 500, "{st}: {text}");
        if st == StatusCode::CREATED {
            created += 1;
            let f: serde_json::Value = serde_json::from_str(&text).unwrap();
            let path = format!("/api/folders/{}", f["folder_id"].as_str().unwrap());
            assert_eq!(s.delete(&a, &path).await.0, StatusCode::NO_CONTENT);
        } else {
            refused += 1;
            let e: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|_| panic!("not an Oz error body: {text}"));
            assert!(e["error_code"].is_number(), "{e}");
        }
    }
    println!("{cases} bodies: {created} created (then deleted), {refused} refused");
    // Clean-up of refused requests is asynchronous: give it a moment.
    let mut left = s.blob_files().len();
    for _ in 0..50 {
        if left == blobs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = s.blob_files().len();
    }
    assert_eq!(left, blobs, "orphan blobs: {:?}", s.blob_files());
}
