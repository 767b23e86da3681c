//! Per-sample shapes and their inference rules. STUB.
