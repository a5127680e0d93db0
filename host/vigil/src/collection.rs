//! `vigil collection …`: bulk enrolment from a directory, index rebuild, statistics. The commands
//! act on the database and blob storage directly, as the server's ADMIN; a running server picks
//! up what they change before its next search (the collection's faces version moves).

use crate::{Settings, core_err};
use anyhow::{Context, Result, anyhow};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigil_core::App;
use vigil_domain::Principal;

#[derive(Args)]
pub struct EnrollArgs {
    /// The collection: its id, or its alias with --company-id (created when the company has no
    /// collection of that alias yet).
    pub collection: String,
    /// One sub-directory per person (all its photos), or one photo per person directly in it.
    pub dir: PathBuf,
    /// The company whose collection alias is given.
    #[arg(long)]
    pub company_id: Option<uuid::Uuid>,
    /// Enrol again persons this directory already enrolled (by default a rerun skips them, so an
    /// interrupted enrolment resumes where it stopped).
    #[arg(long)]
    pub again: bool,
}

const PHOTO_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "bmp", "tif"];

fn is_photo(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| PHOTO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The persons of a directory: (source key, display name, photos), in name order.
pub fn persons_in(dir: &Path) -> Result<Vec<(String, String, Vec<PathBuf>)>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            let mut photos: Vec<PathBuf> =
                std::fs::read_dir(&path)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| is_photo(p)).collect();
            photos.sort();
            if !photos.is_empty() {
                out.insert(name.clone(), (name, photos));
            }
        } else if is_photo(&path) {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(&name).to_string();
            out.insert(name.clone(), (stem, vec![path]));
        }
    }
    Ok(out.into_iter().map(|(k, (n, p))| (k, n, p)).collect())
}

async fn open(s: &Settings) -> Result<App> {
    let vision = vigil_core::vision::NativeVision::new(crate::load_vision(s)?, s.embedding.clone())
        .map_err(|e| anyhow!("embedding_model / company_embedding_models: {e}"))?;
    let vision = Arc::new(vision);
    let app = crate::open_app_with(s, s.public_url.clone().unwrap_or_default(), vision.clone()).await?;
    vision.attach(&app);
    Ok(app)
}

/// Enrols every person of `dir`; a failed person is reported and skipped, not fatal.
pub async fn enroll(s: &Settings, args: EnrollArgs) -> Result<()> {
    let app = open(s).await?;
    let p = Principal::console();
    let c = match app.find_collection(&p, &args.collection, args.company_id).await {
        Ok(c) => c,
        // An alias the company does not have yet: the collection is created.
        Err(e) if e.code == vigil_domain::Code::NotExist && uuid::Uuid::parse_str(&args.collection).is_err() => {
            let body = vigil_core::collections::NewCollection {
                alias: args.collection.clone(),
                company_id: args.company_id,
                meta_data: None,
            };
            let c = app.create_collection(&p, body).await.map_err(core_err)?;
            eprintln!("created collection '{}' ({})", c.alias, c.collection_id);
            c
        }
        Err(e) => return Err(core_err(e)),
    };
    let persons = persons_in(&args.dir)?;
    if persons.is_empty() {
        return Err(anyhow!("{} holds no photo (jpg, png, …) nor sub-directory of photos", args.dir.display()));
    }
    let done = if args.again {
        Default::default()
    } else {
        app.enrolled_sources(&p, c.collection_id).await.map_err(core_err)?
    };
    let todo: Vec<_> = persons.into_iter().filter(|(src, _, _)| !done.contains(src)).collect();
    let skipped = done.len();
    eprintln!(
        "enrolling {} person(s) into '{}' ({}), model {}; {skipped} already enrolled from this directory",
        todo.len(),
        c.alias,
        c.collection_id,
        c.embedding_model
    );
    let started = std::time::Instant::now();
    let mut progress = crate::eval::progress_bar("enrolled", "persons");
    let mut failures: Vec<(String, String)> = Vec::new();
    let (mut persons_ok, mut faces) = (0usize, 0usize);
    for (i, (src, name, photos)) in todo.iter().enumerate() {
        match enroll_one(&app, &p, c.collection_id, src, name, photos).await {
            Ok(n) => {
                persons_ok += 1;
                faces += n;
            }
            Err(e) => failures.push((src.clone(), e)),
        }
        progress(i + 1, todo.len());
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "enrolled {persons_ok} person(s), {faces} face(s) in {secs:.1} s ({:.1} faces/s); {} failed; {skipped} skipped",
        faces as f64 / secs.max(1e-9),
        failures.len()
    );
    let mut err = std::io::stderr();
    for (src, why) in &failures {
        let _ = writeln!(err, "failed\t{src}\t{why}");
    }
    Ok(())
}

/// One person with all its photos (one request: all or nothing).
async fn enroll_one(
    app: &App,
    p: &Principal,
    collection: uuid::Uuid,
    src: &str,
    name: &str,
    photos: &[PathBuf],
) -> std::result::Result<usize, String> {
    let mut up = app.begin_person_upload(p, collection, None).await.map_err(|e| e.message)?;
    up.set_source(src);
    let payload = serde_json::json!({ "person:meta_data": { "person_info": { "first_name": name } } });
    up.set_payload(payload.to_string().as_bytes()).map_err(|e| e.message)?;
    for (i, photo) in photos.iter().take(app.cfg().limits.max_files).enumerate() {
        let bytes = std::fs::read(photo).map_err(|e| format!("{}: {e}", photo.display()))?;
        let file_name = photo.file_name().and_then(|n| n.to_str()).map(str::to_string);
        let chunk = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]);
        up.add_file(format!("image{}", i + 1), file_name, chunk).await.map_err(|e| e.message)?;
    }
    let person = up.commit().await.map_err(|e| e.message)?;
    Ok(person.images.len())
}

/// `vigil collection reindex`: every collection's index rebuilt from the database.
pub async fn reindex(s: &Settings, collection: Option<uuid::Uuid>) -> Result<()> {
    let app = open(s).await?;
    let started = std::time::Instant::now();
    let faces = app.reindex(collection).await.map_err(core_err)?;
    println!("indexed {faces} face(s) in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `vigil collection stats`: one line per collection.
pub async fn stats(s: &Settings) -> Result<()> {
    let app = open(s).await?;
    let p = Principal::console();
    let paging = vigil_domain::filter::Paging { offset: 0, limit: vigil_domain::filter::MAX_LIMIT, total_omit: true };
    let mut offset = 0;
    println!("collection_id\tcompany_id\talias\tmodel\tpersons\tfaces\tindexed\tindex_current");
    loop {
        let page = app
            .list_collections(&p, None, None, vigil_domain::filter::Paging { offset, ..paging })
            .await
            .map_err(core_err)?;
        if page.items.is_empty() {
            break;
        }
        for c in &page.items {
            app.sync_collection_index(c.collection_id).await.map_err(core_err)?;
            let (indexed, current) = app.index_stats(c.collection_id).await.map_err(core_err)?;
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{indexed}\t{current}",
                c.collection_id, c.company_id, c.alias, c.embedding_model, c.persons_count, c.images_count
            );
        }
        offset += page.items.len() as i64;
    }
    Ok(())
}
