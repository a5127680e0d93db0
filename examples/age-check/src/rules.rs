//! The rules, testable with `cargo test` on your machine.

use vigil_mrz::{Date, parse_visual_date};

pub struct Rules {
    pub min_age: i32,
    pub nationalities: String,
    pub number_format: String,
}

fn matches_format(number: &str, format: &str) -> bool {
    number.chars().count() == format.chars().count()
        && number.chars().zip(format.chars()).all(|(c, f)| match f {
            'A' => c.is_ascii_uppercase(),
            '9' => c.is_ascii_digit(),
            '*' => c.is_ascii_alphanumeric(),
            other => c == other,
        })
}

impl Rules {
    /// (code, field, message) per broken rule.
    pub fn check(
        &self,
        birth: Option<String>,
        nationality: Option<String>,
        number: Option<String>,
        today: Date,
    ) -> Vec<(&'static str, &'static str, String)> {
        let mut out = Vec::new();
        let born = birth.as_deref().and_then(|b| Date::parse_iso(b).or_else(|| parse_visual_date(b, today.year)));
        match born {
            Some(b) if b.years_until(today) < self.min_age => out.push((
                "underage",
                "date_of_birth",
                format!("the holder is {} years old; at least {} is required", b.years_until(today), self.min_age),
            )),
            None => out.push(("underage", "date_of_birth", "the birth date could not be read".into())),
            _ => {}
        }
        let allowed: Vec<&str> = self.nationalities.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if let Some(n) = nationality.as_deref()
            && !allowed.is_empty()
            && !allowed.contains(&n.trim())
        {
            out.push(("nationality_not_allowed", "nationality", format!("nationality {n} is not accepted")));
        }
        if let Some(num) = number.as_deref()
            && !self.number_format.is_empty()
            && !matches_format(num, &self.number_format)
        {
            out.push((
                "document_number_format",
                "document_number",
                format!("document number {num} does not have the form {}", self.number_format),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_holds_and_breaks() {
        let today = Date::new(2026, 11, 30).unwrap();
        let r = Rules { min_age: 18, nationalities: "NLD, D".into(), number_format: "AA9999999".into() };
        let ok = r.check(Some("1990-05-01".into()), Some("NLD".into()), Some("XK1234567".into()), today);
        assert!(ok.is_empty(), "{ok:?}");
        let bad = r.check(Some("2010-12-01".into()), Some("FRA".into()), Some("123".into()), today);
        let codes: Vec<&str> = bad.iter().map(|b| b.0).collect();
        assert_eq!(codes, vec!["underage", "nationality_not_allowed", "document_number_format"]);
        // The eighteenth birthday counts.
        assert!(r.check(Some("2008-11-30".into()), None, None, today).is_empty());
        assert_eq!(r.check(Some("2008-12-01".into()), None, None, today)[0].0, "underage");
    }
}
