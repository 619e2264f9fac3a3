//! Time and stock: the dunning timer, goods received and the orders
//! waiting for them.

use super::*;

impl Engine {
    /// The dunning timer: a `time_passed` event for every order in a status
    /// that a time rule starts from. The event id carries the day, so one
    /// order gets at most one such event per day. An order whose event
    /// fails is logged, counted (`statusport_timer_failures_total`) and
    /// tried again on the next tick; the others go on.
    pub async fn tick(&self) -> Result<Tick, EngineError> {
        let now = self.now();
        let day = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut candidates = BTreeSet::new();
        let rules = self.rules();
        let channels = self.store.channels()?;
        for rule in rules
            .iter()
            .filter(|r| r.enabled && r.on.contains(&Trigger::TimePassed))
        {
            for channel in channels.iter().filter(|c| rule.covers(c)) {
                for from in &rule.from {
                    candidates.extend(self.store.orders_in_status(
                        channel.id.as_str(),
                        from.dimension,
                        &from.code,
                    )?);
                }
            }
        }
        let mut tick = Tick::default();
        for id in candidates {
            let event = Event::new(
                format!("time:{id}:{day}"),
                id,
                Actor::System,
                EventKind::TimePassed,
            );
            match self.apply(event).await {
                Ok(Outcome::Applied { history, .. }) if !history.is_empty() => tick.applied += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(order = %id, error = %e, "timer rules: the order's time_passed event failed; it is tried again on the next tick");
                    metrics::counter!("statusport_timer_failures_total").increment(1);
                    tick.failed.push((id, e.to_string()));
                }
            }
        }
        match self.resume_wakes().await {
            Ok(n) => tick.woken = n,
            Err(e) => {
                tracing::error!(error = %e, "goods receipts: waking their orders failed; tried again on the next tick")
            }
        }
        Ok(tick)
    }

    /// Goods received: books the receipt once per id — the stock of
    /// `article` goes up by `quantity` — and, when the stock was zero or
    /// less before, wakes every order holding the article with a
    /// `goods_received` event. The booking and the note of the orders to
    /// wake are one write; the orders are woken from that note, here and,
    /// after a crash or a failure, by [`Engine::resume_wakes`] (at start and
    /// on every timer tick), each order exactly once.
    pub async fn goods_received(
        &self,
        article: &str,
        quantity: i64,
        receipt_id: &str,
    ) -> Result<Vec<OrderId>, EngineError> {
        if quantity <= 0 {
            return Err(EngineError::invalid(
                "quantity",
                format!("quantity: goods received for {article} must be positive, not {quantity}"),
            ));
        }
        if receipt_id.trim().is_empty() || receipt_id.len() > 200 {
            return Err(EngineError::invalid(
                "id",
                "id: a goods receipt id must be 1–200 characters (the delivery note's number)",
            ));
        }
        let (booked, new) = self
            .store
            .book_receipt(receipt_id, article, quantity, self.now())?;
        if !new
            && !booked.article.is_empty()
            && (booked.article != article || booked.quantity != quantity)
        {
            return Err(Conflict::ReceiptReused {
                id: booked.id,
                at: booked.at,
                quantity: booked.quantity,
                article: booked.article,
            }
            .into());
        }
        self.store.flush().await?;
        if !self.store.wake_pending(receipt_id)? {
            return Ok(Vec::new());
        }
        self.wake(&booked).await
    }

    /// Wakes the orders of every receipt whose wake-up is still noted;
    /// answers how many receipts were done.
    pub async fn resume_wakes(&self) -> Result<usize, EngineError> {
        let pending = self.store.pending_wakes()?;
        let mut done = 0;
        for receipt in pending {
            self.wake(&receipt).await?;
            done += 1;
        }
        Ok(done)
    }

    /// Sends `goods_received` to every order holding the receipt's article
    /// that existed when it was booked, then drops the note. An order that
    /// has it already is not changed again (the event id is the receipt's).
    pub(super) async fn wake(&self, receipt: &GoodsReceipt) -> Result<Vec<OrderId>, EngineError> {
        let until = receipt
            .at
            .checked_add(jiff::SignedDuration::from_millis(1))
            .unwrap_or(Timestamp::MAX);
        let ids = self.store.orders_with_article(
            &format!("{}\0", receipt.article),
            Timestamp::UNIX_EPOCH,
            until,
        )?;
        let mut touched = Vec::new();
        for id in ids {
            let event = Event::new(
                format!("goods:{}", receipt.id),
                id,
                Actor::System,
                EventKind::GoodsReceived {
                    article: receipt.article.clone(),
                },
            );
            if let Outcome::Applied { .. } = self.apply(event).await? {
                touched.push(id);
            }
        }
        // Not flushed on its own: a note that outlives a crash wakes
        // nobody twice (each order has the receipt's event already).
        self.store.finish_wake(&receipt.id)?;
        Ok(touched)
    }

    pub fn stock(&self, article: &str) -> Result<Stock, EngineError> {
        Ok(self.store.record(keys::STOCK, article)?.unwrap_or(Stock {
            article: article.to_owned(),
            quantity: 0,
            updated: Timestamp::UNIX_EPOCH,
        }))
    }
}
