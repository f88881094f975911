//! Batch gets, shared by every entity: the ids asked for (at most [`MAX_BATCH`], each
//! checked) and the answer in the order asked, or `NOT_FOUND` naming every missing id.

use std::collections::HashMap;

use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::grpc::parse_id;
use uuid::Uuid;

pub const MAX_BATCH: usize = 100;

/// Up to [`MAX_BATCH`] ids, each checked; a bad one is named by its index.
pub fn parse_ids(ids: &[String]) -> ServiceResult<Vec<Uuid>> {
    let mut violations = Violations::new();
    if ids.len() > MAX_BATCH {
        violations.add(
            "ids",
            format!("一度に取得できるのは{MAX_BATCH}件までです / at most {MAX_BATCH} ids"),
        );
    }
    let parsed: Vec<Uuid> = ids
        .iter()
        .enumerate()
        .filter_map(|(index, id)| violations.absorb(parse_id(&format!("ids[{index}]"), id)))
        .collect();
    violations.into_result()?;
    Ok(parsed)
}

/// `found` in the order of `ids` (duplicates repeated), or `NOT_FOUND` naming every missing
/// id after `label` (e.g. 地域資源).
pub fn in_request_order<T: Clone>(
    label: &str,
    ids: &[Uuid],
    found: Vec<T>,
    id_of: impl Fn(&T) -> Uuid,
) -> ServiceResult<Vec<T>> {
    let by_id: HashMap<Uuid, T> = found.into_iter().map(|item| (id_of(&item), item)).collect();
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !by_id.contains_key(id))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(ServiceError::NotFound(format!("{label} {}", missing.join(", "))));
    }
    Ok(ids.iter().map(|id| by_id[id].clone()).collect())
}
