//! `vigil`: the server and its admin commands.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use vigil::config::Flags;
use vigil::{Settings, core_err};
use vigil_core::companies::CompanyBody;
use vigil_core::users::NewUser;
use vigil_domain::policy::Caller;

#[derive(Parser)]
#[command(name = "vigil", version, about = "Oz API 5.2 compatible identity-verification server")]
struct Cli {
    /// TOML configuration file (also VIGIL_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address to listen on (VIGIL_LISTEN; default 127.0.0.1:8080).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Data directory for the SQLite file and local blobs (VIGIL_DATA_DIR; default ./data).
    #[arg(long, global = true)]
    data_dir: Option<String>,
    /// sqlite://… or postgres://… (VIGIL_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// fs://…, s3://bucket/prefix?endpoint=…, memory:// (VIGIL_BLOB_URL).
    #[arg(long, global = true)]
    blob_url: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the HTTP server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI 3.1 specification.
    Openapi,
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage companies.
    #[command(subcommand)]
    Company(CompanyCmd),
    /// Manage plugins (Wasm components).
    #[command(subcommand)]
    Plugin(PluginCmd),
    /// Measure error rates with the server's own pipelines on labelled data (stores nothing).
    #[command(subcommand)]
    Eval(EvalCmd),
    /// Face collections for 1:N search: bulk enrolment, index rebuild, statistics.
    #[command(subcommand)]
    Collection(CollectionCmd),
    /// A/B experiments: list them, show a variant-by-variant statistics table, stop one.
    #[command(subcommand)]
    Ab(vigil::ab::AbCmd),
    /// Internal: typesets one report (a job on stdin, the PDF on stdout), run by the server
    /// under memory and time limits.
    #[command(hide = true)]
    RenderTypst,
}

#[derive(Subcommand)]
enum CollectionCmd {
    /// Enrol the persons of a directory (one sub-directory of photos per person, or one photo
    /// per person); resumable: a rerun skips the persons already enrolled from it.
    Enroll(vigil::collection::EnrollArgs),
    /// Rebuild the face index from the database (all collections, or one).
    Reindex {
        #[arg(long)]
        collection_id: Option<uuid::Uuid>,
    },
    /// One line per collection: persons, faces, faces indexed, whether the index is current.
    Stats,
}

#[derive(Subcommand)]
enum EvalCmd {
    /// Face matching: FMR and FNMR, thresholds for target FMRs, EER, histograms, a DET curve and a
    /// fitted calibration, from a directory with one sub-directory of media per person.
    Biometry(vigil::eval::BiometryArgs),
    /// Liveness (presentation-attack detection): APCER per attack species, BPCER, APCER at fixed
    /// BPCER, a threshold table and a DET curve, from DIR/bona_fide and DIR/<species> media.
    Liveness(vigil::eval::LivenessArgs),
}

#[derive(Subcommand)]
enum PluginCmd {
    /// Validate, compile and install a component.
    Install {
        #[arg(long)]
        file: PathBuf,
        /// analysis, document-check, report-template or ab-rule.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        version: String,
        /// Plugin configuration entries `key=value` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Owning company; omit for a global built-in.
        #[arg(long)]
        company_id: Option<uuid::Uuid>,
        /// Make it the active version now.
        #[arg(long)]
        activate: bool,
    },
    /// List installed plugin versions.
    List,
    /// Remove a plugin version.
    Remove {
        #[arg(long)]
        id: uuid::Uuid,
    },
    /// Check that a component would be accepted, without installing it.
    Verify {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        kind: String,
    },
}

/// Where a password comes from: never from argv alone.
#[derive(Args)]
struct PasswordSource {
    /// Read the password from this file (first line).
    #[arg(long, conflicts_with = "password_stdin")]
    password_file: Option<PathBuf>,
    /// Read the password from standard input (first line).
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordSource {
    fn read(&self) -> Result<String> {
        let text = if let Some(f) = &self.password_file {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        } else if self.password_stdin {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("reading the password from stdin")?;
            s
        } else {
            bail!("give the password with --password-file FILE or --password-stdin");
        };
        let pw = text.lines().next().unwrap_or("").to_string();
        if pw.is_empty() {
            bail!("the password is empty");
        }
        Ok(pw)
    }
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user.
    Create {
        #[arg(long)]
        email: String,
        /// ADMIN, OPERATOR, CLIENT, CLIENT_ADMIN, CLIENT_OPERATOR, CLIENT_SERVICE.
        #[arg(long, default_value = "ADMIN")]
        user_type: String,
        #[arg(long)]
        company_id: Option<uuid::Uuid>,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List all users.
    List,
    /// Delete a user.
    Delete {
        #[arg(long)]
        email: String,
    },
    /// Set a user's password (ends the user's sessions).
    SetPassword {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Print a one-time password-restore token for a user (the delivery channel for accounts
    /// whose company has no webhook); it replaces any earlier one.
    RestoreToken {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum CompanyCmd {
    /// Create a company and print its id.
    Create {
        #[arg(long)]
        name: String,
    },
}

fn settings(cli: &Cli) -> Result<Settings> {
    let mut flags = Flags::new();
    for (k, v) in [
        ("listen", &cli.listen),
        ("data_dir", &cli.data_dir),
        ("database_url", &cli.database_url),
        ("blob_url", &cli.blob_url),
    ] {
        if let Some(v) = v {
            flags.insert(k, v.clone());
        }
    }
    let file = cli.config.clone().or_else(|| std::env::var_os("VIGIL_CONFIG").map(PathBuf::from));
    Settings::load(file.as_deref(), |k| std::env::var(k).ok(), &flags)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Cmd::RenderTypst = cli.cmd {
        std::process::exit(vigil_report::child_main());
    }
    if let Cmd::Openapi = cli.cmd {
        println!("{}", vigil_http::openapi_json());
        return Ok(());
    }
    let s = settings(&cli)?;
    vigil::logging::init(s.log_json, s.log_files.as_ref())?;
    match cli.cmd {
        Cmd::Openapi | Cmd::RenderTypst => unreachable!("handled above"),
        Cmd::Serve => {
            let listener =
                tokio::net::TcpListener::bind(&s.listen).await.with_context(|| format!("binding {}", s.listen))?;
            let addr = listener.local_addr()?;
            let url = s.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
            eprintln!("Vigil is listening on {url}  (docs: {url}/docs, health: {url}/api/healthcheck)");
            match &s.admin_email {
                Some(e) => eprintln!(
                    "Log in as {e}: POST {url}/api/authorize/auth {{\"credentials\":{{\"email\":\"{e}\",\"password\":\"…\"}}}}"
                ),
                None => eprintln!(
                    "Log in: on a fresh install the ADMIN is admin@vigil.local, password in {}",
                    s.data_dir.join("initial-admin-password").display()
                ),
            }
            vigil::serve(&s, listener, shutdown_signal()).await
        }
        Cmd::Migrate => {
            vigil::open_store(&s).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Cmd::User(u) => {
            let app = vigil::open_app(&s, String::new()).await?;
            match u {
                UserCmd::Create { email, user_type, company_id, first_name, last_name, password } => {
                    let n = NewUser {
                        email,
                        password: password.read()?,
                        first_name,
                        last_name,
                        user_type,
                        company_id,
                        ..Default::default()
                    };
                    let u = app.create_user(Caller::System, n).await.map_err(core_err)?;
                    println!("{}\t{}\t{}", u.user_id, u.email, u.user_type);
                }
                UserCmd::List => {
                    for u in app.admin_list_users().await.map_err(core_err)? {
                        let role = vigil_domain::Role::derive(&u.user_type, u.is_admin, u.is_service);
                        println!("{}\t{}\t{:?}\t{}\tactive={}", u.user_id, u.email, role, u.company_id, u.is_active);
                    }
                }
                UserCmd::Delete { email } => {
                    app.admin_delete_user(&email).await.map_err(core_err)?;
                    eprintln!("deleted {email}");
                }
                UserCmd::SetPassword { email, password } => {
                    app.admin_set_password(&email, password.read()?).await.map_err(core_err)?;
                    eprintln!("password of {email} changed");
                }
                UserCmd::RestoreToken { email } => {
                    let (token, expires) = app.admin_restore_token(&email).await.map_err(core_err)?;
                    println!("{token}");
                    eprintln!(
                        "one-time restore token for {email}, valid until {expires:.0} (UNIX seconds); the user sends \
                         it with a new password to POST /api/authorize/auth_restore"
                    );
                }
            }
            Ok(())
        }
        Cmd::Plugin(cmd) => {
            let app = vigil::open_app(&s, String::new()).await?;
            match cmd {
                PluginCmd::Install { file, kind, name, version, settings, company_id, activate } => {
                    let wasm = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                    let mut cfg = serde_json::Map::new();
                    for kv in settings {
                        let (k, v) = kv.split_once('=').ok_or_else(|| anyhow!("--set takes KEY=VALUE, got '{kv}'"))?;
                        cfg.insert(k.to_string(), serde_json::Value::String(v.to_string()));
                    }
                    let manifest = serde_json::json!({
                        "kind": kind, "name": name, "version": version, "config": cfg,
                        "company_id": company_id, "activate": if activate { Some(true) } else { None },
                    });
                    let p = app
                        .upload_plugin(Caller::System, manifest.to_string().as_bytes(), wasm)
                        .await
                        .map_err(core_err)?;
                    println!("{}\t{}\t{}\t{}\tactive={}", p.plugin_id, p.kind, p.name, p.version, p.active);
                }
                PluginCmd::List => {
                    for p in app.admin_list_plugins().await.map_err(core_err)? {
                        let owner = p.company_id.map(|c| c.to_string()).unwrap_or_else(|| "global".into());
                        println!(
                            "{}\t{}\t{}\t{}\t{}\tactive={}\t{}",
                            p.plugin_id,
                            owner,
                            p.kind,
                            p.name,
                            p.version,
                            p.active,
                            &p.sha256[..12]
                        );
                    }
                }
                PluginCmd::Remove { id } => {
                    app.delete_plugin(Caller::System, id).await.map_err(core_err)?;
                    eprintln!("removed {id}");
                }
                PluginCmd::Verify { file, kind } => {
                    let wasm = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                    let (sha, stamp) = app.verify_plugin(&kind, wasm).await.map_err(core_err)?;
                    println!("ok\t{kind}\tsha256={sha}\t{}", stamp.unwrap_or_else(|| "no SDK stamp".into()));
                }
            }
            Ok(())
        }
        Cmd::Collection(CollectionCmd::Enroll(args)) => vigil::collection::enroll(&s, args).await,
        Cmd::Collection(CollectionCmd::Reindex { collection_id }) => {
            vigil::collection::reindex(&s, collection_id).await
        }
        Cmd::Collection(CollectionCmd::Stats) => vigil::collection::stats(&s).await,
        Cmd::Ab(cmd) => vigil::ab::run(&s, cmd).await,
        Cmd::Eval(EvalCmd::Biometry(args)) => vigil::eval::biometry(&s, args).await,
        Cmd::Eval(EvalCmd::Liveness(args)) => vigil::eval::liveness(&s, args).await,
        Cmd::Company(CompanyCmd::Create { name }) => {
            let app = vigil::open_app(&s, String::new()).await?;
            let c = app.create_company(Caller::System, CompanyBody { name }).await.map_err(core_err)?;
            println!("{}\t{}", c.company_id, c.name);
            Ok(())
        }
    }
}
