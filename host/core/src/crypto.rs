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

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`, hex-encoded: the webhook signature.
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(msg).finalize();
    hex::encode(Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize())
}

#[cfg(test)]
mod hmac_tests {
    #[test]
    fn matches_rfc_4231_vectors() {
        // Test case 2 of RFC 4231.
        assert_eq!(
            super::hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            super::hmac_sha256_hex(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
