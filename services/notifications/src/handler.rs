//! Consumes `match.proposed` and `need.unmatched` and records in-app notifications inside the
//! inbox transaction; the unique (event, recipient, channel) key is a second wall against
//! duplicates.

use sqlx::PgConnection;
use tracing::Instrument;
use tsunagu_proto::registry::v1::GetOrganizationRequest;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::consumer::{EventHandler, HandlerError};
use tsunagu_runtime::events::{self, MatchAnswered, MatchProposed, NeedUnmatched};
use tsunagu_runtime::grpc::{TracedChannel, client_span, is_unreachable, service_channel};
use uuid::Uuid;

use crate::compose::{self, Text};

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
}

impl EventHandler for NotificationsHandler {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        match event.event_type.as_str() {
            events::MATCH_PROPOSED => {
                let proposed: MatchProposed = decode(event)?;
                let organization_name = self.registry.organization_name(proposed.organization_id).await?;
                let text = compose::match_proposed(&proposed, &organization_name);
                let recipient = Recipient::Organization(proposed.organization_id.to_string());
                record(
                    tx,
                    event,
                    &proposed.municipality_code,
                    recipient,
                    text,
                    proposed.need_id,
                    Some(proposed.proposal_id),
                )
                .await
            }
            events::MATCH_PENDING_APPROVAL => {
                let pending: MatchProposed = decode(event)?;
                let organization_name = self.registry.organization_name(pending.organization_id).await?;
                let text = compose::match_pending_approval(&pending, &organization_name);
                let recipient = Recipient::CoordinatorsOf(pending.municipality_code.clone());
                record(
                    tx,
                    event,
                    &pending.municipality_code,
                    recipient,
                    text,
                    pending.need_id,
                    Some(pending.proposal_id),
                )
                .await
            }
            events::MATCH_ACCEPTED | events::MATCH_REJECTED | events::MATCH_EXPIRED => {
                let answered: MatchAnswered = decode(event)?;
                let organization_name = self.registry.organization_name(answered.organization_id).await?;
                let text = compose::match_answered(&event.event_type, &answered, &organization_name);
                let recipient = Recipient::CoordinatorsOf(answered.municipality_code.clone());
                record(
                    tx,
                    event,
                    &answered.municipality_code,
                    recipient,
                    text,
                    answered.need_id,
                    Some(answered.proposal_id),
                )
                .await
            }
            events::MATCH_WITHDRAWN => {
                let withdrawn: MatchAnswered = decode(event)?;
                let organization_name = self.registry.organization_name(withdrawn.organization_id).await?;
                let text = compose::match_withdrawn(&withdrawn, &organization_name);
                let recipient = Recipient::Organization(withdrawn.organization_id.to_string());
                record(
                    tx,
                    event,
                    &withdrawn.municipality_code,
                    recipient,
                    text,
                    withdrawn.need_id,
                    Some(withdrawn.proposal_id),
                )
                .await
            }
            events::NEED_UNMATCHED => {
                let unmatched: NeedUnmatched = decode(event)?;
                let text = compose::need_unmatched(&unmatched);
                let recipient = Recipient::CoordinatorsOf(unmatched.municipality_code.clone());
                record(
                    tx,
                    event,
                    &unmatched.municipality_code,
                    recipient,
                    text,
                    unmatched.need_id,
                    None,
                )
                .await
            }
            other => {
                tracing::debug!(event_type = other, "event not used by notifications");
                Ok(())
            }
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(event: &Envelope) -> Result<T, HandlerError> {
    event.decode().map_err(|error| {
        HandlerError::Permanent(anyhow::anyhow!(
            "{} payload does not match its contract: {error}",
            event.event_type
        ))
    })
}

pub enum Recipient {
    Organization(String),
    CoordinatorsOf(String),
}

impl Recipient {
    pub fn kind(&self) -> &'static str {
        match self {
            Recipient::Organization(_) => "organization",
            Recipient::CoordinatorsOf(_) => "municipality_coordinators",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Recipient::Organization(id) | Recipient::CoordinatorsOf(id) => id,
        }
    }
}

async fn record(
    tx: &mut PgConnection,
    event: &Envelope,
    municipality_code: &str,
    recipient: Recipient,
    text: Text,
    need_id: Uuid,
    proposal_id: Option<Uuid>,
) -> Result<(), HandlerError> {
    let inserted = sqlx::query(
        "INSERT INTO notification (id, municipality_code, recipient_kind, recipient_id, event_type, event_id,
                                   title, body, need_id, proposal_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (event_id, recipient_kind, recipient_id, channel) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(municipality_code)
    .bind(recipient.kind())
    .bind(recipient.id())
    .bind(&event.event_type)
    .bind(event.id)
    .bind(&text.title)
    .bind(&text.body)
    .bind(need_id)
    .bind(proposal_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tracing::info!(event_id = %event.id, recipient_kind = recipient.kind(), %need_id, inserted = inserted == 1, "notification recorded");
    Ok(())
}
