//! ICAO 9303 machine-readable zones (MRZ): the TD1 (3×30, ID cards), TD2 (2×36) and TD3 (2×44,
//! passports) layouts, check digits, parsing into fields, the ICAO country codes, calendar dates,
//! and the OCR-confusion-tolerant comparisons that visual-versus-MRZ checks need.
//!
//! No dependencies and no I/O: native OCR in the host constrains its decoder with [`template`]
//! and validates with [`Mrz::parse`]; Wasm document checks re-verify the same lines.

mod dates;
mod text;

pub use dates::{Date, parse_visual_date};
pub use text::{fold, name_matches, normalise_name, same_text};

/// The 37 characters an MRZ may hold, in the order of [`Mask`] bits.
pub const ALPHABET: &[u8; 37] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

/// A set of allowed characters: bit i is `ALPHABET[i]`.
pub type Mask = u64;

const LETTERS: Mask = (1 << 26) - 1;
const DIGITS: Mask = ((1 << 10) - 1) << 26;
const FILLER: Mask = 1 << 36;
/// Letters and the filler: names, states, document codes.
pub const ALPHA: Mask = LETTERS | FILLER;
/// Digits only: dates and check digits.
pub const DIGIT: Mask = DIGITS;
/// Any MRZ character: document numbers, optional data.
pub const ANY: Mask = LETTERS | DIGITS | FILLER;
const DIGIT_OR_FILLER: Mask = DIGITS | FILLER;

fn bit(c: u8) -> Mask {
    ALPHABET.iter().position(|&a| a == c).map_or(0, |i| 1 << i)
}

/// The index of `c` in [`ALPHABET`].
pub fn alphabet_index(c: char) -> Option<usize> {
    ALPHABET.iter().position(|&a| a as char == c)
}

/// The value of an MRZ character in a check-digit sum: digits as themselves, A–Z as 10–35, the
/// filler as 0.
pub fn char_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        '<' => Some(0),
        _ => None,
    }
}

/// The ICAO 9303 check digit of `s` (weights 7, 3, 1 repeating, modulo 10); `None` when `s`
/// holds a character an MRZ cannot.
pub fn check_digit(s: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, c) in s.chars().enumerate() {
        sum += char_value(c)? * [7, 3, 1][i % 3];
    }
    char::from_digit(sum % 10, 10)
}

/// An MRZ layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// ID cards: three lines of 30.
    Td1,
    /// Two lines of 36.
    Td2,
    /// Passports: two lines of 44.
    Td3,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Td1, Format::Td2, Format::Td3];

    pub fn lines(self) -> usize {
        if self == Format::Td1 { 3 } else { 2 }
    }

    pub fn width(self) -> usize {
        match self {
            Format::Td1 => 30,
            Format::Td2 => 36,
            Format::Td3 => 44,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Td1 => "TD1",
            Format::Td2 => "TD2",
            Format::Td3 => "TD3",
        }
    }
}

/// Per line, the characters allowed at each position: what a decoder constrained to the layout
/// may emit. Dates allow the filler (unknown parts of a birth date are written `<`).
pub fn template(format: Format) -> Vec<Vec<Mask>> {
    let run = |v: &mut Vec<Mask>, n: usize, m: Mask| v.extend(std::iter::repeat_n(m, n));
    let code = |v: &mut Vec<Mask>| {
        v.push(LETTERS);
        v.push(ALPHA);
        run(v, 3, ALPHA);
    };
    match format {
        Format::Td3 | Format::Td2 => {
            let w = format.width();
            let mut l1 = Vec::with_capacity(w);
            code(&mut l1);
            run(&mut l1, w - 5, ALPHA);
            let mut l2 = Vec::with_capacity(w);
            run(&mut l2, 9, ANY);
            l2.push(DIGIT);
            run(&mut l2, 3, ALPHA);
            run(&mut l2, 6, DIGIT_OR_FILLER);
            l2.push(DIGIT);
            l2.push(bit(b'M') | bit(b'F') | bit(b'X') | FILLER);
            run(&mut l2, 6, DIGIT);
            l2.push(DIGIT);
            if format == Format::Td3 {
                run(&mut l2, 14, ANY);
                l2.push(DIGIT_OR_FILLER);
            } else {
                run(&mut l2, 7, ANY);
            }
            l2.push(DIGIT);
            vec![l1, l2]
        }
        Format::Td1 => {
            let mut l1 = Vec::with_capacity(30);
            code(&mut l1);
            run(&mut l1, 9, ANY);
            l1.push(DIGIT_OR_FILLER);
            run(&mut l1, 15, ANY);
            let mut l2 = Vec::with_capacity(30);
            run(&mut l2, 6, DIGIT_OR_FILLER);
            l2.push(DIGIT);
            l2.push(bit(b'M') | bit(b'F') | bit(b'X') | FILLER);
            run(&mut l2, 6, DIGIT);
            l2.push(DIGIT);
            run(&mut l2, 3, ALPHA);
            run(&mut l2, 11, ANY);
            l2.push(DIGIT);
            let l3 = vec![ALPHA; 30];
            vec![l1, l2, l3]
        }
    }
}

/// The data the composite check digit guards: the last line's check digit covers these
/// characters of `lines` (which must have the layout's shape).
pub fn composite_data(format: Format, lines: &[&str]) -> String {
    match format {
        Format::Td1 => format!("{}{}{}{}", &lines[0][5..30], &lines[1][0..7], &lines[1][8..15], &lines[1][18..29]),
        Format::Td2 | Format::Td3 => {
            let w = format.width();
            format!("{}{}{}", &lines[1][0..10], &lines[1][13..20], &lines[1][21..w - 1])
        }
    }
}

/// One check digit: which field it guards, what the MRZ says and what the data gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub field: &'static str,
    pub found: char,
    pub expected: char,
}

impl Check {
    pub fn valid(&self) -> bool {
        self.found == self.expected
    }
}

/// A parsed MRZ. Strings are as in the MRZ with fillers turned into spaces and trimmed; dates
/// stay `YYMMDD` (see [`Date::birth`] and [`Date::expiry`] for the century).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrz {
    pub format: Format,
    pub lines: Vec<String>,
    pub document_code: String,
    pub issuing_state: String,
    pub surname: String,
    pub given_names: String,
    pub document_number: String,
    pub nationality: String,
    pub birth_date: String,
    pub sex: String,
    pub expiry_date: String,
    pub optional_data: String,
    /// TD1's second optional field (line 2).
    pub optional_data_2: String,
    pub checks: Vec<Check>,
}

fn clean(s: &str) -> String {
    s.trim_end_matches('<').replace('<', " ").trim().to_string()
}

fn check(field: &'static str, data: &str, found: char, empty_may_be_filler: bool) -> Check {
    let expected = check_digit(data).unwrap_or('?');
    // ICAO lets an all-filler optional field carry `<` as its check digit.
    let expected = if empty_may_be_filler && found == '<' && data.chars().all(|c| c == '<') { '<' } else { expected };
    Check { field, found, expected }
}

impl Mrz {
    /// Parses lines of one layout (picked by the number and length of the lines). Refuses lines
    /// of the wrong length or with characters no MRZ holds; check digits are reported, not
    /// enforced (see [`Mrz::valid`]).
    pub fn parse(lines: &[&str]) -> Result<Mrz, String> {
        let format = match (lines.len(), lines.first().map_or(0, |l| l.len())) {
            (3, 30) => Format::Td1,
            (2, 36) => Format::Td2,
            (2, 44) => Format::Td3,
            (n, w) => {
                return Err(format!("{n} lines of {w} characters are no MRZ layout (TD1 3×30, TD2 2×36, TD3 2×44)"));
            }
        };
        for (i, l) in lines.iter().enumerate() {
            if l.len() != format.width() {
                return Err(format!(
                    "line {} has {} characters; {} needs {}",
                    i + 1,
                    l.len(),
                    format.name(),
                    format.width()
                ));
            }
            if let Some(c) = l.chars().find(|&c| char_value(c).is_none()) {
                return Err(format!("line {} holds '{c}', which no MRZ does", i + 1));
            }
        }
        let at = |l: usize, r: std::ops::Range<usize>| lines[l][r].to_string();
        let ch = |l: usize, i: usize| lines[l].as_bytes()[i] as char;
        // Per layout: where each field sits (line, range), and the check digits.
        let (names, number, nationality, birth, sex, expiry, optional, optional_2, checks) = match format {
            Format::Td3 | Format::Td2 => {
                let w = format.width();
                let opt_end = if format == Format::Td3 { 42 } else { 35 };
                let mut checks = vec![
                    check("document_number", &at(1, 0..9), ch(1, 9), false),
                    check("birth_date", &at(1, 13..19), ch(1, 19), false),
                    check("expiry_date", &at(1, 21..27), ch(1, 27), false),
                ];
                if format == Format::Td3 {
                    checks.push(check("optional_data", &at(1, 28..42), ch(1, 42), true));
                }
                checks.push(check("composite", &composite_data(format, lines), ch(1, w - 1), false));
                let fields = (at(1, 0..9), at(1, 10..13), at(1, 13..19), at(1, 20..21), at(1, 21..27));
                (
                    at(0, 5..w),
                    fields.0,
                    fields.1,
                    fields.2,
                    fields.3,
                    fields.4,
                    at(1, 28..opt_end),
                    String::new(),
                    checks,
                )
            }
            Format::Td1 => {
                let (mut number, mut number_check) = (at(0, 5..14), ch(0, 14));
                let mut optional = at(0, 15..30);
                // A number longer than nine characters continues in the optional field, ending
                // with its check digit; position 15 then holds a filler.
                if number_check == '<' {
                    let cont: String = optional.chars().take_while(|&c| c != '<').collect();
                    if let Some(last) = cont.chars().last() {
                        number.push_str(&cont[..cont.len() - 1]);
                        number_check = last;
                        optional = optional[cont.len()..].to_string();
                    }
                }
                let checks = vec![
                    check("document_number", &number, number_check, false),
                    check("birth_date", &at(1, 0..6), ch(1, 6), false),
                    check("expiry_date", &at(1, 8..14), ch(1, 14), false),
                    check("composite", &composite_data(format, lines), ch(1, 29), false),
                ];
                let (birth, sex, expiry) = (at(1, 0..6), at(1, 7..8), at(1, 8..14));
                (at(2, 0..30), number, at(1, 15..18), birth, sex, expiry, optional, at(1, 18..29), checks)
            }
        };
        let (primary, secondary) = names.split_once("<<").unwrap_or((names.as_str(), ""));
        Ok(Mrz {
            format,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            document_code: clean(&at(0, 0..2)),
            issuing_state: clean(&at(0, 2..5)),
            surname: clean(primary),
            given_names: clean(secondary),
            document_number: clean(&number),
            nationality: clean(&nationality),
            birth_date: birth,
            sex: clean(&sex),
            expiry_date: expiry,
            optional_data: clean(&optional),
            optional_data_2: clean(&optional_2),
            checks,
        })
    }

    /// Every check digit agrees with its data.
    pub fn valid(&self) -> bool {
        self.checks.iter().all(Check::valid)
    }

    /// The checks that fail.
    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.valid())
    }
}

/// ICAO 9303 Part 3 codes: ISO 3166-1 alpha-3, Germany's `D`, the British nationality classes,
/// UN and other organisations' documents, stateless persons and refugees.
pub const COUNTRY_CODES: &[&str] = &[
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF", "ATG", "AUS", "AUT",
    "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS", "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL",
    "BRA", "BRB", "BRN", "BTN", "BVT", "BWA", "CAF", "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG",
    "COK", "COL", "COM", "CPV", "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "D", "DEU", "DJI", "DMA", "DNK",
    "DOM", "DZA", "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "EUE", "FIN", "FJI", "FLK", "FRA", "FRO", "FSM",
    "GAB", "GBD", "GBN", "GBO", "GBP", "GBR", "GBS", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ",
    "GRC", "GRD", "GRL", "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN", "IND",
    "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ", "KEN", "KGZ", "KHM", "KIR",
    "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA", "LSO", "LTU", "LUX", "LVA", "MAC", "MAF",
    "MAR", "MCO", "MDA", "MDG", "MDV", "MEX", "MHL", "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT",
    "MSR", "MTQ", "MUS", "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL",
    "NRU", "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK", "PRT", "PRY", "PSE",
    "PYF", "QAT", "REU", "RKS", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP", "SGS", "SHN", "SJM", "SLB", "SLE",
    "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR", "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA",
    "TCD", "TGO", "THA", "TJK", "TKL", "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA", "UKR",
    "UMI", "UNA", "UNK", "UNO", "URY", "USA", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM",
    "XBA", "XCC", "XCE", "XCO", "XDC", "XEC", "XES", "XIM", "XMP", "XOM", "XPO", "XXA", "XXB", "XXC", "XXX", "YEM",
    "ZAF", "ZMB", "ZWE",
];

/// Whether `code` (fillers allowed at the end, as in the MRZ) is an ICAO issuing-state or
/// nationality code.
pub fn is_country_code(code: &str) -> bool {
    let c = code.trim_end_matches('<').trim();
    COUNTRY_CODES.binary_search(&c).is_ok()
}

#[cfg(test)]
mod tests;
