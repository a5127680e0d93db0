//! An in-process S3 server (`s3s-fs`) with SigV4 authentication, for the S3 blob backend.

use hyper_util::rt::{TokioExecutor, TokioIo};
use std::path::{Path, PathBuf};

pub const BUCKET: &str = "vigil-test";
pub const ACCESS_KEY: &str = "AKIAVIGILTEST000001";
pub const SECRET_KEY: &str = "vigil-test-secret-key-0000000000000000000";

pub struct S3Server {
    pub endpoint: String,
    /// The bucket's directory: objects are files below it.
    pub root: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl S3Server {
    pub async fn start(dir: &Path) -> S3Server {
        std::fs::create_dir_all(dir.join(BUCKET)).expect("bucket dir");
        let fs = s3s_fs::FileSystem::new(dir).expect("s3s-fs");
        let mut b = s3s::service::S3ServiceBuilder::new(fs);
        b.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = b.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind s3");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let svc = service.clone();
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        S3Server { endpoint, root: dir.join(BUCKET), task }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
