//! halab: render, start, break and judge an nginx + keepalived + HAProxy lab.
//!
//! Data flows one way: `lab` (a validated lab file) → `render` (files) →
//! `engine` (Docker) → `timeline` (what the probe and watchers saw) →
//! `verdict` (budgets judged) → `store` (runs on disk) → `report`. What a
//! scenario does and expects is one entry of the `scenario` catalogue; a run's
//! whole setting (plan, budgets, probe) is its `spec`, stored with it.
//! `lifecycle` (up, down, status, logs) and `chaos` read the nodes through
//! `observe`; `ui` draws the progress lines. `userconf` reads users' own
//! configs; `lint` and `import` run its rules on labs and compose projects.

pub mod app;
pub mod chaos;
pub mod checks;
pub mod cli;
pub mod engine;
pub mod image;
pub mod import;
pub mod lab;
pub mod lifecycle;
pub mod lint;
pub mod observe;
pub mod probe;
pub mod render;
pub mod report;
pub mod scenario;
pub mod shipped;
pub mod spec;
pub mod store;
pub mod suggest;
pub mod sweep;
pub mod textfile;
pub mod timeline;
pub mod tune;
pub mod ui;
pub mod userconf;
pub mod verdict;
