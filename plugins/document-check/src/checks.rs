//! The checks themselves, free of the plugin interface so they are unit-tested on the host.

use vigil_mrz::{Date, Mrz};

/// (name, visual, mrz).
pub type Field = (String, Option<String>, Option<String>);

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub code: &'static str,
    pub error: bool,
    pub message: String,
    pub field: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Params {
    pub today: Option<Date>,
    pub fields_to_check: Vec<String>,
}

impl Params {
    pub fn parse(json: &str) -> Result<Params, String> {
        let v: serde_json::Value = if json.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(json).map_err(|e| e.to_string())?
        };
        let today = match v.get("today").and_then(|t| t.as_str()) {
            Some(t) => Some(Date::parse_iso(t).ok_or_else(|| format!("params.today '{t}' is not YYYY-MM-DD"))?),
            None => None,
        };
        let fields_to_check = v
            .get("fields_to_check")
            .and_then(|f| f.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        Ok(Params { today, fields_to_check })
    }

    fn wanted(&self, field: &str) -> bool {
        self.fields_to_check.is_empty() || self.fields_to_check.iter().any(|f| f == field)
    }
}

fn error(code: &'static str, field: &str, message: String) -> Found {
    Found { code, error: true, message, field: Some(field.to_string()) }
}

/// Which result field a check digit guards.
fn guarded_field(check: &str) -> &str {
    match check {
        "birth_date" => "date_of_birth",
        "expiry_date" => "date_of_expiry",
        other => other,
    }
}

pub fn run(fields: &[Field], params: &Params) -> Vec<Found> {
    let today = params.today.unwrap_or_else(Date::today);
    let get = |name: &str| fields.iter().find(|f| f.0 == name);
    let mut out = Vec::new();
    // Check digits, from the lines.
    let lines: Vec<&str> = (1..=3).filter_map(|i| get(&format!("mrz_line_{i}")).and_then(|f| f.2.as_deref())).collect();
    let mrz = if lines.is_empty() { None } else { Mrz::parse(&lines).ok() };
    if let Some(m) = &mrz {
        for c in m.failed_checks() {
            let field = guarded_field(c.field);
            if c.field == "composite" || params.wanted(field) {
                out.push(error(
                    "mrz_check_digit",
                    field,
                    format!("the MRZ check digit of {} is {}, its data gives {}", c.field, c.found, c.expected),
                ));
            }
        }
    }
    // Dates.
    let date_of = |name: &str| -> (Option<Date>, Option<String>) {
        let Some(f) = get(name) else { return (None, None) };
        if let Some(m) = &f.2 {
            return (Date::parse_iso(m), Some(m.clone()));
        }
        match &f.1 {
            Some(v) => (vigil_mrz::parse_visual_date(v, today.year), Some(v.clone())),
            None => (None, None),
        }
    };
    let (birth, birth_raw) = date_of("date_of_birth");
    let (expiry, expiry_raw) = date_of("date_of_expiry");
    let (issue, _) = date_of("date_of_issue");
    for (name, d, raw) in [("date_of_birth", birth, &birth_raw), ("date_of_expiry", expiry, &expiry_raw)] {
        if let (None, Some(r)) = (d, raw)
            && params.wanted(name)
            && !r.contains('<')
        {
            out.push(error("date_invalid", name, format!("'{r}' is not a calendar date")));
        }
    }
    if let Some(e) = expiry
        && e < today
        && params.wanted("date_of_expiry")
    {
        out.push(error("document_expired", "date_of_expiry", format!("the document expired on {e}")));
    }
    if let Some(b) = birth {
        if b > today && params.wanted("date_of_birth") {
            out.push(error("date_invalid", "date_of_birth", format!("the birth date {b} is in the future")));
        }
        if expiry.is_some_and(|e| e <= b) && params.wanted("date_of_birth") {
            out.push(error("date_invalid", "date_of_birth", "the birth date is not before the expiry date".into()));
        }
    }
    if let (Some(i), Some(e)) = (issue, expiry)
        && i >= e
        && params.wanted("date_of_issue")
    {
        out.push(error("date_invalid", "date_of_issue", format!("issued on {i}, after its expiry on {e}")));
    }
    // Country codes: no check digit guards them.
    for name in ["issuing_state", "nationality"] {
        if let Some(code) = get(name).and_then(|f| f.2.as_deref())
            && params.wanted(name)
            && !vigil_mrz::is_country_code(code)
        {
            out.push(error("country_code_unknown", name, format!("'{code}' is not an ICAO country code")));
        }
    }
    // Printed against machine-readable.
    let name_full = mrz.as_ref().map(|m| {
        let line = &m.lines[if m.format == vigil_mrz::Format::Td1 { 2 } else { 0 }];
        !line.ends_with('<')
    });
    for (name, visual, mrz_value) in fields {
        let (Some(v), Some(m)) = (visual, mrz_value) else { continue };
        if name.starts_with("mrz_line") || !params.wanted(name) {
            continue;
        }
        let agree = match name.as_str() {
            "surname" | "given_names" => vigil_mrz::name_matches(v, m, name_full.unwrap_or(false)),
            "date_of_birth" | "date_of_expiry" => {
                match (vigil_mrz::parse_visual_date(v, today.year), Date::parse_iso(m)) {
                    (Some(a), Some(b)) => a == b,
                    _ => vigil_mrz::same_text(v, m),
                }
            }
            // Printed nationalities are often words ("CANADIAN"); only a printed code compares.
            "nationality" | "issuing_state" if vigil_mrz::fold(v).len() > 3 => true,
            _ => vigil_mrz::same_text(v, m),
        };
        if !agree {
            out.push(error(
                "visual_mrz_mismatch",
                name,
                format!("the printed {name} '{v}' disagrees with the MRZ's '{m}'"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const L1: &str = "P<NLDERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";

    fn line2(number: &str, birth: &str, expiry: &str, nat: &str) -> String {
        let cd = |s: &str| vigil_mrz::check_digit(s).unwrap();
        let body = format!("{number}{}{nat}{birth}{}F{expiry}{}<<<<<<<<<<<<<<<", cd(number), cd(birth), cd(expiry));
        let comp = format!("{}{}{}", &body[0..10], &body[13..20], &body[21..43]);
        format!("{body}{}", cd(&comp))
    }

    fn fields(l2: &str, visual_surname: &str, visual_birth: &str) -> Vec<Field> {
        let m = Mrz::parse(&[L1, l2]).unwrap();
        let today = Date::new(2026, 11, 30).unwrap();
        vec![
            ("mrz_line_1".into(), None, Some(L1.into())),
            ("mrz_line_2".into(), None, Some(l2.into())),
            ("surname".into(), Some(visual_surname.into()), Some(m.surname.clone())),
            ("issuing_state".into(), Some("NLD".into()), Some(m.issuing_state.clone())),
            ("nationality".into(), Some("DUTCH".into()), Some(m.nationality.clone())),
            (
                "date_of_birth".into(),
                Some(visual_birth.into()),
                Some(Date::birth(&m.birth_date, today).map_or(m.birth_date.clone(), |d| d.to_string())),
            ),
            (
                "date_of_expiry".into(),
                None,
                Some(Date::expiry(&m.expiry_date, today).map_or(m.expiry_date.clone(), |d| d.to_string())),
            ),
        ]
    }

    fn params() -> Params {
        Params { today: Date::new(2026, 11, 30), fields_to_check: vec![] }
    }

    fn codes(f: &[Found]) -> Vec<&str> {
        f.iter().map(|x| x.code).collect()
    }

    #[test]
    fn a_valid_document_passes_every_check() {
        let l2 = line2("L898902C3", "740812", "320415", "NLD");
        assert_eq!(run(&fields(&l2, "ERIKSSON", "12 AUG 1974"), &params()), vec![]);
        // OCR slips in the printed zone are tolerated.
        assert_eq!(run(&fields(&l2, "ERlKSS0N", "I2 AUG I974"), &params()), vec![]);
    }

    #[test]
    fn each_rule_fires_on_its_defect() {
        let good = line2("L898902C3", "740812", "320415", "NLD");
        let bad_digit = format!("{}7{}", &good[..9], &good[10..]);
        assert!(codes(&run(&fields(&bad_digit, "ERIKSSON", "12 AUG 1974"), &params())).contains(&"mrz_check_digit"));
        let expired = line2("L898902C3", "740812", "240415", "NLD");
        assert_eq!(codes(&run(&fields(&expired, "ERIKSSON", "12 AUG 1974"), &params())), vec!["document_expired"]);
        let tampered = run(&fields(&good, "JOHANSSON", "12 AUG 1971"), &params());
        assert_eq!(codes(&tampered), vec!["visual_mrz_mismatch", "visual_mrz_mismatch"]);
        let unknown = line2("L898902C3", "740812", "320415", "UTO");
        let f = run(&fields(&unknown, "ERIKSSON", "12 AUG 1974"), &params());
        assert_eq!(codes(&f), vec!["country_code_unknown"]);
        assert_eq!(f[0].field.as_deref(), Some("nationality"));
        let impossible = line2("L898902C3", "740231", "320415", "NLD");
        assert!(codes(&run(&fields(&impossible, "ERIKSSON", "31 FEB 1974"), &params())).contains(&"date_invalid"));
    }

    #[test]
    fn fields_to_check_narrows_the_checks() {
        let expired = line2("L898902C3", "740812", "240415", "NLD");
        let p = Params { fields_to_check: vec!["surname".into()], ..params() };
        assert_eq!(run(&fields(&expired, "ERIKSSON", "12 AUG 1974"), &p), vec![]);
        assert!(Params::parse(r#"{"today":"2026-13-01"}"#).is_err());
        assert_eq!(Params::parse(r#"{"fields_to_check":["sex"]}"#).unwrap().fields_to_check, vec!["sex"]);
    }
}
