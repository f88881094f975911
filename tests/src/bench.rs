//! What the benchmarks (`tests/benches/`) share: their settings from the environment and the
//! need they submit.

use anyhow::Context;
use tsunagu_proto::common::v1 as common_pb;
use tsunagu_proto::intake::v1 as pb;

use crate::{MUNICIPALITY, consent_to_share};

/// The whole number in the environment variable `name`, or `default` when it is unset.
pub fn setting(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("{name} must be a whole number")),
        Err(_) => Ok(default),
    }
}

/// A need as a care manager sends it: ゴミ出し on Tuesday mornings, weekly, 要支援1, with
/// consent to share it with providers.
pub fn need_request(area_id: &str, request_id: String) -> pb::SubmitNeedRequest {
    pb::SubmitNeedRequest {
        request_id,
        municipality_code: MUNICIPALITY.into(),
        area_id: area_id.into(),
        category: "ゴミ出し".into(),
        details: Some(pb::NeedDetails {
            time_windows: vec![common_pb::TimeWindow {
                weekday: common_pb::Weekday::Tuesday.into(),
                start_minute: 540,
                end_minute: 720,
            }],
            frequency: Some(pb::Frequency {
                times: 1,
                per: pb::FrequencyUnit::Week.into(),
            }),
            eligibility: pb::Eligibility::Support1.into(),
            ..Default::default()
        }),
        channel: pb::ReferralChannel::CareManager.into(),
        consent: Some(consent_to_share()),
        ..Default::default()
    }
}
