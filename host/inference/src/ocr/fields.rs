//! Printed fields of the visual zone, found by their labels: a label line ("Surname / Nom",
//! "Date of birth", "Passport No.") names the field, and its value is the line just below it,
//! left-aligned with it (the layout of passport data pages and ID cards), or the text after the
//! label on the same line.

use super::document::{MrzReading, ReadOptions, TextLine, VisualField};

/// Field names and the label words that announce them, most specific first.
const LABELS: &[(&str, &[&[&str]])] = &[
    ("place_of_birth", &[&["place", "birth"], &["lieu", "naiss"]]),
    ("date_of_birth", &[&["birth"], &["naissance"], &["born"]]),
    ("date_of_expiry", &[&["expir"], &["valid", "until"]]),
    ("date_of_issue", &[&["issue", "date"], &["délivr"], &["deliv"]]),
    ("given_names", &[&["given"], &["forename"], &["first", "name"], &["prénom"], &["prenom"]]),
    ("surname", &[&["surname"], &["family", "name"], &["last", "name"]]),
    ("nationality", &[&["nationalit"]]),
    ("document_number", &[&["passport", "no"], &["document", "no"], &["card", "no"], &["number"], &["passeport", "n"]]),
    ("sex", &[&["sex"]]),
    ("authority", &[&["authority"], &["autorit"]]),
    ("issuing_state", &[&["code"], &["issuing", "state"]]),
    ("document_code", &[&["type"]]),
];

/// The field a line labels, if it is a label: its letters must hold every keyword of one of the
/// field's keyword sets, and it must be short, as labels are.
fn label_of(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() || words.len() > 8 {
        return None;
    }
    // Recognisers drop spaces ("Dateofbirth"), so keywords are looked for in the letters alone.
    let letters: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    LABELS
        .iter()
        .find(|(_, sets)| sets.iter().any(|set| set.iter().all(|k| letters.contains(k))))
        .map(|(name, _)| *name)
}

/// Locates the printed fields among the page's lines (the MRZ's own lines excluded).
pub fn locate(lines: &[TextLine], mrz: Option<&MrzReading>, opts: ReadOptions) -> Vec<VisualField> {
    let in_mrz = |l: &TextLine| {
        mrz.is_some_and(|m| {
            m.quads.iter().any(|q| {
                let (a, b) = q.project(l.quad.cx, l.quad.cy);
                let (ca, cb) = q.project(q.cx, q.cy);
                (a - ca).abs() <= q.w / 2.0 && (b - cb).abs() <= q.h
            })
        })
    };
    // On a double-page spread only the page holding the MRZ counts: from the MRZ up by about
    // the height of a passport page (0.8 of the MRZ's width).
    let on_page = |l: &TextLine| match (mrz, opts.double_page_spread) {
        (Some(m), true) => {
            let q = &m.quads[m.quads.len() - 1];
            let (_, b) = q.project(l.quad.cx, l.quad.cy);
            let (_, bottom) = q.project(q.cx, q.cy);
            bottom - b <= 0.85 * q.w
        }
        _ => true,
    };
    let usable: Vec<&TextLine> = lines.iter().filter(|l| !in_mrz(l) && on_page(l)).collect();
    let labels: Vec<(usize, &'static str)> =
        usable.iter().enumerate().filter_map(|(i, l)| label_of(&l.text).map(|n| (i, n))).collect();
    let is_label = |i: usize| labels.iter().any(|&(j, _)| j == i);
    let mut out: Vec<VisualField> = Vec::new();
    for &(i, name) in &labels {
        if out.iter().any(|f| f.name == name) {
            continue;
        }
        let label = usable[i];
        let lq = &label.quad;
        let (la, lb) = lq.project(lq.cx, lq.cy);
        let left = la - lq.w / 2.0;
        // Below: the nearest line starting near the label's left edge, within three label heights.
        let below = usable
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i && !is_label(j))
            .filter_map(|(j, l)| {
                let (a, b) = lq.project(l.quad.cx, l.quad.cy);
                let (l_left, drop) = (a - l.quad.w / 2.0, b - lb);
                let aligned = (l_left - left).abs() <= 2.0 * lq.h.max(l.quad.h);
                (aligned && drop > 0.4 * lq.h && drop < 3.0 * lq.h.max(l.quad.h)).then_some((j, drop))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((j, _)) = below {
            let v = usable[j];
            out.push(VisualField { name, value: v.text.clone(), confidence: v.confidence, label: label.text.clone() });
            continue;
        }
        // Inline: "Surname: DOE".
        if let Some((_, value)) = label.text.split_once(':') {
            let value = value.trim();
            if !value.is_empty() {
                out.push(VisualField {
                    name,
                    value: value.to_string(),
                    confidence: label.confidence,
                    label: label.text.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocr::Quad;

    fn line(text: &str, x: f32, y: f32, w: f32) -> TextLine {
        TextLine {
            text: text.into(),
            confidence: 0.9,
            quad: Quad { cx: x + w / 2.0, cy: y, ux: 1.0, uy: 0.0, w, h: 12.0 },
        }
    }

    #[test]
    fn labels_name_fields_and_values_sit_below_them() {
        assert_eq!(label_of("Surname / Nom"), Some("surname"));
        assert_eq!(label_of("Given names / Prénoms"), Some("given_names"));
        assert_eq!(label_of("Date of birth / Date de naissance"), Some("date_of_birth"));
        assert_eq!(label_of("Place of birth / Lieu de naissance"), Some("place_of_birth"));
        assert_eq!(label_of("Passport No. / No du passeport"), Some("document_number"));
        assert_eq!(label_of("Date of expiry / Date d'expiration"), Some("date_of_expiry"));
        assert_eq!(label_of("Dateofbirth/Datedenaissance"), Some("date_of_birth"));
        assert_eq!(label_of("ERIKSSON"), None);
        let lines = vec![
            line("Surname / Nom", 100.0, 100.0, 120.0),
            line("ERIKSSON", 102.0, 118.0, 90.0),
            line("Date of birth", 300.0, 100.0, 110.0),
            line("12 AUG 1974", 301.0, 119.0, 100.0),
            line("Sex: F", 500.0, 100.0, 50.0),
        ];
        let f = locate(&lines, None, ReadOptions { double_page_spread: false });
        let get = |n: &str| f.iter().find(|x| x.name == n).map(|x| x.value.as_str());
        assert_eq!(get("surname"), Some("ERIKSSON"));
        assert_eq!(get("date_of_birth"), Some("12 AUG 1974"));
        assert_eq!(get("sex"), Some("F"));
        assert_eq!(get("nationality"), None);
    }
}
