//! `vendor-sim`'s command line: one subcommand per vendor, with its flags.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Runs a strict vendor API simulator for Sever demos and tests"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) vendor: Vendor,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Vendor {
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
    /// A REAL redis-server (requirepass) with two named clients connected.
    Redis {
        /// The `requirepass` password Sever's backend uses.
        #[arg(long, env = "REDIS_PASSWORD", hide_env_values = true)]
        password: String,
        /// The name (`CLIENT SETNAME`) of the connection to cut.
        #[arg(long, default_value = "cache-worker")]
        victim: String,
        /// The name of the connection that must stay connected.
        #[arg(long, default_value = "web-frontend")]
        bystander: String,
    },
    /// A REAL private PostgreSQL cluster with two named sessions open.
    Postgresql {
        /// The login role made for Sever (granted `pg_signal_backend`).
        #[arg(long, default_value = "sever")]
        user: String,
        /// Its password.
        #[arg(long, env = "PG_PASSWORD", hide_env_values = true)]
        password: String,
        /// The `application_name` of the session to cut.
        #[arg(long, default_value = "nightly-report")]
        victim: String,
        /// The `application_name` of the session that must stay.
        #[arg(long, default_value = "billing-api")]
        bystander: String,
    },
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
