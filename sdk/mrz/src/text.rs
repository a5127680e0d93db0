//! Comparing what OCR read in the visual zone with the MRZ.

/// Folds the characters OCR confuses (O/0, I/1/L, S/5, B/8, Z/2, G/6) to one of each pair and
/// keeps only letters and digits, upper-cased: two readings of one text fold to the same string.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_uppercase)
        .filter(char::is_ascii_alphanumeric)
        .map(|c| match c {
            '0' | 'Q' | 'D' => 'O',
            '1' | 'L' => 'I',
            '5' => 'S',
            '8' => 'B',
            '2' => 'Z',
            '6' => 'G',
            c => c,
        })
        .collect()
}

/// Whether a visual reading and an MRZ value are the same text, up to OCR confusions, spacing and
/// punctuation.
pub fn same_text(visual: &str, mrz: &str) -> bool {
    let (v, m) = (fold(visual), fold(mrz));
    !m.is_empty() && v == m
}

/// A name as the MRZ writes it: upper-case Latin letters separated by single spaces; hyphens and
/// other separators become spaces, apostrophes vanish, common accented letters lose their accent
/// (and Ä/Ö/Ü/ß take ICAO's AE/OE/UE/SS).
pub fn normalise_name(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_uppercase) {
        let mapped: &str = match c {
            'Ä' | 'Æ' => "AE",
            'Ö' | 'Ø' | 'Œ' => "OE",
            'Ü' => "UE",
            'ß' => "SS",
            'À' | 'Á' | 'Â' | 'Ã' | 'Å' => "A",
            'Ç' => "C",
            'È' | 'É' | 'Ê' | 'Ë' => "E",
            'Ì' | 'Í' | 'Î' | 'Ï' => "I",
            'Ñ' => "N",
            'Ò' | 'Ó' | 'Ô' | 'Õ' => "O",
            'Ù' | 'Ú' | 'Û' => "U",
            'Ý' => "Y",
            '\'' | '’' | '`' => "",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => " ",
        };
        out.push_str(mapped);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a printed name agrees with the MRZ's: equal after normalising and folding, or the MRZ
/// holds a truncation of it (long names are cut to fit the line) of at least `min_len` letters.
pub fn name_matches(visual: &str, mrz: &str, truncated: bool) -> bool {
    let v = fold(&normalise_name(visual));
    let m = fold(&normalise_name(mrz));
    if m.is_empty() {
        return v.is_empty();
    }
    v == m || (truncated && v.starts_with(&m))
}
