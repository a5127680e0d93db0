//! Every folder list filter, paging, sorting and the embeds.

use crate::{World, id, ids, oz_err};
use serde_json::{Value, json};
use std::time::Duration;
use vigil_tests::*;

async fn list_filters(db: Db) {
    let w = World::new(db).await;
    let s = &w.s;
    // Five folders of client2, 40 ms apart, with metadata to filter on.
    let mut made: Vec<Value> = Vec::new();
    for i in 1..=5 {
        let payload =
            json!({"folder:meta_data": {"n": i, "tx": format!("T-{i}"), "group": if i % 2 == 0 {"even"} else {"odd"}}});
        let (st, f) = s.upload(&w.client2, "/api/folders", vec![], Some(payload)).await;
        assert_eq!(st, StatusCode::CREATED, "{f}");
        assert_eq!(f["media"], json!([]));
        made.push(f);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let fid: Vec<String> = made.iter().map(|f| id(f, "folder_id")).collect();
    let t: Vec<f64> = made.iter().map(|f| f["time_created"].as_f64().unwrap()).collect();
    let me = format!("user_id={}", w.client2.user_id());
    let list = |q: String| {
        let s = &w.s;
        let who = &w.client2;
        async move {
            let (st, page) = s.get(who, &format!("/api/folders/?{q}")).await;
            assert_eq!(st, StatusCode::OK, "{q}: {page}");
            page
        }
    };
    // client2 also owns the World's f2, created earlier: restrict to these five by time.
    let since = format!("time_created.min={}", t[0] - 0.0005);
    let page = list(format!("{since}&sorting=time_created{{asc}}")).await;
    assert_eq!(ids(&page, "folder_id"), fid);
    assert_eq!(page["total"], 5);
    let page = list(format!("{since}&sorting=-time_created")).await;
    assert_eq!(ids(&page, "folder_id"), fid.iter().rev().cloned().collect::<Vec<_>>());
    // Paging: 2 items from offset 2, newest first = the 3rd and 4th newest.
    let page = list(format!("{since}&limit=2&offset=2&sorting=time_created{{desc}}")).await;
    assert_eq!(ids(&page, "folder_id"), vec![fid[2].clone(), fid[1].clone()]);
    assert_eq!(page["total"], 5);
    let page = list(format!("{since}&total_omit=true&limit=1")).await;
    assert!(page.get("total").is_none(), "total_omit keeps the count out: {page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    // Time ranges, between the folders' own timestamps.
    let mid = |a: f64, b: f64| (a + b) / 2.0;
    let page = list(format!(
        "time_created.min={}&time_created.max={}&sorting=time_created{{asc}}",
        mid(t[0], t[1]),
        mid(t[3], t[4])
    ))
    .await;
    assert_eq!(ids(&page, "folder_id"), fid[1..4].to_vec());
    // time_updated: touch the first folder, then ask for what changed since.
    let before = made[4]["time_updated"].as_f64().unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
    let (st, _) = s
        .patch(
            &w.client2,
            &format!("/api/folders/{}", fid[0]),
            // A client that sends back what it read: read-only and unknown fields are ignored.
            json!({"meta_data": {"n": 1, "tx": "T-1", "group": "odd", "seen": true}, "folder_id": fid[0], "media": [], "x-client": 1}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let page = list(format!("time_updated.min={}", before + 0.01)).await;
    assert_eq!(ids(&page, "folder_id"), vec![fid[0].clone()]);
    let page = list(format!("{since}&time_updated.max={}", before + 0.01)).await;
    assert_eq!(page["total"], 4);
    // Metadata: equality, inequality (keeps folders without the key), numbers as text, combined.
    assert_eq!(ids(&list("meta_data=tx==T-2".into()).await, "folder_id"), vec![fid[1].clone()]);
    let page = list(format!("{since}&meta_data=tx!=T-2")).await;
    assert_eq!(page["total"], 4);
    assert!(!ids(&page, "folder_id").contains(&fid[1]));
    let page = list("meta_data=tx!=T-2".into()).await; // f2 of the World has no tx at all
    assert!(ids(&page, "folder_id").contains(&id(&w.f2, "folder_id")));
    assert_eq!(ids(&list("meta_data=n==3".into()).await, "folder_id"), vec![fid[2].clone()]);
    let page = list("meta_data=group==even&meta_data=n!=4&sorting=time_created{asc}".into()).await;
    assert_eq!(ids(&page, "folder_id"), vec![fid[1].clone()]);
    assert_eq!(list("meta_data=tx==T-9".into()).await["total"], 0);
    // Status: new folders are INITIAL; verdict values are accepted too.
    assert_eq!(list(format!("{since}&resolution_status=INITIAL")).await["total"], 5);
    assert_eq!(list(format!("{since}&resolution_status=SUCCESS,DECLINED")).await["total"], 0);
    // Ids.
    let page = list(format!("folder_id={},{}&sorting=time_created{{asc}}", fid[0], fid[4])).await;
    assert_eq!(ids(&page, "folder_id"), vec![fid[0].clone(), fid[4].clone()]);
    assert_eq!(list(format!("{since}&{me}")).await["total"], 5);
    assert_eq!(list(format!("user_id={}", uuid::Uuid::new_v4())).await["total"], 0);
    assert_eq!(list(format!("{since}&company_id={}", w.c1)).await["total"], 5);
    assert_eq!(list(format!("company_id={}", w.c2)).await["total"], 0);
    // Embeds.
    let page = list(format!("{since}&with_analyses=true&limit=1")).await;
    assert_eq!(page["items"][0]["analyses"], json!([]));
    let (_, f) = s.get(&w.client2, &format!("/api/folders/{}/?with_user=true&with_company=true", fid[0])).await;
    assert_eq!(f["user"]["email"], "u2@c1.test");
    assert_eq!(f["company"]["name"], "C1");
    assert!(f["user"].get("password_hash").is_none() && f["user"].get("password").is_none());
    // Unknown parameters are ignored as Oz ignores them (a cache-buster, another version's
    // filter); the values of known ones are still checked.
    assert_eq!(list(format!("{since}&_=1733000000&bogus=1&with_results_media_filter=false")).await["total"], 5);
    // Bad filters are refused with what was wrong.
    for (q, code, needle) in [
        ("limit=abc", 5, "limit"),
        ("limit=0", 4, "limit"),
        ("offset=-1", 4, "offset"),
        ("sorting=name", 4, "sorting"),
        ("meta_data=novalue", 4, "key==value"),
        ("time_created.min=yesterday", 5, "time_created.min"),
        ("resolution_status=MAYBE", 4, "MAYBE"),
        ("folder_id=not-a-uuid", 4, "not-a-uuid"),
        ("with_analyses=perhaps", 5, "with_analyses"),
    ] {
        let m = oz_err(&s.get(&w.client2, &format!("/api/folders/?{q}")).await, 400, code);
        assert!(m.contains(needle), "{q}: {m}");
    }
}
both_dbs!(list_filters_t, list_filters);
