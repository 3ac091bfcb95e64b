//! Sensitive values at rest: AES-256-GCM, a random 96-bit nonce per value, and the key's name
//! as associated data so a ciphertext cannot be moved to another key. Every ciphertext names
//! the master key that sealed it (`v1:<key id>:<base64 nonce‖ciphertext>`), so keys can be
//! rotated: new values use the active key, older ones open with any key still configured.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the master key is not valid: expected 32 bytes in base64")]
    BadKey,
    #[error("the value was sealed with master key {0}, which is not configured")]
    UnknownKey(String),
    #[error("the encrypted value is damaged or belongs to another key")]
    Damaged,
}

struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
    fingerprint_key: [u8; 32],
}

impl MasterKey {
    fn new(bytes: &[u8]) -> Result<Self, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(bytes).map_err(|_| CryptoError::BadKey)?;
        let digest = |label: &[u8]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(label);
            h.update(bytes);
            h.finalize().into()
        };
        let id: String = digest(b"strata key id\n")[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(MasterKey {
            id,
            cipher,
            fingerprint_key: digest(b"strata fingerprint\n"),
        })
    }
}

/// The master keys: one active, any number of older ones kept for reading.
pub struct SecretBox {
    active: MasterKey,
    older: Vec<MasterKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("active", &self.active.id)
            .finish_non_exhaustive()
    }
}

const PREFIX: &str = "v1";

impl SecretBox {
    /// From base64 keys (`STRATA_MASTER_KEY`, then older ones still needed for reading).
    pub fn from_base64(active: &str, older: &[String]) -> Result<Self, CryptoError> {
        let decode = |s: &str| {
            let bytes = BASE64.decode(s.trim()).map_err(|_| CryptoError::BadKey)?;
            if bytes.len() != 32 {
                return Err(CryptoError::BadKey);
            }
            MasterKey::new(&bytes)
        };
        Ok(SecretBox {
            active: decode(active)?,
            older: older.iter().map(|k| decode(k)).collect::<Result<_, _>>()?,
        })
    }

    /// A new random key, base64.
    pub fn generate_key() -> String {
        BASE64.encode(Aes256Gcm::generate_key(OsRng))
    }

    /// Development only: the key in `path`, created (mode 0600) when missing.
    pub fn load_or_create_file(path: &Path) -> Result<(Self, bool), std::io::Error> {
        let created = if path.exists() {
            false
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_private(path, &Self::generate_key())?;
            true
        };
        let text = std::fs::read_to_string(path)?;
        let secret_box = Self::from_base64(&text, &[]).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        Ok((secret_box, created))
    }

    pub fn active_key_id(&self) -> &str {
        &self.active.id
    }

    /// Seals `value` of key `key_name`.
    pub fn seal(&self, key_name: &str, value: &Value) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let plaintext = value.to_string();
        let ciphertext = self
            .active
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad(key_name).as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{PREFIX}:{}:{}", self.active.id, BASE64.encode(sealed))
    }

    /// Opens a value sealed for key `key_name`.
    pub fn open(&self, key_name: &str, sealed: &str) -> Result<Value, CryptoError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(PREFIX), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Damaged);
        };
        let key = std::iter::once(&self.active)
            .chain(&self.older)
            .find(|k| k.id == id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_owned()))?;
        let bytes = BASE64.decode(body).map_err(|_| CryptoError::Damaged)?;
        if bytes.len() < 12 {
            return Err(CryptoError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plaintext = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad(key_name).as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Damaged)?;
        serde_json::from_slice(&plaintext).map_err(|_| CryptoError::Damaged)
    }

    /// Whether `sealed` was sealed with the active master key (else a rotation re-seals it).
    pub fn is_current(&self, sealed: &str) -> bool {
        let mut parts = sealed.splitn(3, ':');
        parts.next() == Some(PREFIX) && parts.next() == Some(self.active.id.as_str())
    }

    /// `sealed` (a value of key `key_name`) sealed again under the active master key.
    pub fn reseal(&self, key_name: &str, sealed: &str) -> Result<String, CryptoError> {
        Ok(self.seal(key_name, &self.open(key_name, sealed)?))
    }

    /// A short keyed fingerprint of the value of key `key_name` at `place` (a scope, or
    /// `default`): shows that a secret changed without revealing it. It is keyed by the key and
    /// the place too, so a writer without `secrets_read` cannot confirm a guess by writing it
    /// at a scope of their own and comparing fingerprints.
    pub fn fingerprint(&self, key_name: &str, place: &str, value: &Value) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.active.fingerprint_key)
            .expect("HMAC takes keys of any length");
        mac.update(b"strata fingerprint v2\n");
        mac.update(key_name.as_bytes());
        mac.update(b"\n");
        mac.update(place.as_bytes());
        mac.update(b"\n");
        mac.update(value.to_string().as_bytes());
        mac.finalize().into_bytes()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn aad(key_name: &str) -> String {
    format!("strata/v1/{key_name}")
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn secret_box() -> SecretBox {
        SecretBox::from_base64(&SecretBox::generate_key(), &[]).unwrap()
    }

    #[test]
    fn sealed_values_open_only_for_their_key_name() {
        let b = secret_box();
        let sealed = b.seal("providers.api_key", &json!("sk_live_hunter2"));
        assert!(!sealed.contains("hunter2"));
        assert!(sealed.starts_with(&format!("v1:{}:", b.active_key_id())));
        assert_eq!(
            b.open("providers.api_key", &sealed).unwrap(),
            json!("sk_live_hunter2")
        );
        assert_eq!(b.open("other.key", &sealed), Err(CryptoError::Damaged));
        // Two seals of one value differ (fresh nonces).
        assert_ne!(
            sealed,
            b.seal("providers.api_key", &json!("sk_live_hunter2"))
        );
    }

    #[test]
    fn rotated_keys_still_open_old_values() {
        let old_key = SecretBox::generate_key();
        let old = SecretBox::from_base64(&old_key, &[]).unwrap();
        let sealed = old.seal("k", &json!(42));
        let new = SecretBox::from_base64(&SecretBox::generate_key(), &[old_key]).unwrap();
        assert_eq!(new.open("k", &sealed).unwrap(), json!(42));
        let stranger = secret_box();
        assert!(matches!(
            stranger.open("k", &sealed),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn resealing_moves_a_value_to_the_active_key() {
        let old_key = SecretBox::generate_key();
        let old = SecretBox::from_base64(&old_key, &[]).unwrap();
        let sealed = old.seal("k", &json!("s3cret"));
        let new_key = SecretBox::generate_key();
        let rotating = SecretBox::from_base64(&new_key, &[old_key]).unwrap();
        assert!(!rotating.is_current(&sealed));
        let resealed = rotating.reseal("k", &sealed).unwrap();
        assert!(rotating.is_current(&resealed));
        // The old key can go now.
        let after = SecretBox::from_base64(&new_key, &[]).unwrap();
        assert_eq!(after.open("k", &resealed).unwrap(), json!("s3cret"));
        assert!(matches!(
            after.open("k", &sealed),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn tampering_is_detected() {
        let b = secret_box();
        let sealed = b.seal("k", &json!("v"));
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            b.open("k", &String::from_utf8(bytes).unwrap()),
            Err(CryptoError::Damaged)
        );
        assert_eq!(b.open("k", "v1:zz"), Err(CryptoError::Damaged));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert_eq!(
            SecretBox::from_base64("not base64!", &[]).unwrap_err(),
            CryptoError::BadKey
        );
        assert_eq!(
            SecretBox::from_base64(&BASE64.encode([0u8; 16]), &[]).unwrap_err(),
            CryptoError::BadKey
        );
    }

    #[test]
    fn fingerprints_are_short_stable_and_keyed() {
        let a = secret_box();
        let b = secret_box();
        let fp =
            |s: &SecretBox, key: &str, place: &str, v: &str| s.fingerprint(key, place, &json!(v));
        assert_eq!(fp(&a, "k", "global", "x"), fp(&a, "k", "global", "x"));
        assert_ne!(fp(&a, "k", "global", "x"), fp(&a, "k", "global", "y"));
        assert_ne!(fp(&a, "k", "global", "x"), fp(&b, "k", "global", "x"));
        assert_eq!(fp(&a, "k", "global", "x").len(), 12);
        // The same value elsewhere tells nothing about it here.
        assert_ne!(fp(&a, "k", "global", "x"), fp(&a, "k", "tenant:t", "x"));
        assert_ne!(fp(&a, "k", "global", "x"), fp(&a, "other", "global", "x"));
    }

    #[test]
    fn the_development_key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/master.key");
        let (first, created) = SecretBox::load_or_create_file(&path).unwrap();
        assert!(created);
        let (second, created) = SecretBox::load_or_create_file(&path).unwrap();
        assert!(!created);
        assert_eq!(first.active_key_id(), second.active_key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
