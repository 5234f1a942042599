//! Configuration: the startup `Config` (from flags, hand-parsed to keep the build small) and the
//! `Limits` that `POST /_config` may change while the server runs.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::faults::FaultSettings;

/// What a `/v1-batch` key may do. Read keys exist so that the 403 path can be exercised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Write,
    Admin,
    Read,
}

#[derive(Clone, Debug, Serialize)]
pub struct KeyEntry {
    pub key: String,
    pub org: String,
    pub kind: KeyKind,
}

/// Every limit the collector enforces. Byte and event maxima are the largest value *accepted*.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Limits {
    /// `/v1-batch` requests per window per (org, IP).
    pub rate_per_ip: u64,
    /// `/v1-batch` requests per window per org, all IPs together.
    pub rate_per_org: u64,
    /// Length of the "per minute" windows; shrink it to make rate-limit tests quick.
    pub window_secs: f64,
    /// Events stored per org per calendar month (UTC); `None` is unlimited.
    pub monthly_quota: Option<u64>,
    pub v1_max_bytes: u64,
    pub v1_max_events: usize,
    /// "< 1 MB": 1,000,000 is refused, 999,999 accepted (the stricter, decimal reading).
    pub v2_max_bytes: u64,
    /// "< 2,000 events".
    pub v2_max_events: usize,
    pub batch_max_bytes: u64,
    pub batch_max_events: usize,
    /// Events per second per user or device, averaged over `eps_window_secs`.
    pub eps_v2: u64,
    pub eps_batch: u64,
    pub eps_window_secs: f64,
    /// Batch API: events per user and per device per rolling `daily_window_secs`.
    pub daily_quota: u64,
    pub daily_window_secs: f64,
    /// Amplitude ids shorter than this are removed (a request's `options.min_id_length` wins).
    pub min_id_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate_per_ip: 100,
            rate_per_org: 2000,
            window_secs: 60.0,
            monthly_quota: None,
            v1_max_bytes: 1_048_576,
            v1_max_events: 100,
            v2_max_bytes: 999_999,
            v2_max_events: 1_999,
            batch_max_bytes: 20_000_000,
            batch_max_events: 2_000,
            eps_v2: 30,
            eps_batch: 1000,
            eps_window_secs: 30.0,
            daily_quota: 500_000,
            daily_window_secs: 86_400.0,
            min_id_length: 5,
        }
    }
}

/// Seconds (possibly fractional) to whole milliseconds, at least 1 so a window always exists.
pub fn secs_to_ms(secs: f64) -> u64 {
    ((secs * 1000.0).round() as u64).max(1)
}

impl Limits {
    /// Applies a `POST /_config` object: only the named fields change. Unknown fields and wrong
    /// types are refused as a whole, so a typo never half-applies.
    pub fn patch(&mut self, obj: &Map<String, Value>) -> Result<(), String> {
        let mut next = self.clone();
        for (k, v) in obj {
            match k.as_str() {
                "rate_per_ip" => next.rate_per_ip = uint(k, v)?,
                "rate_per_org" => next.rate_per_org = uint(k, v)?,
                "window_secs" => next.window_secs = positive(k, v)?,
                "monthly_quota" => {
                    next.monthly_quota = match v {
                        Value::Null | Value::Bool(false) => None,
                        Value::String(s) if s == "unlimited" || s == "off" => None,
                        _ => Some(uint(k, v)?),
                    }
                }
                "v1_max_bytes" => next.v1_max_bytes = uint(k, v)?,
                "v1_max_events" => next.v1_max_events = uint(k, v)? as usize,
                "v2_max_bytes" => next.v2_max_bytes = uint(k, v)?,
                "v2_max_events" => next.v2_max_events = uint(k, v)? as usize,
                "batch_max_bytes" => next.batch_max_bytes = uint(k, v)?,
                "batch_max_events" => next.batch_max_events = uint(k, v)? as usize,
                "eps_v2" => next.eps_v2 = uint(k, v)?,
                "eps_batch" => next.eps_batch = uint(k, v)?,
                "eps_window_secs" => next.eps_window_secs = positive(k, v)?,
                "daily_quota" => next.daily_quota = uint(k, v)?,
                "daily_window_secs" => next.daily_window_secs = positive(k, v)?,
                "min_id_length" => next.min_id_length = uint(k, v)? as usize,
                _ => return Err(format!("unknown field `{k}`")),
            }
        }
        *self = next;
        Ok(())
    }
}

fn uint(k: &str, v: &Value) -> Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| format!("`{k}` must be a non-negative integer"))
}

fn positive(k: &str, v: &Value) -> Result<f64, String> {
    match v.as_f64() {
        Some(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("`{k}` must be a positive number of seconds")),
    }
}

/// Everything the server needs to start. `Config::default()` is the out-of-the-box setup.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: String,
    pub keys: Vec<KeyEntry>,
    pub amp_api_keys: Vec<String>,
    pub limits: Limits,
    pub faults: FaultSettings,
    /// `["*"]`, or the exact origins allowed (echoed back; others get 403 `origin_not_allowed`).
    pub allow_origins: Vec<String>,
    /// Key the per-IP window on the first `X-Forwarded-For` entry instead of the peer address.
    pub trust_forwarded_for: bool,
    /// Events kept for `GET /_events`; older ones are evicted (and counted) past this.
    pub max_stored_events: usize,
    /// Entries kept in the `/_stats` request log; older ones are evicted (and counted).
    pub log_cap: usize,
    /// A body that has not fully arrived after this long gets 408, so a stalled client cannot
    /// hold a handler forever.
    pub body_timeout_ms: u64,
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:8787".into(),
            keys: default_keys(),
            amp_api_keys: vec!["amp_demo_key".into()],
            limits: Limits::default(),
            faults: FaultSettings::default(),
            allow_origins: vec!["*".into()],
            trust_forwarded_for: false,
            max_stored_events: 200_000,
            log_cap: 100_000,
            body_timeout_ms: 30_000,
            clock: Clock::system(),
        }
    }
}

impl Config {
    /// The keys this collector accepts, as printed at startup after the `listening on` line, e.g.
    /// `keys: write uk_live_demo (org demo), admin uk_admin_demo, read uk_read_demo, amplitude
    /// amp_demo_key`. An org is named at the first key and wherever it changes.
    pub fn keys_line(&self) -> String {
        let mut parts = Vec::new();
        let mut org: Option<&str> = None;
        for k in &self.keys {
            let kind = match k.kind {
                KeyKind::Write => "write",
                KeyKind::Admin => "admin",
                KeyKind::Read => "read",
            };
            if org == Some(k.org.as_str()) {
                parts.push(format!("{kind} {}", k.key));
            } else {
                parts.push(format!("{kind} {} (org {})", k.key, k.org));
                org = Some(&k.org);
            }
        }
        if self.keys.is_empty() {
            parts.push("no /v1-batch key (every /v1-batch request gets 401)".into());
        }
        if self.amp_api_keys.is_empty() {
            parts.push("no amplitude api key".into());
        }
        parts.extend(self.amp_api_keys.iter().map(|k| format!("amplitude {k}")));
        format!("keys: {}", parts.join(", "))
    }
}

fn default_keys() -> Vec<KeyEntry> {
    [
        ("uk_live_demo", KeyKind::Write),
        ("uk_admin_demo", KeyKind::Admin),
        ("uk_read_demo", KeyKind::Read),
    ]
    .into_iter()
    .map(|(key, kind)| KeyEntry {
        key: key.into(),
        org: "demo".into(),
        kind,
    })
    .collect()
}

pub const HELP: &str = "\
collector: batchwire's reference ingestion server (/v1-batch, Amplitude /2/httpapi and /batch)

USAGE: collector [--addr 127.0.0.1:8787] [FLAGS]      (--flag VALUE or --flag=VALUE)

Server
  --addr ADDR               listen address; port 0 picks one (default 127.0.0.1:8787)
  --allow-origin ORIGIN     CORS origin allowed, repeatable (default *)
  --trust-forwarded-for     key per-IP limits on X-Forwarded-For's first entry
  --max-stored-events N     events kept for GET /_events (default 200000)
  --log-cap N               request-log entries kept for GET /_stats (default 100000)
  --body-timeout-secs S     408 when a body takes longer than this (default 30)
Keys (defaults always present unless --no-default-keys: uk_live_demo, uk_admin_demo,
uk_read_demo in org demo; Amplitude api key amp_demo_key)
  --write-key KEY[:ORG]     /v1-batch write key, repeatable (ORG default: demo)
  --admin-key KEY[:ORG]     admin key (may ingest), repeatable
  --read-key KEY[:ORG]      read key (gets 403), repeatable
  --amp-api-key KEY         Amplitude api_key, repeatable
  --no-default-keys         drop the demo keys
/v1-batch limits
  --rate-per-ip N           requests per window per (org, IP) (default 100)
  --rate-per-org N          requests per window per org (default 2000)
  --window-secs S           length of the per-minute windows (default 60)
  --monthly-quota N         events per org per calendar month, or `unlimited` (default)
  --v1-max-bytes N          largest body accepted (default 1048576)
Amplitude limits
  --v2-max-bytes N          largest /2/httpapi body accepted (default 999999: < 1 MB)
  --v2-max-events N         most events per /2/httpapi request (default 1999: < 2000)
  --batch-max-bytes N       largest /batch body accepted (default 20000000)
  --batch-max-events N      most events per /batch request (default 2000)
  --eps-v2 N                events/s per user or device on /2/httpapi (default 30)
  --eps-batch N             events/s per user or device on /batch (default 1000)
  --eps-window-secs S       window the EPS is averaged over (default 30)
  --daily-quota N           /batch events per user and per device per window (default 500000)
  --daily-window-secs S     the daily-quota window (default 86400)
  --min-id-length N         default min_id_length (default 5)
Faults (ingest paths only; change at run time with POST /_faults)
  --fail-rate F             fraction of requests answered with a 5xx, not stored (default 0)
  --fail-statuses LIST      statuses to pick from, e.g. 500,503 (default 500,502,503,504)
  --drop-rate F             fraction stored, then the connection dropped with no response
  --latency-ms MS           delay added to a request
  --latency-rate F          fraction of requests delayed (default 1)
  --seed N                  seed for repeatable fault decisions
  -h, --help                this text

Control (loopback only): GET /_stats, GET /_events, POST /_reset, GET|POST /_faults,
GET|POST /_config, GET / or /_health.
";

/// What the command line asked for.
pub enum Cli {
    Run(Box<Config>),
    Help,
}

/// Parses flags (without the program name). Errors name the offending flag.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Cli, String> {
    let mut cfg = Config::default();
    let mut extra_keys = Vec::new();
    let mut extra_amp = Vec::new();
    let mut origins = Vec::new();
    let mut no_defaults = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let switch = matches!(
            flag.as_str(),
            "-h" | "--help" | "--no-default-keys" | "--trust-forwarded-for"
        );
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        let l = &mut cfg.limits;
        let f = &mut cfg.faults;
        match flag.as_str() {
            _ if switch && inline.is_some() => return Err(format!("{flag} takes no value")),
            "-h" | "--help" => return Ok(Cli::Help),
            "--no-default-keys" => no_defaults = true,
            "--trust-forwarded-for" => cfg.trust_forwarded_for = true,
            "--addr" => cfg.addr = value()?,
            "--allow-origin" => origins.push(value()?),
            "--max-stored-events" => cfg.max_stored_events = num(&flag, &value()?)? as usize,
            "--log-cap" => cfg.log_cap = num(&flag, &value()?)? as usize,
            "--body-timeout-secs" => cfg.body_timeout_ms = secs_to_ms(secs(&flag, &value()?)?),
            "--write-key" => extra_keys.push(key_entry(&value()?, KeyKind::Write)?),
            "--admin-key" => extra_keys.push(key_entry(&value()?, KeyKind::Admin)?),
            "--read-key" => extra_keys.push(key_entry(&value()?, KeyKind::Read)?),
            "--amp-api-key" => extra_amp.push(nonempty(&flag, value()?)?),
            "--rate-per-ip" => l.rate_per_ip = num(&flag, &value()?)?,
            "--rate-per-org" => l.rate_per_org = num(&flag, &value()?)?,
            "--window-secs" => l.window_secs = secs(&flag, &value()?)?,
            "--monthly-quota" => {
                let v = value()?;
                l.monthly_quota = match v.as_str() {
                    "unlimited" | "off" | "none" => None,
                    _ => Some(num(&flag, &v)?),
                }
            }
            "--v1-max-bytes" => l.v1_max_bytes = num(&flag, &value()?)?,
            "--v2-max-bytes" => l.v2_max_bytes = num(&flag, &value()?)?,
            "--v2-max-events" => l.v2_max_events = num(&flag, &value()?)? as usize,
            "--batch-max-bytes" => l.batch_max_bytes = num(&flag, &value()?)?,
            "--batch-max-events" => l.batch_max_events = num(&flag, &value()?)? as usize,
            "--eps-v2" => l.eps_v2 = num(&flag, &value()?)?,
            "--eps-batch" => l.eps_batch = num(&flag, &value()?)?,
            "--eps-window-secs" => l.eps_window_secs = secs(&flag, &value()?)?,
            "--daily-quota" => l.daily_quota = num(&flag, &value()?)?,
            "--daily-window-secs" => l.daily_window_secs = secs(&flag, &value()?)?,
            "--min-id-length" => l.min_id_length = num(&flag, &value()?)? as usize,
            "--fail-rate" => f.fail_rate = fraction(&flag, &value()?)?,
            "--fail-statuses" => f.statuses = statuses(&value()?)?,
            "--drop-rate" => f.drop_rate = fraction(&flag, &value()?)?,
            "--latency-ms" => f.latency_ms = num(&flag, &value()?)?,
            "--latency-rate" => f.latency_rate = fraction(&flag, &value()?)?,
            "--seed" => f.seed = Some(num(&flag, &value()?)?),
            _ => return Err(format!("unknown argument `{arg}` (see --help)")),
        }
    }
    if no_defaults {
        cfg.keys.clear();
        cfg.amp_api_keys.clear();
    }
    cfg.keys.extend(extra_keys);
    cfg.amp_api_keys.extend(extra_amp);
    if !origins.is_empty() {
        cfg.allow_origins = origins;
    }
    Ok(Cli::Run(Box::new(cfg)))
}

fn key_entry(v: &str, kind: KeyKind) -> Result<KeyEntry, String> {
    let (key, org) = v.split_once(':').unwrap_or((v, "demo"));
    if key.is_empty() || org.is_empty() {
        return Err(format!("bad key `{v}`: expected KEY[:ORG]"));
    }
    Ok(KeyEntry {
        key: key.into(),
        org: org.into(),
        kind,
    })
}

fn nonempty(flag: &str, v: String) -> Result<String, String> {
    if v.is_empty() {
        Err(format!("{flag} needs a non-empty value"))
    } else {
        Ok(v)
    }
}

fn num(flag: &str, v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("{flag}: `{v}` is not a non-negative integer"))
}

fn secs(flag: &str, v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("{flag}: `{v}` is not a positive number of seconds")),
    }
}

fn fraction(flag: &str, v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("{flag}: `{v}` is not a fraction between 0 and 1")),
    }
}

fn statuses(v: &str) -> Result<Vec<u16>, String> {
    let list: Result<Vec<u16>, _> = v.split(',').map(|s| s.trim().parse::<u16>()).collect();
    match list {
        Ok(l) if !l.is_empty() && l.iter().all(|s| (400..600).contains(s)) => Ok(l),
        _ => Err(format!(
            "--fail-statuses: `{v}` is not a list of 4xx/5xx codes"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, String> {
        match parse_args(args.iter().map(|s| s.to_string()))? {
            Cli::Run(c) => Ok(*c),
            Cli::Help => Err("help".into()),
        }
    }

    #[test]
    fn flags_parse_in_both_spellings() {
        let c = run(&[
            "--addr=127.0.0.1:0",
            "--write-key",
            "uk_live_x:acme",
            "--monthly-quota",
            "10",
            "--window-secs=0.5",
            "--fail-statuses",
            "500,503",
            "--seed",
            "7",
        ])
        .unwrap();
        assert_eq!(c.addr, "127.0.0.1:0");
        assert!(c
            .keys
            .iter()
            .any(|k| k.key == "uk_live_x" && k.org == "acme" && k.kind == KeyKind::Write));
        assert_eq!(c.limits.monthly_quota, Some(10));
        assert_eq!(c.limits.window_secs, 0.5);
        assert_eq!(c.faults.statuses, vec![500, 503]);
        assert_eq!(c.faults.seed, Some(7));
        assert_eq!(c.keys.len(), 4, "defaults stay");
    }

    #[test]
    fn bad_flags_are_errors_not_panics() {
        for bad in [
            &["--bogus"][..],
            &["--addr"],
            &["--fail-rate", "2"],
            &["--window-secs", "0"],
            &["--rate-per-ip", "-1"],
            &["--write-key", ":org"],
            &["--fail-statuses", "200"],
            &["--help=yes"],
        ] {
            assert!(run(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse_args(["-h".to_string()]).map(|c| matches!(c, Cli::Help)),
            Ok(true)
        ));
    }

    #[test]
    fn keys_line_lists_the_keys_in_use() {
        assert_eq!(
            run(&[]).unwrap().keys_line(),
            "keys: write uk_live_demo (org demo), admin uk_admin_demo, read uk_read_demo, \
             amplitude amp_demo_key"
        );
        let c = run(&[
            "--no-default-keys",
            "--write-key",
            "wk_1:acme",
            "--read-key=rk_2:acme",
        ]);
        assert_eq!(
            c.unwrap().keys_line(),
            "keys: write wk_1 (org acme), read rk_2, no amplitude api key"
        );
        let c = run(&["--write-key", "mine:solo", "--amp-api-key", "amp_2"]).unwrap();
        assert!(c.keys_line().ends_with(
            "read uk_read_demo, write mine (org solo), amplitude amp_demo_key, amplitude amp_2"
        ));
        let none = run(&["--no-default-keys"]).unwrap().keys_line();
        assert_eq!(
            none,
            "keys: no /v1-batch key (every /v1-batch request gets 401), no amplitude api key"
        );
    }

    #[test]
    fn patch_is_all_or_nothing() {
        let mut l = Limits::default();
        let obj = serde_json::json!({"monthly_quota": 5, "window_secs": 2});
        l.patch(obj.as_object().unwrap()).unwrap();
        assert_eq!((l.monthly_quota, l.window_secs), (Some(5), 2.0));
        let bad = serde_json::json!({"rate_per_ip": 3, "typo": 1});
        assert!(l.patch(bad.as_object().unwrap()).is_err());
        assert_eq!(l.rate_per_ip, 100);
        let off = serde_json::json!({"monthly_quota": null});
        l.patch(off.as_object().unwrap()).unwrap();
        assert_eq!(l.monthly_quota, None);
    }
}
