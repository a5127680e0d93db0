//! The admin CLI, run as the real binary on a temporary SQLite data dir.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn vigil(data: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.arg("--data-dir").arg(data).args(args).env_remove("VIGIL_DATABASE_URL").env_remove("VIGIL_CONFIG");
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn users_companies_and_spec() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(vigil(d, &["migrate"], None).status.success());

    let o = vigil(d, &["user", "create", "--email", "Root@Example.com", "--password-stdin"], Some("Sup3r-secret\n"));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("root@example.com\tADMIN"), "{}", text(&o));
    // No password source: refused with a message naming the options.
    let o = vigil(d, &["user", "create", "--email", "x@example.com"], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("--password-stdin"), "{}", text(&o));
    // The password policy applies here too.
    let o = vigil(d, &["user", "create", "--email", "weak@example.com", "--password-stdin"], Some("weak\n"));
    assert!(!o.status.success());
    assert!(text(&o).contains("at least 8"), "{}", text(&o));
    // A company and a CLIENT in it, password from a file.
    let o = vigil(d, &["company", "create", "--name", "Acme"], None);
    assert!(o.status.success(), "{}", text(&o));
    let company = String::from_utf8_lossy(&o.stdout).split('\t').next().unwrap().to_string();
    let pw = d.join("pw.txt");
    std::fs::write(&pw, "Client-Passw0rd\n").unwrap();
    let o = vigil(
        d,
        &[
            "user",
            "create",
            "--email",
            "c@acme.test",
            "--user-type",
            "CLIENT",
            "--company-id",
            &company,
            "--password-file",
            pw.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = vigil(d, &["user", "list"], None);
    let listed = text(&o);
    assert!(listed.contains("root@example.com") && listed.contains("c@acme.test\tClient"), "{listed}");
    let o =
        vigil(d, &["user", "set-password", "--email", "c@acme.test", "--password-stdin"], Some("Another-Passw0rd\n"));
    assert!(o.status.success(), "{}", text(&o));
    let o = vigil(d, &["user", "delete", "--email", "c@acme.test"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&vigil(d, &["user", "list"], None)).contains("c@acme.test"));
    let o = vigil(d, &["user", "delete", "--email", "c@acme.test"], None);
    assert!(!o.status.success() && text(&o).contains("not found"));

    let o = vigil(d, &["openapi"], None);
    let spec: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    // A built-in whose file does not match its pinned hash stops the start.
    let wasm = d.join("fake.wasm");
    std::fs::write(&wasm, b"\0asm\x0d\0\x01\0").unwrap();
    let manifest = d.join("builtins.toml");
    std::fs::write(&manifest, "[[plugin]]\nname = \"x\"\nkind = \"analysis\"\nfile = \"fake.wasm\"\nsha256 = \"00\"\n")
        .unwrap();
    let assets = std::env::var("VIGIL_ASSETS_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets").to_string());
    let o = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["--data-dir", d.to_str().unwrap(), "--listen", "127.0.0.1:0", "serve"])
        .env("VIGIL_BUILTINS", &manifest)
        .env("VIGIL_ASSETS_DIR", &assets)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("pins 00"), "{}", text(&o));
    // Without the models the server does not start, and says how to get them.
    let o = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["--data-dir", d.to_str().unwrap(), "--listen", "127.0.0.1:0", "serve"])
        .env("VIGIL_ASSETS_DIR", d.join("no-assets"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("make assets"), "{}", text(&o));
    // A bad setting stops the program with the key named.
    let o = Command::new(env!("CARGO_BIN_EXE_vigil")).args(["migrate"]).env("OZ_SESSION_TTL", "soon").output().unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("session_ttl"), "{}", text(&o));
}

/// `vigil eval biometry` on a directory of identities made from the test assets: photos, a video,
/// a shots set, and a file with no face.
#[test]
fn eval_biometry_reports_rates_curves_and_a_calibration() {
    let assets = std::env::var("VIGIL_ASSETS_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets").to_string());
    let testdata = std::path::Path::new(&assets).join("testdata");
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("people");
    let put = |who: &str, name: &str, bytes: Vec<u8>| {
        std::fs::create_dir_all(set.join(who)).unwrap();
        std::fs::write(set.join(who).join(name), bytes).unwrap();
    };
    let read = |f: &str| std::fs::read(testdata.join(f)).unwrap_or_else(|e| panic!("{f}: {e}; run `make assets`"));
    for f in ["obama.jpg", "obama2.jpg", "obama3.jpg"] {
        put("obama", f, read(f));
    }
    put("biden", "biden.jpg", read("biden.jpg"));
    put("collins", "astronaut.png", read("astronaut.png"));
    put("hopper", "grace_hopper.jpg", read("grace_hopper.jpg"));
    put("carphone", "selfie.mp4", read("carphone.mp4"));
    // Stills of other moments, one as a photo and two as a shots set (ZIP).
    let still = |t: &str| {
        let out = dir.path().join(format!("still-{t}.jpg"));
        let ok = Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-ss", t, "-i"])
            .arg(testdata.join("carphone.mp4"))
            .args(["-frames:v", "1"])
            .arg(&out)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        std::fs::read(out).unwrap()
    };
    put("carphone", "still.jpg", still("3.6"));
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for t in ["1.0", "2.4"] {
        z.start_file(format!("{t}.jpg"), zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(&still(t)).unwrap();
    }
    put("carphone", "shots.zip", z.finish().unwrap().into_inner());
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(200, 200, image::Rgb([120, 120, 120]))
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    put("nobody", "grey.png", png.into_inner());

    let out = dir.path().join("out");
    let cal = dir.path().join("calibration.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .env("VIGIL_ASSETS_DIR", &assets)
        .args(["eval", "biometry"])
        .arg(&set)
        .arg("--out")
        .arg(&out)
        .arg("--write-calibration")
        .arg(&cal)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for needle in [
        "model sface",
        "6 identities, 10 media (1 without a usable face)",
        "failure to enrol: nobody/grey.png: no face",
        "Equal-error rate",
        "FNMR",
        "Cosine histogram",
        "embedded 10/10 media",
    ] {
        assert!(t.contains(needle), "'{needle}' missing from:\n{t}");
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    // Nine media with a face: genuine are the 3 Obama pairs and the 3 carphone pairs (video, still,
    // shots set); the other 30 of the 36 pairs are impostors.
    assert_eq!(report["genuine_pairs"], 3 + 3, "{report}");
    assert_eq!(report["impostor_pairs"], 36 - 6, "{report}");
    let frames =
        |f: &str| report["samples"].as_array().unwrap().iter().find(|s| s["file"] == f).unwrap()["frames"].clone();
    assert!(frames("carphone/selfie.mp4").as_u64().unwrap() >= 10, "the video is sampled: {report}");
    assert_eq!(frames("carphone/shots.zip"), 2);
    // At the default threshold every genuine pair matches and no impostor does.
    let at = report["at_thresholds"].as_array().unwrap().iter().find(|r| r["threshold"] == 0.85).unwrap().clone();
    assert_eq!((at["fmr"].as_f64(), at["fnmr"].as_f64()), (Some(0.0), Some(0.0)), "{report}");
    assert_eq!(report["eer"]["fmr"], 0.0);
    let det = image::open(out.join("det.png")).unwrap();
    assert_eq!((det.width(), det.height()), (640, 480));
    let csv = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 36);
    // The fitted calibration is a valid manifest entry, marked as extrapolated at these sizes.
    let fitted = std::fs::read_to_string(&cal).unwrap();
    assert!(fitted.contains("Extrapolated"), "{fitted}");
    #[derive(serde::Deserialize)]
    struct Entry {
        model: Model,
    }
    #[derive(serde::Deserialize)]
    struct Model {
        calibration: vigil_inference::manifest::Calibration,
    }
    let entry: Entry = toml::from_str(&fitted).unwrap_or_else(|e| panic!("{e}\n{fitted}"));
    entry.model.calibration.check().unwrap();
    assert_eq!(entry.model.calibration.points.len(), 3);

    // A directory without identities, and an unknown model, are refused with the reason.
    let o = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .env("VIGIL_ASSETS_DIR", &assets)
        .args(["eval", "biometry"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(!o.status.success() && text(&o).contains("no identities found"), "{}", text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .env("VIGIL_ASSETS_DIR", &assets)
        .args(["eval", "biometry", "--model", "nope"])
        .arg(&set)
        .output()
        .unwrap();
    assert!(!o.status.success() && text(&o).contains("unknown embedding model 'nope'"), "{}", text(&o));
}
