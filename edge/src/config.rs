//! The edge configuration: one JSON text (`BATCHWIRE_EDGE_CONFIG`) plus the Worker secrets it
//! names, checked as a whole at load. Every error names its field as a path
//! (`destinations.collector.options.flushAt`), so a wrong deployment says what to fix.

use std::collections::BTreeMap;

use batchwire::core::{Config, Pipeline, Protocol, ServerZone};
use batchwire_ingest::Mapping;
use serde_json::{Map, Value};

/// The source write key of the default configuration (no `BATCHWIRE_EDGE_CONFIG`).
pub const DEFAULT_SOURCE: &str = "uk_live_demo";
/// The upstream of the default configuration when `UPSTREAM_URL` is not set.
pub const DEFAULT_UPSTREAM: &str = "http://127.0.0.1:8787";

/// A configuration refused at load: `field` is the path of the member at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A source: a write key that may post, where its events go, and how they are renamed.
#[derive(Debug)]
pub struct Source {
    pub key: String,
    /// Index into `EdgeConfig::destinations`.
    pub destination: usize,
    pub mapping: Mapping,
}

/// An upstream: its protocol, where requests go, and the engine configuration of its shards.
#[derive(Debug, Clone)]
pub struct Destination {
    pub name: String,
    pub protocol: Protocol,
    /// Scheme and host (no trailing slash): requests go to `url + protocol.path()`.
    pub url: String,
    /// The engine configuration, upstream key included; a shard sets its own seed.
    pub config: Config,
}

/// The checked configuration.
#[derive(Debug)]
pub struct EdgeConfig {
    pub shards: u32,
    pub max_body_bytes: usize,
    pub cors: Vec<String>,
    pub per_ip_requests: u64,
    pub per_ip_window_ms: u64,
    pub admin_key: Option<String>,
    pub sources: Vec<Source>,
    pub destinations: Vec<Destination>,
}

/// The engine options a destination may set: the npm package's numeric option names (one list:
/// `batchwire::web::abi::OPTIONS`), and its one boolean engine option.
fn option_names() -> Vec<&'static str> {
    let mut names = batchwire::web::abi::OPTIONS.to_vec();
    names.push("skipUserPropertiesSync");
    names
}

/// The edge's default flush interval: a server forwards soon (the browser's default is 10 s).
pub const DEFAULT_FLUSH_INTERVAL_MS: u64 = 1_000;

impl EdgeConfig {
    /// Loads the configuration `text` (`None`: the default one) with the Worker's string
    /// environment `env` (secrets and vars).
    pub fn load(text: Option<&str>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        match text {
            None => Self::default_config(env),
            Some(t) => {
                let v: Value = serde_json::from_str(t).map_err(|e| {
                    ConfigError::new("BATCHWIRE_EDGE_CONFIG", format!("not valid JSON: {e}"))
                })?;
                Self::from_value(&v, env)
            }
        }
    }

    /// No configuration: `uk_live_demo` → `upstream`, a /v1-batch at `UPSTREAM_URL`.
    fn default_config(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let url = env
            .get("UPSTREAM_URL")
            .map_or(DEFAULT_UPSTREAM, String::as_str);
        let url = check_url("UPSTREAM_URL", url)?;
        // The key defaults to the demo key in this configuration only.
        let key = env
            .get("UPSTREAM_WRITE_KEY")
            .filter(|k| !k.is_empty())
            .map_or(DEFAULT_SOURCE, String::as_str);
        let config =
            destination_config("destinations.upstream", Protocol::V1Batch, key, &Map::new())?;
        Ok(EdgeConfig {
            shards: 16,
            max_body_bytes: 1_048_576,
            cors: vec!["*".into()],
            per_ip_requests: 600,
            per_ip_window_ms: 60_000,
            admin_key: env.get("EDGE_ADMIN_KEY").filter(|k| !k.is_empty()).cloned(),
            sources: vec![Source {
                key: DEFAULT_SOURCE.into(),
                destination: 0,
                mapping: Mapping::default(),
            }],
            destinations: vec![Destination {
                name: "upstream".into(),
                protocol: Protocol::V1Batch,
                url,
                config,
            }],
        })
    }

    fn from_value(v: &Value, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let root = object("(the configuration)", v)?;
        known(
            "",
            root,
            &[
                "version",
                "shards",
                "maxBodyBytes",
                "cors",
                "perIp",
                "adminKeySecret",
                "sources",
                "destinations",
            ],
        )?;
        if let Some(ver) = root.get("version") {
            if ver.as_u64() != Some(1) {
                return Err(ConfigError::new("version", "must be 1 (the only version)"));
            }
        }
        let shards = uint(root, "", "shards")?.unwrap_or(16);
        if !(1..=1024).contains(&shards) {
            return Err(ConfigError::new("shards", "must be 1 to 1024"));
        }
        let max_body_bytes = uint(root, "", "maxBodyBytes")?.unwrap_or(1_048_576);
        if max_body_bytes == 0 {
            return Err(ConfigError::new("maxBodyBytes", "must be positive"));
        }
        let cors = match root.get("cors") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, o)| match o.as_str() {
                    Some(s) if !s.is_empty() => Ok(s.trim_end_matches('/').to_string()),
                    _ => Err(ConfigError::new(
                        format!("cors[{i}]"),
                        "must be an origin (\"https://app.example.com\") or \"*\"",
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(ConfigError::new("cors", "must be an array of origins")),
        };
        let (per_ip_requests, per_ip_window_ms) = match root.get("perIp") {
            None => (600, 60_000),
            Some(p) => {
                let p = object("perIp", p)?;
                known("perIp", p, &["requests", "windowSecs"])?;
                let r = uint(p, "perIp", "requests")?.unwrap_or(600);
                let w = uint(p, "perIp", "windowSecs")?.unwrap_or(60);
                if w == 0 {
                    return Err(ConfigError::new("perIp.windowSecs", "must be positive"));
                }
                (r, w.saturating_mul(1000))
            }
        };
        let admin_secret = match root.get("adminKeySecret") {
            None => "EDGE_ADMIN_KEY",
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            Some(_) => {
                return Err(ConfigError::new(
                    "adminKeySecret",
                    "must be the name of a Worker secret",
                ))
            }
        };
        let admin_key = env.get(admin_secret).filter(|k| !k.is_empty()).cloned();

        let dests = object(
            "destinations",
            root.get("destinations").unwrap_or(&Value::Null),
        )?;
        if dests.is_empty() {
            return Err(ConfigError::new("destinations", "names no destination"));
        }
        let mut destinations = Vec::new();
        for (name, d) in dests {
            destinations.push(destination(name, d, env)?);
        }
        let srcs = object("sources", root.get("sources").unwrap_or(&Value::Null))?;
        if srcs.is_empty() {
            return Err(ConfigError::new("sources", "names no source"));
        }
        let mut sources = Vec::new();
        for (key, s) in srcs {
            let at = format!("sources.{key}");
            if key.is_empty() || key.bytes().any(|c| c < 0x21 || c == 0x7f) {
                return Err(ConfigError::new(
                    at,
                    "a source's name is its write key: non-empty, without spaces or control characters",
                ));
            }
            let s = object(&at, s)?;
            known(&at, s, &["destination", "mapping"])?;
            let dname = s
                .get("destination")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ConfigError::new(format!("{at}.destination"), "must name a destination")
                })?;
            let destination = destinations
                .iter()
                .position(|d| d.name == dname)
                .ok_or_else(|| {
                    ConfigError::new(
                        format!("{at}.destination"),
                        format!("no destination named {dname:?}"),
                    )
                })?;
            let mapping = match s.get("mapping") {
                None | Some(Value::Null) => Mapping::default(),
                Some(m) => {
                    if m.get("columns").is_some() {
                        return Err(ConfigError::new(
                            format!("{at}.mapping.columns"),
                            "CSV columns do not apply at the edge (events arrive as JSON objects): remove `columns`",
                        ));
                    }
                    Mapping::from_value(m.clone())
                        .map_err(|e| ConfigError::new(format!("{at}.mapping"), e))?
                }
            };
            sources.push(Source {
                key: key.clone(),
                destination,
                mapping,
            });
        }
        Ok(EdgeConfig {
            shards: shards as u32,
            max_body_bytes: max_body_bytes as usize,
            cors,
            per_ip_requests,
            per_ip_window_ms,
            admin_key,
            sources,
            destinations,
        })
    }

    /// The destination a shard name (`collector#7`) belongs to.
    pub fn destination_of_shard(&self, shard: &str) -> Option<&Destination> {
        let (name, n) = shard.rsplit_once('#')?;
        let n: u32 = n.parse().ok()?;
        if n >= self.shards {
            return None;
        }
        self.destinations.iter().find(|d| d.name == name)
    }
}

fn destination(
    name: &str,
    d: &Value,
    env: &BTreeMap<String, String>,
) -> Result<Destination, ConfigError> {
    let at = format!("destinations.{name}");
    if name.is_empty() || name.contains('#') || name.bytes().any(|c| c < 0x20 || c == 0x7f) {
        return Err(ConfigError::new(
            at,
            "a destination's name must be non-empty, without '#' or control characters",
        ));
    }
    let d = object(&at, d)?;
    known(
        &at,
        d,
        &["protocol", "url", "serverZone", "keySecret", "options"],
    )?;
    let protocol = match d.get("protocol").and_then(Value::as_str) {
        Some("v1-batch") => Protocol::V1Batch,
        Some("amplitude-http-v2") => Protocol::AmplitudeHttpV2,
        Some("amplitude-batch") => Protocol::AmplitudeBatch,
        _ => {
            return Err(ConfigError::new(
                format!("{at}.protocol"),
                "must be \"v1-batch\", \"amplitude-http-v2\" or \"amplitude-batch\"",
            ))
        }
    };
    let zone = match d.get("serverZone") {
        None => None,
        Some(z) if protocol.is_amplitude() => match z.as_str() {
            Some("US" | "us") => Some(ServerZone::Us),
            Some("EU" | "eu") => Some(ServerZone::Eu),
            _ => {
                return Err(ConfigError::new(
                    format!("{at}.serverZone"),
                    "must be \"US\" or \"EU\"",
                ))
            }
        },
        Some(_) => {
            return Err(ConfigError::new(
                format!("{at}.serverZone"),
                "is for the Amplitude protocols only (give `url`)",
            ))
        }
    };
    let url = match d.get("url") {
        Some(Value::String(u)) => check_url(&format!("{at}.url"), u)?,
        Some(_) => return Err(ConfigError::new(format!("{at}.url"), "must be a URL")),
        None => match protocol.default_host(zone.unwrap_or(ServerZone::Us)) {
            Some(h) => h.to_string(),
            None => {
                return Err(ConfigError::new(
                    format!("{at}.url"),
                    "is required for /v1-batch (the upstream's scheme and host)",
                ))
            }
        },
    };
    let secret = match d.get("keySecret") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => {
            return Err(ConfigError::new(
                format!("{at}.keySecret"),
                "must name the Worker secret that holds the upstream key",
            ))
        }
    };
    let key = env.get(secret).filter(|k| !k.is_empty()).ok_or_else(|| {
        ConfigError::new(
            format!("{at}.keySecret"),
            format!("the secret {secret:?} is not set (wrangler secret put {secret})"),
        )
    })?;
    let options = match d.get("options") {
        None => Map::new(),
        Some(o) => object(&format!("{at}.options"), o)?.clone(),
    };
    let config = destination_config(&at, protocol, key, &options)?;
    Ok(Destination {
        name: name.to_string(),
        protocol,
        url,
        config,
    })
}

/// The engine configuration of a destination: the core's defaults, the edge's, then `options`;
/// checked by building a pipeline with it, so a shard never meets a configuration error.
fn destination_config(
    at: &str,
    protocol: Protocol,
    key: &str,
    options: &Map<String, Value>,
) -> Result<Config, ConfigError> {
    let at = format!("{at}.options");
    known(&at, options, &option_names())?;
    let mut c = Config::new(protocol, key);
    c.flush_interval_ms = DEFAULT_FLUSH_INTERVAL_MS;
    // A server driver: an event with a userId and no anonymousId gets one derived from it.
    c.derive_anonymous_id = true;
    for (name, v) in options {
        let field = format!("{at}.{name}");
        if name == "skipUserPropertiesSync" {
            c.skip_user_properties_sync = v
                .as_bool()
                .ok_or_else(|| ConfigError::new(&field, "must be true or false"))?;
            continue;
        }
        let n = v
            .as_u64()
            .ok_or_else(|| ConfigError::new(&field, "must be a non-negative integer"))?;
        let u = usize::try_from(n).unwrap_or(usize::MAX);
        match name.as_str() {
            "flushAt" => c.flush_at = u,
            "flushIntervalMs" => c.flush_interval_ms = n,
            "maxBatchBytes" => c.max_batch_bytes = u,
            "maxInFlight" => c.max_in_flight = u,
            "maxQueueEvents" => c.max_queue_events = u,
            "maxQueueBytes" => c.max_queue_bytes = u,
            "backoffBaseMs" => c.backoff_base_ms = n,
            "backoffMaxMs" => c.backoff_max_ms = n,
            "giveUpAfterMs" => c.give_up_after_ms = n,
            "quotaProbeMs" => c.quota_probe_ms = n,
            "maxRetryAfterMs" => c.max_retry_after_ms = n,
            "requestTimeoutMs" => c.request_timeout_ms = n,
            "rateWindowMs" => c.rate_window_ms = n,
            "requestsPerWindow" => c.requests_per_window = n,
            "identityEventsPerSecond" => c.identity_events_per_second = n,
            _ => c.identity_events_per_day = n,
        }
    }
    if options.get("flushAt").is_some() && c.flush_at == 0 {
        return Err(ConfigError::new(
            format!("{at}.flushAt"),
            "must be positive",
        ));
    }
    match Pipeline::new(c.clone()) {
        Ok(p) => Ok(p.config().clone()),
        Err(e) => {
            // The core names its setting in snake_case (`max_in_flight`); the file uses the
            // npm package's names.
            let msg = e.message();
            let snake = msg
                .rsplit_once("(field: ")
                .map_or("", |(_, f)| f.trim_end_matches(')'));
            let field = match snake {
                "write_key" => return Err(ConfigError::new(format!("{at}.keySecret"), msg)),
                "" => at.clone(),
                s => format!("{at}.{}", camel(s)),
            };
            Err(ConfigError::new(field, msg))
        }
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in snake.chars() {
        match c {
            '_' => up = true,
            c if up => {
                out.push(c.to_ascii_uppercase());
                up = false;
            }
            c => out.push(c),
        }
    }
    out
}

fn check_url(field: &str, u: &str) -> Result<String, ConfigError> {
    let ok = (u.starts_with("http://") || u.starts_with("https://"))
        && !u.bytes().any(|c| c <= 0x20 || c == 0x7f)
        && u.split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty());
    if !ok {
        return Err(ConfigError::new(
            field,
            format!("{u:?} is not an http(s) URL (scheme and host, e.g. https://api.example.com)"),
        ));
    }
    Ok(u.trim_end_matches('/').to_string())
}

fn object<'a>(field: &str, v: &'a Value) -> Result<&'a Map<String, Value>, ConfigError> {
    v.as_object()
        .ok_or_else(|| ConfigError::new(field, "must be a JSON object"))
}

fn known(at: &str, obj: &Map<String, Value>, names: &[&str]) -> Result<(), ConfigError> {
    match obj.keys().find(|k| !names.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(ConfigError::new(
            if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            },
            format!("unknown member (known: {})", names.join(", ")),
        )),
    }
}

fn uint(obj: &Map<String, Value>, at: &str, name: &str) -> Result<Option<u64>, ConfigError> {
    match obj.get(name) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            let field = if at.is_empty() {
                name.to_string()
            } else {
                format!("{at}.{name}")
            };
            ConfigError::new(field, "must be a non-negative integer")
        }),
    }
}
