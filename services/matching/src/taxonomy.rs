//! The category tree matching compares needs and resources in: the bundled taxonomy, and each
//! municipality's own categories (`<code>.<slug>`) with the parent the registry gave them
//! (`category.created`). A resource's category fits a need's when one contains the other.

use std::collections::HashMap;

use sqlx::PgConnection;
use tsunagu_runtime::events::CategoryCreated;

/// Each category's parent, bundled and municipal.
pub struct Taxonomy {
    parent: HashMap<String, String>,
}

impl Taxonomy {
    /// The bundled taxonomy and the municipal categories matching has heard of.
    pub async fn load(tx: &mut PgConnection) -> sqlx::Result<Taxonomy> {
        let municipal: Vec<(String, String)> = sqlx::query_as("SELECT code, parent_code FROM category")
            .fetch_all(&mut *tx)
            .await?;
        Ok(Taxonomy::with_municipal(municipal))
    }

    pub fn with_municipal(municipal: impl IntoIterator<Item = (String, String)>) -> Taxonomy {
        let mut parent: HashMap<String, String> = tsunagu_runtime::taxonomy::bundled()
            .iter()
            .filter_map(|category| Some((category.code.clone(), category.parent.clone()?)))
            .collect();
        parent.extend(municipal);
        Taxonomy { parent }
    }

    pub fn parent(&self, code: &str) -> Option<&str> {
        self.parent.get(code).map(String::as_str)
    }

    /// The code and its ancestors, nearest first. Stops at a cycle (a bad registry row must
    /// not hang matching).
    pub fn ancestors_or_self<'a>(&'a self, code: &'a str) -> Vec<&'a str> {
        let mut path = vec![code];
        while let Some(parent) = self.parent(path[path.len() - 1]) {
            if path.contains(&parent) {
                break;
            }
            path.push(parent);
        }
        path
    }

    /// The categories whose needs a resource of `code` may serve, and whose resources may
    /// serve a need of `code`: the code, its ancestors and its descendants.
    pub fn related(&self, code: &str) -> Vec<String> {
        let mut related: Vec<String> = self
            .ancestors_or_self(code)
            .into_iter()
            .map(str::to_string)
            .collect();
        for candidate in self.parent.keys() {
            if candidate != code && self.ancestors_or_self(candidate).contains(&code) {
                related.push(candidate.clone());
            }
        }
        related.sort_unstable();
        related.dedup();
        related
    }
}

/// Learns a municipality's own category and its parent (idempotent).
pub async fn learn(tx: &mut PgConnection, category: &CategoryCreated) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO category (code, municipality_code, parent_code) VALUES ($1, $2, $3)
         ON CONFLICT (code) DO UPDATE SET parent_code = EXCLUDED.parent_code",
    )
    .bind(&category.code)
    .bind(&category.municipality_code)
    .bind(&category.parent_code)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn municipal_categories_hang_under_their_parents() {
        let taxonomy = Taxonomy::with_municipal([("212024.snow".to_string(), "life".to_string())]);
        assert_eq!(taxonomy.ancestors_or_self("212024.snow"), ["212024.snow", "life"]);
        let related = taxonomy.related("life");
        assert!(related.contains(&"212024.snow".to_string()), "{related:?}");
        assert!(related.contains(&"life.garbage".to_string()), "{related:?}");
        let snow = taxonomy.related("212024.snow");
        assert!(snow.contains(&"life".to_string()), "{snow:?}");
        assert!(
            !snow.contains(&"life.garbage".to_string()),
            "siblings are not related: {snow:?}"
        );
    }

    #[test]
    fn a_cycle_does_not_hang() {
        let taxonomy = Taxonomy::with_municipal([
            ("1.a".to_string(), "1.b".to_string()),
            ("1.b".to_string(), "1.a".to_string()),
        ]);
        assert_eq!(taxonomy.ancestors_or_self("1.a"), ["1.a", "1.b"]);
    }
}
