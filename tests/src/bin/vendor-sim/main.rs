//! `vendor-sim`: runs a vendor simulator in the foreground until killed, printing one line
//! per call received (`METHOD PATH -> STATUS`) to stdout. Used by the README demo:
//!
//! ```text
//! vendor-sim cedalo --listen 127.0.0.1:18001 --project p1 --broker b1 --token T \
//!     --client sensor-17 --client sensor-18
//! ```
//!
//! `vendor-sim rabbitmq` is no simulator: it starts a REAL private RabbitMQ node
//! ([`sever_tests::broker`]), keeps real AMQP and MQTT clients connected to it, prints one
//! ready line, reports on stdout when the broker closes them, and stops the node on
//! SIGTERM or SIGINT. `vendor-sim redis` and `vendor-sim postgresql` do the same with a
//! REAL redis-server and a REAL private PostgreSQL cluster and two named client
//! connections each (one to cut, one that must stay).

mod cli;
mod postgresql;
mod rabbitmq;
mod redis;
mod signals;

use clap::Parser;
use cli::{Cli, Vendor};
use sever_tests::sim::{AlibabaSim, AlibabaSimConfig};
use sever_tests::sim::{AwsIotSim, AwsIotSimConfig};
use sever_tests::sim::{CedaloSim, SimConfig};
use sever_tests::sim::{EmqxSim, EmqxSimConfig};
use sever_tests::sim::{
    EntraSim, EntraSimConfig, KeycloakSim, KeycloakSimConfig, OktaSim, OktaSimConfig,
};
use sever_tests::sim::{HivemqSim, HivemqSimConfig};
use sever_tests::sim::{IudxSim, IudxSimConfig};
use sever_tests::sim::{NexusSim, NexusSimConfig};
use sever_tests::sim::{PrivxSim, PrivxSimConfig};

fn fail(message: &str) -> ! {
    eprintln!("vendor-sim: {message}");
    std::process::exit(1);
}

/// `A:B` pairs from repeated arguments; exits with `usage` (status 2) on one without `:`.
fn pairs<'a>(usage: &str, values: &'a [String]) -> Vec<(&'a str, &'a str)> {
    values
        .iter()
        .map(|value| {
            value.split_once(':').unwrap_or_else(|| {
                eprintln!("vendor-sim: {usage}");
                std::process::exit(2);
            })
        })
        .collect()
}

/// Serves on the simulator's own thread until the process is killed.
fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn main() {
    let Cli { vendor } = Cli::parse();
    match vendor {
        Vendor::Redis {
            password,
            victim,
            bystander,
        } => redis::redis(&password, &victim, &bystander),
        Vendor::Postgresql {
            user,
            password,
            victim,
            bystander,
        } => postgresql::postgresql(&user, &password, &victim, &bystander),
        Vendor::Rabbitmq {
            user,
            password,
            amqp_connection,
            mqtt_client,
        } => rabbitmq::rabbitmq(&user, &password, &amqp_connection, &mqtt_client),
        Vendor::Emqx {
            listen,
            api_key,
            api_secret,
            clients,
        } => {
            let mut config = EmqxSimConfig::new(&api_key, &api_secret);
            for client in &clients {
                let Some((id, user)) = client.split_once(':') else {
                    fail("--client takes CLIENT_ID:USERNAME");
                };
                config = config.with_client(id, user);
            }
            config.listen = listen;
            config.echo_calls = true;
            let sim = EmqxSim::try_start(config)
                .unwrap_or_else(|err| fail(&format!("cannot listen on {listen}: {err}")));
            println!(
                "emqx simulator on {} (API key {api_key}, clients: {})",
                sim.url(),
                sim.connected_clients().join(", ")
            );
            loop {
                std::thread::park();
            }
        }
        Vendor::Hivemq {
            listen,
            username,
            password,
            clients,
        } => {
            let mut config = HivemqSimConfig::default();
            if let (Some(user), Some(pass)) = (&username, &password) {
                config = config.with_user(user, pass);
            }
            for client in &clients {
                config = config.with_client(client);
            }
            config.listen = listen;
            config.echo_calls = true;
            let sim = HivemqSim::try_start(config)
                .unwrap_or_else(|err| fail(&format!("cannot listen on {listen}: {err}")));
            println!(
                "hivemq simulator on {} (auth: {}, clients: {})",
                sim.url(),
                username.as_deref().unwrap_or("none"),
                sim.connected_clients().join(", ")
            );
            loop {
                std::thread::park();
            }
        }
        Vendor::AwsIot {
            listen,
            region,
            access_key_id,
            secret_access_key,
            clients,
        } => {
            let mut config = AwsIotSimConfig::new(&region, &access_key_id, &secret_access_key)
                .with_clients(clients.iter().map(String::as_str));
            config.listen = listen;
            config.echo_calls = true;
            let sim = AwsIotSim::try_start(config)
                .unwrap_or_else(|err| fail(&format!("cannot listen on {listen}: {err}")));
            println!(
                "aws-iot simulator on {} (region {region}, access key {access_key_id}, \
                 clients: {})",
                sim.url(),
                sim.connected_clients().join(", ")
            );
            loop {
                std::thread::park();
            }
        }
        Vendor::Nexus {
            listen,
            tenant,
            bearer_token,
            application_token,
            application_token_header,
            username,
            password,
            clients,
        } => {
            let mut config = NexusSimConfig::new(&tenant)
                .with_application_token_header(&application_token_header);
            if let (Some(bearer), Some(app)) = (&bearer_token, &application_token) {
                config = config.with_bearer(bearer, app);
            }
            if let (Some(user), Some(pass)) = (&username, &password) {
                config = config.with_basic(user, pass);
            }
            for client in &clients {
                let Some((connection, client)) = client.split_once(':') else {
                    eprintln!("vendor-sim: --client takes CONNECTION:CLIENT");
                    std::process::exit(2);
                };
                config = config.with_client_on(connection, client);
            }
            config.listen = listen;
            config.echo_calls = true;
            let sim = NexusSim::try_start(config).unwrap_or_else(|err| {
                eprintln!("vendor-sim: cannot listen on {listen}: {err}");
                std::process::exit(1);
            });
            println!(
                "nexus simulator on {} (tenant {tenant}, clients: {})",
                sim.url(),
                clients.join(", ")
            );
            // Serves on its own thread until the process is killed.
            loop {
                std::thread::park();
            }
        }
        Vendor::Iudx {
            listen,
            owners,
            entities,
            bindings,
            acl,
        } => {
            let mut config = IudxSimConfig::new();
            let usage = |what: &str| -> ! {
                eprintln!("vendor-sim: {what}");
                std::process::exit(2);
            };
            for owner in &owners {
                let Some((id, apikey)) = owner.split_once(':') else {
                    usage("--owner takes ID:APIKEY")
                };
                config = config.with_owner(id, apikey);
            }
            for entity in &entities {
                let Some((id, apikey)) = entity.split_once(':') else {
                    usage("--entity takes ID:APIKEY")
                };
                config = config.with_entity(id, apikey);
            }
            for binding in &bindings {
                let [exchange, queue, topic] = binding.split(',').collect::<Vec<_>>()[..] else {
                    usage("--binding takes EXCHANGE,QUEUE,TOPIC")
                };
                config = config.with_binding(exchange, queue, topic);
            }
            for entry in &acl {
                let [from, exchange, topic] = entry.split(',').collect::<Vec<_>>()[..] else {
                    usage("--acl takes FROM,EXCHANGE,TOPIC")
                };
                config = config.with_acl(from, exchange, topic);
            }
            config.listen = listen;
            config.echo_calls = true;
            let sim = IudxSim::try_start(config).unwrap_or_else(|err| {
                eprintln!("vendor-sim: cannot listen on {listen}: {err}");
                std::process::exit(1);
            });
            println!(
                "iudx simulator on {} (owners: {}, entities: {}, bindings: {})",
                sim.url(),
                owners.len(),
                entities.len(),
                sim.bindings().len()
            );
            // Serves on its own thread until the process is killed.
            loop {
                std::thread::park();
            }
        }
        Vendor::Privx {
            listen,
            oauth_client_id,
            oauth_client_secret,
            api_client_id,
            api_client_secret,
            token_expires_in,
            connections,
        } => {
            let mut config = PrivxSimConfig::new(
                &oauth_client_id,
                &oauth_client_secret,
                &api_client_id,
                &api_client_secret,
            )
            .with_token_expiry(token_expires_in);
            for connection in &connections {
                let parts: Vec<&str> = connection.split(':').collect();
                let [id, user, host] = parts.as_slice() else {
                    eprintln!("vendor-sim: --connection takes CONNECTION_ID:USER_ID:HOST_ID");
                    std::process::exit(2);
                };
                config = config.with_connection(id, user, host);
            }
            config.listen = listen;
            config.echo_calls = true;
            let sim = PrivxSim::try_start(config).unwrap_or_else(|err| {
                eprintln!("vendor-sim: cannot listen on {listen}: {err}");
                std::process::exit(1);
            });
            println!(
                "privx simulator on {} (OAuth client {oauth_client_id}, API client \
                 {api_client_id}, connections: {})",
                sim.url(),
                connections.len()
            );
            // Serves on its own thread until the process is killed.
            loop {
                std::thread::park();
            }
        }
        Vendor::Alibaba {
            listen,
            instance,
            access_key_id,
            access_key_secret,
            clients,
            clock_offset,
        } => {
            let mut config = AlibabaSimConfig::new(&instance, &access_key_id, &access_key_secret)
                .with_clients(clients)
                .with_clock_offset(clock_offset);
            config.listen = listen;
            config.echo_calls = true;
            let sim = AlibabaSim::try_start(config).unwrap_or_else(|err| {
                eprintln!("vendor-sim: cannot listen on {listen}: {err}");
                std::process::exit(1);
            });
            println!(
                "alibaba simulator on {} (instance {instance}, AccessKeyId {access_key_id}, \
                 clients: {})",
                sim.url(),
                sim.connected_clients().join(", ")
            );
            // Serves on its own thread until the process is killed.
            loop {
                std::thread::park();
            }
        }
        Vendor::Keycloak {
            listen,
            realm,
            client_id,
            client_secret,
            users,
            sessions,
        } => {
            let mut config = KeycloakSimConfig::new(&realm, &client_id, &client_secret);
            for (id, name) in pairs("--user takes ID:USERNAME", &users) {
                config = config.with_user(id, name);
            }
            for (session, user) in pairs("--session takes SESSION_ID:USER_ID", &sessions) {
                config = config.with_session(session, user);
            }
            (config.listen, config.echo_calls) = (listen, true);
            let sim = KeycloakSim::try_start(config)
                .unwrap_or_else(|err| fail(&format!("cannot listen on {listen}: {err}")));
            println!(
                "keycloak simulator on {} (realm {realm}, client {client_id}, users: {})",
                sim.url(),
                users.len()
            );
            park_forever()
        }
        Vendor::Okta {
            listen,
            api_token,
            users,
        } => {
            let mut config = OktaSimConfig::new().with_api_token(&api_token);
            for user in &users {
                config = config.with_user(user, 1);
            }
            (config.listen, config.echo_calls) = (listen, true);
            let sim = OktaSim::try_start(config)
                .unwrap_or_else(|err| fail(&format!("cannot listen on {listen}: {err}")));
            println!(
                "okta simulator on {} (users: {})",
                sim.url(),
                users.join(", ")
            );
            park_forever()
        }
        Vendor::EntraId {
            listen,
            tenant,
            client_id,
            client_secret,
            users,
        } => {
            let mut config = EntraSimConfig::new(&tenant, &client_id, &client_secret);
            for (id, upn) in pairs("--user takes OBJECT_ID:UPN", &users) {
                config = config.with_user(id, upn);
            }
            (config.listen, config.echo_calls) = (listen, true);
            let sim = EntraSim::try_start(config)
                .unwrap_or_else(|err| fail(&format!("cannot listen on {listen}: {err}")));
            println!(
                "entra-id simulator on {} (tenant {tenant}, client {client_id}, users: {})",
                sim.url(),
                users.len()
            );
            park_forever()
        }
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
