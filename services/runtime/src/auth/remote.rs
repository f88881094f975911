//! Keys checked by asking the registry (`IntrospectApiKey`), for every service but the
//! registry. An admitted key is remembered for `ttl`, so a busy client costs the registry one
//! call per period; a refused one is not remembered. A revoked key therefore stops working
//! here within `ttl`, and an expired one at once (its expiry is kept and checked every call).
//!
//! While the registry cannot be reached, a key admitted in the last `MOST_STALE` is still
//! admitted: an outage of the registry must not stop the clients that were working from
//! submitting needs. A key never seen before cannot be checked then, and gets `UNAVAILABLE`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use tsunagu_proto::access::v1 as pb;
use tsunagu_proto::access::v1::access_service_client::AccessServiceClient;

use super::{KeyResolver, PresentedKey, Principal, Refusal, Role};
use crate::grpc::TracedChannel;

pub struct RemoteKeys {
    client: AccessServiceClient<TracedChannel>,
    ttl: Duration,
    admitted: Mutex<HashMap<[u8; 32], Admitted>>,
}

#[derive(Clone)]
struct Admitted {
    principal: Principal,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    fetched: Instant,
}

/// Most keys remembered at once; past it the memory is cleared (a cache, not a store).
const MOST_REMEMBERED: usize = 10_000;

/// How long a remembered key is still admitted while the registry cannot be reached.
const MOST_STALE: Duration = Duration::from_secs(3600);

impl RemoteKeys {
    /// Asks the registry over `channel` (which presents the internal token).
    pub fn new(channel: TracedChannel, ttl: Duration) -> RemoteKeys {
        RemoteKeys {
            client: AccessServiceClient::new(channel),
            ttl,
            admitted: Mutex::new(HashMap::new()),
        }
    }

    /// The remembered answer for the key, if it is younger than `age`.
    fn remembered(&self, fingerprint: &[u8; 32], age: Duration) -> Option<Admitted> {
        let admitted = self.admitted.lock().expect("the cache lock is never poisoned");
        admitted
            .get(fingerprint)
            .filter(|entry| entry.fetched.elapsed() < age)
            .cloned()
    }

    fn forget(&self, fingerprint: &[u8; 32]) {
        self.admitted
            .lock()
            .expect("the cache lock is never poisoned")
            .remove(fingerprint);
    }

    async fn introspect(&self, key: &PresentedKey) -> Result<Admitted, Refusal> {
        let mut client = self.client.clone();
        let response = client
            .introspect_api_key(pb::IntrospectApiKeyRequest { key: key.text() })
            .await;
        let api_key = match response {
            Ok(response) => response.into_inner().api_key.ok_or(Refusal::Invalid)?,
            Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(Refusal::Invalid),
            Err(status) => return Err(Refusal::Unavailable(status.message().to_string())),
        };
        admitted_from(&api_key)
            .ok_or_else(|| Refusal::Unavailable("the registry answered an incomplete key".into()))
    }
}

fn admitted_from(api_key: &pb::ApiKey) -> Option<Admitted> {
    let role = Role::from_proto(api_key.role)?;
    let time = |timestamp: &prost_types::Timestamp| {
        DateTime::from_timestamp(timestamp.seconds, timestamp.nanos as u32)
    };
    Some(Admitted {
        principal: Principal {
            key_id: api_key.id.parse().ok(),
            key_prefix: api_key.prefix.trim_start_matches("tsk_").to_string(),
            role,
            scope_code: api_key.scope_code.clone(),
            organization_id: api_key.organization_id.parse().ok(),
        },
        expires_at: time(api_key.expires_at.as_ref()?)?,
        revoked_at: api_key.revoked_at.as_ref().and_then(time),
        fetched: Instant::now(),
    })
}

impl KeyResolver for RemoteKeys {
    fn resolve<'a>(&'a self, key: &'a PresentedKey) -> BoxFuture<'a, Result<Principal, Refusal>> {
        Box::pin(async move {
            let fingerprint: [u8; 32] = Sha256::digest(key.text().as_bytes()).into();
            let admitted = match self.remembered(&fingerprint, self.ttl) {
                Some(admitted) => admitted,
                None => match self.introspect(key).await {
                    Ok(admitted) => {
                        let mut cache = self.admitted.lock().expect("the cache lock is never poisoned");
                        if cache.len() >= MOST_REMEMBERED {
                            cache.clear();
                        }
                        cache.insert(fingerprint, admitted.clone());
                        admitted
                    }
                    Err(Refusal::Unavailable(why)) => {
                        let Some(stale) = self.remembered(&fingerprint, MOST_STALE) else {
                            return Err(Refusal::Unavailable(why));
                        };
                        tracing::warn!(
                            key_prefix = stale.principal.key_prefix,
                            why,
                            "registry unreachable; a key admitted before is still admitted"
                        );
                        stale
                    }
                    Err(refusal) => {
                        self.forget(&fingerprint);
                        return Err(refusal);
                    }
                },
            };
            let now = Utc::now();
            if admitted.revoked_at.is_some_and(|revoked| revoked <= now) {
                return Err(Refusal::Revoked);
            }
            if admitted.expires_at <= now {
                return Err(Refusal::Expired(admitted.expires_at));
            }
            Ok(admitted.principal)
        })
    }
}
