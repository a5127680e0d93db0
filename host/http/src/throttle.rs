//! Throttling (`OZ_THROTTLING_RATES`, off by default): per-process cells keyed by scope and
//! client address, e-mail or session, answering 429 with `Retry-After` (in the header and in the
//! Oz error body). Each replica counts on its own: see `docs/OPERATIONS.md`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use vigil_domain::throttle::{Cell, Rate, Scope};
use vigil_domain::{Code, Error};

/// Cells kept before idle ones are dropped; bounds memory whatever the number of addresses.
const MAX_CELLS: usize = 200_000;

pub struct Throttle {
    rates: BTreeMap<Scope, Rate>,
    cells: Mutex<HashMap<(Scope, String), Cell>>,
    epoch: Instant,
}

impl Throttle {
    /// None when no scope has a rate (throttling off).
    pub fn new(rates: BTreeMap<Scope, Rate>) -> Option<Arc<Throttle>> {
        (!rates.is_empty())
            .then(|| Arc::new(Throttle { rates, cells: Mutex::new(HashMap::new()), epoch: Instant::now() }))
    }

    /// Counts one call of `key` in `scope`; TOO MANY (429) when over the scope's rate.
    pub fn check(&self, scope: Scope, key: &str) -> Result<(), Error> {
        let Some(rate) = self.rates.get(&scope).copied() else { return Ok(()) };
        let now = self.epoch.elapsed().as_secs_f64();
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        if cells.len() >= MAX_CELLS {
            cells.retain(|_, c| !c.idle(now));
        }
        let taken = cells.entry((scope, key.to_string())).or_default().take(rate, now);
        drop(cells);
        taken.map_err(|wait| {
            let secs = wait.ceil().max(1.0) as u64;
            tracing::warn!(scope = scope.name(), retry_after = secs, "throttled");
            Error::new(Code::TooMany, format!("too many requests; retry in {secs} s"))
                .with_details(serde_json::json!({ "scope": scope.name(), "retry_after": secs }))
        })
    }
}
