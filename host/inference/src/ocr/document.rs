//! Reading a photographed document page: every text line, the MRZ (found among the lines,
//! straightened and decoded against its layout), and the printed fields found by their labels.

use super::{Ocr, Quad};
use crate::Result;
use image::RgbImage;
use vigil_mrz::{Format, Mrz};

/// The longest side the page is scaled to for detection.
const DETECT_SIDE: u32 = 960;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// The photo may hold two facing pages (a passport opened at its data page): printed fields
    /// are looked for only on the page that holds the MRZ.
    pub double_page_spread: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { double_page_spread: true }
    }
}

/// A line of text found on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub text: String,
    /// Mean probability of its characters.
    pub confidence: f32,
    pub quad: Quad,
}

/// A decoded MRZ.
#[derive(Debug, Clone, PartialEq)]
pub struct MrzReading {
    pub mrz: Mrz,
    /// The mean probability of its characters (each character's best frame), in [0, 1].
    pub confidence: f32,
    /// The page was read upside down.
    pub rotated: bool,
    /// The lines' boxes in the image.
    pub quads: Vec<Quad>,
    /// The recogniser's log-probabilities over the name line, to weigh a printed name against.
    pub(crate) name_frames: Vec<Vec<f32>>,
    /// Per line, each character's probability.
    pub char_probs: Vec<Vec<f32>>,
}

fn mean(probs: &[Vec<f32>]) -> f32 {
    let n: usize = probs.iter().map(Vec::len).sum();
    if n == 0 { 0.0 } else { probs.iter().flatten().sum::<f32>() / n as f32 }
}

/// A printed field located by its label.
#[derive(Debug, Clone, PartialEq)]
pub struct VisualField {
    /// The field's name (`surname`, `date_of_birth`, …).
    pub name: &'static str,
    pub value: String,
    pub confidence: f32,
    /// The label it was found under.
    pub label: String,
}

/// Everything read from one image.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocumentReading {
    pub mrz: Option<MrzReading>,
    pub fields: Vec<VisualField>,
    pub lines: Vec<TextLine>,
}

/// Characters the full dictionary offers for MRZ characters.
fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '×' => 'X',
            '《' | '〈' | '‹' | 'く' | '«' => '<',
            c => c,
        })
        .collect()
}

/// Whether a greedy reading looks like (part of) an MRZ line: almost only MRZ characters, with
/// fillers or long enough to be a line of numbers.
fn mrz_like(text: &str) -> bool {
    let n = text.chars().count();
    if n < 6 {
        return false;
    }
    let good = text.chars().filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '<').count();
    good * 10 >= n * 9 && (text.contains("<<") || n >= 24)
}

impl Ocr {
    /// Reads a document page: its lines, the MRZ and the printed fields. A page with no text
    /// gives an empty reading; an upside-down page is read turned.
    pub fn read_document(&self, img: &RgbImage, opts: ReadOptions) -> Result<DocumentReading> {
        let first = self.read_page(img, opts, false)?;
        if first.mrz.as_ref().is_some_and(|m| !m.rotated) {
            return Ok(first);
        }
        // No MRZ: the page may be upside down (upside-down print still reads as confident
        // garbage, so only an MRZ or more confident lines decide). A side without an MRZ (an ID
        // card's front) pays for the second look.
        let turned = image::imageops::rotate180(img);
        let second = self.read_page(&turned, opts, true)?;
        let confident = |r: &DocumentReading| r.lines.iter().filter(|l| l.confidence > 0.9).count();
        Ok(if second.mrz.is_some() || confident(&second) > confident(&first) { second } else { first })
    }

    fn read_page(&self, img: &RgbImage, opts: ReadOptions, rotated: bool) -> Result<DocumentReading> {
        let boxes = self.detect(img, DETECT_SIDE)?;
        // The MRZ by shape first: when it decodes with valid check digits, its rows need no
        // free-text reading (the widest, costliest strips on the page).
        let by_shape = self.mrz_by_shape(img, &boxes)?.filter(|m| m.mrz.valid());
        let inside = |q: &Quad| {
            by_shape.as_ref().is_some_and(|m| {
                m.quads.iter().any(|r| {
                    let (a, b) = r.project(q.cx, q.cy);
                    let (ca, cb) = r.project(r.cx, r.cy);
                    (a - ca).abs() <= r.w / 2.0 && (b - cb).abs() <= r.h / 2.0
                })
            })
        };
        let quads: Vec<Quad> =
            boxes.into_iter().map(|(q, _)| q).filter(|q| q.w >= 2.0 * q.h.min(8.0) && !inside(q)).collect();
        let mut lines = Vec::with_capacity(quads.len());
        for (quad, (text, confidence)) in quads.iter().zip(self.read_all(img, &quads)?) {
            let text = normalise(text.trim());
            if !text.is_empty() {
                lines.push(TextLine { text, confidence, quad: *quad });
            }
        }
        let mrz = match by_shape {
            Some(m) => Some(m),
            None => self.find_mrz(img, &lines)?,
        }
        .map(|mut m| {
            // Read through turned strips, or on the turned page.
            m.rotated ^= rotated;
            m
        });
        let fields = super::fields::locate(&lines, mrz.as_ref(), opts);
        let mrz = mrz.map(|m| reconcile_names(m, &fields));
        Ok(DocumentReading { mrz, fields, lines })
    }

    /// The MRZ alone, fast: detection, then the rows are chosen by shape only (the bottom rows of
    /// long thin boxes spanning much of the image), so only the MRZ lines are recognised.
    pub fn read_mrz(&self, img: &RgbImage) -> Result<Option<MrzReading>> {
        let boxes = self.detect(img, DETECT_SIDE)?;
        self.mrz_by_shape(img, &boxes)
    }

    fn mrz_by_shape(&self, img: &RgbImage, boxes: &[(Quad, f32)]) -> Result<Option<MrzReading>> {
        let min_w = 0.45 * img.width() as f32;
        let lines: Vec<TextLine> =
            boxes.iter().map(|&(quad, confidence)| TextLine { text: String::new(), confidence, quad }).collect();
        let widest = lines.iter().map(|l| l.quad.w).fold(0.0, f32::max);
        let cand: Vec<&TextLine> =
            lines.iter().filter(|l| l.quad.w >= 3.0 * l.quad.h && l.quad.w >= 0.25 * widest.max(min_w)).collect();
        self.mrz_from(img, cand)
    }

    /// The MRZ among the page's lines: rows of MRZ-like boxes, the bottom two or three made equally
    /// long, cut tightly from the image and decoded against each layout with that many lines;
    /// the reading whose check digits hold wins (then the likelier one).
    fn find_mrz(&self, img: &RgbImage, lines: &[TextLine]) -> Result<Option<MrzReading>> {
        self.mrz_from(img, lines.iter().filter(|l| mrz_like(&l.text)).collect())
    }

    fn mrz_from(&self, img: &RgbImage, cand: Vec<&TextLine>) -> Result<Option<MrzReading>> {
        let Some(longest) = cand.iter().max_by(|a, b| a.quad.w.total_cmp(&b.quad.w)) else { return Ok(None) };
        let (ux, uy) = (longest.quad.ux, longest.quad.uy);
        // Rows: boxes whose centres lie within half a line height across the text direction.
        let mut rows: Vec<(f32, Vec<&TextLine>)> = Vec::new();
        for l in &cand {
            let across = -l.quad.cx * uy + l.quad.cy * ux;
            match rows.iter_mut().find(|(at, _)| (at - across).abs() < 0.5 * l.quad.h) {
                Some(r) => r.1.push(l),
                None => rows.push((across, vec![l])),
            }
        }
        let mut rows: Vec<(f32, Quad)> = rows
            .into_iter()
            .map(|(at, ls)| {
                let pts: Vec<(f32, f32)> = ls.iter().flat_map(|l| l.quad.corners()).collect();
                (at, Quad::enclosing(&pts, ux, uy))
            })
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let widest = rows.iter().map(|r| r.1.w).fold(0.0, f32::max);
        // MRZ lines are long and evenly spaced; a short row is a printed field in OCR-B.
        rows.retain(|r| r.1.w >= 0.6 * widest && r.1.w >= 10.0 * r.1.h);
        let mut best: Option<(bool, f32, MrzReading)> = None;
        for n in [3usize, 2] {
            if rows.len() < n {
                continue;
            }
            let chosen: Vec<Quad> = rows[rows.len() - n..].iter().map(|r| r.1).collect();
            let gaps: Vec<f32> = rows[rows.len() - n..].windows(2).map(|w| w[1].0 - w[0].0).collect();
            let h = chosen.iter().map(|q| q.h).fold(0.0, f32::max);
            if gaps.iter().any(|&g| g > 3.0 * h || g < 0.8 * h) {
                continue;
            }
            let equal = equalise(&chosen);
            // Both orientations; within one, every layout with this many lines decodes the same
            // strips, so each strip is recognised once.
            for flip in [false, true] {
                let ordered: Vec<Quad> =
                    if flip { equal.iter().rev().map(Quad::flipped).collect() } else { equal.clone() };
                let mut frames = Vec::with_capacity(ordered.len());
                for q in &ordered {
                    frames.push(self.mrz_log_probs(img, q)?);
                }
                for format in Format::ALL.into_iter().filter(|f| f.lines() == n) {
                    if let Some(mut r) = decode_mrz(&frames, &ordered, format) {
                        r.rotated = flip;
                        let key =
                            (r.mrz.valid(), r.mrz.checks.iter().filter(|c| c.valid()).count() as f32 + r.confidence);
                        if best.as_ref().is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
                            best = Some((key.0, key.1, r));
                        }
                    }
                }
                if best.as_ref().is_some_and(|b| b.0) {
                    break;
                }
            }
            if best.as_ref().is_some_and(|b| b.0) {
                break;
            }
        }
        Ok(best.map(|b| b.2))
    }
}

/// Decodes recognised MRZ strips (their per-frame log-probabilities, in line order) against a
/// layout's template; `None` when a strip is too short to spell its line or the lines parse as
/// no MRZ.
fn decode_mrz(frames: &[Vec<Vec<f32>>], quads: &[Quad], format: Format) -> Option<MrzReading> {
    let template = vigil_mrz::template(format);
    let name_line = if format == Format::Td1 { 2 } else { 0 };
    let mut texts = Vec::with_capacity(frames.len());
    let mut probs: Vec<Vec<f32>> = Vec::with_capacity(frames.len());
    for (lp, t) in frames.iter().zip(&template) {
        let d = super::ctc::fixed_length(lp, vigil_mrz::ALPHABET, t)?;
        probs.push(d.char_probs);
        texts.push(d.text);
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mrz = Mrz::parse(&refs).ok()?;
    Some(MrzReading {
        mrz,
        confidence: mean(&probs),
        rotated: false,
        quads: quads.to_vec(),
        name_frames: frames.get(name_line).cloned().unwrap_or_default(),
        char_probs: probs,
    })
}

/// Most a printed name may cost the recogniser per character it changes in the MRZ's name line,
/// in nats (a factor of about 20 in probability).
const NAME_MARGIN: f32 = 3.0;

/// The name line has no check digit, and OCR-B's K reads as `<` easily: when the printed surname
/// and given names, written the MRZ's way, differ from the decoded line in at most three
/// characters and the recogniser finds them nearly as likely, the line takes the printed names.
/// A name that the recogniser clearly reads otherwise stays as read (and disagrees visibly).
fn reconcile_names(mut m: MrzReading, fields: &[VisualField]) -> MrzReading {
    let get = |n: &str| fields.iter().find(|f| f.name == n).map(|f| f.value.as_str());
    let (Some(surname), Some(given)) = (get("surname"), get("given_names")) else { return m };
    let line_no = if m.mrz.format == Format::Td1 { 2 } else { 0 };
    let line = &m.mrz.lines[line_no];
    let start = if m.mrz.format == Format::Td1 { 0 } else { 5 };
    let width = line.len() - start;
    let conv = |s: &str| vigil_mrz::normalise_name(s).replace(' ', "<");
    let mut name = format!("{}<<{}", conv(surname), conv(given));
    if !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'<') {
        return m;
    }
    name.truncate(width);
    while name.len() < width {
        name.push('<');
    }
    let candidate = format!("{}{name}", &line[..start]);
    let changed = candidate.bytes().zip(line.bytes()).filter(|(a, b)| a != b).count();
    if changed == 0 || changed > 3 || m.name_frames.is_empty() {
        return m;
    }
    let one_hot = |text: &str| -> Vec<u64> {
        text.chars().map(|c| vigil_mrz::alphabet_index(c).map_or(0, |i| 1u64 << i)).collect()
    };
    let score = |text: &str| super::ctc::fixed_length(&m.name_frames, vigil_mrz::ALPHABET, &one_hot(text));
    if let (Some(read), Some(printed)) = (score(line), score(&candidate))
        && read.log_prob - printed.log_prob <= NAME_MARGIN * changed as f32
    {
        let mut lines = m.mrz.lines.clone();
        lines[line_no] = candidate;
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        if let Ok(parsed) = Mrz::parse(&refs) {
            m.mrz = parsed;
            m.char_probs[line_no] = printed.char_probs;
            m.confidence = mean(&m.char_probs);
        }
    }
    m
}

/// MRZ lines are equally long and left-aligned: each line is stretched to the span of all of
/// them along the text direction (a detector often misses a line's filler tail).
fn equalise(rows: &[Quad]) -> Vec<Quad> {
    let (ux, uy) = (rows[0].ux, rows[0].uy);
    let (mut a0, mut a1) = (f32::MAX, f32::MIN);
    for q in rows {
        for (x, y) in q.corners() {
            let a = x * ux + y * uy;
            a0 = a0.min(a);
            a1 = a1.max(a);
        }
    }
    rows.iter()
        .map(|q| {
            let b = -q.cx * uy + q.cy * ux;
            let a = (a0 + a1) / 2.0;
            Quad { cx: a * ux - b * uy, cy: a * uy + b * ux, ux, uy, w: a1 - a0, h: q.h }
        })
        .collect()
}
