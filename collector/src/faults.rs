//! Fault injection: random faults from fractions (repeatable with a seed) and a script of exact
//! answers for the next requests, which the SDK's end-to-end tests use to walk every branch of
//! their retry policy deterministically.
//!
//! A scripted step is consumed by the next ingest request whose body was read successfully and
//! whose path matches the step's `path` (no `path`: any ingest path). Steps for other paths wait.

use std::collections::VecDeque;

use serde::Serialize;
use serde_json::{json, Map, Value};

/// The random-fault knobs (flags, `POST /_faults`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultSettings {
    /// Fraction of requests answered with one of `statuses` and not stored.
    pub fail_rate: f64,
    pub statuses: Vec<u16>,
    /// Fraction of requests processed (events stored) and then dropped without a response.
    pub drop_rate: f64,
    pub latency_ms: u64,
    /// Fraction of requests that get `latency_ms`.
    pub latency_rate: f64,
    pub seed: Option<u64>,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            fail_rate: 0.0,
            statuses: vec![500, 502, 503, 504],
            drop_rate: 0.0,
            latency_ms: 0,
            latency_rate: 1.0,
            seed: None,
        }
    }
}

/// One scripted answer.
#[derive(Clone, Debug, Serialize, Default, PartialEq)]
pub struct ScriptStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    pub drop: bool,
    pub delay_ms: u64,
    /// Amplitude `/batch` 429 only: fill `exceeded_daily_quota_*` instead of `throttled_*`.
    pub daily_quota: bool,
}

/// What to do with one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Process it normally.
    Normal,
    /// Answer this without processing (nothing stored). `body: None` means the protocol's
    /// default body for that status.
    Respond {
        status: u16,
        retry_after: Option<String>,
        body: Option<Value>,
        headers: Vec<(String, String)>,
        daily_quota: bool,
    },
    /// Process it normally (events stored), then close the connection without answering.
    Drop,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub delay_ms: u64,
    /// `Some("scripted" | "random")` when a fault was injected.
    pub source: Option<&'static str>,
}

/// splitmix64: tiny, good enough for fault dice, and repeatable from a seed.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn seed_or_time(seed: Option<u64>) -> u64 {
    seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5EED)
    })
}

#[derive(Clone, Debug)]
pub struct FaultState {
    settings: FaultSettings,
    script: VecDeque<ScriptStep>,
    rng: Rng,
}

impl FaultState {
    pub fn new(settings: FaultSettings) -> Self {
        let rng = Rng(seed_or_time(settings.seed));
        FaultState {
            settings,
            script: VecDeque::new(),
            rng,
        }
    }

    /// Decides the fate of one request to `path`, consuming a scripted step if one applies.
    pub fn decide(&mut self, path: &str) -> Decision {
        let pos = self
            .script
            .iter()
            .position(|s| s.path.as_deref().is_none_or(|p| p == path));
        if let Some(step) = pos.and_then(|i| self.script.remove(i)) {
            let action = if step.drop {
                Action::Drop
            } else {
                match step.status {
                    Some(200) | None if step.body.is_none() => Action::Normal,
                    status => Action::Respond {
                        status: status.unwrap_or(200),
                        retry_after: step.retry_after,
                        body: step.body,
                        headers: step.headers,
                        daily_quota: step.daily_quota,
                    },
                }
            };
            return Decision {
                action,
                delay_ms: step.delay_ms,
                source: Some("scripted"),
            };
        }
        let s = &self.settings;
        let delay_ms = if s.latency_ms > 0 && self.rng.unit() < s.latency_rate {
            s.latency_ms
        } else {
            0
        };
        let s = &self.settings;
        let action = if s.fail_rate > 0.0 && self.rng.unit() < s.fail_rate && !s.statuses.is_empty()
        {
            let i = (self.rng.next_u64() % s.statuses.len() as u64) as usize;
            Action::Respond {
                status: s.statuses[i],
                retry_after: None,
                body: None,
                headers: Vec::new(),
                daily_quota: false,
            }
        } else if s.drop_rate > 0.0 && self.rng.unit() < s.drop_rate {
            Action::Drop
        } else {
            Action::Normal
        };
        let source = (action != Action::Normal).then_some("random");
        Decision {
            action,
            delay_ms,
            source,
        }
    }

    /// Applies a `POST /_faults` object. Given fields replace the current ones, absent ones stay;
    /// `"reset": true` first returns everything to off. `script` replaces the pending script.
    /// Validated as a whole: on error nothing changes.
    pub fn apply(&mut self, obj: &Map<String, Value>) -> Result<(), String> {
        let mut next = self.clone();
        if obj.get("reset").and_then(Value::as_bool) == Some(true) {
            next = FaultState::new(FaultSettings::default());
        }
        let default_path = match obj.get("path") {
            None | Some(Value::Null) => None,
            Some(v) => Some(path_of(v)?),
        };
        let s = &mut next.settings;
        for (k, v) in obj {
            match k.as_str() {
                "reset" | "path" => {}
                "fail_rate" => s.fail_rate = fraction(k, v)?,
                "drop_rate" => s.drop_rate = fraction(k, v)?,
                "latency_rate" => s.latency_rate = fraction(k, v)?,
                "latency_ms" => s.latency_ms = uint(k, v)?,
                "statuses" => {
                    let list = v.as_array().ok_or("`statuses` must be an array")?;
                    s.statuses = list.iter().map(status_of).collect::<Result<_, _>>()?;
                    if s.statuses.is_empty() {
                        return Err("`statuses` must not be empty".into());
                    }
                }
                "seed" => {
                    s.seed = if v.is_null() { None } else { Some(uint(k, v)?) };
                    next.rng = Rng(seed_or_time(s.seed));
                }
                "script" => {
                    let steps = v.as_array().ok_or("`script` must be an array of steps")?;
                    next.script = steps
                        .iter()
                        .enumerate()
                        .map(|(i, st)| {
                            step_of(st, &default_path).map_err(|e| format!("script[{i}]: {e}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                _ => return Err(format!("unknown field `{k}`")),
            }
        }
        *self = next;
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "fail_rate": self.settings.fail_rate,
            "statuses": self.settings.statuses,
            "drop_rate": self.settings.drop_rate,
            "latency_ms": self.settings.latency_ms,
            "latency_rate": self.settings.latency_rate,
            "seed": self.settings.seed,
            "script": self.script,
        })
    }
}

fn step_of(v: &Value, default_path: &Option<String>) -> Result<ScriptStep, String> {
    let obj = v.as_object().ok_or("a step must be an object")?;
    let mut step = ScriptStep {
        path: default_path.clone(),
        ..ScriptStep::default()
    };
    for (k, v) in obj {
        match k.as_str() {
            "path" => step.path = Some(path_of(v)?),
            "status" => step.status = Some(status_of(v)?),
            "retry_after" => {
                step.retry_after = Some(match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err("`retry_after` must be a string or a number".into()),
                })
            }
            "body" => step.body = Some(v.clone()),
            "headers" => {
                let h = v
                    .as_object()
                    .ok_or("`headers` must be an object of strings")?;
                for (name, val) in h {
                    let val = val.as_str().ok_or("`headers` values must be strings")?;
                    // Checked here so that building the response later cannot fail.
                    if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
                        || axum::http::HeaderValue::from_str(val).is_err()
                    {
                        return Err(format!("header `{name}` is not a valid HTTP header"));
                    }
                    step.headers.push((name.clone(), val.to_string()));
                }
            }
            "drop" => step.drop = v.as_bool().ok_or("`drop` must be a boolean")?,
            "daily_quota" => {
                step.daily_quota = v.as_bool().ok_or("`daily_quota` must be a boolean")?
            }
            "delay_ms" => step.delay_ms = uint(k, v)?,
            _ => return Err(format!("unknown field `{k}`")),
        }
    }
    if let Some(ra) = &step.retry_after {
        if axum::http::HeaderValue::from_str(ra).is_err() {
            return Err("`retry_after` is not a valid header value".into());
        }
    }
    Ok(step)
}

fn path_of(v: &Value) -> Result<String, String> {
    match v.as_str() {
        Some(p) if crate::ingest::Proto::from_path(p).is_some() => Ok(p.to_string()),
        _ => Err("`path` must be one of /v1-batch, /2/httpapi, /batch".into()),
    }
}

fn status_of(v: &Value) -> Result<u16, String> {
    match v.as_u64() {
        Some(s) if (200..600).contains(&s) => Ok(s as u16),
        _ => Err("a status must be an integer from 200 to 599".into()),
    }
}

fn uint(k: &str, v: &Value) -> Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| format!("`{k}` must be a non-negative integer"))
}

fn fraction(k: &str, v: &Value) -> Result<f64, String> {
    match v.as_f64() {
        Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("`{k}` must be a number between 0 and 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(v: Value) -> FaultState {
        let mut f = FaultState::new(FaultSettings::default());
        f.apply(v.as_object().unwrap()).unwrap();
        f
    }

    #[test]
    fn script_runs_in_order_then_normal_resumes() {
        let mut f = state(json!({"script": [
            {"status": 429, "retry_after": "3"}, {"drop": true}, {"status": 200},
            {"status": 503, "path": "/batch"}
        ]}));
        assert!(matches!(f.decide("/v1-batch").action,
            Action::Respond { status: 429, retry_after: Some(ref r), .. } if r == "3"));
        assert_eq!(f.decide("/2/httpapi").action, Action::Drop);
        let pass = f.decide("/v1-batch");
        assert_eq!(
            (pass.action, pass.source),
            (Action::Normal, Some("scripted"))
        );
        // The /batch step waits for a /batch request.
        assert_eq!(f.decide("/v1-batch").source, None);
        assert!(matches!(
            f.decide("/batch").action,
            Action::Respond { status: 503, .. }
        ));
        assert_eq!(f.decide("/batch").action, Action::Normal);
    }

    #[test]
    fn seeded_dice_repeat() {
        let cfg = json!({"fail_rate": 0.3, "drop_rate": 0.2, "seed": 7});
        let run = |mut f: FaultState| -> Vec<Action> {
            (0..200).map(|_| f.decide("/batch").action).collect()
        };
        let a = run(state(cfg.clone()));
        assert_eq!(a, run(state(cfg)));
        let fails = a
            .iter()
            .filter(|x| matches!(x, Action::Respond { .. }))
            .count();
        assert!(fails > 20 && fails < 110, "{fails}");
    }

    #[test]
    fn bad_input_changes_nothing() {
        let mut f = state(json!({"fail_rate": 0.5}));
        for bad in [
            json!({"fail_rate": 2}),
            json!({"script": [{"status": 99}]}),
            json!({"script": [{"path": "/nope"}]}),
            json!({"script": "x"}),
            json!({"bogus": 1}),
            json!({"script": [{"headers": {"bad name": "x"}}]}),
        ] {
            assert!(f.apply(bad.as_object().unwrap()).is_err(), "{bad}");
        }
        assert_eq!(f.settings.fail_rate, 0.5);
        f.apply(json!({"reset": true}).as_object().unwrap())
            .unwrap();
        assert_eq!(f.settings, FaultSettings::default());
    }
}
