//! Whether a face's surroundings move with it. A printed photo or a screen carries the face's
//! surroundings on the same sheet: whatever the attacker does with it, the picture around the face
//! moves exactly as the face does. A head moves in front of a background that does not follow it.
//!
//! Between a reference frame and a later one, the face's motion is the affine map that takes
//! its landmarks from one to the other. Blocks of the reference frame in a ring around the head
//! (outside the face, hair and ears) are looked for in the later frame twice: where the face's
//! motion would carry them, and where they were. A small search window around each guess absorbs
//! the landmarks' jitter. A block is counted for the hypothesis that matches clearly better;
//! blocks without texture, or that the face's motion hardly moves, decide nothing.

use image::RgbImage;

/// How the face's surroundings moved between two frames.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Surroundings {
    /// Textured ring blocks that the face's motion moved far enough to tell the hypotheses apart.
    pub blocks: u32,
    /// Of those, the blocks found where the face's motion carried them.
    pub follow: u32,
    /// Of those, the blocks found where they were.
    pub still: u32,
    /// How far the face's motion carried the ring (median over its blocks), in face widths.
    pub shift: f32,
}

/// A match must be this much better (errors include [`NOISE`]) to count for its hypothesis.
const MARGIN: f32 = 1.5;
/// Grey levels of sensor and compression noise added to both errors, so two near-perfect
/// matches do not decide on noise.
const NOISE: f32 = 2.0;
/// The least standard deviation (grey levels) of a block worth tracking.
const TEXTURE_MIN: f32 = 5.0;
/// Faces wider than this (pixels) are measured on images shrunk by a whole factor.
const WIDTH: f32 = 120.0;
/// Samples per block side.
const SAMPLES: usize = 12;
/// Textured blocks matched at most, nearest the face first.
const MAX_BLOCKS: usize = 48;
/// Landmark points accepted: the 68-point model's, with room for other schemes.
pub const MAX_POINTS: usize = 256;

/// An affine map `(x, y) ↦ (a·x + b·y + c, d·x + e·y + f)`.
#[derive(Debug, Clone, Copy)]
struct Affine([f32; 6]);

impl Affine {
    fn apply(&self, (x, y): (f32, f32)) -> (f32, f32) {
        let m = self.0;
        (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
    }

    /// The least-squares affine map from `a` onto `b`, or `None` for degenerate points.
    fn fit(a: &[(f32, f32)], b: &[(f32, f32)]) -> Option<Affine> {
        let n = a.len() as f64;
        if a.len() < 3 || a.len() != b.len() {
            return None;
        }
        // Centred coordinates keep the normal equations well conditioned.
        let mean = |p: &[(f32, f32)]| {
            let (sx, sy) = p.iter().fold((0.0f64, 0.0f64), |s, q| (s.0 + f64::from(q.0), s.1 + f64::from(q.1)));
            (sx / n, sy / n)
        };
        let (ma, mb) = (mean(a), mean(b));
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        let (mut ux, mut uy, mut vx, mut vy) = (0.0, 0.0, 0.0, 0.0);
        for (p, q) in a.iter().zip(b) {
            let (x, y) = (f64::from(p.0) - ma.0, f64::from(p.1) - ma.1);
            let (u, v) = (f64::from(q.0) - mb.0, f64::from(q.1) - mb.1);
            sxx += x * x;
            sxy += x * y;
            syy += y * y;
            ux += u * x;
            uy += u * y;
            vx += v * x;
            vy += v * y;
        }
        let det = sxx * syy - sxy * sxy;
        if !det.is_finite() || det.abs() < 1e-6 * (sxx * syy).max(1e-12) {
            return None;
        }
        let solve = |px: f64, py: f64| ((px * syy - py * sxy) / det, (py * sxx - px * sxy) / det);
        let (a0, b0) = solve(ux, uy);
        let (d0, e0) = solve(vx, vy);
        let c0 = mb.0 - a0 * ma.0 - b0 * ma.1;
        let f0 = mb.1 - d0 * ma.0 - e0 * ma.1;
        let m = [a0, b0, c0, d0, e0, f0].map(|v| v as f32);
        m.iter().all(|v| v.is_finite()).then_some(Affine(m))
    }
}

/// The grey levels of a window of an image, in coordinates of the image shrunk by `f`, computed
/// when first read: the blocks and their search windows touch a small part of the ring.
struct Grey<'a> {
    img: &'a RgbImage,
    f: usize,
    /// The window's origin and size.
    ox: usize,
    oy: usize,
    w: usize,
    h: usize,
    /// NaN until computed.
    px: Vec<f32>,
}

impl<'a> Grey<'a> {
    /// Grey levels averaged over `f`×`f` boxes (large faces are brought down to a size where the
    /// search windows stay small), over the window `(x0, y0, x1, y1)` of the shrunk image,
    /// clipped to it.
    fn new(img: &'a RgbImage, f: usize, (x0, y0, x1, y1): (f32, f32, f32, f32)) -> Grey<'a> {
        let (iw, ih) = (img.width() as usize / f, img.height() as usize / f);
        let clip = |v: f32, max: usize| (v.max(0.0) as usize).min(max);
        let (ox, oy) = (clip(x0.floor(), iw), clip(y0.floor(), ih));
        let (ex, ey) = (clip(x1.ceil() + 1.0, iw), clip(y1.ceil() + 1.0, ih));
        let (w, h) = (ex - ox, ey - oy);
        Grey { img, f, ox, oy, w, h, px: vec![f32::NAN; w * h] }
    }

    /// The grey level at index `i` of the window (see [`Grey::index`]).
    fn get(&mut self, i: usize) -> f32 {
        let v = self.px[i];
        if !v.is_nan() {
            return v;
        }
        let (x, y) = ((self.ox + i % self.w) * self.f, (self.oy + i / self.w) * self.f);
        let (raw, stride) = (self.img.as_raw(), self.img.width() as usize * 3);
        let mut sum = 0.0;
        for sy in y..y + self.f {
            for p in raw[sy * stride + x * 3..sy * stride + (x + self.f) * 3].chunks_exact(3) {
                sum += 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
            }
        }
        let v = sum / (self.f * self.f) as f32;
        self.px[i] = v;
        v
    }

    /// The index of (x, y) of the shrunk image in the window, which must contain it.
    fn index(&self, x: usize, y: usize) -> usize {
        (y - self.oy) * self.w + (x - self.ox)
    }

    /// Whether (x, y) lies at least `margin` pixels inside the window.
    fn inside(&self, x: f32, y: f32, margin: f32) -> bool {
        let (x, y) = (x - self.ox as f32, y - self.oy as f32);
        x >= margin && y >= margin && x < self.w as f32 - 1.0 - margin && y < self.h as f32 - 1.0 - margin
    }
}

/// The pixels of a block that are compared: a lattice of at most [`SAMPLES`]² (the block's
/// structure is coarser than that), so the cost does not grow with the face.
fn sampled(side: usize) -> impl Iterator<Item = (usize, usize)> {
    let step = side.div_ceil(SAMPLES).max(1);
    (0..side).step_by(step).flat_map(move |y| (0..side).step_by(step).map(move |x| (x, y)))
}

/// The mean absolute difference between the reference block at `(x0, y0)` (side `side`) and
/// the later frame sampled at `map(x, y) + (dx, dy)`, minimised over the search window.
fn best_match(
    reference: &[f32],
    side: usize,
    (x0, y0): (usize, usize),
    later: &mut Grey,
    map: impl Fn(f32, f32) -> (f32, f32),
    radius: i32,
) -> f32 {
    // Positions rounded to whole pixels (half a pixel is well inside the search window), as
    // indices into the window's grey levels.
    let targets: Vec<isize> = sampled(side)
        .map(|(x, y)| {
            let (u, v) = map((x0 + x) as f32, (y0 + y) as f32);
            later.index(u.round() as usize, v.round() as usize) as isize
        })
        .collect();
    let stride = later.w as isize;
    let mut error = |dx: i32, dy: i32| {
        let d = dy as isize * stride + dx as isize;
        let sum: f32 = reference.iter().zip(&targets).map(|(r, t)| (r - later.get((t + d) as usize)).abs()).sum();
        sum / reference.len() as f32
    };
    // Coarse to fine: every other offset of the window, then the neighbours of the best one.
    let coarse = if radius >= 3 { 2 } else { 1 };
    let mut best = (f32::INFINITY, 0, 0);
    for dy in (-radius..=radius).step_by(coarse) {
        for dx in (-radius..=radius).step_by(coarse) {
            let e = error(dx, dy);
            if e < best.0 {
                best = (e, dx, dy);
            }
        }
    }
    if coarse > 1 {
        let (_, bx, by) = best;
        for dy in (by - 1).max(-radius)..=(by + 1).min(radius) {
            for dx in (bx - 1).max(-radius)..=(bx + 1).min(radius) {
                best.0 = best.0.min(error(dx, dy));
            }
        }
    }
    best.0
}

/// How the surroundings of the face with landmarks `ref_points` in `reference` moved, given its
/// landmarks `points` in `later`. `None` when the points are unusable (fewer than three, not the
/// same number, or degenerate).
pub fn surroundings(
    reference: &RgbImage,
    ref_points: &[(f32, f32)],
    later: &RgbImage,
    points: &[(f32, f32)],
) -> Option<Surroundings> {
    if ref_points.len() > MAX_POINTS || !ref_points.iter().chain(points).all(|p| p.0.is_finite() && p.1.is_finite()) {
        return None;
    }
    let (lo, hi) = ref_points.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let f = ((hi - lo) / WIDTH).floor().clamp(1.0, 16.0);
    let scaled = |p: &[(f32, f32)]| -> Vec<(f32, f32)> { p.iter().map(|q| (q.0 / f, q.1 / f)).collect() };
    let (ref_points, points) = (scaled(ref_points), scaled(points));
    let motion = Affine::fit(&ref_points, &points)?;
    let n = ref_points.len() as f32;
    let centre = ref_points.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0 / n, s.1 + p.1 / n));
    let width = ((hi - lo) / f).max(8.0);
    let side = (width / 4.0).round().clamp(8.0, 48.0) as usize;
    let radius = (0.02 * width).round().max(2.0) as i32;
    let decisive = 2.0 * radius as f32 + 1.0;
    // Block centres one and a half sides apart.
    let step = 1.5 * side as f32;
    let reach = (2.0 * width / step).ceil() as i32;
    // The windows read: the ring in the reference; in the later frame, the ring where it was and
    // where the face's motion takes it, plus the search windows.
    let r = 2.2 * width + side as f32;
    let ring = (centre.0 - r, centre.1 - r, centre.0 + r, centre.1 + r);
    let mut later_window = ring;
    for corner in [(ring.0, ring.1), (ring.2, ring.1), (ring.0, ring.3), (ring.2, ring.3)] {
        let (u, v) = motion.apply(corner);
        later_window = (later_window.0.min(u), later_window.1.min(v), later_window.2.max(u), later_window.3.max(v));
    }
    let pad = radius as f32 + 2.0;
    let later_window = (later_window.0 - pad, later_window.1 - pad, later_window.2 + pad, later_window.3 + pad);
    let (mut gr, mut gl) = (Grey::new(reference, f as usize, ring), Grey::new(later, f as usize, later_window));
    // The head with hair and ears: an ellipse around the face, reaching higher than it does low.
    let head = |x: f32, y: f32| {
        let (u, v) = ((x - centre.0) / (0.95 * width), (y - (centre.1 - 0.25 * width)) / (1.35 * width));
        u * u + v * v <= 1.0
    };
    let margin = radius as f32 + 1.0;
    let (mut blocks, mut follow, mut still) = (0u32, 0u32, 0u32);
    let mut shifts = Vec::new();
    let half = side as f32 / 2.0;
    // Block centres in the ring between the head and two face widths out, nearest first.
    let mut centres: Vec<(f32, f32, f32)> = (-reach..=reach)
        .flat_map(|j| (-reach..=reach).map(move |i| (i as f32 * step, j as f32 * step)))
        .map(|(dx, dy)| (centre.0 + dx, centre.1 + dy, (dx / (2.0 * width)).hypot(dy / (2.2 * width))))
        .filter(|&(cx, cy, d)| d <= 1.0 && !head(cx, cy))
        .collect();
    centres.sort_by(|a, b| a.2.total_cmp(&b.2));
    for (cx, cy, _) in centres {
        if blocks as usize >= MAX_BLOCKS {
            break;
        }
        let (x0, y0) = (cx - half, cy - half);
        let far = (x0 + side as f32, y0 + side as f32);
        if !gr.inside(x0, y0, 0.0) || !gr.inside(far.0, far.1, 0.0) {
            continue;
        }
        let corners = [(x0, y0), (far.0, y0), (x0, far.1), far];
        if !corners.iter().all(|&(x, y)| {
            let (u, v) = motion.apply((x, y));
            gl.inside(u, v, margin) && gl.inside(x, y, margin)
        }) {
            continue;
        }
        let moved = motion.apply((cx, cy));
        let shift = (moved.0 - cx).hypot(moved.1 - cy);
        shifts.push(shift / width);
        if shift < decisive {
            continue;
        }
        let (x0, y0) = (x0 as usize, y0 as usize);
        let block: Vec<f32> = sampled(side).map(|(x, y)| gr.get(gr.index(x0 + x, y0 + y))).collect();
        let mean = block.iter().sum::<f32>() / block.len() as f32;
        let sd = (block.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / block.len() as f32).sqrt();
        if sd < TEXTURE_MIN {
            continue;
        }
        // The cap counts matched blocks: only they cost.
        blocks += 1;
        let e_follow = best_match(&block, side, (x0, y0), &mut gl, |x, y| motion.apply((x, y)), radius) + NOISE;
        let e_still = best_match(&block, side, (x0, y0), &mut gl, |x, y| (x, y), radius) + NOISE;
        if e_follow * MARGIN < e_still {
            follow += 1;
        } else if e_still * MARGIN < e_follow {
            still += 1;
        }
    }
    shifts.sort_by(f32::total_cmp);
    let shift = shifts.get(shifts.len() / 2).copied().unwrap_or(0.0);
    Some(Surroundings { blocks, follow, still, shift })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A deterministic texture: sums of sines, so every block has structure in both directions.
    fn texture(w: u32, h: u32, seed: f32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let (x, y) = (x as f32, y as f32);
            let v = 128.0
                + 40.0 * ((x * 0.31 + seed).sin() * (y * 0.23).cos())
                + 30.0 * ((x * 0.07 + y * 0.11 + seed).sin())
                + 20.0 * ((x * 0.53 - y * 0.41).cos());
            let g = v.clamp(0.0, 255.0) as u8;
            Rgb([g, g, g])
        })
    }

    /// Face landmarks: a grid of points over a face-sized box.
    fn face(cx: f32, cy: f32, w: f32) -> Vec<(f32, f32)> {
        (0..7)
            .flat_map(|j| (0..7).map(move |i| (cx + (i as f32 - 3.0) * w / 6.0, cy + (j as f32 - 3.0) * w / 6.0)))
            .collect()
    }

    /// Moves the whole image by (dx, dy), as a held picture that slides.
    fn shifted(img: &RgbImage, dx: i64, dy: i64) -> RgbImage {
        RgbImage::from_fn(img.width(), img.height(), |x, y| {
            let (sx, sy) = (x as i64 - dx, y as i64 - dy);
            let (sx, sy) = (sx.clamp(0, img.width() as i64 - 1) as u32, sy.clamp(0, img.height() as i64 - 1) as u32);
            *img.get_pixel(sx, sy)
        })
    }

    #[test]
    fn a_picture_moved_as_a_whole_has_surroundings_that_follow() {
        let a = texture(360, 480, 0.0);
        let b = shifted(&a, 14, -9);
        let pts = face(180.0, 220.0, 100.0);
        let moved: Vec<_> = pts.iter().map(|p| (p.0 + 14.0, p.1 - 9.0)).collect();
        let s = surroundings(&a, &pts, &b, &moved).unwrap();
        assert!(s.blocks >= 8, "{s:?}");
        assert!(s.follow as f32 >= 0.9 * s.blocks as f32, "{s:?}");
        assert!(s.shift > 0.1, "{s:?}");
    }

    #[test]
    fn large_frames_are_measured_shrunk_with_the_same_outcome() {
        // A 720p frame with a 300-pixel face: measured at half size, on a window around the face.
        let a = texture(1280, 720, 1.0);
        let b = shifted(&a, -24, 10);
        let pts = face(640.0, 360.0, 300.0);
        let moved: Vec<_> = pts.iter().map(|p| (p.0 - 24.0, p.1 + 10.0)).collect();
        let s = surroundings(&a, &pts, &b, &moved).unwrap();
        assert!(s.blocks >= 8 && s.follow as f32 >= 0.9 * s.blocks as f32, "{s:?}");
        let s = surroundings(&a, &pts, &a, &moved).unwrap();
        assert!(s.blocks >= 8 && s.still as f32 >= 0.9 * s.blocks as f32, "{s:?}");
    }

    #[test]
    fn a_face_moving_over_a_static_background_leaves_it_behind() {
        let a = texture(360, 480, 0.0);
        let pts = face(180.0, 220.0, 100.0);
        // Only the face's points moved; the image around them stayed.
        let moved: Vec<_> = pts.iter().map(|p| (p.0 + 14.0, p.1 - 9.0)).collect();
        let s = surroundings(&a, &pts, &a, &moved).unwrap();
        assert!(s.blocks >= 8, "{s:?}");
        assert!(s.still as f32 >= 0.9 * s.blocks as f32, "{s:?}");
    }

    #[test]
    fn no_motion_and_no_texture_decide_nothing() {
        let a = texture(360, 480, 0.0);
        let pts = face(180.0, 220.0, 100.0);
        assert_eq!(surroundings(&a, &pts, &a, &pts).unwrap().blocks, 0);
        let flat = RgbImage::from_pixel(360, 480, Rgb([90, 90, 90]));
        let moved: Vec<_> = pts.iter().map(|p| (p.0 + 14.0, p.1)).collect();
        assert_eq!(surroundings(&flat, &pts, &flat, &moved).unwrap().blocks, 0);
    }

    #[test]
    fn unusable_points_are_refused() {
        let a = texture(64, 64, 0.0);
        assert!(surroundings(&a, &[(1.0, 1.0)], &a, &[(1.0, 1.0)]).is_none());
        let line = [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)];
        assert!(surroundings(&a, &line, &a, &line).is_none());
        let nan = [(1.0, 1.0), (f32::NAN, 2.0), (3.0, 7.0)];
        assert!(surroundings(&a, &nan, &a, &nan).is_none());
        assert!(surroundings(&a, &line, &a, &line[..2]).is_none());
    }
}
