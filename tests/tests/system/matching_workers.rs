//! Matching scales by workers: three of them share a prefecture of twenty municipalities
//! through the partition queues. Every need is decided exactly once (one proposal or one
//! `need.unmatched`), no resource goes over its capacity — including one that covers the whole
//! prefecture and so is contended by every partition — and when one worker stops in the middle
//! of the stream, the other two take over its partitions and nothing is lost; and each
//! municipality's needs are handled in the order they were published.

use std::collections::HashMap;
use std::sync::Arc;

use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::amqp::{self, Topology};
use tsunagu_runtime::auth::Role;
use tsunagu_runtime::partitions::partition_holders;
use tsunagu_tests::{
    Options, PREFECTURE, RABBITMQ_URL, TestSystem, consent_to_share, eventually, new_resource,
};
use uuid::Uuid;

use crate::support::WAIT;

const MUNICIPALITIES: usize = 20;
const NEEDS_PER_MUNICIPALITY: usize = 6;
const LOCAL_CAPACITY: u32 = 3;
const PREFECTURE_WIDE_CAPACITY: u32 = 10;

struct Municipality {
    code: String,
    area_id: String,
    /// Where its needs are placed: intake takes a daily-life area, not the municipality.
    daily_life_area_id: String,
    /// The municipality's own system submits its needs (an integration key of its own: no
    /// municipality submits another's).
    key: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_twenty_municipalities_and_survive_losing_one() {
    let system = TestSystem::start_with(Options {
        seed_official_areas: true,
        without: vec![ServiceName::Matching],
        env: vec![("TSUNAGU_MATCHING_REBALANCE_MILLIS", "200".into())],
        ..Options::default()
    })
    .await;
    let matching_db = system.database(ServiceName::Matching).await;
    let tap = system.tap_events().await;

    let mut workers = Vec::new();
    for _ in 0..3 {
        let stop = CancellationToken::new();
        let worker = tsunagu_matching::start(system.config.clone(), stop.clone())
            .await
            .expect("matching worker starts");
        workers.push((stop, worker));
    }
    let partitions = i64::from(system.config.matching_partitions);
    // Each worker ends up with at most its fair share, and together they hold every partition.
    eventually("three workers to share the partitions fairly", WAIT, || async {
        let holders = partition_holders(&matching_db, ServiceName::Matching)
            .await
            .unwrap();
        let fair = holders.len() == 3 && holders[0] <= (partitions + 2) / 3;
        (fair && holders.iter().sum::<i64>() == partitions).then_some(())
    })
    .await;

    // Twenty municipalities of 岐阜県, each with a resource of its own; one more resource, of
    // the first municipality, covers the whole prefecture.
    let municipalities = municipalities(&system, MUNICIPALITIES).await;
    let mut resources = Vec::new();
    for municipality in &municipalities {
        resources.push(create_resource(&system, municipality, &municipality.area_id, LOCAL_CAPACITY).await);
    }
    let prefecture = area_by_code(&system, PREFECTURE).await;
    resources.push(
        create_resource(
            &system,
            &municipalities[0],
            &prefecture.id,
            PREFECTURE_WIDE_CAPACITY,
        )
        .await,
    );
    eventually("matching to know every resource", WAIT, || async {
        let known: i64 = sqlx::query_scalar("SELECT count(*) FROM resource")
            .fetch_one(&matching_db)
            .await
            .unwrap();
        (known == resources.len() as i64).then_some(())
    })
    .await;

    // The needs arrive municipality by municipality interleaved; the second worker stops
    // after half of them.
    let total = MUNICIPALITIES * NEEDS_PER_MUNICIPALITY;
    let system = Arc::new(system);
    let mut need_ids = Vec::new();
    for round in 0..NEEDS_PER_MUNICIPALITY {
        let submissions = municipalities.iter().map(|municipality| {
            let system = system.clone();
            let request_id = format!("worker-test-{}-{round}", municipality.code);
            async move { submit(&system, &request_id, municipality).await }
        });
        need_ids.extend(futures_util::future::join_all(submissions).await);
        if round == NEEDS_PER_MUNICIPALITY / 2 - 1 {
            let (stop, worker) = workers.remove(1);
            stop.cancel();
            worker.wait().await.expect("the worker stops cleanly");
        }
    }
    assert_eq!(need_ids.len(), total);

    eventually(
        "the two workers left to take over every partition",
        WAIT,
        || async {
            let holders = partition_holders(&matching_db, ServiceName::Matching)
                .await
                .unwrap();
            let fair = holders.len() == 2 && holders[0] <= (partitions + 1) / 2;
            (fair && holders.iter().sum::<i64>() == partitions).then_some(())
        },
    )
    .await;

    // Every need decided; exactly once each, as the published decisions show.
    eventually("every need to be decided", WAIT, || async {
        let decided: i64 =
            sqlx::query_scalar("SELECT count(*) FROM need WHERE status IN ('proposed', 'unmatched')")
                .fetch_one(&matching_db)
                .await
                .unwrap();
        (decided == total as i64).then_some(())
    })
    .await;
    let is_decision = |event: &&tsunagu_tests::TappedEvent| {
        matches!(event.routing_key.as_str(), "match.proposed" | "need.unmatched")
    };
    let mut events = tap
        .collect_until("a decision for every need", WAIT, |events| {
            events.iter().filter(is_decision).count() >= total
        })
        .await;
    // Whatever else matching would publish is in its outbox until confirmed: once that is
    // empty, the tap holds every decision there is.
    eventually("matching's outbox to be published", WAIT, || async {
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&matching_db)
            .await
            .unwrap();
        (waiting == 0).then_some(())
    })
    .await;
    events.extend(tap.drain().await);
    let mut decisions: HashMap<Uuid, Vec<String>> = HashMap::new();
    for event in events.iter().filter(is_decision) {
        let need_id: Uuid = event.payload()["need_id"].as_str().unwrap().parse().unwrap();
        decisions
            .entry(need_id)
            .or_default()
            .push(event.routing_key.clone());
    }
    for need_id in &need_ids {
        let decided = decisions.get(need_id).cloned().unwrap_or_default();
        assert_eq!(decided.len(), 1, "need {need_id} decided once: {decided:?}");
    }

    // Capacity: no resource over it, and all of it used (every need could use the
    // prefecture-wide resource, so the places taken are exactly the places offered).
    let over: Vec<(Uuid, i64, i32)> = sqlx::query_as(
        "SELECT r.id, count(p.id), r.capacity FROM resource r
         LEFT JOIN proposal p ON p.resource_id = r.id AND p.status IN ('awaiting_approval', 'proposed', 'accepted')
         GROUP BY r.id, r.capacity HAVING count(p.id) > r.capacity OR count(p.id) <> r.committed",
    )
    .fetch_all(&matching_db)
    .await
    .unwrap();
    assert!(over.is_empty(), "over capacity or miscounted: {over:?}");
    let proposed: i64 = sqlx::query_scalar("SELECT count(*) FROM proposal")
        .fetch_one(&matching_db)
        .await
        .unwrap();
    let offered = i64::from(LOCAL_CAPACITY) * MUNICIPALITIES as i64 + i64::from(PREFECTURE_WIDE_CAPACITY);
    assert_eq!(proposed, offered);
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT need_id FROM proposal GROUP BY need_id HAVING count(*) > 1) AS t",
    )
    .fetch_one(&matching_db)
    .await
    .unwrap();
    assert_eq!(twice, 0, "no need got two proposals");

    // Order: each municipality's needs were handled by matching in the order intake published
    // them (one at a time per municipality: the submissions of a round follow the last one's),
    // whichever worker held the partition, the stopped one included.
    let intake_db = system.database(ServiceName::Intake).await;
    let published: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, municipality_code FROM outbox WHERE event_type = 'need.submitted' ORDER BY created_at, id",
    )
    .fetch_all(&intake_db)
    .await
    .unwrap();
    let handled: Vec<Uuid> = sqlx::query_scalar(
        "SELECT message_id FROM inbox WHERE event_type = 'need.submitted' ORDER BY received_at, message_id",
    )
    .fetch_all(&matching_db)
    .await
    .unwrap();
    assert_eq!(handled.len(), total, "each need.submitted handled once");
    let position: HashMap<Uuid, usize> = handled.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    for municipality in &municipalities {
        let in_order: Vec<usize> = published
            .iter()
            .filter(|(_, code)| *code == municipality.code)
            .map(|(id, _)| position[id])
            .collect();
        assert_eq!(in_order.len(), NEEDS_PER_MUNICIPALITY);
        assert!(
            in_order.is_sorted(),
            "{} handled out of publication order: {in_order:?}",
            municipality.code
        );
    }
    intake_db.close().await;

    tap.close().await;
    for (stop, worker) in workers {
        stop.cancel();
        worker.wait().await.expect("the worker stops cleanly");
    }
    matching_db.close().await;
    Arc::into_inner(system)
        .expect("no submission holds the system")
        .shutdown()
        .await;
}

/// Lowering the partition count, and upgrading from the single queue matching had before it
/// was partitioned: the workers of the new layout drain what the old layout's queues hold
/// before they take partitions, delete those queues, and every need is decided once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_layout_drains_the_queues_of_the_old_one() {
    const NEW_PARTITIONS: u16 = 4;
    let system = TestSystem::start_with(Options {
        seed_official_areas: true,
        without: vec![ServiceName::Matching],
        ..Options::default()
    })
    .await;
    let old_partitions = system.config.matching_partitions;
    assert!(old_partitions > NEW_PARTITIONS);
    let topology = Topology::from_config(&system.config);
    let broker = amqp::connect(RABBITMQ_URL, "tsunagu-test-old-layout")
        .await
        .expect("broker");
    let channel = broker.create_channel().await.unwrap();
    // The queue matching had before partitioning, bound as it was (needs only, here).
    let legacy = topology.queue(ServiceName::Matching);
    channel
        .queue_declare(
            legacy.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            legacy.as_str().into(),
            topology.events_exchange().as_str().into(),
            "need.submitted".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    // With no matching running, the old layout's queues fill: registry and intake events of
    // twenty municipalities over the old partitions, and copies of the needs in the legacy queue.
    let municipalities = municipalities(&system, MUNICIPALITIES).await;
    for municipality in &municipalities {
        create_resource(&system, municipality, &municipality.area_id, LOCAL_CAPACITY).await;
    }
    let mut need_ids = Vec::new();
    for round in 0..2 {
        for municipality in &municipalities {
            let request_id = format!("layout-{}-{round}", municipality.code);
            need_ids.push(submit(&system, &request_id, municipality).await);
        }
    }
    let waiting_in = |queue: String| {
        let broker = &broker;
        async move {
            let probe = broker.create_channel().await.unwrap();
            let declared = probe
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .ok();
            let _ = probe.close(200, "probe".into()).await;
            declared.map(|queue| queue.message_count())
        }
    };
    eventually("the old queues to hold the needs", WAIT, || async {
        let mut retired = 0;
        for partition in NEW_PARTITIONS..old_partitions {
            retired += waiting_in(topology.partition_queue(ServiceName::Matching, partition))
                .await
                .unwrap_or(0);
        }
        let legacy_held = waiting_in(legacy.clone()).await.unwrap_or(0);
        (retired > 0 && legacy_held as usize == need_ids.len()).then_some(())
    })
    .await;

    // The new layout: fewer partitions.
    let mut config = (*system.config).clone();
    config.matching_partitions = NEW_PARTITIONS;
    let stop = CancellationToken::new();
    let worker = tsunagu_matching::start(Arc::new(config), stop.clone())
        .await
        .expect("matching worker starts");
    let matching_db = system.database(ServiceName::Matching).await;
    eventually("every need proposed", WAIT, || async {
        let proposed: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT need_id) FROM proposal WHERE status IN ('proposed', 'awaiting_approval')",
        )
        .fetch_one(&matching_db)
        .await
        .unwrap();
        (proposed == need_ids.len() as i64).then_some(())
    })
    .await;
    let proposals: i64 = sqlx::query_scalar("SELECT count(*) FROM proposal")
        .fetch_one(&matching_db)
        .await
        .unwrap();
    assert_eq!(proposals, need_ids.len() as i64, "one proposal per need");
    for partition in NEW_PARTITIONS..old_partitions {
        let queue = topology.partition_queue(ServiceName::Matching, partition);
        assert_eq!(waiting_in(queue.clone()).await, None, "{queue} deleted");
    }
    assert_eq!(waiting_in(legacy.clone()).await, None, "the legacy queue deleted");
    for partition in 0..NEW_PARTITIONS {
        let queue = topology.partition_queue(ServiceName::Matching, partition);
        assert!(waiting_in(queue.clone()).await.is_some(), "{queue} kept");
    }

    // The new layout carries new needs.
    let late = submit(&system, "layout-late", &municipalities[3]).await;
    eventually("the late need proposed", WAIT, || async {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM need WHERE id = $1")
            .bind(late)
            .fetch_optional(&matching_db)
            .await
            .unwrap();
        (status.as_deref() == Some("proposed")).then_some(())
    })
    .await;

    let _ = broker.close(200, "done".into()).await;
    stop.cancel();
    worker.wait().await.expect("the worker stops cleanly");
    matching_db.close().await;
    system.shutdown().await;
}

async fn area_by_code(system: &TestSystem, code: &str) -> registry_pb::Area {
    system
        .registry()
        .get_area(registry_pb::GetAreaRequest {
            id: String::new(),
            code: code.into(),
        })
        .await
        .unwrap_or_else(|status| panic!("area {code}: {status:?}"))
        .into_inner()
        .area
        .unwrap()
}

/// The first `count` municipalities of 岐阜県 from the official list the registry seeded.
async fn municipalities(system: &TestSystem, count: usize) -> Vec<Municipality> {
    let prefecture = area_by_code(system, PREFECTURE).await;
    let areas = system
        .registry()
        .list_areas(registry_pb::ListAreasRequest {
            parent_id: prefecture.id,
            page: Some(tsunagu_proto::common::v1::PageRequest {
                page_size: 100,
                ..Default::default()
            }),
        })
        .await
        .expect("list the prefecture's municipalities")
        .into_inner()
        .areas;
    assert!(areas.len() >= count, "岐阜県 has {} municipalities", areas.len());
    let mut municipalities = Vec::new();
    for area in areas.into_iter().take(count) {
        let daily_life_area_id = system
            .registry()
            .create_area(registry_pb::CreateAreaRequest {
                kind: registry_pb::AreaKind::DailyLifeArea.into(),
                name: "中央圏域".into(),
                parent_id: area.id.clone(),
                ..Default::default()
            })
            .await
            .expect("a daily-life area")
            .into_inner()
            .area
            .unwrap()
            .id;
        municipalities.push(Municipality {
            key: system.key(Role::Integration, &area.code, None).await,
            code: area.code,
            area_id: area.id,
            daily_life_area_id,
        });
    }
    // The official list's 1,788 areas reach intake ahead of these: wait until intake knows
    // each one. The probe names an unknown category, so nothing is written; intake names the
    // area too while it does not know it yet.
    for municipality in &municipalities {
        eventually("intake knows the daily-life area", WAIT, || async {
            let refused =
                IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, &municipality.key))
                    .submit_need(intake_pb::SubmitNeedRequest {
                        request_id: "probe".into(),
                        municipality_code: municipality.code.clone(),
                        area_id: municipality.daily_life_area_id.clone(),
                        category: "存在しない分類".into(),
                        ..Default::default()
                    })
                    .await
                    .expect_err("an unknown category is refused");
            (!refused.message().contains("area_id")).then_some(())
        })
        .await;
    }
    municipalities
}

async fn create_resource(
    system: &TestSystem,
    municipality: &Municipality,
    coverage: &str,
    capacity: u32,
) -> String {
    let mut registry = system.registry();
    let organization = registry
        .create_organization(registry_pb::CreateOrganizationRequest {
            municipality_code: municipality.code.clone(),
            name: format!("ささえあいの会 {}", municipality.code),
            name_kana: "ササエアイノカイ".into(),
            kind: registry_pb::OrganizationKind::Npo.into(),
            area_ids: vec![municipality.area_id.clone()],
            ..Default::default()
        })
        .await
        .expect("organization")
        .into_inner()
        .organization
        .unwrap();
    let mut request = new_resource(
        &organization.id,
        "ゴミ出し支え隊",
        "ゴミ出し",
        &[coverage],
        capacity,
    );
    request.resource.as_mut().unwrap().municipality_code = municipality.code.clone();
    registry
        .create_resource(request)
        .await
        .expect("resource")
        .into_inner()
        .resource
        .unwrap()
        .id
}

async fn submit(system: &TestSystem, request_id: &str, municipality: &Municipality) -> Uuid {
    let need = IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, &municipality.key))
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: request_id.into(),
            municipality_code: municipality.code.clone(),
            area_id: municipality.daily_life_area_id.clone(),
            category: "ゴミ出し".into(),
            urgency: intake_pb::Urgency::Routine.into(),
            consent: Some(consent_to_share()),
            ..Default::default()
        })
        .await
        .expect("need accepted")
        .into_inner()
        .need
        .unwrap();
    need.id.parse().unwrap()
}
