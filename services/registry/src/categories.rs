//! The taxonomy as one municipality sees it: the bundled categories
//! (`tsunagu_runtime::taxonomy`) and the municipality's own, which hang below a bundled or an
//! own parent. Small (tens of entries), so it is loaded whole for each request that needs it.

use sqlx::PgConnection;
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::taxonomy::{self, comparable};
use tsunagu_runtime::tenant::MunicipalityCode;
use tsunagu_runtime::text;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CategoryEntry {
    pub code: String,
    pub parent_code: Option<String>,
    pub name: String,
    pub name_kana: String,
    #[sqlx(skip)]
    pub aliases: Vec<String>,
    pub description: String,
    /// `None` for the bundled taxonomy.
    pub municipality_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CategoryIndex {
    entries: Vec<CategoryEntry>,
}

impl CategoryIndex {
    /// The bundled taxonomy plus the own categories of `municipality_code`, if given.
    pub async fn load(
        conn: &mut PgConnection,
        municipality_code: Option<&str>,
    ) -> sqlx::Result<CategoryIndex> {
        let mut entries: Vec<CategoryEntry> = taxonomy::bundled()
            .iter()
            .map(|category| CategoryEntry {
                code: category.code.clone(),
                parent_code: category.parent.clone(),
                name: category.name.clone(),
                name_kana: category.name_kana.clone(),
                aliases: category.aliases.clone(),
                description: category.description.clone(),
                municipality_code: None,
            })
            .collect();
        if let Some(municipality_code) = municipality_code {
            let own: Vec<CategoryEntry> = sqlx::query_as(
                "SELECT code, parent_code, name, name_kana, description, municipality_code
                 FROM category WHERE municipality_code = $1 ORDER BY created_at, code",
            )
            .bind(municipality_code)
            .fetch_all(&mut *conn)
            .await?;
            entries.extend(own);
        }
        Ok(CategoryIndex { entries })
    }

    pub fn entries(&self) -> &[CategoryEntry] {
        &self.entries
    }

    /// The category a coordinator means: a code, or a name, reading or alias (NFKC,
    /// hiragana/katakana- and case-insensitive).
    pub fn resolve(&self, input: &str) -> Result<&CategoryEntry, String> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("カテゴリを入力してください（例: ゴミ出し） / category is required".into());
        }
        if let Some(entry) = self.entries.iter().find(|entry| entry.code == trimmed) {
            return Ok(entry);
        }
        let wanted = comparable(trimmed);
        self.entries
            .iter()
            .find(|entry| {
                comparable(&entry.name) == wanted
                    || comparable(&entry.name_kana) == wanted
                    || entry.aliases.iter().any(|alias| comparable(alias) == wanted)
            })
            .ok_or_else(|| {
                format!(
                    "「{trimmed}」というカテゴリはありません。ListCategories で一覧を確認するか、CreateCategory で追加してください / unknown category"
                )
            })
    }

    pub fn name_of(&self, code: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|entry| entry.code == code)
            .map(|entry| entry.name.as_str())
    }

    /// `code` and every category below it, at any depth.
    pub fn with_descendants(&self, code: &str) -> Vec<String> {
        let mut codes = vec![code.to_string()];
        let mut index = 0;
        while index < codes.len() {
            let parent = codes[index].clone();
            codes.extend(
                self.entries
                    .iter()
                    .filter(|entry| entry.parent_code.as_deref() == Some(parent.as_str()))
                    .map(|entry| entry.code.clone()),
            );
            index += 1;
        }
        codes
    }
}

#[derive(Debug, Clone)]
pub struct NewCategory {
    pub municipality_code: MunicipalityCode,
    pub slug: String,
    pub parent: String,
    pub name: String,
    pub name_kana: String,
    pub description: String,
}

pub struct CategoryInput<'a> {
    pub municipality_code: &'a str,
    pub slug: &'a str,
    pub parent: &'a str,
    pub name: &'a str,
    pub name_kana: &'a str,
    pub description: &'a str,
}

impl NewCategory {
    pub fn parse(input: CategoryInput<'_>) -> ServiceResult<NewCategory> {
        let mut violations = Violations::new();
        let municipality_code = violations.check(
            "municipality_code",
            MunicipalityCode::parse_municipality(input.municipality_code),
        );
        let slug = input.slug.trim().to_ascii_lowercase();
        if !taxonomy::is_valid_code(&slug) || slug.contains('.') || slug.len() > 40 {
            violations.add(
                "slug",
                format!(
                    "英小文字・数字・ハイフンで40文字以内にしてください（例: kusakari）（入力: {:?}） / use lower-case letters, digits and '-'",
                    input.slug
                ),
            );
        }
        let name = text::normalised_non_empty(input.name);
        if name.is_none() {
            violations.add("name", "カテゴリ名を入力してください / name is required");
        }
        if input.parent.trim().is_empty() {
            violations.add(
                "parent",
                "親カテゴリを指定してください（例: life） / parent is required",
            );
        }
        violations.into_result()?;
        Ok(NewCategory {
            municipality_code: municipality_code.expect("checked"),
            slug,
            parent: input.parent.to_string(),
            name: name.expect("checked"),
            name_kana: text::nfkc(input.name_kana).trim().to_string(),
            description: text::nfkc(input.description).trim().to_string(),
        })
    }
}

/// Adds a municipality's own category. Its name must not shadow a bundled or own one, so a
/// name always resolves to one category.
pub async fn create_category(conn: &mut PgConnection, new: NewCategory) -> ServiceResult<CategoryEntry> {
    let index = CategoryIndex::load(&mut *conn, Some(new.municipality_code.as_str())).await?;
    let parent = index
        .resolve(&new.parent)
        .map_err(|reason| ServiceError::invalid("parent", reason))?
        .code
        .clone();
    if let Ok(existing) = index.resolve(&new.name) {
        return Err(ServiceError::invalid(
            "name",
            format!(
                "「{}」は既にカテゴリ {} の名前です / the name is taken",
                new.name, existing.code
            ),
        ));
    }
    let code = format!("{}.{}", new.municipality_code.as_str(), new.slug);
    let inserted = sqlx::query(
        "INSERT INTO category (code, municipality_code, parent_code, name, name_kana, description)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&code)
    .bind(new.municipality_code.as_str())
    .bind(&parent)
    .bind(&new.name)
    .bind(&new.name_kana)
    .bind(&new.description)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ServiceError::AlreadyExists(format!(
            "カテゴリ {code} は既にあります / category exists"
        )));
    }
    // A category has a code, not an id: the code is the entry's detail.
    crate::write_audit::changed(conn, "category", new.municipality_code.as_str(), None, &code).await?;
    Ok(CategoryEntry {
        code,
        parent_code: Some(parent),
        name: new.name,
        name_kana: new.name_kana,
        aliases: Vec::new(),
        description: new.description,
        municipality_code: Some(new.municipality_code.as_str().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled_index() -> CategoryIndex {
        let entries = taxonomy::bundled()
            .iter()
            .map(|c| CategoryEntry {
                code: c.code.clone(),
                parent_code: c.parent.clone(),
                name: c.name.clone(),
                name_kana: c.name_kana.clone(),
                aliases: c.aliases.clone(),
                description: c.description.clone(),
                municipality_code: None,
            })
            .collect();
        CategoryIndex { entries }
    }

    #[test]
    fn descendants_include_every_level() {
        let codes = bundled_index().with_descendants("sogo");
        assert!(codes.contains(&"sogo.visit".to_string()));
        assert!(codes.contains(&"sogo.visit.b".to_string()));
        assert!(!codes.contains(&"life.garbage".to_string()));
    }

    #[test]
    fn unknown_names_say_where_to_look() {
        let error = bundled_index().resolve("草刈り").unwrap_err();
        assert!(error.contains("ListCategories"), "{error}");
    }
}
