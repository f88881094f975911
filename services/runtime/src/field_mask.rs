//! Partial updates: which fields an `Update*` call touches, from its `update_mask`.
//!
//! An empty mask is refused rather than read as "replace everything" (AIP-134 allows both):
//! coordinators' tools send partial objects, and a forgotten mask must not blank a record.

use std::collections::BTreeSet;

use crate::error::{ServiceError, ServiceResult, Violations};

/// The paths of a validated mask, each one of the entity's updatable fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMask(BTreeSet<&'static str>);

impl FieldMask {
    /// Checks `paths` against `updatable`, naming each unknown path by its index.
    pub fn parse(paths: &[String], updatable: &[&'static str]) -> ServiceResult<FieldMask> {
        let mut violations = Violations::default();
        if paths.is_empty() {
            violations.add(
                "update_mask",
                format!(
                    "更新する項目を update_mask で指定してください（指定できる項目: {}） / update_mask is required",
                    updatable.join(", ")
                ),
            );
        }
        let mut fields = BTreeSet::new();
        for (index, path) in paths.iter().enumerate() {
            match updatable.iter().find(|field| **field == path.trim()) {
                Some(field) => {
                    fields.insert(*field);
                }
                None => violations.add(
                    format!("update_mask.paths[{index}]"),
                    format!(
                        "「{path}」は更新できる項目ではありません（指定できる項目: {}） / not an updatable field",
                        updatable.join(", ")
                    ),
                ),
            }
        }
        violations.into_result()?;
        Ok(FieldMask(fields))
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.contains(field)
    }

    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().copied()
    }
}

/// `ABORTED` when the caller edited an older version than the stored one (optimistic
/// concurrency: two coordinators editing the same resource must not overwrite each other
/// silently). `expected == 0` means the caller did not ask for the check.
pub fn check_version(entity: &str, expected: i64, stored: i64) -> ServiceResult<()> {
    if expected != 0 && expected != stored {
        return Err(ServiceError::Conflict(format!(
            "{entity}は他の人が更新しました（版 {expected} を編集しましたが、現在は版 {stored} です）。読み込み直してください / \
             edited version {expected}, but the current version is {stored}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPDATABLE: &[&str] = &["name", "capacity", "status"];

    #[test]
    fn known_paths_are_kept_and_unknown_ones_named_by_index() {
        let mask = FieldMask::parse(&["name".into(), " status ".into()], UPDATABLE).unwrap();
        assert_eq!(mask.fields().collect::<Vec<_>>(), ["name", "status"]);
        let error = FieldMask::parse(&["name".into(), "id".into()], UPDATABLE).unwrap_err();
        let ServiceError::InvalidArgument(violations) = error else {
            panic!("{error:?}")
        };
        assert_eq!(violations[0].field, "update_mask.paths[1]");
    }

    #[test]
    fn empty_mask_is_refused() {
        assert!(FieldMask::parse(&[], UPDATABLE).is_err());
    }

    #[test]
    fn version_check_is_optional() {
        assert!(check_version("地域資源", 0, 7).is_ok());
        assert!(check_version("地域資源", 7, 7).is_ok());
        assert!(matches!(
            check_version("地域資源", 6, 7),
            Err(ServiceError::Conflict(_))
        ));
    }
}
