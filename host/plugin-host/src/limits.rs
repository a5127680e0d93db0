//! Per-world limits of DESIGN §2.4 and `reference/wasm-plugins.md` §5.5.

use crate::Kind;
use std::time::Duration;

/// The bounds one plugin call runs within.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Guest CPU time (wall time minus time spent in host calls) before the call is killed.
    pub guest_time: Duration,
    /// Time the guest may spend waiting on host services (inference), budgeted apart.
    pub host_time: Duration,
    /// Linear memory per instance.
    pub memory_bytes: usize,
    /// Table elements per instance.
    pub table_elements: usize,
    /// Live handles (images, media) per call.
    pub handles: usize,
    /// Host calls per call.
    pub host_calls: u32,
    /// Bytes the guest may pass into host calls, in total.
    pub hostcall_bytes: usize,
    /// Bytes of output (result strings) per call.
    pub output_bytes: usize,
    /// Log lines and bytes kept per call; the rest is dropped.
    pub log_lines: u32,
    pub log_bytes: usize,
    /// Fuel units (deterministic worlds only).
    pub fuel: Option<u64>,
}

impl Limits {
    pub fn for_kind(kind: Kind) -> Limits {
        let base = Limits {
            guest_time: Duration::from_secs(2),
            host_time: Duration::from_millis(1500),
            memory_bytes: 64 << 20,
            table_elements: 10_000,
            handles: 1_000,
            host_calls: 10_000,
            hostcall_bytes: 8 << 20,
            output_bytes: 64 << 10,
            log_lines: 100,
            log_bytes: 64 << 10,
            fuel: None,
        };
        match kind {
            // Native inference over a video's sampled frames (25 × detect, liveness, embedding)
            // is host time; queueing behind other calls on 2 cores needs headroom too.
            Kind::Analysis => Limits { host_time: Duration::from_secs(10), ..base },
            Kind::DocumentCheck => Limits { guest_time: Duration::from_millis(500), output_bytes: 256 << 10, ..base },
            Kind::ReportTemplate => Limits {
                guest_time: Duration::from_secs(1),
                memory_bytes: 128 << 20,
                handles: 100,
                hostcall_bytes: 16 << 20,
                output_bytes: 4 << 20,
                ..base
            },
            Kind::AbRule => Limits {
                guest_time: Duration::from_millis(50),
                host_time: Duration::ZERO,
                memory_bytes: 16 << 20,
                handles: 10,
                host_calls: 100,
                hostcall_bytes: 64 << 10,
                output_bytes: 256,
                fuel: Some(10_000_000),
                ..base
            },
        }
    }

    /// The whole call's wall-clock bound: guest time, host time and a grace period.
    pub fn wall(&self) -> Duration {
        self.guest_time + self.host_time + Duration::from_millis(250)
    }
}
