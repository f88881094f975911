//! Page tokens bound to their list (issue 17). A token carries the id of the last item of the
//! page before, and a MAC over that id and the *list binding* — the method and every filter of
//! the request that asked for the page (the request without its `PageRequest`). A token of
//! another list, or of the same list with other filters, or one made up, is refused: a caller
//! cannot walk one list with an id it learnt from another.
//!
//! The request guard computes the binding of each unary call (`request_guard`), and runs the
//! handler inside it; [`crate::grpc::Page`] reads it here. No call site names its list: a new
//! list is bound as soon as it pages with `Page`.
//!
//! The MAC key comes from the deployment's internal token, which every replica of every service
//! shares, so a token made by one replica is good at another. Rotating the internal token makes
//! the tokens of lists being paged through at that moment invalid; their callers start again.

use std::sync::OnceLock;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// 96 bits of MAC: far beyond guessing, and the token stays short (38 characters).
const MAC_BYTES: usize = 12;

tokio::task_local! {
    static LIST_BINDING: [u8; 32];
}

static KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// Derives the MAC key from the deployment's shared secret (the internal token). The first
/// call wins; a process that never calls it (a unit test) uses a random key of its own.
pub fn set_secret(secret: &str) {
    let mut hasher = Sha256::new();
    hasher.update(b"tsunagu page token v1\0");
    hasher.update(secret.as_bytes());
    let _ = KEY.set(hasher.finalize().into());
}

fn key() -> &'static [u8; 32] {
    KEY.get_or_init(|| {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).expect("the operating system's randomness");
        random
    })
}

/// The binding of a list request: its method and its encoded request with the page cleared.
pub fn binding(method_path: &str, request_without_page: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method_path.as_bytes());
    hasher.update([0]);
    hasher.update(request_without_page);
    hasher.finalize().into()
}

/// Runs `call` with its list binding in scope.
pub async fn bound<F: std::future::Future>(binding: [u8; 32], call: F) -> F::Output {
    LIST_BINDING.scope(binding, call).await
}

fn current_binding() -> [u8; 32] {
    LIST_BINDING.try_with(|binding| *binding).unwrap_or([0; 32])
}

fn mac(binding: &[u8; 32], after: &uuid::Uuid) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key()).expect("HMAC takes any key length");
    mac.update(binding);
    mac.update(after.as_bytes());
    mac
}

/// The token of the page after item `after`, for the list of the current call.
pub fn issue(after: uuid::Uuid) -> String {
    let tag = mac(&current_binding(), &after).finalize().into_bytes();
    let mut bytes = after.as_bytes().to_vec();
    bytes.extend_from_slice(&tag[..MAC_BYTES]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The item a token continues after, if the token was issued for the list of the current call.
pub fn open(token: &str) -> Option<uuid::Uuid> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    if bytes.len() != 16 + MAC_BYTES {
        return None;
    }
    let after = uuid::Uuid::from_slice(&bytes[..16]).ok()?;
    mac(&current_binding(), &after)
        .verify_truncated_left(&bytes[16..])
        .ok()
        .map(|()| after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_opens_only_in_the_list_that_issued_it() {
        let id = uuid::Uuid::now_v7();
        let resources = binding(
            "/tsunagu.registry.v1.RegistryService/ListResources",
            b"category=a",
        );
        let same_filters = binding(
            "/tsunagu.registry.v1.RegistryService/ListResources",
            b"category=a",
        );
        let other_filters = binding(
            "/tsunagu.registry.v1.RegistryService/ListResources",
            b"category=b",
        );
        let other_list = binding(
            "/tsunagu.registry.v1.RegistryService/ListOrganizations",
            b"category=a",
        );
        let token = bound(resources, async { issue(id) }).await;
        assert_eq!(bound(same_filters, async { open(&token) }).await, Some(id));
        assert_eq!(bound(other_filters, async { open(&token) }).await, None);
        assert_eq!(bound(other_list, async { open(&token) }).await, None);
        // A bare id, as tokens used to be, and a token with another id put in are refused.
        assert_eq!(bound(resources, async { open(&id.to_string()) }).await, None);
        let mut forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap();
        forged[..16].copy_from_slice(uuid::Uuid::now_v7().as_bytes());
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
        assert_eq!(bound(resources, async { open(&forged) }).await, None);
    }
}
