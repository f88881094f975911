//! The templates Tsunagu ships (version 1 of every key), Japanese first, English as the
//! fallback for subscribers who asked for it. An operator adds newer versions over gRPC.

/// (key, Japanese subject, Japanese body, English subject, English body).
pub type Bundled = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

pub const BUNDLED: &[Bundled] = &[
    (
        "match.proposed:organization",
        "{{urgent_mark}}「{{category}}」の支援依頼の提案があります",
        "{{organization}} 様\n\n「{{category}}」の支援を必要とする方について、貴団体の地域資源（ID: {{resource_id}}）への提案が届きました。\n内容をご確認のうえ、受諾またはお断りをご回答ください。\n\n提案ID: {{proposal_id}}\nニーズID: {{need_id}}",
        "{{urgent_mark}}A request for \"{{category}}\" was proposed to you",
        "To {{organization}}\n\nA resident who needs \"{{category}}\" was proposed to your resource (ID: {{resource_id}}).\nPlease accept or decline the proposal.\n\nProposal: {{proposal_id}}\nNeed: {{need_id}}",
    ),
    (
        "match.withdrawn:organization",
        "「{{category}}」の提案は取り下げられました",
        "{{organization}} 様\n\n「{{category}}」の提案（ID: {{proposal_id}}）は、{{withdrawal_cause}}取り下げられました。この件へのご対応は不要です。\n\nニーズID: {{need_id}}",
        "The proposal for \"{{category}}\" was withdrawn",
        "To {{organization}}\n\nThe proposal {{proposal_id}} was withdrawn ({{withdrawal_cause}}). Nothing more is needed from you.\n\nNeed: {{need_id}}",
    ),
    (
        "match.pending_approval:coordinators",
        "「{{category}}」の提案が承認待ちです",
        "生活支援コーディネーター 各位\n\n「{{category}}」のニーズ（ID: {{need_id}}）について、{{organization}} の地域資源（ID: {{resource_id}}）への提案が承認を待っています。承認すると提供者に届きます。\n\n提案ID: {{proposal_id}}",
        "A proposal for \"{{category}}\" awaits your approval",
        "To the coordinators\n\nThe proposal {{proposal_id}} of need {{need_id}} to {{organization}} (resource {{resource_id}}) awaits approval.",
    ),
    (
        "match.accepted:coordinators",
        "「{{category}}」の提案を{{organization}}が受諾しました",
        "生活支援コーディネーター 各位\n\n「{{category}}」のニーズ（ID: {{need_id}}）への提案（ID: {{proposal_id}}）を、{{organization}} が受諾しました。\n支援の開始に向けて調整してください。",
        "{{organization}} accepted the proposal for \"{{category}}\"",
        "To the coordinators\n\n{{organization}} accepted proposal {{proposal_id}} of need {{need_id}}. Please arrange the start of the support.",
    ),
    (
        "match.rejected:coordinators",
        "「{{category}}」の提案を{{organization}}がお断りしました",
        "生活支援コーディネーター 各位\n\n「{{category}}」のニーズ（ID: {{need_id}}）への提案（ID: {{proposal_id}}）を、{{organization}} がお断りしました。\nほかの地域資源で改めてマッチングしています（理由は提案の詳細をご覧ください）。",
        "{{organization}} declined the proposal for \"{{category}}\"",
        "To the coordinators\n\n{{organization}} declined proposal {{proposal_id}} of need {{need_id}}. Matching is looking for another resource.",
    ),
    (
        "match.expired:coordinators",
        "「{{category}}」の提案を{{organization}}が期限までに回答しませんでした",
        "生活支援コーディネーター 各位\n\n「{{category}}」のニーズ（ID: {{need_id}}）への提案（ID: {{proposal_id}}）を、{{organization}} が期限までに回答しませんでした。\nほかの地域資源で改めてマッチングしています。",
        "{{organization}} did not answer the proposal for \"{{category}}\" in time",
        "To the coordinators\n\nProposal {{proposal_id}} of need {{need_id}} expired unanswered. Matching is looking for another resource.",
    ),
    (
        "need.unmatched:coordinators",
        "{{urgent_mark}}「{{category}}」のニーズに対応できる地域資源が見つかりません",
        "生活支援コーディネーター 各位\n\n「{{category}}」のニーズ（ID: {{need_id}}）について、提案できる地域資源がありませんでした。\n理由: {{reason}}\n\n協議体での資源開発の検討材料としてご活用ください。",
        "{{urgent_mark}}No resource can serve a need for \"{{category}}\"",
        "To the coordinators\n\nNo resource could be proposed for need {{need_id}}.\nReason: {{reason}}",
    ),
    (
        "need.follow_up_due:coordinators",
        "ニーズ（ID: {{need_id}}）の状況確認をお願いします",
        "生活支援コーディネーター 各位\n\nニーズ（ID: {{need_id}}）は「{{status}}」のまま {{idle_since}} から動いていません。\n提供者や紹介元に状況をご確認ください。",
        "Please follow up need {{need_id}}",
        "To the coordinators\n\nNeed {{need_id}} has been \"{{status}}\" since {{idle_since}}. Please check with the provider or the referrer.",
    ),
    (
        "match.accepted:need",
        "ご依頼（ID: {{need_id}}）の支援先が決まりました",
        "ご依頼の「{{category}}」について、{{organization}} が支援をお引き受けしました。\n今後の進め方は、担当の生活支援コーディネーターからご連絡します。\n\nニーズID: {{need_id}}",
        "A provider was found for request {{need_id}}",
        "{{organization}} agreed to help with \"{{category}}\". The coordinator will contact you about the next steps.\n\nNeed: {{need_id}}",
    ),
    (
        "need.unmatched:need",
        "ご依頼（ID: {{need_id}}）の支援先を引き続き探しています",
        "ご依頼の「{{category}}」について、いまは対応できる地域資源が見つかっていません。\n担当の生活支援コーディネーターが引き続き検討しています。\n\nニーズID: {{need_id}}",
        "Still looking for help with request {{need_id}}",
        "No resource can take on \"{{category}}\" yet. The coordinator keeps looking.\n\nNeed: {{need_id}}",
    ),
    (
        "need.status_changed:need",
        "ご依頼（ID: {{need_id}}）の状況: {{status}}",
        "ご依頼の状況が「{{status}}」になりました。{{outcome}}\n\nニーズID: {{need_id}}",
        "Request {{need_id}}: {{status}}",
        "The request is now \"{{status}}\". {{outcome}}\n\nNeed: {{need_id}}",
    ),
    (
        "resource.verification_overdue:organization",
        "「{{category}}」の活動情報の確認をお願いします",
        "{{organization}} 様\n\n貴団体の「{{category}}」の活動（地域資源ID: {{resource_id}}）の登録内容が、{{freshness_days}}日以上確認されていません。\n活動の日時、受け入れの状況、連絡先などが今も正しいかご確認のうえ、変更の有無を生活支援コーディネーターにお知らせください。\n\n最終確認日: {{last_verified}}",
        "Please confirm your activity \"{{category}}\"",
        "To {{organization}}\n\nYour resource {{resource_id}} (\"{{category}}\") has not been verified for {{freshness_days}} days or more.\nPlease check that its schedule, availability and contact details are still right, and tell the coordinator whether anything changed.\n\nLast verified: {{last_verified}}",
    ),
    (
        "resource.verification_overdue:coordinators",
        "「{{category}}」の地域資源（{{organization}}）の確認時期です",
        "生活支援コーディネーター 各位\n\n{{organization}} の「{{category}}」の地域資源（ID: {{resource_id}}）の登録内容が、{{freshness_days}}日以上確認されていません。\n提供者に活動の状況をご確認のうえ、確認したことを記録してください。\n\n最終確認日: {{last_verified}}",
        "The resource \"{{category}}\" of {{organization}} is due for verification",
        "To the coordinators\n\nResource {{resource_id}} (\"{{category}}\") of {{organization}} has not been verified for {{freshness_days}} days or more. Please check with the provider and record the verification.\n\nLast verified: {{last_verified}}",
    ),
    (
        "resource.verification_overdue:municipality",
        "[Tsunagu] {{event_type}} {{resource_id}}",
        "市区町村コード {{municipality_code}} の地域資源（ID: {{resource_id}}、「{{category}}」、{{organization}}）の登録内容が、{{freshness_days}}日以上確認されていません。\n最終確認日: {{last_verified}}",
        "[Tsunagu] {{event_type}} {{resource_id}}",
        "Resource {{resource_id}} (\"{{category}}\", {{organization}}) of municipality {{municipality_code}} has not been verified for {{freshness_days}} days or more.\nLast verified: {{last_verified}}",
    ),
    (
        "event:municipality",
        "[Tsunagu] {{event_type}} {{need_id}}",
        "市区町村コード {{municipality_code}} のニーズ（ID: {{need_id}}）について「{{event_type}}」がありました。\n状況: {{status}}\n提案ID: {{proposal_id}}",
        "[Tsunagu] {{event_type}} {{need_id}}",
        "Event \"{{event_type}}\" about need {{need_id}} of municipality {{municipality_code}}.\nStatus: {{status}}\nProposal: {{proposal_id}}",
    ),
    (
        "digest",
        "Tsunagu 本日のお知らせ（{{count}}件）",
        "{{subscriber_name}} 様\n\n前回のお知らせ以降の {{count}} 件です。\n\n{{items}}",
        "Tsunagu digest ({{count}} items)",
        "To {{subscriber_name}}\n\n{{count}} items since the last digest.\n\n{{items}}",
    ),
];
