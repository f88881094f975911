//! Authentication of every gRPC call (issue 7): an API key in the `authorization` metadata
//! (`Bearer tsk_…`), or the deployment's internal token between services. The layer
//! (`layer.rs`) runs before any handler; a handler finds the caller as a [`Principal`] in the
//! request's extensions (`principal_of`). Health and reflection stay open, so probes and
//! `grpcurl list` work without a key.
//!
//! Keys live in the registry, which owns the tenancy: the registry checks them in its own
//! database, the other services ask it (`IntrospectApiKey`) and keep the answer for a short
//! while (`remote.rs`), so a revoked key stops working everywhere within that period.

mod key;
mod layer;
mod principal;
mod rate;
mod remote;

use std::sync::Arc;

use chrono::{DateTime, Utc};
pub use futures_util::future::BoxFuture;
use tonic::Status;
use uuid::Uuid;

pub use key::{NewKey, PresentedKey, certificate_fingerprint, certificate_key, generate};
pub use layer::AuthLayer;
pub use principal::{Principal, Role, prefecture_of};
pub use rate::{RateLimit, RateLimiter};
pub use remote::RemoteKeys;

/// A stored key, as the registry keeps it (no secret, only its hash).
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: Uuid,
    pub prefix: String,
    pub secret_hash: String,
    pub role: Role,
    pub scope_code: String,
    pub organization_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such key, or the secret does not match: the two are not told apart.
    Invalid,
    Expired(DateTime<Utc>),
    Revoked,
    /// The key store could not be asked now.
    Unavailable(String),
}

impl Refusal {
    pub fn into_status(self) -> Status {
        match self {
            Refusal::Invalid => Status::unauthenticated("APIキーが無効です / invalid API key"),
            Refusal::Expired(at) => Status::unauthenticated(format!(
                "APIキーの有効期限が切れています（{}） / the API key expired",
                at.format("%Y-%m-%d %H:%M UTC")
            )),
            Refusal::Revoked => Status::unauthenticated("APIキーは失効しています / the API key was revoked"),
            Refusal::Unavailable(why) => Status::unavailable(format!(
                "APIキーを確認できません。しばらくしてから再試行してください / cannot check the API key now: {why}"
            )),
        }
    }
}

impl KeyRecord {
    /// The caller this record makes of `presented`, if the secret matches and the key is live.
    pub fn admit(&self, presented: &PresentedKey, now: DateTime<Utc>) -> Result<Principal, Refusal> {
        if !presented.matches(&self.secret_hash) {
            return Err(Refusal::Invalid);
        }
        if self.revoked_at.is_some_and(|revoked| revoked <= now) {
            return Err(Refusal::Revoked);
        }
        if self.expires_at <= now {
            return Err(Refusal::Expired(self.expires_at));
        }
        Ok(Principal {
            key_id: Some(self.id),
            key_prefix: self.prefix.clone(),
            role: self.role,
            scope_code: self.scope_code.clone(),
            organization_id: self.organization_id,
        })
    }
}

/// Where keys are looked up: the registry's database, or the registry over gRPC.
pub trait KeyResolver: Send + Sync + 'static {
    fn resolve<'a>(&'a self, key: &'a PresentedKey) -> BoxFuture<'a, Result<Principal, Refusal>>;
}

/// Checks a call's credentials, and each key's rate.
#[derive(Clone)]
pub struct Authenticator {
    /// The token the services send, then the one more they accept during a rotation.
    internal_tokens: Vec<Arc<str>>,
    keys: Arc<dyn KeyResolver>,
    limiter: Arc<RateLimiter>,
}

impl Authenticator {
    /// `also_accepted`: a second internal token admitted like the first (a rotation in
    /// progress).
    pub fn new(
        internal_token: &str,
        also_accepted: Option<&str>,
        keys: Arc<dyn KeyResolver>,
        limit: RateLimit,
    ) -> Authenticator {
        Authenticator {
            internal_tokens: std::iter::once(internal_token)
                .chain(also_accepted)
                .map(Arc::from)
                .collect(),
            keys,
            limiter: Arc::new(RateLimiter::new(limit)),
        }
    }

    /// The caller of these headers — or, without an `authorization` header, of the client
    /// certificate the TLS handshake verified (`certificate`, DER) — if the credentials hold
    /// and the key is within its rate.
    pub async fn admit(
        &self,
        headers: &http::HeaderMap,
        certificate: Option<&[u8]>,
    ) -> Result<Principal, Status> {
        let principal = match (headers.contains_key(http::header::AUTHORIZATION), certificate) {
            (false, Some(der)) => self
                .keys
                .resolve(&PresentedKey::from_certificate(der))
                .await
                .map_err(|refusal| match refusal {
                    Refusal::Invalid => Status::unauthenticated(
                        "このクライアント証明書に結び付いたAPIキーはありません / no API key is bound to this client certificate",
                    ),
                    other => other.into_status(),
                })?,
            _ => self.authenticate(headers).await?,
        };
        if principal.role == Role::Service {
            return Ok(principal);
        }
        match self
            .limiter
            .admit(&principal.key_prefix, std::time::Instant::now())
        {
            Ok(()) => Ok(principal),
            Err(wait) => Err(Status::resource_exhausted(format!(
                "リクエストが多すぎます。{:.1}秒後に再試行してください / rate limit of this API key exceeded: retry in {:.1} s",
                wait.as_secs_f64(),
                wait.as_secs_f64()
            ))),
        }
    }

    pub async fn authenticate(&self, headers: &http::HeaderMap) -> Result<Principal, Status> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(Status::unauthenticated(
                "認証が必要です。authorization メタデータに「Bearer <APIキー>」を付けてください / \
                 authentication required: send `authorization: Bearer <API key>`",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|text| text.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        // Every token is compared, so the time taken does not tell which one came close.
        let internal = self.internal_tokens.iter().fold(false, |matched, internal| {
            constant_time_eq(token.as_bytes(), internal.as_bytes()) | matched
        });
        if internal {
            return Ok(Principal::service());
        }
        let Some(presented) = PresentedKey::parse(token) else {
            return Err(Status::unauthenticated(
                "APIキーの形式が正しくありません（tsk_<識別子>_<秘密>） / malformed API key",
            ));
        };
        self.keys.resolve(&presented).await.map_err(Refusal::into_status)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0_u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

/// The caller of a request (set by [`AuthLayer`]). A handler behind the layer always finds
/// one; its absence means the layer is missing, which is refused rather than trusted.
pub fn principal_of<T>(request: &tonic::Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("認証が必要です / authentication required"))
}

/// The refusal every authorisation check gives: it names neither the object nor whether it
/// exists.
pub fn denied() -> Status {
    Status::permission_denied(
        "この操作は許可されていないか、対象が見つかりません / not permitted, or no such object",
    )
}

/// A fresh internal token for one process (`tsunagu up`, tests): 256 random bits.
pub fn random_internal_token() -> String {
    use base64::Engine;
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).expect("the OS provides randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &NewKey) -> KeyRecord {
        KeyRecord {
            id: Uuid::nil(),
            prefix: key.prefix.clone(),
            secret_hash: key.secret_hash.clone(),
            role: Role::Coordinator,
            scope_code: "212024".into(),
            organization_id: None,
            expires_at: Utc::now() + chrono::Duration::days(1),
            revoked_at: None,
        }
    }

    #[test]
    fn a_live_key_is_admitted_and_an_ended_one_refused() {
        let key = generate();
        let presented = PresentedKey::parse(&key.text).unwrap();
        let now = Utc::now();
        let live = record(&key);
        assert_eq!(live.admit(&presented, now).unwrap().role, Role::Coordinator);
        let expired = KeyRecord {
            expires_at: now - chrono::Duration::seconds(1),
            ..record(&key)
        };
        assert!(matches!(expired.admit(&presented, now), Err(Refusal::Expired(_))));
        let revoked = KeyRecord {
            revoked_at: Some(now),
            ..record(&key)
        };
        assert_eq!(revoked.admit(&presented, now), Err(Refusal::Revoked));
        let other = PresentedKey::parse(&generate().text).unwrap();
        assert_eq!(live.admit(&other, now), Err(Refusal::Invalid));
        let status = Refusal::Revoked.into_status();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains("失効"));
    }
}
