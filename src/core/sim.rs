//! Simulation harness (to come).
