//! Synthetic identity documents, drawn from scratch: a TD3 passport data page (125×88 mm) or a
//! TD1 ID card (85.6×54 mm, front and back), with labelled printed fields in DejaVu Sans, an MRZ
//! in OCR-B at ICAO's 10 characters per inch, a portrait cut from a real photo, and a tinted
//! guilloche background. Data can be valid or deliberately wrong (expired, tampered visual zone,
//! broken check digit); the page can then be photographed: put on a desk, turned, tilted in
//! perspective, blurred, lit with glare and saved as a lossy JPEG.
//!
//! Fonts come from Debian (`fonts-ocr-b`, `fonts-dejavu-core`); nothing here is copied from
//! real specimens.

mod draw;
mod photo;

pub use photo::{Capture, photograph};

use anyhow::{Context, Result};
use image::RgbImage;
use vigil_mrz::{Date, check_digit};

pub const OCRB: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";
pub const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
pub const DEJAVU_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// A deterministic generator (SplitMix64), so a seed names a document set.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * (hi - lo)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// The MRZ layout to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Passport data page.
    Td3,
    /// ID card (front with the fields, back with the MRZ).
    Td1,
}

/// What is wrong with a document, on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    None,
    /// Expired before the reference date.
    Expired,
    /// The printed surname and birth date differ from the MRZ's.
    Tampered,
    /// The document number's check digit is wrong (and the composite recomputed around it).
    BadCheckDigit,
    /// The holder is under 18.
    Minor,
}

/// The holder and the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub document_code: String,
    pub issuing_state: String,
    pub surname: String,
    pub given_names: String,
    pub document_number: String,
    pub nationality: String,
    pub birth: Date,
    pub sex: char,
    pub issue: Date,
    pub expiry: Date,
    pub place_of_birth: String,
    pub optional: String,
}

const SURNAMES: &[&str] = &[
    "MARTIN",
    "NOVAK",
    "OKAFOR",
    "JANSSEN",
    "FERREIRA",
    "KOWALSKI",
    "LINDQVIST",
    "MORENO",
    "HADDAD",
    "PETERSEN",
    "O'BRIEN",
    "DUBOIS-LEROY",
    "SCHMIDT",
    "NGUYEN",
    "ROSSI",
    "IVANOVA",
    "BERGMAN",
    "DA SILVA",
    "KIM",
    "WOJCIK",
    "ABERNATHY-CLOUGH",
    "VASQUEZ",
    "TANAKA",
    "MUELLER",
    "HOLLOWAY",
    "QUIGLEY",
    "ZAHARIEVA",
    "EKWUEME",
];
const GIVEN: &[&str] = &[
    "ANNA",
    "JOHN",
    "MARIA",
    "PIETER",
    "CHIDI",
    "SOFIA",
    "LUKAS",
    "AMARA",
    "JOAO",
    "ELIF",
    "KAROLINA",
    "OMAR",
    "ANNE-MARIE",
    "JEAN PAUL",
    "XAVIER",
    "YUKI",
    "GRETA",
    "BOGDAN",
    "QUINN",
    "HUGO",
    "ZOE",
    "NKEM",
];
const STATES: &[&str] =
    &["NLD", "FRA", "D", "CAN", "NOR", "POL", "PRT", "ESP", "KEN", "SWE", "AUT", "GBR", "IRL", "CZE"];
const PLACES: &[&str] = &["AMSTERDAM", "LYON", "HAMBURG", "TORONTO", "BERGEN", "KRAKOW", "PORTO", "NAIROBI", "MALMO"];
const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// The reference date the generated documents are valid (or expired) against: today.
pub fn today() -> Date {
    Date::today()
}

fn date(rng: &mut Rng, from: i32, to: i32) -> Date {
    loop {
        let y = from + rng.below((to - from).max(1) as usize) as i32;
        if let Some(d) = Date::new(y, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32) {
            return d;
        }
    }
}

fn alnum(rng: &mut Rng, n: usize, letters: bool) -> String {
    const A: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    const D: &[u8] = b"0123456789";
    (0..n).map(|i| if letters && i < 2 { *rng.pick(A) as char } else { *rng.pick(D) as char }).collect()
}

impl Holder {
    /// A random holder with a valid document, seen from [`today`].
    pub fn random(rng: &mut Rng, layout: Layout) -> Holder {
        let state = rng.pick(STATES).to_string();
        let issue = date(rng, today().year - 8, today().year);
        let years = if layout == Layout::Td3 { 10 } else { 5 + rng.below(6) as i32 };
        let mut expiry = Date::new(issue.year + years, issue.month, issue.day).unwrap_or(issue);
        expiry.day = expiry.day.saturating_sub(1).max(1);
        if expiry <= today() {
            expiry.year = today().year + 1 + rng.below(5) as i32;
        }
        let given = if rng.below(3) == 0 {
            format!("{} {}", rng.pick(GIVEN), rng.pick(GIVEN))
        } else {
            rng.pick(GIVEN).to_string()
        };
        let letters = rng.below(2) == 0;
        let number = alnum(rng, 9, letters);
        let opt_len = 9 + 2 * rng.below(2);
        let optional = if rng.below(2) == 0 { String::new() } else { alnum(rng, opt_len, false) };
        Holder {
            document_code: if layout == Layout::Td3 { "P".into() } else { "ID".into() },
            issuing_state: state.clone(),
            surname: rng.pick(SURNAMES).to_string(),
            given_names: given,
            document_number: number,
            nationality: state,
            birth: date(rng, today().year - 85, today().year - 19),
            sex: if rng.below(2) == 0 { 'F' } else { 'M' },
            issue,
            expiry,
            place_of_birth: rng.pick(PLACES).to_string(),
            optional,
        }
    }

    /// A name field of the MRZ: surname, `<<`, given names, fillers, cut to `width`.
    fn mrz_name(&self, width: usize) -> String {
        let conv = |s: &str| vigil_mrz::normalise_name(s).replace(' ', "<");
        let mut s = format!("{}<<{}", conv(&self.surname), conv(&self.given_names));
        s.truncate(width);
        pad(&s, width)
    }

    /// The MRZ lines for the layout, with every check digit right.
    pub fn mrz(&self, layout: Layout) -> Vec<String> {
        let state = pad(&self.issuing_state, 3);
        let nat = pad(&self.nationality, 3);
        let number = pad(&self.document_number, 9);
        let cd = |s: &str| check_digit(s).unwrap_or('0');
        let (birth, expiry) = (self.birth.yymmdd_string(), self.expiry.yymmdd_string());
        match layout {
            Layout::Td3 => {
                let l1 = format!("{}{state}{}", pad(&self.document_code, 2), self.mrz_name(39));
                let opt = pad(&self.optional, 14);
                let opt_cd = if self.optional.is_empty() { '<' } else { cd(&opt) };
                let body = format!(
                    "{number}{}{nat}{birth}{}{}{expiry}{}{opt}{opt_cd}",
                    cd(&number),
                    cd(&birth),
                    self.sex,
                    cd(&expiry)
                );
                recompute_composite(layout, vec![l1, format!("{body}0")])
            }
            Layout::Td1 => {
                let l1 =
                    format!("{}{state}{number}{}{}", pad(&self.document_code, 2), cd(&number), pad(&self.optional, 15));
                let l2 = format!("{birth}{}{}{expiry}{}{nat}{}0", cd(&birth), self.sex, cd(&expiry), pad("", 11));
                recompute_composite(layout, vec![l1, l2, self.mrz_name(30)])
            }
        }
    }
}

fn pad(s: &str, n: usize) -> String {
    let mut s = s.replace(' ', "<");
    while s.len() < n {
        s.push('<');
    }
    s
}

/// A date as passports print it.
pub fn printed_date(d: Date) -> String {
    format!("{:02} {} {}", d.day, MONTHS[d.month as usize - 1], d.year)
}

/// A generated document and what it truly says.
#[derive(Debug, Clone)]
pub struct Document {
    pub layout: Layout,
    pub defect: Defect,
    pub holder: Holder,
    /// What the MRZ says (for `BadCheckDigit`, with the wrong digit).
    pub mrz: Vec<String>,
    /// What the visual zone prints, by field name.
    pub printed: Vec<(&'static str, String)>,
    /// The page with the MRZ (TD3) or the card's front and back (TD1).
    pub pages: Vec<RgbImage>,
}

/// Draws a document. `portrait` is the holder's face photo (any size; cropped to 35×45).
pub fn document(
    rng: &mut Rng,
    layout: Layout,
    defect: Defect,
    portrait: &RgbImage,
    px_per_mm: f32,
) -> Result<Document> {
    let fonts = draw::Fonts::load().context("fonts (apt: fonts-ocr-b fonts-dejavu-core)")?;
    let mut holder = Holder::random(rng, layout);
    match defect {
        Defect::Expired => {
            holder.expiry = date(rng, today().year - 7, today().year);
            if holder.expiry >= today() {
                holder.expiry.year = today().year - 2;
            }
            holder.issue = Date { year: holder.expiry.year - 5, ..holder.expiry };
        }
        Defect::Minor => holder.birth = date(rng, today().year - 16, today().year - 10),
        _ => {}
    }
    let mut mrz = holder.mrz(layout);
    let mut printed_holder = holder.clone();
    match defect {
        Defect::Tampered => {
            printed_holder.surname = rng
                .pick(SURNAMES.iter().filter(|s| **s != holder.surname).copied().collect::<Vec<_>>().as_slice())
                .to_string();
            printed_holder.birth = Date { year: holder.birth.year - 3, ..holder.birth };
        }
        Defect::BadCheckDigit => {
            // The document number's digit is off by one; the composite is recomputed over the
            // wrong digit so that only the number's check fails.
            let (line, at) = if layout == Layout::Td3 { (1, 9) } else { (0, 14) };
            let mut b = mrz[line].clone().into_bytes();
            b[at] = b'0' + (b[at] - b'0' + 1) % 10;
            mrz[line] = String::from_utf8(b).unwrap_or_default();
            mrz = recompute_composite(layout, mrz);
        }
        _ => {}
    }
    let printed = printed_fields(&printed_holder, layout);
    let pages = match layout {
        Layout::Td3 => vec![draw::passport(&fonts, rng, &printed, &mrz, portrait, px_per_mm)],
        Layout::Td1 => {
            let (front, back) = draw::id_card(&fonts, rng, &printed, &mrz, portrait, px_per_mm);
            vec![front, back]
        }
    };
    Ok(Document { layout, defect, holder, mrz, printed, pages })
}

/// Sets the composite check digit (the last character of line 2) from the lines' data.
fn recompute_composite(layout: Layout, mut mrz: Vec<String>) -> Vec<String> {
    let format = if layout == Layout::Td3 { vigil_mrz::Format::Td3 } else { vigil_mrz::Format::Td1 };
    let refs: Vec<&str> = mrz.iter().map(String::as_str).collect();
    let c = check_digit(&vigil_mrz::composite_data(format, &refs)).unwrap_or('0');
    let l2 = &mrz[1];
    mrz[1] = format!("{}{c}", &l2[..l2.len() - 1]);
    mrz
}

fn printed_fields(h: &Holder, layout: Layout) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("surname", h.surname.clone()),
        ("given_names", h.given_names.clone()),
        ("nationality", h.nationality.clone()),
        ("date_of_birth", printed_date(h.birth)),
        ("sex", h.sex.to_string()),
        ("document_number", h.document_number.clone()),
        ("date_of_expiry", printed_date(h.expiry)),
    ];
    if layout == Layout::Td3 {
        v.extend([
            ("document_code", h.document_code.clone()),
            ("issuing_state", h.issuing_state.clone()),
            ("place_of_birth", h.place_of_birth.clone()),
            ("date_of_issue", printed_date(h.issue)),
        ]);
    }
    v
}
