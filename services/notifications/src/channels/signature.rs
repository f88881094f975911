//! How Tsunagu signs its webhooks, and how a receiver checks them.
//!
//! Every webhook carries
//!
//! ```text
//! Tsunagu-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//! Tsunagu-Delivery: 0191f2c4-…   (the same on every retry of one delivery)
//! ```
//!
//! where `t` is the Unix time of sending, in seconds, and `v1` is the lowercase hex of
//! HMAC-SHA256, keyed with the subscription's secret (the whole text `whsec_…`, as UTF-8
//! bytes), over `"<t>.<raw request body>"`. To verify a request, a receiver:
//!
//! 1. takes the **raw** body bytes, before any JSON parsing (re-serialising changes bytes);
//! 2. computes the HMAC of `t`, a `.`, and those bytes, and compares it with each `v1` in
//!    constant time (there may be several `v1` while a secret is being rotated: one match is
//!    enough; unknown schemes such as a future `v2` are to be ignored);
//! 3. rejects `t` more than 5 minutes away from its own clock: a recorded request replayed
//!    later then fails even though its signature is genuine;
//! 4. remembers the `Tsunagu-Delivery` ids it accepted in the last 5 minutes and drops a
//!    repeat: within the window a replay (or our own retry after a lost answer) has a fresh
//!    enough `t`, and the id is what tells it apart. A delivery is retried with the same id
//!    but a new `t` and signature, so a receiver that stores ids for longer also deduplicates
//!    our retries.
//!
//! [`verify`] does steps 2 and 3; step 4 needs the receiver's own storage.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const HEADER: &str = "Tsunagu-Signature";

/// What receivers are told to accept: 5 minutes either way.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed {HEADER} header: {0}")]
    Malformed(&'static str),
    /// Genuine or not, the request is too old (or too far in the future) to be accepted.
    #[error("signature timestamp {timestamp} is more than {tolerance}s away from now ({now})")]
    OutsideTolerance {
        timestamp: i64,
        now: i64,
        tolerance: i64,
    },
    #[error("no signature matches the body")]
    Mismatch,
}

/// The `Tsunagu-Signature` header value for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&tag))
}

/// Checks `header` against `body`: some `v1` must match (compared in constant time) and `t`
/// must lie within `tolerance_seconds` of `now`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_seconds: i64,
) -> Result<(), VerifyError> {
    let parsed = parse(header)?;
    let expected = mac(secret, parsed.timestamp, body);
    // Signature first: a timestamp error is then only ever reported for a genuine request,
    // which tells a receiver "delayed or replayed" rather than "forged".
    if !parsed
        .signatures
        .iter()
        .any(|candidate| expected.clone().verify_slice(candidate).is_ok())
    {
        return Err(VerifyError::Mismatch);
    }
    if (now - parsed.timestamp).abs() > tolerance_seconds {
        return Err(VerifyError::OutsideTolerance {
            timestamp: parsed.timestamp,
            now,
            tolerance: tolerance_seconds,
        });
    }
    Ok(())
}

/// A new signing secret: 32 random bytes, `whsec_` + base64url without padding. The prefix
/// makes a leaked secret recognisable to secret scanners and to people.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS provides randomness");
    format!("whsec_{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

struct Parsed {
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

fn parse(header: &str) -> Result<Parsed, VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(VerifyError::Malformed("expected key=value pairs"))?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(VerifyError::Malformed("more than one t="));
                }
                let parsed = value
                    .parse::<i64>()
                    .map_err(|_| VerifyError::Malformed("t= is not a Unix time in seconds"))?;
                timestamp = Some(parsed);
            }
            "v1" => signatures.push(unhex(value).ok_or(VerifyError::Malformed("v1= is not 64 hex digits"))?),
            // Other schemes are for future versions: ignored, as receivers are told to.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed("no t="))?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed("no v1="));
    }
    Ok(Parsed {
        timestamp,
        signatures,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Exactly 32 bytes of hex (either case), or nothing.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const NOW: i64 = 1_767_225_600;
    const BODY: &[u8] = br#"{"event_type":"need.matched","need_id":"n-1"}"#;

    #[test]
    fn a_signed_body_verifies() {
        let header = sign(SECRET, NOW, BODY);
        assert!(header.starts_with(&format!("t={NOW},v1=")));
        assert_eq!(header.len(), format!("t={NOW},v1=").len() + 64);
        assert_eq!(verify(SECRET, &header, BODY, NOW + 10, 300), Ok(()));
    }

    #[test]
    fn the_signature_is_the_documented_hmac() {
        // Independent of `mac`: HMAC-SHA256("key", "1.{}") as any receiver would compute it.
        let mut reference = <Hmac<Sha256> as KeyInit>::new_from_slice(b"key").unwrap();
        reference.update(b"1.{}");
        let expected = hex(&reference.finalize().into_bytes());
        assert_eq!(sign(b"key", 1, b"{}"), format!("t=1,v1={expected}"));
    }

    #[test]
    fn a_tampered_body_or_another_secret_fails() {
        let header = sign(SECRET, NOW, BODY);
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify(SECRET, &header, &tampered, NOW, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"whsec_other", &header, BODY, NOW, 300),
            Err(VerifyError::Mismatch)
        );
        // The timestamp is signed too: moving it forward breaks the signature.
        let moved = header.replacen(&NOW.to_string(), &(NOW + 1000).to_string(), 1);
        assert_eq!(
            verify(SECRET, &moved, BODY, NOW + 1000, 300),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn an_old_or_future_timestamp_fails() {
        let header = sign(SECRET, NOW, BODY);
        assert!(matches!(
            verify(SECRET, &header, BODY, NOW + 301, 300),
            Err(VerifyError::OutsideTolerance { timestamp: NOW, .. })
        ));
        assert!(matches!(
            verify(SECRET, &header, BODY, NOW - 301, 300),
            Err(VerifyError::OutsideTolerance { .. })
        ));
        assert_eq!(verify(SECRET, &header, BODY, NOW + 300, 300), Ok(()));
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        // While a secret is rotated the sender signs with both; the receiver knows one.
        let old = sign(b"whsec_old", NOW, BODY);
        let new = sign(b"whsec_new", NOW, BODY);
        let both = format!("{},{}", new, old.split_once(',').unwrap().1);
        assert_eq!(verify(b"whsec_old", &both, BODY, NOW, 300), Ok(()));
        assert_eq!(verify(b"whsec_new", &both, BODY, NOW, 300), Ok(()));
        // Unknown schemes and spaces are tolerated.
        let future = format!("v2=abc, {both}");
        assert_eq!(verify(b"whsec_new", &future, BODY, NOW, 300), Ok(()));
    }

    #[test]
    fn malformed_headers_fail() {
        let v1 = "0".repeat(64);
        for header in [
            String::new(),
            "garbage".to_string(),
            format!("v1={v1}"),
            format!("t={NOW}"),
            format!("t=yesterday,v1={v1}"),
            format!("t={NOW},t={NOW},v1={v1}"),
            format!("t={NOW},v1=abc"),
            format!("t={NOW},v1={}", "g".repeat(64)),
            // 64 bytes whose pairs cut a character in two.
            format!("t={NOW},v1=ab{}ab", "あ".repeat(20)),
        ] {
            assert!(
                matches!(
                    verify(SECRET, &header, BODY, NOW, 300),
                    Err(VerifyError::Malformed(_))
                ),
                "{header:?} should be malformed"
            );
        }
    }

    #[test]
    fn new_secrets_are_random_and_prefixed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        let bytes = URL_SAFE_NO_PAD.decode(&a["whsec_".len()..]).unwrap();
        assert_eq!(bytes.len(), 32);
    }
}
