//! `batchwire send`: the native driver. One thread runs the engine (read ahead, `enqueue`,
//! `poll_transmit`, `poll_event`, timers); `max_in_flight` threads post its requests with ureq
//! and hand the answers back over a channel. Acknowledgements go to the checkpoint, synced before
//! the next request leaves.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use batchwire::core::{
    AppEvent, EventId, Millis, NetError, Overflow, Pipeline, Protocol, Response, TransmitId,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::checkpoint::Checkpoint;
use crate::input::{self, Records};
use crate::{base_config, forced_format, load_mapping, zone, SendArgs};

type Answer = (TransmitId, Result<Response, NetError>);

struct Job {
    id: TransmitId,
    path: &'static str,
    body: Vec<u8>,
}

fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Counts for the progress line and the summary.
#[derive(Default)]
struct Tally {
    delivered: u64,
    failed: u64,
    invalid: u64,
    dropped: u64,
    skipped: u64,
    requests: u64,
    rate_limited: u64,
    retries: u64,
}

impl Tally {
    fn done(&self) -> u64 {
        self.delivered + self.failed + self.invalid + self.dropped + self.skipped
    }
    fn line(&self, retried: u64) -> String {
        format!(
            "delivered {} · retried {} · rejected {}",
            self.delivered,
            retried,
            self.failed + self.invalid
        )
    }
}

pub fn run(args: &SendArgs) -> Result<ExitCode, String> {
    let input = &args.input;
    let mapping = load_mapping(input)?;
    let protocol: Protocol = input.protocol.into();
    let host = match &args.api_host {
        Some(h) => h.trim_end_matches('/').to_string(),
        None => protocol
            .default_host(zone(args.server_zone))
            .ok_or("--api-host is required for /v1-batch")?
            .to_string(),
    };

    let mut config = base_config(protocol, &args.key);
    // HTTP V2 processes each device's events in the order received, and the engine keeps that
    // order across requests only with one in flight (src/core/pipeline/batch.rs).
    config.max_in_flight = match (args.max_in_flight, protocol) {
        (Some(n), Protocol::AmplitudeHttpV2) if n > 1 => {
            eprintln!(
                "batchwire: warning: --max-in-flight {n} on HTTP V2: a device's events may \
                 arrive out of order"
            );
            n
        }
        (Some(n), _) => n.max(1),
        (None, Protocol::AmplitudeHttpV2) => 1,
        (None, _) => 4,
    };
    config.flush_at = protocol.limits().max_events;
    if let Some(n) = args.max_batch_bytes {
        config.max_batch_bytes = n;
    }
    config.flush_interval_ms = 1_000;
    config.max_queue_events = args.read_ahead.max(config.flush_at) * 2;
    config.max_queue_bytes = 1 << 30;
    config.overflow = Overflow::RejectNew;
    config.request_timeout_ms = args.request_timeout_ms;
    config.give_up_after_ms = args.give_up_after_ms;
    config.seed = seed();
    if let Some(v) = args.requests_per_window {
        config.requests_per_window = v;
    }
    if let Some(v) = args.rate_window_ms {
        config.rate_window_ms = v;
    }
    if let Some(v) = args.identity_events_per_second {
        config.identity_events_per_second = v;
    }
    if let Some(v) = args.identity_events_per_day {
        config.identity_events_per_day = v;
    }
    config.backoff_base_ms = args.backoff_base_ms.max(1);
    config.backoff_max_ms = args.backoff_max_ms.max(config.backoff_base_ms);
    if let Some(v) = args.min_id_length {
        config.min_id_length = v;
    }
    let read_ahead = args.read_ahead.max(config.flush_at);
    let mut p = Pipeline::new(config).map_err(|e| e.to_string())?;

    let first = &input.files[0];
    let base = if first == "-" {
        "stdin"
    } else {
        first.as_str()
    };
    let cp_path = args
        .checkpoint
        .clone()
        .unwrap_or_else(|| format!("{base}.batchwire-checkpoint"));
    let rejects_path = args
        .rejects
        .clone()
        .unwrap_or_else(|| format!("{cp_path}.rejects.ndjson"));
    let identity = format!("{} {}", protocol.path(), input.files.join(" "));
    let mut cp = Checkpoint::open(&cp_path, &identity, args.retry_failed)?;
    let mut rejects = BufWriter::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&rejects_path)
            .map_err(|e| format!("rejects {rejects_path}: {e}"))?,
    );

    // The HTTP threads.
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (ans_tx, ans_rx) = mpsc::channel::<Answer>();
    let headers: Vec<(&'static str, String)> = p.headers();
    for _ in 0..p.config().max_in_flight {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(args.request_timeout_ms))
            .redirects(0)
            .build();
        let (rx, tx, headers, host) = (
            job_rx.clone(),
            ans_tx.clone(),
            headers.clone(),
            host.clone(),
        );
        thread::spawn(move || worker(agent, &host, &headers, &rx, &tx));
    }
    drop(ans_tx);

    // Progress: a bar on a terminal, log lines otherwise.
    // Counted ahead only when every input is a regular file: a pipe read twice would be empty
    // the second time.
    let regular = |f: &String| std::fs::metadata(f).is_ok_and(|m| m.is_file());
    let total = if !input.files.iter().all(regular) {
        None
    } else {
        Some(count_records(&input.files))
    };
    let tty = std::io::stderr().is_terminal() && !args.no_progress;
    let bar = if tty {
        let b = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        b.set_draw_target(ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} events  ETA {eta}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };

    let started = Instant::now();
    let mut last_log = Instant::now();
    let mut tally = Tally::default();
    let mut records = Records::new(&input.files, forced_format(input), &mapping);
    let mut input_done = false;
    let mut flushed = false;
    let mut in_flight = 0usize;
    let mut owners: HashMap<EventId, Vec<(usize, u64)>> = HashMap::new();
    let mut read_error = None;

    loop {
        let now = now_ms();
        // Read ahead while there is room.
        let mut budget = 5_000;
        while !input_done && budget > 0 {
            let s = p.stats();
            if s.queued + s.in_flight >= read_ahead {
                break;
            }
            budget -= 1;
            let Some(rec) = records.next() else {
                input_done = true;
                break;
            };
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    read_error = Some(e);
                    input_done = true;
                    break;
                }
            };
            let at = (rec.file, rec.line);
            if cp.done.contains(&at) {
                tally.skipped += 1;
                continue;
            }
            let path = &input.files[rec.file];
            match rec.event {
                Err(e) => {
                    tally.invalid += 1;
                    reject(&mut rejects, path, rec.line, None, "E_PARSE", &e);
                    cp.record('F', [at]);
                }
                Ok(None) => {
                    tally.dropped += 1;
                    cp.record('X', [at]);
                }
                Ok(Some(ev)) => {
                    let mid = ev.message_id.clone();
                    match p.enqueue(now, ev) {
                        Ok(q) => owners.entry(q.id).or_default().push(at),
                        Err(r) => {
                            tally.invalid += 1;
                            reject(
                                &mut rejects,
                                path,
                                rec.line,
                                mid.as_deref(),
                                r.code(),
                                &r.message(),
                            );
                            cp.record('F', [at]);
                        }
                    }
                }
            }
        }
        if input_done && !flushed {
            p.flush(now);
            flushed = true;
        }

        // Answers first: what they deliver is recorded before more leaves.
        record_events(
            &mut p,
            &mut owners,
            &mut tally,
            (&mut cp, &cp_path),
            (&mut rejects, &rejects_path),
            &input.files,
        )?;

        while let Some(t) = p.poll_transmit(now) {
            tally.requests += 1;
            in_flight += 1;
            let job = Job {
                id: t.id,
                path: t.path,
                body: t.body,
            };
            if job_tx.send(job).is_err() {
                return Err("the HTTP threads stopped".into());
            }
        }

        let retried = p.stats().retried;
        let rate = tally.delivered as f64 / started.elapsed().as_secs_f64().max(0.001);
        if let Some(b) = &bar {
            b.set_position(tally.done());
            b.set_message(format!("{rate:.0}/s · {}", tally.line(retried)));
        } else if last_log.elapsed() >= Duration::from_secs(5) {
            last_log = Instant::now();
            eprintln!(
                "batchwire: {} of {} events · {rate:.0}/s · {}",
                tally.done(),
                total.map_or("?".to_string(), |t| t.to_string()),
                tally.line(retried)
            );
        }

        let s = p.stats();
        if input_done && in_flight == 0 && s.queued == 0 && s.in_flight == 0 {
            // Planning may have failed an event (too large for a lowered limit): tell it too.
            record_events(
                &mut p,
                &mut owners,
                &mut tally,
                (&mut cp, &cp_path),
                (&mut rejects, &rejects_path),
                &input.files,
            )?;
            break;
        }

        // Wait for an answer or the engine's next timer (at most 200 ms, for the display).
        let wait = p
            .poll_timeout()
            .map_or(200, |t| t.saturating_sub(now_ms()))
            .min(200);
        match ans_rx.recv_timeout(Duration::from_millis(wait)) {
            Ok(first) => {
                let mut next = Some(first);
                while let Some((id, answer)) = next {
                    in_flight -= 1;
                    let now = now_ms();
                    match answer {
                        Ok(r) => p.handle_response(now, id, r),
                        Err(e) => p.handle_failure(now, id, e),
                    }
                    next = ans_rx.try_recv().ok();
                }
            }
            Err(RecvTimeoutError::Timeout) => p.handle_timeout(now_ms()),
            Err(RecvTimeoutError::Disconnected) => return Err("the HTTP threads stopped".into()),
        }
    }
    drop(job_tx);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }

    let elapsed = started.elapsed().as_secs_f64();
    let stats = p.stats();
    let bad = tally.failed + tally.invalid;
    eprintln!(
        "batchwire: {} delivered, {} rejected or failed ({} invalid), {} dropped by the mapping, \
         {} already in the checkpoint; {} requests, {} retried events, {} rate-limit answers; \
         {:.1} s, {:.0} events/s",
        tally.delivered,
        bad,
        tally.invalid,
        tally.dropped,
        tally.skipped,
        tally.requests,
        stats.retried,
        tally.rate_limited,
        elapsed,
        tally.delivered as f64 / elapsed.max(0.001)
    );
    if bad > 0 {
        eprintln!("batchwire: rejected and failed events are in {rejects_path}");
    }
    println!(
        "{}",
        json!({
            "delivered": tally.delivered, "failed": tally.failed, "invalid": tally.invalid,
            "dropped": tally.dropped, "skipped": tally.skipped, "requests": tally.requests,
            "retried": stats.retried, "rate_limited": tally.rate_limited,
            "elapsed_ms": (elapsed * 1000.0) as u64, "rejects": rejects_path, "checkpoint": cp_path,
        })
    );
    if let Some(e) = read_error {
        return Err(e);
    }
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Tells the checkpoint, the rejects file and the counts what the engine reports, then writes the
/// rejects and syncs the checkpoint (each given with its path, for the error message).
fn record_events(
    p: &mut Pipeline,
    owners: &mut HashMap<EventId, Vec<(usize, u64)>>,
    tally: &mut Tally,
    (cp, cp_path): (&mut Checkpoint, &str),
    (rejects, rejects_path): (&mut impl Write, &str),
    files: &[String],
) -> Result<(), String> {
    while let Some(ev) = p.poll_event() {
        match ev {
            AppEvent::Delivered { ids, .. } => {
                let mut acked = Vec::with_capacity(ids.len());
                for id in ids {
                    acked.extend(owners.remove(&id).unwrap_or_default());
                }
                tally.delivered += acked.len() as u64;
                cp.record('D', acked);
            }
            AppEvent::Failed {
                id,
                message_id,
                reason,
            } => {
                if let Some(at) = owners.remove(&id) {
                    for &(f, l) in &at {
                        reject(
                            rejects,
                            &files[f],
                            l,
                            Some(&message_id),
                            reason.code(),
                            &reason.message(),
                        );
                    }
                    tally.failed += at.len() as u64;
                    cp.record('F', at);
                }
            }
            AppEvent::RateLimited { .. } => tally.rate_limited += 1,
            AppEvent::Retrying { .. } => tally.retries += 1,
            AppEvent::Warning(_) | AppEvent::QuotaHeld { .. } | AppEvent::IdentityPaused { .. } => {
            }
        }
    }
    rejects
        .flush()
        .map_err(|e| format!("rejects {rejects_path}: {e}"))?;
    cp.sync().map_err(|e| format!("checkpoint {cp_path}: {e}"))
}

fn reject(
    out: &mut impl Write,
    file: &str,
    line: u64,
    message_id: Option<&str>,
    code: &str,
    reason: &str,
) {
    let _ = writeln!(
        out,
        "{}",
        json!({"file": file, "line": line, "messageId": message_id, "code": code, "reason": reason})
    );
}

fn worker(
    agent: ureq::Agent,
    host: &str,
    headers: &[(&'static str, String)],
    jobs: &Mutex<Receiver<Job>>,
    answers: &Sender<Answer>,
) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let mut req = agent.post(&format!("{host}{}", job.path));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let answer = match req.send_bytes(&job.body) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => response(r),
            Err(ureq::Error::Transport(_)) => Err(NetError::Network),
        };
        if answers.send((job.id, answer)).is_err() {
            return;
        }
    }
}

fn response(r: ureq::Response) -> Result<Response, NetError> {
    let status = r.status();
    let retry_after = r.header("Retry-After").map(str::to_string);
    let location = r.header("Location").map(str::to_string);
    let mut body = Vec::new();
    r.into_reader()
        .take(1 << 20)
        .read_to_end(&mut body)
        .map_err(|_| NetError::Network)?;
    Ok(Response {
        status,
        retry_after,
        location,
        body,
    })
}

/// Lines in the inputs, for the progress bar's length (a CSV's header counts one too many; blank
/// lines count too: an estimate).
fn count_records(files: &[String]) -> u64 {
    let mut n = 0u64;
    for f in files {
        let Ok(mut r) = input::open(f) else { continue };
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(k) = r.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
    n
}

/// Jitter's seed (messageIds are derived from content, not drawn).
fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ (u64::from(std::process::id()) << 32)
}
