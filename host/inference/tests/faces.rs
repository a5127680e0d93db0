//! Real models on real public-domain portraits from registry packages (`make assets`).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use vigil_inference::{Assets, Vision};

fn assets() -> Assets {
    let dir = std::env::var("VIGIL_ASSETS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets")));
    Assets::new(dir)
}

fn photo(name: &str) -> image::RgbImage {
    let p = assets().dir.join("testdata").join(name);
    image::open(&p).unwrap_or_else(|e| panic!("{}: {e}; run `make assets`", p.display())).into_rgb8()
}

#[test]
fn one_plausible_face_per_portrait_and_live_scores() {
    let v = Vision::load(&assets(), 2).unwrap();
    for name in ["astronaut.png", "grace_hopper.jpg"] {
        let img = photo(name);
        let faces = v.detect(&img).unwrap();
        assert_eq!(faces.len(), 1, "{name}: {faces:?}");
        let f = faces[0];
        let (w, h) = (img.width() as f32, img.height() as f32);
        assert!(f.x >= 0.0 && f.y >= 0.0 && f.x + f.width <= w + 0.5 && f.y + f.height <= h + 0.5, "{name}: {f:?}");
        // A portrait's face is a sizeable part of the frame, not a speck nor the whole image.
        let ratio = f.width * f.height / (w * h);
        assert!((0.02..0.6).contains(&ratio), "{name}: face covers {ratio:.3} of the image");
        let spoof = v.spoofing(&img, &f).unwrap();
        eprintln!("{name}: face {f:?}, spoofing score {spoof:.3}");
        assert!((0.0..=1.0).contains(&spoof));
    }
    // A blank image has no face.
    let blank = image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
    assert!(v.detect(&blank).unwrap().is_empty());
    assert!(v.detect(&image::RgbImage::new(8, 8)).is_err());
}

#[test]
fn missing_assets_name_the_fix() {
    let err = Vision::load(&Assets::new("/nonexistent"), 1).err().unwrap().to_string();
    assert!(err.contains("make assets"), "{err}");
}
