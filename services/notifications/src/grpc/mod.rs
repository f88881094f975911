//! The notifications gRPC edge: the only module (with the registry client in `handler`) that
//! touches `tsunagu_proto`.
//!
//! - `inbox`: in-app notifications, their read state and the resumable stream;
//! - `subscriptions`: who hears of what over which channel;
//! - `deliveries`: the delivery log and dead-letter replay;
//! - `authz`: who may do which of these.

mod authz;
mod deliveries;
mod inbox;
mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Notify, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_proto::notifications::v1::notifications_service_server::{
    NotificationsService, NotificationsServiceServer,
};
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::audit::{self, Action};
use tsunagu_runtime::auth::{Role, principal_of};
use tsunagu_runtime::db;
use tsunagu_runtime::error::ServiceError;
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use uuid::Uuid;

use crate::channels::Channels;
use crate::message::Audience;
use crate::templates;

/// How many notifications the stream reads per query.
const STREAM_BATCH: i64 = 100;
/// How often an open stream looks for notifications committed by another replica.
const STREAM_POLL: Duration = Duration::from_millis(500);
/// Most ids one MarkNotificationsRead or ReplayDeliveries call takes.
const MAX_IDS: usize = 500;

pub struct NotificationsApi {
    pub pool: PgPool,
    pub channels: Channels,
    pub inbox_written: Arc<Notify>,
    pub deliveries_due: Arc<Notify>,
    pub shutdown: CancellationToken,
}

pub fn routes(api: NotificationsApi) -> Routes {
    Routes::new(NotificationsServiceServer::new(api))
}

pub(crate) fn parse_recipient(recipient: Option<pb::Recipient>) -> Result<Audience, ServiceError> {
    let municipality = |field: &str, code: String| {
        MunicipalityCode::parse_known(&code)
            .map(|code| code.to_string())
            .map_err(|error| ServiceError::invalid(field, error.to_string()))
    };
    match recipient.and_then(|r| r.kind) {
        Some(pb::recipient::Kind::OrganizationId(id)) => Ok(Audience::Organization(
            parse_id("recipient.organization_id", &id)?.to_string(),
        )),
        Some(pb::recipient::Kind::CoordinatorsOfMunicipality(code)) => Ok(Audience::Coordinators(
            municipality("recipient.coordinators_of_municipality", code)?,
        )),
        Some(pb::recipient::Kind::Municipality(code)) => Ok(Audience::Municipality(municipality(
            "recipient.municipality",
            code,
        )?)),
        Some(pb::recipient::Kind::NeedId(id)) => {
            Ok(Audience::Need(parse_id("recipient.need_id", &id)?.to_string()))
        }
        None => Err(ServiceError::invalid(
            "recipient",
            "宛先（事業主体ID・市区町村コード・ニーズID）を指定してください / recipient is required",
        )),
    }
}

pub(crate) fn recipient_to_proto(audience: &Audience) -> pb::Recipient {
    let id = audience.id().to_string();
    let kind = match audience {
        Audience::Organization(_) => pb::recipient::Kind::OrganizationId(id),
        Audience::Coordinators(_) => pb::recipient::Kind::CoordinatorsOfMunicipality(id),
        Audience::Municipality(_) => pb::recipient::Kind::Municipality(id),
        Audience::Need(_) => pb::recipient::Kind::NeedId(id),
    };
    pb::Recipient { kind: Some(kind) }
}

/// Who makes this call, for the audit trail.
fn call<T>(
    request: &Request<T>,
    caller: &tsunagu_runtime::auth::Principal,
    method: &'static str,
) -> audit::Call {
    audit::Call {
        actor: audit::Actor::of(request, caller),
        method: method.to_string(),
    }
}

fn parse_ids(field: &str, ids: &[String]) -> Result<Vec<Uuid>, ServiceError> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(ServiceError::invalid(
            field,
            format!("1〜{MAX_IDS}件のIDを指定してください / give 1 to {MAX_IDS} ids"),
        ));
    }
    ids.iter()
        .enumerate()
        .map(|(index, id)| parse_id(&format!("{field}[{index}]"), id))
        .collect()
}

fn optional_id(field: &str, id: &str) -> Result<Option<Uuid>, ServiceError> {
    if id.is_empty() {
        Ok(None)
    } else {
        parse_id(field, id).map(Some)
    }
}

fn template_to_proto(template: templates::Template) -> pb::Template {
    pb::Template {
        variables: templates::variables_of(&template.key)
            .iter()
            .map(|v| v.to_string())
            .collect(),
        key: template.key,
        locale: template.locale,
        version: template.version.max(0) as u32,
        subject: template.subject,
        body: template.body,
        created_at: template.created_at.map(timestamp),
    }
}

#[tonic::async_trait]
impl NotificationsService for NotificationsApi {
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let audience = parse_recipient(request.recipient)?;
        let page = Page::from_request(request.page)?;
        let only_municipality = authz::inbox_filter(&caller, &audience)?;
        let rows = inbox::list(
            &self.pool,
            &audience,
            only_municipality.as_deref(),
            request.unread_only,
            &page,
        )
        .await?;
        let next_page_token = page.next_token(rows.len(), rows.last().map(|row| row.id()));
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: rows.into_iter().map(inbox::NotificationRow::into_proto).collect(),
            next_page_token,
        }))
    }

    async fn mark_notifications_read(
        &self,
        request: Request<pb::MarkNotificationsReadRequest>,
    ) -> Result<Response<pb::MarkNotificationsReadResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let audience = parse_recipient(request.recipient)?;
        let ids = parse_ids("notification_ids", &request.notification_ids)?;
        let only_municipality = authz::inbox_filter(&caller, &audience)?;
        let marked = inbox::mark_read(&self.pool, &audience, only_municipality.as_deref(), &ids).await?;
        Ok(Response::new(pb::MarkNotificationsReadResponse {
            marked: marked as u32,
        }))
    }

    type SubscribeNotificationsStream = ReceiverStream<Result<pb::Notification, Status>>;

    async fn subscribe_notifications(
        &self,
        request: Request<pb::SubscribeNotificationsRequest>,
    ) -> Result<Response<Self::SubscribeNotificationsStream>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let audience = parse_recipient(request.recipient)?;
        let mut cursor = inbox::Cursor::parse(&request.cursor)?;
        let only_municipality = authz::inbox_filter(&caller, &audience)?;
        let (sender, receiver) = mpsc::channel(2 * STREAM_BATCH as usize);
        let pool = self.pool.clone();
        let wake = self.inbox_written.clone();
        let shutdown = self.shutdown.clone();
        // The stream outlives this call: it takes the caller's tenant along.
        let scope = db::current_scope();
        tokio::spawn(db::as_scope(scope, async move {
            loop {
                // Listen before reading, so a commit during the read is not missed.
                let woken = wake.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                let rows = match inbox::after(
                    &pool,
                    &audience,
                    only_municipality.as_deref(),
                    &cursor,
                    STREAM_BATCH,
                )
                .await
                {
                    Ok(rows) => rows,
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        return;
                    }
                };
                let full = rows.len() as i64 == STREAM_BATCH;
                for row in rows {
                    cursor = row.cursor();
                    if sender.send(Ok(row.into_proto())).await.is_err() {
                        return;
                    }
                }
                if full {
                    continue;
                }
                tokio::select! {
                    _ = &mut woken => {}
                    _ = tokio::time::sleep(STREAM_POLL) => {}
                    _ = sender.closed() => return,
                    _ = shutdown.cancelled() => return,
                }
            }
        }));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::CreateSubscriptionResponse>, Status> {
        let caller = principal_of(&request)?;
        let call = call(&request, &caller, "CreateSubscription");
        let subscription = request.into_inner().subscription.ok_or_else(|| {
            ServiceError::invalid(
                "subscription",
                "購読の内容を指定してください / subscription is required",
            )
        })?;
        let (new, requested_municipality) = subscriptions::check(subscription, &self.channels)?;
        subscriptions::check_destination(&new, &self.channels).await?;
        let municipality = authz::subscription_municipality(&caller, &new.audience, &requested_municipality)?;
        MunicipalityCode::parse_known(&municipality)
            .map_err(|error| ServiceError::invalid("subscription.municipality_code", error.to_string()))?;
        // A need's proxies only for a need of that municipality: another municipality's need
        // and one that does not exist get the same refusal (nothing is revealed).
        if let Audience::Need(need_id) = &new.audience
            && !subscriptions::need_in(&self.pool, need_id, &municipality).await?
        {
            return Err(ServiceError::Denied.into());
        }
        let (row, secret) = db::as_tenant(&municipality, async {
            let (row, secret) =
                subscriptions::create(&self.pool, new, &municipality, &caller.actor()).await?;
            let objects = [(municipality.clone(), row.id())];
            let detail = format!("channel={}", row.channel());
            audit::record_objects(
                &self.pool,
                &call,
                Action::Change,
                "subscription",
                &objects,
                &detail,
            )
            .await?;
            Ok::<_, ServiceError>((row, secret))
        })
        .await?;
        Ok(Response::new(pb::CreateSubscriptionResponse {
            subscription: Some(row.into_proto()),
            signing_secret: secret.unwrap_or_default(),
        }))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let caller = principal_of(&request)?;
        let call = call(&request, &caller, "ListSubscriptions");
        let request = request.into_inner();
        let page = Page::from_request(request.page)?;
        let rows = if caller.role == Role::Provider {
            let organization = caller.organization_id.map(|id| id.to_string());
            subscriptions::list(&self.pool, None, organization.as_deref(), &page).await?
        } else {
            let code = request.municipality_code.trim();
            // Subscriptions hold people's addresses: the municipality's own staff and systems
            // only (the prefecture operates deliveries, which carry none).
            let allowed = caller.acts_in(
                code,
                &[Role::MunicipalAdmin, Role::Coordinator, Role::Integration],
            );
            if !allowed {
                return Err(ServiceError::Denied.into());
            }
            db::as_tenant(code, subscriptions::list(&self.pool, Some(code), None, &page)).await?
        };
        // Addresses of people (a proxy's e-mail) are personal data: every one listed is on record.
        let objects: Vec<(String, Uuid)> = rows
            .iter()
            .map(|row| (row.municipality_code().to_string(), row.id()))
            .collect();
        let listed_in = objects.first().map(|(code, _)| code.clone()).unwrap_or_default();
        db::as_tenant(&listed_in, async {
            audit::record_objects(
                &self.pool,
                &call,
                Action::ReadPersonalData,
                "subscription",
                &objects,
                "list",
            )
            .await
        })
        .await?;
        let next_page_token = page.next_token(rows.len(), rows.last().map(|row| row.id()));
        Ok(Response::new(pb::ListSubscriptionsResponse {
            subscriptions: rows
                .into_iter()
                .map(subscriptions::SubscriptionRow::into_proto)
                .collect(),
            next_page_token,
        }))
    }

    async fn delete_subscription(
        &self,
        request: Request<pb::DeleteSubscriptionRequest>,
    ) -> Result<Response<pb::DeleteSubscriptionResponse>, Status> {
        let caller = principal_of(&request)?;
        let call = call(&request, &caller, "DeleteSubscription");
        let id = parse_id("id", &request.into_inner().id)?;
        // Read under the caller's own wall; absent, hidden and not the caller's to remove are
        // one refusal.
        let row = subscriptions::find(&self.pool, id).await?;
        let audience = row.audience().ok_or(ServiceError::Denied)?;
        let municipality = authz::subscription_municipality(&caller, &audience, row.municipality_code())?;
        db::as_tenant(&municipality, async {
            subscriptions::delete(&self.pool, id).await?;
            let objects = [(municipality.clone(), id)];
            audit::record_objects(
                &self.pool,
                &call,
                Action::Change,
                "subscription",
                &objects,
                "deleted",
            )
            .await
        })
        .await?;
        Ok(Response::new(pb::DeleteSubscriptionResponse {}))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let code = request.municipality_code.trim().to_string();
        authz::may_operate_deliveries(&caller, &code)?;
        let page = Page::from_request(request.page)?;
        let filter = deliveries::Filter {
            municipality_code: &code,
            state: deliveries::state_name(
                pb::DeliveryState::try_from(request.state).unwrap_or(pb::DeliveryState::Unspecified),
            ),
            subscription_id: optional_id("subscription_id", &request.subscription_id)?,
            event_id: optional_id("event_id", &request.event_id)?,
        };
        let rows = db::as_tenant(&code, deliveries::list(&self.pool, filter, &page)).await?;
        let next_page_token = page.next_token(rows.len(), rows.last().map(|row| row.id()));
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: rows.into_iter().map(|row| row.into_proto(Vec::new())).collect(),
            next_page_token,
        }))
    }

    async fn get_delivery(
        &self,
        request: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::GetDeliveryResponse>, Status> {
        let caller = principal_of(&request)?;
        let id = parse_id("id", &request.into_inner().id)?;
        let row = self.operable_delivery(&caller, id).await?;
        let code = row.municipality_code.clone();
        let attempts = db::as_tenant(&code, deliveries::attempts(&self.pool, id)).await?;
        Ok(Response::new(pb::GetDeliveryResponse {
            delivery: Some(row.into_proto(attempts)),
        }))
    }

    async fn replay_deliveries(
        &self,
        request: Request<pb::ReplayDeliveriesRequest>,
    ) -> Result<Response<pb::ReplayDeliveriesResponse>, Status> {
        let caller = principal_of(&request)?;
        let call = call(&request, &caller, "ReplayDeliveries");
        let ids = parse_ids("delivery_ids", &request.into_inner().delivery_ids)?;
        let mut replayed = 0;
        for id in ids {
            let row = self.operable_delivery(&caller, id).await?;
            replayed += db::as_tenant(&row.municipality_code, async {
                let replayed = deliveries::replay(&self.pool, &[id]).await?;
                let objects = [(row.municipality_code.clone(), id)];
                audit::record_objects(
                    &self.pool,
                    &call,
                    Action::Change,
                    "delivery",
                    &objects,
                    "replayed",
                )
                .await?;
                Ok::<_, ServiceError>(replayed)
            })
            .await?;
        }
        if replayed > 0 {
            self.deliveries_due.notify_one();
        }
        tracing::info!(replayed, actor = %caller.actor(), "dead deliveries replayed");
        Ok(Response::new(pb::ReplayDeliveriesResponse {
            replayed: replayed as u32,
        }))
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        let caller = principal_of(&request)?;
        if caller.role == Role::Provider {
            return Err(ServiceError::Denied.into());
        }
        let mut conn = self.pool.acquire().await.map_err(ServiceError::from)?;
        // What applies to the caller: its municipality's, its prefecture's, the deployment's.
        let templates = templates::list(&mut conn, &templates::scope::seen_by(&caller)).await?;
        Ok(Response::new(pb::ListTemplatesResponse {
            templates: templates.into_iter().map(template_to_proto).collect(),
        }))
    }

    async fn put_template(
        &self,
        request: Request<pb::PutTemplateRequest>,
    ) -> Result<Response<pb::PutTemplateResponse>, Status> {
        let caller = principal_of(&request)?;
        let call = call(&request, &caller, "PutTemplate");
        // The scope comes from the caller's key (there is no field for it): a prefecture's
        // administrator changes its own prefecture's texts, never another's.
        let scope = authz::template_scope(&caller)?;
        let request = request.into_inner();
        let mut conn = self.pool.acquire().await.map_err(ServiceError::from)?;
        let template = templates::put(
            &mut conn,
            &scope,
            request.key.trim(),
            request.locale.trim(),
            &request.subject,
            &request.body,
            &caller.actor(),
        )
        .await?;
        tracing::info!(key = %template.key, locale = %template.locale, version = template.version, scope = %template.scope, actor = %caller.actor(), "template version added");
        // On record under the scope's code (the prefecture's or the municipality's).
        let objects = [(caller.scope_code.clone(), Uuid::now_v7())];
        let detail = format!(
            "{} {} version={} scope={}",
            template.key, template.locale, template.version, template.scope
        );
        audit::record_objects(&self.pool, &call, Action::Change, "template", &objects, &detail).await?;
        Ok(Response::new(pb::PutTemplateResponse {
            template: Some(template_to_proto(template)),
        }))
    }
}

impl NotificationsApi {
    /// A delivery the caller may operate on. Found across municipalities, then checked: a
    /// delivery the caller may not operate on and one that does not exist get the same
    /// refusal (PERMISSION_DENIED), so an id reveals nothing.
    async fn operable_delivery(
        &self,
        caller: &tsunagu_runtime::auth::Principal,
        id: Uuid,
    ) -> Result<deliveries::DeliveryRow, ServiceError> {
        let row = db::as_tenant(db::EVERY_TENANT, deliveries::find(&self.pool, id)).await?;
        authz::may_operate_deliveries(caller, &row.municipality_code)?;
        Ok(row)
    }
}
