//! The delivery engine. Deterministic and sans-IO: it never reads a clock, never draws randomness
//! of its own and performs no IO.
