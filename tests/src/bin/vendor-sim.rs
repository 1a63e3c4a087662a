//! `vendor-sim`: runs a vendor simulator in the foreground until killed, printing one line
//! per call received (`METHOD PATH -> STATUS`) to stdout. Used by the README demo:
//!
//! ```text
//! vendor-sim cedalo --listen 127.0.0.1:18001 --project p1 --broker b1 --token T \
//!     --client sensor-17 --client sensor-18
//! ```

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use sever_tests::sim::{CedaloSim, SimConfig};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Runs a strict vendor API simulator for Sever demos and tests"
)]
struct Cli {
    #[command(subcommand)]
    vendor: Vendor,
}

#[derive(Debug, Subcommand)]
enum Vendor {
    /// Cedalo Management Center: PUT …/clients/{client}/disconnect.
    Cedalo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18001")]
        listen: SocketAddr,
        /// Project id.
        #[arg(long, default_value = "p1")]
        project: String,
        /// Broker id.
        #[arg(long, default_value = "b1")]
        broker: String,
        /// The application token callers must send as `Authorization: Bearer`.
        #[arg(long, env = "CEDALO_TOKEN")]
        token: String,
        /// A client connected at start (repeat for more).
        #[arg(long = "client")]
        clients: Vec<String>,
    },
}

fn main() {
    let Cli { vendor } = Cli::parse();
    match vendor {
        Vendor::Cedalo {
            listen,
            project,
            broker,
            token,
            clients,
        } => {
            let mut config = SimConfig::new(&project, &broker, &token).with_clients(clients);
            config.listen = listen;
            config.echo_calls = true;
            let sim = match CedaloSim::try_start(config) {
                Ok(sim) => sim,
                Err(err) => {
                    eprintln!("vendor-sim: cannot listen on {listen}: {err}");
                    std::process::exit(1);
                }
            };
            println!(
                "cedalo simulator on {} (project {project}, broker {broker}, clients: {})",
                sim.url(),
                sim.connected_clients().join(", ")
            );
            // Serves on its own thread until the process is killed.
            loop {
                std::thread::park();
            }
        }
    }
}
