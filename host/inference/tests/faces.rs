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

/// Same-person variants of one photo (crop, scale, brightness, JPEG q40, mirror) against a
/// different person,
/// for each embedding model.
#[test]
fn embeddings_separate_people() {
    use vigil_inference::{Embedder, cosine};
    let v = Vision::load(&assets(), 2).unwrap();
    let a = photo("astronaut.png");
    let g = photo("grace_hopper.jpg");
    let variants = |img: &image::RgbImage| -> Vec<image::RgbImage> {
        let (w, h) = img.dimensions();
        let mut out = vec![img.clone()];
        out.push(image::imageops::crop_imm(img, w / 10, h / 12, w * 8 / 10, h * 8 / 10).to_image());
        out.push(image::imageops::resize(img, w * 3 / 4, h * 3 / 4, image::imageops::FilterType::Triangle));
        let mut bright = img.clone();
        for p in bright.pixels_mut() {
            p.0 = p.0.map(|c| c.saturating_add(30));
        }
        out.push(bright);
        let dyn_img = image::DynamicImage::ImageRgb8(img.clone());
        let mut jpg = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 40).encode_image(&dyn_img).unwrap();
        out.push(image::load_from_memory(&jpg.into_inner()).unwrap().into_rgb8());
        out.push(image::imageops::flip_horizontal(img));
        out
    };
    for model in [Embedder::FrFeature, Embedder::SFace] {
        let embed = |img: &image::RgbImage| {
            let faces = v.detect(img).unwrap();
            assert_eq!(faces.len(), 1);
            v.embed(img, &faces[0], model).unwrap()
        };
        let ea: Vec<Vec<f32>> = variants(&a).iter().map(embed).collect();
        let eg: Vec<Vec<f32>> = variants(&g).iter().map(embed).collect();
        let expected_dim = if model == Embedder::FrFeature { 512 } else { 128 };
        assert_eq!(ea[0].len(), expected_dim);
        let mut same = Vec::new();
        for set in [&ea, &eg] {
            for i in 1..set.len() {
                same.push(cosine(&set[0], &set[i]));
            }
        }
        let mut different = Vec::new();
        for x in &ea {
            for y in &eg {
                different.push(cosine(x, y));
            }
        }
        let min_same = same.iter().copied().fold(f32::MAX, f32::min);
        let max_diff = different.iter().copied().fold(f32::MIN, f32::max);
        eprintln!(
            "{}: same person min {min_same:.3} (all {:?}); different people max {max_diff:.3}",
            model.name(),
            same.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>()
        );
        assert!(min_same > max_diff + 0.2, "{}: same {min_same} vs different {max_diff}", model.name());
    }
}
