//! Head pose from the 68 landmarks, against a generic 3D face.
//!
//! A scaled-orthographic camera is fitted by least squares: the 2D landmarks ≈ A·X + t with X
//! the generic shape's 3D points and A a 2×3 matrix. A rigid head gives an A whose two rows are
//! orthogonal and of equal length (a scaled rotation); the rows, made orthonormal, give the
//! rotation. How far A is from that (`anisotropy`) is itself a signal: a photo tilted away from
//! the camera compresses one image axis without any 3D rotation, which no rigid head does.

/// Generic 3D positions (millimetres; x to the image's right, y down, z toward the camera; the
/// nose tip at the origin) of the iBUG-68 landmarks the fit uses. Approximate adult averages: the
/// fit needs depth order and rough proportions, not an individual's shape.
const MODEL: [(usize, [f32; 3]); 30] = [
    (0, [-72.0, -28.0, -95.0]),
    (2, [-68.0, 12.0, -88.0]),
    (4, [-58.0, 45.0, -70.0]),
    (6, [-35.0, 68.0, -45.0]),
    (8, [0.0, 75.0, -30.0]),
    (10, [35.0, 68.0, -45.0]),
    (12, [58.0, 45.0, -70.0]),
    (14, [68.0, 12.0, -88.0]),
    (16, [72.0, -28.0, -95.0]),
    (17, [-55.0, -50.0, -40.0]),
    (19, [-35.0, -58.0, -30.0]),
    (21, [-12.0, -52.0, -27.0]),
    (22, [12.0, -52.0, -27.0]),
    (24, [35.0, -58.0, -30.0]),
    (26, [55.0, -50.0, -40.0]),
    (27, [0.0, -40.0, -22.0]),
    (29, [0.0, -15.0, -8.0]),
    (30, [0.0, 0.0, 0.0]),
    (31, [-13.0, 10.0, -18.0]),
    (33, [0.0, 12.0, -12.0]),
    (35, [13.0, 10.0, -18.0]),
    (36, [-44.0, -33.0, -36.0]),
    (39, [-14.0, -32.0, -30.0]),
    (42, [14.0, -32.0, -30.0]),
    (45, [44.0, -33.0, -36.0]),
    (48, [-25.0, 35.0, -28.0]),
    (51, [0.0, 28.0, -15.0]),
    (54, [25.0, 35.0, -28.0]),
    (57, [0.0, 45.0, -18.0]),
    (62, [0.0, 35.0, -20.0]),
];

/// A head pose in degrees: `yaw` > 0 when the face turns toward the image's right, `pitch` > 0
/// when it looks up, `roll` > 0 when it leans clockwise in the image.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    /// Pixels per millimetre of the generic face.
    pub scale: f32,
    /// |row 1| / |row 2| of the fitted camera: 1 for a rigid head seen by any camera; a plane
    /// tilted about the vertical axis reads cos(tilt).
    pub anisotropy: f32,
}

type V3 = [f64; 3];

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}
fn scale(a: V3, k: f64) -> V3 {
    [a[0] * k, a[1] * k, a[2] * k]
}
fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn cross(a: V3, b: V3) -> V3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// Inverse of a symmetric 3×3 matrix, `None` when singular.
fn inverse3(m: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let c = |r: usize, k: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (k1, k2) = ((k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    if det.abs() < 1e-12 {
        return None;
    }
    let mut inv = [[0.0; 3]; 3];
    for (r, row) in inv.iter_mut().enumerate() {
        for (k, v) in row.iter_mut().enumerate() {
            // The adjugate is the transposed cofactor matrix.
            *v = c(k, r) / det;
        }
    }
    Some(inv)
}

/// The head pose of 68 landmarks (pixels); `None` when there are fewer than 68 points or they
/// are degenerate (all on a line).
pub fn head_pose(landmarks: &[(f32, f32)]) -> Option<Pose> {
    if landmarks.len() < 68 {
        return None;
    }
    let n = MODEL.len() as f64;
    let mut mx = [0.0f64; 3];
    let mut mp = [0.0f64; 2];
    for (i, x) in MODEL {
        mx = add(mx, [f64::from(x[0]), f64::from(x[1]), f64::from(x[2])]);
        mp[0] += f64::from(landmarks[i].0);
        mp[1] += f64::from(landmarks[i].1);
    }
    let mx = scale(mx, 1.0 / n);
    let mp = [mp[0] / n, mp[1] / n];
    // Normal equations: A = (P Xᵀ)(X Xᵀ)⁻¹ over centred points.
    let mut xx = [[0.0f64; 3]; 3];
    let mut px = [[0.0f64; 3]; 2];
    for (i, x) in MODEL {
        let x = sub([f64::from(x[0]), f64::from(x[1]), f64::from(x[2])], mx);
        let p = [f64::from(landmarks[i].0) - mp[0], f64::from(landmarks[i].1) - mp[1]];
        for r in 0..3 {
            for k in 0..3 {
                xx[r][k] += x[r] * x[k];
            }
            px[0][r] += p[0] * x[r];
            px[1][r] += p[1] * x[r];
        }
    }
    let inv = inverse3(xx)?;
    let row = |k: usize| -> V3 {
        let mut r = [0.0; 3];
        for (c, v) in r.iter_mut().enumerate() {
            *v = (0..3).map(|j| px[k][j] * inv[j][c]).sum();
        }
        r
    };
    let (r1, r2) = (row(0), row(1));
    let (n1, n2) = (norm(r1), norm(r2));
    if !(n1 > 1e-9 && n2 > 1e-9) {
        return None;
    }
    // The nearest orthonormal pair, symmetric in both rows.
    let (u, v) = (scale(r1, 1.0 / n1), scale(r2, 1.0 / n2));
    let (w, d) = (add(u, v), sub(u, v));
    let (w, d) = (scale(w, 1.0 / norm(w).max(1e-12)), scale(d, 1.0 / norm(d).max(1e-12)));
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let (u, v) = (scale(add(w, d), s), scale(sub(w, d), s));
    let r3 = cross(u, v);
    // The face's forward axis (model z) in camera coordinates is the rotation's third column.
    let fwd = [u[2], v[2], r3[2]];
    let deg = |a: f64| a.to_degrees() as f32;
    Some(Pose {
        yaw: deg(fwd[0].atan2(fwd[2])),
        pitch: deg((-fwd[1]).atan2(fwd[2])),
        roll: deg(v[0].atan2(u[0])),
        scale: (n1 * n2).sqrt() as f32,
        anisotropy: (n1 / n2) as f32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generic shape rotated by yaw then pitch, projected orthographically at `k` px/mm.
    fn project(yaw: f64, pitch: f64, k: f64) -> Vec<(f32, f32)> {
        let mut pts = vec![(0.0f32, 0.0f32); 68];
        let (sy, cy) = yaw.to_radians().sin_cos();
        let (sp, cp) = pitch.to_radians().sin_cos();
        for (i, x) in MODEL {
            let [x, y, z] = [f64::from(x[0]), f64::from(x[1]), f64::from(x[2])];
            // Yaw about the vertical axis (toward the image's right is positive).
            let (x1, z1) = (x * cy + z * sy, -x * sy + z * cy);
            // Pitch about the horizontal axis (looking up: the forward axis moves to -y).
            let (y2, z2) = (y * cp - z1 * sp, y * sp + z1 * cp);
            let _ = z2;
            pts[i] = ((300.0 + k * x1) as f32, (200.0 + k * y2) as f32);
        }
        pts
    }

    #[test]
    fn recovers_rotations_of_the_generic_head() {
        for (yaw, pitch) in [(0.0, 0.0), (25.0, 0.0), (-30.0, 0.0), (0.0, 20.0), (0.0, -15.0), (15.0, 10.0)] {
            let p = head_pose(&project(yaw, pitch, 2.0)).unwrap();
            assert!((f64::from(p.yaw) - yaw).abs() < 1.5, "yaw {yaw}: {p:?}");
            assert!((f64::from(p.pitch) - pitch).abs() < 1.5, "pitch {pitch}: {p:?}");
            // Roll is read in the image plane, so a compound yaw and pitch shows a little.
            assert!(p.roll.abs() < if yaw * pitch == 0.0 { 1.5 } else { 4.0 }, "{p:?}");
            assert!((p.scale - 2.0).abs() < 0.05 && (p.anisotropy - 1.0).abs() < 0.02, "{p:?}");
        }
    }

    #[test]
    fn a_tilted_plane_reads_as_anisotropy_not_yaw() {
        // A frontal photo turned 30° about the vertical axis: x shrinks, nothing moves in depth.
        let flat: Vec<(f32, f32)> = project(0.0, 0.0, 2.0)
            .into_iter()
            .map(|(x, y)| (300.0 + (x - 300.0) * 30f32.to_radians().cos(), y))
            .collect();
        let p = head_pose(&flat).unwrap();
        assert!(p.yaw.abs() < 3.0, "{p:?}");
        assert!((p.anisotropy - 30f32.to_radians().cos()).abs() < 0.03, "{p:?}");
    }

    #[test]
    fn too_few_or_degenerate_points_give_none() {
        assert!(head_pose(&[(1.0, 1.0); 10]).is_none());
        assert!(head_pose(&[(1.0, 1.0); 68]).is_none());
    }
}
