//! `vigil eval …`: error rates measured with the server's own pipelines on labelled data —
//! face matching (`biometry`) and presentation-attack detection (`liveness`). Nothing is
//! enrolled or stored.

pub mod biometry;
pub mod liveness;

pub use biometry::*;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Io(String),
}
