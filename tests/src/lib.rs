//! Test harness: starts the real `vigil` server on `127.0.0.1:0` with a chosen database and blob
//! backend, and talks to it over HTTP like any client.
//!
//! - SQLite: a file in a temporary data dir.
//! - PostgreSQL: one throw-away cluster per test process, started here from the machine's own
//!   `initdb`/`pg_ctl` on a free loopback port (or `VIGIL_TEST_PG_URL` if set); one database per
//!   server. A watcher process stops the cluster when the test process exits.
//! - S3: an in-process `s3s-fs` server with real SigV4 authentication.

// Test support: failing loudly on a broken fixture is the point.
#![allow(clippy::unwrap_used)]

pub mod browser;
pub mod faces;
pub mod ldap;
pub mod pg;
pub mod s3;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;

pub use reqwest::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blobs {
    Fs,
    S3,
}

pub const ADMIN_EMAIL: &str = "admin@vigil.test";
pub const ADMIN_PASSWORD: &str = "Admin-Pass-1";

/// A running server and what it stores into.
pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub data_dir: PathBuf,
    pub blobs: Blobs,
    s3: Option<s3::S3Server>,
    env: BTreeMap<String, String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Set when the server is a `vigil serve` child process rather than a task in this process.
    child: Option<std::process::Child>,
    _tmp: tempfile::TempDir,
}

/// Builder for [`Server`]: extra settings go in as configuration keys (see `vigil::config::KEYS`).
pub struct ServerBuilder {
    db: Db,
    blobs: Blobs,
    env: BTreeMap<String, String>,
    pgvector: bool,
}

impl ServerBuilder {
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.env.insert(format!("VIGIL_{}", key.to_ascii_uppercase()), value.to_string());
        self
    }
    pub fn blobs(mut self, b: Blobs) -> Self {
        self.blobs = b;
        self
    }
    /// On PostgreSQL: a database on the cluster whose server has pgvector, searched through it
    /// (`face_index = pgvector`).
    pub fn pgvector(mut self) -> Self {
        self.pgvector = true;
        self.set("face_index", "pgvector")
    }

    pub async fn start(self) -> Server {
        let blobs = self.blobs;
        let (env, tmp, s3) = self.prepare().await;
        launch(env, tmp, s3, blobs).await
    }

    /// Starts the server as a `vigil serve` child process (the binary cargo builds next to the
    /// tests), so a test can kill it with SIGKILL or run several on one database.
    pub async fn spawn(self) -> Server {
        let blobs = self.blobs;
        let (env, tmp, s3) = self.prepare().await;
        spawn_process(env, tmp, s3, blobs).await
    }

    async fn prepare(self) -> (BTreeMap<String, String>, tempfile::TempDir, Option<s3::S3Server>) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data_dir = tmp.path().join("data");
        let mut env = self.env;
        env.insert("VIGIL_DATA_DIR".into(), data_dir.display().to_string());
        let assets = std::env::var("VIGIL_ASSETS_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../assets").to_string());
        env.insert("VIGIL_ASSETS_DIR".into(), assets);
        env.insert("VIGIL_ADMIN_EMAIL".into(), ADMIN_EMAIL.into());
        env.insert("VIGIL_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into());
        // The built-in QUALITY and BIOMETRY pipelines, as `make run` registers them.
        env.entry("VIGIL_BUILTINS".into())
            .or_insert_with(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/builtins.toml").to_string());
        env.entry("VIGIL_PLUGINS_DIR".into()).or_insert_with(|| plugins_dir().display().to_string());
        // Webhook receivers in tests listen on loopback; workers look for work often.
        env.entry("VIGIL_WEBHOOK_ALLOW_PRIVATE".into()).or_insert_with(|| "true".into());
        env.entry("VIGIL_JOB_POLL_MS".into()).or_insert_with(|| "100".into());
        // An in-process server is this test executable: reports are typeset by the real binary.
        env.entry("VIGIL_REPORT_RENDERER".into()).or_insert_with(|| vigil_binary().display().to_string());
        if self.db == Db::Postgres {
            let url = if self.pgvector { pg::fresh_vector_database().await } else { pg::fresh_database().await };
            env.insert("VIGIL_DATABASE_URL".into(), url);
        }
        let s3 = match self.blobs {
            Blobs::Fs => None,
            Blobs::S3 => {
                let s = s3::S3Server::start(&tmp.path().join("s3")).await;
                env.insert(
                    "VIGIL_BLOB_URL".into(),
                    format!("s3://{}/vigil?endpoint={}&region=us-east-1", s3::BUCKET, s.endpoint),
                );
                env.insert("VIGIL_S3_ACCESS_KEY_ID".into(), s3::ACCESS_KEY.into());
                env.insert("VIGIL_S3_SECRET_ACCESS_KEY".into(), s3::SECRET_KEY.into());
                Some(s)
            }
        };
        (env, tmp, s3)
    }
}

/// The `vigil` binary built by `cargo test --workspace` (the `vigil` package has integration
/// tests, so cargo builds it into the same target directory as this test executable).
pub fn vigil_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe.parent().and_then(Path::parent).map(|d| d.join("vigil")).expect("target dir");
    assert!(bin.exists(), "{} is missing: run `cargo build -p vigil` (make test does)", bin.display());
    bin
}

/// Starts `vigil serve` as a child process with this configuration and waits until it answers.
async fn spawn_process(
    mut env: BTreeMap<String, String>,
    tmp: tempfile::TempDir,
    s3: Option<s3::S3Server>,
    blobs: Blobs,
) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let base = format!("http://127.0.0.1:{port}");
    env.insert("VIGIL_LISTEN".into(), format!("127.0.0.1:{port}"));
    env.insert("VIGIL_PUBLIC_URL".into(), base.clone());
    let data_dir = PathBuf::from(env.get("VIGIL_DATA_DIR").cloned().unwrap_or_default());
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(tmp.path().join(format!("vigil-{port}.log")))
        .expect("log file");
    let child = std::process::Command::new(vigil_binary())
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(&env)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn vigil");
    let http = reqwest::Client::new();
    let mut server =
        Server { base, http, data_dir, blobs, s3, env, shutdown: None, task: None, child: Some(child), _tmp: tmp };
    for _ in 0..600 {
        if let Ok(r) = server.http.get(server.url("/api/healthcheck")).send().await
            && r.status().is_success()
        {
            return server;
        }
        if let Some(c) = server.child.as_mut()
            && let Ok(Some(st)) = c.try_wait()
        {
            panic!("vigil serve exited during start-up ({st}); log in {}", server.log_dir().display());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("vigil serve did not answer; log in {}", server.log_dir().display());
}

/// Starts the server with this configuration; `restart` calls it again with the same one.
async fn launch(
    env: BTreeMap<String, String>,
    tmp: tempfile::TempDir,
    s3: Option<s3::S3Server>,
    blobs: Blobs,
) -> Server {
    let data_dir = PathBuf::from(env.get("VIGIL_DATA_DIR").cloned().unwrap_or_default());
    let settings = vigil::Settings::load(None, |k| env.get(k).cloned(), &Default::default()).expect("settings");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        vigil::serve(&settings, listener, async move {
            let _ = rx.await;
        })
        .await
    });
    let http = reqwest::Client::new();
    // Ready when the health check answers.
    for _ in 0..400 {
        if let Ok(r) = http.get(format!("{base}/api/healthcheck")).send().await
            && r.status().is_success()
        {
            break;
        }
        if task.is_finished() {
            panic!("server stopped during start-up: {:?}", task.await);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    Server { base, http, data_dir, blobs, s3, env, shutdown: Some(tx), task: Some(task), child: None, _tmp: tmp }
}

impl Server {
    /// The database the server runs on (its `VIGIL_DATABASE_URL`), when not the default SQLite
    /// file of its data directory.
    pub fn database_url(&self) -> Option<&str> {
        self.env.get("VIGIL_DATABASE_URL").map(String::as_str)
    }

    /// Runs a `vigil` command (`vigil collection enroll …`) on this server's configuration — its
    /// database, files and assets — as an operator would beside it; waits for it to end.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(vigil_binary())
            .args(args)
            .envs(&self.env)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run vigil")
    }

    /// A folder of `photos`, each tagged `photo_selfie`; its id.
    pub async fn selfie_folder(&self, who: &Session, photos: &[&[u8]]) -> String {
        let files = photos.iter().enumerate().map(|(i, b)| file(&format!("p{i}"), "p.jpg", b.to_vec())).collect();
        let tags: serde_json::Map<String, Value> =
            (0..photos.len()).map(|i| (format!("p{i}"), json!(["photo_selfie"]))).collect();
        let (st, f) = self.upload(who, "/api/folders/", files, Some(json!({ "media:tags": tags }))).await;
        assert_eq!(st, StatusCode::CREATED, "{f}");
        f["folder_id"].as_str().expect("folder_id").to_string()
    }

    pub fn builder(db: Db) -> ServerBuilder {
        ServerBuilder { db, blobs: Blobs::Fs, env: BTreeMap::new(), pgvector: false }
    }

    pub async fn start(db: Db) -> Server {
        Self::builder(db).start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Every stored object (media files and thumbnails), whatever the backend.
    pub fn blob_files(&self) -> Vec<PathBuf> {
        let root = match (&self.blobs, &self.s3) {
            (Blobs::S3, Some(s)) => s.root.clone(),
            _ => self.data_dir.join("blobs"),
        };
        let mut out = Vec::new();
        walk(&root, &mut out);
        // s3s-fs keeps upload bookkeeping in hidden entries; only objects count.
        out.retain(|p| {
            let rel = p.strip_prefix(&root).unwrap_or(p);
            !rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        });
        out
    }

    /// [`Server::blob_files`] without plugin components and their compiled artifacts.
    pub fn media_blob_files(&self) -> Vec<PathBuf> {
        let mut v = self.blob_files();
        v.retain(|p| {
            let s = p.to_string_lossy();
            !s.contains("/plugins/") && !s.contains("plugin-cache")
        });
        v
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let (st, body) = self.login_raw(email, password).await;
        assert_eq!(st, StatusCode::OK, "login {email}: {body}");
        Session { token: body["access_token"].as_str().expect("access_token").to_string(), body }
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url("/api/authorize/auth"))
            .json(&json!({"credentials": {"email": email, "password": password}}))
            .send()
            .await
            .expect("send");
        read(r).await
    }

    pub async fn admin(&self) -> Session {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub async fn stop(mut self) {
        self.halt().await;
    }

    async fn halt(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM: the process stops gracefully.
            let _ = std::process::Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            for _ in 0..200 {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Restarts with one configuration key changed (for settings that name runtime objects).
    pub async fn restart_with(mut self, key: &str, value: &str) -> Server {
        self.env.insert(format!("VIGIL_{}", key.to_ascii_uppercase()), value.to_string());
        self.restart().await
    }

    /// Stops the server and starts a new one on the same database, data dir and blob store.
    pub async fn restart(mut self) -> Server {
        let process = self.child.is_some();
        self.halt().await;
        let env = std::mem::take(&mut self.env);
        let s3 = self.s3.take();
        let blobs = self.blobs;
        // Move the temp dir out without dropping (deleting) it.
        let tmp = std::mem::replace(&mut self._tmp, tempfile::tempdir().expect("tempdir"));
        if process { spawn_process(env, tmp, s3, blobs).await } else { launch(env, tmp, s3, blobs).await }
    }

    /// Drops a setting for the next [`Server::respawn`] or [`Server::restart`].
    pub fn unset(&mut self, key: &str) {
        self.env.remove(key);
        self.env.remove(&format!("VIGIL_{}", key.to_ascii_uppercase()));
    }

    /// The database's URL, the default SQLite file included.
    pub fn db_url(&self) -> String {
        match self.database_url() {
            Some(u) => u.to_string(),
            None => format!("sqlite://{}", self.data_dir.join("vigil.db").display()),
        }
    }

    /// SIGKILL for a child-process server: no shutdown code runs, leases stay held.
    pub fn kill9(&mut self) {
        let c = self.child.as_mut().expect("kill9 needs a server started with spawn()");
        c.kill().expect("SIGKILL");
        let _ = c.wait();
    }

    /// Starts the child process again after [`Server::kill9`], on a new port.
    pub async fn respawn(mut self) -> Server {
        let env = std::mem::take(&mut self.env);
        let tmp = std::mem::replace(&mut self._tmp, tempfile::tempdir().expect("tempdir"));
        self.child = None;
        spawn_process(env, tmp, self.s3.take(), self.blobs).await
    }

    /// Another `vigil serve` process on the same database and data dir.
    pub async fn sibling(&self) -> Server {
        spawn_process(self.env.clone(), tempfile::tempdir().expect("tempdir"), None, self.blobs).await
    }

    /// Where child processes write their logs.
    /// The server's process id when it runs as a `vigil serve` child (see [`ServerBuilder::spawn`]).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    pub fn log_dir(&self) -> &Path {
        self._tmp.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() { walk(&p, out) } else { out.push(p) }
    }
}

/// Status and JSON body (or `null` for an empty body).
pub async fn read(r: reqwest::Response) -> (StatusCode, Value) {
    let st = r.status();
    let bytes = r.bytes().await.expect("body");
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (st, v)
}

/// A logged-in client.
#[derive(Clone)]
pub struct Session {
    pub token: String,
    pub body: Value,
}

impl Session {
    pub fn user_id(&self) -> String {
        self.body["user"]["user_id"].as_str().expect("user_id").to_string()
    }
}

/// A file part for uploads.
pub struct FilePart {
    pub field: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

pub fn file(field: &str, name: &str, bytes: Vec<u8>) -> FilePart {
    FilePart { field: field.into(), name: name.into(), bytes }
}

impl Server {
    pub fn req(&self, method: reqwest::Method, sess: Option<&Session>, path: &str) -> reqwest::RequestBuilder {
        let b = self.http.request(method, self.url(path));
        match sess {
            Some(s) => b.header("X-Forensic-Access-Token", &s.token),
            None => b,
        }
    }

    pub async fn get(&self, sess: &Session, path: &str) -> (StatusCode, Value) {
        read(self.req(reqwest::Method::GET, Some(sess), path).send().await.expect("send")).await
    }

    pub async fn get_anon(&self, path: &str) -> (StatusCode, Value) {
        read(self.req(reqwest::Method::GET, None, path).send().await.expect("send")).await
    }

    pub async fn post(&self, sess: &Session, path: &str, body: Value) -> (StatusCode, Value) {
        read(self.req(reqwest::Method::POST, Some(sess), path).json(&body).send().await.expect("send")).await
    }

    pub async fn patch(&self, sess: &Session, path: &str, body: Value) -> (StatusCode, Value) {
        read(self.req(reqwest::Method::PATCH, Some(sess), path).json(&body).send().await.expect("send")).await
    }

    pub async fn delete(&self, sess: &Session, path: &str) -> (StatusCode, Value) {
        read(self.req(reqwest::Method::DELETE, Some(sess), path).send().await.expect("send")).await
    }

    /// Raw bytes of a URL (media links), with the session's token when given.
    pub async fn fetch(&self, sess: Option<&Session>, url: &str) -> (StatusCode, Vec<u8>) {
        let mut b = self.http.get(url);
        if let Some(s) = sess {
            b = b.header("X-Forensic-Access-Token", &s.token);
        }
        let r = b.send().await.expect("send");
        let st = r.status();
        (st, r.bytes().await.expect("body").to_vec())
    }

    /// A multipart upload; `payload` is sent as the `payload` part when given.
    pub async fn upload(
        &self,
        sess: &Session,
        path: &str,
        files: Vec<FilePart>,
        payload: Option<Value>,
    ) -> (StatusCode, Value) {
        self.upload_with(sess, reqwest::Method::POST, path, files, payload).await
    }

    /// A multipart request with another method (`PUT`/`PATCH` of a template).
    pub async fn upload_with(
        &self,
        sess: &Session,
        method: reqwest::Method,
        path: &str,
        files: Vec<FilePart>,
        payload: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut form = Form::new();
        for f in files {
            form = form.part(f.field, Part::bytes(f.bytes).file_name(f.name));
        }
        if let Some(p) = payload {
            form = form.text("payload", p.to_string());
        }
        read(self.req(method, Some(sess), path).multipart(form).send().await.expect("send")).await
    }

    /// Creates a company as ADMIN and returns its id.
    pub async fn company(&self, admin: &Session, name: &str) -> String {
        let (st, c) = self.post(admin, "/api/companies/", json!({"name": name})).await;
        assert_eq!(st, StatusCode::CREATED, "{c}");
        c["company_id"].as_str().expect("company_id").to_string()
    }

    /// Creates a user (as `by`) and logs in as it.
    pub async fn user(&self, by: &Session, email: &str, user_type: &str, company: Option<&str>) -> Session {
        let mut body = json!({"email": email, "password": "Passw0rd-x", "first_name": "T", "last_name": "U", "user_type": user_type});
        if let Some(c) = company {
            body["company_id"] = json!(c);
        }
        let (st, u) = self.post(by, "/api/users/", body).await;
        assert_eq!(st, StatusCode::CREATED, "{u}");
        self.login(email, "Passw0rd-x").await
    }
}

/// A real JPEG photo of `w`×`h` with a gradient, so thumbnails and sizes are checkable.
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}

pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(y % 256) as u8, (x % 256) as u8, 64]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).expect("encode");
    out.into_inner()
}

/// An ISO-BMFF (MP4) header followed by filler: enough for content sniffing, which is all the
/// foundation does with videos (decoding arrives with the native vision issue).
pub fn mp4_bytes(len: usize) -> Vec<u8> {
    let mut v = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41".to_vec();
    v.resize(len.max(v.len()), 0);
    v
}

/// Runs the same async test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both_dbs {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::Db::Postgres).await
            }
        }
    };
}

/// Where `make plugins` puts the components.
pub fn plugins_dir() -> PathBuf {
    std::env::var("VIGIL_PLUGINS_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| format!("{}/.cache/vigil/target", std::env::var("HOME").unwrap_or_default()));
        PathBuf::from(target).join("plugins/wasm32-wasip2/release")
    })
}

/// A built component from `plugins/` or `examples/` (`make plugins` builds them).
pub fn component(name: &str) -> Vec<u8> {
    let path = plugins_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; build the components with `make plugins`", path.display()))
}

impl Server {
    /// Uploads a plugin component with its manifest.
    pub async fn upload_plugin(&self, sess: &Session, wasm: Vec<u8>, manifest: Value) -> (StatusCode, Value) {
        let form =
            Form::new().part("file", Part::bytes(wasm).file_name("plugin.wasm")).text("manifest", manifest.to_string());
        read(self.req(reqwest::Method::POST, Some(sess), "/api/plugins/").multipart(form).send().await.expect("send"))
            .await
    }
}

/// The assets directory (`make assets`): ONNX Runtime, models, test photos.
pub fn assets_dir() -> PathBuf {
    std::env::var("VIGIL_ASSETS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets")))
}

/// A public-domain test photo from the assets directory.
pub fn test_photo(name: &str) -> Vec<u8> {
    let p = assets_dir().join("testdata").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}; run `make assets`", p.display()))
}

/// A real video made by ffmpeg from a still: `secs` seconds at 10 fps, in the container of `ext`
/// (mp4 → H.264, webm → VP8, mov → H.264), scaled to `width` wide.
pub fn video_of(photo: &str, secs: u32, ext: &str, width: u32) -> Vec<u8> {
    video_from(&assets_dir().join("testdata").join(photo), secs, ext, width)
}

/// [`video_of`] for any still on disk.
pub fn video_from(src: &Path, secs: u32, ext: &str, width: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join(format!("v.{ext}"));
    let codec: &[&str] = match ext {
        "webm" => &["-c:v", "libvpx", "-b:v", "1M"],
        _ => &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    };
    let st = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-loop", "1", "-i"])
        .arg(src)
        .args(["-t", &secs.to_string(), "-r", "10", "-vf", &format!("scale={width}:-2")])
        .args(codec)
        .arg(&out)
        .status()
        .expect("ffmpeg (make setup installs it)");
    assert!(st.success(), "ffmpeg could not make the test video");
    std::fs::read(out).expect("video")
}

/// A still of a test video at `at_secs`, as JPEG (ffmpeg): a frame of real motion, not the
/// frames around it.
pub fn video_still(video: &str, at_secs: f32) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("still.jpg");
    let st = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-ss", &at_secs.to_string(), "-i"])
        .arg(assets_dir().join("testdata").join(video))
        .args(["-frames:v", "1", "-q:v", "2"])
        .arg(&out)
        .status()
        .expect("ffmpeg (make setup installs it)");
    assert!(st.success(), "ffmpeg could not take the still");
    std::fs::read(out).expect("still")
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

/// A webhook receiver on loopback: records every request and answers 500 to the first
/// `fail_first` of them, 200 afterwards. Plain HTTP/1.1, one request per connection.
pub struct Receiver {
    pub url: String,
    pub hits: std::sync::Arc<std::sync::Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let hits: std::sync::Arc<std::sync::Mutex<Vec<Hit>>> = Default::default();
        let h = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let h = h.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    let head_end = loop {
                        let Ok(n) = sock.read(&mut chunk).await else { return };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let headers: BTreeMap<String, String> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                    while buf.len() < head_end + len {
                        let Ok(n) = sock.read(&mut chunk).await else { return };
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = buf[head_end..(head_end + len).min(buf.len())].to_vec();
                    let status = {
                        let mut hits = h.lock().unwrap();
                        let status = if hits.len() < fail_first { 500 } else { 200 };
                        hits.push(Hit { headers, body, status });
                        status
                    };
                    let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Receiver { url, hits, task }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A presentation attack made from a public-domain portrait: the photo as a print held up to the
/// camera, shrunk to `k` of the frame with a paper border on a textured background (the liveness
/// model sees the border within its context window; see the inference tests). PNG bytes.
pub fn held_print(photo: &str, k: f32) -> Vec<u8> {
    let bona = image::load_from_memory(&test_photo(photo)).expect("photo").to_rgb8();
    let (w, h) = bona.dimensions();
    let (pw, ph) = ((w as f32 * k) as u32, (h as f32 * k) as u32);
    let small = image::imageops::resize(&bona, pw, ph, image::imageops::FilterType::Triangle);
    let border = (pw / 12).max(4);
    let (ox, oy) = ((w - pw) / 2, (h - ph) / 2);
    let mut canvas = image::RgbImage::from_fn(w, h, |x, y| {
        let paper = x + border >= ox && x < ox + pw + border && y + border >= oy && y < oy + ph + border;
        let n = ((x * 7 + y * 13) % 23) as u8;
        if paper { image::Rgb([235, 235, 228]) } else { image::Rgb([60 + n, 55 + n, 50 + n]) }
    });
    image::imageops::overlay(&mut canvas, &small, i64::from(ox), i64::from(oy));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(canvas).write_to(&mut out, image::ImageFormat::Png).expect("encode");
    out.into_inner()
}

/// A one-entry-per-file ZIP (a shots set).
pub fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).expect("zip entry");
        w.write_all(bytes).expect("zip write");
    }
    w.finish().expect("zip").into_inner()
}

/// A tar of files, names written raw into the header so that hostile ones (`../x`) reach the
/// reader as they are.
pub fn tar_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.as_gnu_mut().expect("gnu header").name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, &data[..]).expect("tar entry");
    }
    b.into_inner().expect("tar")
}

/// `data` gzip-compressed.
pub fn gz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip write");
    e.finish().expect("gzip")
}

/// HMAC-SHA256, hex: to check webhook signatures independently of the server's code.
pub fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = key.to_vec();
    if k.len() > 64 {
        k = Sha256::digest(&k).to_vec();
    }
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&ipad).chain_update(msg).finalize();
    let outer = Sha256::new().chain_update(&opad).chain_update(inner).finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

impl Server {
    /// Polls an analysis until it leaves PROCESSING (as the SDKs do), for at most `secs`.
    pub async fn wait_analysis(&self, sess: &Session, id: &str, secs: u64) -> Value {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let (st, a) = self.get(sess, &format!("/api/analyses/{id}")).await;
            assert_eq!(st, StatusCode::OK, "{a}");
            if a["state"] != "PROCESSING" {
                return a;
            }
            assert!(std::time::Instant::now() < until, "analysis {id} still PROCESSING after {secs} s: {a}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// A test portrait scaled to about one megapixel, as a JPEG (quality 90): the size of a phone
/// selfie, for the benchmarks.
pub fn megapixel(photo: &str) -> Vec<u8> {
    let img = image::load_from_memory(&test_photo(photo)).expect("test photo").to_rgb8();
    let k = (1_000_000.0 / f64::from(img.width() * img.height())).sqrt();
    let (w, h) = ((f64::from(img.width()) * k) as u32, (f64::from(img.height()) * k) as u32);
    let big = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&big).expect("jpeg");
    out.into_inner()
}

/// The text of a PDF, as `pdftotext` (poppler-utils) extracts it.
pub fn pdf_text(pdf: &[u8]) -> String {
    pdf_tool("pdftotext", &[], pdf, "-")
}

/// How many images a PDF embeds (`pdfimages -list`).
pub fn pdf_images(pdf: &[u8]) -> usize {
    // Two header lines, then one line per image.
    pdf_tool("pdfimages", &["-list"], pdf, "").lines().skip(2).filter(|l| !l.trim().is_empty()).count()
}

fn pdf_tool(tool: &str, args: &[&str], pdf: &[u8], out: &str) -> String {
    let dir = std::env::temp_dir().join(format!("vigil-pdf-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("r.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let mut cmd = std::process::Command::new(tool);
    cmd.args(args).arg(&path);
    if !out.is_empty() {
        cmd.arg(out);
    }
    let o = cmd.output().unwrap_or_else(|e| panic!("{tool}: {e} (poppler-utils; .ci/setup installs it)"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(o.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}
