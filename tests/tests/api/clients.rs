//! Client tooling: the Postman collection and the Python client are generated from the OpenAPI
//! document and in sync with it; the README's first session runs through the Python client and
//! through the shell example against a real server.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use vigil_tests::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn generated_clients_are_in_sync() {
    let out =
        Command::new("python3").arg("sdk/generate.py").arg("--check").current_dir(repo()).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The collection is valid JSON with the flows first and every operation somewhere.
    let text = std::fs::read_to_string(repo().join("sdk/postman/vigil.postman_collection.json")).unwrap();
    let c: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(c["item"][0]["name"], "Flows: first session");
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("docs/openapi.json")).unwrap()).unwrap();
    let ops = spec["paths"].as_object().unwrap().values().map(|m| m.as_object().unwrap().len()).sum::<usize>();
    let listed = c["item"].as_array().unwrap()[1..].iter().map(|f| f["item"].as_array().unwrap().len()).sum::<usize>();
    assert_eq!(listed, ops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_session_through_python_and_shell() {
    let s = Server::start(Db::Sqlite).await;
    let tmp = tempfile::tempdir().unwrap();
    let (selfie, reference) = (tmp.path().join("selfie.mp4"), tmp.path().join("reference.jpg"));
    std::fs::write(&selfie, test_photo("carphone.mp4")).unwrap();
    std::fs::write(&reference, video_still("carphone.mp4", 3.6)).unwrap();
    let run = |program: &str, script: &str| {
        let out = Command::new(program)
            .arg(script)
            .arg(&selfie)
            .arg(&reference)
            .current_dir(repo())
            .env("VIGIL_URL", s.url(""))
            .env("VIGIL_EMAIL", ADMIN_EMAIL)
            .env("VIGIL_PASSWORD", ADMIN_PASSWORD)
            .output()
            .expect(program);
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
        assert!(out.status.success(), "{script}: {stdout}\n{stderr}");
        (stdout, stderr)
    };
    let (py, py_err) = tokio::task::block_in_place(|| run("python3", "examples/first_session.py"));
    let v: Value = serde_json::from_str(&py).unwrap_or_else(|e| panic!("{e}: {py}"));
    assert_eq!(v["resolution_status"], "FINISHED", "{v}");
    assert_eq!(v["system_resolution"], "SUCCESS", "{v}");
    assert_eq!(v["analyses"]["QUALITY"]["resolution_status"], "SUCCESS", "{v}");
    assert!(v["analyses"]["BIOMETRY"]["results_data"]["min_confidence"].as_f64().unwrap() >= 0.85, "{v}");
    assert!(v["found_by_transaction_id"].as_array().unwrap().contains(&v["folder_id"]), "{v}");
    assert!(v["token_expires"].as_f64().unwrap() > crate::now(), "{v}");
    assert!(py_err.contains("expected error: 400 4"), "{py_err}");

    let (sh, _) = tokio::task::block_in_place(|| run("bash", "examples/first_session.sh"));
    let f: Value = serde_json::from_str(sh.trim()).unwrap_or_else(|e| panic!("{e}: {sh}"));
    assert_eq!(
        (f["resolution_status"].as_str(), f["system_resolution"].as_str()),
        (Some("FINISHED"), Some("SUCCESS")),
        "{f}"
    );
    assert_eq!(f["analyses"].as_array().unwrap().len(), 2);
}
