//! DOCUMENTS end to end: generated passports and ID cards photographed like a phone would,
//! read by the built-in Wasm pipeline through the host's OCR, checked by the built-in and a
//! company's own document-check components, next to QUALITY and BIOMETRY on the same folder.

use crate::collections::analyse;
use crate::{World, id};
use serde_json::{Value, json};
use vigil_docgen::{Capture, Defect, Layout, Rng, document, photograph};
use vigil_tests::*;

fn portrait(name: &str) -> image::RgbImage {
    image::load_from_memory(&test_photo(name)).expect("photo").to_rgb8()
}

/// Photos of a generated document's pages (TD3: the data page; TD1: front, back).
fn doc_photos(seed: u64, layout: Layout, defect: Defect, face: &str) -> (vigil_docgen::Document, Vec<Vec<u8>>) {
    let mut rng = Rng::new(seed);
    let doc = document(&mut rng, layout, defect, &portrait(face), 12.0).expect("document");
    let cap = Capture::phone(&mut rng);
    let photos =
        doc.pages.iter().map(|p| photograph(p, &Capture { blur: cap.blur.min(0.8), ..cap }, &mut rng)).collect();
    (doc, photos)
}

async fn folder(s: &Server, who: &Session, parts: Vec<(&str, Vec<u8>, &[&str])>) -> Value {
    let mut files = Vec::new();
    let mut tags = serde_json::Map::new();
    for (i, (field, bytes, t)) in parts.into_iter().enumerate() {
        files.push(file(field, &format!("f{i}.jpg"), bytes));
        tags.insert(field.to_string(), json!(t));
    }
    let (st, f) = s.upload(who, "/api/folders/", files, Some(json!({ "media:tags": tags }))).await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    f
}

fn field<'a>(a: &'a Value, name: &str) -> &'a Value {
    a["results_data"]["text_fields"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["field_name"] == name))
        .unwrap_or_else(|| panic!("no text field {name} in {}", a["results_data"]))
}

fn codes(a: &Value) -> Vec<String> {
    a["results_data"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn documents_only(s: &Server, who: &Session, parts: Vec<(&str, Vec<u8>, &[&str])>, params: Value) -> Value {
    let f = folder(s, who, parts).await;
    analyse(s, who, &f, json!([{"type": "documents", "params": params}])).await.remove(0)
}

async fn documents(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    const FRONT: &[&str] = &["photo_id", "photo_id_front"];
    const BACK: &[&str] = &["photo_id", "photo_id_back"];

    // A passport page and a selfie (another photo of the same man): DOCUMENTS reads MRZ and print
    // side by side, BIOMETRY matches the document's face with the selfie, QUALITY runs beside.
    let (doc, photos) = doc_photos(11, Layout::Td3, Defect::None, "obama.jpg");
    let f = folder(
        s,
        &w.client,
        vec![("passport", photos[0].clone(), FRONT), ("selfie", test_photo("obama2.jpg"), &["photo_selfie"])],
    )
    .await;
    let got =
        analyse(s, &w.client, &f, json!([{"type": "documents"}, {"type": "biometry"}, {"type": "quality"}])).await;
    let (d, b, q) = (&got[0], &got[1], &got[2]);
    assert_eq!(d["type"], "DOCUMENTS");
    assert_eq!(d["resolution_status"], "SUCCESS", "{}", d["results_data"]);
    assert_eq!(d["results_data"]["document_type"], "TD3");
    assert_eq!(d["results_data"]["mrz"]["lines"], json!(doc.mrz), "the MRZ read exactly");
    assert_eq!(d["results_data"]["mrz"]["valid"], true);
    let surname = field(d, "surname");
    assert_eq!(surname["mrz"], doc.holder.surname.replace(['-', '\''], " ").replace("  ", " ").as_str().trim());
    assert!(surname["visual"].as_str().is_some_and(|v| vigil_mrz::same_text(v, &doc.holder.surname)), "{surname}");
    assert_eq!(surname["status"], "match");
    assert_eq!(field(d, "date_of_birth")["mrz"], doc.holder.birth.to_string());
    assert_eq!(field(d, "document_number")["mrz"], doc.holder.document_number);
    assert_eq!(d["results_data"]["checks_run"], json!(["document-check"]));
    // The document's portrait is kept as an output image.
    let face_url =
        d["results_media"][0]["output_images"][0]["original_url"].as_str().expect("document face").to_string();
    let (st, bytes) = s.fetch(Some(&w.client), &face_url).await;
    assert_eq!(st, StatusCode::OK);
    assert!(image::load_from_memory(&bytes).is_ok());
    assert_eq!(b["resolution_status"], "SUCCESS", "document face vs selfie: {}", b["results_data"]);
    assert!(b["results_data"]["min_confidence"].as_f64().unwrap() >= 0.85);
    assert_eq!(q["state"], "FINISHED", "{q}");
    // The folder filter on DOCUMENTS results finds it.
    let (_, found) = s.get(&w.client, "/api/folders/?analyse.results_data.document_type=TD3").await;
    assert!(found.to_string().contains(&id(&f, "folder_id")));
    // Another person's selfie does not match the document's face.
    let f2 = folder(
        s,
        &w.client,
        vec![("passport", photos[0].clone(), FRONT), ("selfie", test_photo("biden.jpg"), &["photo_selfie"])],
    )
    .await;
    let b2 = analyse(s, &w.client, &f2, json!([{"type": "biometry"}])).await.remove(0);
    assert_eq!(b2["resolution_status"], "DECLINED", "{}", b2["results_data"]);

    // Tampered, expired and broken documents are declined with the reason.
    for (seed, defect, code) in [
        (12, Defect::Tampered, "visual_mrz_mismatch"),
        (13, Defect::Expired, "document_expired"),
        (14, Defect::BadCheckDigit, "mrz_check_digit"),
    ] {
        let (_, photos) = doc_photos(seed, Layout::Td3, defect, "grace_hopper.jpg");
        let a = documents_only(s, &w.client, vec![("p", photos[0].clone(), FRONT)], json!({})).await;
        assert_eq!(a["resolution_status"], "DECLINED", "{defect:?}: {}", a["results_data"]);
        assert!(codes(&a).contains(&code.to_string()), "{defect:?}: {:?}", codes(&a));
        assert!(a["results_data"]["reasons"].to_string().contains(code));
    }
    // fields_to_check narrows what is checked and shown: an expired passport passes on its name.
    let (_, photos) = doc_photos(13, Layout::Td3, Defect::Expired, "grace_hopper.jpg");
    let a = documents_only(
        s,
        &w.client,
        vec![("p", photos[0].clone(), FRONT)],
        json!({"fields_to_check": ["surname"], "capabilities": 492}),
    )
    .await;
    assert_eq!(a["resolution_status"], "SUCCESS", "{}", a["results_data"]);
    assert_eq!(a["results_data"]["text_fields"].as_array().unwrap().len(), 1);
    assert_eq!(a["results_data"]["capabilities"], 492);

    // An ID card: front and back in one folder, fields merged; the back alone needs an operator.
    let (card, photos) = doc_photos(15, Layout::Td1, Defect::None, "astronaut.png");
    let a = documents_only(
        s,
        &w.client,
        vec![("front", photos[0].clone(), FRONT), ("back", photos[1].clone(), BACK)],
        json!({}),
    )
    .await;
    assert_eq!(a["resolution_status"], "SUCCESS", "{}", a["results_data"]);
    assert_eq!(a["results_data"]["document_type"], "TD1");
    assert_eq!(a["results_data"]["mrz"]["lines"], json!(card.mrz));
    assert_eq!(field(&a, "surname")["status"], "match");
    let back = documents_only(s, &w.client, vec![("back", photos[1].clone(), BACK)], json!({})).await;
    assert_eq!(back["resolution_status"], "OPERATOR_REQUIRED", "{}", back["results_data"]);
    assert!(codes(&back).contains(&"visual_zone_missing".to_string()));

    // Bad inputs: a selfie tagged as a document, and noise.
    let face = documents_only(s, &w.client, vec![("p", test_photo("biden.jpg"), FRONT)], json!({})).await;
    assert_eq!(face["resolution_status"], "DECLINED");
    assert!(codes(&face).contains(&"mrz_unreadable".to_string()), "{}", face["results_data"]);
    let mut rng = Rng::new(5);
    let noise = image::RgbImage::from_fn(640, 480, |_, _| {
        image::Rgb([rng.below(256) as u8, rng.below(256) as u8, rng.below(256) as u8])
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80).encode_image(&noise).unwrap();
    let n = documents_only(s, &w.client, vec![("p", jpeg.into_inner(), FRONT)], json!({})).await;
    assert_eq!(n["resolution_status"], "DECLINED");
    assert!(n["results_data"]["reasons"].to_string().contains("mrz_unreadable"), "{}", n["results_data"]);
    // DOCUMENTS with no document photo is refused at the request.
    let selfie_only = folder(s, &w.client, vec![("s", test_photo("obama.jpg"), &["photo_selfie"])]).await;
    let r = s
        .post(
            &w.client,
            &format!("/api/folders/{}/analyses/", id(&selfie_only, "folder_id")),
            json!({"analyses": [{"type": "documents"}]}),
        )
        .await;
    assert!(crate::oz_err(&r, 400, 4).contains("photo_id_front"));

    // A company's own check: C1 requires adults; the same minor's passport passes in C2.
    let (st, p) = s
        .upload_plugin(
            &w.cadmin,
            component("age_check"),
            json!({"kind": "document-check", "name": "age-check", "version": "1.0.0", "config": {"min_age": "18"}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let (_, photos) = doc_photos(16, Layout::Td3, Defect::Minor, "obama.jpg");
    let minor = documents_only(s, &w.client, vec![("p", photos[0].clone(), FRONT)], json!({})).await;
    assert_eq!(minor["resolution_status"], "DECLINED", "{}", minor["results_data"]);
    assert_eq!(minor["results_data"]["checks_run"], json!(["document-check", "age-check"]));
    let f = &minor["results_data"]["findings"].as_array().unwrap()[0];
    assert_eq!((f["code"].as_str(), f["plugin"].as_str()), (Some("underage"), Some("age-check")), "{f}");
    let elsewhere = documents_only(s, &w.other, vec![("p", photos[0].clone(), FRONT)], json!({})).await;
    assert_eq!(elsewhere["resolution_status"], "SUCCESS", "{}", elsewhere["results_data"]);
    assert_eq!(elsewhere["results_data"]["checks_run"], json!(["document-check"]));
}
both_dbs!(documents_scenarios, documents);
