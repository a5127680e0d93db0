//! Text boxes as oriented rectangles: DB post-processing (components of the probability map,
//! their minimum-area rectangles, unclipping) and the warps that cut a box out for recognition.

use image::RgbImage;

/// An oriented rectangle: centre, unit direction of the text (`u`), length along it (`w`) and
/// across it (`h`). The perpendicular `v = (-u.y, u.x)` points down the page for upright text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad {
    pub cx: f32,
    pub cy: f32,
    pub ux: f32,
    pub uy: f32,
    pub w: f32,
    pub h: f32,
}

impl Quad {
    /// Corners top-left, top-right, bottom-right, bottom-left.
    pub fn corners(&self) -> [(f32, f32); 4] {
        let (vx, vy) = (-self.uy, self.ux);
        let (hw, hh) = (self.w / 2.0, self.h / 2.0);
        let p = |a: f32, b: f32| (self.cx + a * self.ux + b * vx, self.cy + a * self.uy + b * vy);
        [p(-hw, -hh), p(hw, -hh), p(hw, hh), p(-hw, hh)]
    }

    /// Position of a point along the text direction and across it (down the page).
    pub fn project(&self, x: f32, y: f32) -> (f32, f32) {
        (x * self.ux + y * self.uy, -x * self.uy + y * self.ux)
    }

    /// The axis-aligned box around the quad, clipped at 0.
    pub fn bounds(&self) -> (f32, f32, f32, f32) {
        let c = self.corners();
        let xs = c.iter().map(|p| p.0);
        let ys = c.iter().map(|p| p.1);
        (
            xs.clone().fold(f32::MAX, f32::min).max(0.0),
            ys.clone().fold(f32::MAX, f32::min).max(0.0),
            xs.fold(f32::MIN, f32::max),
            ys.fold(f32::MIN, f32::max),
        )
    }

    /// The same box turned half a turn (read upside down).
    pub fn flipped(&self) -> Quad {
        Quad { ux: -self.ux, uy: -self.uy, ..*self }
    }

    /// The smallest quad along direction (ux, uy) holding every point.
    pub fn enclosing(points: &[(f32, f32)], ux: f32, uy: f32) -> Quad {
        let (mut a0, mut a1, mut b0, mut b1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for &(x, y) in points {
            let (a, b) = (x * ux + y * uy, -x * uy + y * ux);
            a0 = a0.min(a);
            a1 = a1.max(a);
            b0 = b0.min(b);
            b1 = b1.max(b);
        }
        let (ca, cb) = ((a0 + a1) / 2.0, (b0 + b1) / 2.0);
        Quad { cx: ca * ux - cb * uy, cy: ca * uy + cb * ux, ux, uy, w: a1 - a0, h: b1 - b0 }
    }
}

/// Convex hull (Andrew's monotone chain), counter-clockwise in image coordinates.
fn hull(mut pts: Vec<(f32, f32)>) -> Vec<(f32, f32)> {
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: (f32, f32), a: (f32, f32), b: (f32, f32)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
    let mut lower: Vec<(f32, f32)> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<(f32, f32)> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// The minimum-area rectangle around the points (rotating calipers over the hull's edges),
/// oriented along its longer side with the direction pointing right.
pub fn min_area_rect(points: &[(f32, f32)]) -> Option<Quad> {
    let h = hull(points.to_vec());
    if h.len() < 3 {
        return None;
    }
    let mut best: Option<(f32, Quad)> = None;
    for i in 0..h.len() {
        let (a, b) = (h[i], h[(i + 1) % h.len()]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt();
        if len < 1e-6 {
            continue;
        }
        let q = Quad::enclosing(&h, dx / len, dy / len);
        if best.as_ref().is_none_or(|(area, _)| q.w * q.h < *area) {
            best = Some((q.w * q.h, q));
        }
    }
    best.map(|(_, q)| upright(q))
}

/// Turns a quad so that `w` is its longer side and its direction points right (then down).
pub fn upright(mut q: Quad) -> Quad {
    if q.h > q.w {
        (q.ux, q.uy) = (-q.uy, q.ux);
        std::mem::swap(&mut q.w, &mut q.h);
    }
    if q.ux < 0.0 || (q.ux == 0.0 && q.uy < 0.0) {
        q.ux = -q.ux;
        q.uy = -q.uy;
    }
    q
}

/// DB post-processing of a probability map (`w`×`h`): text regions as quads in map pixels, with
/// their mean probability. Regions are the 8-connected components of the map above `thresh`
/// (dilated by a 2×2 square); each becomes its minimum-area rectangle, scored on the map and
/// grown by `unclip` · area / perimeter on every side, as the detector was trained to expect.
pub fn db_boxes(prob: &[f32], w: usize, h: usize, thresh: f32, box_thresh: f32, unclip: f32) -> Vec<(Quad, f32)> {
    let mut on = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let at = |xx: usize, yy: usize| prob[yy * w + xx] > thresh;
            on[y * w + x] =
                at(x, y) || (x > 0 && at(x - 1, y)) || (y > 0 && at(x, y - 1)) || (x > 0 && y > 0 && at(x - 1, y - 1));
        }
    }
    let mut label = vec![0u32; w * h];
    let mut out = Vec::new();
    let mut next = 0u32;
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !on[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        if next > 2000 {
            break;
        }
        let mut edge: Vec<(f32, f32)> = Vec::new();
        let mut count = 0usize;
        label[start] = next;
        stack.push(start);
        while let Some(i) = stack.pop() {
            count += 1;
            let (x, y) = (i % w, i / w);
            let mut border = false;
            for (dx, dy) in [(-1i32, -1i32), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                let (nx, ny) = (x as i32 + dx, y as i32 + dy);
                if nx < 0 || ny < 0 || nx >= w as i32 || ny >= h as i32 {
                    border = true;
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if !on[j] {
                    border = true;
                } else if label[j] == 0 {
                    label[j] = next;
                    stack.push(j);
                }
            }
            if border {
                let (fx, fy) = (x as f32, y as f32);
                edge.extend([(fx, fy), (fx + 1.0, fy), (fx, fy + 1.0), (fx + 1.0, fy + 1.0)]);
            }
        }
        if count < 4 {
            continue;
        }
        let Some(q) = min_area_rect(&edge) else { continue };
        if q.h < 3.0 {
            continue;
        }
        let score = mean_inside(prob, w, h, &q);
        if score < box_thresh {
            continue;
        }
        let d = q.w * q.h * unclip / (2.0 * (q.w + q.h));
        let grown = Quad { w: q.w + 2.0 * d, h: q.h + 2.0 * d, ..q };
        if grown.h < 5.0 {
            continue;
        }
        out.push((grown, score));
    }
    out
}

/// Mean of the map over the pixels whose centres lie inside the quad.
fn mean_inside(prob: &[f32], w: usize, h: usize, q: &Quad) -> f32 {
    let (x0, y0, x1, y1) = q.bounds();
    let (c0, c1) = q.project(q.cx, q.cy);
    let (mut sum, mut n) = (0.0f32, 0u32);
    for y in (y0 as usize)..(y1.ceil() as usize).min(h) {
        for x in (x0 as usize)..(x1.ceil() as usize).min(w) {
            let (a, b) = q.project(x as f32 + 0.5, y as f32 + 0.5);
            if (a - c0).abs() <= q.w / 2.0 && (b - c1).abs() <= q.h / 2.0 {
                sum += prob[y * w + x];
                n += 1;
            }
        }
    }
    if n == 0 { 0.0 } else { sum / n as f32 }
}

/// Cuts the quad out of `img` as an upright strip `out_h` pixels high (bilinear, edges
/// replicated), `margin` line heights wider on each side; at most `max_w` wide.
pub fn warp(img: &RgbImage, q: &Quad, out_h: u32, margin: f32, max_w: u32) -> RgbImage {
    let (vx, vy) = (-q.uy, q.ux);
    let len = q.w + 2.0 * margin * q.h;
    let out_w = ((out_h as f32 * len / q.h.max(1.0)).ceil() as u32).clamp(out_h / 2, max_w);
    let (ox, oy) = (q.cx - q.ux * len / 2.0 - vx * q.h / 2.0, q.cy - q.uy * len / 2.0 - vy * q.h / 2.0);
    RgbImage::from_fn(out_w, out_h, |u, v| {
        let a = (u as f32 + 0.5) / out_w as f32 * len;
        let b = (v as f32 + 0.5) / out_h as f32 * q.h;
        crate::bilinear(img, ox + a * q.ux + b * vx - 0.5, oy + a * q.uy + b * vy - 0.5)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_area_rect_finds_a_rotated_rectangle() {
        let a = 10f32.to_radians();
        let (ux, uy) = (a.cos(), a.sin());
        let q = Quad { cx: 50.0, cy: 40.0, ux, uy, w: 60.0, h: 10.0 };
        let mut pts = q.corners().to_vec();
        pts.push((50.0, 40.0));
        let r = min_area_rect(&pts).unwrap();
        assert!((r.w - 60.0).abs() < 0.1 && (r.h - 10.0).abs() < 0.1, "{r:?}");
        assert!((r.ux - ux).abs() < 1e-3 && (r.uy - uy).abs() < 1e-3, "{r:?}");
        assert!((r.cx - 50.0).abs() < 0.1 && (r.cy - 40.0).abs() < 0.1);
    }

    #[test]
    fn db_boxes_separate_two_words_and_grow_them() {
        let (w, h) = (100, 40);
        let mut prob = vec![0.0f32; w * h];
        for y in 10..20 {
            for x in 5..35 {
                prob[y * w + x] = 0.9;
            }
            for x in 50..90 {
                prob[y * w + x] = 0.8;
            }
        }
        let mut b = db_boxes(&prob, w, h, 0.3, 0.5, 1.6);
        b.sort_by(|a, c| a.0.cx.total_cmp(&c.0.cx));
        assert_eq!(b.len(), 2);
        assert!(b[0].0.w > 31.0 && b[0].0.h > 11.0, "{:?}", b[0]);
        // The score is the map's mean inside the rectangle, the dilated rim included.
        assert!(b[1].1 > 0.6 && b[1].1 <= 0.8, "{:?}", b[1]);
    }
}
