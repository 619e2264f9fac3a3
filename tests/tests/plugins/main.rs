//! End-to-end tests of the plugin runtime: the real plugins, built to
//! `wasm32-wasip2`, against fake platforms on loopback.

mod cli;
mod contracts;
mod describe;
mod faults;
mod intake;
mod registry;
mod shopware;
mod woocommerce;
