//! Residents' personal data is sealed at the application level: XChaCha20-Poly1305 with a
//! random 24-byte nonce per row, the row's identity as associated data (a sealed blob moved
//! to another row does not open), and the key's id stored with the row so that keys can
//! rotate: new rows use the current key, old rows open with the key they name.
//!
//! Duplicate detection cannot compare sealed values, so it compares a keyed hash (HMAC-SHA256
//! under a key derived for that purpose) of the normalised reading and birth date.

use std::collections::HashMap;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct Keyring {
    current: String,
    keys: HashMap<String, [u8; 32]>,
}

impl std::fmt::Debug for Keyring {
    /// Key ids only: key material never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("keys", &ids)
            .finish()
    }
}

/// A sealed value as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl Keyring {
    /// `id:base64,id:base64,…`; the first key is current. Every problem is named, never the key.
    pub fn parse(spec: &str) -> Result<Keyring, String> {
        let mut keys = HashMap::new();
        let mut current = None;
        for (index, entry) in spec
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let Some((id, encoded)) = entry.split_once(':') else {
                return Err(format!("key {} is not id:base64", index + 1));
            };
            let id = id.trim();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!("key {} has an empty or malformed id", index + 1));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| format!("key {id:?} is not valid base64"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("key {id:?} must be 32 bytes (256 bits)"))?;
            if keys.insert(id.to_string(), key).is_some() {
                return Err(format!("key id {id:?} appears twice"));
            }
            current.get_or_insert_with(|| id.to_string());
        }
        let current = current.ok_or("no key given")?;
        Ok(Keyring { current, keys })
    }

    pub fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Result<Sealed, String> {
        let key = &self.keys[&self.current];
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|error| format!("no randomness for a nonce: {error}"))?;
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: associated,
                },
            )
            .map_err(|_| "sealing failed".to_string())?;
        Ok(Sealed {
            key_id: self.current.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    pub fn open(&self, associated: &[u8], sealed: &Sealed) -> Result<Vec<u8>, String> {
        let key = self.keys.get(&sealed.key_id).ok_or_else(|| {
            format!(
                "key {:?} is not configured (TSUNAGU_INTAKE_ENCRYPTION_KEYS)",
                sealed.key_id
            )
        })?;
        let nonce: [u8; 24] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| "stored nonce is not 24 bytes")?;
        XChaCha20Poly1305::new(&(*key).into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: associated,
                },
            )
            .map_err(|_| {
                "the sealed data does not open with its key (tampered, or moved between rows)".to_string()
            })
    }

    /// A keyed hash of `input` under the current key, for equality lookups; (key id, hash).
    pub fn blind_index(&self, input: &str) -> (String, Vec<u8>) {
        let key = &self.keys[&self.current];
        // A key of its own for hashing, derived from the sealing key, so the two uses never mix.
        let mut derive =
            <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        derive.update(b"tsunagu resident duplicate index v1");
        let index_key = derive.finalize().into_bytes();
        let mut mac =
            <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&index_key).expect("HMAC takes any key length");
        mac.update(input.as_bytes());
        (self.current.clone(), mac.finalize().into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str =
        "k2:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=,k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    #[test]
    fn sealed_data_opens_only_with_its_key_and_its_row() {
        let keyring = Keyring::parse(SPEC).unwrap();
        let sealed = keyring.seal(b"resident-1", "山田 花子".as_bytes()).unwrap();
        assert_eq!(sealed.key_id, "k2");
        assert!(!sealed.ciphertext.windows(3).any(|w| w == "山".as_bytes()));
        assert_eq!(
            keyring.open(b"resident-1", &sealed).unwrap(),
            "山田 花子".as_bytes()
        );
        assert!(
            keyring.open(b"resident-2", &sealed).is_err(),
            "moved to another row"
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(keyring.open(b"resident-1", &tampered).is_err());
    }

    #[test]
    fn old_rows_open_after_rotation() {
        let old = Keyring::parse("k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
        let sealed = old.seal(b"r", b"data").unwrap();
        let rotated = Keyring::parse(SPEC).unwrap();
        assert_eq!(rotated.open(b"r", &sealed).unwrap(), b"data");
        let forgotten = Keyring::parse("k2:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=").unwrap();
        assert!(forgotten.open(b"r", &sealed).unwrap_err().contains("k1"));
    }

    #[test]
    fn bad_specs_are_named_without_the_key() {
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("k1:short").unwrap_err().contains("k1"));
        assert!(Keyring::parse("k1:AAAA").unwrap_err().contains("32 bytes"));
        let debug = format!("{:?}", Keyring::parse(SPEC).unwrap());
        assert!(!debug.contains("KioqKio"), "{debug}");
    }

    #[test]
    fn blind_indexes_are_stable_and_keyed() {
        let keyring = Keyring::parse(SPEC).unwrap();
        assert_eq!(
            keyring.blind_index("ヤマダハナコ|1940-01-02"),
            keyring.blind_index("ヤマダハナコ|1940-01-02")
        );
        let other = Keyring::parse("k2:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
        assert_ne!(keyring.blind_index("x").1, other.blind_index("x").1);
    }
}
