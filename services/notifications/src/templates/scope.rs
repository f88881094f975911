//! Whose template versions apply where (issue 17): the recipients of a municipality's
//! notifications get the most specific version there is — the municipality's, its
//! prefecture's, the deployment's, the bundled one. Who writes which scope: `grpc/authz.rs`.

use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::auth::Principal;

/// The whole deployment: versions written before templates had scopes.
pub const DEPLOYMENT: &str = "";

/// The scopes whose versions apply to `code` (a municipality's or a prefecture's), most
/// specific first: the municipality, its prefecture, the deployment.
pub fn chain(code: &str) -> Vec<String> {
    let mut scopes = Vec::with_capacity(3);
    if !code.is_empty() {
        scopes.push(code.to_string());
    }
    if let Some(prefecture) = prefecture_of(code)
        && prefecture != code
    {
        scopes.push(prefecture);
    }
    scopes.push(DEPLOYMENT.to_string());
    scopes
}

/// The prefecture's own code for a municipality's (or a prefecture's) code.
fn prefecture_of(code: &str) -> Option<String> {
    let code = MunicipalityCode::parse_known(code).ok()?;
    let entry = code.official()?;
    Some(entry.prefecture_code().as_str().to_string())
}

/// The scopes a caller's `ListTemplates` shows: what applies in its own scope (another
/// service, without one, sees the deployment's).
pub fn seen_by(caller: &Principal) -> Vec<String> {
    chain(&caller.scope_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_municipality_falls_back_to_its_prefecture_then_the_deployment() {
        // 大垣市 (Gifu), 岐阜県, 富山市 (Toyama).
        assert_eq!(chain("212024"), ["212024", "210005", ""]);
        assert_eq!(chain("210005"), ["210005", ""]);
        assert_eq!(chain("162019"), ["162019", "160008", ""]);
        assert_eq!(chain(""), [""]);
    }
}
