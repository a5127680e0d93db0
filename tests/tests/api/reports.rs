//! Folder reports: the default template over real QUALITY and BIOMETRY results, a company's
//! own template with a logo swapped live, a custom component, HTML, roles, escaping, and the
//! malicious-template cases. PDFs are read back with poppler (`pdftotext`, `pdfimages`).

use crate::{World, id, oz_err};
use serde_json::{Value, json};
use vigil_tests::*;

/// A folder of two photos of one person with QUALITY and BIOMETRY finished; the folder.
async fn analysed_folder(w: &World, who: &Session) -> Value {
    let s = &w.s;
    let fid = s.selfie_folder(who, &[&test_photo("obama.jpg"), &test_photo("obama2.jpg")]).await;
    let (st, list) = s
        .post(
            who,
            &format!("/api/folders/{fid}/analyses/"),
            json!({"analyses": [{"type": "quality"}, {"type": "biometry"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    for a in list.as_array().unwrap() {
        s.wait_analysis(who, &id(a, "analyse_id"), 120).await;
    }
    let (st, f) = s.get(who, &format!("/api/folders/{fid}/?with_analyses=true")).await;
    assert_eq!(st, StatusCode::OK);
    f
}

async fn report(s: &Server, who: &Session, fid: &str, body: Value) -> (StatusCode, Value) {
    s.post(who, &format!("/api/folders/{fid}/reports/"), body).await
}

/// Generates a report that must succeed; the report and its file.
async fn made(s: &Server, who: &Session, fid: &str, body: Value) -> (Value, Vec<u8>) {
    let (st, r) = report(s, who, fid, body).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let (st, file) = s.fetch(Some(who), r["file_url"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    (r, file)
}

async fn upload_template(s: &Server, who: &Session, files: Vec<FilePart>, payload: Value) -> (StatusCode, Value) {
    s.upload(who, "/api/report_templates/", files, Some(payload)).await
}

fn typ(name: &str, text: &str) -> FilePart {
    file("template", name, text.as_bytes().to_vec())
}

async fn reports(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    let f = analysed_folder(&w, &w.client).await;
    let fid = id(&f, "folder_id");
    let analyses = f["analyses"].as_array().unwrap();
    let bio = analyses.iter().find(|a| a["type"] == "BIOMETRY").unwrap();
    let min = bio["results_data"]["min_confidence"].as_f64().unwrap();

    // The default report: the folder id, both analyses with their verdicts and scores, the
    // best shot and thumbnails as images; the file is named after the folder.
    let (r, pdf) = made(s, &w.client, &fid, json!({})).await;
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(r["template_name"], "default");
    assert!(r["report_template_id"].is_null());
    let name = r["file_name"].as_str().unwrap();
    assert!(name.contains(&fid) && name.ends_with(".pdf"), "{name}");
    assert!(r["timings"]["typeset_ms"].as_f64().unwrap() > 0.0);
    let text = pdf_text(&pdf);
    assert!(text.contains(&fid), "{text}");
    assert!(text.contains("Identity verification report"), "{text}");
    for a in analyses {
        assert!(text.contains(a["type"].as_str().unwrap()), "{text}");
    }
    assert!(text.contains(f["system_resolution"].as_str().unwrap()), "{text}");
    assert!(text.contains(&format!("{min:.2}")), "BIOMETRY min_confidence {min:.2} in {text}");
    assert!(pdf_images(&pdf) >= 3, "best shot and two thumbnails");
    // Listed, read and downloaded by the company's service account; not by another CLIENT.
    let (_, list) = s.get(&w.svc, &format!("/api/folders/{fid}/reports/")).await;
    assert!(list["items"].as_array().unwrap().iter().any(|i| i["report_id"] == r["report_id"]), "{list}");
    let (st, _) = s.fetch(Some(&w.svc), r["file_url"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s.fetch(Some(&w.other), r["file_url"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s.fetch(None, r["file_url"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Only ADMIN and CLIENT ADMIN manage templates.
    let brand = "= ACME Bank verification\n#image(\"attachments/logo.png\", width: 2cm)\nFolder {{ folder.folder_id }} is *{{ verdict }}*.\n";
    for who in [&w.client, &w.svc, &w.cop, &w.operator] {
        oz_err(&upload_template(s, who, vec![typ("brand.typ", brand)], json!({"name": "Brand"})).await, 403, 9);
    }
    // A company template with its logo: the next report of the company uses it.
    let (st, t) = upload_template(
        s,
        &w.cadmin,
        vec![typ("brand.typ", brand), file("logo", "logo.png", png(64, 32))],
        json!({"name": "Brand", "unknown": 1}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    let tid = id(&t, "report_template_id");
    assert_eq!((t["version"].as_i64(), t["kind"].as_str()), (Some(1), Some("template")));
    assert_eq!(t["attachments"][0]["name"], "logo.png");
    let (r2, pdf2) = made(s, &w.client, &fid, json!({})).await;
    assert_eq!((r2["template_name"].as_str(), r2["template_version"].as_i64()), (Some("Brand"), Some(1)));
    let text2 = pdf_text(&pdf2);
    assert!(text2.contains("ACME Bank verification") && text2.contains(&fid), "{text2}");
    assert_eq!(pdf_images(&pdf2), 1, "the logo");
    // Another company still gets the default, and cannot see or use C1's template.
    let g = id(&w.g, "folder_id");
    let (r3, pdf3) = made(s, &w.other, &g, json!({})).await;
    assert_eq!(r3["template_name"], "default");
    assert!(pdf_text(&pdf3).contains("Identity verification report"));
    oz_err(&s.get(&w.other_admin, &format!("/api/report_templates/{tid}")).await, 404, 10);
    oz_err(&report(s, &w.other, &g, json!({"report_template_id": tid})).await, 404, 10);
    let (_, mine) = s.get(&w.other_admin, "/api/report_templates/").await;
    assert!(mine["items"].as_array().unwrap().is_empty(), "{mine}");

    // A new version is live on the next report; the report made before stays as it was.
    let (st, t2) = s
        .upload_with(
            &w.cadmin,
            reqwest::Method::PUT,
            &format!("/api/report_templates/{tid}/"),
            vec![typ("brand.typ", "= Second layout\nFolder {{ folder.folder_id }}\n")],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{t2}");
    assert_eq!(t2["version"], 2);
    let (r4, pdf4) = made(s, &w.client, &fid, json!({})).await;
    assert_eq!(r4["template_version"], 2);
    assert!(pdf_text(&pdf4).contains("Second layout"));
    let (_, again) = s.fetch(Some(&w.client), r2["file_url"].as_str().unwrap()).await;
    assert_eq!(again, pdf2, "a stored report never changes");

    // A complete custom component, named explicitly.
    let (st, c) = upload_template(
        s,
        &w.cadmin,
        vec![file("template", "custom.wasm", component("report_custom"))],
        json!({"name": "Custom", "is_default": false}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_eq!(c["kind"], "component");
    let (r5, pdf5) = made(s, &w.client, &fid, json!({"report_template_id": id(&c, "report_template_id")})).await;
    assert_eq!(r5["template_name"], "Custom");
    let text5 = pdf_text(&pdf5);
    assert!(text5.contains("Custom component report") && text5.contains("BIOMETRY"), "{text5}");
    // Not the default: the company default is still Brand.
    assert_eq!(made(s, &w.client, &fid, json!({})).await.0["template_name"], "Brand");
    // A component that is not a report template is refused at upload.
    let (st, e) = upload_template(s, &w.cadmin, vec![file("template", "x.wasm", component("answer"))], json!({})).await;
    assert_eq!(st.as_u16(), 400, "{e}");

    // HTML: one self-contained page with its images embedded; a Typst template cannot make it.
    oz_err(&report(s, &w.client, &fid, json!({"format": "html"})).await, 400, 4);
    oz_err(&report(s, &w.client, &fid, json!({"format": "docx"})).await, 400, 4);
    let (st, _) = s.delete(&w.cadmin, &format!("/api/report_templates/{tid}/")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (rh, html) = made(s, &w.client, &fid, json!({"format": "html"})).await;
    assert!(rh["file_name"].as_str().unwrap().ends_with(".html"));
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains(&fid) && html.contains("data:image/jpeg;base64,"), "{}", &html[..html.len().min(2000)]);

    // Folder metadata cannot inject markup: it is printed as text.
    let inject = "#set page(width: 1pt) *x* ]) #panic(\"boom\")";
    let (st, _) =
        s.patch(&w.client, &format!("/api/folders/{fid}/"), json!({"meta_data": {"client_iin": inject}})).await;
    assert_eq!(st, StatusCode::OK);
    let (_, pdf6) = made(s, &w.client, &fid, json!({})).await;
    let text6 = pdf_text(&pdf6);
    assert!(text6.contains("#set page(width: 1pt)") && text6.contains("#panic(\"boom\")"), "{text6}");

    // Deleting: CLIENT may not, CLIENT ADMIN may; the file goes too.
    let rid = id(&r, "report_id");
    oz_err(&s.delete(&w.client, &format!("/api/folders/{fid}/reports/{rid}/")).await, 403, 9);
    let (st, _) = s.delete(&w.cadmin, &format!("/api/folders/{fid}/reports/{rid}/")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    oz_err(&s.get(&w.client, &format!("/api/folders/{fid}/reports/{rid}/")).await, 404, 10);
    let (st, _) = s.fetch(Some(&w.client), r["file_url"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // A user's reports go with the user, files included.
    let temp = s.user(&w.cadmin, "temp@c1.test", "CLIENT", Some(&w.c1)).await;
    let tf = s.selfie_folder(&temp, &[&test_photo("biden.jpg")]).await;
    let before = s.blob_files().len();
    let (tr, _) = made(s, &temp, &tf, json!({})).await;
    assert_eq!(s.blob_files().len(), before + 1);
    let (st, _) = s.delete(&w.cadmin, &format!("/api/users/{}", temp.user_id())).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    oz_err(&s.get(&w.cadmin, &format!("/api/folders/{tf}/reports/{}/", id(&tr, "report_id"))).await, 404, 10);
    assert_eq!(s.blob_files().len(), before, "the report file is removed with its user");
}
both_dbs!(reports_both, reports);

/// Each hostile template is stopped with a clear error, and the next report is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malicious_templates() {
    let s = Server::builder(Db::Sqlite).set("report_timeout", "8").start().await;
    let w = World::with(s).await;
    let s = &w.s;
    let fid = id(&w.f1, "folder_id");
    let cases: [(&str, &str, &str); 8] = [
        ("loop.typ", "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", "fuel"),
        ("recursion.typ", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion"),
        (
            "alloc.typ",
            "{% set s = \"x\" * 1000000 %}{% for i in range(1000) %}{{ s }}{% endfor %}",
            "limit|trapped|time budget",
        ),
        ("field.typ", "Hello\n{{ folder.no_such_field }}\n", "folder.no_such_field"),
        ("attachment.typ", "= Report\n#image(\"attachments/nope.png\")\n", "nope.png"),
        ("syntax.typ", "= Report\n\n#let x = (\n", "line 3"),
        ("typst-loop.typ", "#for i in range(20000) { for j in range(20000) { } }", "8 s"),
        ("typst-memory.typ", "#let s = \"x\" * 4000000000\n#s.len()", "memory"),
    ];
    for (name, text, says) in cases {
        let (st, t) = upload_template(s, &w.cadmin, vec![typ(name, text)], json!({"name": name})).await;
        assert_eq!(st, StatusCode::CREATED, "{t}");
        let r = report(s, &w.client, &fid, json!({"report_template_id": id(&t, "report_template_id")})).await;
        let msg = oz_err(&r, 400, 4);
        assert!(says.split('|').any(|w| msg.contains(w)), "{name}: {msg}");
        // Nothing of a failed report is kept.
        let (_, list) = s.get(&w.client, &format!("/api/folders/{fid}/reports/")).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 0, "{name}: {list}");
        let (st, _) = s.delete(&w.cadmin, &format!("/api/report_templates/{}/", id(&t, "report_template_id"))).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
    }
    // An oversized document.
    let big = format!("{{% for i in range(40000) %}}{}{{% endfor %}}", "Lorem ipsum dolor sit amet. ".repeat(2));
    let (_, t) = upload_template(s, &w.cadmin, vec![typ("big.typ", &big)], json!({"is_default": false})).await;
    let msg =
        oz_err(&report(s, &w.client, &fid, json!({"report_template_id": id(&t, "report_template_id")})).await, 400, 4);
    assert!(msg.contains("limit"), "{msg}");
    // Bad uploads.
    oz_err(&upload_template(s, &w.cadmin, vec![typ("x.docx", "hi")], json!({})).await, 400, 4);
    oz_err(
        &upload_template(s, &w.cadmin, vec![typ("x.typ", "hi"), file("a", "../x.png", png(4, 4))], json!({})).await,
        400,
        4,
    );
    oz_err(&upload_template(s, &w.cadmin, vec![], json!({})).await, 400, 4);
    // None of it affected the next report.
    let (st, r) = report(s, &w.client, &fid, json!({})).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
}
