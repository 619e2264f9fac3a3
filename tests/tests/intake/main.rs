//! Intake end to end: orders pulled through a 1.1 plugin into a host that is
//! killed and restarted, and (with the bundled plugins) from fake platforms.

mod crash;
