//! The mapping file: in the `batchwire-ingest` crate, which the edge Worker shares.

pub use batchwire_ingest::mapping::*;
