//! `OZ_PASSWORD_POLICY`: a comma-separated rule list, e.g. `min_length=8,upper,lower,digit,special`.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    pub upper: bool,
    pub lower: bool,
    pub digit: bool,
    pub special: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 8, max_length: 256, upper: true, lower: true, digit: true, special: false }
    }
}

impl PasswordPolicy {
    /// Parses the rule list. An empty string means "no class rules, minimum length 1".
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let mut p = Self { min_length: 1, upper: false, lower: false, digit: false, special: false, ..Self::default() };
        for rule in s.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            match rule.split_once('=') {
                Some(("min_length", n)) => p.min_length = n.parse().map_err(|_| format!("bad min_length '{n}'"))?,
                Some(("max_length", n)) => p.max_length = n.parse().map_err(|_| format!("bad max_length '{n}'"))?,
                None if rule == "upper" => p.upper = true,
                None if rule == "lower" => p.lower = true,
                None if rule == "digit" => p.digit = true,
                None if rule == "special" => p.special = true,
                _ => return Err(format!("unknown password policy rule '{rule}'")),
            }
        }
        Ok(p)
    }

    /// Checks a password; the error names the first rule it breaks.
    pub fn check(&self, pw: &str) -> Result<()> {
        let n = pw.chars().count();
        let fail = |rule: &str| Err(Error::value(format!("password does not satisfy the policy: {rule}")));
        if n < self.min_length {
            return fail(&format!("it must be at least {} characters long", self.min_length));
        }
        if n > self.max_length {
            return fail(&format!("it must be at most {} characters long", self.max_length));
        }
        if self.upper && !pw.chars().any(char::is_uppercase) {
            return fail("it must contain an upper-case letter");
        }
        if self.lower && !pw.chars().any(char::is_lowercase) {
            return fail("it must contain a lower-case letter");
        }
        if self.digit && !pw.chars().any(|c| c.is_ascii_digit()) {
            return fail("it must contain a digit");
        }
        if self.special && !pw.chars().any(|c| !c.is_alphanumeric()) {
            return fail("it must contain a special character");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy() {
        let p = PasswordPolicy::default();
        assert!(p.check("Secret123").is_ok());
        assert!(p.check("Sh0rt").unwrap_err().message.contains("at least 8"));
        assert!(p.check("nouppercase1").unwrap_err().message.contains("upper-case"));
        assert!(p.check("NoDigitsHere").unwrap_err().message.contains("digit"));
    }

    #[test]
    fn parsed_policy() {
        let p = PasswordPolicy::parse("min_length=12,special").unwrap();
        assert!(p.check("abcdefghijk!").is_ok());
        assert!(p.check("abcdefghijkl").unwrap_err().message.contains("special"));
        assert!(PasswordPolicy::parse("bogus").is_err());
    }
}
