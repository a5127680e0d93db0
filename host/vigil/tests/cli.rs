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
