//! The Allegro plugin against the fake Allegro REST API and its token
//! endpoint, through the real runtime, and `statusport plugin check`.

use statusport_tests::fake::allegro as fake;
mod tests;
