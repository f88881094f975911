//! Registry inputs, validated. A value of these types is known to be well-formed; whether the
//! areas and organisations it names exist is checked by `store` inside the transaction.

use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::ServiceError;
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::text;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaKind {
    Prefecture,
    Municipality,
    /// 区 of a designated city; only the official list import creates them.
    Ward,
    /// 日常生活圏域 (第2層).
    DailyLifeArea,
    /// 小学校区.
    SchoolDistrict,
    /// 地区社協区域.
    DistrictCouncilArea,
    /// 自治会・町内会.
    NeighborhoodAssociation,
}

impl AreaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::Prefecture => "prefecture",
            AreaKind::Municipality => "municipality",
            AreaKind::Ward => "ward",
            AreaKind::DailyLifeArea => "daily_life_area",
            AreaKind::SchoolDistrict => "school_district",
            AreaKind::DistrictCouncilArea => "district_council_area",
            AreaKind::NeighborhoodAssociation => "neighborhood_association",
        }
    }

    /// How a coordinator calls it, in Japanese and English.
    pub fn label(self) -> &'static str {
        match self {
            AreaKind::Prefecture => "都道府県 / a prefecture",
            AreaKind::Municipality => "市区町村 / a municipality",
            AreaKind::Ward => "政令市の区 / a ward",
            AreaKind::DailyLifeArea => "日常生活圏域 / a daily-life area",
            AreaKind::SchoolDistrict => "小学校区 / a school district",
            AreaKind::DistrictCouncilArea => "地区社協区域 / a district council area",
            AreaKind::NeighborhoodAssociation => "自治会・町内会 / a neighbourhood association",
        }
    }

    /// Areas a municipality defines itself: no official code, a name required.
    pub fn is_local(self) -> bool {
        !matches!(
            self,
            AreaKind::Prefecture | AreaKind::Municipality | AreaKind::Ward
        )
    }

    /// Which kinds of area this kind may lie directly in. A small town may have no daily-life
    /// areas of its own (layer 1 = layer 2), so school districts may hang under the town.
    pub fn allowed_parents(self) -> &'static [AreaKind] {
        use AreaKind::*;
        match self {
            Prefecture => &[],
            Municipality => &[Prefecture],
            Ward => &[Municipality],
            DailyLifeArea => &[Municipality, Ward],
            SchoolDistrict | DistrictCouncilArea => &[DailyLifeArea, Municipality, Ward],
            NeighborhoodAssociation => &[SchoolDistrict, DistrictCouncilArea, DailyLifeArea],
        }
    }

    pub fn parse(stored: &str) -> Option<AreaKind> {
        [
            AreaKind::Prefecture,
            AreaKind::Municipality,
            AreaKind::Ward,
            AreaKind::DailyLifeArea,
            AreaKind::SchoolDistrict,
            AreaKind::DistrictCouncilArea,
            AreaKind::NeighborhoodAssociation,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == stored)
    }
}

/// A new area. Official areas take their name from the official list unless one is given.
#[derive(Debug, Clone)]
pub enum NewArea {
    Prefecture {
        code: MunicipalityCode,
        name: String,
        name_kana: String,
    },
    Municipality {
        code: MunicipalityCode,
        name: String,
        name_kana: String,
        parent_id: Uuid,
    },
    /// An area the municipality defines: daily-life area, school district, …
    Local {
        kind: AreaKind,
        name: String,
        name_kana: String,
        parent_id: Uuid,
    },
}

pub struct AreaInput<'a> {
    pub kind: Option<AreaKind>,
    pub code: &'a str,
    pub name: &'a str,
    pub name_kana: &'a str,
    pub parent_id: &'a str,
}

impl NewArea {
    pub fn parse(input: AreaInput<'_>) -> ServiceResult<NewArea> {
        let mut violations = Violations::new();
        let Some(kind) = input.kind else {
            return Err(ServiceError::invalid(
                "kind",
                "区域の種類（都道府県・市区町村・日常生活圏域）を指定してください / kind is required",
            ));
        };
        if kind == AreaKind::Ward {
            return Err(ServiceError::invalid(
                "kind",
                "区は公式一覧の取り込み（ImportOfficialAreas）で登録されます / wards come from the official list import",
            ));
        }
        let name = text::normalised_non_empty(input.name);
        let name_kana = text::nfkc(input.name_kana).trim().to_string();
        let parent_id = match input.parent_id.trim() {
            "" => None,
            raw => violations.check(
                "parent_id",
                raw.parse::<Uuid>().map_err(|_| "IDの形式が不正です / not a UUID"),
            ),
        };

        let official = match kind {
            AreaKind::Prefecture | AreaKind::Municipality => {
                if input.code.trim().is_empty() {
                    violations.add("code", "全国地方公共団体コードを入力してください / code is required for prefectures and municipalities");
                    None
                } else {
                    violations
                        .check("code", MunicipalityCode::parse_known(input.code))
                        .and_then(|code| code.official().map(|entry| (code.clone(), entry)))
                }
            }
            _ => {
                if !input.code.trim().is_empty() {
                    violations.add(
                        "code",
                        "市町村が定める区域に全国地方公共団体コードはありません / areas a municipality defines have no official code",
                    );
                }
                None
            }
        };
        if let Some((_, entry)) = &official {
            match kind {
                AreaKind::Prefecture if !entry.is_prefecture() => violations.add(
                    "code",
                    format!(
                        "{} は都道府県ではなく市区町村のコードです / not a prefecture code",
                        entry.code
                    ),
                ),
                AreaKind::Municipality if entry.is_prefecture() => violations.add(
                    "code",
                    format!(
                        "{} は都道府県のコードです / a prefecture code, not a municipality's",
                        entry.code
                    ),
                ),
                _ => {}
            }
        }
        match (kind, input.parent_id.trim().is_empty()) {
            (AreaKind::Prefecture, false) => violations.add(
                "parent_id",
                "都道府県に親区域はありません / a prefecture has no parent",
            ),
            (AreaKind::Municipality, true) => violations.add(
                "parent_id",
                "親の都道府県を指定してください / the parent prefecture is required",
            ),
            (kind, true) if kind.is_local() => {
                let parents: Vec<&str> = kind
                    .allowed_parents()
                    .iter()
                    .map(|parent| parent.label())
                    .collect();
                violations.add(
                    "parent_id",
                    format!(
                        "親区域（{}）を指定してください / the parent area is required",
                        parents.join("・")
                    ),
                )
            }
            _ => {}
        }
        if kind.is_local() && name.is_none() {
            violations.add("name", "区域名を入力してください / name is required");
        }
        violations.into_result()?;

        let area = match (kind, official, parent_id) {
            (AreaKind::Prefecture, Some((code, entry)), _) => NewArea::Prefecture {
                name: name.unwrap_or_else(|| entry.name().to_string()),
                name_kana: or_default(name_kana, entry.name_kana()),
                code,
            },
            (AreaKind::Municipality, Some((code, entry)), Some(parent_id)) => NewArea::Municipality {
                name: name.unwrap_or_else(|| entry.name().to_string()),
                name_kana: or_default(name_kana, entry.name_kana()),
                code,
                parent_id,
            },
            (kind, None, Some(parent_id)) if kind.is_local() => NewArea::Local {
                kind,
                name: name.unwrap_or_default(),
                name_kana,
                parent_id,
            },
            _ => unreachable!("every other combination added a violation"),
        };
        Ok(area)
    }

    pub fn kind(&self) -> AreaKind {
        match self {
            NewArea::Prefecture { .. } => AreaKind::Prefecture,
            NewArea::Municipality { .. } => AreaKind::Municipality,
            NewArea::Local { kind, .. } => *kind,
        }
    }
}

fn or_default(given: String, official: &str) -> String {
    if given.is_empty() {
        official.to_string()
    } else {
        given
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(error: ServiceError) -> Vec<String> {
        match error {
            ServiceError::InvalidArgument(violations) => violations.into_iter().map(|v| v.field).collect(),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn municipality_takes_its_official_name_and_kana() {
        let parent = Uuid::now_v7().to_string();
        let area = NewArea::parse(AreaInput {
            kind: Some(AreaKind::Municipality),
            code: "212024",
            name: "",
            name_kana: "",
            parent_id: &parent,
        })
        .unwrap();
        let NewArea::Municipality { name, name_kana, .. } = area else {
            panic!("{area:?}")
        };
        assert_eq!((name.as_str(), name_kana.as_str()), ("大垣市", "オオガキシ"));
    }

    #[test]
    fn wrong_check_digit_and_missing_parent_are_both_reported() {
        let error = NewArea::parse(AreaInput {
            kind: Some(AreaKind::Municipality),
            code: "212025",
            name: "",
            name_kana: "",
            parent_id: "",
        })
        .unwrap_err();
        assert_eq!(fields(error), ["code", "parent_id"]);
    }

    #[test]
    fn wards_are_not_created_one_by_one() {
        let error = NewArea::parse(AreaInput {
            kind: Some(AreaKind::Ward),
            code: "011011",
            name: "札幌市中央区",
            name_kana: "",
            parent_id: &Uuid::now_v7().to_string(),
        })
        .unwrap_err();
        assert_eq!(fields(error), ["kind"]);
    }

    #[test]
    fn prefecture_code_is_not_a_municipality() {
        let error = NewArea::parse(AreaInput {
            kind: Some(AreaKind::Municipality),
            code: "210005",
            name: "",
            name_kana: "",
            parent_id: &Uuid::now_v7().to_string(),
        })
        .unwrap_err();
        assert_eq!(fields(error), ["code"]);
    }
}
