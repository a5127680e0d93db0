//! The Oz error model: every failure a client can see is an [`Error`] with an Oz `error_code`.

use serde_json::Value;

/// Oz API error codes (reference §6). The HTTP status belongs to the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Unknown,
    NotAllowed,
    NotRealized,
    InvalidStructure,
    InvalidValue,
    InvalidType,
    AuthNotProvided,
    AuthInvalid,
    AuthExpired,
    AuthForbidden,
    NotExist,
    ExternalService,
    /// Too large a request or file; Oz has no code of its own for it, so it is INVALID VALUE on the
    /// wire with HTTP 413.
    TooLarge,
    /// Too many requests of one kind pending (HTTP 429).
    TooMany,
    /// A blocked (`is_active = false`) user.
    BlockedUser,
    /// Two writes collided on a unique value (an e-mail already taken).
    Conflict,
}

impl Code {
    pub fn number(self) -> u32 {
        match self {
            Code::Unknown => 0,
            Code::NotAllowed => 1,
            Code::NotRealized => 2,
            Code::InvalidStructure => 3,
            Code::InvalidValue | Code::TooLarge | Code::Conflict | Code::TooMany => 4,
            Code::InvalidType => 5,
            Code::AuthNotProvided => 6,
            Code::AuthInvalid => 7,
            Code::AuthExpired => 8,
            Code::AuthForbidden => 9,
            Code::NotExist => 10,
            Code::ExternalService => 11,
            Code::BlockedUser => 1401,
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            Code::Unknown => 500,
            Code::NotAllowed => 405,
            Code::NotRealized => 501,
            Code::InvalidStructure | Code::InvalidValue | Code::InvalidType => 400,
            Code::TooLarge => 413,
            Code::TooMany => 429,
            Code::Conflict => 409,
            Code::AuthNotProvided | Code::AuthInvalid | Code::AuthExpired | Code::BlockedUser => 401,
            Code::AuthForbidden => 403,
            Code::NotExist => 404,
            Code::ExternalService => 502,
        }
    }
}

/// A client-visible error: code, message and optional details.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: Code,
    pub message: String,
    pub details: Option<Value>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None }
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
    pub fn structure(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidStructure, message)
    }
    pub fn value(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidValue, message)
    }
    pub fn forbidden() -> Self {
        Self::new(Code::AuthForbidden, "you have no permission for this operation")
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotExist, format!("{what} not found"))
    }
    /// An internal failure. The cause is for the log only; the client gets a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::new(Code::Unknown, "unknown server side error occurred")
            .with_details(Value::String(format!("internal: {cause}")))
    }
    /// An internal failure from an error value, keeping its whole cause chain ("a: b: c") for the
    /// log and the CLI; clients still get only the generic message.
    pub fn internal_error(e: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            let text = s.to_string();
            // Wrappers often repeat their source's text; keep each cause once.
            if !chain.ends_with(&text) {
                chain.push_str(": ");
                chain.push_str(&text);
            }
            source = s.source();
        }
        Self::internal(chain)
    }
    pub fn is_internal(&self) -> bool {
        self.code == Code::Unknown
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error {}: {}", self.code.number(), self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "opening the store")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn internal_errors_keep_their_chain() {
        let e = Error::internal_error(&Outer(std::io::Error::other("disk full")));
        assert_eq!(e.message, "unknown server side error occurred");
        assert_eq!(e.details, Some(Value::String("internal: opening the store: disk full".into())));
    }
}
