//! RabbitMQ: the topology, the message envelope, and publishing with confirms.
//!
//! Topology (names carry the configured namespace, `tsunagu` by default):
//!
//! ```text
//! {ns}.events        topic exchange, durable: every domain event, routing key = event type
//! {ns}.<service>     quorum queue per consuming service, bound to the event types it reads;
//!                    dead-letters to {ns}.dead-letter after `delivery_limit` deliveries
//! {ns}.dead-letter   fanout exchange and quorum queue: messages that could not be processed,
//!                    with the reason in the `x-tsunagu-error` header (or RabbitMQ's `x-death`)
//!
//! A partitioned service (matching) has no single queue but:
//! {ns}.<service>.partitions   consistent-hash exchange, bound to {ns}.events with the
//!                             service's patterns, hashing the municipality header
//! {ns}.<service>.pNNN         one quorum queue per partition, single active consumer, so
//!                             one municipality's events are handled in order by one worker
//! ```
//!
//! Every service declares the whole topology when it starts, so no event is published before
//! the queue that reads it exists, whatever order the services start in.

use std::collections::HashMap;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeBindOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use uuid::Uuid;

use crate::config::{Config, ServiceName};

pub const HOW_TO_START_RABBITMQ: &str = "RabbitMQ must be running: on Debian, \
`rabbitmq-server -detached`; with Docker, `docker compose up -d rabbitmq`.";

/// The binding key of every partition queue on a consistent-hash exchange: the queue's weight.
/// Equal weights give every partition an equal share of the hash space.
pub const PARTITION_WEIGHT: &str = "1";

/// The event patterns `service` subscribes to.
pub fn subscriptions(service: ServiceName) -> &'static [&'static str] {
    SUBSCRIPTIONS
        .iter()
        .find(|(subscriber, _)| *subscriber == service)
        .map_or(&[], |(_, patterns)| *patterns)
}

/// Which service reads which event types. The one place that says who consumes what.
pub const SUBSCRIPTIONS: &[(ServiceName, &[&str])] = &[
    (
        ServiceName::Matching,
        &[
            "area.*",
            "organization.*",
            "resource.*",
            // Municipal categories with their parents; helpers with their organisations.
            "category.created",
            "helper.*",
            "need.submitted",
            "need.updated",
            "need.status_changed",
            "need.withdrawn",
            "area_issue.recorded",
        ],
    ),
    // What people hear of: proposals and answers, needs nobody can serve, a need's progress
    // (for the resident's proxies and the municipality's systems), needs gone quiet, and
    // resources nobody has verified within the freshness period.
    (
        ServiceName::Notifications,
        &[
            "match.*",
            "need.unmatched",
            "need.status_changed",
            "need.follow_up_due",
            "resource.verification_overdue",
        ],
    ),
    // A municipality's own categories, so needs named by them are stored under their codes;
    // the registry's areas, so a need names one that exists, in its municipality; matching's
    // proposals and answers, which move needs through their lifecycle.
    (
        ServiceName::Intake,
        &[
            "category.created",
            "area.*",
            "match.proposed",
            "match.accepted",
            "match.rejected",
            "match.expired",
            "match.withdrawn",
        ],
    ),
];

/// Whether some service's queue is bound for `event_type` (topic patterns: `*` is one word).
/// Events nobody subscribes to yet (e.g. `coordinator.created`) are still published, for listeners
/// added later, but an unrouted return for them is expected rather than a fault.
pub fn is_subscribed(event_type: &str) -> bool {
    SUBSCRIPTIONS
        .iter()
        .flat_map(|(_, patterns)| patterns.iter())
        .any(|pattern| pattern_matches(pattern, event_type))
}

/// Whether a topic `pattern` binds `event_type` (`*` is one word; `#` is not used).
fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    let mut words = event_type.split('.');
    let mut pattern_words = pattern.split('.');
    loop {
        match (pattern_words.next(), words.next()) {
            (None, None) => return true,
            (Some("*"), Some(_)) => {}
            (Some(expected), Some(word)) if expected == word => {}
            _ => return false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Topology {
    pub namespace: String,
    pub delivery_limit: u32,
    /// How many partition queues a partitioned service has.
    pub partitions: u16,
}

/// Services whose events are partitioned by municipality across workers (see
/// `crate::partitions`); every other service's instances share one queue.
pub const PARTITIONED: &[ServiceName] = &[ServiceName::Matching];

impl Topology {
    pub fn from_config(config: &Config) -> Topology {
        Topology {
            namespace: config.amqp_namespace.clone(),
            delivery_limit: config.amqp_delivery_limit,
            partitions: config.matching_partitions,
        }
    }

    pub fn is_partitioned(&self, service: ServiceName) -> bool {
        PARTITIONED.contains(&service)
    }

    /// The consistent-hash exchange that spreads a partitioned service's events.
    pub fn partition_exchange(&self, service: ServiceName) -> String {
        format!("{}.{}.partitions", self.namespace, service.as_str())
    }

    pub fn partition_queue(&self, service: ServiceName, partition: u16) -> String {
        format!("{}.{}.p{partition:03}", self.namespace, service.as_str())
    }

    /// Every queue the service's consumers read.
    pub fn queues(&self, service: ServiceName) -> Vec<String> {
        if self.is_partitioned(service) {
            (0..self.partitions)
                .map(|partition| self.partition_queue(service, partition))
                .collect()
        } else {
            vec![self.queue(service)]
        }
    }

    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.namespace)
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead-letter", self.namespace)
    }

    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letter", self.namespace)
    }

    pub fn queue(&self, service: ServiceName) -> String {
        format!("{}.{}", self.namespace, service.as_str())
    }

    /// Declares exchanges, queues and bindings on `channel`, as `declaring` (its relay or
    /// consumer, at every session start) — after [`check_partition_layout`](Self::check_partition_layout),
    /// so that no service adds partition queues to another's layout. Idempotent.
    pub async fn declare(
        &self,
        connection: &Connection,
        channel: &Channel,
        declaring: ServiceName,
    ) -> anyhow::Result<()> {
        self.check_partition_layout(connection, declaring).await?;
        Ok(self.declare_objects(channel).await?)
    }

    async fn declare_objects(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                self.events_exchange().as_str().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.dead_letter_exchange().as_str().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;

        let durable_queue = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let mut quorum = FieldTable::default();
        quorum.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
        channel
            .queue_declare(
                self.dead_letter_queue().as_str().into(),
                durable_queue,
                quorum.clone(),
            )
            .await?;
        channel
            .queue_bind(
                self.dead_letter_queue().as_str().into(),
                self.dead_letter_exchange().as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        for (service, patterns) in SUBSCRIPTIONS {
            let mut arguments = quorum.clone();
            arguments.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(self.dead_letter_exchange().into()),
            );
            arguments.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongInt(i32::try_from(self.delivery_limit).unwrap_or(i32::MAX)),
            );
            if self.is_partitioned(*service) {
                self.declare_partitions(channel, *service, patterns, arguments)
                    .await?;
                continue;
            }
            let queue = self.queue(*service);
            channel
                .queue_declare(queue.as_str().into(), durable_queue, arguments)
                .await?;
            for pattern in *patterns {
                channel
                    .queue_bind(
                        queue.as_str().into(),
                        self.events_exchange().as_str().into(),
                        (*pattern).into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// The consistent-hash exchange (plugin `rabbitmq_consistent_hash_exchange`) hashes the
    /// municipality header, so all of one municipality's events land in one partition queue,
    /// in the order they were published. Single active consumer keeps that order even while
    /// two workers briefly both subscribe to a partition during a hand-over.
    async fn declare_partitions(
        &self,
        channel: &Channel,
        service: ServiceName,
        patterns: &[&str],
        mut arguments: FieldTable,
    ) -> lapin::Result<()> {
        let exchange = self.partition_exchange(service);
        let mut hashing = FieldTable::default();
        hashing.insert(
            "hash-header".into(),
            AMQPValue::LongString(HEADER_MUNICIPALITY.into()),
        );
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Custom("x-consistent-hash".into()),
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                hashing,
            )
            .await?;
        for pattern in patterns {
            channel
                .exchange_bind(
                    exchange.as_str().into(),
                    self.events_exchange().as_str().into(),
                    (*pattern).into(),
                    ExchangeBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        arguments.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
        for partition in 0..self.partitions {
            let queue = self.partition_queue(service, partition);
            channel
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    arguments.clone(),
                )
                .await?;
            channel
                .queue_bind(
                    queue.as_str().into(),
                    exchange.as_str().into(),
                    PARTITION_WEIGHT.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Checks, before `declaring` declares the topology (and when a service starts, to refuse
    /// to), that it would not add partition
    /// queues to another service's layout. Every service declares every queue (so that events
    /// published before their consumer's first start wait in it); a publisher configured with
    /// a higher `TSUNAGU_MATCHING_PARTITIONS` than the matching workers would add partition
    /// queues that no worker reads — and the consistent-hash exchange would strand events in
    /// them — or bring back the ones a smaller new layout retired. (A lower count declares
    /// queues that exist: harmless.) The partitioned service itself is exempt: its workers
    /// move the layout (see `crate::partitions`). Nothing declared yet (a first start) passes,
    /// and so does a layout that another service is declaring at this moment.
    pub async fn check_partition_layout(
        &self,
        connection: &Connection,
        declaring: ServiceName,
    ) -> anyhow::Result<()> {
        for (service, _) in SUBSCRIPTIONS {
            if !self.is_partitioned(*service) || *service == declaring {
                continue;
            }
            let mut declared = self.declared_partitions(connection, *service, 0).await?;
            // Services that start together declare the same layout queue by queue: wait while
            // the count grows.
            let mut unchanged = 0;
            while declared > 0 && declared < self.partitions && unchanged < 4 {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let now = self.declared_partitions(connection, *service, declared).await?;
                unchanged = if now > declared { 0 } else { unchanged + 1 };
                declared = now;
            }
            if declared > 0 && declared < self.partitions {
                anyhow::bail!(
                    "TSUNAGU_MATCHING_PARTITIONS={} here, but RabbitMQ holds {declared} partition queues of \
                     {service} ({}.*); set the same value on every service (the matching workers' \
                     layout), or events would be hashed onto queues no worker reads. During a change \
                     of layout, start the other services once the matching workers run the new one \
                     (docs/operations.md) / パーティション数の設定がmatchingと一致しません",
                    self.partitions,
                    self.partition_exchange(*service),
                );
            }
        }
        Ok(())
    }

    /// How many of `service`'s partition queues exist in a row from `from` on, up to this
    /// layout's count (they are declared from the bottom and retired from the top, so the ones
    /// below `from` are known to exist). Never probing above the count keeps a deployment that
    /// agrees free of refused probes (lapin logs each as an error).
    async fn declared_partitions(
        &self,
        connection: &Connection,
        service: ServiceName,
        from: u16,
    ) -> lapin::Result<u16> {
        let mut count = from;
        while count < self.partitions
            && queue_exists(connection, &self.partition_queue(service, count)).await?
        {
            count += 1;
        }
        Ok(count)
    }

    /// Deletes everything [`declare`](Self::declare) made. For tests that share a vhost.
    pub async fn delete(&self, channel: &Channel) -> lapin::Result<()> {
        for (service, _) in SUBSCRIPTIONS {
            for queue in self.queues(*service) {
                channel
                    .queue_delete(queue.as_str().into(), Default::default())
                    .await?;
            }
            if self.is_partitioned(*service) {
                channel
                    .exchange_delete(
                        self.partition_exchange(*service).as_str().into(),
                        Default::default(),
                    )
                    .await?;
            }
        }
        channel
            .queue_delete(self.dead_letter_queue().as_str().into(), Default::default())
            .await?;
        channel
            .exchange_delete(self.events_exchange().as_str().into(), Default::default())
            .await?;
        channel
            .exchange_delete(self.dead_letter_exchange().as_str().into(), Default::default())
            .await?;
        Ok(())
    }
}

/// Opens a connection named after the service and its role (visible in the management UI).
pub async fn connect(amqp_url: &str, connection_name: &str) -> anyhow::Result<Connection> {
    let properties = ConnectionProperties::default().with_connection_name(connection_name.to_string().into());
    Connection::connect(amqp_url, properties).await.map_err(|error| {
        anyhow::anyhow!(
            "cannot connect to RabbitMQ at {}: {error}\n{HOW_TO_START_RABBITMQ}",
            crate::db::redact(amqp_url)
        )
    })
}

/// Whether `queue` exists, asked on a channel of its own (a passive declare of a missing
/// queue closes its channel).
async fn queue_exists(connection: &Connection, queue: &str) -> lapin::Result<bool> {
    let probe = connection.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    match probe
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
    {
        Ok(_) => {
            let _ = probe.close(200, "probed".into()).await;
            Ok(true)
        }
        Err(error) if is_not_found(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

fn is_not_found(error: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
    matches!(
        error.kind(),
        lapin::ErrorKind::ProtocolError(refusal)
            if matches!(refusal.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND))
    )
}

/// A channel in confirm mode, for publishing.
pub async fn confirm_channel(connection: &Connection) -> lapin::Result<Channel> {
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(channel)
}

/// A domain event as it travels: the body is the JSON payload; identity, type, tenant and the
/// trace context ride in the AMQP properties and headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Unique per event; consumers deduplicate on it.
    pub id: Uuid,
    /// e.g. `need.submitted`; also the routing key.
    pub event_type: String,
    pub municipality_code: String,
    pub payload: serde_json::Value,
    /// W3C `traceparent` (and `tracestate`) of the span that published the event.
    pub trace_headers: HashMap<String, String>,
}

pub const HEADER_MUNICIPALITY: &str = "x-tsunagu-municipality";
pub const HEADER_ERROR: &str = "x-tsunagu-error";
/// On a dead letter a consumer copied: the queue it was consumed from.
pub const HEADER_QUEUE: &str = "x-tsunagu-queue";
/// When the event's state change committed (its outbox row), in milliseconds since the epoch.
pub const HEADER_COMMITTED_AT: &str = "x-tsunagu-committed-at";

/// `properties` with one more header.
pub fn with_header(properties: BasicProperties, name: &str, value: &str) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(name.into(), AMQPValue::LongString(LongString::from(value)));
    properties.with_headers(headers)
}

impl Envelope {
    pub fn properties(&self) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert(
            HEADER_MUNICIPALITY.into(),
            AMQPValue::LongString(self.municipality_code.as_str().into()),
        );
        for (key, value) in &self.trace_headers {
            headers.insert(key.as_str().into(), AMQPValue::LongString(value.as_str().into()));
        }
        BasicProperties::default()
            .with_message_id(ShortString::from(self.id.to_string()))
            .with_type(ShortString::from(self.event_type.as_str()))
            .with_content_type("application/json".into())
            .with_delivery_mode(2) // persistent
            .with_timestamp(chrono::Utc::now().timestamp().max(0) as u64)
            .with_headers(headers)
    }

    /// Records on `span` (which declared the fields) the ids the event is about — the
    /// payload's `need_id` and `proposal_id` as `tsunagu.need_id`, `tsunagu.proposal_id`:
    /// ids, never personal data.
    pub fn record_subject_ids(&self, span: &tracing::Span) {
        for (field, key) in [
            ("tsunagu.need_id", "need_id"),
            ("tsunagu.proposal_id", "proposal_id"),
        ] {
            if let Some(id) = self.payload.get(key).and_then(serde_json::Value::as_str) {
                span.record(field, id);
            }
        }
    }

    pub fn body(&self) -> Vec<u8> {
        // A serde_json::Value always serialises.
        serde_json::to_vec(&self.payload).unwrap_or_default()
    }

    /// Reads a delivered message back; `Err` names what is missing, for the dead-letter reason.
    pub fn from_message(
        properties: &BasicProperties,
        routing_key: &str,
        body: &[u8],
    ) -> Result<Envelope, String> {
        let id = properties
            .message_id()
            .as_ref()
            .ok_or("message has no message_id")?
            .as_str()
            .parse::<Uuid>()
            .map_err(|_| "message_id is not a UUID".to_string())?;
        let event_type = properties
            .kind()
            .as_ref()
            .map(|kind| kind.as_str().to_string())
            .unwrap_or_else(|| routing_key.to_string());
        let headers = header_strings(properties);
        let municipality_code = headers
            .get(HEADER_MUNICIPALITY)
            .cloned()
            .ok_or_else(|| format!("message has no {HEADER_MUNICIPALITY} header"))?;
        let payload = serde_json::from_slice(body).map_err(|error| format!("body is not JSON: {error}"))?;
        let trace_headers = headers
            .into_iter()
            .filter(|(key, _)| key == "traceparent" || key == "tracestate")
            .collect();
        Ok(Envelope {
            id,
            event_type,
            municipality_code,
            payload,
            trace_headers,
        })
    }

    /// The payload as a typed event.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload)
    }
}

/// String-valued headers of a message.
pub fn header_strings(properties: &BasicProperties) -> HashMap<String, String> {
    let mut strings = HashMap::new();
    if let Some(headers) = properties.headers() {
        for (key, value) in headers.inner() {
            let text = match value {
                AMQPValue::LongString(text) => String::from_utf8_lossy(text.as_bytes()).into_owned(),
                AMQPValue::ShortString(text) => text.as_str().to_string(),
                _ => continue,
            };
            strings.insert(key.as_str().to_string(), text);
        }
    }
    strings
}

/// How often RabbitMQ has delivered this message before (quorum queues count it).
pub fn delivery_count(properties: &BasicProperties) -> u32 {
    properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get("x-delivery-count").cloned())
        .and_then(|value| match value {
            AMQPValue::LongLongInt(n) => u32::try_from(n).ok(),
            AMQPValue::LongInt(n) => u32::try_from(n).ok(),
            AMQPValue::LongUInt(n) => Some(n),
            AMQPValue::ShortInt(n) => u32::try_from(n).ok(),
            _ => None,
        })
        .unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("broker error: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("no queue is bound for routing key {0:?}: the message was returned unrouted")]
    Unroutable(String),
}

/// Publishes `body` as mandatory and waits for the broker's confirm. A confirmed message that
/// came back unrouted is an error: RabbitMQ acks such messages too.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<(), PublishError> {
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body,
            properties,
        )
        .await?;
    match confirm.await? {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_returned)) => Err(PublishError::Unroutable(routing_key.to_string())),
        Confirmation::Nack(_) => Err(PublishError::Nacked),
        // Channels made by `confirm_channel` are in confirm mode; reaching this is a bug.
        Confirmation::NotRequested => Err(PublishError::Nacked),
    }
}

/// Dead-letters a message that cannot be processed, with the reason in a header.
pub async fn publish_dead_letter(
    channel: &Channel,
    topology: &Topology,
    routing_key: &str,
    body: &[u8],
    properties: &BasicProperties,
    reason: &str,
) -> Result<(), PublishError> {
    let properties = with_header(properties.clone(), HEADER_ERROR, reason);
    publish_confirmed(
        channel,
        &topology.dead_letter_exchange(),
        routing_key,
        body,
        properties,
    )
    .await
}

/// A per-process unique id for message ids in tests and tools.
pub fn new_message_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_match_topic_patterns_word_by_word() {
        assert!(is_subscribed("resource.updated"));
        assert!(is_subscribed("need.submitted"));
        assert!(!is_subscribed("need.submitted.late"));
        assert!(is_subscribed("helper.created"));
        assert!(!is_subscribed("coordinator.created"));
        assert!(!is_subscribed("resource"));
    }

    #[test]
    fn an_overdue_verification_reaches_notifications_and_matching_hears_it_too() {
        let overdue = "resource.verification_overdue";
        let binds = |service| {
            subscriptions(service)
                .iter()
                .any(|pattern| pattern_matches(pattern, overdue))
        };
        assert!(is_subscribed(overdue));
        assert!(binds(ServiceName::Notifications));
        // Matching's `resource.*` delivers it as well; its handler lets it pass.
        assert!(binds(ServiceName::Matching));
        assert!(!binds(ServiceName::Intake));
    }

    #[test]
    fn an_envelope_survives_the_trip_through_amqp_properties() {
        let envelope = Envelope {
            id: Uuid::now_v7(),
            event_type: "need.submitted".into(),
            municipality_code: "212024".into(),
            payload: serde_json::json!({"category": "ゴミ出し"}),
            trace_headers: HashMap::from([(
                "traceparent".to_string(),
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
            )]),
        };
        let back = Envelope::from_message(&envelope.properties(), "ignored", &envelope.body()).unwrap();
        assert_eq!(back, envelope);
    }

    #[test]
    fn a_message_without_tenant_is_refused_with_a_reason() {
        let properties = BasicProperties::default().with_message_id(Uuid::now_v7().to_string().into());
        let error = Envelope::from_message(&properties, "need.submitted", b"{}").unwrap_err();
        assert!(error.contains(HEADER_MUNICIPALITY), "{error}");
    }

    #[test]
    fn every_consumer_queue_dead_letters_after_the_delivery_limit() {
        let topology = Topology {
            namespace: "t".into(),
            delivery_limit: 5,
            partitions: 3,
        };
        assert_eq!(topology.queues(ServiceName::Intake), ["t.intake"]);
        assert_eq!(
            topology.queues(ServiceName::Matching),
            ["t.matching.p000", "t.matching.p001", "t.matching.p002"]
        );
        assert_eq!(topology.events_exchange(), "t.events");
        assert!(SUBSCRIPTIONS.iter().all(|(_, patterns)| !patterns.is_empty()));
    }
}
