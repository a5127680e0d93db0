//! Active plugin versions by (company, name). Swapping replaces an `Arc`: calls already running
//! keep the version they started with, new calls get the new one.

use crate::Plugin;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

type Key = (Option<Uuid>, String);

#[derive(Default)]
pub struct Registry {
    active: RwLock<HashMap<Key, Arc<Plugin>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Makes `plugin` the active version of its (company, name); returns the one it replaced.
    pub fn activate(&self, plugin: Arc<Plugin>) -> Option<Arc<Plugin>> {
        let key = (plugin.meta.company_id, plugin.meta.name.clone());
        self.active.write().map(|mut m| m.insert(key, plugin)).unwrap_or(None)
    }

    /// Removes the active version of (company, name) if it is `plugin_id`.
    pub fn deactivate(&self, company_id: Option<Uuid>, name: &str, plugin_id: Uuid) -> bool {
        let Ok(mut m) = self.active.write() else { return false };
        let key = (company_id, name.to_string());
        if m.get(&key).is_some_and(|p| p.meta.id == plugin_id) {
            m.remove(&key);
            true
        } else {
            false
        }
    }

    /// The plugin `name` as `company` sees it: its own first, then a global built-in. Another
    /// company's plugins are never visible.
    pub fn resolve(&self, company: Uuid, name: &str) -> Option<Arc<Plugin>> {
        let m = self.active.read().ok()?;
        m.get(&(Some(company), name.to_string())).or_else(|| m.get(&(None, name.to_string()))).cloned()
    }

    /// The active plugins of `kind` that `company` sees, by name: its own, and the built-ins it
    /// has not replaced with one of the same name.
    pub fn of_kind(&self, company: Uuid, kind: crate::Kind) -> Vec<Arc<Plugin>> {
        let Ok(m) = self.active.read() else { return Vec::new() };
        let mut out: Vec<Arc<Plugin>> = m
            .iter()
            .filter(|((c, name), p)| {
                p.meta.kind == kind
                    && (*c == Some(company) || (c.is_none() && !m.contains_key(&(Some(company), name.clone()))))
            })
            .map(|(_, p)| p.clone())
            .collect();
        out.sort_by(|a, b| {
            (a.meta.company_id.is_some(), &a.meta.name).cmp(&(b.meta.company_id.is_some(), &b.meta.name))
        });
        out
    }

    /// Every active (company, name, plugin id).
    pub fn entries(&self) -> Vec<(Option<Uuid>, String, Uuid)> {
        self.active.read().map(|m| m.iter().map(|((c, n), p)| (*c, n.clone(), p.meta.id)).collect()).unwrap_or_default()
    }

    /// The active version with this id, if it is active anywhere.
    pub fn by_id(&self, id: Uuid) -> Option<Arc<Plugin>> {
        self.active.read().ok()?.values().find(|p| p.meta.id == id).cloned()
    }

    pub fn active_id(&self, company_id: Option<Uuid>, name: &str) -> Option<Uuid> {
        self.active.read().ok()?.get(&(company_id, name.to_string())).map(|p| p.meta.id)
    }
}
