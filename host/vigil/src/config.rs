//! One typed configuration, layered: defaults → TOML file → environment → command-line flags.
//!
//! Every key has the same name in each layer: `max_file_size` in the file, `VIGIL_MAX_FILE_SIZE`
//! in the environment. The Oz names `OZ_SESSION_TTL`, `OZ_SESSION_LONGLIVE_TTL`,
//! `OZ_PASSWORD_POLICY` and `OZ_USE_PERMISSIONS_FOR_STATIC` are honoured too.

use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vigil_core::{CoreConfig, Limits};
use vigil_domain::password::PasswordPolicy;
use vigil_domain::time::parse_duration_secs;

/// Every configuration key. Unknown keys in a file are an error.
pub const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "blob_url",
    "s3_access_key_id",
    "s3_secret_access_key",
    "public_url",
    "admin_email",
    "admin_password",
    "session_ttl",
    "session_longlive_ttl",
    "admin_session_ttl",
    "restore_ttl",
    "refresh_ttl",
    "password_policy",
    "use_permissions_for_static",
    "max_file_size",
    "max_files",
    "max_request_size",
    "max_media_per_folder",
    "max_image_pixels",
    "log_format",
    "plugin_concurrency",
    "builtins",
    "assets_dir",
    "inference_threads",
    "plugin_sync_secs",
    "timezone",
    "video_timeout",
    "video_sample_fps",
    "video_max_frames",
    "video_max_side",
    "video_max_memory",
    "ffmpeg",
    "ffprobe",
    "shots_preview",
    "shots_max_entries",
    "shots_max_bytes",
    "shots_max_frame_pixels",
    "models_manifest",
    "embedding_model",
    "company_embedding_models",
    "workers",
    "job_lease",
    "job_max_attempts",
    "job_backoff_ms",
    "job_poll_ms",
    "job_company_queued",
    "webhook_max_attempts",
    "webhook_timeout",
    "webhook_allow_private",
    "webhook_secret",
    "builtin_config",
    "plugins_dir",
    "frame_cache_bytes",
    "decode_concurrency",
    "face_index",
    "face_index_ef",
    "face_index_save_secs",
    "report_fonts",
    "report_renderer",
    "report_timeout",
    "report_max_memory",
    "ldap_url",
    "ldap_starttls",
    "ldap_tls_insecure",
    "ldap_bind_dn",
    "ldap_bind_password",
    "ldap_bind_password_file",
    "ldap_user_base",
    "ldap_user_filter",
    "ldap_group_base",
    "ldap_group_filter",
    "ldap_groups",
    "ldap_timeout",
    "throttling_rates",
    "log_dir",
    "log_rotation",
    "log_max_files",
    "metrics_listen",
];

const OZ_KEYS: &[&str] =
    &["session_ttl", "session_longlive_ttl", "password_policy", "use_permissions_for_static", "throttling_rates"];

#[derive(Clone)]
pub struct Settings {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub blob_url: Option<String>,
    pub s3: Option<vigil_blob::S3Credentials>,
    pub public_url: Option<String>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub log_json: bool,
    /// Log files instead of stderr, and how they rotate.
    pub log_files: Option<crate::logging::LogFiles>,
    /// Where `/metrics` is served (Prometheus text format); off when absent.
    pub metrics_listen: Option<String>,
    /// How often each replica reloads the active plugin versions from the database.
    pub plugin_sync_secs: u64,
    /// A TOML manifest of built-in plugins to register at start-up (see `vigil::builtins`).
    pub builtins: Option<PathBuf>,
    /// Where the manifest's component files are (default: next to the manifest).
    pub plugins_dir: Option<PathBuf>,
    /// Per built-in configuration overrides: `{"quality": {"legacy_scores": "true"}}`.
    pub builtin_config: BTreeMap<String, BTreeMap<String, String>>,
    /// ONNX Runtime and the models (`make assets`), shared by every data dir.
    pub assets_dir: PathBuf,
    pub inference_threads: usize,
    /// A model manifest replacing the shipped `models.toml`.
    pub models_manifest: Option<PathBuf>,
    /// Which embedding model serves each company by default.
    pub embedding: vigil_core::vision::EmbeddingChoice,
    pub core: CoreConfig,
}

impl std::fmt::Debug for Settings {
    // The admin password and any credentials in URLs stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("blob_url", &self.blob_url.as_deref().map(redact_url))
            .field("admin_email", &self.admin_email)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

fn redact_url(u: &str) -> String {
    match (u.find("://"), u.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &u[..s + 3], &u[at..]),
        _ => u.to_string(),
    }
}

/// Values given on the command line (highest precedence).
pub type Flags = BTreeMap<&'static str, String>;

impl Settings {
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>, flags: &Flags) -> Result<Settings> {
        let mut raw: BTreeMap<&'static str, String> = BTreeMap::new();
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
            let table: toml::Table = text.parse().with_context(|| format!("parsing config file {}", path.display()))?;
            for (k, v) in table {
                let key =
                    KEYS.iter().find(|x| **x == k).ok_or_else(|| anyhow!("unknown key '{k}' in {}", path.display()))?;
                let s = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                raw.insert(key, s);
            }
        }
        for key in KEYS {
            let upper = key.to_ascii_uppercase();
            let oz = OZ_KEYS.contains(key).then(|| env(&format!("OZ_{upper}"))).flatten();
            if let Some(v) = env(&format!("VIGIL_{upper}")).or(oz).filter(|v| !v.is_empty()) {
                raw.insert(key, v);
            }
        }
        for (k, v) in flags {
            raw.insert(k, v.clone());
        }
        Self::from_raw(&raw)
    }

    fn from_raw(raw: &BTreeMap<&'static str, String>) -> Result<Settings> {
        let get = |k: &str| raw.get(k).cloned();
        let num = |k: &str, default: u64| -> Result<u64> {
            match raw.get(k) {
                None => Ok(default),
                Some(v) => {
                    parse_size(v).ok_or_else(|| anyhow!("{k}: '{v}' is not a number (suffixes K, M, G allowed)"))
                }
            }
        };
        let dur = |k: &str, default: u64| -> Result<u64> {
            match raw.get(k) {
                None => Ok(default),
                Some(v) => parse_duration_secs(v)
                    .filter(|d| *d > 0)
                    .ok_or_else(|| anyhow!("{k}: '{v}' is not a duration (900, 15m, 12h, 5y)")),
            }
        };
        let data_dir = PathBuf::from(get("data_dir").unwrap_or_else(|| "./data".into()));
        let database_url =
            get("database_url").unwrap_or_else(|| format!("sqlite://{}", data_dir.join("vigil.db").display()));
        let password_policy = match raw.get("password_policy") {
            None => PasswordPolicy::default(),
            Some(p) => PasswordPolicy::parse(p).map_err(|e| anyhow!("password_policy: {e}"))?,
        };
        let flag = |k: &str, default: bool| flag(raw, k, default);
        let use_static_perms = flag("use_permissions_for_static", true)?;
        let d = Limits::default();
        let c = CoreConfig::default();
        let core = CoreConfig {
            public_url: get("public_url").unwrap_or_default().trim_end_matches('/').to_string(),
            session_ttl_secs: dur("session_ttl", c.session_ttl_secs)?,
            session_longlive_ttl_secs: dur("session_longlive_ttl", c.session_longlive_ttl_secs)?,
            admin_session_ttl_secs: dur("admin_session_ttl", c.admin_session_ttl_secs)?,
            restore_ttl_secs: dur("restore_ttl", c.restore_ttl_secs)?,
            refresh_ttl_secs: dur("refresh_ttl", c.refresh_ttl_secs)?,
            password_policy,
            use_permissions_for_static: use_static_perms,
            limits: Limits {
                max_file_size: num("max_file_size", d.max_file_size)?,
                max_files: num("max_files", d.max_files as u64)? as usize,
                max_request_size: num("max_request_size", d.max_request_size)?,
                max_media_per_folder: num("max_media_per_folder", d.max_media_per_folder as u64)? as usize,
                max_image_pixels: num("max_image_pixels", d.max_image_pixels)?,
            },
            timezone: get("timezone").unwrap_or(c.timezone),
            plugin_concurrency: num("plugin_concurrency", c.plugin_concurrency as u64)?.max(1) as usize,
            video: {
                let v = c.video;
                let fps = match raw.get("video_sample_fps") {
                    None => v.sample_fps,
                    Some(f) => f
                        .parse::<f32>()
                        .ok()
                        .filter(|f| *f > 0.0 && f.is_finite())
                        .ok_or_else(|| anyhow!("video_sample_fps: '{f}' is not a positive number"))?,
                };
                vigil_media::video::VideoLimits {
                    timeout: std::time::Duration::from_secs(dur("video_timeout", v.timeout.as_secs())?),
                    max_memory: num("video_max_memory", v.max_memory)?,
                    sample_fps: fps,
                    max_frames: num("video_max_frames", v.max_frames as u64)?.max(1) as usize,
                    max_side: num("video_max_side", u64::from(v.max_side))?.clamp(64, 8192) as u32,
                    ffmpeg: get("ffmpeg").unwrap_or(v.ffmpeg),
                    ffprobe: get("ffprobe").unwrap_or(v.ffprobe),
                }
            },
            shots: vigil_media::shots::ShotsLimits {
                max_entries: num("shots_max_entries", c.shots.max_entries as u64)? as usize,
                max_total_bytes: num("shots_max_bytes", c.shots.max_total_bytes)?,
                max_pixels: num("shots_max_frame_pixels", c.shots.max_pixels)?,
                ..c.shots
            },
            shots_preview: flag("shots_preview", c.shots_preview)?,
            frame_cache_bytes: num("frame_cache_bytes", c.frame_cache_bytes as u64)? as usize,
            decode_concurrency: num("decode_concurrency", c.decode_concurrency as u64)?.clamp(1, 64) as usize,
            face_index: {
                let f = c.face_index;
                let backend = match get("face_index").map(|b| b.to_ascii_lowercase()) {
                    None => f.backend,
                    Some(b) => vigil_core::FaceIndexBackend::parse(&b)
                        .ok_or_else(|| anyhow!("face_index: '{b}' is not auto, quantised, exact, hnsw or pgvector"))?,
                };
                vigil_core::FaceIndexSettings {
                    backend,
                    dir: Some(data_dir.join("index")),
                    expansion_search: num("face_index_ef", f.expansion_search as u64)?.clamp(16, 4096) as usize,
                    save_secs: dur("face_index_save_secs", f.save_secs)?,
                }
            },
            directory: directory(raw)?,
            throttling: match get("throttling_rates") {
                None => Default::default(),
                Some(v) => {
                    vigil_domain::throttle::parse_rates(&v).map_err(|e| anyhow!("throttling_rates: {}", e.message))?
                }
            },
            reports: {
                let r = c.reports;
                vigil_core::reports::ReportSettings {
                    // The executable run as `<renderer> render-typst`; this one by default.
                    renderer: get("report_renderer").map(std::path::PathBuf::from).or(r.renderer),
                    // Colon-separated font directories added to the embedded fonts.
                    font_dirs: get("report_fonts")
                        .map(|v| v.split(':').filter(|s| !s.is_empty()).map(std::path::PathBuf::from).collect())
                        .unwrap_or(r.font_dirs),
                    limits: vigil_report::Limits {
                        timeout: std::time::Duration::from_secs(
                            dur("report_timeout", r.limits.timeout.as_secs())?.max(1),
                        ),
                        max_memory: num("report_max_memory", r.limits.max_memory)?.max(256 << 20),
                        ..r.limits
                    },
                }
            },
            jobs: {
                let j = c.jobs;
                let ms = |k: &str, d: std::time::Duration| -> Result<std::time::Duration> {
                    Ok(std::time::Duration::from_millis(num(k, d.as_millis() as u64)?.max(1)))
                };
                vigil_core::jobs::JobsConfig {
                    workers: num("workers", j.workers as u64)? as usize,
                    lease: std::time::Duration::from_secs(dur("job_lease", j.lease.as_secs())?),
                    max_attempts: num("job_max_attempts", u64::from(j.max_attempts))?.clamp(1, 100) as u32,
                    backoff_base: ms("job_backoff_ms", j.backoff_base)?,
                    poll: ms("job_poll_ms", j.poll)?,
                    company_queued: num("job_company_queued", j.company_queued as u64)?.max(1) as usize,
                    webhook_max_attempts: num("webhook_max_attempts", u64::from(j.webhook_max_attempts))?.clamp(1, 100)
                        as u32,
                    webhook_timeout: std::time::Duration::from_secs(dur(
                        "webhook_timeout",
                        j.webhook_timeout.as_secs(),
                    )?),
                    webhook_allow_private: flag("webhook_allow_private", j.webhook_allow_private)?,
                    webhook_secret: get("webhook_secret"),
                }
            },
        };
        let log_json = match get("log_format").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(o) => bail!("log_format: '{o}' is not text or json"),
        };
        Ok(Settings {
            listen: get("listen").unwrap_or_else(|| "127.0.0.1:8080".into()),
            data_dir,
            database_url,
            blob_url: get("blob_url"),
            s3: match (get("s3_access_key_id"), get("s3_secret_access_key")) {
                (Some(access_key_id), Some(secret_access_key)) => {
                    Some(vigil_blob::S3Credentials { access_key_id, secret_access_key })
                }
                _ => None,
            },
            public_url: get("public_url"),
            admin_email: get("admin_email"),
            admin_password: get("admin_password"),
            log_json,
            log_files: match get("log_dir") {
                None => None,
                Some(dir) => Some(crate::logging::LogFiles {
                    dir: PathBuf::from(dir),
                    rotation: crate::logging::Rotation::parse(get("log_rotation").as_deref().unwrap_or("daily"))
                        .ok_or_else(|| anyhow!("log_rotation: use daily, hourly, never or a size such as 100M"))?,
                    max_files: num("log_max_files", 7)?.clamp(1, 10_000) as usize,
                }),
            },
            metrics_listen: get("metrics_listen"),
            plugin_sync_secs: dur("plugin_sync_secs", 10)?,
            builtins: get("builtins").map(PathBuf::from),
            plugins_dir: get("plugins_dir").map(PathBuf::from),
            builtin_config: match get("builtin_config") {
                None => BTreeMap::new(),
                Some(v) => serde_json::from_str(&v).map_err(|e| {
                    anyhow!("builtin_config: expected {{\"<plugin>\": {{\"<key>\": \"<value>\"}}}}: {e}")
                })?,
            },
            assets_dir: PathBuf::from(get("assets_dir").unwrap_or_else(|| "./assets".into())),
            inference_threads: num("inference_threads", 2)?.max(1) as usize,
            models_manifest: get("models_manifest").map(PathBuf::from),
            embedding: vigil_core::vision::EmbeddingChoice {
                default: get("embedding_model"),
                per_company: match get("company_embedding_models") {
                    None => Default::default(),
                    Some(v) => parse_company_models(&v)?,
                },
            },
            core,
        })
    }
}

/// `<company uuid>=<model>,<company uuid>=<model>`.
fn parse_company_models(v: &str) -> Result<std::collections::HashMap<uuid::Uuid, String>> {
    v.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (c, m) = pair
                .split_once('=')
                .ok_or_else(|| anyhow!("company_embedding_models: '{pair}' is not <company id>=<model>"))?;
            let c = uuid::Uuid::parse_str(c.trim())
                .map_err(|_| anyhow!("company_embedding_models: '{c}' is not a company id"))?;
            Ok((c, m.trim().to_string()))
        })
        .collect()
}

/// `1048576`, `64M`, `2G`, `512K`.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (n, mul) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    n.trim().parse::<u64>().ok()?.checked_mul(mul)
}

/// A boolean setting: true/1/yes/on or false/0/no/off; anything else is an error (a typo must
/// not silently switch TLS or a check off).
fn flag(raw: &BTreeMap<&'static str, String>, k: &str, default: bool) -> Result<bool> {
    match raw.get(k).map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => bail!("{k}: '{v}' is not true or false"),
    }
}

/// `VIGIL_LDAP_*`: directory sign-in, off without a URL.
fn directory(raw: &BTreeMap<&'static str, String>) -> Result<Option<vigil_core::directory::DirectoryConfig>> {
    let get = |k: &str| raw.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let Some(url) = get("ldap_url") else { return Ok(None) };
    if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
        bail!("ldap_url: '{url}' must start with ldap:// or ldaps://");
    }
    // The service password from a file (a mounted secret) or the environment.
    let bind_password = match get("ldap_bind_password_file") {
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("ldap_bind_password_file: reading {path}"))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        ),
        None => raw.get("ldap_bind_password").cloned(),
    };
    let user_base = get("ldap_user_base").ok_or_else(|| anyhow!("ldap_user_base is required with ldap_url"))?;
    let user_filter = get("ldap_user_filter").unwrap_or_else(|| vigil_directory::DEFAULT_USER_FILTER.into());
    if !user_filter.contains("{login}") {
        bail!("ldap_user_filter must contain {{login}}");
    }
    let rules = vigil_domain::directory::parse_rules(
        &get("ldap_groups").ok_or_else(|| anyhow!("ldap_groups (the group → role rules) is required with ldap_url"))?,
    )
    .map_err(|e| anyhow!("ldap_groups: {}", e.message))?;
    let timeout = match get("ldap_timeout") {
        None => 10,
        Some(v) => parse_duration_secs(&v)
            .filter(|d| *d > 0)
            .ok_or_else(|| anyhow!("ldap_timeout: '{v}' is not a duration"))?,
    };
    Ok(Some(vigil_core::directory::DirectoryConfig {
        ldap: vigil_directory::LdapSettings {
            url,
            starttls: flag(raw, "ldap_starttls", false)?,
            tls_insecure: flag(raw, "ldap_tls_insecure", false)?,
            bind_dn: get("ldap_bind_dn"),
            bind_password,
            user_base,
            user_filter,
            group_base: get("ldap_group_base"),
            group_filter: get("ldap_group_filter").unwrap_or_else(|| vigil_directory::DEFAULT_GROUP_FILTER.into()),
            timeout: std::time::Duration::from_secs(timeout),
        },
        rules,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_in_order() {
        let dir = std::env::temp_dir().join(format!("vigil-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vigil.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:1\"\nmax_files = 3\nsession_ttl = \"1m\"\n").unwrap();
        let env = |k: &str| match k {
            "VIGIL_LISTEN" => Some("0.0.0.0:2".to_string()),
            "OZ_SESSION_TTL" => Some("120".to_string()),
            "VIGIL_MAX_FILE_SIZE" => Some("2M".to_string()),
            _ => None,
        };
        let mut flags = Flags::new();
        flags.insert("listen", "0.0.0.0:3".into());
        let s = Settings::load(Some(&file), env, &flags).unwrap();
        assert_eq!(s.listen, "0.0.0.0:3");
        assert_eq!(s.core.limits.max_files, 3);
        assert_eq!(s.core.session_ttl_secs, 120);
        assert_eq!(s.core.limits.max_file_size, 2 << 20);
        assert!(s.database_url.starts_with("sqlite://"));
        std::fs::write(&file, "bogus = 1\n").unwrap();
        assert!(Settings::load(Some(&file), |_| None, &Flags::new()).is_err());
        assert!(Settings::load(None, |k| (k == "OZ_SESSION_TTL").then(|| "soon".to_string()), &Flags::new()).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
