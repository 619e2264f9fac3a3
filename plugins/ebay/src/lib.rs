//! eBay Sell Fulfillment API (being written).
