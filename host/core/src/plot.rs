//! DET curves as PNGs, drawn directly on pixels (a plotting library would bring fonts and a
//! dozen crates for one chart): log-scaled error rates on both axes, decade grid, the equal-error
//! point. Face matching plots FNMR against FMR; liveness APCER against BPCER.

use image::{Rgb, RgbImage};
use vigil_domain::eval::Rates;

const W: u32 = 640;
const H: u32 = 480;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 616.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 424.0;

/// What a chart shows: axis labels and the decades of each axis (zero rates sit on the axis).
struct Axes {
    x: &'static str,
    y: &'static str,
    x_decades: f64,
    y_decades: f64,
}

/// 5×7 glyphs, one byte a row, the low five bits left to right.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        'e' => [0, 0, 14, 17, 31, 16, 14],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'D' => [28, 18, 17, 17, 17, 18, 28],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        _ => [0; 7],
    }
}

fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, scale: i64, color: Rgb<u8>) {
    for (k, c) in s.chars().enumerate() {
        let g = glyph(c);
        for (row, bits) in g.iter().enumerate() {
            for col in 0..5 {
                if bits & (1 << (4 - col)) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            put(img, x + (k as i64 * 6 + col) * scale + dx, y + row as i64 * scale + dy, color);
                        }
                    }
                }
            }
        }
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb<u8>, thick: i64, dash: bool) {
    let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as i64).max(1);
    for i in 0..=steps {
        if dash && (i / 4) % 2 == 1 {
            continue;
        }
        let t = i as f64 / steps as f64;
        let (x, y) = ((x0 + (x1 - x0) * t).round() as i64, (y0 + (y1 - y0) * t).round() as i64);
        for d in 0..thick {
            put(img, x, y + d, c);
            put(img, x + d, y, c);
        }
    }
}

impl Axes {
    /// Pixel position of a rate pair.
    fn at(&self, x: f64, y: f64) -> (f64, f64) {
        let (xd, yd) = (self.x_decades, self.y_decades);
        let lx = x.max(10f64.powf(-xd)).log10();
        let ly = y.max(10f64.powf(-yd)).log10();
        (LEFT + (lx + xd) / xd * (RIGHT - LEFT), BOTTOM - (ly + yd) / yd * (BOTTOM - TOP))
    }
}

/// The axis label of 10^-d.
fn decade(d: i64) -> String {
    if d == 0 { "1".to_string() } else { format!("1e-{d}") }
}

/// Face matching: FNMR against FMR (1e-6 … 1 across, 1e-4 … 1 up).
pub fn det_png(det: &[Rates], eer: Option<&Rates>) -> Vec<u8> {
    let axes = Axes { x: "FMR", y: "FNMR", x_decades: 6.0, y_decades: 4.0 };
    draw(&axes, &[(det, Rgb([20, 80, 200]))], eer)
}

/// Presentation-attack detection: APCER against BPCER (1e-3 … 1 on both), `det` in blue and
/// `reference` (the passive model alone) in grey. `Rates` carry BPCER as `fmr`, APCER as `fnmr`.
pub fn det_png_pad(det: &[Rates], eer: Option<&Rates>, reference: &[Rates]) -> Vec<u8> {
    let axes = Axes { x: "BPCER", y: "APCER", x_decades: 3.0, y_decades: 3.0 };
    draw(&axes, &[(reference, Rgb([160, 160, 160])), (det, Rgb([20, 80, 200]))], eer)
}

fn draw(axes: &Axes, curves: &[(&[Rates], Rgb<u8>)], eer: Option<&Rates>) -> Vec<u8> {
    let at = |x: f64, y: f64| axes.at(x, y);
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let (grid, ink, red) = (Rgb([220, 220, 220]), Rgb([40, 40, 40]), Rgb([210, 40, 40]));
    for d in 0..=axes.x_decades as i64 {
        let (x, _) = at(10f64.powi(-(d as i32)), 1.0);
        line(&mut img, (x, TOP), (x, BOTTOM), grid, 1, false);
        let label = decade(d);
        text(&mut img, x as i64 - 3 * label.len() as i64, BOTTOM as i64 + 8, &label, 1, ink);
    }
    for d in 0..=axes.y_decades as i64 {
        let (_, y) = at(1.0, 10f64.powi(-(d as i32)));
        line(&mut img, (LEFT, y), (RIGHT, y), grid, 1, false);
        let label = decade(d);
        text(&mut img, LEFT as i64 - 8 - 6 * label.len() as i64, y as i64 - 3, &label, 1, ink);
    }
    line(&mut img, (LEFT, TOP), (LEFT, BOTTOM), ink, 1, false);
    line(&mut img, (LEFT, BOTTOM), (RIGHT, BOTTOM), ink, 1, false);
    text(&mut img, ((LEFT + RIGHT) / 2.0) as i64 - 6 * axes.x.len() as i64, BOTTOM as i64 + 26, axes.x, 2, ink);
    text(&mut img, 8, 4, axes.y, 2, ink);
    text(&mut img, RIGHT as i64 - 66, 4, "DET", 2, ink);
    // The diagonal where both rates are equal, where the equal-error point lies.
    let low = 10f64.powf(-axes.x_decades.min(axes.y_decades));
    line(&mut img, at(low, low), at(1.0, 1.0), red, 1, true);
    for (det, colour) in curves {
        let pts: Vec<(f64, f64)> = det.iter().map(|r| at(r.fmr, r.fnmr)).collect();
        for w in pts.windows(2) {
            line(&mut img, w[0], w[1], *colour, 2, false);
        }
    }
    if let Some(e) = eer {
        let (x, y) = at(e.fmr, e.fnmr);
        for dy in -3..=3 {
            for dx in -3..=3 {
                put(&mut img, x as i64 + dx, y as i64 + dy, red);
            }
        }
        text(&mut img, x as i64 + 6, y as i64 - 12, "EER", 1, red);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    // Encoding an in-memory RGB image to PNG cannot fail for lack of space or format support.
    let _ = image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}
