//! Customers: per channel, as the shops know them. Which channel a customer
//! id is meant in, saving one (checked) and deleting one no order names.

use super::*;
use crate::domain::order::{ChannelId, Customer};

impl Engine {
    /// The channel a customer id is meant in: `named` (the one a request
    /// names, or a connector's own), else the one channel that has the
    /// customer. With `creating`, also the only channel of the store.
    pub fn customer_channel(
        &self,
        customer: &str,
        named: Option<&str>,
        creating: bool,
    ) -> Result<ChannelId, EngineError> {
        if let Some(id) = named {
            return match self.store.channel(id)? {
                Some(channel) => Ok(channel.id),
                None => Err(EngineError::invalid(
                    "channel",
                    format!("channel: \"{id}\" does not exist"),
                )),
            };
        }
        match self.store.customer_channels(customer)?.as_slice() {
            [one] => return Ok(one.clone()),
            [] => {}
            several => {
                let list: Vec<&str> = several.iter().map(ChannelId::as_str).collect();
                return Err(EngineError::invalid(
                    "channel",
                    format!(
                        "channel: customer \"{customer}\" exists on channels {}; name one with ?channel=",
                        list.join(", ")
                    ),
                ));
            }
        }
        match self.store.channels()?.as_slice() {
            [only] if creating => Ok(only.id.clone()),
            _ if creating => Err(EngineError::invalid(
                "channel",
                "channel: customer ids are per channel; name the customer's channel with ?channel= or in the body",
            )),
            _ => Err(EngineError::not_found(Thing::Customer, customer)),
        }
    }

    /// Saves (creates or replaces) a customer of `channel` after checking
    /// its id and phone number; answers the customer as stored.
    pub fn save_customer(
        &self,
        channel: &ChannelId,
        customer: &Customer,
    ) -> Result<Customer, EngineError> {
        if customer.id.trim().is_empty()
            || customer.id.len() > 200
            || customer.id.chars().any(char::is_control)
        {
            return Err(EngineError::invalid(
                "id",
                "id: must be 1–200 characters, none of them control characters",
            ));
        }
        if let Some(phone) = &customer.phone
            && !(phone.starts_with('+')
                && phone.len() >= 8
                && phone[1..].bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(EngineError::invalid(
                "phone",
                format!("phone: \"{phone}\" must be in international form, e.g. +4915112345678"),
            ));
        }
        Ok(self.store.put_customer(channel, customer)?)
    }

    /// Deletes a customer of `channel` that no order names.
    pub fn delete_customer(&self, channel: &ChannelId, customer: &str) -> Result<(), EngineError> {
        let orders = self
            .store
            .orders_of_customer(channel.as_str(), customer)?
            .len();
        if orders > 0 {
            return Err(Conflict::InUse(format!(
                "customer \"{customer}\" of channel {channel} has {orders} order(s): move them to another customer \
                 (POST /api/orders/{{id}}/customer) before deleting it"
            ))
            .into());
        }
        if !self.store.remove_customer(channel.as_str(), customer)? {
            return Err(EngineError::not_found(Thing::Customer, customer));
        }
        Ok(())
    }
}
