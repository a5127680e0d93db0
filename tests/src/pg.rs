//! A throw-away PostgreSQL cluster for the test process, from the machine's own binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use vigil_store::{Exec, Sql, Store};

static CLUSTER: OnceLock<String> = OnceLock::new();
static VECTOR_CLUSTER: OnceLock<String> = OnceLock::new();

/// PostgreSQL 16 with pgvector, unpacked by `make assets` (`.ci/fetch-pgvector`). The server
/// runs as `postgres` when we are root; a checkout that user cannot reach (under `/root`, say)
/// gets a copy of the tree in the temporary directory.
fn pgvector_bin_dir() -> PathBuf {
    let tree = crate::assets_dir().join("pgvector");
    let bin = |t: &Path| t.join("pgserver/pginstall/bin");
    assert!(
        bin(&tree).join("initdb").exists(),
        "PostgreSQL with pgvector not found in {}: run `make assets` (.ci/fetch-pgvector)",
        tree.display()
    );
    let reachable = |t: &Path| {
        !is_root()
            || Command::new("runuser")
                .args(["-u", "postgres", "--", "test", "-x"])
                .arg(bin(t).join("initdb"))
                .status()
                .is_ok_and(|s| s.success())
    };
    if reachable(&tree) {
        return bin(&tree);
    }
    // One copy for every test run, replaced when the unpacked tree changes.
    let copy = std::env::temp_dir().join("vigil-pgvector");
    let marker = |t: &Path| std::fs::read_to_string(t.join(".complete")).ok();
    if !reachable(&copy) || marker(&copy) != marker(&tree) {
        let _ = std::fs::remove_dir_all(&copy);
        let status = Command::new("cp").arg("-a").arg(&tree).arg(&copy).status().expect("cp");
        assert!(status.success(), "copying {} to {} failed", tree.display(), copy.display());
        let status = Command::new("chmod").args(["-R", "a+rX"]).arg(&copy).status().expect("chmod");
        assert!(status.success() && reachable(&copy), "{} is not usable by postgres", copy.display());
    }
    bin(&copy)
}

fn pg_bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("VIGIL_PG_BIN") {
        return PathBuf::from(d);
    }
    let on_path = Command::new("sh").args(["-c", "command -v initdb"]).output().ok().filter(|o| o.status.success());
    if let Some(o) = on_path {
        let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if let Some(dir) = std::fs::canonicalize(&p).ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.flatten().map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().expect("PostgreSQL binaries (initdb, pg_ctl) not found: install postgresql or set VIGIL_PG_BIN")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root (the server refuses root).
fn pg_cmd(bin: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin).args(args);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(args);
        c
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn start_cluster() -> String {
    if let Ok(u) = std::env::var("VIGIL_TEST_PG_URL") {
        return u.trim_end_matches('/').to_string();
    }
    start_cluster_from(&pg_bin_dir())
}

fn start_cluster_from(bin: &Path) -> String {
    let dir = std::env::temp_dir().join(format!("vigil-pg-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("pg dir");
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["-R", "postgres:postgres"]).arg(&dir);
                c
            },
            "chown pg dir",
        );
    }
    let data = dir.join("data");
    let (data_s, dir_s) = (data.display().to_string(), dir.display().to_string());
    run(
        pg_cmd(
            &bin.join("initdb"),
            &["-D", &data_s, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--no-locale"],
        ),
        "initdb",
    );
    let port = free_port();
    let opts = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {dir_s} -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=400"
    );
    let log = dir.join("log").display().to_string();
    run(pg_cmd(&bin.join("pg_ctl"), &["-D", &data_s, "-l", &log, "-w", "-o", &opts, "start"]), "pg_ctl start");
    // Stop the cluster and remove its files once this test process is gone.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runas}{pg_ctl} -D {data_s} -m immediate stop >/dev/null 2>&1; rm -rf {dir_s}",
        pid = std::process::id(),
        runas = if is_root() { "runuser -u postgres -- " } else { "" },
        pg_ctl = bin.join("pg_ctl").display(),
    );
    // `setsid -f` detaches the watcher and returns at once, so there is nothing left to reap.
    let status = Command::new("setsid")
        .args(["-f", "sh", "-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn pg watcher");
    assert!(status.success(), "pg watcher did not start");
    format!("postgres://postgres@127.0.0.1:{port}")
}

/// A new, empty database on the test cluster.
pub async fn fresh_database() -> String {
    let base = tokio::task::spawn_blocking(|| CLUSTER.get_or_init(start_cluster).clone()).await.expect("cluster");
    database_on(base).await
}

/// A new, empty database on a second test cluster whose server has the pgvector extension.
pub async fn fresh_vector_database() -> String {
    let base =
        tokio::task::spawn_blocking(|| VECTOR_CLUSTER.get_or_init(|| start_cluster_from(&pgvector_bin_dir())).clone())
            .await
            .expect("pgvector cluster");
    database_on(base).await
}

async fn database_on(base: String) -> String {
    let name = format!("vt_{}", uuid::Uuid::new_v4().simple());
    let mut admin = Store::connect(&format!("{base}/postgres")).await.expect("connect to test cluster");
    admin.execute(Sql::new(&format!("CREATE DATABASE {name}"))).await.expect("create database");
    admin.close().await;
    format!("{base}/{name}")
}
