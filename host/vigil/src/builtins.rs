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
//! Each registers as a global version named after its hash (`sha-<first 12 hex>`), so a rebuilt
//! component becomes a new version instead of silently replacing the old one, and re-registering
//! the same file is a no-op.

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

/// Registers and activates every built-in of the manifest that is not installed yet.
pub async fn register(app: &App, manifest: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading built-ins manifest {}", manifest.display()))?;
    let m: Manifest = toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let base = manifest.parent().unwrap_or(Path::new("."));
    let installed = app.admin_list_plugins().await.map_err(|e| anyhow!("{}", e.message))?;
    let mut added = 0;
    for e in m.plugin {
        let path = base.join(&e.file);
        let wasm =
            std::fs::read(&path).with_context(|| format!("built-in '{}': reading {}", e.name, path.display()))?;
        let sha = vigil_plugin_host::sha256_hex(&wasm);
        if let Some(pin) = &e.sha256
            && !pin.eq_ignore_ascii_case(&sha)
        {
            bail!("built-in '{}': {} has sha256 {sha}, but the manifest pins {pin}", e.name, path.display());
        }
        let version = format!("sha-{}", &sha[..12]);
        let known = installed.iter().find(|p| p.company_id.is_none() && p.name == e.name && p.version == version);
        if known.is_some() {
            continue;
        }
        let manifest = serde_json::json!({ "kind": e.kind, "name": e.name, "version": version, "config": e.config, "activate": true });
        app.upload_plugin(None, manifest.to_string().as_bytes(), wasm)
            .await
            .map_err(|err| anyhow!("built-in '{}': {}", e.name, err.message))?;
        tracing::info!(name = %e.name, %version, "built-in plugin registered");
        added += 1;
    }
    Ok(added)
}
