//! BigCommerce Orders v2 (being written).
