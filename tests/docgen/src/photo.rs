//! "Photographing" a page: on a desk, turned, tilted in perspective, lit unevenly, blurred,
//! noisy and saved as a lossy JPEG.

use crate::Rng;
use image::RgbImage;

/// How a page is photographed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capture {
    /// Width of the photo in pixels; the page fills `1 − 2·margin` of it.
    pub width: u32,
    pub margin: f32,
    /// Rotation in degrees (positive: clockwise).
    pub angle: f32,
    /// Keystone: the top edge is shorter than the bottom by this fraction.
    pub tilt: f32,
    /// Gaussian blur σ in output pixels.
    pub blur: f32,
    /// Peak added light of a glare spot, 0–1.
    pub glare: f32,
    pub brightness: f32,
    pub jpeg_quality: u8,
}

impl Capture {
    /// A flat scan: no margin, no turn, no blur, high quality.
    pub fn scan(width: u32) -> Capture {
        Capture { width, margin: 0.0, angle: 0.0, tilt: 0.0, blur: 0.0, glare: 0.0, brightness: 1.0, jpeg_quality: 95 }
    }

    /// A phone photo with moderate, random trouble.
    pub fn phone(rng: &mut Rng) -> Capture {
        Capture {
            width: rng.range(1100.0, 1700.0) as u32,
            margin: rng.range(0.03, 0.10),
            angle: rng.range(-4.0, 4.0),
            tilt: rng.range(0.0, 0.06),
            blur: rng.range(0.0, 1.2),
            glare: if rng.below(3) == 0 { rng.range(0.2, 0.45) } else { 0.0 },
            brightness: rng.range(0.8, 1.15),
            jpeg_quality: rng.range(55.0, 90.0) as u8,
        }
    }

    /// Harsh conditions: small, blurred, badly compressed.
    pub fn harsh(rng: &mut Rng) -> Capture {
        Capture {
            width: rng.range(800.0, 1000.0) as u32,
            margin: rng.range(0.02, 0.06),
            angle: rng.range(-6.0, 6.0),
            tilt: rng.range(0.02, 0.10),
            blur: rng.range(0.8, 1.8),
            glare: rng.range(0.0, 0.5),
            brightness: rng.range(0.65, 1.25),
            jpeg_quality: rng.range(35.0, 60.0) as u8,
        }
    }
}

/// Solves the 8 unknowns of the homography taking `from[i]` to `to[i]`.
fn homography(from: [(f32, f32); 4], to: [(f32, f32); 4]) -> [f64; 9] {
    let mut m = [[0f64; 9]; 8];
    for i in 0..4 {
        let (x, y) = (f64::from(from[i].0), f64::from(from[i].1));
        let (u, v) = (f64::from(to[i].0), f64::from(to[i].1));
        m[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        m[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for c in 0..8 {
        let p = (c..8).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs())).unwrap_or(c);
        m.swap(c, p);
        let d = if m[c][c].abs() < 1e-12 { 1e-12 } else { m[c][c] };
        for v in &mut m[c][c..] {
            *v /= d;
        }
        let pivot = m[c];
        for (r, row) in m.iter_mut().enumerate() {
            if r != c {
                let f = row[c];
                for (v, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                    *v -= f * p;
                }
            }
        }
    }
    [m[0][8], m[1][8], m[2][8], m[3][8], m[4][8], m[5][8], m[6][8], m[7][8], 1.0]
}

/// The photo of `page` under `c`, as JPEG bytes.
pub fn photograph(page: &RgbImage, c: &Capture, rng: &mut Rng) -> Vec<u8> {
    let (pw, ph) = (page.width() as f32, page.height() as f32);
    let out_w = c.width;
    let inner = out_w as f32 * (1.0 - 2.0 * c.margin);
    let scale = inner / pw;
    let out_h = (ph * scale / (1.0 - 2.0 * c.margin)).round() as u32;
    let (cx, cy) = (out_w as f32 / 2.0, out_h as f32 / 2.0);
    let (hw, hh) = (pw * scale / 2.0, ph * scale / 2.0);
    let shrink = c.tilt * hw;
    let corners = [(-hw + shrink, -hh), (hw - shrink, -hh), (hw, hh), (-hw, hh)];
    let (s, co) = c.angle.to_radians().sin_cos();
    let dest = corners.map(|(x, y)| (cx + x * co - y * s, cy + x * s + y * co));
    let h = homography(dest, [(0.0, 0.0), (pw, 0.0), (pw, ph), (0.0, ph)]);
    let desk = [rng.range(60.0, 140.0), rng.range(50.0, 120.0), rng.range(40.0, 110.0)];
    let (gx, gy, gr) =
        (rng.range(0.2, 0.8) * out_w as f32, rng.range(0.2, 0.8) * out_h as f32, rng.range(0.15, 0.3) * out_w as f32);
    let mut noise = rng.clone();
    let mut img = RgbImage::from_fn(out_w, out_h, |x, y| {
        let (xf, yf) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
        let w = h[6] * xf + h[7] * yf + h[8];
        let (u, v) = (((h[0] * xf + h[1] * yf + h[2]) / w) as f32, ((h[3] * xf + h[4] * yf + h[5]) / w) as f32);
        let mut px = if u >= 0.0 && v >= 0.0 && u < pw - 1.0 && v < ph - 1.0 {
            let (x0, y0) = (u.floor(), v.floor());
            let (fx, fy) = (u - x0, v - y0);
            let at = |dx: u32, dy: u32| page.get_pixel(x0 as u32 + dx, y0 as u32 + dy).0;
            let (a, b, cc, d) = (at(0, 0), at(1, 0), at(0, 1), at(1, 1));
            [0, 1, 2].map(|i| {
                let top = f32::from(a[i]) * (1.0 - fx) + f32::from(b[i]) * fx;
                let bot = f32::from(cc[i]) * (1.0 - fx) + f32::from(d[i]) * fx;
                top * (1.0 - fy) + bot * fy
            })
        } else {
            desk
        };
        let d2 = ((x as f32 - gx).powi(2) + (y as f32 - gy).powi(2)) / (2.0 * gr * gr);
        let light = c.glare * 255.0 * (-d2).exp();
        let n = noise.range(-4.0, 4.0);
        for v in &mut px {
            *v = (*v * c.brightness + light + n).clamp(0.0, 255.0);
        }
        image::Rgb(px.map(|v| v as u8))
    });
    if c.blur > 0.05 {
        img = image::imageops::blur(&img, c.blur);
    }
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, c.jpeg_quality.clamp(10, 100));
    if image::ImageEncoder::write_image(enc, img.as_raw(), out_w, out_h, image::ExtendedColorType::Rgb8).is_err() {
        return Vec::new();
    }
    out
}
