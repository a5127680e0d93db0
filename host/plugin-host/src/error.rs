//! What can go wrong with a plugin: at upload ([`ValidationError`]) or during a call
//! ([`CallError`]).

/// An upload the host refuses, with the reason in words for the uploader.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

/// The plugin's own error (the WIT `plugin-error` variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestError {
    InvalidInput(String),
    Unsupported(String),
    NotAvailable(String),
    QuotaExceeded(String),
    Host(String),
    Internal(String),
}

impl GuestError {
    pub fn kind(&self) -> &'static str {
        match self {
            GuestError::InvalidInput(_) => "invalid-input",
            GuestError::Unsupported(_) => "unsupported",
            GuestError::NotAvailable(_) => "not-available",
            GuestError::QuotaExceeded(_) => "quota-exceeded",
            GuestError::Host(_) => "host",
            GuestError::Internal(_) => "internal",
        }
    }
    pub fn message(&self) -> &str {
        match self {
            GuestError::InvalidInput(m)
            | GuestError::Unsupported(m)
            | GuestError::NotAvailable(m)
            | GuestError::QuotaExceeded(m)
            | GuestError::Host(m)
            | GuestError::Internal(m) => m,
        }
    }
}

/// Why a plugin call did not produce a result. Every variant leaves the host healthy; the
/// instance is discarded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("plugin returned {}: {}", .0.kind(), .0.message())]
    Guest(GuestError),
    #[error("plugin exceeded its time budget: {0}")]
    Deadline(String),
    #[error("plugin trapped: {0}")]
    Trap(String),
    #[error("plugin exceeded a limit: {0}")]
    Limit(String),
    #[error("plugin output is too large: {0} bytes, limit {1}")]
    Output(usize, usize),
    #[error("too many concurrent plugin calls for this company")]
    Busy,
    #[error("plugin host: {0}")]
    Host(String),
}
