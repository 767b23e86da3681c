//! One module per `nnc` command.

pub mod bench;
pub mod check;
pub mod data;
pub mod eval;
pub mod export;
pub mod gradcheck;
pub mod predict;
pub mod report;
pub mod run;
pub mod show;
pub mod sweep;
