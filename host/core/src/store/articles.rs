//! The article report: the orders holding an article (or article number
//! prefix) in a time range, with quantity and amount totals.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::domain::money::Money;
use crate::domain::order::{Order, OrderId};

/// One order holding the article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArticleOrder {
    pub order: OrderId,
    pub number: String,
    pub channel: String,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    pub quantity: u64,
    pub amount: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArticleReport {
    pub orders: Vec<ArticleOrder>,
    pub quantity: u64,
    /// Amount totals, one per currency.
    pub amounts: BTreeMap<String, Money>,
}

impl Store {
    /// The orders holding `article` (every article number starting with
    /// it, with `prefix`) created in `[from, to)`, newest first, that
    /// `visible` lets through, with the quantity and amount of those lines
    /// and their totals per currency.
    pub fn article_report(
        &self,
        article: &str,
        prefix: bool,
        from: Timestamp,
        to: Timestamp,
        visible: impl Fn(&Order) -> bool,
    ) -> Result<ArticleReport, StoreError> {
        let mut report = ArticleReport {
            orders: Vec::new(),
            quantity: 0,
            amounts: BTreeMap::new(),
        };
        let matches = |a: &str| {
            if prefix {
                a.starts_with(article)
            } else {
                a == article
            }
        };
        for id in self.orders_with_article(article, from, to)? {
            let Some(order) = self.order(id)? else {
                continue;
            };
            if !visible(&order) {
                continue;
            }
            let mut quantity = 0u64;
            let mut amount = Money::new(0, order.shipping.currency);
            for line in order.lines.iter().filter(|l| matches(&l.article)) {
                quantity += u64::from(line.quantity);
                if let Some(sum) = line.total().and_then(|total| amount.plus(total)) {
                    amount = sum;
                }
            }
            if quantity == 0 {
                continue;
            }
            report.quantity += quantity;
            let key = amount.currency.to_string();
            let sum = report
                .amounts
                .get(&key)
                .and_then(|s| s.plus(amount))
                .unwrap_or(amount);
            report.amounts.insert(key, sum);
            report.orders.push(ArticleOrder {
                order: order.id,
                number: order.number,
                channel: order.channel.to_string(),
                created: order.created,
                quantity,
                amount,
            });
        }
        Ok(report)
    }
}
