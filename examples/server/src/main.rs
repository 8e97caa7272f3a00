//! `landopp-server`: see the crate docs and examples/server/README.md.

use clap::Parser;
use std::path::PathBuf;

/// landopp's reference HTTP server.
#[derive(Debug, Parser)]
#[command(name = "landopp-server", version)]
struct Args {
    /// Serve the bundled sample area (fixtures/slovenia): no configuration needed.
    #[arg(long)]
    demo: bool,
    /// The demo's data folder (default: the repository's fixtures/).
    #[arg(long, requires = "demo")]
    data: Option<PathBuf>,
    /// server.toml (every setting also from LANDOPP_* variables).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (over the config and LANDOPP_LISTEN).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// The SQLite store (over the config and LANDOPP_STORE).
    #[arg(long)]
    store: Option<PathBuf>,
    /// Print a new random API key (for LANDOPP_BOOTSTRAP_ADMIN_KEY) and exit.
    #[arg(long)]
    new_key: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Exit 0 when the server at ADDR answers PATH with 200 (a container health check that
    /// needs no curl in the image).
    Healthcheck {
        /// Address of the server.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Route to ask.
        #[arg(long, default_value = "/healthz")]
        path: String,
    },
    /// Copy the embedded store to OUT while the server runs (SQLite `VACUUM INTO`: one
    /// consistent snapshot, every write acknowledged before it started). PostgreSQL stores are
    /// backed up with `pg_dump -Fc` (deploy/backup.sh does either).
    Backup {
        /// The backup file to write (must not exist).
        out: PathBuf,
    },
    /// Import parcels, their features and profile scores into the PostgreSQL + PostGIS store in
    /// one transaction (upserts by parcel id); replicas reload when it commits.
    Import {
        /// The parcel layer (GeoPackage, GeoJSON, Shapefile, FlatGeobuf).
        parcels: PathBuf,
        /// A feature table (CSV from `landopp features`), matched by parcel id.
        features: Option<PathBuf>,
        /// The parcel id field (default: the feature id).
        #[arg(long)]
        id_field: Option<String>,
        /// The layer, when the file holds several.
        #[arg(long)]
        layer: Option<String>,
        /// Attribute columns of the parcel layer to import as features (comma-separated).
        #[arg(long, value_delimiter = ',')]
        attributes: Vec<String>,
        /// A profile to score and store (repeatable).
        #[arg(long = "profile")]
        profiles: Vec<PathBuf>,
        /// Delete the stored parcels this import does not contain.
        #[arg(long)]
        replace: bool,
        /// Repeated parcel ids: `refuse` (default) or `suffix` (`_2`, `_3`, ...).
        #[arg(long, default_value = "refuse", value_parser = ["refuse", "suffix"])]
        duplicate_ids: String,
        /// `postgres://...` (default: LANDOPP_DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Bring a PostgreSQL + PostGIS database to this server's schema (also done at every start),
    /// then exit.
    Migrate {
        /// `postgres://user:password@host:5432/db` (default: LANDOPP_DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(Command::Import {
        parcels,
        features,
        id_field,
        layer,
        attributes,
        profiles,
        replace,
        duplicate_ids,
        database_url,
    }) = &args.command
    {
        let Some(url) = database_url.clone().or_else(|| std::env::var("LANDOPP_DATABASE_URL").ok()) else {
            eprintln!("landopp-server import: give --database-url or LANDOPP_DATABASE_URL");
            return std::process::ExitCode::FAILURE;
        };
        let spec = landopp_server::import::ImportSpec {
            parcels: parcels.clone(),
            layer: layer.clone(),
            id_field: id_field.clone(),
            features: features.clone(),
            attributes: attributes.clone(),
            profiles: profiles.clone(),
            replace: *replace,
            duplicate_ids: if duplicate_ids == "suffix" {
                landopp::vector::DuplicateIds::Suffix
            } else {
                landopp::vector::DuplicateIds::Refuse
            },
        };
        let done = landopp_server::import::check(&spec)
            .and_then(|()| landopp_server::store::Store::connect(&url).map_err(|e| e.to_string()))
            .and_then(|store| landopp_server::import::import(&store, &spec));
        return match done {
            Ok(r) => {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("landopp-server import: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Healthcheck { addr, path }) = &args.command {
        return match healthcheck(addr, path) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("landopp-server healthcheck: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Backup { out }) = &args.command {
        let store = args.store.clone().unwrap_or_else(|| {
            std::env::var_os("LANDOPP_STORE").map_or_else(|| PathBuf::from("landopp-server.db"), PathBuf::from)
        });
        return match landopp_server::store::backup_sqlite(&store, out) {
            Ok(()) => {
                println!("{} backed up to {}", store.display(), out.display());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("landopp-server backup: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Migrate { database_url }) = &args.command {
        let Some(url) = database_url.clone().or_else(|| std::env::var("LANDOPP_DATABASE_URL").ok()) else {
            eprintln!("landopp-server migrate: give --database-url or LANDOPP_DATABASE_URL");
            return std::process::ExitCode::FAILURE;
        };
        return match landopp_server::store::migrate(&url) {
            Ok((at, latest)) => {
                println!("database schema at version {at} (this server's latest: {latest})");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("landopp-server migrate: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if args.new_key {
        let (key, _) = landopp_server::auth::new_key(landopp_server::auth::Role::Admin, "", None);
        println!("{key}");
        return std::process::ExitCode::SUCCESS;
    }
    let telemetry = match landopp_server::telemetry::init(&|k| std::env::var(k).ok()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("landopp-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("landopp-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let out = rt.block_on(run(args));
    drop(rt);
    telemetry.shutdown();
    match out {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("landopp-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let env = |k: &str| std::env::var(k).ok();
    // (variables that are not UTF-8 are not landopp's: skipped, not a panic)
    let vars: Vec<(String, String)> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    let mut config = landopp_server::config::ServerConfig::load(args.config.as_deref(), &vars)?;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(s) = args.store {
        config.store = s;
    }
    if args.demo && config.jobs_root.is_none() {
        // the demo's feature jobs read the bundled sample data
        config.jobs_root = Some(
            args.data
                .clone()
                .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")),
        );
    }
    if args.demo && config.data.as_ref().and_then(|d| d.dem.as_ref()).is_none() {
        // the demo's hillshade basemap: the bundled sample's DEM
        let dir = args
            .data
            .clone()
            .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"));
        config.data.get_or_insert_with(Default::default).dem = Some(dir.join("slovenia/dem.tif"));
    }
    if args.demo && config.models.is_none() {
        // the demo's model registry sits beside its store
        let mut dir = config.store.clone().into_os_string();
        dir.push(".models");
        config.models = Some(landopp_server::models::ModelsConfig {
            registry: dir.into(),
            ab_split: None,
            demo: true,
            drift_reference: None,
        });
    }
    let t0 = std::time::Instant::now();
    let server = match args.demo {
        true => {
            let data = args.data.clone();
            let land = tokio::task::spawn_blocking(move || landopp_server::land::Land::demo(data.as_deref()))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("[{}] {e}", e.code()))?;
            landopp_server::Server::start(config, land, &env).await?
        }
        false => {
            let (land, models, version) = landopp_server::load(&config).await?;
            let follow = (config.database_url.clone(), config.data.clone().unwrap_or_default());
            let s = landopp_server::Server::start_with_models(config, land.into(), models, &env).await?;
            if let (Some(url), d) = follow {
                if d.spec.is_none() && d.parcels.is_none() {
                    // a replica of the shared store's data: new imports are served as they commit
                    s.state.data_version.store(version, std::sync::atomic::Ordering::SeqCst);
                    landopp_server::follow_database(s.state.clone(), url.0, d.profiles, d.presets);
                }
            }
            s
        }
    };
    tracing::info!(
        addr = %server.addr,
        parcels = server.state.land().index.len(),
        profiles = server.state.land().profiles.len(),
        ready_ms = t0.elapsed().as_millis() as u64,
        "ready"
    );
    println!("landopp-server listening on http://{}", server.addr);
    if let Some(k) = &server.bootstrap_key {
        use std::io::IsTerminal;
        if std::io::stdout().is_terminal() {
            println!("admin API key (shown once; send it as X-API-Key): {k}");
        } else {
            // not a terminal (a service manager, a container log): the key goes to a file only
            // its owner reads, never into a log stream
            let mut path = server.state.config.store.clone().into_os_string();
            path.push(".admin-key");
            landopp_server::write_private(std::path::Path::new(&path), k)?;
            println!("admin API key written to {} (shown once: read it, then delete the file)", path.to_string_lossy());
        }
    }
    server.serve_until(shutdown()).await
}

/// GET `path` from `addr` over plain HTTP/1.1 with a 3 s budget; Ok on a 200.
fn healthcheck(addr: &str, path: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let t = std::time::Duration::from_secs(3);
    let sa = addr.to_socket_addrs().map_err(|e| format!("{addr}: {e}"))?.next().ok_or("no address")?;
    let mut s = std::net::TcpStream::connect_timeout(&sa, t).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(t)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(t)).map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).map_err(|e| e.to_string())?;
    match &head[9..12] {
        b"200" => Ok(()),
        code => Err(format!("{path} answered {}", String::from_utf8_lossy(code))),
    }
}

/// SIGTERM or Ctrl-C: stop accepting, finish the requests in flight.
async fn shutdown() {
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
    tracing::info!("shutting down: draining requests in flight");
}
