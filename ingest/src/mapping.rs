//! The mapping file (docs/MAPPING.md): event renames, property renames and drops, and CSV columns
//! to event fields. Protocol-neutral: it rewrites the SDK's event fields before the engine sees
//! them, so the backfill CLI and the edge Worker apply the same rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    events: Option<Renames>,
    #[serde(default)]
    properties: Option<Renames>,
    #[serde(default)]
    columns: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Renames {
    #[serde(default)]
    rename: BTreeMap<String, String>,
    #[serde(default)]
    drop: Vec<String>,
}

/// Where a CSV column goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A top-level field: `type`, `event`, `userId`, `anonymousId`, `messageId`, `timestamp`,
    /// `groupId`, `previousId`.
    Field(&'static str),
    /// A member of `properties`, `traits` or `context`, with how to read the cell.
    Member {
        object: &'static str,
        name: String,
        kind: CellKind,
    },
}

/// How a CSV cell becomes a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    String,
    Number,
    Bool,
    Json,
}

pub const FIELDS: [&str; 8] = [
    "type",
    "event",
    "userId",
    "anonymousId",
    "messageId",
    "timestamp",
    "groupId",
    "previousId",
];

/// A loaded, checked mapping.
#[derive(Debug, Default)]
pub struct Mapping {
    pub rename_events: HashMap<String, String>,
    pub drop_events: BTreeSet<String>,
    pub rename_properties: HashMap<String, String>,
    pub drop_properties: BTreeSet<String>,
    /// CSV header name -> target; `None` when the file gave no columns (headers are then read
    /// as field names, `properties.x` style).
    pub columns: Option<HashMap<String, Target>>,
}

impl Mapping {
    pub fn load(path: &str) -> Result<Mapping, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        Mapping::parse(&text).map_err(|e| format!("{path}: {e}"))
    }

    pub fn parse(text: &str) -> Result<Mapping, String> {
        let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Mapping::checked(file)
    }

    /// A mapping given as a JSON value inside another document (the edge configuration's
    /// `sources.NAME.mapping`).
    pub fn from_value(value: serde_json::Value) -> Result<Mapping, String> {
        let file: File = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Mapping::checked(file)
    }

    /// Whether the file gave `columns` (which only CSV input uses: the edge refuses them).
    pub fn has_columns(&self) -> bool {
        self.columns.is_some()
    }

    fn checked(file: File) -> Result<Mapping, String> {
        if let Some(v) = file.version {
            if v != 1 {
                return Err(format!("version {v} is not supported (this build reads 1)"));
            }
        }
        let events = file.events.unwrap_or_default();
        let props = file.properties.unwrap_or_default();
        let mut m = Mapping::default();
        check_renames("events", &events)?;
        check_renames("properties", &props)?;
        m.rename_events = events.rename.into_iter().collect();
        m.drop_events = events.drop.into_iter().collect();
        m.rename_properties = props.rename.into_iter().collect();
        m.drop_properties = props.drop.into_iter().collect();
        if let Some(cols) = file.columns {
            let mut out = HashMap::new();
            let mut seen = BTreeMap::new();
            for (col, target) in cols {
                let t = parse_target(&target).map_err(|e| format!("columns.{col:?}: {e}"))?;
                let key = match &t {
                    Target::Field(f) => f.to_string(),
                    Target::Member { object, name, .. } => format!("{object}.{name}"),
                };
                if let Some(other) = seen.insert(key.clone(), col.clone()) {
                    return Err(format!("columns {other:?} and {col:?} both map to `{key}`"));
                }
                out.insert(col, t);
            }
            m.columns = Some(out);
        }
        Ok(m)
    }

    /// The target of a CSV header when the mapping gives no `columns`: the header itself.
    pub fn default_target(header: &str) -> Result<Target, String> {
        parse_target(header)
    }

    /// The event name after renaming; `None` when the event is dropped.
    pub fn event_name(&self, name: String) -> Option<String> {
        if self.drop_events.contains(&name) {
            return None;
        }
        Some(self.rename_events.get(&name).cloned().unwrap_or(name))
    }

    /// Renames and drops the top-level members of a properties object.
    pub fn properties(
        &self,
        obj: serde_json::Map<String, serde_json::Value>,
    ) -> serde_json::Map<String, serde_json::Value> {
        if self.rename_properties.is_empty() && self.drop_properties.is_empty() {
            return obj;
        }
        obj.into_iter()
            .filter(|(k, _)| !self.drop_properties.contains(k))
            .map(|(k, v)| match self.rename_properties.get(&k) {
                Some(n) => (n.clone(), v),
                None => (k, v),
            })
            .collect()
    }
}

fn check_renames(section: &str, r: &Renames) -> Result<(), String> {
    let mut targets = BTreeMap::new();
    for (from, to) in &r.rename {
        if from.is_empty() || to.is_empty() {
            return Err(format!("{section}.rename: names must not be empty"));
        }
        if r.drop.contains(from) {
            return Err(format!("{section}: {from:?} is both renamed and dropped"));
        }
        if let Some(other) = targets.insert(to.clone(), from.clone()) {
            return Err(format!(
                "{section}.rename: {other:?} and {from:?} are both renamed to {to:?}"
            ));
        }
    }
    if r.drop.iter().any(String::is_empty) {
        return Err(format!("{section}.drop: names must not be empty"));
    }
    Ok(())
}

fn parse_target(s: &str) -> Result<Target, String> {
    if let Some(f) = FIELDS.iter().find(|f| **f == s) {
        return Ok(Target::Field(f));
    }
    let (path, kind) = match s.rsplit_once(':') {
        Some((p, "string")) => (p, CellKind::String),
        Some((p, "number")) => (p, CellKind::Number),
        Some((p, "bool")) => (p, CellKind::Bool),
        Some((p, "json")) => (p, CellKind::Json),
        Some((_, k)) => {
            return Err(format!(
                "unknown cell type `{k}` (string, number, bool or json)"
            ))
        }
        None => (s, CellKind::String),
    };
    for object in ["properties", "traits", "context"] {
        if let Some(name) = path.strip_prefix(object).and_then(|r| r.strip_prefix('.')) {
            if name.is_empty() {
                return Err(format!("`{s}` names no member"));
            }
            return Ok(Target::Member {
                object,
                name: name.to_string(),
                kind,
            });
        }
    }
    Err(format!(
        "`{s}` is not a field ({}) nor properties.NAME / traits.NAME / context.NAME",
        FIELDS.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_refuses_clearly() {
        let m = Mapping::parse(
            r#"{"version":1,"events":{"rename":{"Signed Up":"signup"},"drop":["debug"]},
                "properties":{"rename":{"amt":"amount"},"drop":["secret"]},
                "columns":{"user":"userId","when":"timestamp","price":"properties.price:number"}}"#,
        )
        .unwrap();
        assert_eq!(m.event_name("Signed Up".into()).as_deref(), Some("signup"));
        assert_eq!(m.event_name("debug".into()), None);
        let cols = m.columns.unwrap();
        assert_eq!(cols["user"], Target::Field("userId"));
        assert!(matches!(
            &cols["price"],
            Target::Member {
                object: "properties",
                kind: CellKind::Number,
                ..
            }
        ));
        for (bad, says) in [
            (r#"{"evnts":{}}"#, "unknown field"),
            (
                r#"{"properties":{"rename":{"a":"x","b":"x"}}}"#,
                "both renamed",
            ),
            (
                r#"{"properties":{"rename":{"a":"x"},"drop":["a"]}}"#,
                "renamed and dropped",
            ),
            (r#"{"columns":{"a":"usrId"}}"#, "not a field"),
            (r#"{"columns":{"a":"userId","b":"userId"}}"#, "both map"),
            (
                r#"{"columns":{"a":"properties.x:int"}}"#,
                "unknown cell type",
            ),
            (r#"{"version":2}"#, "not supported"),
        ] {
            let e = Mapping::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            let v: serde_json::Value = serde_json::from_str(bad).unwrap();
            let e = Mapping::from_value(v).unwrap_err();
            assert!(e.contains(says), "{bad} as a value: {e}");
        }
        assert!(!Mapping::parse(r#"{"events":{}}"#).unwrap().has_columns());
        assert!(Mapping::parse(r#"{"columns":{}}"#).unwrap().has_columns());
    }
}
