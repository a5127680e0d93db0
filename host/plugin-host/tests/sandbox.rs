//! The hostile-plugin suite (`reference/wasm-plugins.md` §3.3) against real components from
//! `plugins/` (built by `make plugins`): each attack is contained within its bound, the host
//! survives, and the next call on the same host succeeds.
#![allow(clippy::unwrap_used)]

use image::RgbImage;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;
use vigil_plugin_host::*;

fn fixture(name: &str) -> Vec<u8> {
    let dir = std::env::var("VIGIL_PLUGINS_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| format!("{}/.cache/vigil/target", std::env::var("HOME").unwrap()));
        PathBuf::from(target).join("plugins/wasm32-wasip2/release")
    });
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; build the plugin fixtures with `make plugins`", path.display()))
}

fn host(per_company: usize) -> PluginHost {
    PluginHost::new(Arc::new(NoServices), per_company).unwrap()
}

fn install(
    h: &PluginHost,
    kind: Kind,
    name: &str,
    wasm: &[u8],
    config: &[(&str, &str)],
    company: Option<Uuid>,
) -> Arc<Plugin> {
    let compiled = h.compile(kind, wasm).unwrap_or_else(|e| panic!("{name}: {e}"));
    let meta = PluginMeta {
        id: Uuid::new_v4(),
        company_id: company,
        name: name.into(),
        version: "1".into(),
        kind,
        sha256: compiled.sha256.clone(),
        config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
    };
    Arc::new(h.plugin(meta, compiled.into()))
}

fn media(id: &str) -> MediaInput {
    MediaInput {
        id: id.into(),
        kind: MediaKind::Image,
        tags: vec!["photo_selfie".into()],
        frames: vec![Arc::new(RgbImage::from_pixel(16, 12, image::Rgb([9, 9, 9])))],
    }
}

fn input(mode: &str, n: u64) -> AnalysisInput {
    AnalysisInput {
        analysis_type: "QUALITY".into(),
        media: vec![media("m-1")],
        params_json: format!("{{\"mode\":\"{mode}\",\"n\":{n}}}"),
    }
}

async fn run(
    h: &PluginHost,
    p: &Plugin,
    company: Uuid,
    mode: &str,
    n: u64,
) -> (Result<AnalysisOutput, CallError>, Duration) {
    let t = Instant::now();
    let r = h.analyze(p, company, input(mode, n)).await;
    (r, t.elapsed())
}

/// The call after an attack must work normally on the same host.
async fn next_call_ok(h: &PluginHost, p: &Plugin, company: Uuid) {
    let (r, _) = run(h, p, company, "ok", 0).await;
    let out = r.unwrap_or_else(|e| panic!("the call after the attack failed: {e}"));
    assert_eq!(out.resolution, "SUCCESS");
    assert!(out.results_json.contains("\"calls\":1"), "a fresh instance per call: {}", out.results_json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_call_sees_its_media() {
    let h = host(4);
    let p = install(&h, Kind::Analysis, "hostile", &fixture("hostile"), &[], None);
    let (r, _) = run(&h, &p, Uuid::new_v4(), "ok", 0).await;
    let out = r.unwrap();
    assert!(out.results_json.contains("m-1") && out.results_json.contains("photo_selfie"), "{}", out.results_json);
    // Crop and resize make new host-side images; out-of-bounds crops are refused.
    let (r, _) = run(&h, &p, Uuid::new_v4(), "crop", 0).await;
    let out = r.unwrap().results_json;
    assert!(out.contains("\"w\":4,\"h\":3,\"rw\":8,\"rh\":6"), "{out}");
    assert!(out.contains("InvalidInput"), "{out}");
    // Vision is not available yet: a clean plugin error, not a crash.
    let (r, _) = run(&h, &p, Uuid::new_v4(), "vision", 0).await;
    match r {
        Err(CallError::Guest(GuestError::NotAvailable(m))) => assert!(m.contains("face detection"), "{m}"),
        other => panic!("expected not-available, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_are_contained() {
    let h = host(4);
    let p = install(&h, Kind::Analysis, "hostile", &fixture("hostile"), &[], None);
    let c = Uuid::new_v4();
    let budget = Limits::for_kind(Kind::Analysis).guest_time;
    // (mode, n, check on the error, time bound)
    type Check = fn(&CallError) -> bool;
    let cases: Vec<(&str, u64, Check, Duration)> = vec![
        ("loop", 0, |e| matches!(e, CallError::Deadline(_)), budget + TICK * 2 + Duration::from_millis(150)),
        ("log-flood", 0, |e| matches!(e, CallError::Limit(m) if m.contains("quota")), Duration::from_secs(2)),
        ("recurse", 0, |e| matches!(e, CallError::Trap(m) if m.contains("stack overflow")), Duration::from_secs(2)),
        ("memory-bomb", 0, |e| matches!(e, CallError::Trap(_) | CallError::Limit(_)), Duration::from_secs(3)),
        ("handle-flood", 0, |e| matches!(e, CallError::Limit(_) | CallError::Trap(_)), Duration::from_secs(2)),
        ("big-arg", 16, |e| matches!(e, CallError::Limit(_) | CallError::Trap(_)), Duration::from_secs(2)),
        ("huge-return", 1, |e| matches!(e, CallError::Output(n, cap) if n > cap), Duration::from_secs(2)),
        ("panic", 0, |e| matches!(e, CallError::Trap(m) if m.contains("unreachable")), Duration::from_secs(1)),
        ("forged-handle", 7, |e| matches!(e, CallError::Trap(_)), Duration::from_secs(1)),
        ("forged-handle", 0, |e| matches!(e, CallError::Trap(_)), Duration::from_secs(1)),
    ];
    for (mode, n, check, bound) in cases {
        let (r, took) = run(&h, &p, c, mode, n).await;
        let err = match r {
            Err(e) => e,
            Ok(o) => panic!("{mode}: expected a contained failure, got {o:?}"),
        };
        assert!(check(&err), "{mode}: unexpected error {err}");
        assert!(took <= bound, "{mode}: took {took:?}, bound {bound:?}");
        eprintln!("{mode:>14}: contained in {took:>10.1?}: {err}");
        next_call_ok(&h, &p, c).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_initial_memory_is_refused() {
    let h = host(4);
    // The module asks for 256 MiB up front: more than any plugin may have.
    let outcome = h.compile(Kind::Analysis, &fixture("bigmem"));
    match outcome {
        Err(e) => assert!(e.0.contains("memory") || e.0.contains("limit"), "{e}"),
        Ok(compiled) => {
            let meta = PluginMeta {
                id: Uuid::new_v4(),
                company_id: None,
                name: "bigmem".into(),
                version: "1".into(),
                kind: Kind::Analysis,
                sha256: compiled.sha256.clone(),
                config: BTreeMap::new(),
            };
            let p = h.plugin(meta, compiled.into());
            let r = h.analyze(&p, Uuid::new_v4(), input("ok", 0)).await;
            assert!(r.is_err(), "a 256 MiB initial memory must not instantiate");
        }
    }
    let ok = install(&h, Kind::Analysis, "hostile", &fixture("hostile"), &[], None);
    next_call_ok(&h, &ok, Uuid::new_v4()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_bomb_is_contained() {
    // A hand-written component implementing `ab-rule`: its `choose` grows a table until refused.
    let wat = r#"(component
      (core module $m
        (memory (export "mem") 1)
        (table $t 1 funcref)
        (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
        (func (export "choose") (param i32 i32 i32 i32 i32 i32 i64 i32 i32) (result i32)
          (loop $l
            (br_if $l (i32.ne (table.grow $t (ref.null func) (i32.const 1000)) (i32.const -1))))
          unreachable))
      (core instance $i (instantiate $m))
      (type $rc0 (record (field "company-id" string) (field "analysis-type" string)
                         (field "attributes" (list (tuple string string))) (field "bucket-seed" u64)
                         (field "variants" (list string))))
      (export $rc "route-context" (type $rc0))
      (type $pe0 (variant (case "invalid-input" string) (case "unsupported" string) (case "not-available" string)
                          (case "quota-exceeded" string) (case "host" string) (case "internal" string)))
      (export $pe "plugin-error" (type $pe0))
      (func $choose (param "context" $rc) (result (result string (error $pe)))
        (canon lift (core func $i "choose") (memory (core memory $i "mem")) (realloc (core func $i "realloc"))))
      (export "choose" (func $choose)))"#;
    let h = host(4);
    let p = install(&h, Kind::AbRule, "table-bomb", &wat::parse_str(wat).unwrap(), &[], None);
    let t = Instant::now();
    let r = h.choose(&p, Uuid::new_v4(), "QUALITY", vec![], 1, vec!["a".into()]).await;
    assert!(matches!(r, Err(CallError::Trap(_))), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_validated() {
    let h = host(4);
    let refused =
        |kind: Kind, bytes: &[u8]| h.compile(kind, bytes).err().map(|e| e.0).unwrap_or_else(|| "accepted".into());
    let m = refused(Kind::Analysis, &fixture("sneaky"));
    assert!(m.contains("wasi:filesystem") || m.contains("wasi:sockets"), "{m}");
    assert!(refused(Kind::Analysis, b"definitely not wasm").contains("not a WebAssembly binary"));
    assert!(refused(Kind::Analysis, b"\0asm\x01\0\0\0").contains("core WebAssembly module"));
    assert!(refused(Kind::Analysis, b"\0asm\x0d\0\x01\0\xff\xff\xff").contains("not a valid component"));
    let mut truncated = fixture("hostile");
    truncated.truncate(truncated.len() / 2);
    assert!(refused(Kind::Analysis, &truncated).contains("not a valid component"));
    assert!(refused(Kind::AbRule, &fixture("hostile")).contains("built for the 'analysis' world"));
    assert!(refused(Kind::Analysis, &fixture("ab_pick")).contains("built for the 'ab-rule' world"));
    let mut big = b"\0asm\x0d\0\x01\0".to_vec();
    big.resize(MAX_COMPONENT_BYTES + 1, 0);
    assert!(refused(Kind::Analysis, &big).contains("limit"));
    let v2 = r#"(component (import "vigil:plugin/log@2.0.0" (instance)))"#;
    assert!(refused(Kind::Analysis, &wat::parse_str(v2).unwrap()).contains("supports 1.5.0"));
    let foreign = r#"(component (import "acme:admin/root@1.0.0" (instance)))"#;
    assert!(refused(Kind::Analysis, &wat::parse_str(foreign).unwrap()).contains("not allowed"));
    let no_export = r#"(component)"#;
    assert!(refused(Kind::Analysis, &wat::parse_str(no_export).unwrap()).contains("does not export 'analyze'"));
    // A valid one carries the SDK stamp.
    let ok = h.compile(Kind::Analysis, &fixture("hostile")).unwrap();
    assert!(ok.sdk_stamp.as_deref().unwrap_or("").starts_with("world=analysis;wit=1.5.0;sdk="), "{:?}", ok.sdk_stamp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_state_between_calls_or_companies() {
    let h = host(4);
    let p = install(&h, Kind::Analysis, "hostile", &fixture("hostile"), &[], None);
    for company in [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()] {
        for _ in 0..3 {
            let (r, _) = run(&h, &p, company, "state", 0).await;
            let out = r.unwrap().results_json;
            assert!(out.contains("\"calls\":1") && out.contains("\"leaked\":false"), "{out}");
        }
    }
}

/// A host service that stalls, as a hung inference backend would.
struct Stalled;
impl Services for Stalled {
    fn detect_faces<'a>(
        &'a self,
        _ctx: &'a CallContext,
        _img: Arc<RgbImage>,
    ) -> BoxFuture<'a, Result<Vec<FaceBox>, GuestError>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(vec![])
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_host_call_hits_the_wall_clock() {
    let h = PluginHost::new(Arc::new(Stalled), 4).unwrap();
    let p = install(&h, Kind::Analysis, "hostile", &fixture("hostile"), &[], None);
    let wall = Limits::for_kind(Kind::Analysis).wall();
    let (r, took) = run(&h, &p, Uuid::new_v4(), "vision", 0).await;
    assert!(matches!(r, Err(CallError::Deadline(_))), "{r:?}");
    assert!(took < wall + Duration::from_millis(200), "took {took:?}, wall {wall:?}");
    next_call_ok(&h, &p, Uuid::new_v4()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_company_flooding_does_not_starve_another() {
    let h = Arc::new(host(2));
    let p = install(&h, Kind::Analysis, "hostile", &fixture("hostile"), &[], None);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut flood = Vec::new();
    for _ in 0..6 {
        let (h, p) = (h.clone(), p.clone());
        flood.push(tokio::spawn(async move { h.analyze(&p, a, input("loop", 0)).await }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Company B is served promptly while A's two permitted loops run.
    let t = Instant::now();
    let r = h.analyze(&p, b, input("ok", 0)).await;
    let took = t.elapsed();
    assert!(r.is_ok(), "{r:?}");
    assert!(took < Duration::from_millis(500), "company B waited {took:?}");
    let mut busy = 0;
    for f in flood {
        match f.await.unwrap() {
            Err(CallError::Busy) => busy += 1,
            Err(CallError::Deadline(_)) => {}
            other => panic!("flood call: {other:?}"),
        }
    }
    assert_eq!(busy, 4, "beyond 2 concurrent calls company A is turned away at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ab_rule_is_deterministic_and_fuel_bounded() {
    let h = host(4);
    let p = install(&h, Kind::AbRule, "ab", &fixture("ab_pick"), &[], None);
    let c = Uuid::new_v4();
    let variants: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
    let mut seen = std::collections::HashSet::new();
    for seed in 0..30u64 {
        let first = h.choose(&p, c, "QUALITY", vec![], seed, variants.clone()).await.unwrap();
        let again = h.choose(&p, c, "QUALITY", vec![], seed, variants.clone()).await.unwrap();
        assert_eq!(first, again, "seed {seed}");
        seen.insert(first);
    }
    assert_eq!(seen.len(), 3, "all variants get traffic");
    let t = Instant::now();
    let r = h.choose(&p, c, "QUALITY", vec![("spin".into(), "1".into())], 1, variants.clone()).await;
    assert!(matches!(r, Err(CallError::Limit(ref m)) if m.contains("fuel")), "{r:?}");
    eprintln!("fuel budget exhausted after {:?}", t.elapsed());
}

/// The built-in split rule over 10,000 seeds: the same seed always gets the same variant, the
/// shares follow the weights, a zero weight gets nothing, and malformed weights are an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_split_is_deterministic_and_follows_its_weights() {
    let h = host(4);
    let wasm = fixture("ab_split");
    let c = Uuid::new_v4();
    let variants: Vec<String> = vec!["control".into(), "strict".into(), "lenient".into()];
    let p = install(&h, Kind::AbRule, "ab-split", &wasm, &[("weights", "70,20,10")], None);
    let mut counts = [0usize; 3];
    let mut first = Vec::with_capacity(10_000);
    let started = Instant::now();
    for seed in 0..10_000u64 {
        // Seeds as the host makes them: well mixed, not consecutive.
        let seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        let v = h.choose(&p, c, "QUALITY", vec![], seed, variants.clone()).await.unwrap();
        counts[variants.iter().position(|x| *x == v).unwrap()] += 1;
        first.push((seed, v));
    }
    eprintln!("10,000 choices in {:?} (a fresh instance each)", started.elapsed());
    // Binomial sd at 10,000 draws is at most 0.5 points; 2 points is four of them.
    for (i, want) in [0.7, 0.2, 0.1].iter().enumerate() {
        let share = counts[i] as f64 / 10_000.0;
        assert!((share - want).abs() < 0.02, "{}: {share} for weight {want} ({counts:?})", variants[i]);
    }
    for (seed, v) in first.iter().step_by(10) {
        let again = h.choose(&p, c, "QUALITY", vec![("any".into(), "thing".into())], *seed, variants.clone());
        assert_eq!(&again.await.unwrap(), v, "seed {seed}");
    }
    let zero = install(&h, Kind::AbRule, "ab-split", &wasm, &[("weights", "0,1,0")], None);
    for seed in 0..200u64 {
        assert_eq!(h.choose(&zero, c, "QUALITY", vec![], seed, variants.clone()).await.unwrap(), "strict");
    }
    let bad = install(&h, Kind::AbRule, "ab-split", &wasm, &[("weights", "1,2")], None);
    let r = h.choose(&bad, c, "QUALITY", vec![], 1, variants.clone()).await;
    assert!(matches!(r, Err(CallError::Guest(ref g)) if g.message().contains("2 weights for 3 variants")), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_isolates_companies_and_swaps_atomically() {
    let h = Arc::new(host(64));
    let reg = Arc::new(Registry::new());
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let wasm = fixture("answer");
    let v: Vec<Arc<Plugin>> = (0..4)
        .map(|i| install(&h, Kind::Analysis, "answer", &wasm, &[("answer", &format!("v{i}"))], Some(a)))
        .collect();
    reg.activate(v[0].clone());
    assert!(reg.resolve(b, "answer").is_none(), "company B never sees company A's plugin");
    assert!(reg.resolve(a, "answer").is_some());
    // Many concurrent calls while versions are swapped repeatedly.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = Vec::new();
    for _ in 0..8 {
        let (h, reg, stop) = (h.clone(), reg.clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let p = reg.resolve(a, "answer").unwrap();
                let expected = format!("\"answer\":\"v{}\"", p.meta.config["answer"].trim_start_matches('v'));
                match h
                    .analyze(
                        &p,
                        a,
                        AnalysisInput { analysis_type: "X".into(), media: vec![], params_json: "{}".into() },
                    )
                    .await
                {
                    Ok(o) if o.results_json.contains(&expected) => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    for i in 0..200 {
        reg.activate(v[i % 4].clone());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for c in callers {
        let (o, f) = c.await.unwrap();
        ok += o;
        failed += f;
    }
    eprintln!("hot swap: 200 swaps, {ok} calls answered, {failed} failed");
    assert_eq!(failed, 0);
    assert!(ok > 100, "only {ok} calls ran");
    // Rollback: the previous version comes back.
    reg.activate(v[1].clone());
    let prev = reg.activate(v[2].clone()).unwrap();
    reg.activate(prev);
    assert_eq!(reg.resolve(a, "answer").unwrap().meta.config["answer"], "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_artifact_loads_without_compiling() {
    let h = host(4);
    let wasm = fixture("answer");
    let compiled = h.compile(Kind::Analysis, &wasm).unwrap();
    let t = Instant::now();
    let loaded = h.load_artifact(Kind::Analysis, &compiled.artifact).unwrap();
    eprintln!("artifact of {} bytes loaded in {:?}", compiled.artifact.len(), t.elapsed());
    let meta = PluginMeta {
        id: Uuid::new_v4(),
        company_id: None,
        name: "answer".into(),
        version: "1".into(),
        kind: Kind::Analysis,
        sha256: compiled.sha256.clone(),
        config: [("answer".to_string(), "cached".to_string())].into(),
    };
    let p = h.plugin(meta, loaded);
    let out = h
        .analyze(
            &p,
            Uuid::new_v4(),
            AnalysisInput { analysis_type: "X".into(), media: vec![], params_json: "{}".into() },
        )
        .await
        .unwrap();
    assert!(out.results_json.contains("cached"));
    // A damaged artifact is an error to recover from (recompile), not a crash.
    let mut bad = compiled.artifact.clone();
    let mid = bad.len() / 2;
    bad.truncate(mid);
    assert!(h.load_artifact(Kind::Analysis, &bad).is_err());
    assert!(h.load_artifact(Kind::Analysis, b"junk").is_err());
    assert!(!h.compatibility_key(Kind::Analysis).is_empty());
    assert_ne!(h.compatibility_key(Kind::Analysis), h.compatibility_key(Kind::AbRule));
}
