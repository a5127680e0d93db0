//! Sign-in against an LDAP directory or Active Directory: find the account by its login with a
//! service account (or anonymously), read its groups and whether it is disabled, then bind as
//! the account with the password given.
//!
//! Architecture invariant: the only crate that knows LDAP. Login input reaches a filter only
//! escaped, and an empty password never reaches a bind (an empty simple bind is an anonymous
//! bind that "succeeds").

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};
use std::collections::HashMap;
use std::time::Duration;

/// How to reach and search the directory.
#[derive(Clone)]
pub struct LdapSettings {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    /// Accept any server certificate (test directories only).
    pub tls_insecure: bool,
    /// The service account that searches; anonymous search when absent.
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    /// Where accounts are searched (subtree).
    pub user_base: String,
    /// The account filter; `{login}` stands for the escaped login.
    pub user_filter: String,
    /// Where groups are searched by membership, besides the account's `memberOf`.
    pub group_base: Option<String>,
    /// The group filter; `{dn}` stands for the escaped account DN.
    pub group_filter: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for LdapSettings {
    // The service password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapSettings")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &self.bind_password.as_ref().map(|_| "***"))
            .field("user_base", &self.user_base)
            .field("user_filter", &self.user_filter)
            .field("group_base", &self.group_base)
            .finish_non_exhaustive()
    }
}

/// The default account filter: a person found by e-mail, uid, sAMAccountName or UPN.
pub const DEFAULT_USER_FILTER: &str =
    "(&(objectClass=*)(|(mail={login})(uid={login})(sAMAccountName={login})(userPrincipalName={login})))";
/// The default group filter: groupOfNames, groupOfUniqueNames and AD groups.
pub const DEFAULT_GROUP_FILTER: &str = "(|(member={dn})(uniqueMember={dn}))";

/// An account the directory vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// DNs of the groups it belongs to (its `memberOf` and the groups naming it), as written.
    pub groups: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirectoryError {
    /// Unknown login, wrong or empty password: one answer for all, so logins cannot be probed.
    #[error("wrong login or password")]
    BadCredentials,
    /// The account exists, the password is right, but the account is disabled or locked; its
    /// e-mail, so the server can end the account's sessions.
    #[error("the directory account is disabled")]
    Disabled { email: Option<String> },
    /// More than one account matches the login.
    #[error("the login matches several directory accounts")]
    Ambiguous,
    #[error("directory unavailable: {0}")]
    Unavailable(String),
}

const USER_ATTRS: &[&str] = &[
    "mail",
    "givenName",
    "sn",
    "memberOf",
    "userAccountControl",
    "pwdAccountLockedTime",
    "nsAccountLock",
    "shadowExpire",
];

fn first(attrs: &HashMap<String, Vec<String>>, name: &str) -> Option<String> {
    attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.first().cloned())
}

fn all(attrs: &HashMap<String, Vec<String>>, name: &str) -> Vec<String> {
    attrs.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).flat_map(|(_, v)| v.iter().cloned()).collect()
}

/// Whether the account's attributes say it may not sign in: Active Directory's
/// ACCOUNTDISABLE bit, an OpenLDAP password-policy lock, 389-DS/FreeIPA's lock, or an expired
/// shadow account (`shadowExpire`, in days since 1970). `today` is the current day number.
pub fn is_disabled(attrs: &HashMap<String, Vec<String>>, today: i64) -> bool {
    let uac = first(attrs, "userAccountControl").and_then(|v| v.trim().parse::<i64>().ok());
    let locked = first(attrs, "pwdAccountLockedTime").is_some();
    let ns_lock = first(attrs, "nsAccountLock").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let expired =
        first(attrs, "shadowExpire").and_then(|v| v.trim().parse::<i64>().ok()).is_some_and(|d| d >= 0 && d <= today);
    uac.is_some_and(|u| u & 2 != 0) || locked || ns_lock || expired
}

fn unavailable(e: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

/// The LDAP result code of invalid credentials.
const INVALID_CREDENTIALS: u32 = 49;

pub struct Ldap {
    settings: LdapSettings,
}

impl Ldap {
    pub fn new(settings: LdapSettings) -> Ldap {
        Ldap { settings }
    }

    /// Checks `login` and `password` against the directory.
    pub async fn authenticate(&self, login: &str, password: &str) -> Result<DirectoryUser, DirectoryError> {
        let login = login.trim();
        if login.is_empty() || password.is_empty() {
            return Err(DirectoryError::BadCredentials);
        }
        let s = &self.settings;
        let conn = LdapConnSettings::new()
            .set_conn_timeout(s.timeout)
            .set_starttls(s.starttls)
            .set_no_tls_verify(s.tls_insecure);
        let (driver, mut ldap) = LdapConnAsync::with_settings(conn, &s.url).await.map_err(unavailable)?;
        ldap3::drive!(driver);
        if let Some(dn) = &s.bind_dn {
            let pw = s.bind_password.as_deref().unwrap_or("");
            ldap.with_timeout(s.timeout).simple_bind(dn, pw).await.and_then(|r| r.success()).map_err(|e| {
                tracing::error!(error = %e, "directory service bind failed");
                unavailable("the service account could not bind")
            })?;
        }
        let filter = s.user_filter.replace("{login}", &ldap_escape(login));
        let (found, _) = ldap
            .with_timeout(s.timeout)
            .search(&s.user_base, Scope::Subtree, &filter, USER_ATTRS.to_vec())
            .await
            .and_then(|r| r.success())
            .map_err(unavailable)?;
        let mut found = found.into_iter();
        let entry = match (found.next(), found.next()) {
            (Some(e), None) => SearchEntry::construct(e),
            (None, _) => return Err(DirectoryError::BadCredentials),
            (Some(_), Some(_)) => return Err(DirectoryError::Ambiguous),
        };
        let mut groups: Vec<String> = all(&entry.attrs, "memberOf");
        if let Some(base) = &s.group_base {
            let filter = s.group_filter.replace("{dn}", &ldap_escape(&entry.dn));
            let (rows, _) = ldap
                .with_timeout(s.timeout)
                .search(base, Scope::Subtree, &filter, vec!["1.1"])
                .await
                .and_then(|r| r.success())
                .map_err(unavailable)?;
            groups.extend(rows.into_iter().map(|r| SearchEntry::construct(r).dn));
        }
        groups.sort();
        groups.dedup();
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64 / 86_400)
            .unwrap_or(0);
        let disabled = is_disabled(&entry.attrs, today);
        // The password is checked last, as the account itself, and even for a disabled account
        // (so that "disabled" is never said to someone who does not know the password).
        let bound = ldap.with_timeout(s.timeout).simple_bind(&entry.dn, password).await.map_err(unavailable)?;
        let _ = ldap.unbind().await;
        if bound.rc == INVALID_CREDENTIALS {
            return Err(DirectoryError::BadCredentials);
        }
        bound.success().map_err(unavailable)?;
        if disabled {
            return Err(DirectoryError::Disabled { email: first(&entry.attrs, "mail") });
        }
        Ok(DirectoryUser {
            email: first(&entry.attrs, "mail"),
            first_name: first(&entry.attrs, "givenName"),
            last_name: first(&entry.attrs, "sn"),
            dn: entry.dn,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
        pairs.iter().map(|(k, v)| (k.to_string(), vec![v.to_string()])).collect()
    }

    #[test]
    fn disabled_accounts_of_every_directory_kind() {
        let today = 20_000;
        assert!(!is_disabled(&attrs(&[("userAccountControl", "512")]), today));
        assert!(is_disabled(&attrs(&[("userAccountControl", "514")]), today));
        assert!(is_disabled(&attrs(&[("pwdAccountLockedTime", "000001010000Z")]), today));
        assert!(is_disabled(&attrs(&[("nsAccountLock", "TRUE")]), today));
        assert!(is_disabled(&attrs(&[("shadowExpire", "1")]), today));
        assert!(!is_disabled(&attrs(&[("shadowExpire", "30000")]), today));
        assert!(!is_disabled(&attrs(&[("shadowExpire", "-1")]), today));
        assert!(!is_disabled(&attrs(&[("mail", "a@b")]), today));
    }

    #[tokio::test]
    async fn empty_passwords_never_bind() {
        // The URL is never contacted: the check comes first.
        let l = Ldap::new(LdapSettings {
            url: "ldap://127.0.0.1:1".into(),
            starttls: false,
            tls_insecure: false,
            bind_dn: None,
            bind_password: None,
            user_base: "dc=x".into(),
            user_filter: DEFAULT_USER_FILTER.into(),
            group_base: None,
            group_filter: DEFAULT_GROUP_FILTER.into(),
            timeout: Duration::from_secs(1),
        });
        assert_eq!(l.authenticate("ann", "").await, Err(DirectoryError::BadCredentials));
        assert_eq!(l.authenticate("  ", "pw").await, Err(DirectoryError::BadCredentials));
    }
}
