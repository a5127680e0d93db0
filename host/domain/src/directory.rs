//! Directory sign-in rules: which directory groups give which role in which company.

use crate::error::{Error, Result};
use crate::policy::Role;
use serde::Deserialize;

/// One mapping of `VIGIL_LDAP_GROUPS`: members of `group` get `role` (an Oz user type:
/// ADMIN, OPERATOR, CLIENT, CLIENT_ADMIN, CLIENT_OPERATOR, CLIENT_SERVICE) in `company` (its id
/// or name; required for the client roles). The first rule that matches wins.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct GroupRule {
    pub group: String,
    pub role: String,
    #[serde(default)]
    pub company: Option<String>,
}

/// Lower case, no spaces around `=` and `,`: how DNs are compared.
pub fn normalise_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

/// The user type, admin and service flags of a rule's role.
pub fn role_fields(role: &str) -> Option<(&'static str, bool, bool)> {
    Some(match role.trim().to_ascii_uppercase().replace(' ', "_").as_str() {
        "ADMIN" => ("ADMIN", false, false),
        "OPERATOR" => ("OPERATOR", false, false),
        "CLIENT" => ("CLIENT", false, false),
        "CLIENT_ADMIN" => ("CLIENT", true, false),
        "CLIENT_OPERATOR" => ("CLIENT_OPERATOR", false, false),
        "CLIENT_SERVICE" => ("CLIENT", false, true),
        _ => return None,
    })
}

/// Parses and checks the rules (a JSON list).
pub fn parse_rules(json: &str) -> Result<Vec<GroupRule>> {
    let rules: Vec<GroupRule> = serde_json::from_str(json)
        .map_err(|e| Error::value(format!("LDAP group rules must be a JSON list of {{group, role, company}}: {e}")))?;
    for r in &rules {
        let (t, admin, service) = role_fields(&r.role)
            .ok_or_else(|| Error::value(format!("unknown role '{}' in the LDAP group rules", r.role)))?;
        let global = Role::derive(t, admin, service).is_global();
        if !global && r.company.as_deref().is_none_or(|c| c.trim().is_empty()) {
            return Err(Error::value(format!("the LDAP group rule for '{}' needs a company", r.group)));
        }
    }
    Ok(rules)
}

/// The first rule whose group is one of `groups`.
pub fn pick<'a>(rules: &'a [GroupRule], groups: &[String]) -> Option<&'a GroupRule> {
    let mine: Vec<String> = groups.iter().map(|g| normalise_dn(g)).collect();
    rules.iter().find(|r| mine.contains(&normalise_dn(&r.group)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_pick_in_order() {
        let rules = parse_rules(
            r#"[{"group": "cn=admins,ou=groups,dc=corp", "role": "ADMIN"},
                {"group": "CN=Reviewers, OU=Groups, DC=corp", "role": "client operator", "company": "Acme"}]"#,
        )
        .unwrap();
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            pick(&rules, &g(&["cn=reviewers,ou=groups,dc=corp"])).map(|r| r.role.as_str()),
            Some("client operator")
        );
        assert_eq!(
            pick(&rules, &g(&["cn=reviewers,ou=groups,dc=corp", "cn=admins,ou=groups,dc=corp"])).unwrap().role,
            "ADMIN"
        );
        assert_eq!(pick(&rules, &g(&["cn=others,dc=corp"])), None);
        assert!(parse_rules(r#"[{"group": "g", "role": "CLIENT"}]"#).is_err(), "client roles need a company");
        assert!(parse_rules(r#"[{"group": "g", "role": "ROOT"}]"#).is_err());
        assert!(parse_rules("{}").is_err());
        assert_eq!(role_fields("CLIENT_ADMIN"), Some(("CLIENT", true, false)));
    }
}
