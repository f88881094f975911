//! The need lifecycle, after the referral vocabulary of domain.md §8 (HL7 FHIR SDOH
//! referrals): which status may follow which, what a transition must carry (a reason, an
//! outcome), and what a coordinator is told when it may not happen. Pure: no I/O.

use std::fmt;

/// Where a need stands. The first seven follow each other in the usual course; on-hold pauses
/// it; completed, cancelled and failed close it (a closed need can be reopened);
/// entered-in-error withdraws a record made by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeedStatus {
    Draft,
    Submitted,
    Matching,
    Proposed,
    Accepted,
    InProgress,
    OnHold,
    Completed,
    Cancelled,
    Failed,
    EnteredInError,
}

impl NeedStatus {
    pub const ALL: [NeedStatus; 11] = [
        NeedStatus::Draft,
        NeedStatus::Submitted,
        NeedStatus::Matching,
        NeedStatus::Proposed,
        NeedStatus::Accepted,
        NeedStatus::InProgress,
        NeedStatus::OnHold,
        NeedStatus::Completed,
        NeedStatus::Cancelled,
        NeedStatus::Failed,
        NeedStatus::EnteredInError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NeedStatus::Draft => "draft",
            NeedStatus::Submitted => "submitted",
            NeedStatus::Matching => "matching",
            NeedStatus::Proposed => "proposed",
            NeedStatus::Accepted => "accepted",
            NeedStatus::InProgress => "in_progress",
            NeedStatus::OnHold => "on_hold",
            NeedStatus::Completed => "completed",
            NeedStatus::Cancelled => "cancelled",
            NeedStatus::Failed => "failed",
            NeedStatus::EnteredInError => "entered_in_error",
        }
    }

    pub fn parse(stored: &str) -> Option<NeedStatus> {
        NeedStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == stored)
    }

    /// The word a coordinator reads.
    pub fn label(self) -> &'static str {
        match self {
            NeedStatus::Draft => "下書き",
            NeedStatus::Submitted => "受付済み",
            NeedStatus::Matching => "マッチング中",
            NeedStatus::Proposed => "提案中",
            NeedStatus::Accepted => "受諾済み",
            NeedStatus::InProgress => "支援中",
            NeedStatus::OnHold => "保留",
            NeedStatus::Completed => "完了",
            NeedStatus::Cancelled => "取り消し",
            NeedStatus::Failed => "支援できず",
            NeedStatus::EnteredInError => "誤登録",
        }
    }

    /// Completed, cancelled and failed: the need has an outcome and waits for nothing.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            NeedStatus::Completed | NeedStatus::Cancelled | NeedStatus::Failed
        )
    }

    /// The statuses that may follow this one. Entered-in-error may follow any status but
    /// itself; a closed need reopens as submitted.
    pub fn next(self) -> &'static [NeedStatus] {
        use NeedStatus::*;
        match self {
            Draft => &[Submitted, Cancelled, EnteredInError],
            Submitted => &[Matching, Proposed, OnHold, Cancelled, EnteredInError],
            // Matching may find nothing (failed: no capacity) or be paused.
            Matching => &[Proposed, OnHold, Cancelled, Failed, EnteredInError],
            // A rejected proposal goes back to matching, which excludes what was rejected.
            Proposed => &[Accepted, Matching, OnHold, Cancelled, Failed, EnteredInError],
            Accepted => &[InProgress, OnHold, Cancelled, Failed, EnteredInError],
            InProgress => &[Completed, OnHold, Cancelled, Failed, EnteredInError],
            OnHold => &[Submitted, Matching, InProgress, Cancelled, Failed, EnteredInError],
            Completed | Cancelled | Failed => &[Submitted, EnteredInError],
            EnteredInError => &[],
        }
    }

    fn needs_reason(self) -> bool {
        matches!(
            self,
            NeedStatus::Cancelled | NeedStatus::OnHold | NeedStatus::Failed | NeedStatus::EnteredInError
        )
    }
}

impl fmt::Display for NeedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}（{}）", self.label(), self.as_str())
    }
}

/// How a need ended (domain.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    GotHelp,
    NoCapacity,
    NotEligible,
    CouldNotContact,
    NoLongerNeeded,
    ReferredElsewhere,
    Declined,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::GotHelp,
        Outcome::NoCapacity,
        Outcome::NotEligible,
        Outcome::CouldNotContact,
        Outcome::NoLongerNeeded,
        Outcome::ReferredElsewhere,
        Outcome::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::GotHelp => "got_help",
            Outcome::NoCapacity => "no_capacity",
            Outcome::NotEligible => "not_eligible",
            Outcome::CouldNotContact => "could_not_contact",
            Outcome::NoLongerNeeded => "no_longer_needed",
            Outcome::ReferredElsewhere => "referred_elsewhere",
            Outcome::Declined => "declined",
        }
    }

    pub fn parse(stored: &str) -> Option<Outcome> {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == stored)
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::GotHelp => "支援を受けられた",
            Outcome::NoCapacity => "受け入れ先に空きがない",
            Outcome::NotEligible => "対象外",
            Outcome::CouldNotContact => "連絡がとれない",
            Outcome::NoLongerNeeded => "不要になった",
            Outcome::ReferredElsewhere => "他機関へつないだ",
            Outcome::Declined => "本人が辞退",
        }
    }

    /// The outcomes that fit a closing status: a completed need got help (or was handed on),
    /// a failed one found no help, a cancelled one stopped for the person's reasons.
    fn fits(self, status: NeedStatus) -> bool {
        use Outcome::*;
        match status {
            NeedStatus::Completed => matches!(self, GotHelp | ReferredElsewhere),
            NeedStatus::Failed => matches!(self, NoCapacity | NotEligible | CouldNotContact),
            NeedStatus::Cancelled => {
                matches!(
                    self,
                    NoLongerNeeded | Declined | ReferredElsewhere | CouldNotContact | NotEligible
                )
            }
            _ => false,
        }
    }
}

/// A requested transition, as parsed from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub to: NeedStatus,
    pub reason: String,
    pub outcome: Option<Outcome>,
}

/// Why a transition may not happen. `Illegal` is a precondition failure (the need is in the
/// wrong status); the others are bad input, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    Illegal(String),
    Field { field: &'static str, reason: String },
}

/// Checks `transition` from `current`.
pub fn check(current: NeedStatus, transition: &Transition) -> Result<(), Vec<TransitionError>> {
    let to = transition.to;
    if !current.next().contains(&to) {
        let allowed: Vec<String> = current
            .next()
            .iter()
            .map(|status| status.label().to_string())
            .collect();
        let allowed = if allowed.is_empty() {
            "なし".to_string()
        } else {
            allowed.join("、")
        };
        return Err(vec![TransitionError::Illegal(format!(
            "このニーズは「{current}」です。ここから「{}」には進めません（進める状態: {allowed}） / \
             a need in status {} cannot move to {}",
            to.label(),
            current.as_str(),
            to.as_str()
        ))]);
    }
    let mut problems = Vec::new();
    let reopening = current.is_closed() && to == NeedStatus::Submitted;
    if (to.needs_reason() || reopening) && transition.reason.trim().is_empty() {
        problems.push(TransitionError::Field {
            field: "reason",
            reason: format!(
                "「{}」にするには理由を入力してください / a reason is required",
                to.label()
            ),
        });
    }
    match (to.is_closed(), transition.outcome) {
        (true, None) => {
            let fitting: Vec<&str> = Outcome::ALL.iter().filter(|o| o.fits(to)).map(|o| o.label()).collect();
            problems.push(TransitionError::Field {
                field: "outcome",
                reason: format!(
                    "「{}」にするには結果を選んでください（{}） / an outcome is required to close a need",
                    to.label(),
                    fitting.join("、")
                ),
            });
        }
        (true, Some(outcome)) if !outcome.fits(to) => problems.push(TransitionError::Field {
            field: "outcome",
            reason: format!(
                "結果「{}」は「{}」に合いません / the outcome does not fit the status",
                outcome.label(),
                to.label()
            ),
        }),
        (false, Some(_)) => problems.push(TransitionError::Field {
            field: "outcome",
            reason: "結果はニーズを閉じるとき（完了・取り消し・支援できず）だけ指定します / an outcome is only given when closing"
                .into(),
        }),
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(to: NeedStatus, reason: &str, outcome: Option<Outcome>) -> Transition {
        Transition {
            to,
            reason: reason.into(),
            outcome,
        }
    }

    #[test]
    fn the_usual_course_is_allowed() {
        use NeedStatus::*;
        let path = [Draft, Submitted, Matching, Proposed, Accepted, InProgress];
        for pair in path.windows(2) {
            assert_eq!(
                check(pair[0], &to(pair[1], "", None)),
                Ok(()),
                "{:?} → {:?}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(
            check(InProgress, &to(Completed, "", Some(Outcome::GotHelp))),
            Ok(())
        );
    }

    #[test]
    fn an_illegal_step_names_the_current_status_and_the_way_on() {
        let errors = check(
            NeedStatus::Submitted,
            &to(NeedStatus::Completed, "", Some(Outcome::GotHelp)),
        )
        .unwrap_err();
        let [TransitionError::Illegal(message)] = errors.as_slice() else {
            panic!("{errors:?}")
        };
        assert!(message.contains("受付済み（submitted）"), "{message}");
        assert!(message.contains("マッチング中"), "{message}");
    }

    #[test]
    fn pausing_cancelling_and_failing_need_a_reason_and_closing_an_outcome() {
        let errors = check(NeedStatus::Accepted, &to(NeedStatus::Cancelled, " ", None)).unwrap_err();
        let fields: Vec<&str> = errors
            .iter()
            .map(|e| match e {
                TransitionError::Field { field, .. } => *field,
                TransitionError::Illegal(_) => "illegal",
            })
            .collect();
        assert_eq!(fields, ["reason", "outcome"]);
        assert!(check(NeedStatus::Accepted, &to(NeedStatus::OnHold, "入院中", None)).is_ok());
        assert!(check(NeedStatus::Accepted, &to(NeedStatus::OnHold, "", None)).is_err());
    }

    #[test]
    fn outcomes_must_fit_the_closing_status() {
        assert!(
            check(
                NeedStatus::InProgress,
                &to(NeedStatus::Completed, "", Some(Outcome::NoCapacity))
            )
            .is_err()
        );
        assert!(
            check(
                NeedStatus::Matching,
                &to(NeedStatus::Failed, "空きなし", Some(Outcome::NoCapacity))
            )
            .is_ok()
        );
        assert!(
            check(
                NeedStatus::Submitted,
                &to(NeedStatus::Matching, "", Some(Outcome::GotHelp))
            )
            .is_err()
        );
    }

    #[test]
    fn a_closed_need_reopens_with_a_reason_and_entered_in_error_is_final() {
        assert!(
            check(
                NeedStatus::Completed,
                &to(NeedStatus::Submitted, "再び困りごと", None)
            )
            .is_ok()
        );
        assert!(check(NeedStatus::Completed, &to(NeedStatus::Submitted, "", None)).is_err());
        assert!(NeedStatus::EnteredInError.next().is_empty());
        for status in NeedStatus::ALL {
            if status != NeedStatus::EnteredInError {
                assert!(status.next().contains(&NeedStatus::EnteredInError), "{status:?}");
            }
        }
    }

    #[test]
    fn stored_names_round_trip() {
        for status in NeedStatus::ALL {
            assert_eq!(NeedStatus::parse(status.as_str()), Some(status));
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
    }
}
