//! Throttling (`OZ_THROTTLING_RATES`): Django REST Framework-style rates (`"5/min"`) per scope,
//! enforced as a generic cell rate (GCRA): a scope's rate lets `count` calls through at once and
//! then one every `period / count`, so a client that stays under the rate is never refused.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// The scopes Oz defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Log-in attempts, per client address and per e-mail.
    Auth,
    /// Calls without a valid token, per client address.
    RestUnauthorized,
    /// Calls per token (session).
    RpsWithToken,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Auth => "auth",
            Scope::RestUnauthorized => "rest_unauthorized",
            Scope::RpsWithToken => "rps_with_token",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: u32,
    pub period_secs: f64,
}

impl Rate {
    /// `N/s`, `N/sec`, `N/second`, `N/m`, `N/min`, `N/h`, `N/hour`, `N/d`, `N/day`: as DRF, the
    /// period's first letter decides.
    pub fn parse(s: &str) -> Result<Rate> {
        let bad =
            || Error::value(format!("throttling rate '{s}' must look like 5/min, 30/m, 50/s, 1000/hour or 10000/day"));
        let (n, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().ok().filter(|c| *c > 0).ok_or_else(bad)?;
        let period_secs = match period.trim().chars().next().map(|c| c.to_ascii_lowercase()) {
            Some('s') => 1.0,
            Some('m') => 60.0,
            Some('h') => 3600.0,
            Some('d') => 86_400.0,
            _ => return Err(bad()),
        };
        Ok(Rate { count, period_secs })
    }

    fn interval(self) -> f64 {
        self.period_secs / f64::from(self.count)
    }
}

/// Parses `{"auth": "5/min", ...}`; unknown scopes are refused (a typo would silently disable a
/// limit), `null` or a missing scope means no limit for it.
pub fn parse_rates(json: &str) -> Result<BTreeMap<Scope, Rate>> {
    let v: BTreeMap<String, Option<String>> = serde_json::from_str(json).map_err(|e| {
        Error::value(format!(
            "throttling rates must be a JSON object of scope → rate, e.g. {{\"auth\": \"5/min\"}}: {e}"
        ))
    })?;
    let mut out = BTreeMap::new();
    for (k, rate) in v {
        let scope = match k.as_str() {
            "auth" => Scope::Auth,
            "rest_unauthorized" => Scope::RestUnauthorized,
            "rps_with_token" => Scope::RpsWithToken,
            other => {
                return Err(Error::value(format!(
                    "unknown throttling scope '{other}': use auth, rest_unauthorized or rps_with_token"
                )));
            }
        };
        if let Some(r) = rate {
            out.insert(scope, Rate::parse(&r)?);
        }
    }
    Ok(out)
}

/// One key's state: the theoretical arrival time of its next call (seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cell {
    pub tat: f64,
}

impl Cell {
    /// Takes one call at `now` if the rate allows it; otherwise the seconds until it would.
    pub fn take(&mut self, rate: Rate, now: f64) -> std::result::Result<(), f64> {
        let t = rate.interval();
        let burst = rate.period_secs - t;
        let tat = self.tat.max(now);
        let allowed_at = tat - burst;
        if now + 1e-9 < allowed_at {
            return Err(allowed_at - now);
        }
        self.tat = tat + t;
        Ok(())
    }

    /// Whether the cell is back to a full burst at `now` (and can be forgotten).
    pub fn idle(&self, now: f64) -> bool {
        self.tat <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_like_drf() {
        assert_eq!(Rate::parse("5/min").unwrap(), Rate { count: 5, period_secs: 60.0 });
        assert_eq!(Rate::parse("50/s").unwrap(), Rate { count: 50, period_secs: 1.0 });
        assert_eq!(Rate::parse("1000/hour").unwrap().period_secs, 3600.0);
        assert_eq!(Rate::parse("10/day").unwrap().period_secs, 86_400.0);
        for bad in ["5", "0/min", "x/min", "5/fortnight", "-1/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        let r = parse_rates(r#"{"auth": "5/min", "rest_unauthorized": null, "rps_with_token": "50/s"}"#).unwrap();
        assert_eq!(r.len(), 2);
        assert!(parse_rates(r#"{"anon": "5/min"}"#).is_err());
        assert!(parse_rates("5/min").is_err());
    }

    #[test]
    fn a_burst_then_one_per_interval() {
        let rate = Rate { count: 5, period_secs: 60.0 };
        let mut c = Cell::default();
        for _ in 0..5 {
            assert!(c.take(rate, 100.0).is_ok());
        }
        let wait = c.take(rate, 100.0).unwrap_err();
        assert!((wait - 12.0).abs() < 1e-6, "{wait}");
        assert!(c.take(rate, 111.0).is_err());
        assert!(c.take(rate, 112.0).is_ok());
        assert!(c.take(rate, 112.5).is_err());
        assert!(!c.idle(150.0) && c.idle(172.0));
        // A client under the rate is never refused.
        let mut steady = Cell::default();
        for i in 0..100 {
            assert!(steady.take(rate, 1000.0 + f64::from(i) * 12.0).is_ok());
        }
    }
}
