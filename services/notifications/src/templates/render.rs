//! `{{name}}` substitution, and the check that a template uses only the variables its
//! recipients may see. Deliberately tiny: no logic in templates, so an operator cannot make
//! one print more than the variables it is given.

use std::collections::BTreeMap;

pub type Vars = BTreeMap<&'static str, String>;

/// Replaces every `{{name}}` with its value; a name without a value renders empty (a
/// template is checked against its variables before it is stored, see [`check`]).
pub fn render(template: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                if let Some(value) = vars.get(name) {
                    out.push_str(value);
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders of a template, in order of appearance; an unclosed `{{` is an error.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "「{{」が閉じていません / unclosed {{".to_string())?;
        names.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// Every placeholder must be one of `allowed`.
pub fn check(template: &str, allowed: &[&str]) -> Result<(), String> {
    for name in placeholders(template)? {
        if !allowed.contains(&name.as_str()) {
            return Err(format!(
                "変数「{name}」はこのテンプレートでは使えません（使える変数: {}） / unknown variable {name}",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_known_names_and_keeps_the_rest() {
        let mut vars = Vars::new();
        vars.insert("category", "ゴミ出し".into());
        assert_eq!(
            render("「{{category}}」の{{ missing }}提案", &vars),
            "「ゴミ出し」の提案"
        );
        assert_eq!(render("閉じない {{category", &vars), "閉じない {{category");
    }

    #[test]
    fn check_names_the_variable_that_is_not_allowed() {
        assert!(check("{{need_id}}", &["need_id"]).is_ok());
        let error = check("{{need_id}} {{resident_name}}", &["need_id"]).unwrap_err();
        assert!(error.contains("resident_name"), "{error}");
        assert!(check("{{need_id", &["need_id"]).is_err());
    }
}
