//! The folder list's analysis result filters at the store, on both databases: operators, types,
//! one analysis per group, `!=` semantics; and on PostgreSQL, that the indexes answer them.
//! (`analyses.rs` checks the same filters through the API on real analyses.)

use serde_json::{Value, json};
use uuid::Uuid;
use vigil_domain::filter::FolderFilter;
use vigil_domain::policy::Scope;
use vigil_store::{Exec, Sql, Store, folders};
use vigil_tests::*;

async fn store(db: Db, tmp: &tempfile::TempDir) -> Store {
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", tmp.path().join("f.db").display()),
        Db::Postgres => vigil_tests::pg::fresh_database().await,
    };
    let s = Store::connect(&url).await.unwrap();
    s.migrate().await.unwrap();
    s
}

async fn folder(s: &mut Store, company: Uuid, t: i64) -> Uuid {
    let id = Uuid::new_v4();
    let mut q = Sql::new("INSERT INTO folders (folder_id, company_id, time_created, time_updated) VALUES (");
    q.bind(id).push(", ").bind(company).push(", ").bind(t).push(", ").bind(t).push(")");
    s.execute(q).await.unwrap();
    id
}

async fn analysis(
    s: &mut Store,
    folder: Uuid,
    company: Uuid,
    ty: &str,
    verdict: &str,
    data: Option<Value>,
    media: Value,
) {
    let mut q = Sql::new(
        "INSERT INTO analyses (analyse_id, folder_id, company_id, group_id, type, state, resolution_status, \
         system_resolution, results_data, results_media, time_created, time_updated) VALUES (",
    );
    q.bind(Uuid::new_v4()).push(", ").bind(folder).push(", ").bind(company).push(", 'g', ").bind(ty);
    q.push(", 'FINISHED', ").bind(verdict).push(", ").bind(verdict).push(", ");
    q.bind(data.map(|d| d.to_string())).push(", ").bind(media.to_string()).push(", 5000000, 5000000)");
    s.execute(q).await.unwrap();
}

async fn matching(s: &mut Store, q: &[(&str, &str)]) -> Vec<Uuid> {
    let mut pairs: Vec<(String, String)> = vec![("with_results_media_filter".into(), "true".into())];
    pairs.extend(q.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let f = FolderFilter::parse(&pairs).unwrap();
    let (items, _) = folders::list(s, Scope::All, &f).await.unwrap();
    let mut ids: Vec<Uuid> = items.into_iter().map(|f| f.folder_id).collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<Uuid>) -> Vec<Uuid> {
    v.sort();
    v
}

async fn semantics(db: Db) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = store(db, &tmp).await;
    let c = vigil_store::SYSTEM_COMPANY_ID;
    let (a, b, e) = (folder(&mut s, c, 1).await, folder(&mut s, c, 2).await, folder(&mut s, c, 3).await);
    analysis(
        &mut s,
        a,
        c,
        "BIOMETRY",
        "SUCCESS",
        Some(json!({"max_confidence": 0.93, "model": "sface", "n": "7"})),
        json!([]),
    )
    .await;
    analysis(
        &mut s,
        a,
        c,
        "QUALITY",
        "DECLINED",
        None,
        json!([
            {"results_data": {"confidence_spoofing": 0.97, "liveness": {"flatness": {"decided": true}}}},
            {"results_data": {"confidence_spoofing": 0.02, "liveness": {"flatness": {"decided": false}}}}
        ]),
    )
    .await;
    analysis(
        &mut s,
        b,
        c,
        "BIOMETRY",
        "DECLINED",
        Some(json!({"max_confidence": 0.31, "model": "arcface", "n": 7})),
        json!([]),
    )
    .await;
    analysis(&mut s, b, c, "DOCUMENTS", "SUCCESS", Some(json!({"doc": {"number": "AB123", "valid": true}})), json!([]))
        .await;
    // `e` has no analyses.

    assert_eq!(matching(&mut s, &[("results_data.max_confidence.min", "0.9")]).await, vec![a]);
    assert_eq!(matching(&mut s, &[("results_data.max_confidence", "<0.5")]).await, vec![b]);
    assert_eq!(matching(&mut s, &[("results_data", "max_confidence>=0.3")]).await, sorted(vec![a, b]));
    assert_eq!(matching(&mut s, &[("results_data.model", "sface")]).await, vec![a]);
    // A number matches the same digits stored as a string, and a string of digits a number.
    assert_eq!(matching(&mut s, &[("results_data.n", "==7")]).await, sorted(vec![a, b]));
    // `!=` keeps analyses that lack the key or differ, but needs an analysis of the type.
    assert_eq!(matching(&mut s, &[("results_data.model", "!=sface")]).await, vec![b]);
    assert_eq!(matching(&mut s, &[("results_data.missing", "!=x")]).await, sorted(vec![a, b]));
    // Text against numbers: no match, no error.
    assert!(matching(&mut s, &[("results_data.model", ">0.5")]).await.is_empty());
    // Two conditions of one group must hold on one analysis.
    assert!(
        matching(&mut s, &[("results_data.model", "sface"), ("results_data.max_confidence", "<0.5")]).await.is_empty()
    );
    // QUALITY: one media result must meet every condition.
    assert_eq!(matching(&mut s, &[("results_media_results_data.confidence_spoofing", "<0.5")]).await, vec![a]);
    assert_eq!(
        matching(
            &mut s,
            &[
                ("results_media_results_data.confidence_spoofing", ">0.9"),
                ("results_media_results_data.liveness.flatness.decided", "true")
            ]
        )
        .await,
        vec![a]
    );
    assert!(
        matching(
            &mut s,
            &[
                ("results_media_results_data.confidence_spoofing", "<0.5"),
                ("results_media_results_data.liveness.flatness.decided", "true")
            ]
        )
        .await
        .is_empty()
    );
    // DOCUMENTS and the analysis status.
    assert_eq!(matching(&mut s, &[("analyse.results_data.doc.number", "AB123")]).await, vec![b]);
    assert_eq!(matching(&mut s, &[("analyse.results_data.doc.valid", "true")]).await, vec![b]);
    assert!(matching(&mut s, &[("analyse.results_data.doc.valid", "false")]).await.is_empty());
    assert_eq!(matching(&mut s, &[("analyse.resolution_status", "DECLINED")]).await, sorted(vec![a, b]));
    assert_eq!(matching(&mut s, &[("analyse.resolution_status", "FINISHED")]).await, sorted(vec![a, b]));
    assert!(matching(&mut s, &[("analyse.time_created.min", "6")]).await.is_empty());
    assert_eq!(matching(&mut s, &[("analyse.time_created.max", "6000")]).await, sorted(vec![a, b]));
    // Groups combine: a DECLINED analysis and a good BIOMETRY one.
    assert_eq!(
        matching(&mut s, &[("analyse.resolution_status", "DECLINED"), ("results_data.max_confidence.min", "0.9")])
            .await,
        vec![a]
    );
    // Without the switch nothing is filtered.
    let f = FolderFilter::parse(&[("results_data.model".to_string(), "none".to_string())]).unwrap();
    assert_eq!(folders::list(&mut s, Scope::All, &f).await.unwrap().0.len(), 3);
    let _ = e;
    s.close().await;
}
both_dbs!(result_filter_semantics, semantics);

/// On PostgreSQL with 20,000 analyses, a selective equality is answered by the GIN indexes and a
/// rare status by the status indexes: the plan names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plans_use_the_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = store(Db::Postgres, &tmp).await;
    let c = vigil_store::SYSTEM_COMPANY_ID;
    let mut q = Sql::new(
        "INSERT INTO folders (folder_id, company_id, time_created, time_updated) \
         SELECT md5(g::text)::uuid::text, ",
    );
    q.bind(c).push(", g, g FROM generate_series(1, 10000) g");
    s.execute(q).await.unwrap();
    let mut q = Sql::new(
        "INSERT INTO analyses (analyse_id, folder_id, company_id, group_id, type, state, resolution_status, \
         system_resolution, results_data, results_media, time_created, time_updated) \
         SELECT md5('a' || g)::uuid::text, md5((g % 10000 + 1)::text)::uuid::text, ",
    );
    q.bind(c).push(
        ", 'g', CASE WHEN g % 2 = 0 THEN 'BIOMETRY' ELSE 'QUALITY' END, 'FINISHED', \
         CASE WHEN g % 5000 = 0 THEN 'OPERATOR_REQUIRED' ELSE 'SUCCESS' END, 'SUCCESS', \
         CASE WHEN g % 2 = 0 THEN '{\"max_confidence\": ' || (g % 100) / 100.0 || ', \"model\": \"m' || (g % 1000) || '\"}' END, \
         CASE WHEN g % 2 = 1 THEN '[{\"results_data\": {\"confidence_spoofing\": ' || (g % 100) / 100.0 || ', \"tag\": \"t' || (g % 1000) || '\"}}]' ELSE '[]' END, \
         g, g FROM generate_series(1, 20000) g",
    );
    s.execute(q).await.unwrap();
    s.execute(Sql::new("ANALYZE")).await.unwrap();

    let plan = |q: &[(&str, &str)]| {
        let mut pairs: Vec<(String, String)> = vec![("with_results_media_filter".into(), "true".into())];
        pairs.extend(q.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        FolderFilter::parse(&pairs).unwrap()
    };
    for (filter, index) in [
        (plan(&[("results_data.model", "m7")]), "analyses_results_data_gin"),
        (plan(&[("results_media_results_data.tag", "t7")]), "analyses_results_media_gin"),
        (plan(&[("analyse.resolution_status", "OPERATOR_REQUIRED")]), "analyses_status_folder"),
    ] {
        let lines = folders::explain_list(&mut s, Scope::All, &filter).await.unwrap();
        let text = lines.join("\n");
        println!("{text}\n");
        assert!(text.contains(index), "expected {index} in the plan:\n{text}");
        let (items, total) = folders::list(&mut s, Scope::All, &filter).await.unwrap();
        assert_eq!(items.len() as i64, total.unwrap());
    }
    // The answers: model m8 is on even g ≡ 8 (mod 1000), 20 analyses in 10 folders (g % 10000 + 1);
    // m7 only on odd g, which are QUALITY analyses; OPERATOR_REQUIRED on g ≡ 0 (mod 5000), in
    // folders 1 and 5001; tag t7 on odd g ≡ 7 (mod 1000), 20 analyses in 10 folders.
    let count = |v: (Vec<vigil_domain::model::Folder>, Option<i64>)| v.0.len();
    assert_eq!(count(folders::list(&mut s, Scope::All, &plan(&[("results_data.model", "m8")])).await.unwrap()), 10);
    assert_eq!(count(folders::list(&mut s, Scope::All, &plan(&[("results_data.model", "m7")])).await.unwrap()), 0);
    let rare = plan(&[("analyse.resolution_status", "OPERATOR_REQUIRED")]);
    assert_eq!(count(folders::list(&mut s, Scope::All, &rare).await.unwrap()), 2);
    let t7 = plan(&[("results_media_results_data.tag", "t7")]);
    assert_eq!(count(folders::list(&mut s, Scope::All, &t7).await.unwrap()), 10);
    let ranged = plan(&[("results_data.max_confidence", ">=0.99"), ("results_data.model", "m99")]);
    assert_eq!(count(folders::list(&mut s, Scope::All, &ranged).await.unwrap()), 0);
    s.close().await;
}
