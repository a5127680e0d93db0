//! Logs: text or JSON, to stderr or to `vigil.log` in a directory, rotated daily, hourly or by
//! size, with a retention count. Lines written inside a request carry its `request_id` (the
//! request span's field).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// When the current file is closed and a new one begun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Daily,
    Hourly,
    /// When the file would pass this many bytes.
    Size(u64),
    Never,
}

impl Rotation {
    pub fn parse(s: &str) -> Option<Rotation> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" => Some(Rotation::Daily),
            "hourly" => Some(Rotation::Hourly),
            "never" => Some(Rotation::Never),
            other => crate::config::parse_size(other).filter(|n| *n >= 4096).map(Rotation::Size),
        }
    }

    /// The period a time falls in (for the time-based rotations), as a file-name stamp.
    fn period(self, unix_secs: u64) -> Option<String> {
        let (days, rem) = (unix_secs / 86_400, unix_secs % 86_400);
        let date = vigil_domain::time::civil_from_days(days as i64);
        match self {
            Rotation::Daily => Some(format!("{:04}-{:02}-{:02}", date.0, date.1, date.2)),
            Rotation::Hourly => Some(format!("{:04}-{:02}-{:02}T{:02}", date.0, date.1, date.2, rem / 3600)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFiles {
    pub dir: PathBuf,
    pub rotation: Rotation,
    /// Rotated files kept besides the current one.
    pub max_files: usize,
}

/// `vigil.log`, rotated to `vigil.<period>.log` (time) or `vigil.<n>.log` (size, 1 = newest).
pub struct RotatingFile {
    cfg: LogFiles,
    file: File,
    size: u64,
    period: Option<String>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl RotatingFile {
    pub fn open(cfg: LogFiles) -> std::io::Result<RotatingFile> {
        std::fs::create_dir_all(&cfg.dir)?;
        let path = cfg.dir.join("vigil.log");
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        // A file left from an earlier period rotates at the first write.
        let modified = file.metadata()?.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let period = cfg.rotation.period(modified.map_or_else(now_secs, |d| d.as_secs()));
        Ok(RotatingFile { cfg, file, size, period })
    }

    fn current(&self) -> PathBuf {
        self.cfg.dir.join("vigil.log")
    }

    fn rotate(&mut self, stamp: Option<String>) -> std::io::Result<()> {
        self.file.flush()?;
        match stamp {
            Some(p) => std::fs::rename(self.current(), self.cfg.dir.join(format!("vigil.{p}.log")))?,
            None => {
                // vigil.log → vigil.1.log, vigil.1.log → vigil.2.log, …
                for i in (1..self.cfg.max_files).rev() {
                    let from = self.cfg.dir.join(format!("vigil.{i}.log"));
                    if from.exists() {
                        std::fs::rename(&from, self.cfg.dir.join(format!("vigil.{}.log", i + 1)))?;
                    }
                }
                std::fs::rename(self.current(), self.cfg.dir.join("vigil.1.log"))?;
            }
        }
        self.file = OpenOptions::new().create(true).append(true).open(self.current())?;
        self.size = 0;
        prune(&self.cfg.dir, self.cfg.max_files)
    }

    fn before_write(&mut self, len: u64) -> std::io::Result<()> {
        match self.cfg.rotation {
            Rotation::Size(max) if self.size > 0 && self.size + len > max => self.rotate(None),
            r @ (Rotation::Daily | Rotation::Hourly) => {
                let now = r.period(now_secs());
                if now != self.period {
                    let old = std::mem::replace(&mut self.period, now);
                    if self.size > 0 {
                        return self.rotate(old);
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Keeps the `keep` newest rotated files.
fn prune(dir: &Path, keep: usize) -> std::io::Result<()> {
    let mut rotated: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            name.starts_with("vigil.") && name.ends_with(".log") && name != "vigil.log"
        })
        .filter_map(|p| Some((std::fs::metadata(&p).and_then(|m| m.modified()).ok()?, p)))
        .collect();
    rotated.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (_, p) in rotated.into_iter().skip(keep) {
        std::fs::remove_file(p)?;
    }
    Ok(())
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.before_write(buf.len() as u64)?;
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A cloneable handle for `tracing_subscriber`: one line at a time under the lock.
#[derive(Clone)]
pub struct SharedFile(pub Arc<Mutex<RotatingFile>>);

pub struct Guard<'a>(std::sync::MutexGuard<'a, RotatingFile>);

impl Write for Guard<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SharedFile {
    type Writer = Guard<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        Guard(self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Installs the process's log subscriber.
pub fn init(json: bool, files: Option<&LogFiles>) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    match files {
        None => {
            let b = b.with_writer(std::io::stderr);
            if json { b.json().init() } else { b.init() }
        }
        Some(cfg) => {
            let w = SharedFile(Arc::new(Mutex::new(RotatingFile::open(cfg.clone())?)));
            let b = b.with_writer(w).with_ansi(false);
            if json { b.json().init() } else { b.init() }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(Rotation::Daily.period(1_796_083_532).as_deref(), Some("2026-12-01"));
        assert_eq!(Rotation::Hourly.period(1_796_083_532).as_deref(), Some("2026-12-01T00"));
        assert_eq!(Rotation::parse("10M"), Some(Rotation::Size(10 << 20)));
        assert_eq!(Rotation::parse("weekly"), None);
    }

    #[test]
    fn size_rotation_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogFiles { dir: dir.path().to_path_buf(), rotation: Rotation::Size(4096), max_files: 3 };
        let mut f = RotatingFile::open(cfg).unwrap();
        let line = [b'x'; 1000];
        for i in 0..30 {
            f.write_all(&line).unwrap();
            f.write_all(format!("{i}\n").as_bytes()).unwrap();
        }
        f.flush().unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
        names.sort();
        assert_eq!(names, ["vigil.1.log", "vigil.2.log", "vigil.3.log", "vigil.log"]);
        for n in &names {
            assert!(std::fs::metadata(dir.path().join(n)).unwrap().len() <= 4096 + 8);
        }
        let newest = std::fs::read_to_string(dir.path().join("vigil.log")).unwrap();
        assert!(newest.ends_with("29\n"));
    }
}
