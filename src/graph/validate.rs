//! Whole-graph checks. STUB.
