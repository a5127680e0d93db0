//! Vector drawing of the pages with tiny-skia; glyph outlines from ttf-parser.

use crate::Rng;
use anyhow::{Result, anyhow};
use image::RgbImage;
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, PixmapPaint, Rect, Stroke, Transform};

pub struct Fonts {
    ocrb: Vec<u8>,
    sans: Vec<u8>,
    bold: Vec<u8>,
}

impl Fonts {
    pub fn load() -> Result<Fonts> {
        let read = |p: &str| std::fs::read(p).map_err(|e| anyhow!("{p}: {e}"));
        Ok(Fonts { ocrb: read(crate::OCRB)?, sans: read(crate::DEJAVU)?, bold: read(crate::DEJAVU_BOLD)? })
    }
}

struct Outline(PathBuilder);

impl ttf_parser::OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1, y1, x, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.cubic_to(x1, y1, x2, y2, x, y);
    }
    fn close(&mut self) {
        self.0.close();
    }
}

/// A page being drawn, in millimetres.
struct Page {
    px: Pixmap,
    mm: f32,
}

fn paint(rgb: [u8; 3]) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(rgb[0], rgb[1], rgb[2], 255);
    p.anti_alias = true;
    p
}

impl Page {
    fn new(w_mm: f32, h_mm: f32, mm: f32, rng: &mut Rng) -> Page {
        let mut px = Pixmap::new((w_mm * mm) as u32, (h_mm * mm) as u32).unwrap_or_else(|| unreachable!("page size"));
        let tint = [rng.range(225.0, 245.0) as u8, rng.range(230.0, 248.0) as u8, rng.range(225.0, 245.0) as u8];
        px.fill(tiny_skia::Color::from_rgba8(tint[0], tint[1], tint[2], 255));
        let mut page = Page { px, mm };
        // Guilloche: interleaved sine waves in a pale ink.
        let ink = [tint[0].saturating_sub(35), tint[1].saturating_sub(20), tint[2].saturating_sub(10)];
        let stroke = Stroke { width: 0.12 * mm, ..Stroke::default() };
        for k in 0..14 {
            let (amp, freq, phase) =
                (rng.range(2.0, 6.0), rng.range(0.05, 0.12), rng.range(0.0, std::f32::consts::TAU));
            let y0 = k as f32 * h_mm / 14.0;
            let mut pb = PathBuilder::new();
            let mut x = 0.0;
            pb.move_to(0.0, (y0 + amp * phase.sin()) * mm);
            while x < w_mm {
                x += 0.5;
                pb.line_to(x * mm, (y0 + amp * (freq * x * std::f32::consts::TAU + phase).sin()) * mm);
            }
            if let Some(path) = pb.finish() {
                page.px.stroke_path(&path, &paint(ink), &stroke, Transform::identity(), None);
            }
        }
        page
    }

    #[allow(clippy::too_many_arguments)]
    /// Draws `text` with its baseline at (x, y) mm, `size` mm em; `pitch` mm places every
    /// character at a fixed advance (the MRZ). Returns the advance drawn, in mm.
    fn text(&mut self, font: &[u8], text: &str, x: f32, y: f32, size: f32, rgb: [u8; 3], pitch: Option<f32>) -> f32 {
        let Ok(face) = ttf_parser::Face::parse(font, 0) else { return 0.0 };
        let scale = size * self.mm / f32::from(face.units_per_em());
        let mut at = x * self.mm;
        let p = paint(rgb);
        for c in text.chars() {
            let Some(g) = face.glyph_index(c) else {
                at += pitch.unwrap_or(size * 0.5) * self.mm;
                continue;
            };
            let mut o = Outline(PathBuilder::new());
            if face.outline_glyph(g, &mut o).is_some()
                && let Some(path) = o.0.finish()
            {
                let t = Transform::from_row(scale, 0.0, 0.0, -scale, at, y * self.mm);
                self.px.fill_path(&path, &p, FillRule::Winding, t, None);
            }
            at += match pitch {
                Some(p) => p * self.mm,
                None => f32::from(face.glyph_hor_advance(g).unwrap_or(0)) * scale,
            };
        }
        at / self.mm - x
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, rgb: [u8; 3]) {
        if let Some(r) = Rect::from_xywh(x * self.mm, y * self.mm, w * self.mm, h * self.mm) {
            self.px.fill_rect(r, &paint(rgb), Transform::identity(), None);
        }
    }

    /// The portrait, cropped to the box's aspect around the photo's centre-top and scaled in.
    fn portrait(&mut self, img: &RgbImage, x: f32, y: f32, w: f32, h: f32) {
        let (pw, ph) = ((w * self.mm) as u32, (h * self.mm) as u32);
        let (iw, ih) = img.dimensions();
        let aspect = w / h;
        let (cw, ch) = if iw as f32 / ih as f32 > aspect {
            ((ih as f32 * aspect) as u32, ih)
        } else {
            (iw, (iw as f32 / aspect) as u32)
        };
        let cx = (iw - cw) / 2;
        let cy = ((ih - ch) as f32 * 0.3) as u32;
        let crop = image::imageops::crop_imm(img, cx, cy, cw, ch).to_image();
        let scaled = image::imageops::resize(&crop, pw.max(1), ph.max(1), image::imageops::FilterType::Triangle);
        let rgba: Vec<u8> = scaled.pixels().flat_map(|p| [p.0[0], p.0[1], p.0[2], 255]).collect();
        if let Some(size) = tiny_skia::IntSize::from_wh(pw.max(1), ph.max(1))
            && let Some(pm) = Pixmap::from_vec(rgba, size)
        {
            self.px.draw_pixmap(
                (x * self.mm) as i32,
                (y * self.mm) as i32,
                pm.as_ref(),
                &PixmapPaint::default(),
                Transform::identity(),
                None,
            );
        }
    }

    fn field(&mut self, f: &Fonts, label: &str, value: &str, x: f32, y: f32) {
        self.text(&f.sans, label, x, y, 2.0, [70, 70, 90], None);
        self.text(&f.bold, value, x, y + 4.2, 3.1, [15, 15, 25], None);
    }

    fn mrz(&mut self, f: &Fonts, lines: &[String], x: f32, first_baseline: f32, line_pitch: f32) {
        for (i, l) in lines.iter().enumerate() {
            self.text(&f.ocrb, l, x, first_baseline + i as f32 * line_pitch, 3.6, [10, 10, 10], Some(2.54));
        }
    }

    fn finish(self) -> RgbImage {
        let (w, h) = (self.px.width(), self.px.height());
        let data = self.px.data();
        RgbImage::from_fn(w, h, |x, y| {
            let i = ((y * w + x) * 4) as usize;
            image::Rgb([data[i], data[i + 1], data[i + 2]])
        })
    }
}

fn get<'a>(printed: &'a [(&'static str, String)], name: &str) -> &'a str {
    printed.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str())
}

/// A TD3 passport data page: 125×88 mm.
pub fn passport(
    f: &Fonts,
    rng: &mut Rng,
    printed: &[(&'static str, String)],
    mrz: &[String],
    portrait: &RgbImage,
    mm: f32,
) -> RgbImage {
    let mut p = Page::new(125.0, 88.0, mm, rng);
    p.text(&f.bold, "PASSPORT / PASSEPORT", 40.0, 7.0, 3.4, [30, 40, 90], None);
    p.rect(5.0, 12.0, 33.0, 43.0, [200, 200, 200]);
    p.portrait(portrait, 5.5, 12.5, 32.0, 42.0);
    let g = |n: &str| get(printed, n);
    p.field(f, "Type", g("document_code"), 42.0, 13.0);
    p.field(f, "Code", g("issuing_state"), 56.0, 13.0);
    p.field(f, "Passport No. / No du passeport", g("document_number"), 76.0, 13.0);
    p.field(f, "Surname / Nom", g("surname"), 42.0, 21.0);
    p.field(f, "Given names / Prénoms", g("given_names"), 42.0, 29.0);
    p.field(f, "Nationality / Nationalité", g("nationality"), 42.0, 37.0);
    p.field(f, "Date of birth / Naissance", g("date_of_birth"), 42.0, 45.0);
    p.field(f, "Sex / Sexe", g("sex"), 100.0, 45.0);
    p.field(f, "Place of birth / Lieu de naissance", g("place_of_birth"), 42.0, 53.0);
    p.field(f, "Date of issue / Délivrance", g("date_of_issue"), 42.0, 61.0);
    p.field(f, "Date of expiry / Expiration", g("date_of_expiry"), 86.0, 61.0);
    // Signature squiggle.
    let mut pb = PathBuilder::new();
    pb.move_to(8.0 * mm, 62.0 * mm);
    for k in 0..12 {
        let x = 8.0 + k as f32 * 2.2;
        pb.quad_to((x + 1.1) * mm, (62.0 + rng.range(-3.0, 3.0)) * mm, (x + 2.2) * mm, 62.0 * mm);
    }
    if let Some(path) = pb.finish() {
        p.px.stroke_path(
            &path,
            &paint([20, 30, 110]),
            &Stroke { width: 0.3 * mm, ..Stroke::default() },
            Transform::identity(),
            None,
        );
    }
    // The MRZ on a clear band, as ICAO asks.
    p.rect(0.0, 70.0, 125.0, 18.0, [246, 246, 244]);
    p.mrz(f, mrz, 6.3, 77.5, 6.0);
    p.finish()
}

/// A TD1 card: 85.6×54 mm, front (fields, portrait) and back (MRZ).
pub fn id_card(
    f: &Fonts,
    rng: &mut Rng,
    printed: &[(&'static str, String)],
    mrz: &[String],
    portrait: &RgbImage,
    mm: f32,
) -> (RgbImage, RgbImage) {
    let g = |n: &str| get(printed, n);
    let mut front = Page::new(85.6, 54.0, mm, rng);
    front.text(&f.bold, "IDENTITY CARD / CARTE D'IDENTITE", 22.0, 6.0, 2.8, [30, 40, 90], None);
    front.rect(3.5, 10.0, 23.0, 30.0, [200, 200, 200]);
    front.portrait(portrait, 4.0, 10.5, 22.0, 29.0);
    front.field(f, "Surname / Nom", g("surname"), 30.0, 11.0);
    front.field(f, "Given names / Prénoms", g("given_names"), 30.0, 19.0);
    front.field(f, "Sex / Sexe", g("sex"), 30.0, 27.0);
    front.field(f, "Nationality / Nationalité", g("nationality"), 50.0, 27.0);
    front.field(f, "Date of birth / Date de naissance", g("date_of_birth"), 30.0, 35.0);
    front.field(f, "Document No.", g("document_number"), 30.0, 43.0);
    front.field(f, "Expiry / Expiration", g("date_of_expiry"), 60.0, 43.0);
    let mut back = Page::new(85.6, 54.0, mm, rng);
    back.text(&f.sans, "Address / Adresse", 4.0, 6.0, 2.0, [70, 70, 90], None);
    back.text(&f.bold, "12 CANAL STREET", 4.0, 10.5, 3.0, [15, 15, 25], None);
    back.rect(0.0, 30.0, 85.6, 24.0, [246, 246, 244]);
    back.mrz(f, mrz, 4.7, 37.0, 6.0);
    (front.finish(), back.finish())
}
