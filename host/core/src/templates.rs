//! Message templates (minijinja): parsing, checking and rendering an
//! order's mail or SMS. Pure: sending is the service's `notify`.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::domain::notify::{Template, TemplateKind};
use crate::domain::order::{Channel, Customer, Order};
use crate::domain::platform::{Dimension, Platform};

/// The template names an environment knows each part under.
fn part_names(template: &Template) -> Vec<(String, String)> {
    let n = &template.name;
    let mut parts = Vec::new();
    match template.kind {
        TemplateKind::Email => {
            if let Some(subject) = &template.subject {
                parts.push((format!("{n}.subject"), subject.clone()));
            }
            parts.push((format!("{n}.txt"), template.text.clone()));
            if let Some(html) = &template.html {
                parts.push((format!("{n}.html"), html.clone()));
            }
        }
        TemplateKind::Sms => parts.push((format!("{n}.sms"), template.text.clone())),
        TemplateKind::Layout => {
            parts.push((format!("{n}.txt"), template.text.clone()));
            if let Some(html) = &template.html {
                parts.push((format!("{n}.html"), html.clone()));
            }
        }
    }
    parts
}

/// An email as rendered from its template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// Instructions one rendering may run: far more than a mail over an order
/// of a thousand lines takes, and a loop that would never end (or fill the
/// memory) stops with an error instead.
pub const TEMPLATE_FUEL: u64 = 5_000_000;

/// Every template, compiled: what jobs render with.
pub struct Templates {
    env: Environment<'static>,
    kinds: BTreeMap<String, TemplateKind>,
}

impl Templates {
    /// Compiles `templates`; every template that does not compile is named
    /// with the reason.
    pub fn new(templates: &[Template]) -> Result<Templates, Vec<String>> {
        let mut env = Environment::new();
        // A misspelt variable is an error, not an empty string in a mail.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(TEMPLATE_FUEL));
        let mut problems = Vec::new();
        let mut kinds = BTreeMap::new();
        for template in templates {
            kinds.insert(template.name.clone(), template.kind);
            for (name, source) in part_names(template) {
                if let Err(e) = env.add_template_owned(name.clone(), source) {
                    problems.push(format!("template {name}: {}", describe(&e)));
                }
            }
        }
        if problems.is_empty() {
            Ok(Templates { env, kinds })
        } else {
            Err(problems)
        }
    }

    pub fn kind(&self, name: &str) -> Option<TemplateKind> {
        self.kinds.get(name).copied()
    }

    fn render(&self, name: &str, context: &MessageContext) -> Result<String, String> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| format!("template {name}: {}", describe(&e)))?;
        template
            .render(context)
            .map_err(|e| format!("template {name}: {}", describe(&e)))
    }

    pub fn render_email(
        &self,
        name: &str,
        context: &MessageContext,
    ) -> Result<RenderedEmail, String> {
        match self.kind(name) {
            Some(TemplateKind::Email) => {}
            other => return Err(wrong_kind(name, other, TemplateKind::Email)),
        }
        let subject = self.render(&format!("{name}.subject"), context)?;
        let html = if self.env.get_template(&format!("{name}.html")).is_ok() {
            Some(self.render(&format!("{name}.html"), context)?)
        } else {
            None
        };
        Ok(RenderedEmail {
            // A subject is one line.
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: self.render(&format!("{name}.txt"), context)?,
            html,
        })
    }

    pub fn render_sms(&self, name: &str, context: &MessageContext) -> Result<String, String> {
        match self.kind(name) {
            Some(TemplateKind::Sms) => {}
            other => return Err(wrong_kind(name, other, TemplateKind::Sms)),
        }
        Ok(self
            .render(&format!("{name}.sms"), context)?
            .trim()
            .to_owned())
    }
}

fn wrong_kind(name: &str, found: Option<TemplateKind>, wanted: TemplateKind) -> String {
    match found {
        None => format!("template \"{name}\" does not exist"),
        Some(kind) => format!(
            "template \"{name}\" is a {} template, not an {} template",
            kind.as_str(),
            wanted.as_str()
        ),
    }
}

/// minijinja's error with the line it points at and, where it knows it,
/// the expression at fault (`undefined value at \`order.nubmer\``).
fn describe(e: &minijinja::Error) -> String {
    let detail = match e.kind() {
        minijinja::ErrorKind::OutOfFuel => format!(
            "the template ran more than {TEMPLATE_FUEL} steps without finishing; loop over the order's lines, not over large ranges"
        ),
        _ => e
            .detail()
            .map(str::to_owned)
            .unwrap_or_else(|| e.kind().to_string()),
    };
    let at = match (e.template_source(), e.range()) {
        (Some(source), Some(range)) => source
            .get(range)
            .map(|s| format!(" at `{}`", s.trim()))
            .unwrap_or_default(),
        _ => String::new(),
    };
    match e.line() {
        Some(line) => format!("line {line}: {detail}{at}"),
        None => format!("{detail}{at}"),
    }
}

/// Checks a template before it is saved: its fields fit its kind, it
/// compiles beside the others, and it renders against a sample order
/// without naming a variable that does not exist. Every problem is listed.
pub fn check_template(template: &Template, others: &[Template]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if let Err(e) = crate::domain::order::check_id("template name", &template.name) {
        problems.push(e);
    }
    match template.kind {
        TemplateKind::Email => {
            if template
                .subject
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
            {
                problems.push("subject: an email template needs a subject".into());
            }
        }
        TemplateKind::Sms => {
            if template.subject.is_some() || template.html.is_some() {
                problems
                    .push("an sms template has only `text`; remove `subject` and `html`".into());
            }
        }
        TemplateKind::Layout => {
            if template.subject.is_some() {
                problems.push("a layout has no subject; remove `subject`".into());
            }
        }
    }
    if template.text.trim().is_empty() {
        problems.push("text: must not be empty".into());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut all: Vec<Template> = others
        .iter()
        .filter(|t| t.name != template.name)
        .cloned()
        .collect();
    all.push(template.clone());
    let templates = Templates::new(&all)?;
    let sample = MessageContext::sample();
    let result = match template.kind {
        TemplateKind::Email => templates.render_email(&template.name, &sample).map(|_| ()),
        TemplateKind::Sms => templates.render_sms(&template.name, &sample).map(|_| ()),
        TemplateKind::Layout => Ok(()),
    };
    result.map_err(|e| {
        vec![format!(
            "{e} (variables: order, customer, status, payment_status, shipments, tracking, channel)"
        )]
    })
}

/// What a template sees.
#[derive(Clone, Debug, Serialize)]
pub struct MessageContext {
    pub order: OrderView,
    pub customer: CustomerView,
    /// The order's status in the order dimension.
    pub status: StatusView,
    pub payment_status: Option<StatusView>,
    pub shipments: Vec<ShipmentView>,
    /// Every package of the done shipments, for "track your parcel" links.
    pub tracking: Vec<TrackingView>,
    pub channel: ChannelView,
}

#[derive(Clone, Debug, Serialize)]
pub struct OrderView {
    pub id: u64,
    pub number: String,
    pub invoice_number: Option<String>,
    pub platform_order_id: String,
    pub created: String,
    pub currency: String,
    /// "119.00 EUR".
    pub total: String,
    pub payment_method: String,
    pub expected_delivery: Option<String>,
    pub lines: Vec<LineView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LineView {
    pub article: String,
    pub name: String,
    pub quantity: u32,
    pub delivered: u32,
    pub unit_price: String,
    pub total: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StatusView {
    pub code: String,
    pub label: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ShipmentView {
    pub id: String,
    pub done: bool,
    pub packages: Vec<TrackingView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrackingView {
    pub carrier: String,
    pub number: String,
    pub url: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
}

impl MessageContext {
    pub fn new(
        order: &Order,
        customer: &Customer,
        channel: &Channel,
        platform: Option<&Platform>,
    ) -> MessageContext {
        let status_of = |dimension: Dimension| {
            order.status(dimension).map(|code| StatusView {
                code: code.to_owned(),
                label: platform
                    .and_then(|p| p.status(dimension, code))
                    .map(|s| s.label.clone())
                    .unwrap_or_else(|| code.to_owned()),
            })
        };
        let money = |m: Option<crate::domain::money::Money>| {
            m.map(|m| m.to_string()).unwrap_or_else(|| "?".into())
        };
        let package = |p: &crate::domain::shipment::Package| TrackingView {
            carrier: p.carrier.clone(),
            number: p.tracking_number.clone(),
            url: p.tracking_url.clone(),
        };
        MessageContext {
            order: OrderView {
                id: order.id.0,
                number: order.number.clone(),
                invoice_number: order.invoice_number.clone(),
                platform_order_id: order.platform_order_id.clone(),
                created: order.created.to_string(),
                currency: order.currency.clone(),
                total: money(order.total()),
                payment_method: order.payment_method.clone(),
                expected_delivery: order.expected_delivery.map(|d| d.to_string()),
                lines: order
                    .lines
                    .iter()
                    .map(|l| LineView {
                        article: l.article.clone(),
                        name: l.name.clone(),
                        quantity: l.quantity,
                        delivered: l.delivered,
                        unit_price: l.unit_price.to_string(),
                        total: money(l.total()),
                    })
                    .collect(),
            },
            customer: CustomerView {
                id: customer.id.clone(),
                name: customer.name.clone(),
                email: customer.email.clone(),
                phone: customer.phone.clone(),
            },
            status: status_of(Dimension::Order).unwrap_or(StatusView {
                code: String::new(),
                label: String::new(),
            }),
            payment_status: status_of(Dimension::Payment),
            shipments: order
                .shipments
                .iter()
                .map(|s| ShipmentView {
                    id: s.id.clone(),
                    done: s.done,
                    packages: s.packages.iter().map(package).collect(),
                })
                .collect(),
            tracking: order
                .shipments
                .iter()
                .filter(|s| s.done)
                .flat_map(|s| s.packages.iter().map(package))
                .collect(),
            channel: ChannelView {
                id: channel.id.to_string(),
                name: channel.name.clone(),
            },
        }
    }

    /// A made-up order with every field set: templates are checked against
    /// it when they are saved.
    pub fn sample() -> MessageContext {
        let tracking = TrackingView {
            carrier: "dhl".into(),
            number: "00340434161094042557".into(),
            url: Some("https://www.dhl.de/track?piececode=00340434161094042557".into()),
        };
        MessageContext {
            order: OrderView {
                id: 1,
                number: "10001".into(),
                invoice_number: Some("INV-10001".into()),
                platform_order_id: "4711".into(),
                created: "2026-11-23T09:00:00Z".into(),
                currency: "EUR".into(),
                total: "119.00 EUR".into(),
                payment_method: "card".into(),
                expected_delivery: Some("2026-11-26".into()),
                lines: vec![LineView {
                    article: "A-100".into(),
                    name: "Teapot".into(),
                    quantity: 1,
                    delivered: 1,
                    unit_price: "119.00 EUR".into(),
                    total: "119.00 EUR".into(),
                }],
            },
            customer: CustomerView {
                id: "c-1".into(),
                name: "Ada Lovelace".into(),
                email: Some("ada@example.com".into()),
                phone: Some("+4915112345678".into()),
            },
            status: StatusView {
                code: "shipped".into(),
                label: "Shipped".into(),
            },
            payment_status: Some(StatusView {
                code: "paid".into(),
                label: "Paid".into(),
            }),
            shipments: vec![ShipmentView {
                id: "s-1".into(),
                done: true,
                packages: vec![tracking.clone()],
            }],
            tracking: vec![tracking],
            channel: ChannelView {
                id: "shop".into(),
                name: "Web shop".into(),
            },
        }
    }
}

/// The templates Statusport ships: the mails the shipped rule sets send,
/// and the layout they extend. TOML files under `host/templates/`.
pub const SHIPPED_TEMPLATES: &[(&str, &str)] = &[
    ("base", include_str!("../../templates/base.toml")),
    (
        "payment-received",
        include_str!("../../templates/payment-received.toml"),
    ),
    (
        "bank-details",
        include_str!("../../templates/bank-details.toml"),
    ),
    ("shipped", include_str!("../../templates/shipped.toml")),
    (
        "reminder-1",
        include_str!("../../templates/reminder-1.toml"),
    ),
    (
        "reminder-2",
        include_str!("../../templates/reminder-2.toml"),
    ),
    (
        "order-rejected",
        include_str!("../../templates/order-rejected.toml"),
    ),
    (
        "order-cancelled",
        include_str!("../../templates/order-cancelled.toml"),
    ),
    (
        "shipped-sms",
        include_str!("../../templates/shipped-sms.toml"),
    ),
];

/// Reads a template from TOML; the error names the field.
pub fn parse_template(name: &str, text: &str) -> Result<Template, String> {
    toml::from_str(text).map_err(|e| format!("template file {name}: {}", e.message()))
}
