//! Periodic texture on a face: the halftone screen of a print, the pixel grid of a display and
//! the moiré of a recapture put isolated peaks into the spectrum, where a face seen directly has
//! a smooth fall-off. The face is resampled with an anti-aliasing filter to a fixed size first,
//! so a sharp camera and a soft one give the same scale; what is measured is how far the
//! strongest mid/high-frequency component stands above the typical power at its own frequency
//! (a ratio, so overall sharpness cancels out).

use image::RgbImage;

/// The side of the analysed crop (a power of two for the FFT).
pub const SIDE: usize = 128;
/// The band searched for peaks, in cycles per crop: below it lie the face's own shapes, above it
/// the crop's interpolation noise.
const BAND: (f64, f64) = (10.0, 58.0);

/// What the spectrum of a face shows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Texture {
    /// log10 of the strongest peak's power over the median power at its radius; natural faces
    /// measure about 1–1.5 (the largest of a few thousand random fluctuations), printed or screen
    /// faces 2 and more.
    pub periodicity: f32,
    /// The peak's frequency in cycles per face width.
    pub frequency: f32,
}

/// In-place radix-2 FFT of `re`/`im` (length a power of two).
fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let ang = -2.0 * std::f64::consts::PI / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (s, c) = (ang * k as f64).sin_cos();
                let (a, b) = (start + k, start + k + len / 2);
                let (tr, ti) = (re[b] * c - im[b] * s, re[b] * s + im[b] * c);
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

/// The texture of the square region `(x, y, side)` of `img` (clamped inside it).
pub fn texture(img: &RgbImage, x: f32, y: f32, side: f32) -> Texture {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let side = side.min(w).min(h).max(8.0);
    let x0 = x.clamp(0.0, (w - side).max(0.0)) as u32;
    let y0 = y.clamp(0.0, (h - side).max(0.0)) as u32;
    let s = side as u32;
    let view = image::imageops::crop_imm(img, x0, y0, s.min(img.width() - x0), s.min(img.height() - y0));
    // Downscaling averages whole source areas (a box low-pass before decimation, so the
    // camera's sharpness does not alias into the band); small faces are interpolated up.
    let crop = if s as usize >= SIDE {
        image::imageops::thumbnail(&*view, SIDE as u32, SIDE as u32)
    } else {
        image::imageops::resize(&*view, SIDE as u32, SIDE as u32, image::imageops::FilterType::Triangle)
    };
    spectrum_peak(&crop)
}

fn spectrum_peak(crop: &RgbImage) -> Texture {
    let n = SIDE;
    let luma: Vec<f64> = crop
        .pixels()
        .map(|p| 0.299 * f64::from(p.0[0]) + 0.587 * f64::from(p.0[1]) + 0.114 * f64::from(p.0[2]))
        .collect();
    let mean = luma.iter().sum::<f64>() / luma.len() as f64;
    let hann: Vec<f64> =
        (0..n).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1) as f64).cos()).collect();
    let mut re: Vec<f64> = (0..n * n).map(|i| (luma[i] - mean) * hann[i / n] * hann[i % n]).collect();
    let mut im = vec![0.0; n * n];
    for r in 0..n {
        fft(&mut re[r * n..(r + 1) * n], &mut im[r * n..(r + 1) * n]);
    }
    let (mut cr, mut ci) = (vec![0.0; n], vec![0.0; n]);
    for c in 0..n {
        for r in 0..n {
            cr[r] = re[r * n + c];
            ci[r] = im[r * n + c];
        }
        fft(&mut cr, &mut ci);
        for r in 0..n {
            re[r * n + c] = cr[r];
            im[r * n + c] = ci[r];
        }
    }
    // Half-plane only (the spectrum of a real image is symmetric), grouped by integer radius.
    let half = n as i64 / 2;
    let mut rings: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut bins = Vec::new();
    for v in 0..=half {
        for u in -half + 1..=half {
            if v == 0 && u <= 0 {
                continue;
            }
            let r = ((u * u + v * v) as f64).sqrt();
            if r < BAND.0 || r > BAND.1 {
                continue;
            }
            let (iu, iv) = (u.rem_euclid(n as i64) as usize, v as usize);
            let p = re[iv * n + iu].powi(2) + im[iv * n + iu].powi(2);
            rings[r.round() as usize].push(p);
            bins.push((r, p));
        }
    }
    let medians: Vec<f64> = rings
        .iter_mut()
        .map(|ring| {
            if ring.is_empty() {
                return 0.0;
            }
            ring.sort_by(f64::total_cmp);
            ring[ring.len() / 2]
        })
        .collect();
    let mut best = (0.0f64, 0.0f64);
    for (r, p) in bins {
        let m = medians[r.round() as usize];
        if m > 0.0 && p / m > best.0 {
            best = (p / m, r);
        }
    }
    Texture { periodicity: best.0.max(1.0).log10() as f32, frequency: best.1 as f32 }
}

fn luma(img: &RgbImage, x: f32, y: f32) -> Option<f32> {
    if x < 0.0 || y < 0.0 || x >= img.width() as f32 || y >= img.height() as f32 {
        return None;
    }
    let p = img.get_pixel(x as u32, y as u32).0;
    Some(0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
}

/// How open the eyes look: per eye, the skin below it (upper cheek) against the darker quarter
/// of the eye's box — an open eye shows a dark iris there, a closed one shows lid. The mean of
/// both eyes, 0 when the landmarks are not 68 or the eyes lie outside the image. The landmark
/// model sees too coarse a crop to follow eyelids, so this reads the pixels instead.
pub fn eye_openness(img: &RgbImage, pts: &[(f32, f32)]) -> f32 {
    if pts.len() < 68 {
        return 0.0;
    }
    let eye = |o: usize| -> Option<f32> {
        let e = &pts[o..o + 6];
        let (cx, cy) = (e.iter().map(|p| p.0).sum::<f32>() / 6.0, e.iter().map(|p| p.1).sum::<f32>() / 6.0);
        let w = ((e[3].0 - e[0].0).powi(2) + (e[3].1 - e[0].1).powi(2)).sqrt().max(4.0);
        let sample = |x0: f32, x1: f32, y0: f32, y1: f32| -> Option<Vec<f32>> {
            let (nx, ny) = (12, 6);
            let mut v = Vec::with_capacity(nx * ny);
            for j in 0..ny {
                for i in 0..nx {
                    let x = x0 + (x1 - x0) * (i as f32 + 0.5) / nx as f32;
                    let y = y0 + (y1 - y0) * (j as f32 + 0.5) / ny as f32;
                    v.push(luma(img, x, y)?);
                }
            }
            Some(v)
        };
        let mut inside = sample(cx - 0.4 * w, cx + 0.4 * w, cy - 0.2 * w, cy + 0.2 * w)?;
        let skin = sample(cx - 0.4 * w, cx + 0.4 * w, cy + 0.45 * w, cy + 0.7 * w)?;
        inside.sort_by(f32::total_cmp);
        let dark = inside[inside.len() / 4];
        let mut skin = skin;
        skin.sort_by(f32::total_cmp);
        let bright = skin[skin.len() / 2].max(1.0);
        Some(((bright - dark) / bright).max(0.0))
    };
    match (eye(36), eye(42)) {
        (Some(a), Some(b)) => (a + b) / 2.0,
        (Some(a), None) | (None, Some(a)) => a,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth "face": a shaded disc with soft features, plus mild noise.
    fn smooth(seed: u32) -> RgbImage {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        RgbImage::from_fn(256, 256, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state % 9) as f32 - 4.0;
            let (dx, dy) = (x as f32 - 128.0, y as f32 - 128.0);
            let d = (dx * dx + dy * dy).sqrt();
            let v = 200.0 - d * 0.5 + (x as f32 / 23.0).sin() * 10.0 + noise;
            let v = v.clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        })
    }

    #[test]
    fn a_halftone_screen_stands_out_and_a_smooth_face_does_not() {
        let plain = texture(&smooth(7), 0.0, 0.0, 256.0);
        // A dot screen at 45° with a 6 px period over the same image.
        let mut printed = smooth(7);
        for (x, y, p) in printed.enumerate_pixels_mut() {
            let (u, v) = ((x + y) as f32, (x as f32 - y as f32));
            let dot = ((u * std::f32::consts::PI / 6.0).cos() * (v * std::f32::consts::PI / 6.0).cos() + 1.0) / 2.0;
            let k = 0.6 + 0.4 * dot;
            p.0 = p.0.map(|c| (f32::from(c) * k) as u8);
        }
        let screened = texture(&printed, 0.0, 0.0, 256.0);
        assert!(plain.periodicity < 1.7, "{plain:?}");
        assert!(screened.periodicity > plain.periodicity + 1.0, "{plain:?} vs {screened:?}");
    }

    #[test]
    fn a_dark_iris_reads_open_and_skin_reads_closed() {
        // Two eyes at (40, 50) and (80, 50), 24 px wide, on skin of luma 160.
        let mut pts = vec![(0.0f32, 0.0f32); 68];
        for (o, cx) in [(36usize, 40.0f32), (42, 80.0)] {
            for k in 0..6 {
                let a = std::f32::consts::TAU * k as f32 / 6.0;
                pts[o + k] = (cx - 12.0 * a.cos(), 50.0 - 3.0 * a.sin());
            }
        }
        let skin = image::Rgb([160u8, 160, 160]);
        let closed = RgbImage::from_pixel(120, 100, skin);
        let mut open = closed.clone();
        for (x, y, p) in open.enumerate_pixels_mut() {
            if ((x as f32 - 40.0).powi(2) + (y as f32 - 50.0).powi(2)).sqrt() < 5.0
                || ((x as f32 - 80.0).powi(2) + (y as f32 - 50.0).powi(2)).sqrt() < 5.0
            {
                *p = image::Rgb([40, 40, 40]);
            }
        }
        let (o, c) = (eye_openness(&open, &pts), eye_openness(&closed, &pts));
        assert!(o > 0.4 && c < 0.05, "open {o}, closed {c}");
        assert_eq!(eye_openness(&open, &pts[..10]), 0.0);
    }

    #[test]
    fn tiny_and_out_of_bounds_regions_do_not_panic() {
        let img = smooth(3);
        let t = texture(&img, 250.0, 250.0, 500.0);
        assert!(t.periodicity.is_finite());
        let small = RgbImage::new(4, 4);
        assert!(texture(&small, 0.0, 0.0, 4.0).periodicity.is_finite());
    }
}
