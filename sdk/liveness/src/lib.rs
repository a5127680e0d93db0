//! Liveness from motion and geometry: the cues and the decision of Vigil's built-in QUALITY
//! pipeline, as pure functions over what the host's `vision.landmarks` and `vision.texture`
//! return per frame. A plugin collects one [`Frame`] per sampled frame with a face and calls
//! [`assess`]; everything here is deterministic and free of I/O.
//!
//! The cues (documented with their thresholds in `docs/LIVENESS.md`):
//! - **flatness** — a photo or a screen moves as one plane: whatever its tilt, the nose follows
//!   the homography that maps the face's outline (contour, brows, eyes) from a reference frame,
//!   so the out-of-plane change of the face is spread over the outline. A turning head moves its
//!   nose across the cheeks (parallax), so the change concentrates in the nose. The cue compares
//!   the nose's departure from the outline's homography with the face's departure from a
//!   similarity; it decides only when the face changed shape beyond the landmark noise, and a
//!   flat verdict vetoes.
//! - **consistency** — a tilted picture squeezes one image axis (the fitted camera's
//!   anisotropy) without any head rotation; a head shows its turns in the pose. A veto when the
//!   picture squeezed clearly while the pose stayed put.
//! - **blink** — the eyes' openness (the host reads it from the pixels) dips and recovers. Evidence of life, never a veto (people
//!   need not blink in five seconds, and a replayed video blinks too).
//! - **texture** — halftone, pixel grids and moiré; one vote, never decisive alone.
//! - **surroundings** — a print or a screen carries the face's surroundings on the same sheet,
//!   so they move exactly as the face does; a head moves in front of a background that stays.
//!   From the host's `vision.surroundings` counts, pooled over the frames. A veto, unless a
//!   head's 3D motion or a blink contradicts it (then a vote): a camera turning in the hand
//!   around a head held perfectly still moves the background with the face too.
//! - **gestures** — what a `video_selfie_*` tag asks for must be seen.

use serde::Serialize;

/// What the host reported for one frame's face.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The frame's index in the media.
    pub index: u32,
    /// 68 landmarks (iBUG order), pixels.
    pub landmarks: Vec<(f32, f32)>,
    pub yaw: f32,
    pub pitch: f32,
    pub anisotropy: f32,
    /// `vision.texture`'s periodicity; NaN for a frame it was not measured on.
    pub periodicity: f32,
    /// The face box's side in pixels.
    pub face_size: f32,
    /// `vision.landmarks`' eye openness (iris against skin).
    pub eye_openness: f32,
    /// `vision.surroundings` against the media's reference frame; `None` where not measured
    /// (the reference frame itself, single images).
    pub surroundings: Option<Ring>,
}

/// What `vision.surroundings` counted for one frame: ring blocks that told the hypotheses apart,
/// and how many of them moved with the face or stayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ring {
    pub blocks: u32,
    pub follow: u32,
    pub still: u32,
}

/// A cue's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Attack,
    Live,
    Undecided,
}

/// One cue's outcome: its value, whether the media had what the cue needs to decide, the
/// verdict and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cue {
    pub value: f64,
    pub decided: bool,
    pub verdict: Verdict,
    pub reason: String,
}

impl Cue {
    fn undecided(value: f64, reason: impl Into<String>) -> Cue {
        Cue { value, decided: false, verdict: Verdict::Undecided, reason: reason.into() }
    }
    fn decided(value: f64, verdict: Verdict, reason: impl Into<String>) -> Cue {
        Cue { value, decided: verdict != Verdict::Undecided, verdict, reason: reason.into() }
    }
}

/// The gestures of Oz's `video_selfie_*` tags that can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gesture {
    Left,
    Right,
    Down,
    High,
    Smile,
    Eyes,
    ZoomIn,
    ZoomOut,
}

impl Gesture {
    /// The gesture a media's tags ask for; `video_selfie_blank`, `_scan`, `_oneshot` and untagged
    /// media ask for none (passive).
    pub fn from_tags<S: AsRef<str>>(tags: &[S]) -> Option<Gesture> {
        tags.iter().find_map(|t| match t.as_ref().to_ascii_lowercase().as_str() {
            "video_selfie_left" => Some(Gesture::Left),
            "video_selfie_right" => Some(Gesture::Right),
            "video_selfie_down" => Some(Gesture::Down),
            "video_selfie_high" => Some(Gesture::High),
            "video_selfie_smile" => Some(Gesture::Smile),
            "video_selfie_eyes" => Some(Gesture::Eyes),
            "video_selfie_zoom_in" => Some(Gesture::ZoomIn),
            "video_selfie_zoom_out" => Some(Gesture::ZoomOut),
            _ => None,
        })
    }
}

/// Whether the gesture a media was tagged for was seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GestureCheck {
    pub gesture: Gesture,
    pub shown: bool,
    /// The measured extent (degrees for turns, a ratio for smile and zoom, the eye-opening dip
    /// for a blink).
    pub value: f64,
    pub reason: String,
}

/// The thresholds of the cues and the decision. The defaults are what `docs/LIVENESS.md`
/// documents and `vigil eval liveness` measured on the generated sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rules {
    /// Frames with a face needed before any motion cue decides.
    pub min_frames: usize,
    /// Flatness: the out-of-plane change of the face (90th percentile over frames of the RMS
    /// residual of a similarity, in inter-ocular distances) below which nothing is judged, for a
    /// face of `motion_face` pixels; smaller faces have noisier landmarks and need
    /// proportionally more …
    pub motion_min: f64,
    pub motion_face: f64,
    /// … the nose parallax over that change at or below which the face moved as a plane …
    pub flat_ratio_max: f64,
    /// … and at or above which, with a turn of at least `turn_min`, it moved as a head.
    pub parallax_ratio_min: f64,
    /// Consistency: the squeeze (degrees of tilt a plane would need for the anisotropy change)
    /// from which a picture counts as tilted …
    pub squeeze_min: f64,
    /// … when the head turned at most this many degrees meanwhile;
    pub still_turn_max: f64,
    /// a turn of at least this many degrees is a head's.
    pub turn_min: f64,
    /// Blink: the eye-opening ratio (lowest over typical) at or below which the eyes closed.
    pub blink_dip: f64,
    /// Texture: the periodicity (median over frames) from which the texture votes "attack" …
    pub texture_min: f64,
    /// … on faces at least this many pixels wide (smaller ones show no print or screen pattern).
    pub texture_face_min: f64,
    /// Gestures: degrees of yaw for left/right, of pitch for down/high (as estimated, which reads
    /// real turns low), relative to the first frames.
    pub turn_gesture: f64,
    pub pitch_gesture: f64,
    /// Gestures: mouth width growth for a smile, face scale change for zoom.
    pub smile_ratio: f64,
    pub zoom_ratio: f64,
    /// Surroundings: blocks (pooled over frames) that moved with the face or stayed, needed to
    /// decide …
    pub ring_blocks_min: u32,
    /// … the share of them that moved with the face from which the face is a held picture …
    pub follow_min: f64,
    /// … and at or below which it moved in front of its surroundings.
    pub follow_live_max: f64,
    /// Log-odds added to the passive score per vote.
    pub texture_weight: f64,
    /// The vote of surroundings that moved with the face, when a head's motion or a blink
    /// contradicts it (otherwise it vetoes).
    pub follow_weight: f64,
    pub live_weight: f64,
    /// The score a veto reports at least.
    pub veto_score: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_frames: 5,
            motion_min: 0.028,
            motion_face: 150.0,
            flat_ratio_max: 0.8,
            parallax_ratio_min: 0.95,
            squeeze_min: 18.0,
            still_turn_max: 5.0,
            turn_min: 8.0,
            blink_dip: 0.8,
            texture_min: 2.0,
            texture_face_min: 100.0,
            turn_gesture: 10.0,
            pitch_gesture: 6.0,
            smile_ratio: 1.08,
            zoom_ratio: 1.15,
            ring_blocks_min: 16,
            follow_min: 0.6,
            follow_live_max: 0.25,
            texture_weight: 1.5,
            follow_weight: 2.0,
            live_weight: 1.0,
            veto_score: 0.99,
        }
    }
}

type P = (f64, f64);

fn pt(p: (f32, f32)) -> P {
    (f64::from(p.0), f64::from(p.1))
}

fn dist(a: P, b: P) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

fn mean(points: &[(f32, f32)], range: std::ops::Range<usize>) -> P {
    let n = range.len().max(1) as f64;
    let (sx, sy) = range.fold((0.0, 0.0), |(x, y), i| (x + f64::from(points[i].0), y + f64::from(points[i].1)));
    (sx / n, sy / n)
}

/// Distance between the eye centres, the unit of every landmark measure here.
pub fn interocular(l: &[(f32, f32)]) -> f64 {
    if l.len() < 68 {
        return 0.0;
    }
    dist(mean(l, 36..42), mean(l, 42..48))
}

/// Mouth width over the inter-ocular distance.
pub fn mouth_width(l: &[(f32, f32)]) -> f64 {
    if l.len() < 68 {
        return 0.0;
    }
    dist(pt(l[48]), pt(l[54])) / interocular(l).max(1e-6)
}

/// The rigid landmarks (contour, brows, nose, eyes): the mouth moves with speech.
const RIGID: std::ops::Range<usize> = 0..48;

/// RMS residual of the best 2D similarity mapping `a` onto `b` (pixels).
pub fn similarity_residual(a: &[P], b: &[P]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let c = |v: &[P]| {
        let (x, y) = v[..n].iter().fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
        (x / n as f64, y / n as f64)
    };
    let (ca, cb) = (c(a), c(b));
    let (mut sxx, mut p, mut q) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (ax, ay) = (a[i].0 - ca.0, a[i].1 - ca.1);
        let (bx, by) = (b[i].0 - cb.0, b[i].1 - cb.1);
        sxx += ax * ax + ay * ay;
        p += ax * bx + ay * by;
        q += ax * by - ay * bx;
    }
    let (sc, ss) = (p / sxx.max(1e-12), q / sxx.max(1e-12));
    let mut err = 0.0;
    for i in 0..n {
        let (ax, ay) = (a[i].0 - ca.0, a[i].1 - ca.1);
        let (px, py) = (sc * ax - ss * ay + cb.0, ss * ax + sc * ay + cb.1);
        err += (px - b[i].0).powi(2) + (py - b[i].1).powi(2);
    }
    (err / n as f64).sqrt()
}

/// Centroid at 0 and mean distance √2 (Hartley): returns the normalised points and the scale.
fn normalise(v: &[P]) -> (Vec<P>, P, f64) {
    let n = v.len().max(1) as f64;
    let c = v.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0 / n, s.1 + p.1 / n));
    let d = v.iter().map(|p| dist(*p, c)).sum::<f64>() / n;
    let k = std::f64::consts::SQRT_2 / d.max(1e-12);
    (v.iter().map(|p| ((p.0 - c.0) * k, (p.1 - c.1) * k)).collect(), c, k)
}

/// Solves `m·x = r` (n×n) by Gaussian elimination with partial pivoting.
fn solve(mut m: Vec<Vec<f64>>, mut r: Vec<f64>) -> Option<Vec<f64>> {
    let n = r.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, piv);
        r.swap(col, piv);
        let (top, rest) = m.split_at_mut(col + 1);
        let pivot = &top[col];
        for (i, row) in rest.iter_mut().enumerate() {
            let f = row[col] / pivot[col];
            for (v, p) in row[col..].iter_mut().zip(&pivot[col..]) {
                *v -= f * p;
            }
            r[col + 1 + i] -= f * r[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| m[i][k] * x[k]).sum();
        x[i] = (r[i] - s) / m[i][i];
    }
    Some(x)
}

/// The least-squares homography mapping `a` onto `b` (row-major, h33 = 1), fitted on
/// normalised coordinates; `None` when degenerate.
pub fn fit_homography(a: &[P], b: &[P]) -> Option<[f64; 9]> {
    let n = a.len().min(b.len());
    if n < 5 {
        return None;
    }
    let (na, ca, ka) = normalise(&a[..n]);
    let (nb, cb, kb) = normalise(&b[..n]);
    // Two equations per correspondence, solved through the normal equations.
    let mut ata = vec![vec![0.0; 8]; 8];
    let mut atr = vec![0.0; 8];
    for i in 0..n {
        let ((x, y), (u, v)) = (na[i], nb[i]);
        for (row, rhs) in
            [([x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u], u), ([0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v], v)]
        {
            for r in 0..8 {
                atr[r] += row[r] * rhs;
                for c in 0..8 {
                    ata[r][c] += row[r] * row[c];
                }
            }
        }
    }
    let h = solve(ata, atr)?;
    // Undo the normalisations: H = Tb⁻¹ · Hn · Ta.
    let hn = [[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1.0]];
    let ta = [[ka, 0.0, -ka * ca.0], [0.0, ka, -ka * ca.1], [0.0, 0.0, 1.0]];
    let tb_inv = [[1.0 / kb, 0.0, cb.0], [0.0, 1.0 / kb, cb.1], [0.0, 0.0, 1.0]];
    let mul = |x: [[f64; 3]; 3], y: [[f64; 3]; 3]| -> [[f64; 3]; 3] {
        std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| x[r][k] * y[k][c]).sum()))
    };
    let m = mul(tb_inv, mul(hn, ta));
    let w = m[2][2];
    if w.abs() < 1e-12 {
        return None;
    }
    Some([m[0][0] / w, m[0][1] / w, m[0][2] / w, m[1][0] / w, m[1][1] / w, m[1][2] / w, m[2][0] / w, m[2][1] / w, 1.0])
}

/// A point through a homography; `None` at infinity.
pub fn apply(h: &[f64; 9], p: P) -> Option<P> {
    let w = h[6] * p.0 + h[7] * p.1 + h[8];
    if w.abs() < 1e-9 {
        return None;
    }
    Some(((h[0] * p.0 + h[1] * p.1 + h[2]) / w, (h[3] * p.0 + h[4] * p.1 + h[5]) / w))
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

/// The value below which `share` of `v` lies (nearest rank).
fn quantile(mut v: Vec<f64>, share: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * share).round() as usize;
    v[i.min(v.len() - 1)]
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Scores keep six decimals: a real face's passive score is often below 0.001.
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The frames with their geometry smoothed over neighbours (consecutive sampled frames only):
/// landmarks averaged over three frames, pose and anisotropy their median of three. Motion at
/// the sampling rate (5 per second) is slow beside that, the landmark jitter is not.
pub fn smoothed(frames: &[Frame]) -> Vec<Frame> {
    let n = frames.len();
    (0..n)
        .map(|i| {
            let near: Vec<&Frame> = [i.wrapping_sub(1), i, i + 1]
                .into_iter()
                .filter(|&j| j < n && frames[j].index.abs_diff(frames[i].index) <= 1)
                .map(|j| &frames[j])
                .collect();
            let k = near.len() as f32;
            let mut f = frames[i].clone();
            for (p, pts) in f.landmarks.iter_mut().enumerate() {
                let (sx, sy) = near.iter().fold((0.0, 0.0), |s, g| (s.0 + g.landmarks[p].0, s.1 + g.landmarks[p].1));
                *pts = (sx / k, sy / k);
            }
            let med = |get: fn(&Frame) -> f32| median(near.iter().map(|g| f64::from(get(g))).collect()) as f32;
            f.yaw = med(|g| g.yaw);
            f.pitch = med(|g| g.pitch);
            f.anisotropy = med(|g| g.anisotropy);
            f
        })
        .collect()
}

/// The reference frame: the one whose pose is nearest the median pose.
fn reference(frames: &[Frame]) -> usize {
    let my = median(frames.iter().map(|f| f64::from(f.yaw)).collect());
    let mp = median(frames.iter().map(|f| f64::from(f.pitch)).collect());
    (0..frames.len())
        .min_by(|&i, &j| {
            let d = |f: &Frame| (f64::from(f.yaw) - my).hypot(f64::from(f.pitch) - mp);
            d(&frames[i]).total_cmp(&d(&frames[j]))
        })
        .unwrap_or(0)
}

fn points(f: &Frame, idx: impl Iterator<Item = usize>) -> Vec<P> {
    idx.map(|i| pt(f.landmarks[i])).collect()
}

/// The face's outline: contour, brows and eyes.
fn outline() -> impl Iterator<Item = usize> {
    (0..27).chain(36..48)
}

/// The nose: bridge, tip and nostrils.
const NOSE: std::ops::Range<usize> = 27..36;

/// Per frame against the reference, in inter-ocular distances of that frame: (the out-of-plane
/// change — RMS residual of a similarity over the rigid landmarks; the nose parallax — how far
/// the nose's mean lies from where the outline's homography puts it).
fn deformations(frames: &[Frame], r: usize) -> Vec<(f64, f64)> {
    let rf = &frames[r];
    let (ra, ro, rn) = (points(rf, RIGID), points(rf, outline()), points(rf, NOSE));
    frames
        .iter()
        .enumerate()
        .filter(|(i, f)| *i != r && f.landmarks.len() >= 68)
        .filter_map(|(_, f)| {
            let iod = interocular(&f.landmarks);
            if iod <= 1.0 {
                return None;
            }
            let change = similarity_residual(&ra, &points(f, RIGID)) / iod;
            let h = fit_homography(&ro, &points(f, outline()))?;
            let nose = points(f, NOSE);
            let (mut dx, mut dy) = (0.0, 0.0);
            for (a, b) in rn.iter().zip(&nose) {
                let q = apply(&h, *a)?;
                dx += b.0 - q.0;
                dy += b.1 - q.1;
            }
            let k = rn.len() as f64;
            Some((change, (dx / k).hypot(dy / k) / iod))
        })
        .collect()
}

/// Flatness: does the face move as one plane? `frames` smoothed (see [`smoothed`]).
pub fn flatness(frames: &[Frame], rules: &Rules) -> Cue {
    if frames.len() < rules.min_frames || frames.iter().any(|f| f.landmarks.len() < 68) {
        return Cue::undecided(
            0.0,
            format!("{} frame(s) with a face; motion cues need {}", frames.len(), rules.min_frames),
        );
    }
    let d = deformations(frames, reference(frames));
    let change = quantile(d.iter().map(|x| x.0).collect(), 0.9);
    // Landmark noise, relative to the face, grows as the face shrinks: so does the floor.
    let size = median(frames.iter().map(|f| f64::from(f.face_size)).collect()).max(1.0);
    let floor = rules.motion_min * (rules.motion_face / size).max(1.0);
    if change < floor {
        return Cue::undecided(
            0.0,
            format!("too little out-of-plane motion to judge ({change:.3} of the eye distance, needs {floor:.3})"),
        );
    }
    let parallax = quantile(d.iter().map(|x| x.1).collect(), 0.9);
    let ratio = round4(parallax / change);
    let detail = format!("nose parallax {:.3} over out-of-plane change {:.3}", parallax, change);
    if ratio <= rules.flat_ratio_max {
        Cue::decided(
            ratio,
            Verdict::Attack,
            format!("the face moved as a flat picture: {detail} (ratio {ratio} ≤ {})", rules.flat_ratio_max),
        )
    } else if ratio >= rules.parallax_ratio_min && turn_and_squeeze(frames).0 >= rules.turn_min {
        // Parallax alone can be landmark noise on a picture; with a real turn it is a head's.
        Cue::decided(ratio, Verdict::Live, format!("a head's parallax: {detail} (ratio {ratio})"))
    } else if ratio >= rules.parallax_ratio_min {
        Cue::undecided(ratio, format!("{detail} (ratio {ratio}), but the head did not turn {}°", rules.turn_min))
    } else {
        Cue::undecided(
            ratio,
            format!(
                "{detail}: ratio {ratio} between flat ({}) and head ({})",
                rules.flat_ratio_max, rules.parallax_ratio_min
            ),
        )
    }
}

/// How far the head turned from the reference frame and how much the face squeezed meanwhile
/// (the tilt a plane would need for it: cos(tilt) = the anisotropy ratio), in degrees; both the
/// 90th percentile over frames.
fn turn_and_squeeze(frames: &[Frame]) -> (f64, f64) {
    let r = &frames[reference(frames)];
    let turn =
        quantile(frames.iter().map(|f| f64::from(f.yaw - r.yaw).hypot(f64::from(f.pitch - r.pitch))).collect(), 0.9);
    // The tilt a plane would need to show this squeeze: cos(tilt) = anisotropy ratio.
    let squeeze = quantile(
        frames
            .iter()
            .map(|f| {
                let ratio = f64::from(f.anisotropy) / f64::from(r.anisotropy).max(1e-6);
                let ratio = if ratio > 1.0 { 1.0 / ratio } else { ratio };
                ratio.clamp(0.0, 1.0).acos().to_degrees()
            })
            .collect(),
        0.9,
    );
    (turn, squeeze)
}

/// Pose/shape consistency: a squeeze without a turn is a tilted picture. `frames` smoothed.
pub fn consistency(frames: &[Frame], rules: &Rules) -> Cue {
    if frames.len() < rules.min_frames {
        return Cue::undecided(0.0, "too few frames");
    }
    let (turn, squeeze) = turn_and_squeeze(frames);
    let (t, s) = (round4(turn), round4(squeeze));
    if squeeze >= rules.squeeze_min && turn <= rules.still_turn_max {
        Cue::decided(
            t,
            Verdict::Attack,
            format!("the face squeezed like a picture tilted {s:.1}° while the head turned only {t:.1}°"),
        )
    } else if turn >= rules.turn_min {
        Cue::decided(t, Verdict::Live, format!("the head turned {t:.1}°"))
    } else {
        Cue::undecided(t, format!("turn {t:.1}°, squeeze {s:.1}°: not enough to judge"))
    }
}

/// Eye openings over the frames: (typical, lowest).
fn openings(frames: &[Frame]) -> (f64, f64) {
    let e: Vec<f64> = frames.iter().map(|f| f64::from(f.eye_openness)).collect();
    let low = e.iter().copied().fold(f64::MAX, f64::min);
    (median(e), low)
}

/// Blink: the eyes close in some frame and are open around it.
pub fn blink(frames: &[Frame], rules: &Rules) -> Cue {
    if frames.len() < 3 {
        return Cue::undecided(0.0, "too few frames");
    }
    let (typical, low) = openings(frames);
    if typical < 0.1 {
        return Cue::undecided(0.0, "eyes not open enough to see a blink");
    }
    let dip = round4(low / typical);
    if dip <= rules.blink_dip {
        Cue::decided(dip, Verdict::Live, format!("blink: the eyes closed to {dip} of their opening"))
    } else {
        Cue::undecided(dip, format!("no blink (eye opening never below {dip} of typical)"))
    }
}

/// Texture: periodic print or screen patterns in the face.
pub fn texture(frames: &[Frame], rules: &Rules) -> Cue {
    if !frames.iter().any(|f| f.periodicity.is_finite()) {
        return Cue::undecided(0.0, "texture not measured");
    }
    let big: Vec<f64> = frames
        .iter()
        .filter(|f| f.periodicity.is_finite() && f64::from(f.face_size) >= rules.texture_face_min)
        .map(|f| f64::from(f.periodicity))
        .collect();
    if big.is_empty() {
        let size = median(frames.iter().map(|f| f64::from(f.face_size)).collect());
        return Cue::undecided(
            0.0,
            format!(
                "the face ({size:.0} px) is too small to show a print or screen pattern (needs {} px)",
                rules.texture_face_min
            ),
        );
    }
    let m = round4(median(big));
    if m >= rules.texture_min {
        Cue::decided(
            m,
            Verdict::Attack,
            format!("periodic pattern in the face (periodicity {m} ≥ {})", rules.texture_min),
        )
    } else {
        Cue::undecided(m, format!("no print or screen pattern (periodicity {m})"))
    }
}

/// Surroundings: whether the picture around the face moved with it (a held print or screen)
/// or stayed while the face moved (a head in front of a background).
pub fn surroundings(frames: &[Frame], rules: &Rules) -> Cue {
    let rings: Vec<Ring> = frames.iter().filter_map(|f| f.surroundings).collect();
    if rings.is_empty() {
        return Cue::undecided(0.0, "surroundings not measured");
    }
    let (follow, still) = rings.iter().fold((0u32, 0u32), |a, r| (a.0 + r.follow, a.1 + r.still));
    let told = follow + still;
    if told < rules.ring_blocks_min {
        return Cue::undecided(
            0.0,
            format!(
                "the face did not move far enough within textured surroundings to tell ({told} block(s), needs {})",
                rules.ring_blocks_min
            ),
        );
    }
    let share = round4(f64::from(follow) / f64::from(told));
    if share >= rules.follow_min {
        Cue::decided(
            share,
            Verdict::Attack,
            format!("the surroundings moved with the face, as a held picture's do ({follow} of {told} blocks)"),
        )
    } else if share <= rules.follow_live_max {
        Cue::decided(
            share,
            Verdict::Live,
            format!("the face moved in front of surroundings that stayed ({still} of {told} blocks stayed)"),
        )
    } else {
        Cue::undecided(share, format!("the surroundings partly moved with the face ({follow} of {told} blocks)"))
    }
}

/// The median of the first three frames' values: where a gesture starts from.
fn start(frames: &[Frame], f: impl Fn(&Frame) -> f64) -> f64 {
    median(frames.iter().take(3).map(f).collect())
}

/// A turn beyond `min` degrees in direction `sign` and back to within half of it.
fn turn_and_back(values: &[f64], sign: f64, min: f64) -> (bool, f64) {
    let rel: Vec<f64> = values.iter().map(|v| v * sign).collect();
    let (peak_at, peak) =
        rel.iter().copied().enumerate().fold((0, f64::MIN), |m, (i, v)| if v > m.1 { (i, v) } else { m });
    let back = rel[peak_at..].iter().any(|v| *v <= min / 2.0);
    (peak >= min && back, peak)
}

/// Whether `frames` show `gesture`. `mirrored`: the camera mirrors the image (a selfie preview),
/// so the subject's left is the image's left.
pub fn check_gesture(gesture: Gesture, frames: &[Frame], rules: &Rules, mirrored: bool) -> GestureCheck {
    let done = |shown: bool, value: f64, reason: String| GestureCheck { gesture, shown, value: round4(value), reason };
    if frames.len() < 3 {
        return done(false, 0.0, format!("{} frame(s) with a face: a gesture needs a video", frames.len()));
    }
    let turn = |sign: f64, what: &str, values: Vec<f64>, min: f64| {
        let (ok, peak) = turn_and_back(&values, sign, min);
        let reason = if ok {
            format!("{what} {peak:.1}° and back")
        } else if peak < min {
            format!("{what} only {peak:.1}°, needs {min}°")
        } else {
            format!("{what} {peak:.1}° but did not come back")
        };
        done(ok, peak, reason)
    };
    // Turns are read on the smoothed pose, so one jittery frame neither makes nor breaks one.
    let sm = smoothed(frames);
    let y0 = start(&sm, |f| f64::from(f.yaw));
    let p0 = start(&sm, |f| f64::from(f.pitch));
    let yaws: Vec<f64> = sm.iter().map(|f| f64::from(f.yaw) - y0).collect();
    let pitches: Vec<f64> = sm.iter().map(|f| f64::from(f.pitch) - p0).collect();
    // The subject's left is the image's right unless the camera mirrors.
    let left = if mirrored { -1.0 } else { 1.0 };
    match gesture {
        Gesture::Left => turn(left, "turned left", yaws, rules.turn_gesture),
        Gesture::Right => turn(-left, "turned right", yaws, rules.turn_gesture),
        Gesture::High => turn(1.0, "looked up", pitches, rules.pitch_gesture),
        Gesture::Down => turn(-1.0, "looked down", pitches, rules.pitch_gesture),
        Gesture::Smile => {
            let m0 = start(frames, |f| mouth_width(&f.landmarks)).max(1e-6);
            let top = frames.iter().map(|f| mouth_width(&f.landmarks)).fold(0.0, f64::max) / m0;
            let ok = top >= rules.smile_ratio;
            done(ok, top, format!("mouth widened ×{top:.3}{}", if ok { "" } else { ", no smile" }))
        }
        Gesture::Eyes => {
            let c = blink(frames, rules);
            done(c.verdict == Verdict::Live, c.value, c.reason)
        }
        Gesture::ZoomIn | Gesture::ZoomOut => {
            let s0 = start(frames, |f| interocular(&f.landmarks)).max(1e-6);
            let sizes: Vec<f64> = frames.iter().map(|f| interocular(&f.landmarks) / s0).collect();
            let (ratio, ok) = if gesture == Gesture::ZoomIn {
                let m = sizes.iter().copied().fold(0.0, f64::max);
                (m, m >= rules.zoom_ratio)
            } else {
                let m = sizes.iter().copied().fold(f64::MAX, f64::min);
                (m, m <= 1.0 / rules.zoom_ratio)
            };
            done(
                ok,
                ratio,
                format!("face size changed ×{ratio:.3}{}", if ok { "" } else { ", not enough for the zoom" }),
            )
        }
    }
}

/// The decision for one media.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// The single number Oz clients read: the passive score moved by the votes, or at least
    /// `veto_score` when a decisive cue vetoed.
    pub confidence_spoofing: f64,
    /// The passive model's mean score.
    pub passive: f64,
    pub flatness: Cue,
    pub consistency: Cue,
    pub blink: Cue,
    pub texture: Cue,
    pub surroundings: Cue,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gesture: Option<GestureCheck>,
    /// Set when the media must be declined whatever the threshold: a veto or a missing gesture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declined_by: Option<String>,
    /// What decided, in words.
    pub reasons: Vec<String>,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Combines the passive score (mean over the frames) with the cues of `frames` and the gesture
/// the media's tags ask for.
pub fn assess(passive: f64, frames: &[Frame], gesture: Option<Gesture>, rules: &Rules, mirrored: bool) -> Assessment {
    let smooth = smoothed(frames);
    let flat = flatness(&smooth, rules);
    let cons = consistency(&smooth, rules);
    let bl = blink(frames, rules);
    let tex = texture(frames, rules);
    let ring = surroundings(frames, rules);
    let g = gesture.map(|g| check_gesture(g, frames, rules, mirrored));
    let mut reasons = Vec::new();
    let mut declined_by = None;
    if frames.len() < rules.min_frames {
        reasons.push(format!("{} frame(s) with a face: no motion cue applied, passive score only", frames.len()));
    }
    let head_moved = flat.verdict == Verdict::Live || cons.verdict == Verdict::Live;
    // Surroundings that move with the face veto unless the face showed life of its own: a head
    // held still in front of a camera turning in the hand looks the same to this cue.
    let ring_vetoes = ring.verdict == Verdict::Attack && !head_moved && bl.verdict != Verdict::Live;
    let veto = [("flatness", &flat), ("consistency", &cons)]
        .into_iter()
        .chain(ring_vetoes.then_some(("surroundings", &ring)))
        .find(|(_, c)| c.verdict == Verdict::Attack);
    let score = if let Some((name, c)) = veto {
        declined_by = Some(name.to_string());
        reasons.push(format!("{name}: {}", c.reason));
        passive.max(rules.veto_score)
    } else {
        let mut x = logit(passive);
        if tex.verdict == Verdict::Attack {
            x += rules.texture_weight;
            reasons.push(format!("texture: {}", tex.reason));
        }
        if ring.verdict == Verdict::Attack {
            x += rules.follow_weight;
            reasons.push(format!("surroundings: {} (contradicted by the face's own motion)", ring.reason));
        }
        if head_moved || ring.verdict == Verdict::Live {
            x -= rules.live_weight;
            reasons.push(if head_moved {
                "motion: a head's 3D motion".into()
            } else {
                format!("surroundings: {}", ring.reason)
            });
        }
        if bl.verdict == Verdict::Live {
            x -= rules.live_weight;
            reasons.push(bl.reason.clone());
        }
        sigmoid(x)
    };
    if let Some(check) = &g
        && !check.shown
    {
        reasons.push(format!("gesture {:?} not shown: {}", check.gesture, check.reason).to_lowercase());
        if declined_by.is_none() {
            declined_by = Some("gesture".into());
        }
    }
    Assessment {
        confidence_spoofing: round6(score),
        passive: round6(passive),
        flatness: flat,
        consistency: cons,
        blink: bl,
        texture: tex,
        surroundings: ring,
        gesture: g,
        declined_by,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RMS residual of the best homography mapping `a` onto `b` (pixels); `None` when degenerate.
    fn homography_residual(a: &[P], b: &[P]) -> Option<f64> {
        let h = fit_homography(a, b)?;
        let n = a.len().min(b.len());
        let mut err = 0.0;
        for i in 0..n {
            let q = apply(&h, a[i])?;
            err += (q.0 - b[i].0).powi(2) + (q.1 - b[i].1).powi(2);
        }
        Some((err / n as f64).sqrt())
    }

    /// A generic 3D face (x right, y down, z toward the camera), for synthetic landmark tracks.
    fn face3d() -> Vec<[f64; 3]> {
        (0..68)
            .map(|i| {
                let t = i as f64;
                match i {
                    0..=16 => {
                        let a = std::f64::consts::PI * (t / 16.0);
                        [-70.0 * a.cos(), -20.0 + 80.0 * a.sin(), -80.0 + 50.0 * a.sin()]
                    }
                    17..=26 => [-55.0 + 110.0 * (t - 17.0) / 9.0, -50.0, -35.0],
                    27..=30 => [0.0, -40.0 + 13.0 * (t - 27.0), -22.0 + 7.0 * (t - 27.0)],
                    31..=35 => [-14.0 + 7.0 * (t - 31.0), 10.0, -15.0],
                    36..=41 => {
                        let a = std::f64::consts::TAU * (t - 36.0) / 6.0;
                        [-30.0 - 14.0 * a.cos(), -33.0 - 5.0 * a.sin(), -32.0]
                    }
                    42..=47 => {
                        let a = std::f64::consts::TAU * (t - 42.0) / 6.0;
                        [30.0 - 14.0 * a.cos(), -33.0 - 5.0 * a.sin(), -32.0]
                    }
                    _ => {
                        let a = std::f64::consts::TAU * (t - 48.0) / 20.0;
                        [-25.0 * a.cos(), 35.0 + 8.0 * a.sin(), -25.0]
                    }
                }
            })
            .collect()
    }

    fn noise(i: usize, k: usize) -> f64 {
        // Deterministic, zero-mean, ±0.5 px.
        (((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0) - 0.5
    }

    /// A head turning by `yaw` degrees per frame, seen at 1.6 px/mm (a 220 px face).
    fn head_track(yaws: &[f64]) -> Vec<Frame> {
        let pts = face3d();
        yaws.iter()
            .enumerate()
            .map(|(k, yaw)| {
                let (s, c) = yaw.to_radians().sin_cos();
                let landmarks = pts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let x = p[0] * c + p[2] * s;
                        ((200.0 + 1.6 * x + noise(i, k)) as f32, (200.0 + 1.6 * p[1] + noise(k, i)) as f32)
                    })
                    .collect();
                Frame {
                    index: k as u32,
                    landmarks,
                    yaw: *yaw as f32,
                    pitch: 0.0,
                    anisotropy: 1.0,
                    periodicity: 1.2,
                    face_size: 220.0,
                    eye_openness: 0.5,
                    surroundings: None,
                }
            })
            .collect()
    }

    /// The frontal face as a flat picture turned by `tilt` degrees about the vertical axis, with
    /// perspective (the camera 500 mm away).
    fn plane_track(tilts: &[f64]) -> Vec<Frame> {
        let pts = face3d();
        tilts
            .iter()
            .enumerate()
            .map(|(k, tilt)| {
                let (s, c) = tilt.to_radians().sin_cos();
                let landmarks = pts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let (x, z) = (p[0] * c, p[0] * s);
                        let f = 500.0 / (500.0 - z);
                        ((200.0 + 1.6 * x * f + noise(i, k)) as f32, (200.0 + 1.6 * p[1] * f + noise(k, i)) as f32)
                    })
                    .collect();
                // What the host's pose fit reads for a tilted plane: no yaw, a squeeze.
                Frame {
                    index: k as u32,
                    landmarks,
                    yaw: 0.5,
                    pitch: 0.0,
                    anisotropy: c as f32,
                    periodicity: 2.4,
                    face_size: 220.0,
                    eye_openness: 0.5,
                    surroundings: None,
                }
            })
            .collect()
    }

    fn swing(amp: f64) -> Vec<f64> {
        (0..25).map(|i| amp * (i as f64 / 24.0 * std::f64::consts::TAU).sin()).collect()
    }

    #[test]
    fn fits_are_exact_on_exact_transforms() {
        let a: Vec<P> = (0..20).map(|i| ((i * 13 % 17) as f64, (i * 7 % 11) as f64)).collect();
        let sim: Vec<P> = a.iter().map(|p| (2.0 * p.0 - 0.5 * p.1 + 3.0, 0.5 * p.0 + 2.0 * p.1 - 1.0)).collect();
        assert!(similarity_residual(&a, &sim) < 1e-9);
        let hom: Vec<P> = a
            .iter()
            .map(|p| {
                let w = 0.01 * p.0 + 0.02 * p.1 + 1.0;
                ((1.1 * p.0 + 0.2 * p.1 + 4.0) / w, (-0.1 * p.0 + 0.9 * p.1 + 2.0) / w)
            })
            .collect();
        assert!(homography_residual(&a, &hom).unwrap() < 1e-6);
        assert!(similarity_residual(&a, &hom) > 0.1);
    }

    #[test]
    fn a_turning_head_is_live_and_a_tilted_picture_is_flat() {
        let rules = Rules::default();
        let head = smoothed(&head_track(&swing(25.0)));
        let plane = smoothed(&plane_track(&swing(30.0)));
        let (fh, fp) = (flatness(&head, &rules), flatness(&plane, &rules));
        assert_eq!(fh.verdict, Verdict::Live, "{fh:?}");
        assert_eq!(fp.verdict, Verdict::Attack, "{fp:?}");
        assert_eq!(consistency(&head, &rules).verdict, Verdict::Live);
        assert_eq!(consistency(&plane, &rules).verdict, Verdict::Attack);
        let a = assess(0.05, &plane_track(&swing(30.0)), None, &rules, false);
        assert_eq!(a.declined_by.as_deref(), Some("flatness"));
        assert!(a.confidence_spoofing >= 0.99);
        let a = assess(0.05, &head_track(&swing(25.0)), None, &rules, false);
        assert!(a.declined_by.is_none() && a.confidence_spoofing < 0.05, "{a:?}");
    }

    #[test]
    fn a_still_face_leaves_the_motion_cues_undecided() {
        let rules = Rules::default();
        let still = head_track(&[0.0; 25]);
        assert!(!flatness(&still, &rules).decided);
        assert!(!consistency(&still, &rules).decided);
        let one = &still[..1];
        let a = assess(0.2, one, None, &rules, false);
        assert!(a.reasons[0].contains("no motion cue applied"), "{a:?}");
        assert!((a.confidence_spoofing - 0.2).abs() < 1e-3);
    }

    #[test]
    fn gestures_need_the_movement_and_the_return() {
        let rules = Rules::default();
        let there_and_back: Vec<f64> = (0..25).map(|i| 25.0 * (i as f64 / 24.0 * std::f64::consts::PI).sin()).collect();
        let left = head_track(&there_and_back);
        assert!(check_gesture(Gesture::Left, &left, &rules, false).shown);
        assert!(!check_gesture(Gesture::Right, &left, &rules, false).shown);
        assert!(check_gesture(Gesture::Right, &left, &rules, true).shown, "a mirrored camera swaps sides");
        let gone: Vec<f64> = (0..25).map(|i| i as f64).collect();
        let c = check_gesture(Gesture::Left, &head_track(&gone), &rules, false);
        assert!(!c.shown && c.reason.contains("did not come back"), "{c:?}");
        let still = head_track(&[0.0; 25]);
        for g in [Gesture::Left, Gesture::Smile, Gesture::Eyes, Gesture::ZoomIn, Gesture::ZoomOut, Gesture::High] {
            let c = check_gesture(g, &still, &rules, false);
            assert!(!c.shown, "{c:?}");
        }
        let a = assess(0.01, &still, Some(Gesture::Eyes), &rules, false);
        assert_eq!(a.declined_by.as_deref(), Some("gesture"));
    }

    #[test]
    fn blink_smile_and_zoom_are_seen() {
        let rules = Rules::default();
        let mut frames = head_track(&[0.0; 25]);
        // Close the eyes in frame 12.
        frames[12].eye_openness = 0.15;
        assert_eq!(blink(&frames, &rules).verdict, Verdict::Live);
        assert!(check_gesture(Gesture::Eyes, &frames, &rules, false).shown);
        let mut smile = head_track(&[0.0; 25]);
        for f in smile.iter_mut().skip(10) {
            f.landmarks[48].0 -= 12.0;
            f.landmarks[54].0 += 12.0;
        }
        assert!(check_gesture(Gesture::Smile, &smile, &rules, false).shown);
        let mut zoom = head_track(&[0.0; 25]);
        for (k, f) in zoom.iter_mut().enumerate() {
            let s = 1.0 + 0.02 * k as f32;
            f.landmarks.iter_mut().for_each(|p| *p = (200.0 + (p.0 - 200.0) * s, 200.0 + (p.1 - 200.0) * s));
        }
        assert!(check_gesture(Gesture::ZoomIn, &zoom, &rules, false).shown);
        assert!(!check_gesture(Gesture::ZoomOut, &zoom, &rules, false).shown);
    }

    #[test]
    fn texture_votes_but_does_not_decide_alone() {
        let rules = Rules::default();
        let mut still = head_track(&[0.0; 25]);
        still.iter_mut().for_each(|f| f.periodicity = 2.6);
        let a = assess(0.05, &still, None, &rules, false);
        assert_eq!(a.texture.verdict, Verdict::Attack);
        assert!(a.declined_by.is_none());
        assert!(a.confidence_spoofing > 0.05 && a.confidence_spoofing < 0.5, "{a:?}");
        // Frames the texture was not measured on do not count.
        for f in still.iter_mut().step_by(2) {
            f.periodicity = f32::NAN;
        }
        assert_eq!(texture(&still, &rules).value, 2.6);
        still.iter_mut().for_each(|f| f.periodicity = f32::NAN);
        assert!(!texture(&still, &rules).decided);
        still.iter_mut().for_each(|f| f.periodicity = 2.6);
        // A small face shows no pattern worth a vote.
        still.iter_mut().for_each(|f| f.face_size = 60.0);
        let c = texture(&still, &rules);
        assert!(!c.decided && c.reason.contains("too small"), "{c:?}");
    }

    #[test]
    fn surroundings_that_follow_the_face_veto_unless_the_face_shows_life() {
        let rules = Rules::default();
        let ring = |follow, still| Some(Ring { blocks: follow + still + 2, follow, still });
        let mut picture = head_track(&[0.0; 25]);
        picture.iter_mut().skip(1).for_each(|f| f.surroundings = ring(4, 0));
        let c = surroundings(&picture, &rules);
        assert_eq!(c.verdict, Verdict::Attack, "{c:?}");
        let a = assess(0.05, &picture, None, &rules, false);
        assert_eq!(a.declined_by.as_deref(), Some("surroundings"), "{a:?}");
        assert!(a.confidence_spoofing >= 0.99);
        // A head turning (3D motion) with a background that seems to follow: a vote, not a veto.
        let mut turning = head_track(&swing(25.0));
        turning.iter_mut().skip(1).for_each(|f| f.surroundings = ring(4, 0));
        let a = assess(0.05, &turning, None, &rules, false);
        assert!(a.declined_by.is_none(), "{a:?}");
        assert!(a.reasons.iter().any(|r| r.contains("contradicted")), "{a:?}");
        // A face moving in front of surroundings that stay is evidence of life.
        let mut head = head_track(&[0.0; 25]);
        head.iter_mut().skip(1).for_each(|f| f.surroundings = ring(0, 5));
        assert_eq!(surroundings(&head, &rules).verdict, Verdict::Live);
        let a = assess(0.3, &head, None, &rules, false);
        assert!(a.confidence_spoofing < 0.3, "{a:?}");
        // Too few blocks, or a mixed picture, decide nothing.
        head.iter_mut().for_each(|f| f.surroundings = None);
        head[3].surroundings = ring(2, 1);
        assert!(!surroundings(&head, &rules).decided);
        head.iter_mut().skip(1).for_each(|f| f.surroundings = ring(2, 2));
        assert!(!surroundings(&head, &rules).decided);
        head.iter_mut().for_each(|f| f.surroundings = None);
        assert!(surroundings(&head, &rules).reason.contains("not measured"));
    }

    #[test]
    fn gesture_tags_map_to_gestures() {
        assert_eq!(Gesture::from_tags(&["video_selfie", "video_selfie_eyes"]), Some(Gesture::Eyes));
        assert_eq!(Gesture::from_tags(&["VIDEO_SELFIE_ZOOM_IN"]), Some(Gesture::ZoomIn));
        assert_eq!(Gesture::from_tags(&["video_selfie_blank", "video_selfie_scan"]), None);
    }
}
