//! Consumes the events people must hear about and fans each out (`fanout`) inside the inbox
//! transaction. Organisation names come from the registry over gRPC (the call carries the
//! trace context).

use std::sync::Arc;

use sqlx::PgConnection;
use tokio::sync::Notify;
use tracing::Instrument;
use tsunagu_proto::registry::v1::GetOrganizationRequest;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::consumer::{EventHandler, HandlerError};
use tsunagu_runtime::events::{
    self, MatchAnswered, MatchProposed, NeedFollowUpDue, NeedStatusChanged, NeedUnmatched,
    ResourceVerificationOverdue,
};
use tsunagu_runtime::grpc::{TracedChannel, client_span, is_unreachable, service_channel};
use uuid::Uuid;

use crate::fanout;
use crate::message::Message;

/// Looks organisations up in the registry; calls carry the trace context.
#[derive(Clone)]
pub struct RegistryLookup {
    client: RegistryServiceClient<TracedChannel>,
}

impl RegistryLookup {
    pub fn connect(config: &tsunagu_runtime::Config) -> anyhow::Result<RegistryLookup> {
        Ok(RegistryLookup {
            client: RegistryServiceClient::new(service_channel(config, &config.registry_url)?),
        })
    }

    async fn organization_name(&self, organization_id: Uuid) -> Result<String, HandlerError> {
        let mut client = self.client.clone();
        let response = client
            .get_organization(GetOrganizationRequest {
                id: organization_id.to_string(),
            })
            .instrument(client_span(
                "notifications",
                "tsunagu.registry.v1.RegistryService",
                "GetOrganization",
            ))
            .await;
        match response {
            Ok(response) => Ok(response
                .into_inner()
                .organization
                .map(|o| o.name)
                .unwrap_or_default()),
            // The registry emitted the event that named this organisation: if it does not know
            // it, waiting will not help.
            Err(status) if status.code() == tonic::Code::NotFound => Err(HandlerError::Permanent(
                anyhow::anyhow!("organization {organization_id} is unknown to the registry"),
            )),
            // The registry is down or overloaded: every lookup would fail alike.
            Err(status) if is_unreachable(&status) => Err(HandlerError::DependencyUnavailable(
                anyhow::anyhow!("registry unreachable: {status}"),
            )),
            Err(status) => Err(HandlerError::Transient(anyhow::anyhow!(
                "registry lookup failed: {status}"
            ))),
        }
    }
}

pub struct NotificationsHandler {
    pub registry: RegistryLookup,
    /// Poked when deliveries were written, so the deliverer looks at once (it also polls).
    pub deliveries_written: Arc<Notify>,
    /// Poked when in-app notifications were written, for the open streams.
    pub inbox_written: Arc<Notify>,
}

impl EventHandler for NotificationsHandler {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        let Some(mut message) = message_of(event)? else {
            tracing::debug!(event_type = %event.event_type, "event not used by notifications");
            return Ok(());
        };
        if let Some(organization_id) = message.organization_id {
            let name = self.registry.organization_name(organization_id).await?;
            message.vars.insert("organization", name);
        }
        let written = fanout::fan_out(tx, event, &mut message, chrono::Utc::now())
            .await
            .map_err(|error| HandlerError::Transient(anyhow::anyhow!("recording notifications: {error}")))?;
        tracing::info!(
            event_id = %event.id,
            need_id = ?message.need_id,
            notifications = written.notifications,
            deliveries = written.deliveries,
            "notifications recorded"
        );
        Ok(())
    }

    /// After the commit, so that the woken deliverer and streams find what was written.
    fn after_commit(&self) {
        self.inbox_written.notify_waiters();
        self.deliveries_written.notify_one();
    }
}

fn message_of(event: &Envelope) -> Result<Option<Message>, HandlerError> {
    let event_type = event.event_type.as_str();
    Ok(Some(match event_type {
        events::MATCH_PROPOSED | events::MATCH_PENDING_APPROVAL => {
            Message::match_proposed(event_type, &decode::<MatchProposed>(event)?)
        }
        events::MATCH_ACCEPTED | events::MATCH_REJECTED | events::MATCH_EXPIRED | events::MATCH_WITHDRAWN => {
            Message::match_answered(event_type, &decode::<MatchAnswered>(event)?)
        }
        events::NEED_UNMATCHED => Message::need_unmatched(&decode::<NeedUnmatched>(event)?),
        events::NEED_STATUS_CHANGED => Message::need_status_changed(&decode::<NeedStatusChanged>(event)?),
        events::NEED_FOLLOW_UP_DUE => Message::need_follow_up_due(&decode::<NeedFollowUpDue>(event)?),
        events::RESOURCE_VERIFICATION_OVERDUE => {
            Message::resource_verification_overdue(&decode::<ResourceVerificationOverdue>(event)?)
        }
        _ => return Ok(None),
    }))
}

fn decode<T: serde::de::DeserializeOwned>(event: &Envelope) -> Result<T, HandlerError> {
    event.decode().map_err(|error| {
        HandlerError::Permanent(anyhow::anyhow!(
            "{} payload does not match its contract: {error}",
            event.event_type
        ))
    })
}
