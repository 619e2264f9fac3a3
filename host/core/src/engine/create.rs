//! Order creation: a new order checked, numbered and written, or the
//! existing one for the same channel and platform order id.

use super::*;

impl Engine {
    /// Creates an order, or returns the existing one for the same channel and
    /// platform order id (`false` then). `approver` says whether whoever
    /// enters it may approve orders.
    pub async fn create_order(
        &self,
        new: NewOrder,
        actor: Actor,
        approver: bool,
    ) -> Result<(Order, bool), EngineError> {
        if let Some(existing) = self
            .store
            .order_by_platform_id(&new.channel, &new.platform_order_id)?
        {
            return Ok((existing, false));
        }
        // The body names the channel: one that does not exist is a wrong
        // field, not a missing resource.
        let channel = self.channel(&new.channel).map_err(|e| match e {
            EngineError::NotFound { .. } => EngineError::invalid("channel", e.to_string()),
            e => e,
        })?;
        let platform = self.platform_of(&channel)?;
        let order = self.new_order(new, &channel, &platform, &actor, approver)?;
        let event_id = format!("create:{}:{}", channel.id, order.platform_order_id);
        let now = order.created;
        let mut run = Run::new(order.clone(), &event_id, actor.clone(), now);
        run.history(None, Change::Created);
        run.triggers
            .push_back((Trigger::OrderCreated, actor.source()));
        self.run_rules(&mut run, &channel, &platform)?;
        self.finish(&mut run, &channel, &platform);
        let jobs = self.jobs_of(&run, &channel)?;
        let write = run.into_write(None, jobs, actor.source(), "");
        match self.commit(write).await {
            Ok(committed) => Ok((committed.order, true)),
            Err(CommitError::Duplicate { existing, .. }) => {
                let order = self
                    .store
                    .order(existing)?
                    .ok_or(EngineError::not_found(Thing::Order, existing))?;
                Ok((order, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn new_order(
        &self,
        new: NewOrder,
        channel: &Channel,
        platform: &Platform,
        actor: &Actor,
        approver: bool,
    ) -> Result<Order, EngineError> {
        let field = |name: &str, message: String| {
            EngineError::invalid(name, format!("order {name}: {message}"))
        };
        if new.platform_order_id.trim().is_empty() {
            return Err(field("platform_order_id", "must not be empty".into()));
        }
        if new.customer.trim().is_empty() {
            return Err(field("customer", "must not be empty".into()));
        }
        if new.payment_method.trim().is_empty() {
            return Err(field(
                "payment_method",
                "must not be empty (e.g. card, bank_transfer, cash_on_delivery)".into(),
            ));
        }
        let currency: crate::domain::money::Currency =
            new.currency.parse().map_err(|e| field("currency", e))?;
        let mut lines = new.lines;
        for (i, line) in lines.iter_mut().enumerate() {
            if line.article.trim().is_empty() {
                return Err(field(
                    &format!("lines[{i}].article"),
                    "must not be empty".into(),
                ));
            }
            if line.unit_price.currency != currency {
                return Err(field(
                    &format!("lines[{i}].unit_price"),
                    format!(
                        "is in {}, the order is in {currency}",
                        line.unit_price.currency
                    ),
                ));
            }
            if line.delivered > line.quantity {
                return Err(field(
                    &format!("lines[{i}].delivered"),
                    format!(
                        "{} is more than the quantity {}",
                        line.delivered, line.quantity
                    ),
                ));
            }
            if line.line_id.is_empty() {
                line.line_id = (i + 1).to_string();
            }
        }
        let shipping = new.shipping.unwrap_or(Money::new(0, currency));
        if shipping.currency != currency {
            return Err(field(
                "shipping",
                format!("is in {}, the order is in {currency}", shipping.currency),
            ));
        }
        let now = self.now();
        let mut statuses = BTreeMap::new();
        for dimension in platform.dimensions() {
            let code = match new.statuses.get(&dimension) {
                Some(code) => {
                    check_status(platform, dimension, code)?;
                    code.clone()
                }
                None => platform
                    .statuses_of(dimension)
                    .find(|s| s.initial)
                    .or_else(|| platform.statuses_of(dimension).next())
                    .map(|s| s.code.clone())
                    .unwrap_or_default(),
            };
            let set_by = if new.statuses.contains_key(&dimension) {
                actor.clone()
            } else {
                Actor::System
            };
            statuses.insert(
                dimension,
                StatusValue {
                    code,
                    since: now,
                    set_by,
                },
            );
        }
        for dimension in new.statuses.keys() {
            if !statuses.contains_key(dimension) {
                return Err(field(
                    "statuses",
                    format!("plugin {} has no {dimension} statuses", platform.id),
                ));
            }
        }
        let order = Order {
            id: OrderId(self.store.next_id()?),
            version: 0,
            channel: channel.id.clone(),
            platform_order_id: new.platform_order_id,
            number: String::new(),
            invoice_number: None,
            customer: new.customer,
            lines,
            currency: currency.to_string(),
            shipping,
            payment_method: new.payment_method,
            statuses,
            approval: if channel.requires_approval && !approver {
                Approval::Pending
            } else {
                Approval::NotRequired
            },
            expected_delivery: new.expected_delivery,
            delivery_number: None,
            picked: false,
            packing_slip_printed: false,
            paused: false,
            assigned_to: None,
            shipments: Vec::new(),
            fired_once: Vec::new(),
            held: Vec::new(),
            stock_taken: BTreeMap::new(),
            refund_due: false,
            platform_times: BTreeMap::new(),
            created: now,
            updated: now,
            history_len: 0,
        };
        if order.total().is_none() {
            return Err(field("lines", "the order total overflows".into()));
        }
        Ok(order)
    }
}
