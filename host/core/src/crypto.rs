//! Password hashing (argon2id, off the async threads) and opaque tokens (random, stored hashed).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use vigil_domain::{Error, Result};

/// Hashes a password as an argon2id PHC string on the blocking pool.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(Error::internal)?;
        let salt = SaltString::encode_b64(&salt).map_err(Error::internal)?;
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(Error::internal)
    })
    .await
    .map_err(Error::internal)?
}

/// Verifies a password against a stored hash on the blocking pool; false on any mismatch.
pub async fn verify_password(password: String, hash: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else { return false };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
    })
    .await
    .map_err(Error::internal)
}

/// A hash that no password matches, verified when an e-mail is unknown so that a wrong e-mail
/// costs as much time as a wrong password.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg";

/// A new opaque token: 64 random bytes as 128 hex characters (the Oz token shape).
pub fn new_token() -> Result<String> {
    let mut b = [0u8; 64];
    getrandom::fill(&mut b).map_err(Error::internal)?;
    Ok(hex::encode(b))
}

/// Tokens are stored only as their SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash_password("Secret123".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Secret123".into(), h.clone()).await.unwrap());
        assert!(!verify_password("secret123".into(), h).await.unwrap());
        assert!(!verify_password("x".into(), DUMMY_HASH.into()).await.unwrap());
        let t = new_token().unwrap();
        assert_eq!(t.len(), 128);
        assert_ne!(token_hash(&t), t);
    }
}
