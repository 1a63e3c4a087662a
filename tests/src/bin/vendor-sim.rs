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
//! SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;
use sever_tests::broker::Broker;
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
    /// Alibaba Cloud ApsaraMQ for MQTT: RPC `CloseConnection`, signature V1 (POST / or GET /).
    Alibaba {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18003")]
        listen: SocketAddr,
        /// Instance id.
        #[arg(long, default_value = "post-cn-demo0001")]
        instance: String,
        /// The AccessKey id callers must sign with.
        #[arg(long, env = "ALIBABA_ACCESS_KEY_ID")]
        access_key_id: String,
        /// The AccessKey secret callers must sign with.
        #[arg(long, env = "ALIBABA_ACCESS_KEY_SECRET", hide_env_values = true)]
        access_key_secret: String,
        /// A client connected at start (repeat for more).
        #[arg(long = "client")]
        clients: Vec<String>,
        /// Seconds the simulator's clock runs ahead of this machine's (negative: behind).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        clock_offset: i64,
    },
    /// EMQX 5: DELETE /api/v5/clients/{id}, paged GET /api/v5/clients?username=, bulk kick.
    Emqx {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18083")]
        listen: SocketAddr,
        /// The API key callers must send (HTTP Basic user).
        #[arg(long, default_value = "sever")]
        api_key: String,
        /// The API key's secret.
        #[arg(long, env = "EMQX_API_SECRET", hide_env_values = true)]
        api_secret: String,
        /// A client connected at start, as CLIENT_ID:USERNAME (repeat for more).
        #[arg(long = "client")]
        clients: Vec<String>,
    },
    /// HiveMQ REST API: DELETE …/clients/{id}/connection and DELETE …/clients/{id}.
    Hivemq {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18888")]
        listen: SocketAddr,
        /// REST API user (ESE Basic auth; without it the API has no auth).
        #[arg(long)]
        username: Option<String>,
        /// REST API password.
        #[arg(long, env = "HIVEMQ_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// A client connected at start (repeat for more).
        #[arg(long = "client")]
        clients: Vec<String>,
    },
    /// AWS IoT Core data plane: DELETE /connections/{id}, Signature V4 verified.
    AwsIot {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18443")]
        listen: SocketAddr,
        /// Region requests must be scoped to.
        #[arg(long, default_value = "eu-west-1")]
        region: String,
        /// The access key id callers must sign with.
        #[arg(long, env = "AWS_ACCESS_KEY_ID")]
        access_key_id: String,
        /// The secret access key callers must sign with.
        #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
        secret_access_key: String,
        /// A client connected at start (repeat for more).
        #[arg(long = "client")]
        clients: Vec<String>,
    },
    /// PrivX: OAuth2 token endpoint (password grant) and connection-manager terminate.
    Privx {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18004")]
        listen: SocketAddr,
        /// The OAuth client id (HTTP Basic user of the token request).
        #[arg(long, default_value = "privx-external")]
        oauth_client_id: String,
        /// The OAuth client secret.
        #[arg(long, env = "PRIVX_OAUTH_SECRET", hide_env_values = true)]
        oauth_client_secret: String,
        /// The API client id (the password grant's username).
        #[arg(long, default_value = "sever-api")]
        api_client_id: String,
        /// The API client secret (the password grant's password).
        #[arg(long, env = "PRIVX_API_SECRET", hide_env_values = true)]
        api_client_secret: String,
        /// `expires_in` of issued tokens, in seconds.
        #[arg(long, default_value_t = 300)]
        token_expires_in: u64,
        /// A live connection as CONNECTION_ID:USER_ID:HOST_ID, UUIDs (repeat for more).
        #[arg(long = "connection")]
        connections: Vec<String>,
    },
    /// ECI Nexus: PATCH /v1/tenants/{tenant}/connections/{connection}/clients.
    Nexus {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18005")]
        listen: SocketAddr,
        /// Tenant id.
        #[arg(long, default_value = "t1")]
        tenant: String,
        /// Bearer option: the access token (with --application-token).
        #[arg(long, env = "NEXUS_BEARER_TOKEN", hide_env_values = true)]
        bearer_token: Option<String>,
        /// Bearer option: the application token.
        #[arg(long, env = "NEXUS_APPLICATION_TOKEN", hide_env_values = true)]
        application_token: Option<String>,
        /// The application token's header.
        #[arg(long, default_value = "ApplicationToken")]
        application_token_header: String,
        /// HTTP Basic option: the user name (with --password).
        #[arg(long)]
        username: Option<String>,
        /// HTTP Basic option: the password.
        #[arg(long, env = "NEXUS_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// A client enabled on an identity connection at start, as CONNECTION:CLIENT
        /// (repeat for more).
        #[arg(long = "client")]
        clients: Vec<String>,
    },
    /// IUDX corinthian: POST /entity/unbind and /owner/unbind.
    Iudx {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18006")]
        listen: SocketAddr,
        /// A registered owner as ID:APIKEY (repeat for more).
        #[arg(long = "owner")]
        owners: Vec<String>,
        /// A registered autonomous entity as ID:APIKEY, with its queues and exchanges
        /// (repeat for more).
        #[arg(long = "entity")]
        entities: Vec<String>,
        /// A binding as EXCHANGE,QUEUE,TOPIC (repeat for more).
        #[arg(long = "binding")]
        bindings: Vec<String>,
        /// A read permission as FROM,EXCHANGE,TOPIC (repeat for more).
        #[arg(long = "acl")]
        acl: Vec<String>,
    },
    /// Keycloak: token endpoint (client credentials) and the admin API's logout and session delete.
    Keycloak {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18021")]
        listen: SocketAddr,
        /// The realm whose users are cut (the client lives there too).
        #[arg(long, default_value = "acme")]
        realm: String,
        /// The confidential client's id.
        #[arg(long, default_value = "sever")]
        client_id: String,
        /// The client's secret.
        #[arg(long, env = "KEYCLOAK_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// A user as ID:USERNAME (repeat for more).
        #[arg(long = "user")]
        users: Vec<String>,
        /// A live session as SESSION_ID:USER_ID (repeat for more).
        #[arg(long = "session")]
        sessions: Vec<String>,
    },
    /// Okta: DELETE /api/v1/users/{id}/sessions with SSWS (and the org token endpoint).
    Okta {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18022")]
        listen: SocketAddr,
        /// The SSWS API token callers must send.
        #[arg(long, env = "OKTA_API_TOKEN", hide_env_values = true)]
        api_token: String,
        /// A user id (repeat for more); each starts with one session.
        #[arg(long = "user")]
        users: Vec<String>,
    },
    /// Microsoft Entra ID: token endpoint (client credentials) and Graph revokeSignInSessions.
    EntraId {
        /// Address to listen on (use it as both the backend url and login_url).
        #[arg(long, default_value = "127.0.0.1:18023")]
        listen: SocketAddr,
        /// Directory (tenant) id.
        #[arg(long, default_value = "contoso")]
        tenant: String,
        /// The app registration's client id.
        #[arg(long, default_value = "sever-app")]
        client_id: String,
        /// Its client secret.
        #[arg(long, env = "ENTRA_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// A user as OBJECT_ID:UPN (repeat for more).
        #[arg(long = "user")]
        users: Vec<String>,
    },
    /// A REAL private RabbitMQ node (needs Debian's rabbitmq-server) with a management
    /// user for Sever and real clients connected; stopped on SIGTERM or SIGINT.
    Rabbitmq {
        /// The management user to create (administrator) for Sever's backend settings.
        #[arg(long, default_value = "sever-demo")]
        user: String,
        /// Its password.
        #[arg(long, env = "RABBITMQ_PASSWORD", hide_env_values = true)]
        password: String,
        /// The client-provided name of the AMQP connection kept open (user `billing-app`).
        #[arg(long, default_value = "billing-worker")]
        amqp_connection: String,
        /// The client id of the MQTT connection kept open (user `billing-app`).
        #[arg(long, default_value = "meter-42")]
        mqtt_client: String,
    },
}

/// The broker user the demo's clients connect as (not an administrator).
const CLIENT_USER: &str = "billing-app";
const CLIENT_PASSWORD: &str = "billing-app-pass-4c1d";

/// Runs `vendor-sim rabbitmq` until SIGTERM or SIGINT; the node is stopped (the guard
/// dropped) on the way out, also when a step panics.
fn rabbitmq(user: &str, password: &str, amqp_name: &str, mqtt_id: &str) {
    let began = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|err| fail(&format!("tokio runtime: {err}")));
    // Handlers first: a signal that arrives while the node starts waits for its stop
    // instead of killing this process and leaving the node behind.
    let (mut term, mut int) = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        (term, int)
    });
    let (Ok(term), Ok(int)) = (term.as_mut(), int.as_mut()) else {
        fail("cannot handle SIGTERM / SIGINT");
    };

    let broker = Broker::start_as("sever-demo");
    let version = broker.call("GET", "/api/overview", None).json()["rabbitmq_version"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let admin = utf8_percent_encode(user, NON_ALPHANUMERIC).to_string();
    let everything = json!({"configure": ".*", "write": ".*", "read": ".*"});
    for (name, pass, tags) in [
        (admin.as_str(), password, "administrator"),
        (CLIENT_USER, CLIENT_PASSWORD, ""),
    ] {
        let body = json!({"password": pass, "tags": tags});
        let created = broker.call("PUT", &format!("/api/users/{name}"), Some(body));
        let path = format!("/api/permissions/%2F/{name}");
        let allowed = broker.call("PUT", &path, Some(everything.clone()));
        for reply in [created, allowed] {
            assert!(reply.status < 300, "rabbitmq user {name}: {}", reply.text);
        }
    }

    let stopping = Arc::new(AtomicBool::new(false));
    let uri = format!(
        "amqp://{CLIENT_USER}:{CLIENT_PASSWORD}@127.0.0.1:{}/%2f",
        broker.amqp_port
    );
    let properties = lapin::ConnectionProperties::default().with_connection_name(amqp_name.into());
    let connection = rt
        .block_on(lapin::Connection::connect(&uri, properties))
        .unwrap_or_else(|err| panic!("AMQP connect {amqp_name}: {err}"));
    let (name, quiet) = (amqp_name.to_owned(), Arc::clone(&stopping));
    connection.on_error(move |err| {
        if quiet.load(Ordering::SeqCst) {
            return;
        }
        match err {
            lapin::Error::ProtocolError(amqp) => {
                println!("connection {name} closed by the broker: {amqp}");
            }
            other => println!("connection {name} lost: {other}"),
        }
    });
    let mqtt = mqtt_client(&broker, mqtt_id, Arc::clone(&stopping));
    // Ready means the management API lists both (its statistics lag the connects).
    let mut expected = [amqp_name, mqtt_id];
    expected.sort_unstable();
    let listed = broker.wait_for_clients(&expected);
    assert_eq!(listed, expected, "the management API's connections");

    println!(
        "rabbitmq {version} private node ready in {:.1}s (node up in {:.1}s): management {} \
         user {user}; \
         clients connected as {CLIENT_USER}: AMQP connection {amqp_name}, MQTT client id {mqtt_id}",
        began.elapsed().as_secs_f64(),
        broker.startup.as_secs_f64(),
        broker.management_url(),
    );

    let signal = rt.block_on(async {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    });
    stopping.store(true, Ordering::SeqCst);
    eprintln!("vendor-sim rabbitmq: {signal}: stopping the private node");
    let _ = mqtt.try_disconnect();
    if connection.status().connected() {
        let closing = connection.close(200, "bye");
        let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), closing).await });
    }
    drop(broker);
    eprintln!("vendor-sim rabbitmq: private node stopped");
}

/// An MQTT client driven on its own thread until the broker closes it (no reconnection);
/// returns once CONNACK arrived. Reports the close on stdout unless `stopping`.
fn mqtt_client(broker: &Broker, client_id: &str, stopping: Arc<AtomicBool>) -> rumqttc::Client {
    let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", broker.mqtt_port);
    options.set_credentials(CLIENT_USER, CLIENT_PASSWORD);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = rumqttc::Client::new(options, 10);
    let (tx, rx) = mpsc::channel();
    let id = client_id.to_owned();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    let _ = tx.send(true);
                }
                Ok(_) => {}
                Err(err) => {
                    if !stopping.load(Ordering::SeqCst) {
                        println!("MQTT client {id} disconnected: {err}");
                    }
                    let _ = tx.send(false);
                    break;
                }
            }
        }
    });
    let connected = rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(connected, Ok(true), "MQTT connect {client_id}");
    client
}

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
        Vendor::Rabbitmq {
            user,
            password,
            amqp_connection,
            mqtt_client,
        } => rabbitmq(&user, &password, &amqp_connection, &mqtt_client),
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
