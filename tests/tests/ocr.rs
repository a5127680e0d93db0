//! Native document reading on generated documents: the MRZ reading rate per layout and capture
//! condition, parsed fields and the printed fields beside them. The rates are printed; the
//! assertions are floors they clear with a margin (see docs/DOCUMENTS.md for the measured ones).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use vigil_docgen::{Capture, Defect, Layout, Rng, document, photograph};
use vigil_inference::ocr::{Ocr, ReadOptions};
use vigil_inference::{Assets, manifest::Manifest};

fn ocr() -> Arc<Ocr> {
    let assets = Assets::new(vigil_tests::assets_dir());
    Ocr::load(&assets, &Manifest::shipped(), 2).unwrap().expect("the shipped manifest has text models")
}

fn portrait(i: usize) -> image::RgbImage {
    let names = ["obama.jpg", "biden.jpg", "grace_hopper.jpg", "astronaut.png", "obama2.jpg"];
    image::load_from_memory(&vigil_tests::test_photo(names[i % names.len()])).unwrap().to_rgb8()
}

/// Per set: (pages with every MRZ line exact, with valid check digits, valid but wrong, fields
/// read right of those printed).
#[derive(Default, Debug)]
struct Rates {
    pages: usize,
    exact: usize,
    valid: usize,
    valid_wrong: usize,
    fields_right: usize,
    fields_total: usize,
}

fn run_set(ocr: &Ocr, layout: Layout, n: usize, seed: u64, capture: fn(&mut Rng) -> Capture) -> Rates {
    let mut rng = Rng::new(seed);
    let mut r = Rates::default();
    for i in 0..n {
        let doc = document(&mut rng, layout, Defect::None, &portrait(i), 12.0).unwrap();
        let mrz_page = doc.pages.last().unwrap();
        let cap = capture(&mut rng);
        let jpeg = photograph(mrz_page, &cap, &mut rng);
        let img = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        let reading = ocr.read_document(&img, ReadOptions::default()).unwrap();
        r.pages += 1;
        match &reading.mrz {
            Some(m) => {
                let exact = m.mrz.lines == doc.mrz;
                r.exact += exact as usize;
                r.valid += m.mrz.valid() as usize;
                r.valid_wrong += (m.mrz.valid() && !exact) as usize;
                if !exact {
                    eprintln!("{layout:?} page {i} ({cap:?}):\n  read {:?}\n  true {:?}", m.mrz.lines, doc.mrz);
                }
            }
            None => eprintln!("{layout:?} page {i}: no MRZ ({cap:?}); {} lines", reading.lines.len()),
        }
        // The printed fields are on the page itself for TD3, on the card's front for TD1.
        let fields_page = &doc.pages[0];
        let fields = if layout == Layout::Td3 {
            reading.fields.clone()
        } else {
            let jpeg = photograph(fields_page, &cap, &mut rng);
            let img = image::load_from_memory(&jpeg).unwrap().to_rgb8();
            ocr.read_document(&img, ReadOptions { double_page_spread: false }).unwrap().fields
        };
        for (name, value) in &doc.printed {
            r.fields_total += 1;
            let got = fields.iter().find(|f| f.name == *name);
            if got.is_some_and(|f| vigil_mrz::same_text(&f.value, value)) {
                r.fields_right += 1;
            } else {
                eprintln!("{layout:?} page {i}: field {name} printed {value:?}, read {:?}", got.map(|f| &f.value));
            }
        }
    }
    eprintln!("{layout:?} seed {seed}: {r:?}");
    r
}

#[test]
fn td3_passport_pages_photographed_by_phone() {
    let r = run_set(&ocr(), Layout::Td3, 12, 1, Capture::phone);
    assert!(r.exact * 100 >= r.pages * 90, "{r:?}");
    assert_eq!(r.valid_wrong, 0, "{r:?}");
    assert!(r.fields_right * 100 >= r.fields_total * 85, "{r:?}");
}

#[test]
fn td1_cards_photographed_by_phone() {
    let r = run_set(&ocr(), Layout::Td1, 10, 2, Capture::phone);
    assert!(r.exact * 100 >= r.pages * 90, "{r:?}");
    assert_eq!(r.valid_wrong, 0, "{r:?}");
    assert!(r.fields_right * 100 >= r.fields_total * 85, "{r:?}");
}

#[test]
#[ignore]
fn debug_lines() {
    let ocr = ocr();
    let mut rng = Rng::new(1);
    let doc = document(&mut rng, Layout::Td3, Defect::None, &portrait(0), 12.0).unwrap();
    let cap = Capture::phone(&mut rng);
    let jpeg = photograph(&doc.pages[0], &cap, &mut rng);
    std::fs::write("/tmp/doc0.jpg", &jpeg).unwrap();
    let img = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    let r = ocr.read_document(&img, ReadOptions::default()).unwrap();
    for l in &r.lines {
        eprintln!("{:>6.0} {:>6.0} {:>5.0}x{:<4.0} {:.2} {}", l.quad.cx - l.quad.w / 2.0, l.quad.cy, l.quad.w, l.quad.h, l.confidence, l.text);
    }
    for f in &r.fields {
        eprintln!("{} = {} ({})", f.name, f.value, f.label);
    }
}
