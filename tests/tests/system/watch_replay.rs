//! A resumed `WatchNeed` replays every version it missed exactly as a live watch sent it
//! (issue 17): each message carries the need as it was at that version (its consent too), with
//! the status change where the version was one; nothing is skipped, relabelled or sent twice.

use tokio_stream::StreamExt;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_tests::{Fixture, TestSystem};

use crate::support::{WAIT, submit_unshared};

type Updates = tonic::Streaming<pb::WatchNeedResponse>;

async fn next_update(stream: &mut Updates) -> pb::WatchNeedResponse {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("an update within the deadline")
        .expect("the stream is open")
        .expect("no error")
}

async fn watch(system: &TestSystem, need_id: &str, after_version: i64) -> Updates {
    system
        .intake()
        .watch_need(pb::WatchNeedRequest {
            need_id: need_id.into(),
            after_version,
        })
        .await
        .unwrap()
        .into_inner()
}

fn version_of(update: &pb::WatchNeedResponse) -> i64 {
    update.need.as_ref().expect("a need in every update").version
}

fn edit(need: pb::Need, path: &str) -> pb::UpdateNeedRequest {
    pb::UpdateNeedRequest {
        need: Some(need),
        update_mask: Some(prost_types::FieldMask {
            paths: vec![path.into()],
        }),
        reason: "聞き取りの結果".into(),
        changed_by: "SC 佐藤".into(),
        ..Default::default()
    }
}

fn step(need_id: &str, to: pb::NeedStatus, reason: &str) -> pb::TransitionNeedRequest {
    pb::TransitionNeedRequest {
        need_id: need_id.into(),
        to: to.into(),
        reason: reason.into(),
        changed_by: "SC 佐藤".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_watch_replays_each_missed_version_as_the_live_watch_sent_it() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let need = submit_unshared(&system, "replay-1", &fixture.daily_life_area_id, "見守り").await;
    assert_eq!(need.version, 1);
    let mut intake = system.intake();
    let mut live = watch(&system, &need.id, 0).await;
    assert_eq!(version_of(&next_update(&mut live).await), 1);

    // v2 on hold, v3 an urgency edit, v4 a frequency edit, v5 a consent: the live watch gets
    // each one as it happens.
    let mut received = Vec::new();
    intake
        .transition_need(step(&need.id, pb::NeedStatus::OnHold, "入院のため"))
        .await
        .unwrap();
    received.push(next_update(&mut live).await);
    intake
        .update_need(edit(
            pb::Need {
                id: need.id.clone(),
                urgency: pb::Urgency::Urgent.into(),
                ..Default::default()
            },
            "urgency",
        ))
        .await
        .unwrap();
    received.push(next_update(&mut live).await);
    intake
        .update_need(edit(
            pb::Need {
                id: need.id.clone(),
                details: Some(pb::NeedDetails {
                    frequency: Some(pb::Frequency {
                        times: 2,
                        per: pb::FrequencyUnit::Week.into(),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "details.frequency",
        ))
        .await
        .unwrap();
    received.push(next_update(&mut live).await);
    intake
        .record_consent(pb::RecordConsentRequest {
            need_id: need.id.clone(),
            consent: Some(pb::ConsentInput {
                given_by: pb::ConsentGiver::Resident.into(),
                method: pb::ConsentMethod::Written.into(),
                scopes: vec![pb::ConsentScope::ShareNeedWithProviders.into()],
                consented_at: None,
            }),
            recorded_by: "SC 佐藤".into(),
        })
        .await
        .unwrap();
    received.push(next_update(&mut live).await);

    // What the live watch saw: each version once, each as it was.
    let versions: Vec<i64> = received.iter().map(version_of).collect();
    assert_eq!(versions, [2, 3, 4, 5]);
    let [on_hold, urgent, weekly, consented] = &received[..] else {
        unreachable!()
    };
    let change = on_hold.status_change.as_ref().expect("v2 was a status change");
    assert_eq!(change.to(), pb::NeedStatus::OnHold);
    assert_eq!(change.version, 2);
    let as_of = |update: &pb::WatchNeedResponse| update.need.clone().unwrap();
    assert_eq!(as_of(on_hold).status(), pb::NeedStatus::OnHold);
    assert_eq!(as_of(on_hold).urgency(), pb::Urgency::Routine);
    assert!(urgent.status_change.is_none());
    assert_eq!(as_of(urgent).urgency(), pb::Urgency::Urgent);
    assert_eq!(as_of(urgent).details.unwrap().frequency, None);
    assert!(weekly.status_change.is_none());
    assert_eq!(as_of(weekly).details.unwrap().frequency.unwrap().times, 2);
    assert!(as_of(weekly).consent.is_none());
    assert!(as_of(consented).consent.is_some());

    // Resumed from 1, 2, 3 and 4: exactly the live messages after that version, in order.
    let mut resumed = Vec::new();
    for after in 1..=4 {
        let mut stream = watch(&system, &need.id, after).await;
        for expected in &received[(after - 1) as usize..] {
            let got = next_update(&mut stream).await;
            assert_eq!(
                got,
                *expected,
                "resumed after version {after}: version {} as the live watch sent it",
                version_of(expected)
            );
        }
        resumed.push(stream);
    }

    // Nothing is sent twice: the next message on every stream, live or resumed, is the next
    // version (withdrawing the consent; the consent the replay showed for v5 stays as it was).
    intake
        .withdraw_consent(pb::WithdrawConsentRequest {
            need_id: need.id.clone(),
            withdrawn_by: "SC 佐藤".into(),
            reason: "本人の申し出".into(),
        })
        .await
        .unwrap();
    let next = next_update(&mut live).await;
    assert_eq!(version_of(&next), 6);
    assert!(as_of(&next).consent.is_none());
    for stream in &mut resumed {
        assert_eq!(next_update(stream).await, next);
    }
    let mut again = watch(&system, &need.id, 4).await;
    let replayed = next_update(&mut again).await;
    assert_eq!(replayed, *consented);
    assert!(as_of(&replayed).consent.unwrap().withdrawn_at.is_none());

    drop((live, resumed, again));
    system.shutdown().await;
}
