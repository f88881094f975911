//! What an event says, and to whom: the event's ids and the variables of its templates
//! (never a resident's personal data), and its audiences — the provider, the municipality's
//! coordinators, the municipality's systems, the need's proxies. Most events are about a
//! need; a resource overdue for verification is about the registry's record, and has none.

use chrono::{DateTime, Utc};
use tsunagu_runtime::events::{
    MatchAnswered, MatchProposed, NeedFollowUpDue, NeedStatusChanged, NeedUnmatched,
    ResourceVerificationOverdue,
};
use tsunagu_runtime::{events, taxonomy};
use uuid::Uuid;

use crate::templates::Vars;

/// Who hears of an event. The inbox (in-app) exists for organisations and coordinators; the
/// other audiences are reached through subscriptions only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    Organization(String),
    Coordinators(String),
    Municipality(String),
    Need(String),
}

impl Audience {
    /// As stored in `recipient_kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Audience::Organization(_) => "organization",
            Audience::Coordinators(_) => "municipality_coordinators",
            Audience::Municipality(_) => "municipality",
            Audience::Need(_) => "need",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Audience::Organization(id)
            | Audience::Coordinators(id)
            | Audience::Municipality(id)
            | Audience::Need(id) => id,
        }
    }

    pub fn has_inbox(&self) -> bool {
        matches!(self, Audience::Organization(_) | Audience::Coordinators(_))
    }

    /// The template that speaks to this audience about `event_type`.
    pub fn template_key(&self, event_type: &str) -> String {
        match self {
            Audience::Organization(_) => format!("{event_type}:organization"),
            Audience::Coordinators(_) => format!("{event_type}:coordinators"),
            // The systems' generic template speaks of a need; an event about something else
            // brings its own.
            Audience::Municipality(_) => {
                let own = format!("{event_type}:municipality");
                if crate::templates::is_known(&own) {
                    own
                } else {
                    "event:municipality".to_string()
                }
            }
            Audience::Need(_) => format!("{event_type}:need"),
        }
    }

    pub fn from_stored(kind: &str, id: String) -> Option<Audience> {
        match kind {
            "organization" => Some(Audience::Organization(id)),
            "municipality_coordinators" => Some(Audience::Coordinators(id)),
            "municipality" => Some(Audience::Municipality(id)),
            "need" => Some(Audience::Need(id)),
            _ => None,
        }
    }
}

/// An event, as notifications tells it.
#[derive(Debug, Clone)]
pub struct Message {
    pub event_type: String,
    pub municipality_code: String,
    /// None for events that are not about a need (a resource overdue for verification).
    pub need_id: Option<Uuid>,
    pub proposal_id: Option<Uuid>,
    /// Known for proposals and unmatched needs; otherwise looked up from what an earlier
    /// event said (`need_context`).
    pub area_id: Option<Uuid>,
    /// The taxonomy code.
    pub category: String,
    pub urgent: bool,
    pub vars: Vars,
    pub audiences: Vec<Audience>,
    /// Set when the organisation's name must be looked up in the registry.
    pub organization_id: Option<Uuid>,
}

/// The category as a coordinator names it: the taxonomy's Japanese name, or the code of a
/// municipality's own category (which this service does not hold).
pub fn category_name(code: &str) -> String {
    taxonomy::resolve_bundled(code)
        .map_or(code, |entry| entry.name.as_str())
        .to_string()
}

impl Message {
    fn new(event_type: &str, municipality_code: &str, need_id: Uuid, category: Option<&str>) -> Message {
        let mut message = Message::about(event_type, municipality_code, category);
        message.need_id = Some(need_id);
        message.vars.insert("need_id", need_id.to_string());
        message
    }

    /// A message about no need in particular; the municipality's feed hears of it.
    fn about(event_type: &str, municipality_code: &str, category: Option<&str>) -> Message {
        let mut vars = Vars::new();
        vars.insert("event_type", event_type.to_string());
        vars.insert("municipality_code", municipality_code.to_string());
        if let Some(category) = category {
            vars.insert("category", category_name(category));
        }
        Message {
            event_type: event_type.to_string(),
            municipality_code: municipality_code.to_string(),
            need_id: None,
            proposal_id: None,
            area_id: None,
            category: category.unwrap_or_default().to_string(),
            urgent: false,
            vars,
            audiences: vec![Audience::Municipality(municipality_code.to_string())],
            organization_id: None,
        }
    }

    fn with_proposal(mut self, proposal_id: Uuid, resource_id: Uuid, organization_id: Uuid) -> Message {
        self.proposal_id = Some(proposal_id);
        self.organization_id = Some(organization_id);
        self.vars.insert("proposal_id", proposal_id.to_string());
        self.vars.insert("resource_id", resource_id.to_string());
        self
    }

    fn to(mut self, audience: Audience) -> Message {
        self.audiences.insert(0, audience);
        self
    }

    pub fn match_proposed(event_type: &str, event: &MatchProposed) -> Message {
        let urgent = event.urgency == "urgent";
        let mut message = Message::new(
            event_type,
            &event.municipality_code,
            event.need_id,
            Some(&event.category),
        )
        .with_proposal(event.proposal_id, event.resource_id, event.organization_id);
        message.urgent = urgent;
        message.area_id = event.area_id;
        message
            .vars
            .insert("urgent_mark", if urgent { "【至急】" } else { "" }.to_string());
        if event_type == events::MATCH_PENDING_APPROVAL {
            message.to(Audience::Coordinators(event.municipality_code.clone()))
        } else {
            message.to(Audience::Organization(event.organization_id.to_string()))
        }
    }

    pub fn match_answered(event_type: &str, event: &MatchAnswered) -> Message {
        let mut message = Message::new(
            event_type,
            &event.municipality_code,
            event.need_id,
            Some(&event.category),
        )
        .with_proposal(event.proposal_id, event.resource_id, event.organization_id);
        if event_type == events::MATCH_WITHDRAWN {
            message.vars.insert(
                "withdrawal_cause",
                withdrawal_cause(event.withdrawal.as_deref()).to_string(),
            );
            return message.to(Audience::Organization(event.organization_id.to_string()));
        }
        if event_type == events::MATCH_ACCEPTED {
            message.audiences.push(Audience::Need(event.need_id.to_string()));
        }
        message.to(Audience::Coordinators(event.municipality_code.clone()))
    }

    pub fn need_unmatched(event: &NeedUnmatched) -> Message {
        let mut message = Message::new(
            events::NEED_UNMATCHED,
            &event.municipality_code,
            event.need_id,
            Some(&event.category),
        );
        message.area_id = Some(event.area_id);
        message.urgent = event.urgency.as_deref() == Some("urgent");
        message.vars.insert(
            "urgent_mark",
            if message.urgent { "【至急】" } else { "" }.to_string(),
        );
        message.vars.insert("reason", event.reason.clone());
        message.audiences.push(Audience::Need(event.need_id.to_string()));
        message.to(Audience::Coordinators(event.municipality_code.clone()))
    }

    pub fn need_status_changed(event: &NeedStatusChanged) -> Message {
        let mut message = Message::new(
            events::NEED_STATUS_CHANGED,
            &event.municipality_code,
            event.need_id,
            None,
        );
        message.vars.insert("status", status_label(&event.to).to_string());
        message.vars.insert(
            "outcome",
            event
                .outcome
                .as_deref()
                .map(outcome_label)
                .unwrap_or("")
                .to_string(),
        );
        // Coordinators changed it themselves; the municipality's systems and the proxies hear.
        message.audiences.push(Audience::Need(event.need_id.to_string()));
        message
    }

    pub fn need_follow_up_due(event: &NeedFollowUpDue) -> Message {
        let mut message = Message::new(
            events::NEED_FOLLOW_UP_DUE,
            &event.municipality_code,
            event.need_id,
            None,
        );
        message
            .vars
            .insert("status", status_label(&event.status).to_string());
        message.vars.insert("idle_since", japanese_date(event.idle_since));
        message.to(Audience::Coordinators(event.municipality_code.clone()))
    }

    /// The provider is asked to confirm its resource is still as registered; the coordinators
    /// hear of it too, since they keep the municipality's resource map.
    pub fn resource_verification_overdue(event: &ResourceVerificationOverdue) -> Message {
        let mut message = Message::about(
            events::RESOURCE_VERIFICATION_OVERDUE,
            &event.municipality_code,
            Some(&event.category),
        );
        message.organization_id = Some(event.organization_id);
        message.vars.insert("resource_id", event.resource_id.to_string());
        message
            .vars
            .insert("last_verified", last_verified(event.last_verified_at));
        message
            .vars
            .insert("freshness_days", event.freshness_days.to_string());
        message
            .to(Audience::Coordinators(event.municipality_code.clone()))
            .to(Audience::Organization(event.organization_id.to_string()))
    }
}

/// A day as people in Japan write it, in Japan's time (UTC+9, no daylight saving).
fn japanese_date(at: DateTime<Utc>) -> String {
    (at + chrono::TimeDelta::hours(9))
        .format("%Y年%m月%d日")
        .to_string()
}

/// When the resource was last verified, or that it never was (it is overdue counted from its
/// registration).
fn last_verified(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "未確認".to_string(), japanese_date)
}

/// Why a proposal was taken back, as the provider reads it (the code matching sent).
fn withdrawal_cause(code: Option<&str>) -> &'static str {
    match code {
        Some("need_changed") => "ご依頼の内容が変わり、貴団体の条件に合わなくなったため",
        Some("need_on_hold") => "ご依頼が保留になったため",
        Some("resource_changed") => "貴団体の活動の登録内容（受け入れ・対象・日時など）が変わったため",
        _ => "ご本人の事情により",
    }
}

/// A need's status as a coordinator or a proxy reads it (intake's lifecycle words).
fn status_label(status: &str) -> &str {
    match status {
        "submitted" => "受付済み",
        "matching" => "マッチング中",
        "proposed" => "提案中",
        "accepted" => "受諾済み",
        "in_progress" => "支援中",
        "on_hold" => "保留",
        "completed" => "完了",
        "cancelled" => "取り消し",
        "failed" => "支援できず",
        "entered_in_error" => "誤登録",
        other => other,
    }
}

fn outcome_label(outcome: &str) -> &str {
    match outcome {
        "got_help" => "支援を受けられました。",
        "referred_elsewhere" => "他の機関におつなぎしました。",
        "no_longer_needed" => "支援は不要になりました。",
        "declined" => "ご本人が辞退されました。",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposed(urgency: &str) -> MatchProposed {
        MatchProposed {
            proposal_id: Uuid::now_v7(),
            need_id: Uuid::now_v7(),
            municipality_code: "212024".into(),
            resource_id: Uuid::now_v7(),
            organization_id: Uuid::now_v7(),
            category: "ゴミ出し".into(),
            urgency: urgency.into(),
            area_id: None,
        }
    }

    #[test]
    fn a_proposal_goes_to_the_provider_and_the_municipality_urgent_marked() {
        let event = proposed("urgent");
        let message = Message::match_proposed(events::MATCH_PROPOSED, &event);
        assert_eq!(
            message.audiences,
            [
                Audience::Organization(event.organization_id.to_string()),
                Audience::Municipality("212024".into())
            ]
        );
        assert!(message.urgent);
        assert_eq!(message.vars["urgent_mark"], "【至急】");
        assert_eq!(message.vars["category"], "ゴミ出し");
    }

    #[test]
    fn an_acceptance_reaches_the_proxies_and_a_withdrawal_says_why() {
        let event = MatchAnswered {
            proposal_id: Uuid::now_v7(),
            need_id: Uuid::now_v7(),
            municipality_code: "212024".into(),
            resource_id: Uuid::now_v7(),
            organization_id: Uuid::now_v7(),
            category: "life.garbage".into(),
            withdrawal: Some("resource_changed".into()),
        };
        let accepted = Message::match_answered(events::MATCH_ACCEPTED, &event);
        assert!(
            accepted
                .audiences
                .contains(&Audience::Need(event.need_id.to_string()))
        );
        let withdrawn = Message::match_answered(events::MATCH_WITHDRAWN, &event);
        assert!(withdrawn.vars["withdrawal_cause"].contains("登録内容"));
        assert_eq!(
            withdrawn.audiences[0],
            Audience::Organization(event.organization_id.to_string())
        );
    }

    fn overdue(last_verified_at: Option<DateTime<Utc>>) -> ResourceVerificationOverdue {
        ResourceVerificationOverdue {
            resource_id: Uuid::now_v7(),
            municipality_code: "212024".into(),
            organization_id: Uuid::now_v7(),
            category: "life.garbage".into(),
            last_verified_at,
            freshness_days: 180,
        }
    }

    #[test]
    fn an_overdue_verification_asks_the_provider_and_tells_the_coordinators() {
        // 2025-03-31 20:00 UTC is already 1 April in Japan.
        let verified = "2025-03-31T20:00:00Z".parse().unwrap();
        let event = overdue(Some(verified));
        let message = Message::resource_verification_overdue(&event);
        assert_eq!(
            message.audiences,
            [
                Audience::Organization(event.organization_id.to_string()),
                Audience::Coordinators("212024".into()),
                Audience::Municipality("212024".into()),
            ]
        );
        assert_eq!(message.need_id, None);
        assert!(!message.vars.contains_key("need_id"));
        assert_eq!(message.organization_id, Some(event.organization_id));
        assert_eq!(message.vars["resource_id"], event.resource_id.to_string());
        assert_eq!(message.vars["last_verified"], "2025年04月01日");
        assert_eq!(message.vars["freshness_days"], "180");
        assert_eq!(message.category, "life.garbage");
        assert_ne!(message.vars["category"], "life.garbage", "named, not coded");

        let never = Message::resource_verification_overdue(&overdue(None));
        assert_eq!(never.vars["last_verified"], "未確認");
    }

    #[test]
    fn the_municipality_feed_takes_an_events_own_template_where_there_is_one() {
        let feed = Audience::Municipality("212024".into());
        assert_eq!(
            feed.template_key(events::RESOURCE_VERIFICATION_OVERDUE),
            "resource.verification_overdue:municipality"
        );
        assert_eq!(feed.template_key(events::MATCH_PROPOSED), "event:municipality");
    }
}
