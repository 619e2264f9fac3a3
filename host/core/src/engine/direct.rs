//! An event's own change of an order, before any rule runs.

use super::*;

impl Engine {
    /// The event's own change of the order.
    pub(super) fn direct(
        &self,
        run: &mut Run,
        event: &Event,
        platform: &Platform,
    ) -> Result<(), EngineError> {
        let source = event.actor.source();
        let trigger = event.kind.trigger();
        let order = &mut run.order;
        let field = |run_entries: &mut Vec<HistoryEntry>,
                     name: &str,
                     before: Option<String>,
                     after: Option<String>| {
            run_entries.push(entry(
                &run.event,
                &run.actor,
                run.now,
                None,
                Change::Field {
                    field: name.to_owned(),
                    before,
                    after,
                },
            ));
        };
        match &event.kind {
            EventKind::SetStatus { dimension, to } => {
                check_status(platform, *dimension, to)?;
                if stale(run, event, *dimension, to) {
                    return Ok(());
                }
                let from = run.order.status(*dimension).unwrap_or_default().to_owned();
                if from == *to {
                    // Already there: a no-op, not an error.
                    return Ok(());
                }
                // The platform's own word on its order is taken as it is:
                // it has made the move already.
                if source != Source::Platform && !platform.allows(*dimension, &from, to) {
                    return Err(transition_error(platform, *dimension, &from, to));
                }
                set_status(run, *dimension, to, event.actor.clone(), None);
                if source == Source::User {
                    run.manual.push(*dimension);
                }
                run.triggers.push_back((status_trigger(*dimension), source));
                return Ok(());
            }
            EventKind::PaymentMatched { reference } => {
                field(
                    &mut run.entries,
                    "payment_matched",
                    None,
                    Some(reference.clone().unwrap_or_else(|| "yes".into())),
                );
                if is_cancelled(&run.order, platform) {
                    flag_refund(run);
                }
            }
            EventKind::RefundSettled { reference } => {
                if !order.refund_due {
                    return Err(EngineError::invalid(
                        "order",
                        format!("order {} has no refund due", order.id),
                    ));
                }
                order.refund_due = false;
                field(
                    &mut run.entries,
                    "refund_due",
                    Some("true".into()),
                    Some(reference.clone().unwrap_or_else(|| "false".into())),
                );
                return Ok(());
            }
            EventKind::ShipmentAdded {
                shipment_id,
                packages,
                done,
            } => {
                if shipment_id.trim().is_empty() {
                    return Err(EngineError::invalid(
                        "shipment_id",
                        "shipment_id must not be empty",
                    ));
                }
                for (i, p) in packages.iter().enumerate() {
                    if !platform.carriers.is_empty() && !platform.carriers.contains(&p.carrier) {
                        return Err(EngineError::invalid(
                            format!("packages[{i}].carrier"),
                            format!(
                                "packages[{i}].carrier \"{}\" is not a carrier of plugin {} (known: {})",
                                p.carrier,
                                platform.id,
                                platform.carriers.join(", ")
                            ),
                        ));
                    }
                }
                if order.shipments.iter().any(|s| s.id == *shipment_id) {
                    return Err(EngineError::invalid(
                        "order",
                        format!("order {} already has shipment {shipment_id}", order.id),
                    ));
                }
                order.shipments.push(ShipmentRecord {
                    id: shipment_id.clone(),
                    packages: packages.clone(),
                    done: *done,
                    created: run.now,
                });
                field(
                    &mut run.entries,
                    "shipment",
                    None,
                    Some(shipment_id.clone()),
                );
                if *done {
                    run.triggers.push_back((Trigger::ShipmentAdded, source));
                    run.triggers.push_back((Trigger::ShipmentDone, source));
                    return Ok(());
                }
            }
            EventKind::ShipmentDone { shipment_id } => {
                let Some(s) = order.shipments.iter_mut().find(|s| s.id == *shipment_id) else {
                    let known: Vec<String> = order.shipments.iter().map(|s| s.id.clone()).collect();
                    return Err(EngineError::invalid(
                        "shipment_id",
                        format!(
                            "order {} has no shipment {shipment_id} (known: {})",
                            order.id,
                            list(&known)
                        ),
                    ));
                };
                if s.done {
                    return Ok(());
                }
                s.done = true;
                field(
                    &mut run.entries,
                    "shipment_done",
                    None,
                    Some(shipment_id.clone()),
                );
            }
            EventKind::PackingSlipPrinted => {
                if order.packing_slip_printed {
                    return Ok(());
                }
                order.packing_slip_printed = true;
                field(
                    &mut run.entries,
                    "packing_slip_printed",
                    Some("false".into()),
                    Some("true".into()),
                );
            }
            EventKind::Picked => {
                if order.picked {
                    return Ok(());
                }
                order.picked = true;
                field(
                    &mut run.entries,
                    "picked",
                    Some("false".into()),
                    Some("true".into()),
                );
            }
            EventKind::DeliveryNumberEntered { number } => {
                // The same value again is no news: no rule fires twice for it.
                if order.delivery_number.as_deref() == Some(number.as_str()) {
                    return Ok(());
                }
                let before = order.delivery_number.replace(number.clone());
                field(
                    &mut run.entries,
                    "delivery_number",
                    before,
                    Some(number.clone()),
                );
            }
            EventKind::DeliveredQuantity { line_id, delivered } => {
                let Some(line) = order.lines.iter_mut().find(|l| l.line_id == *line_id) else {
                    let known: Vec<String> =
                        order.lines.iter().map(|l| l.line_id.clone()).collect();
                    return Err(EngineError::invalid(
                        "line_id",
                        format!(
                            "order {} has no line {line_id} (known: {})",
                            order.id,
                            list(&known)
                        ),
                    ));
                };
                if *delivered > line.quantity {
                    return Err(EngineError::invalid(
                        "delivered",
                        format!(
                            "line {line_id}: delivered {delivered} is more than the quantity {}",
                            line.quantity
                        ),
                    ));
                }
                if line.delivered == *delivered {
                    return Ok(());
                }
                let before = line.delivered;
                line.delivered = *delivered;
                field(
                    &mut run.entries,
                    &format!("lines[{line_id}].delivered"),
                    Some(before.to_string()),
                    Some(delivered.to_string()),
                );
            }
            EventKind::ExpectedDeliveryDate { date } => {
                if order.expected_delivery == Some(*date) {
                    return Ok(());
                }
                let before = order.expected_delivery.replace(*date);
                field(
                    &mut run.entries,
                    "expected_delivery",
                    before.map(|d| d.to_string()),
                    Some(date.to_string()),
                );
            }
            EventKind::Approved | EventKind::Rejected => {
                let approved = matches!(event.kind, EventKind::Approved);
                if order.approval != Approval::Pending {
                    return Err(EngineError::invalid(
                        "order",
                        format!(
                            "order {} is not waiting for approval (approval: {:?})",
                            order.id, order.approval
                        ),
                    ));
                }
                order.approval = if approved {
                    Approval::Approved
                } else {
                    Approval::Rejected
                };
                let held = std::mem::take(&mut order.held);
                field(
                    &mut run.entries,
                    "approval",
                    Some("pending".into()),
                    Some(if approved { "approved" } else { "rejected" }.into()),
                );
                if approved {
                    // The approval's own rules first, then those of the
                    // events that waited for it, in the order they came.
                    run.triggers.push_back((trigger, source));
                    run.replayed = held.len();
                    run.triggers
                        .extend(held.into_iter().map(|h| (h.trigger, h.source)));
                    return Ok(());
                }
                if !held.is_empty() {
                    run.history(
                        None,
                        Change::Skipped {
                            action: format!("rules of {} held triggers", held.len()),
                            reason: "the order was rejected".into(),
                        },
                    );
                }
            }
            EventKind::GoodsReceived { article } => {
                field(
                    &mut run.entries,
                    "goods_received",
                    None,
                    Some(article.clone()),
                );
            }
            EventKind::TimePassed | EventKind::Manual => {}
            EventKind::Cancel { notify } => {
                let Some(to) = cancelled_status(platform) else {
                    return Err(EngineError::invalid(
                        "type",
                        format!(
                            "plugin {} has no cancelled order status; set the status by hand instead",
                            platform.id
                        ),
                    ));
                };
                let from = order
                    .status(Dimension::Order)
                    .unwrap_or_default()
                    .to_owned();
                if from == to {
                    return Ok(());
                }
                if !platform.allows(Dimension::Order, &from, &to) {
                    return Err(transition_error(platform, Dimension::Order, &from, &to));
                }
                if stale(run, event, Dimension::Order, &to) {
                    return Ok(());
                }
                run.silent = !notify;
                set_status(run, Dimension::Order, &to, event.actor.clone(), None);
                if source == Source::User {
                    run.manual.push(Dimension::Order);
                }
                run.triggers.push_back((Trigger::StatusChanged, source));
                return Ok(());
            }
            EventKind::Pause | EventKind::Resume => {
                let paused = matches!(event.kind, EventKind::Pause);
                if order.paused == paused {
                    return Ok(());
                }
                order.paused = paused;
                field(
                    &mut run.entries,
                    "paused",
                    Some((!paused).to_string()),
                    Some(paused.to_string()),
                );
                return Ok(());
            }
            EventKind::Assign { to } => {
                if to.as_deref().is_some_and(|t| t.trim().is_empty()) {
                    return Err(EngineError::invalid(
                        "to",
                        "to: must name an operator, or be null to unassign",
                    ));
                }
                if order.assigned_to == *to {
                    return Ok(());
                }
                let before = std::mem::replace(&mut order.assigned_to, to.clone());
                field(&mut run.entries, "assigned_to", before, to.clone());
                return Ok(());
            }
            EventKind::MoveCustomer { customer } => {
                if customer.trim().is_empty() {
                    return Err(EngineError::invalid(
                        "customer",
                        "customer: must not be empty",
                    ));
                }
                if order.customer == *customer {
                    return Ok(());
                }
                let before = std::mem::replace(&mut order.customer, customer.clone());
                field(
                    &mut run.entries,
                    "customer",
                    Some(before),
                    Some(customer.clone()),
                );
                return Ok(());
            }
        }
        run.triggers.push_back((trigger, source));
        Ok(())
    }
}
