//! Built-in plugins: global components registered at start-up from the build output.
//!
//! The manifest (`VIGIL_BUILTINS`) lists each component file with the SHA-256 it must have:
//!
//! ```toml
//! [[plugin]]
//! name = "quality"
//! kind = "analysis"
//! file = "quality.wasm"          # relative to the manifest, or absolute
//! sha256 = "…"                   # optional pin: a different file stops the start
//! config = { threshold = "0.5" } # optional
//! ```
//!
//! `file` is looked up in `plugins_dir` when that is configured (`VIGIL_PLUGINS_DIR`, where
//! `make plugins` puts the components) and holds it, else next to the manifest. The operator may override
//! entries of a built-in's `config` (`VIGIL_BUILTIN_CONFIG`, e.g.
//! `{"quality":{"legacy_scores":"true"}}`).
//!
//! Each registers as a global version named after the hashes of its component and of its
//! effective configuration (`sha-<12 hex>-<8 hex>`), so a rebuilt component or a changed
//! configuration becomes a new version instead of silently replacing the old one; registering
//! what is already installed only makes sure it is the active version.

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use vigil_core::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    plugin: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    kind: String,
    file: String,
    sha256: Option<String>,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

/// A built-in's component and effective configuration, as the manifest and overrides give them.
pub struct Builtin {
    pub name: String,
    pub kind: String,
    pub wasm: Vec<u8>,
    pub sha256: String,
    pub config: BTreeMap<String, String>,
}

/// Reads every built-in of the manifest: finds each file, checks its pin, applies `overrides`.
pub fn load(
    manifest: &Path,
    plugins_dir: Option<&Path>,
    overrides: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Vec<Builtin>> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading built-ins manifest {}", manifest.display()))?;
    let m: Manifest = toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let beside = manifest.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for e in m.plugin {
        let path = match plugins_dir.map(|d| d.join(&e.file)) {
            Some(p) if p.exists() => p,
            _ => beside.join(&e.file),
        };
        let wasm =
            std::fs::read(&path).with_context(|| format!("built-in '{}': reading {}", e.name, path.display()))?;
        let sha = vigil_plugin_host::sha256_hex(&wasm);
        if let Some(pin) = &e.sha256
            && !pin.eq_ignore_ascii_case(&sha)
        {
            bail!("built-in '{}': {} has sha256 {sha}, but the manifest pins {pin}", e.name, path.display());
        }
        let mut config = e.config.clone();
        if let Some(o) = overrides.get(&e.name) {
            config.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out.push(Builtin { name: e.name, kind: e.kind, wasm, sha256: sha, config });
    }
    Ok(out)
}

/// Registers and activates every built-in of the manifest; `overrides` are per-name config entries.
pub async fn register(
    app: &App,
    manifest: &Path,
    plugins_dir: Option<&Path>,
    overrides: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<usize> {
    let installed = app.admin_list_plugins().await.map_err(|e| anyhow!("{}", e.message))?;
    let mut added = 0;
    for e in load(manifest, plugins_dir, overrides)? {
        let (sha, config, wasm) = (e.sha256, e.config, e.wasm);
        let config_sha = vigil_plugin_host::sha256_hex(serde_json::to_string(&config)?.as_bytes());
        let version = format!("sha-{}-{}", &sha[..12], &config_sha[..8]);
        let known = installed.iter().find(|p| p.company_id.is_none() && p.name == e.name && p.version == version);
        if let Some(k) = known {
            if !k.active {
                app.admin_activate_plugin(k.plugin_id)
                    .await
                    .map_err(|err| anyhow!("built-in '{}': {}", e.name, err.message))?;
                tracing::info!(name = %e.name, %version, "built-in plugin re-activated");
            }
            continue;
        }
        let manifest = serde_json::json!({ "kind": e.kind, "name": e.name, "version": version, "config": config, "activate": true });
        app.upload_plugin(vigil_domain::policy::Caller::System, manifest.to_string().as_bytes(), wasm)
            .await
            .map_err(|err| anyhow!("built-in '{}': {}", e.name, err.message))?;
        tracing::info!(name = %e.name, %version, "built-in plugin registered");
        added += 1;
    }
    Ok(added)
}
