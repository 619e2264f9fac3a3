//! Etsy Open API v3 (being written).
