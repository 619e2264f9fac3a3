//! Allegro REST API (being written).
