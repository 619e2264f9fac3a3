//! Adobe Commerce / Magento 2 REST (being written).
