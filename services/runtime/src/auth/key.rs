//! The API key format: `tsk_<prefix>_<secret>`. The prefix (12 lowercase hex digits) names the
//! key in lists, logs and the audit trail; the secret (43 characters of base64url, 256 random
//! bits) proves it. Only the prefix and the SHA-256 of the secret are stored: a fast hash is
//! enough for a secret with this much entropy, and lets every call be checked in microseconds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

const KEY_TAG: &str = "tsk";
const PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 43;

/// A key as a caller presented it, split but not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey {
    pub prefix: String,
    secret: String,
}

impl PresentedKey {
    /// Splits `tsk_<prefix>_<secret>`; `None` when it is not of that shape.
    pub fn parse(text: &str) -> Option<PresentedKey> {
        let rest = text.strip_prefix(KEY_TAG)?.strip_prefix('_')?;
        let (prefix, secret) = rest.split_once('_')?;
        let prefix_ok = prefix.len() == PREFIX_LEN && prefix.bytes().all(|b| b.is_ascii_hexdigit());
        let secret_ok = secret.len() == SECRET_LEN
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (prefix_ok && secret_ok).then(|| PresentedKey {
            prefix: prefix.to_ascii_lowercase(),
            secret: secret.to_string(),
        })
    }

    /// Whether the secret is the one whose hash was stored (compared in constant time).
    pub fn matches(&self, stored_hash: &str) -> bool {
        let presented = hash_secret(&self.secret);
        presented.len() == stored_hash.len()
            && presented
                .bytes()
                .zip(stored_hash.bytes())
                .fold(0_u8, |difference, (a, b)| difference | (a ^ b))
                == 0
    }

    /// The whole key again, e.g. to send it on to the registry for introspection.
    pub fn text(&self) -> String {
        format!("{KEY_TAG}_{}_{}", self.prefix, self.secret)
    }
}

/// A new key: what to show once, what to store.
pub struct NewKey {
    /// `tsk_<prefix>_<secret>`, shown to the caller once.
    pub text: String,
    pub prefix: String,
    pub secret_hash: String,
}

pub fn generate() -> NewKey {
    let mut prefix_bytes = [0_u8; PREFIX_LEN / 2];
    let mut secret_bytes = [0_u8; 32];
    getrandom::fill(&mut prefix_bytes).expect("the OS provides randomness");
    getrandom::fill(&mut secret_bytes).expect("the OS provides randomness");
    let prefix: String = prefix_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
    NewKey {
        text: format!("{KEY_TAG}_{prefix}_{secret}"),
        secret_hash: hash_secret(&secret),
        prefix,
    }
}

fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_and_matches_only_its_own_hash() {
        let key = generate();
        let presented = PresentedKey::parse(&key.text).expect("a generated key parses");
        assert_eq!(presented.prefix, key.prefix);
        assert!(presented.matches(&key.secret_hash));
        assert!(!presented.matches(&generate().secret_hash));
        assert_eq!(presented.text(), key.text);
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        let key = generate().text;
        for bad in [
            "",
            "Bearer",
            &key[..key.len() - 1],
            &key.replacen("tsk_", "tsx_", 1),
            &format!("{key}x"),
            "tsk_zzzzzzzzzzzz_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert_eq!(PresentedKey::parse(bad), None, "{bad}");
        }
    }
}
