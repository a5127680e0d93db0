//! Folder reports from Typst markup: the one crate that knows Typst.
//!
//! A report template is untrusted (a customer's minijinja file or component writes the markup),
//! and Typst evaluation is a language: `for` loops over huge ranges or deep layouts can take
//! minutes and gigabytes. So the compile runs in a child process (`vigil render-typst`) under an
//! address-space and CPU-time limit, killed at a wall-clock deadline; the server only feeds it
//! the markup and the files it may use (attachments, thumbnails, best shots) and reads back the
//! PDF or a diagnostic with its line.

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::Bytes;
use typst::text::Font;
use typst::{World, WorldExt};
use typst_as_lib::TypstEngine;
use typst_layout::PagedDocument;

/// Why a document was not made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RenderError {
    /// The markup does not compile; `line` and `column` are 1-based in the markup the template
    /// produced.
    #[error("Typst error at line {line}, column {column}: {message}")]
    Compile { line: usize, column: usize, message: String },
    /// Compiles, but names something unusable (a missing file, a bad image).
    #[error("Typst error: {0}")]
    Document(String),
    #[error("the document is {size} bytes; the limit is {cap}")]
    TooLarge { size: usize, cap: usize },
    #[error("the report took longer than {0} s to typeset")]
    Timeout(u64),
    #[error("the report needed more than its {0} MB of memory or CPU time to typeset")]
    Resources(u64),
    #[error("the report renderer failed: {0}")]
    Internal(String),
}

/// Bounds of one compile.
#[derive(Debug, Clone)]
pub struct Limits {
    pub timeout: Duration,
    /// Address-space limit of the child, bytes.
    pub max_memory: u64,
    /// Largest PDF kept.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { timeout: Duration::from_secs(20), max_memory: 3 << 30, max_output: 20 << 20 }
    }
}

/// What the child compiles: the markup and the files it may read, by virtual path.
#[derive(Debug, Clone)]
pub struct Job {
    pub source: String,
    /// Directories whose `.ttf`/`.otf` fonts are added to the embedded ones.
    pub font_dirs: Vec<PathBuf>,
    /// (virtual path such as `attachments/logo.png`, bytes). Paths are checked by the caller to
    /// be relative, without `..`.
    pub files: Vec<(String, Vec<u8>)>,
    pub max_output: usize,
}

/// On the wire, a job is a JSON header (its length first, 4 bytes little-endian) followed by
/// the files' bytes in header order; the answer is `P` and the PDF, or `E` and a [`WireError`].
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    source: String,
    font_dirs: Vec<PathBuf>,
    files: Vec<(String, usize)>,
    max_output: usize,
}

impl Job {
    fn encode(&self) -> Vec<u8> {
        let header = Header {
            source: self.source.clone(),
            font_dirs: self.font_dirs.clone(),
            files: self.files.iter().map(|(p, b)| (p.clone(), b.len())).collect(),
            max_output: self.max_output,
        };
        let h = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(4 + h.len() + self.files.iter().map(|f| f.1.len()).sum::<usize>());
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
        out.extend_from_slice(&h);
        for (_, b) in &self.files {
            out.extend_from_slice(b);
        }
        out
    }

    fn decode(raw: &[u8]) -> Option<Job> {
        let n = u32::from_le_bytes(raw.get(..4)?.try_into().ok()?) as usize;
        let header: Header = serde_json::from_slice(raw.get(4..4 + n)?).ok()?;
        let mut at = 4 + n;
        let mut files = Vec::with_capacity(header.files.len());
        for (p, len) in header.files {
            files.push((p, raw.get(at..at.checked_add(len)?)?.to_vec()));
            at += len;
        }
        Some(Job { source: header.source, font_dirs: header.font_dirs, files, max_output: header.max_output })
    }
}

#[derive(Debug, Serialize, Deserialize)]
enum WireError {
    Compile { line: usize, column: usize, message: String },
    Document(String),
    TooLarge { size: usize, cap: usize },
}

/// The embedded fonts (Libertinus Serif, New Computer Modern, DejaVu Sans Mono) and every font
/// file in `dirs` (unreadable ones skipped).
pub fn fonts(dirs: &[PathBuf]) -> Vec<Font> {
    let mut out: Vec<Font> = typst_assets::fonts().flat_map(|b| Font::iter(Bytes::new(b))).collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            let font_file = p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                let e = e.to_ascii_lowercase();
                e == "ttf" || e == "otf" || e == "ttc"
            });
            if let (true, Ok(data)) = (font_file, std::fs::read(&p)) {
                out.extend(Font::iter(Bytes::new(data)));
            }
        }
    }
    out
}

/// A virtual path Typst may be given: relative, plain segments of letters, digits, `._-`.
pub fn valid_path(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 200
        && p.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
}

/// Compiles in this process (the child's work, and tests of the crate).
pub fn compile(job: &Job, fonts: Vec<Font>) -> Result<Vec<u8>, RenderError> {
    if let Some((bad, _)) = job.files.iter().find(|(p, _)| !valid_path(p)) {
        return Err(RenderError::Internal(format!("file path '{bad}' is not allowed")));
    }
    let files: Vec<(&str, &[u8])> = job.files.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
    let engine =
        TypstEngine::builder().main_file(job.source.as_str()).fonts(fonts).with_static_file_resolver(files).build();
    let doc = engine
        .with_world(|world| match typst::compile::<PagedDocument>(world).output {
            Ok(doc) => Ok(doc),
            Err(diags) => Err(first_error(world, &diags)),
        })
        .map_err(|e| RenderError::Document(e.to_string()))??;
    let pdf = typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default()).map_err(|diags| {
        RenderError::Document(
            diags.first().map(|d| d.message.to_string()).unwrap_or_else(|| "PDF export failed".into()),
        )
    })?;
    if pdf.len() > job.max_output {
        return Err(RenderError::TooLarge { size: pdf.len(), cap: job.max_output });
    }
    Ok(pdf)
}

/// The first error, located in the markup when it points there.
fn first_error(world: &dyn World, diags: &[SourceDiagnostic]) -> RenderError {
    let Some(d) = diags.iter().find(|d| d.severity == Severity::Error).or(diags.first()) else {
        return RenderError::Document("compilation failed without a message".into());
    };
    let mut message = d.message.to_string();
    if let Some(h) = d.hints.first() {
        message.push_str(&format!(" (hint: {})", h.v));
    }
    let at = d.span.id().and_then(|id| {
        let range = world.range(d.span)?;
        let source = world.source(id).ok()?;
        source.lines().byte_to_line_column(range.start)
    });
    match at {
        Some((line, column)) => RenderError::Compile { line: line + 1, column: column + 1, message },
        None => RenderError::Document(message),
    }
}

/// `vigil render-typst`: reads a [`Job`] on stdin, answers on stdout. Always exits 0
/// when it could answer; a crash (the memory limit) shows as a failed exit.
pub fn child_main() -> i32 {
    let mut input = Vec::new();
    if std::io::stdin().take(256 << 20).read_to_end(&mut input).is_err() {
        return 3;
    }
    let result = match Job::decode(&input) {
        Some(job) => {
            drop(input);
            compile(&job, fonts(&job.font_dirs))
        }
        None => Err(RenderError::Internal("unreadable job".into())),
    };
    let out = match result {
        Ok(pdf) => [b"P".as_slice(), &pdf].concat(),
        Err(e) => {
            let wire = match e {
                RenderError::Compile { line, column, message } => WireError::Compile { line, column, message },
                RenderError::TooLarge { size, cap } => WireError::TooLarge { size, cap },
                e => WireError::Document(e.to_string()),
            };
            let Ok(json) = serde_json::to_vec(&wire) else { return 4 };
            [b"E".as_slice(), &json].concat()
        }
    };
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(&out).and_then(|_| stdout.flush()).is_err() {
        return 5;
    }
    0
}

/// Compiles `job` in a child `exe render-typst`, bounded by `limits`.
pub async fn compile_in_child(exe: &std::path::Path, job: &Job, limits: &Limits) -> Result<Vec<u8>, RenderError> {
    let internal = |e: std::io::Error| RenderError::Internal(e.to_string());
    let input = job.encode();
    let cpu = limits.timeout.as_secs().max(1) * 2;
    let mut cmd = if has_prlimit() {
        let mut c = tokio::process::Command::new("prlimit");
        c.arg(format!("--as={}", limits.max_memory)).arg(format!("--cpu={cpu}")).arg("--").arg(exe);
        c
    } else {
        tokio::process::Command::new(exe)
    };
    // Few malloc arenas: each reserves address space, which the limit counts.
    cmd.arg("render-typst")
        .env("MALLOC_ARENA_MAX", "2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(internal)?;
    let mut stdin = child.stdin.take().ok_or_else(|| RenderError::Internal("no stdin".into()))?;
    let feed = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    let mut out = Vec::new();
    let mut err = Vec::new();
    let cap = limits.max_output as u64 + (1 << 20);
    let mut stdout = child.stdout.take().ok_or_else(|| RenderError::Internal("no stdout".into()))?.take(cap);
    let mut stderr = child.stderr.take().ok_or_else(|| RenderError::Internal("no stderr".into()))?.take(16 << 10);
    let work = async {
        let (a, b) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        a.and(b).map_err(internal)?;
        child.wait().await.map_err(internal)
    };
    let status = match tokio::time::timeout(limits.timeout, work).await {
        Ok(s) => s?,
        Err(_) => return Err(RenderError::Timeout(limits.timeout.as_secs())),
    };
    feed.abort();
    if !status.success() {
        let text = String::from_utf8_lossy(&err);
        tracing::info!(%status, stderr = %text.trim(), "report renderer failed");
        return Err(RenderError::Resources(limits.max_memory >> 20));
    }
    match out.split_first() {
        Some((b'P', pdf)) => Ok(pdf.to_vec()),
        Some((b'E', json)) => match serde_json::from_slice::<WireError>(json) {
            Ok(WireError::Compile { line, column, message }) => Err(RenderError::Compile { line, column, message }),
            Ok(WireError::Document(m)) => Err(RenderError::Document(m)),
            Ok(WireError::TooLarge { size, cap }) => Err(RenderError::TooLarge { size, cap }),
            Err(e) => Err(RenderError::Internal(format!("unreadable answer: {e}"))),
        },
        _ => Err(RenderError::Internal("the renderer gave no answer".into())),
    }
}

fn has_prlimit() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        std::process::Command::new("prlimit")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(source: &str) -> Job {
        Job { source: source.into(), font_dirs: vec![], files: vec![], max_output: 10 << 20 }
    }

    #[test]
    fn compiles_markup_to_pdf() {
        let pdf = compile(&job("= Report\nFolder *abc* #table(columns: 2, [a], [b])"), fonts(&[])).unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    }

    #[test]
    fn errors_name_their_line() {
        let e = compile(&job("= Report\n\nsome text\n#let x = (\n"), fonts(&[])).unwrap_err();
        assert!(matches!(e, RenderError::Compile { line: 4, .. }), "{e:?}");
        let e = compile(&job("ok\n#image(\"attachments/logo.png\")"), fonts(&[])).unwrap_err();
        assert!(e.to_string().contains("logo.png"), "{e}");
    }

    #[test]
    fn oversized_documents_are_refused() {
        let mut j = job(&"Lorem ipsum dolor sit amet. ".repeat(2000));
        j.max_output = 1000;
        assert!(matches!(compile(&j, fonts(&[])), Err(RenderError::TooLarge { cap: 1000, .. })));
    }

    #[test]
    fn jobs_cross_the_pipe_intact() {
        let mut j = job("= Hi");
        j.files = vec![("a/b.png".into(), vec![1, 2, 3]), ("c.jpg".into(), vec![]), ("d".into(), vec![9; 70_000])];
        let back = Job::decode(&j.encode()).unwrap();
        assert_eq!(back.source, "= Hi");
        assert_eq!(back.files, j.files);
        assert!(Job::decode(&j.encode()[..100]).is_none());
    }

    #[test]
    fn paths_stay_inside() {
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "", "a b"] {
            assert!(!valid_path(bad), "{bad}");
        }
        assert!(valid_path("attachments/logo.png"));
    }
}
