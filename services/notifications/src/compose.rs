//! The text of notifications, in Japanese. Built from ids, categories and names of
//! organisations only: a notification never carries a resident's personal data.

use tsunagu_runtime::events::{MatchAnswered, MatchProposed, NeedUnmatched};
use tsunagu_runtime::taxonomy;

pub struct Text {
    pub title: String,
    pub body: String,
}

/// The category as a coordinator names it: the taxonomy's Japanese name, or the code of a
/// municipality's own category (which this service does not hold).
fn category_name(code: &str) -> &str {
    taxonomy::resolve_bundled(code).map_or(code, |entry| entry.name.as_str())
}

pub fn match_proposed(event: &MatchProposed, organization_name: &str) -> Text {
    let category = category_name(&event.category);
    let urgent = if event.urgency == "urgent" {
        "【至急】"
    } else {
        ""
    };
    Text {
        title: format!("{urgent}「{category}」の支援依頼の提案があります"),
        body: format!(
            "{organization_name} 様\n\n「{category}」の支援を必要とする方について、貴団体の地域資源（ID: {}）への提案が届きました。\n\
             内容をご確認のうえ、受諾またはお断りをご回答ください。\n\n提案ID: {}\nニーズID: {}",
            event.resource_id, event.proposal_id, event.need_id
        ),
    }
}

pub fn need_unmatched(event: &NeedUnmatched) -> Text {
    let category = category_name(&event.category);
    Text {
        title: format!("「{category}」のニーズに対応できる地域資源が見つかりません"),
        body: format!(
            "生活支援コーディネーター 各位\n\n「{category}」のニーズ（ID: {}）について、提案できる地域資源がありませんでした。\n\
             理由: {}\n\n協議体での資源開発の検討材料としてご活用ください。",
            event.need_id, event.reason
        ),
    }
}

/// To the municipality's coordinators: a proposal waits for their approval.
pub fn match_pending_approval(event: &MatchProposed, organization_name: &str) -> Text {
    let category = category_name(&event.category);
    Text {
        title: format!("「{category}」の提案が承認待ちです"),
        body: format!(
            "生活支援コーディネーター 各位\n\n「{category}」のニーズ（ID: {}）について、{organization_name} の地域資源\
             （ID: {}）への提案が承認を待っています。承認すると提供者に届きます。\n\n提案ID: {}",
            event.need_id, event.resource_id, event.proposal_id
        ),
    }
}

/// To the provider: a proposal it had is off (the need left matching).
pub fn match_withdrawn(event: &MatchAnswered, organization_name: &str) -> Text {
    let category = category_name(&event.category);
    Text {
        title: format!("「{category}」の提案は取り下げられました"),
        body: format!(
            "{organization_name} 様\n\n「{category}」の提案（ID: {}）は、{}取り下げられました。\
             この件へのご対応は不要です。\n\nニーズID: {}",
            event.proposal_id,
            withdrawal_cause(event.withdrawal.as_deref()),
            event.need_id
        ),
    }
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

/// To the municipality's coordinators: the provider answered, or did not in time.
pub fn match_answered(event_type: &str, event: &MatchAnswered, organization_name: &str) -> Text {
    let category = category_name(&event.category);
    let (what, next) = match event_type {
        tsunagu_runtime::events::MATCH_ACCEPTED => ("受諾しました", "支援の開始に向けて調整してください。"),
        tsunagu_runtime::events::MATCH_REJECTED => (
            "お断りしました",
            "ほかの地域資源で改めてマッチングしています（理由は提案の詳細をご覧ください）。",
        ),
        _ => (
            "期限までに回答しませんでした",
            "ほかの地域資源で改めてマッチングしています。",
        ),
    };
    Text {
        title: format!("「{category}」の提案を{organization_name}が{what}"),
        body: format!(
            "生活支援コーディネーター 各位\n\n「{category}」のニーズ（ID: {}）への提案（ID: {}）を、\
             {organization_name} が{what}。\n{next}",
            event.need_id, event.proposal_id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn proposal_text_names_the_organisation_and_marks_urgency() {
        let event = MatchProposed {
            proposal_id: Uuid::now_v7(),
            need_id: Uuid::now_v7(),
            municipality_code: "212024".into(),
            resource_id: Uuid::now_v7(),
            organization_id: Uuid::now_v7(),
            category: "ゴミ出し".into(),
            urgency: "urgent".into(),
        };
        let text = match_proposed(&event, "NPO法人つなぐ");
        assert!(text.title.starts_with("【至急】「ゴミ出し」"));
        assert!(text.body.starts_with("NPO法人つなぐ 様"));
        assert!(text.body.contains(&event.proposal_id.to_string()));
    }

    #[test]
    fn a_withdrawal_says_why() {
        let mut event = MatchAnswered {
            proposal_id: Uuid::now_v7(),
            need_id: Uuid::now_v7(),
            municipality_code: "212024".into(),
            resource_id: Uuid::now_v7(),
            organization_id: Uuid::now_v7(),
            category: "life.garbage".into(),
            withdrawal: None,
        };
        assert!(match_withdrawn(&event, "つなぐ").body.contains("ご本人の事情"));
        event.withdrawal = Some("resource_changed".into());
        let text = match_withdrawn(&event, "つなぐ");
        assert!(text.body.contains("登録内容"), "{}", text.body);
        assert!(!text.body.contains("ご本人の事情"));
    }

    #[test]
    fn answers_say_who_answered_what() {
        let event = MatchAnswered {
            proposal_id: Uuid::now_v7(),
            need_id: Uuid::now_v7(),
            municipality_code: "212024".into(),
            resource_id: Uuid::now_v7(),
            organization_id: Uuid::now_v7(),
            category: "life.garbage".into(),
            withdrawal: None,
        };
        let text = match_answered(tsunagu_runtime::events::MATCH_REJECTED, &event, "NPO法人つなぐ");
        assert!(
            text.title.contains("NPO法人つなぐが") && text.title.contains("お断り"),
            "{}",
            text.title
        );
        let text = match_answered(tsunagu_runtime::events::MATCH_EXPIRED, &event, "NPO法人つなぐ");
        assert!(text.title.contains("期限"), "{}", text.title);
        let text = match_withdrawn(&event, "NPO法人つなぐ");
        assert!(
            text.title.contains("「ゴミ出し」") && text.title.contains("取り下げ"),
            "{}",
            text.title
        );
        assert!(text.body.starts_with("NPO法人つなぐ 様"));
    }
}
