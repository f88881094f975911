//! The life-support taxonomy that ships with Tsunagu: the life-support services named in the
//! seeds, the 総合事業 service types, what people join (参加する資源) and places that can
//! become resources (domain.md §6). Codes are stable ASCII (`life.garbage`, `sogo.visit.b`);
//! Japanese names and readings are for people.
//!
//! The registry adds municipal extensions on top (stored in its database); every service can
//! resolve the bundled terms without asking it, so a need for "ゴミ出し" and a resource of
//! category `life.garbage` meet in matching.

use std::sync::LazyLock;

use crate::text::search_fold;

const BUNDLED_CSV: &str = include_str!("../data/taxonomy.csv");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub code: String,
    pub parent: Option<String>,
    pub name: String,
    pub name_kana: String,
    /// Other names coordinators use for it (サロン for 交流サロン).
    pub aliases: Vec<String>,
    pub description: String,
}

static BUNDLED: LazyLock<Vec<Category>> = LazyLock::new(|| {
    let mut reader = csv::Reader::from_reader(BUNDLED_CSV.as_bytes());
    reader
        .records()
        .map(|record| {
            let record = record.expect("the bundled taxonomy is valid CSV (checked by a test)");
            let field = |index: usize| record.get(index).unwrap_or("").to_string();
            Category {
                code: field(0),
                parent: Some(field(1)).filter(|parent| !parent.is_empty()),
                name: field(2),
                name_kana: field(3),
                aliases: field(4)
                    .split('|')
                    .filter(|alias| !alias.is_empty())
                    .map(str::to_string)
                    .collect(),
                description: field(5),
            }
        })
        .collect()
});

/// Every bundled category, parents before their children.
pub fn bundled() -> &'static [Category] {
    &BUNDLED
}

/// The bundled category a coordinator means by `input`: its code, or its name, reading or an
/// alias compared by [`search_fold`] with spaces ignored.
pub fn resolve_bundled(input: &str) -> Option<&'static Category> {
    let wanted = comparable(input);
    if wanted.is_empty() {
        return None;
    }
    let by_code = bundled().iter().find(|category| category.code == wanted);
    by_code.or_else(|| {
        bundled().iter().find(|category| {
            comparable(&category.name) == wanted
                || comparable(&category.name_kana) == wanted
                || category.aliases.iter().any(|alias| comparable(alias) == wanted)
        })
    })
}

/// The form names are compared in: folded, without spaces.
pub fn comparable(input: &str) -> String {
    search_fold(input)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Whether `code` is well-formed: lower-case ASCII letters, digits, '.', '-' and '_',
/// starting with a letter or digit.
pub fn is_valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn bundled_taxonomy_is_a_well_formed_tree() {
        let mut seen = HashSet::new();
        for category in bundled() {
            assert!(is_valid_code(&category.code), "{}", category.code);
            assert!(!category.name.is_empty(), "{}", category.code);
            if let Some(parent) = &category.parent {
                assert!(
                    seen.contains(parent),
                    "{} lists its parent {parent} after it",
                    category.code
                );
            }
            assert!(seen.insert(category.code.clone()), "duplicate {}", category.code);
        }
        assert!(bundled().len() > 40);
    }

    #[test]
    fn names_readings_aliases_and_codes_resolve() {
        let code = |input: &str| resolve_bundled(input).map(|c| c.code.as_str());
        assert_eq!(code("ゴミ出し"), Some("life.garbage"));
        assert_eq!(code("ｺﾞﾐ出し"), Some("life.garbage"));
        assert_eq!(code("ごみだし"), Some("life.garbage"));
        assert_eq!(code("配食+見守り"), Some("life.meal-delivery"));
        assert_eq!(code("外出支援"), Some("life.outing"));
        assert_eq!(code("sogo.visit.b"), Some("sogo.visit.b"));
        assert_eq!(code("訪問型サービスB（住民主体）"), Some("sogo.visit.b"));
        assert_eq!(code("草刈り"), None);
        assert_eq!(code("  "), None);
    }

    #[test]
    fn names_are_unambiguous() {
        let mut names = HashSet::new();
        for category in bundled() {
            for name in std::iter::once(&category.name).chain(&category.aliases) {
                assert!(names.insert(comparable(name)), "{name} names two categories");
            }
        }
    }
}
