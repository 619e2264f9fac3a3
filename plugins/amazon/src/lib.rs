//! Amazon Selling Partner API Orders v0 (being written).
