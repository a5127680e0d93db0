//! Vigil's domain: identifiers, roles and the permission policy, error codes, media kinds and tags,
//! list filters and the password policy.
//!
//! Architecture invariant: this crate does no I/O and knows no framework. Everything here is a pure
//! function of its inputs, so it is unit-tested exhaustively and shared by every other crate.

pub mod ab;
pub mod analysis;
pub mod audit;
pub mod directory;
pub mod error;
pub mod eval;
pub mod events;
pub mod filter;
pub mod media;
pub mod model;
pub mod password;
pub mod policy;
pub mod text;
pub mod throttle;
pub mod time;

pub use error::{Code, Error, Result};
pub use policy::{Principal, Role};
