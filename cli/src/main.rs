//! `batchwire`: backfills NDJSON / CSV event files through batchwire's engine (the same
//! `Pipeline` the browser and Node drivers run), paced to the server's caps, resumable from a
//! checkpoint. See README.md, "Backfill CLI".

mod checkpoint;
mod input;
mod mapping;
mod send;

use std::process::ExitCode;

use batchwire::core::{Config, Pipeline, Protocol, ServerZone};
use clap::{Args, Parser, Subcommand, ValueEnum};

use input::{Format, Records};
use mapping::Mapping;

#[derive(Parser)]
#[command(
    name = "batchwire",
    version,
    about = "Backfill analytics events through batchwire's engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sends every event of FILE... (NDJSON or CSV, plain or gzip; `-` is stdin).
    Send(Box<SendArgs>),
    /// Validates every event of FILE... with the engine's rules, without sending; exits 1 if
    /// any is bad.
    Check(CheckArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtocolArg {
    #[value(name = "v1-batch")]
    V1Batch,
    #[value(name = "amplitude-http-v2")]
    AmplitudeHttpV2,
    #[value(name = "amplitude-batch")]
    AmplitudeBatch,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Protocol {
        match p {
            ProtocolArg::V1Batch => Protocol::V1Batch,
            ProtocolArg::AmplitudeHttpV2 => Protocol::AmplitudeHttpV2,
            ProtocolArg::AmplitudeBatch => Protocol::AmplitudeBatch,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ZoneArg {
    #[value(name = "US", alias = "us")]
    Us,
    #[value(name = "EU", alias = "eu")]
    Eu,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Ndjson,
    Csv,
}

#[derive(Args)]
struct InputArgs {
    /// Input files; `-` reads stdin. gzip is recognised by its magic bytes.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// The wire protocol.
    #[arg(long, value_enum, default_value = "v1-batch")]
    protocol: ProtocolArg,
    /// Input format (default: by extension, `.csv[.gz]` is CSV, anything else NDJSON).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// A mapping file (docs/MAPPING.md): event / property renames and drops, CSV columns.
    #[arg(long, value_name = "PATH")]
    mapping: Option<String>,
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Args)]
pub struct SendArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The /v1-batch write key or the Amplitude api_key.
    #[arg(long, env = "BATCHWIRE_KEY", hide_env_values = true)]
    key: String,
    /// Scheme and host to post to (required for /v1-batch; Amplitude defaults by --server-zone).
    #[arg(long, value_name = "URL")]
    api_host: Option<String>,
    /// Amplitude's data center when --api-host is absent.
    #[arg(long, value_enum, default_value = "US")]
    server_zone: ZoneArg,
    /// Checkpoint file (default: FIRST_INPUT.batchwire-checkpoint; stdin: ./stdin.batchwire-checkpoint).
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<String>,
    /// Where rejected and failed events go, one JSON line each (default: beside the checkpoint).
    #[arg(long, value_name = "PATH")]
    rejects: Option<String>,
    /// On a resume, send again the events the checkpoint records as failed (after fixing the key
    /// or the events); delivered ones are still skipped.
    #[arg(long)]
    retry_failed: bool,
    /// Requests in flight at once (default 4; 1 on HTTP V2, where the engine keeps each
    /// device's order only with one request in flight: more is allowed, with a warning).
    #[arg(long)]
    max_in_flight: Option<usize>,
    /// Bytes per request body, at most (default and ceiling: the protocol's limit; at least
    /// 1024). Requests otherwise carry the protocol's maximum number of events.
    #[arg(long)]
    max_batch_bytes: Option<usize>,
    /// /v1-batch: requests per --rate-window-ms (default 100: the server's per-(org, IP) cap; 0: unpaced).
    #[arg(long)]
    requests_per_window: Option<u64>,
    /// The server's window: /v1-batch's request window (60000) or Amplitude's per-identity window (30000).
    #[arg(long)]
    rate_window_ms: Option<u64>,
    /// Amplitude: events per second per user and per device (30 on HTTP V2, 1000 on Batch; 0: unpaced).
    #[arg(long)]
    identity_events_per_second: Option<u64>,
    /// Amplitude Batch: events per user and per device per rolling day (500000; 0: untracked).
    #[arg(long)]
    identity_events_per_day: Option<u64>,
    /// A request without an answer after this long is retried.
    #[arg(long, default_value_t = 30_000)]
    request_timeout_ms: u64,
    /// Give an event up after this long undelivered.
    #[arg(long, default_value_t = 24 * 3_600_000)]
    give_up_after_ms: u64,
    /// The first backoff step after a transient failure (doubling, full jitter; the engine's
    /// floor is 500 ms).
    #[arg(long, default_value_t = 1_000)]
    backoff_base_ms: u64,
    /// The longest backoff step.
    #[arg(long, default_value_t = 60_000)]
    backoff_max_ms: u64,
    /// Amplitude's min_id_length.
    #[arg(long)]
    min_id_length: Option<usize>,
    /// Events read ahead of delivery, at most.
    #[arg(long, default_value_t = 20_000)]
    read_ahead: usize,
    /// Plain log lines instead of a progress bar, even on a terminal.
    #[arg(long)]
    no_progress: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(a) => check(&a.input),
        Command::Send(a) => send::run(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("batchwire: {e}");
            ExitCode::from(2)
        }
    }
}

fn load_mapping(input: &InputArgs) -> Result<Mapping, String> {
    match &input.mapping {
        Some(p) => Mapping::load(p).map_err(|e| format!("mapping {e}")),
        None => Ok(Mapping::default()),
    }
}

fn forced_format(input: &InputArgs) -> Option<Format> {
    input.format.map(|f| match f {
        FormatArg::Ndjson => Format::Ndjson,
        FormatArg::Csv => Format::Csv,
    })
}

/// The engine configuration both commands share.
fn base_config(protocol: Protocol, key: &str) -> Config {
    let mut c = Config::new(protocol, key);
    c.derive_anonymous_id = true;
    c
}

/// `batchwire check`: every record through a pipeline's `enqueue` (then forgotten), so the rules
/// are exactly the engine's.
fn check(input: &InputArgs) -> Result<ExitCode, String> {
    let mapping = load_mapping(input)?;
    let protocol: Protocol = input.protocol.into();
    let mut config = base_config(protocol, "check");
    config.max_queue_events = 1_000_000;
    config.max_queue_bytes = 1 << 40;
    let mut p = Pipeline::new(config).map_err(|e| e.to_string())?;
    let (mut good, mut bad) = (0u64, 0u64);
    for rec in Records::new(&input.files, forced_format(input), &mapping) {
        let rec = rec?;
        let path = &input.files[rec.file];
        let why = match rec.event {
            Err(e) => Some(format!("E_PARSE: {e}")),
            Ok(None) => None,
            Ok(Some(ev)) => match p.enqueue(0, ev) {
                Ok(q) => {
                    p.forget(&q.message_id);
                    None
                }
                Err(r) => Some(format!("{}: {}", r.code(), r.message())),
            },
        };
        match why {
            Some(w) => {
                bad += 1;
                println!("{path}:{}: {w}", rec.line);
            }
            None => good += 1,
        }
    }
    eprintln!("batchwire check: {good} valid, {bad} invalid");
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn zone(z: ZoneArg) -> ServerZone {
    match z {
        ZoneArg::Us => ServerZone::Us,
        ZoneArg::Eu => ServerZone::Eu,
    }
}
