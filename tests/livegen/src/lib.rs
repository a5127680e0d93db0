//! Liveness test sequences with honest motion.
//!
//! - **Bona fide:** a real photo given depth — the face mapped onto a generic head surface (an
//!   ellipsoid with a nose ridge and eye sockets) and rendered turning, nodding, blinking or
//!   smiling in front of the photo's own, static background. Turning produces real parallax: the
//!   nose moves across the cheeks and the contour, as on a head.
//! - **Attacks:** the same photo printed (CMY halftone on paper, white margin) or shown on a
//!   screen (RGB sub-pixel stripes, black bezel, glare), held in front of a room and moved as a
//!   plane — tilted, panned, zoomed and shaken — and seen by the same camera (sampling, blur,
//!   noise, H.264).
//!
//! What this is not: the heads are one generic shape with a photo's texture; the blink is the
//! eye painted shut, the smile a warp of the mouth corners. They test the geometry and the
//! rules, not a face model's realism; the real face video in the test assets (`carphone.mp4`) is
//! the check on real motion. Everything is deterministic from a seed.

use anyhow::{Context, Result, bail};
use image::{Rgb, RgbImage};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Frame size (portrait, like a phone selfie), rate and length.
pub const W: u32 = 360;
pub const H: u32 = 480;
pub const FPS: u32 = 10;
pub const FRAMES: usize = 50;

/// Where a face is in one of the test photos (pixels of the original file).
#[derive(Debug, Clone, Copy)]
pub struct Face {
    pub file: &'static str,
    pub eyes: [(f32, f32); 2],
    pub nose: (f32, f32),
    pub mouth: [(f32, f32); 2],
    pub chin: (f32, f32),
    pub jaw: [(f32, f32); 2],
}

/// The test photos of the assets directory, with their faces located once (by the server's own
/// detector and landmark model; see `docs/LIVENESS.md`).
pub const FACES: [Face; 6] = [
    Face {
        file: "astronaut.png",
        eyes: [(205.0, 102.0), (248.0, 104.0)],
        nose: (226.0, 128.0),
        mouth: [(203.0, 140.0), (246.0, 142.0)],
        chin: (222.0, 178.0),
        jaw: [(180.0, 101.0), (273.0, 104.0)],
    },
    Face {
        file: "biden.jpg",
        eyes: [(535.0, 325.0), (650.0, 352.0)],
        nose: (596.0, 402.0),
        mouth: [(519.0, 460.0), (622.0, 481.0)],
        chin: (557.0, 559.0),
        jaw: [(430.0, 307.0), (710.0, 364.0)],
    },
    Face {
        file: "grace_hopper.jpg",
        eyes: [(223.0, 194.0), (307.0, 189.0)],
        nose: (270.0, 238.0),
        mouth: [(233.0, 280.0), (307.0, 276.0)],
        chin: (274.0, 333.0),
        jaw: [(175.0, 202.0), (354.0, 189.0)],
    },
    Face {
        file: "obama.jpg",
        eyes: [(444.0, 215.0), (550.0, 213.0)],
        nose: (499.0, 275.0),
        mouth: [(441.0, 316.0), (556.0, 313.0)],
        chin: (498.0, 406.0),
        jaw: [(372.0, 214.0), (612.0, 205.0)],
    },
    Face {
        file: "obama2.jpg",
        eyes: [(254.0, 373.0), (376.0, 381.0)],
        nose: (284.0, 444.0),
        mouth: [(247.0, 521.0), (356.0, 528.0)],
        chin: (286.0, 633.0),
        jaw: [(208.0, 381.0), (488.0, 396.0)],
    },
    Face {
        file: "obama3.jpg",
        eyes: [(738.0, 387.0), (858.0, 401.0)],
        nose: (814.0, 431.0),
        mouth: [(736.0, 511.0), (850.0, 523.0)],
        chin: (789.0, 612.0),
        jaw: [(630.0, 416.0), (914.0, 431.0)],
    },
];

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [a, b).
    pub fn range(&mut self, a: f32, b: f32) -> f32 {
        a + (b - a) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }
    pub fn sign(&mut self) -> f32 {
        if self.next_u64() & 1 == 0 { 1.0 } else { -1.0 }
    }
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> Option<[f32; 3]> {
    let (w, h) = (img.width() as f32, img.height() as f32);
    if !(x >= 0.0 && y >= 0.0 && x <= w - 1.0 && y <= h - 1.0) {
        return None;
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(img.width() - 1), (y0 + 1).min(img.height() - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |xx, yy| img.get_pixel(xx, yy).0.map(f32::from);
    let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    Some(std::array::from_fn(|k| {
        a[k] * (1.0 - fx) * (1.0 - fy) + b[k] * fx * (1.0 - fy) + c[k] * (1.0 - fx) * fy + d[k] * fx * fy
    }))
}

fn px(v: [f32; 3]) -> Rgb<u8> {
    Rgb(v.map(|c| c.round().clamp(0.0, 255.0) as u8))
}

/// The photo cropped and scaled so the face is `face_width` pixels wide near the frame's centre,
/// with the face's landmarks moved along; borders beyond the photo repeat its edge.
pub fn framed(photo: &RgbImage, face: &Face, face_width: f32) -> (RgbImage, Face) {
    let fw = (face.jaw[1].0 - face.jaw[0].0).abs().max(1.0);
    let k = face_width / fw;
    let cx = (face.jaw[0].0 + face.jaw[1].0) / 2.0;
    let cy = (face.eyes[0].1 + face.eyes[1].1) / 2.0 * 0.5 + face.chin.1 * 0.5;
    // Source window, then a proper downscale (Triangle widens with the factor: no aliasing).
    let (sw, sh) = (W as f32 / k, H as f32 / k);
    let (sx, sy) = (cx - sw / 2.0, cy - sh * 0.45);
    let (pw, ph) = (photo.width() as i64, photo.height() as i64);
    let win = RgbImage::from_fn(sw.ceil() as u32, sh.ceil() as u32, |x, y| {
        let xx = (sx as i64 + i64::from(x)).clamp(0, pw - 1) as u32;
        let yy = (sy as i64 + i64::from(y)).clamp(0, ph - 1) as u32;
        *photo.get_pixel(xx, yy)
    });
    let img = image::imageops::resize(&win, W, H, image::imageops::FilterType::Triangle);
    let sx = sx.floor();
    let sy = sy.floor();
    let m = |p: (f32, f32)| ((p.0 - sx) * W as f32 / win.width() as f32, (p.1 - sy) * H as f32 / win.height() as f32);
    let f = Face {
        file: face.file,
        eyes: face.eyes.map(m),
        nose: m(face.nose),
        mouth: face.mouth.map(m),
        chin: m(face.chin),
        jaw: face.jaw.map(m),
    };
    (img, f)
}

/// What a bona fide head does in one frame. Angles in degrees (yaw > 0 toward the image's right,
/// pitch > 0 up); `scale` 1 is the framed size; `smile` and `blink` in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadState {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    pub scale: f32,
    pub dx: f32,
    pub dy: f32,
    pub smile: f32,
    pub blink: f32,
}

impl Default for HeadState {
    fn default() -> Self {
        HeadState { yaw: 0.0, pitch: 0.0, roll: 0.0, scale: 1.0, dx: 0.0, dy: 0.0, smile: 0.0, blink: 0.0 }
    }
}

/// A framed photo given depth.
pub struct Head {
    img: RgbImage,
    plate: RgbImage,
    face: Face,
    c: (f32, f32),
    a: f32,
    b: f32,
}

impl Head {
    pub fn new(photo: &RgbImage, face: &Face, face_width: f32) -> Head {
        let (img, face) = framed(photo, face, face_width);
        let eye_y = (face.eyes[0].1 + face.eyes[1].1) / 2.0;
        let a = (face.jaw[1].0 - face.jaw[0].0).abs() / 2.0 * 1.04;
        let c = ((face.jaw[0].0 + face.jaw[1].0) / 2.0, (eye_y + face.chin.1) / 2.0 - (face.chin.1 - eye_y) * 0.12);
        let b = (face.chin.1 - c.1) * 1.04;
        // The background behind the head: each row inside the ellipse interpolated between the
        // colours just outside it, so a turning head uncovers background, not its own ghost.
        let mut plate = img.clone();
        for y in 0..H {
            let dy = (y as f32 - c.1) / b;
            if dy.abs() >= 1.0 {
                continue;
            }
            let half = a * (1.0 - dy * dy).sqrt() + 3.0;
            let (x0, x1) = ((c.0 - half).max(0.0), (c.0 + half).min(W as f32 - 1.0));
            let avg = |x: f32| {
                let mut s = [0.0f32; 3];
                for k in 0..4 {
                    let xx = (x + k as f32 * if x < c.0 { -1.0 } else { 1.0 }).clamp(0.0, W as f32 - 1.0) as u32;
                    let p = img.get_pixel(xx, y).0;
                    for (si, pi) in s.iter_mut().zip(p) {
                        *si += f32::from(pi) / 4.0;
                    }
                }
                s
            };
            let (l, r) = (avg(x0), avg(x1));
            for x in x0 as u32..=x1 as u32 {
                let t = (x as f32 - x0) / (x1 - x0).max(1.0);
                plate.put_pixel(x, y, px(std::array::from_fn(|k| l[k] * (1.0 - t) + r[k] * t)));
            }
        }
        Head { img, plate, face, c, a, b }
    }

    /// Height of the head surface above its base plane at a framed-image point (0 outside).
    fn depth(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = ((x - self.c.0) / self.a, (y - self.c.1) / self.b);
        let r = 1.0 - dx * dx - dy * dy;
        if r <= 0.0 {
            return 0.0;
        }
        let mut z = self.a * 1.0 * r.sqrt();
        // A nose ridge from between the eyes to the tip, and two eye sockets.
        let eye_y = (self.face.eyes[0].1 + self.face.eyes[1].1) / 2.0;
        let (nx, ny) = self.face.nose;
        let t = ((y - eye_y) / (ny - eye_y).max(1.0)).clamp(0.0, 1.0);
        let ridge_x = (self.face.eyes[0].0 + self.face.eyes[1].0) / 2.0 * (1.0 - t) + nx * t;
        let along = if y < eye_y || y > ny + 0.1 * self.a { ((y - ny).abs() / (0.12 * self.a)).powi(2) } else { 0.0 };
        z += 0.32 * self.a * t.max(0.3) * (-((x - ridge_x) / (0.13 * self.a)).powi(2) - along).exp();
        for e in self.face.eyes {
            z -= 0.08 * self.a * (-((x - e.0).powi(2) + (y - e.1).powi(2)) / (2.0 * (0.12 * self.a).powi(2))).exp();
        }
        z.max(0.0)
    }

    /// Source colour at a framed-image point, with the expression applied (a smile pulls the
    /// mouth corners out and up; a blink paints the eyes shut with the skin below them).
    fn colour(&self, x: f32, y: f32, s: &HeadState) -> Option<[f32; 3]> {
        let (mut sx, mut sy) = (x, y);
        if s.smile > 0.0 {
            let mid = (
                (self.face.mouth[0].0 + self.face.mouth[1].0) / 2.0,
                (self.face.mouth[0].1 + self.face.mouth[1].1) / 2.0,
            );
            let half = (self.face.mouth[1].0 - self.face.mouth[0].0).abs() / 2.0;
            for m in self.face.mouth {
                let sigma = 0.45 * half;
                let g = (-((x - m.0).powi(2) + (y - m.1).powi(2)) / (2.0 * sigma * sigma)).exp();
                let out = (m.0 - mid.0).signum();
                // The inverse warp: sample from where the moved corner came from.
                sx -= s.smile * g * out * 0.22 * half;
                sy += s.smile * g * 0.18 * half;
            }
        }
        let mut c = bilinear(&self.img, sx, sy)?;
        if s.blink > 0.0 {
            let ew = (self.face.eyes[1].0 - self.face.eyes[0].0).abs() * 0.28;
            for e in self.face.eyes {
                let (u, v) = ((x - e.0) / ew, (y - e.1) / (0.55 * ew));
                let r = u * u + v * v;
                if r < 1.0 {
                    let skin = bilinear(&self.img, x, e.1 + 1.1 * ew).unwrap_or(c);
                    let lid = if v.abs() < 0.18 && u.abs() < 0.9 { 0.45 } else { 1.0 };
                    let w = s.blink * (1.0 - r * r);
                    c = std::array::from_fn(|k| c[k] * (1.0 - w) + skin[k] * lid * w);
                }
            }
        }
        Some(c)
    }

    /// One frame: the head posed by `s` over the static background.
    pub fn render(&self, s: &HeadState) -> RgbImage {
        let mut out = self.plate.clone();
        let mut zbuf = vec![f32::NEG_INFINITY; (W * H) as usize];
        let (sy_, cy_) = s.yaw.to_radians().sin_cos();
        let (sp, cp) = s.pitch.to_radians().sin_cos();
        let (sr, cr) = s.roll.to_radians().sin_cos();
        // The camera is close, as for a selfie: a little perspective.
        let dist = 2.2 * H as f32;
        let step = 1.0 / 3.0;
        let (x0, x1) = ((self.c.0 - self.a).floor(), (self.c.0 + self.a).ceil());
        let (y0, y1) = ((self.c.1 - self.b).floor(), (self.c.1 + self.b).ceil());
        let mut y = y0;
        while y <= y1 {
            let mut x = x0;
            while x <= x1 {
                let (dx, dy) = ((x - self.c.0) / self.a, (y - self.c.1) / self.b);
                if dx * dx + dy * dy < 1.0 {
                    let z = self.depth(x, y);
                    let (px0, py0) = (x - self.c.0, y - self.c.1);
                    // Yaw about the vertical axis, then pitch, then roll in the image.
                    let (x1r, z1) = (px0 * cy_ + z * sy_, -px0 * sy_ + z * cy_);
                    let (y2, z2) = (py0 * cp - z1 * sp, py0 * sp + z1 * cp);
                    let (x3, y3) = (x1r * cr - y2 * sr, x1r * sr + y2 * cr);
                    let k = s.scale * dist / (dist - z2 * s.scale);
                    let (u, v) = (self.c.0 + s.dx + x3 * k, self.c.1 + s.dy + y3 * k);
                    let (ui, vi) = (u.round(), v.round());
                    if ui >= 0.0 && vi >= 0.0 && ui < W as f32 && vi < H as f32 {
                        let i = (vi as u32 * W + ui as u32) as usize;
                        if z2 > zbuf[i]
                            && let Some(c) = self.colour(x, y, s)
                        {
                            zbuf[i] = z2;
                            out.put_pixel(ui as u32, vi as u32, px(c));
                        }
                    }
                }
                x += step;
            }
            y += step;
        }
        // Pin-holes of the splat (a pixel missed between hit neighbours) take their mean.
        let hit = |x: i64, y: i64| {
            x >= 0
                && y >= 0
                && x < W as i64
                && y < H as i64
                && zbuf[(y as u32 * W + x as u32) as usize] > f32::NEG_INFINITY
        };
        let snapshot = out.clone();
        for y in 1..H as i64 - 1 {
            for x in 1..W as i64 - 1 {
                let n = [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)];
                if !hit(x, y) && n.iter().filter(|(a, b)| hit(*a, *b)).count() >= 3 {
                    let mut s = [0.0f32; 3];
                    let mut c = 0.0;
                    for (a, b) in n {
                        if hit(a, b) {
                            let p = snapshot.get_pixel(a as u32, b as u32).0;
                            for k in 0..3 {
                                s[k] += f32::from(p[k]);
                            }
                            c += 1.0;
                        }
                    }
                    out.put_pixel(x as u32, y as u32, px(s.map(|v| v / c)));
                }
            }
        }
        out
    }
}

/// How many medium pixels make one frame pixel when the medium fills the frame: halftone dots
/// and screen pixels end up near the camera's own pixel pitch, as for a print or a phone held
/// close, so the camera's sampling of the pattern is what makes the moiré.
const MEDIUM: u32 = 4;

/// A flat medium carrying the photo: a print or a screen, at [`MEDIUM`] times the frame's
/// resolution.
pub struct Medium {
    pub img: RgbImage,
}

impl Medium {
    /// A CMY halftone print with a white margin.
    pub fn print(photo: &RgbImage, rng: &mut Rng) -> Medium {
        let period = rng.range(3.0, 5.5);
        let margin = 14 * MEDIUM;
        let (w, h) = (MEDIUM * W + 2 * margin, MEDIUM * H + 2 * margin);
        let big = image::imageops::resize(photo, MEDIUM * W, MEDIUM * H, image::imageops::FilterType::Triangle);
        let paper = [246.0, 243.0, 236.0];
        let angles = [15f32, 75.0, 0.0].map(|a| (a + rng.range(-5.0, 5.0)).to_radians());
        let img = RgbImage::from_fn(w, h, |x, y| {
            if x < margin || y < margin || x >= w - margin || y >= h - margin {
                return px(paper);
            }
            let p = big.get_pixel(x - margin, y - margin).0;
            let (xf, yf) = (x as f32, y as f32);
            let c: [f32; 3] = std::array::from_fn(|k| {
                // Ink coverage of this channel (a little dot gain), then an amplitude-modulated dot.
                let cover = (1.0 - f32::from(p[k]) / 255.0).powf(0.85);
                let (s, co) = angles[k].sin_cos();
                let (u, v) = (xf * co + yf * s, -xf * s + yf * co);
                let spot =
                    ((u * std::f32::consts::TAU / period).cos() + (v * std::f32::consts::TAU / period).cos() + 2.0)
                        / 4.0;
                let ink = if spot < cover { 0.88 } else { 0.0 };
                paper[k] * (1.0 - ink)
            });
            px(c)
        });
        Medium { img }
    }

    /// A display: each screen pixel a 3×3 block of R, G, B stripes with a dark row, a black
    /// bezel, a glare spot.
    pub fn screen(photo: &RgbImage, rng: &mut Rng) -> Medium {
        let bezel = 18 * MEDIUM;
        let (w, h) = (MEDIUM * W + 2 * bezel, MEDIUM * H + 2 * bezel);
        let shown =
            image::imageops::resize(photo, MEDIUM * W / 3, MEDIUM * H / 3, image::imageops::FilterType::Triangle);
        let glare = (rng.range(0.2, 0.8) * w as f32, rng.range(0.2, 0.8) * h as f32, rng.range(15.0, 60.0));
        let gain = rng.range(1.0, 1.2);
        let img = RgbImage::from_fn(w, h, |x, y| {
            if x < bezel || y < bezel || x >= w - bezel || y >= h - bezel {
                return Rgb([12, 12, 14]);
            }
            let (sx, sy) = ((x - bezel) / 3, (y - bezel) / 3);
            let p = shown.get_pixel(sx.min(shown.width() - 1), sy.min(shown.height() - 1)).0;
            let sub = ((x - bezel) % 3) as usize;
            let row_gap = (y - bezel) % 3 == 2;
            // Each stripe lit by its own channel, with some bleed from its neighbours.
            let mut c = p.map(|v| f32::from(v) * 0.6 * gain);
            c[sub] = f32::from(p[sub]) * 1.8 * gain;
            if row_gap {
                c = c.map(|v| v * 0.45);
            }
            let d2 = (x as f32 - glare.0).powi(2) + (y as f32 - glare.1).powi(2);
            let g = glare.2 * (-d2 / (2.0 * (0.18 * w as f32).powi(2))).exp();
            px(c.map(|v| v + g))
        });
        Medium { img }
    }
}

/// How a medium is held in one frame: tilts about the horizontal (`tilt_x`) and vertical
/// (`tilt_y`) axes and roll in degrees; `scale` 1 fills the frame; `dx`, `dy` in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaneState {
    pub tilt_x: f32,
    pub tilt_y: f32,
    pub roll: f32,
    pub scale: f32,
    pub dx: f32,
    pub dy: f32,
}

/// A room behind the medium: smooth colour gradients and soft blobs.
pub fn room(rng: &mut Rng) -> RgbImage {
    let base: [f32; 3] = std::array::from_fn(|_| rng.range(60.0, 200.0));
    let grad: [f32; 3] = std::array::from_fn(|_| rng.range(-60.0, 60.0));
    let blobs: Vec<(f32, f32, f32, f32)> = (0..6)
        .map(|_| (rng.range(0.0, W as f32), rng.range(0.0, H as f32), rng.range(30.0, 120.0), rng.range(-50.0, 50.0)))
        .collect();
    RgbImage::from_fn(W, H, |x, y| {
        let t = y as f32 / H as f32;
        let b: f32 = blobs
            .iter()
            .map(|(bx, by, r, a)| a * (-((x as f32 - bx).powi(2) + (y as f32 - by).powi(2)) / (2.0 * r * r)).exp())
            .sum();
        px(std::array::from_fn(|k| base[k] + grad[k] * t + b))
    })
}

fn inverse3(m: [[f32; 3]; 3]) -> Option<[[f32; 3]; 3]> {
    let c = |r: usize, k: usize| {
        let (r1, r2, k1, k2) = ((r + 1) % 3, (r + 2) % 3, (k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    if det.abs() < 1e-12 {
        return None;
    }
    Some(std::array::from_fn(|r| std::array::from_fn(|k| c(k, r) / det)))
}

/// One frame of a medium held as a plane in front of `room`: every pixel integrates 2×2 rays
/// (a sensor pixel has an area) intersected with the plane — an exact homography — sampled
/// bilinearly from the medium.
pub fn render_plane(medium: &Medium, room: &RgbImage, s: &PlaneState) -> RgbImage {
    let f = 2.2 * H as f32;
    let (mw, mh) = (medium.img.width() as f32, medium.img.height() as f32);
    // Medium pixels → frame pixels at the plane's depth: the photo area spans the frame at scale 1.
    let k = s.scale / MEDIUM as f32;
    let (sx, cx) = s.tilt_x.to_radians().sin_cos();
    let (sy, cy) = s.tilt_y.to_radians().sin_cos();
    let (sr, cr) = s.roll.to_radians().sin_cos();
    // R = Rz(roll)·Rx(tilt_x)·Ry(tilt_y); the plane's axes are R's first two columns.
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
    let rz = [[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]];
    let mul = |a: [[f32; 3]; 3], b: [[f32; 3]; 3]| -> [[f32; 3]; 3] {
        std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|i| a[r][i] * b[i][c]).sum()))
    };
    let r = mul(rz, mul(rx, ry));
    // Plane point (u, v) centred, in frame pixels at depth f: X = R·(u, v, 0) + (dx, dy, f).
    // Image = (f·X/Z + W/2, f·Y/Z + H/2) — H maps (u, v, 1) to homogeneous image coordinates.
    let t = [s.dx, s.dy, f];
    let hm = [
        [
            f * r[0][0] + W as f32 / 2.0 * r[2][0],
            f * r[0][1] + W as f32 / 2.0 * r[2][1],
            f * t[0] + W as f32 / 2.0 * t[2],
        ],
        [
            f * r[1][0] + H as f32 / 2.0 * r[2][0],
            f * r[1][1] + H as f32 / 2.0 * r[2][1],
            f * t[1] + H as f32 / 2.0 * t[2],
        ],
        [r[2][0], r[2][1], t[2]],
    ];
    let Some(inv) = inverse3(hm) else { return room.clone() };
    let sample = |xf: f32, yf: f32, x: u32, y: u32| -> [f32; 3] {
        let wq = inv[2][0] * xf + inv[2][1] * yf + inv[2][2];
        let fallback = || room.get_pixel(x, y).0.map(f32::from);
        if wq.abs() < 1e-9 {
            return fallback();
        }
        let u = (inv[0][0] * xf + inv[0][1] * yf + inv[0][2]) / wq;
        let v = (inv[1][0] * xf + inv[1][1] * yf + inv[1][2]) / wq;
        bilinear(&medium.img, u / k + mw / 2.0, v / k + mh / 2.0).unwrap_or_else(fallback)
    };
    RgbImage::from_fn(W, H, |x, y| {
        let mut acc = [0.0f32; 3];
        for (dx, dy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
            let c = sample(x as f32 + dx, y as f32 + dy, x, y);
            for k in 0..3 {
                acc[k] += c[k] / 4.0;
            }
        }
        px(acc)
    })
}

/// The camera: a slight blur and sensor noise.
pub fn camera(img: &RgbImage, rng: &mut Rng) -> RgbImage {
    let blurred = image::imageops::blur(img, 0.6);
    let mut out = blurred;
    for p in out.pixels_mut() {
        let n = rng.range(-3.0, 3.0);
        p.0 = p.0.map(|c| (f32::from(c) + n).round().clamp(0.0, 255.0) as u8);
    }
    out
}

/// A hand-held camera: the whole view turns and slides a little over the take (a phone held at
/// arm's length rotates more than it translates, and a rotation moves near and far alike), by a
/// random amount from none to 1.5° and 6 pixels. The view is enlarged by 5 % so that the frame's
/// edges never show.
pub fn handheld(frames: Vec<RgbImage>, seed: u64) -> Vec<RgbImage> {
    let mut rng = Rng::new(seed ^ 0x4A4E_4448);
    let amount = rng.range(0.0, 1.0);
    let (p1, p2, p3) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3), rng.range(0.0, 6.3));
    let (c, zoom) = ((W as f32 / 2.0, H as f32 / 2.0), 1.05);
    frames
        .into_iter()
        .enumerate()
        .map(|(i, img)| {
            let angle = (amount * 1.5 * wave(i, 1.3, p1) + 0.15 * wave(i, 6.1, p2)).to_radians();
            let t = (
                amount * 6.0 * wave(i, 1.1, p2) + 0.6 * wave(i, 5.3, p3),
                amount * 4.0 * wave(i, 0.9, p3) + 0.6 * wave(i, 4.7, p1),
            );
            let (sn, cs) = angle.sin_cos();
            RgbImage::from_fn(W, H, |x, y| {
                // The inverse map: where in the unmoved view this frame pixel looks.
                let (u, v) = (x as f32 - c.0 - t.0, y as f32 - c.1 - t.1);
                let (su, sv) = ((cs * u + sn * v) / zoom + c.0, (-sn * u + cs * v) / zoom + c.1);
                let (su, sv) = (su.clamp(0.0, W as f32 - 1.001), sv.clamp(0.0, H as f32 - 1.001));
                bilinear(&img, su, sv).map(px).unwrap_or(Rgb([0, 0, 0]))
            })
        })
        .collect()
}

/// Encodes frames as an H.264 MP4 at [`FPS`] with the machine's ffmpeg.
pub fn encode(frames: &[RgbImage], out: &Path) -> Result<()> {
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
        .arg(format!("{W}x{H}"))
        .args(["-r", &FPS.to_string(), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"])
        .args(["-pix_fmt", "yuv420p"])
        .arg(out)
        .stdin(Stdio::piped())
        .spawn()
        .context("ffmpeg (make setup installs it)")?;
    {
        let mut stdin = child.stdin.take().context("ffmpeg stdin")?;
        for f in frames {
            stdin.write_all(f.as_raw())?;
        }
    }
    if !child.wait()?.success() {
        bail!("ffmpeg could not encode {}", out.display());
    }
    Ok(())
}

/// Smooth motion in [-1, 1]: `cycles` sine periods over the take, phase-shifted.
fn wave(i: usize, cycles: f32, phase: f32) -> f32 {
    (std::f32::consts::TAU * (cycles * i as f32 / FRAMES as f32) + phase).sin()
}

/// A bump from 0 to 1 and back between the fractions `from` and `to` of the take.
fn bump(i: usize, from: f32, to: f32) -> f32 {
    let t = i as f32 / (FRAMES - 1) as f32;
    if t <= from || t >= to { 0.0 } else { (std::f32::consts::PI * (t - from) / (to - from)).sin() }
}

/// What a bona fide take shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// A natural take: the head turns and nods a little while talking to the camera.
    Sway,
    /// Turn toward the image's right (`yaw` > 0) and back.
    Left,
    Right,
    Down,
    Up,
    Smile,
    Blink,
    ZoomIn,
    ZoomOut,
    /// Held still: no 3D motion at all.
    Still,
}

/// The head's states over a take.
pub fn head_script(act: Act, rng: &mut Rng) -> Vec<HeadState> {
    let amp = rng.range(20.0, 32.0);
    let (p1, p2) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
    let sway_yaw = rng.range(6.0, 16.0) * rng.sign();
    let sway_pitch = rng.range(3.0, 8.0);
    let shake = rng.range(0.0, 3.0);
    let blink_at = rng.range(1.5, 3.5);
    (0..FRAMES)
        .map(|i| {
            let mut s =
                HeadState { dx: shake * wave(i, 3.1, p1), dy: shake * wave(i, 2.3, p2), ..HeadState::default() };
            // A little sway in every take except the still one: nobody holds perfectly still.
            if act != Act::Still {
                s.yaw = 3.0 * wave(i, 0.7, p1);
                s.pitch = 2.0 * wave(i, 0.9, p2);
            }
            match act {
                Act::Sway => {
                    s.yaw = sway_yaw * wave(i, 1.0, p1);
                    s.pitch = sway_pitch * wave(i, 1.3, p2);
                    s.roll = 3.0 * wave(i, 0.8, p2);
                }
                Act::Left => s.yaw += amp * bump(i, 0.15, 0.85),
                Act::Right => s.yaw -= amp * bump(i, 0.15, 0.85),
                Act::Up => s.pitch += amp * 0.8 * bump(i, 0.15, 0.85),
                Act::Down => s.pitch -= amp * 0.8 * bump(i, 0.15, 0.85),
                Act::Smile => s.smile = bump(i, 0.2, 0.9).min(0.8) / 0.8,
                Act::Blink => {
                    // One blink of about 0.3 s, somewhere in the middle.
                    let d = (i as f32 / FPS as f32 - blink_at).abs();
                    s.blink = if d < 0.2 { 1.0 } else { 0.0 };
                }
                Act::ZoomIn => s.scale = 1.0 + 0.35 * (i as f32 / (FRAMES - 1) as f32),
                Act::ZoomOut => s.scale = 1.3 - 0.35 * (i as f32 / (FRAMES - 1) as f32),
                Act::Still => {}
            }
            s
        })
        .collect()
}

/// How an attacker moves a medium over a take: a hand-held tilt of `tilt` degrees about a random
/// axis, swinging, plus pan, zoom and shake.
pub fn plane_script(tilt: f32, rng: &mut Rng) -> Vec<PlaneState> {
    let axis = rng.range(0.0, std::f32::consts::PI);
    let (p1, p2, p3) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3), rng.range(0.0, 6.3));
    let cycles = rng.range(0.6, 1.6);
    let pan = rng.range(0.0, 30.0);
    let zoom = rng.range(0.0, 0.15);
    let shake = rng.range(0.0, 3.0);
    let base = rng.range(1.05, 1.3);
    (0..FRAMES)
        .map(|i| {
            let swing = tilt * wave(i, cycles, p1);
            PlaneState {
                tilt_x: swing * axis.sin(),
                tilt_y: swing * axis.cos(),
                roll: 4.0 * wave(i, 0.5, p2),
                scale: base * (1.0 + zoom * wave(i, 0.8, p3)),
                dx: pan * wave(i, 0.9, p2) + shake * wave(i, 4.7, p3),
                dy: pan * 0.5 * wave(i, 0.7, p3) + shake * wave(i, 3.9, p1),
            }
        })
        .collect()
}

/// Loads a test photo as RGB.
pub fn load(path: &Path) -> Result<RgbImage> {
    Ok(image::open(path).with_context(|| format!("opening {}", path.display()))?.to_rgb8())
}

/// A bona fide take of `face` doing `act`, filmed from a tripod or (`hand`) a [`handheld`]
/// camera.
pub fn bona_fide(photo: &RgbImage, face: &Face, act: Act, seed: u64, hand: bool) -> Vec<RgbImage> {
    let mut rng = Rng::new(seed);
    let head = Head::new(photo, face, rng.range(130.0, 170.0));
    let script = head_script(act, &mut rng);
    let views: Vec<RgbImage> = script.iter().map(|s| head.render(s)).collect();
    let views = if hand { handheld(views, seed) } else { views };
    views.iter().map(|v| camera(v, &mut rng)).collect()
}

/// The attack species the generator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Species {
    Print,
    Screen,
}

impl Species {
    pub fn name(self) -> &'static str {
        match self {
            Species::Print => "print",
            Species::Screen => "screen",
        }
    }
}

/// An attack take: the framed photo on a print or screen, moved as a plane with up to `tilt`
/// degrees of hand-held tilt, filmed from a tripod or (`hand`) a [`handheld`] camera.
pub fn attack(photo: &RgbImage, face: &Face, species: Species, tilt: f32, seed: u64, hand: bool) -> Vec<RgbImage> {
    let mut rng = Rng::new(seed);
    let (framed_img, _) = framed(photo, face, rng.range(130.0, 170.0));
    let medium = match species {
        Species::Print => Medium::print(&framed_img, &mut rng),
        Species::Screen => Medium::screen(&framed_img, &mut rng),
    };
    let bg = room(&mut rng);
    let script = plane_script(tilt, &mut rng);
    let views: Vec<RgbImage> = script.iter().map(|s| render_plane(&medium, &bg, s)).collect();
    let views = if hand { handheld(views, seed) } else { views };
    views.iter().map(|v| camera(v, &mut rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo() -> (RgbImage, Face) {
        // A synthetic "photo": a bright disc with dark eyes, nose and mouth where the face says.
        let face = Face {
            file: "synthetic",
            eyes: [(80.0, 90.0), (120.0, 90.0)],
            nose: (100.0, 115.0),
            mouth: [(85.0, 135.0), (115.0, 135.0)],
            chin: (100.0, 160.0),
            jaw: [(60.0, 90.0), (140.0, 90.0)],
        };
        let img = RgbImage::from_fn(200, 240, |x, y| {
            let d = |p: (f32, f32)| ((x as f32 - p.0).powi(2) + (y as f32 - p.1).powi(2)).sqrt();
            if face.eyes.iter().any(|e| d(*e) < 6.0) || d(face.nose) < 4.0 {
                Rgb([30, 30, 30])
            } else if d((100.0, 115.0)) < 45.0 {
                Rgb([210, 170, 150])
            } else {
                Rgb([(x % 50) as u8 + 40, 90, (y % 60) as u8 + 60])
            }
        });
        (img, face)
    }

    #[test]
    fn a_turning_head_moves_its_nose_more_than_its_contour() {
        let (img, face) = photo();
        let head = Head::new(&img, &face, 150.0);
        let still = head.render(&HeadState::default());
        let turned = head.render(&HeadState { yaw: 25.0, ..HeadState::default() });
        // The dark nose blob moves toward the image's right; the face's left edge moves less.
        let dark_x = |im: &RgbImage, row: u32| -> Vec<u32> {
            (0..W).filter(|&x| im.get_pixel(x, row).0.iter().all(|c| *c < 60)).collect()
        };
        let nose_row = head.face.nose.1.round() as u32;
        let (a, b) = (dark_x(&still, nose_row), dark_x(&turned, nose_row));
        let mean = |v: &[u32]| v.iter().sum::<u32>() as f32 / v.len().max(1) as f32;
        assert!(!a.is_empty() && !b.is_empty());
        let nose_shift = mean(&b) - mean(&a);
        assert!(nose_shift > 0.2 * head.a, "nose moved {nose_shift} px, face half-width {}", head.a);
    }

    #[test]
    fn a_plane_held_square_shows_the_medium_and_a_tilted_one_the_room_too() {
        let (img, face) = photo();
        let (framed_img, _) = framed(&img, &face, 150.0);
        let mut rng = Rng::new(1);
        let m = Medium::print(&framed_img, &mut rng);
        let bg = RgbImage::from_pixel(W, H, Rgb([0, 255, 0]));
        let square =
            render_plane(&m, &bg, &PlaneState { tilt_x: 0.0, tilt_y: 0.0, roll: 0.0, scale: 1.2, dx: 0.0, dy: 0.0 });
        let green = |im: &RgbImage| im.pixels().filter(|p| p.0 == [0, 255, 0]).count();
        assert_eq!(green(&square), 0, "a print larger than the frame fills it");
        let tilted =
            render_plane(&m, &bg, &PlaneState { tilt_x: 0.0, tilt_y: 35.0, roll: 0.0, scale: 0.8, dx: 0.0, dy: 0.0 });
        assert!(green(&tilted) > (W * H / 10) as usize);
    }
}
