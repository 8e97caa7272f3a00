//! `landopp` — the command-line shell over the landopp core.

use clap::{Parser, Subcommand};
use landopp::{info, Error};
use std::path::PathBuf;
use std::process::ExitCode;

mod demo;

#[derive(Parser, Debug)]
#[command(
    name = "landopp",
    version,
    about = "Land opportunity search: parcels + geospatial layers -> ranked, explained opportunities"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Summarise a raster (.tif) or vector file (.gpkg, .geojson, .fgb, .shp), like gdalinfo/ogrinfo.
    Info {
        /// File to describe.
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the main job on the bundled sample data (fixtures/): read parcels and layers, compute
    /// per-parcel area and elevation summaries, and write the result.
    Demo {
        /// Folder holding the bundled sample data (default: ./fixtures, or the one next to the binary's source).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Where to write the parcel table (CSV) and layer (GeoJSON).
        #[arg(long, default_value = "landopp-demo-out")]
        out: PathBuf,
    },
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.cmd {
        Cmd::Info { path, json } => {
            let i = info::info(&path)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&i).map_err(|e| Error::InvalidInput(e.to_string()))?);
            } else {
                print!("{i}");
            }
            Ok(())
        }
        Cmd::Demo { data, out } => demo::run(data, &out),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error[{}]: {e}", e.code());
            ExitCode::from(2)
        }
    }
}
