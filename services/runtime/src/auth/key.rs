//! The API key format: `tsk_<prefix>_<secret>`. The prefix (12 lowercase hex digits) names the
//! key in lists, logs and the audit trail; the secret (43 characters of base64url, 256 random
//! bits) proves it. Only the prefix and the SHA-256 of the secret are stored: a fast hash is
//! enough for a secret with this much entropy, and lets every call be checked in microseconds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

const KEY_TAG: &str = "tsk";
/// The tag of a key bound to a client certificate (mutual TLS). Its secret is derived from the
/// certificate, which is public: such a key is only ever built from a certificate the TLS
/// handshake verified (the caller holds its private key), never accepted as a bearer token.
const CERTIFICATE_TAG: &str = "tsc";
const PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 43;

/// A key as a caller presented it, split but not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey {
    pub prefix: String,
    secret: String,
    /// Built from a verified client certificate, not sent as a bearer token.
    from_certificate: bool,
}

impl PresentedKey {
    /// Splits `tsk_<prefix>_<secret>`; `None` when it is not of that shape.
    pub fn parse(text: &str) -> Option<PresentedKey> {
        PresentedKey::parse_tagged(text, KEY_TAG)
    }

    /// Like [`parse`](Self::parse), also admitting a certificate key as the services send it
    /// to the registry for introspection (a call only services may make).
    pub fn parse_introspected(text: &str) -> Option<PresentedKey> {
        PresentedKey::parse(text).or_else(|| {
            let mut key = PresentedKey::parse_tagged(text, CERTIFICATE_TAG)?;
            key.from_certificate = true;
            Some(key)
        })
    }

    /// The key bound to the client certificate `der` (its DER bytes), as the TLS handshake
    /// presented and verified it.
    pub fn from_certificate(der: &[u8]) -> PresentedKey {
        let (prefix, secret) = certificate_credential(der);
        PresentedKey {
            prefix,
            secret,
            from_certificate: true,
        }
    }

    pub fn is_certificate(&self) -> bool {
        self.from_certificate
    }

    fn parse_tagged(text: &str, tag: &str) -> Option<PresentedKey> {
        let rest = text.strip_prefix(tag)?.strip_prefix('_')?;
        let (prefix, secret) = rest.split_once('_')?;
        let prefix_ok = prefix.len() == PREFIX_LEN && prefix.bytes().all(|b| b.is_ascii_hexdigit());
        let secret_ok = secret.len() == SECRET_LEN
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (prefix_ok && secret_ok).then(|| PresentedKey {
            prefix: prefix.to_ascii_lowercase(),
            secret: secret.to_string(),
            from_certificate: false,
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
        let tag = if self.from_certificate {
            CERTIFICATE_TAG
        } else {
            KEY_TAG
        };
        format!("{tag}_{}_{}", self.prefix, self.secret)
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

/// A key bound to the client certificate `der`: stored like any key (prefix and the hash of
/// its secret), but its text is never shown — the certificate is the credential.
pub fn certificate_key(der: &[u8]) -> NewKey {
    let (prefix, secret) = certificate_credential(der);
    NewKey {
        text: String::new(),
        secret_hash: hash_secret(&secret),
        prefix,
    }
}

/// The SHA-256 fingerprint of a certificate, as operators compare it (`openssl x509
/// -fingerprint -sha256`, lowercase and without colons).
pub fn certificate_fingerprint(der: &[u8]) -> String {
    hex(&Sha256::digest(der))
}

/// Prefix and secret of a certificate's key, derived from its fingerprint.
fn certificate_credential(der: &[u8]) -> (String, String) {
    let fingerprint = Sha256::digest(der);
    let prefix = hex(&fingerprint)[..PREFIX_LEN].to_string();
    let mut derivation = Sha256::new();
    derivation.update(b"tsunagu client certificate key\0");
    derivation.update(fingerprint);
    let secret = URL_SAFE_NO_PAD.encode(derivation.finalize());
    (prefix, secret)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    fn a_certificate_key_matches_its_stored_hash_but_is_no_bearer_token() {
        let der = b"not really DER, but bytes of a certificate";
        let stored = certificate_key(der);
        let presented = PresentedKey::from_certificate(der);
        assert_eq!(presented.prefix, stored.prefix);
        assert!(presented.matches(&stored.secret_hash));
        assert!(!PresentedKey::from_certificate(b"another").matches(&stored.secret_hash));
        // Anyone can compute it from the public certificate: as a bearer token it is refused.
        assert_eq!(PresentedKey::parse(&presented.text()), None);
        assert_eq!(
            PresentedKey::parse_introspected(&presented.text()),
            Some(presented)
        );
        assert_eq!(certificate_fingerprint(der).len(), 64);
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
