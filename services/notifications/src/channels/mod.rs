//! Channels: how a delivery leaves Tsunagu. The core (fan-out, scheduling, retries, the
//! circuit breaker, the delivery log) knows only [`ChannelAdapter`]; an SMS gateway or LINE
//! is one more implementation registered in [`Channels`], nothing else changes.
//!
//! - `email`: SMTP, with STARTTLS where the server offers it;
//! - `webhook`: a signed JSON POST to a municipal system (`signature` for the scheme).
//!
//! In-app notifications are not a channel adapter: they are written in the event's own
//! transaction and read over gRPC (list, mark read, a resumable stream).

pub mod destination;
pub mod email;
pub mod signature;
pub mod webhook;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use uuid::Uuid;

/// One message to one address, rendered and ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Stable across retries: the e-mail's Message-ID and the webhook's `Tsunagu-Delivery`
    /// header, so that a receiver can drop a repeat.
    pub delivery_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// An e-mail address, a URL, or what a plug-in channel understands.
    pub address: String,
    /// The webhook signing secret of the subscription (webhook only).
    pub secret: Option<String>,
    pub subject: String,
    pub body: String,
    /// The machine-readable document (ids and codes only), for machine channels.
    pub payload: serde_json::Value,
}

/// Why a send failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The receiver is down, slow, overloaded or answered with a temporary error.
    #[error("{0}")]
    Retryable(String),
    /// The receiver refused the message for good (unknown mailbox, 4xx other than 408/429):
    /// it goes to the dead letters for an operator to look at.
    #[error("{0}")]
    Permanent(String),
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

pub trait ChannelAdapter: Send + Sync + 'static {
    /// The channel's name as stored on subscriptions: "email", "webhook", "sms" …
    fn name(&self) -> &'static str;

    /// Checks an address when a subscription is created; the error is shown to the user
    /// (Japanese first, then English).
    fn validate_address(&self, address: &str) -> Result<(), String>;

    /// Checks, when a subscription is created and after `validate_address` passed, where the
    /// address leads now (a webhook's host resolved against the destination policy). The
    /// send checks again; this only spares a subscription that could never be delivered.
    fn check_destination<'a>(&'a self, _address: &'a str) -> CheckFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// What the circuit breaker groups failures by: the SMTP relay for e-mail (one server
    /// carries every message), the receiving host for webhooks (one municipality's system
    /// being down must not hold back another's).
    fn destination(&self, outgoing: &Outgoing) -> String;

    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> SendFuture<'a>;
}

/// The adapters of this process, by channel name.
#[derive(Clone, Default)]
pub struct Channels {
    adapters: BTreeMap<&'static str, Arc<dyn ChannelAdapter>>,
}

impl Channels {
    pub fn with(mut self, adapter: impl ChannelAdapter) -> Channels {
        self.adapters.insert(adapter.name(), Arc::new(adapter));
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn ChannelAdapter>> {
        self.adapters.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.adapters.keys().copied()
    }
}
