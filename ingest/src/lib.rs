//! Outside JSON to batchwire's `EventInput`: the mapping file (docs/MAPPING.md) and the
//! /v1-batch-shaped event-object parser, one implementation for the backfill CLI (NDJSON and CSV
//! files) and the edge Worker (request bodies).

pub mod event;
pub mod mapping;

pub use event::{build, parse_iso8601, parse_ndjson};
pub use mapping::Mapping;
