//! Email: through an SMTP relay (lettre: STARTTLS or TLS, auth, a pool of
//! connections), or, with no relay configured, as `.eml` files in a folder.
//!
//! Each message's Message-ID is derived from its job's idempotency key, so a
//! mail sent again after a crash carries the same id and is recognisable
//! as the same message (and an `.eml` file is simply written again).

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Delivered, DeliveryError};
use statusport_core::domain::job::{FailureKind, Receipt};
use statusport_core::templates::RenderedEmail;

/// How the connection to the relay is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain SMTP, upgraded with STARTTLS; refused if the relay does not
    /// offer it. Port 587 unless set.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS). Port 465 unless set.
    Tls,
    /// No encryption: only for a relay on the same host or a test server.
    /// Port 25 unless set.
    None,
}

/// The SMTP relay mail goes through.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Seconds to wait for the relay on each step.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Connections kept open to the relay.
    #[serde(default = "default_pool")]
    pub pool_size: u32,
}

fn default_timeout() -> u64 {
    30
}

fn default_pool() -> u32 {
    4
}

/// Where mail goes, and whom it is from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// The sender: `Shop <shop@example.com>`.
    #[serde(default = "default_from")]
    pub from: String,
    /// The relay; with none, mail is written as `.eml` files to `spool_dir`.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// Where mail goes without a relay (default: `<data_dir>/mail`).
    #[serde(default)]
    pub spool_dir: Option<PathBuf>,
}

fn default_from() -> String {
    "Statusport <statusport@localhost>".into()
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            from: default_from(),
            smtp: None,
            spool_dir: None,
        }
    }
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Sends rendered mails.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

/// One mail to send.
pub struct OutgoingMail<'a> {
    pub to: &'a str,
    pub to_name: &'a str,
    pub idempotency_key: &'a str,
    pub rendered: RenderedEmail,
}

impl Mailer {
    /// Builds the mailer; `default_spool` is used without a relay and
    /// without a `spool_dir`. The error names the setting that is wrong.
    pub fn new(config: &MailConfig, default_spool: &Path) -> Result<Mailer, String> {
        let from: Mailbox = config.from.parse().map_err(|e| {
            format!(
                "mail.from \"{}\" is not a mailbox ({e}); write it as \"Shop <shop@example.com>\"",
                config.from
            )
        })?;
        let transport = match &config.smtp {
            Some(smtp) => Transport::Smtp(smtp_transport(smtp)?),
            None => {
                let dir = config
                    .spool_dir
                    .clone()
                    .unwrap_or_else(|| default_spool.to_path_buf());
                std::fs::create_dir_all(&dir).map_err(|e| {
                    format!(
                        "mail.spool_dir {}: cannot create it ({e}); give a writable folder",
                        dir.display()
                    )
                })?;
                Transport::Files(dir)
            }
        };
        Ok(Mailer { from, transport })
    }

    /// Where mail goes, in words for the operator.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "SMTP relay".into(),
            Transport::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// The Message-ID a job's mail carries.
    pub fn message_id(&self, idempotency_key: &str) -> String {
        let digest = Sha256::digest(idempotency_key.as_bytes());
        format!(
            "<{}@{}>",
            hex::encode(&digest[..16]),
            self.from.email.domain()
        )
    }

    pub async fn send(&self, mail: OutgoingMail<'_>) -> Delivered {
        let to: Mailbox = format!("{} <{}>", quote_name(mail.to_name), mail.to)
            .parse()
            .or_else(|_| mail.to.parse())
            .map_err(|e| {
                DeliveryError::permanent(
                    FailureKind::Rejected,
                    format!("email address \"{}\" is not valid ({e})", mail.to),
                )
            })?;
        let message_id = self.message_id(mail.idempotency_key);
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.rendered.subject.clone())
            .message_id(Some(message_id.clone()));
        let message = match mail.rendered.html {
            Some(html) => {
                builder.multipart(MultiPart::alternative_plain_html(mail.rendered.text, html))
            }
            None => builder.singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.rendered.text),
            ),
        }
        .map_err(|e| {
            DeliveryError::permanent(FailureKind::Rejected, format!("building the mail: {e}"))
        })?;
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.send(message).await {
                Ok(response) => Ok(Receipt {
                    reference: Some(message_id),
                    summary: format!(
                        "accepted by the relay: {} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    ),
                }),
                Err(e) => Err(smtp_error(&e)),
            },
            Transport::Files(dir) => {
                let file = dir.join(format!(
                    "{}.eml",
                    message_id
                        .trim_matches(['<', '>'])
                        .replace(['/', '\\'], "_")
                ));
                write_atomically(&file, &message.formatted()).map_err(|e| {
                    DeliveryError::transient(format!("writing {}: {e}", file.display()))
                })?;
                Ok(Receipt {
                    reference: Some(message_id),
                    summary: format!("written to {}", file.display()),
                })
            }
        }
    }
}

fn quote_name(name: &str) -> String {
    format!("\"{}\"", name.replace(['"', '\\', '\r', '\n'], " "))
}

fn smtp_transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    if smtp.host.trim().is_empty() {
        return Err("mail.smtp.host is empty; give the relay's host name".into());
    }
    if smtp.username.is_some() != smtp.password.is_some() {
        return Err("mail.smtp: give both username and password, or neither".into());
    }
    if smtp.pool_size == 0 {
        return Err("mail.smtp.pool_size must be at least 1".into());
    }
    let tls = || {
        TlsParameters::new(smtp.host.clone())
            .map_err(|e| format!("mail.smtp.host \"{}\": {e}", smtp.host))
    };
    let (tls, port) = match smtp.security {
        Security::Starttls => (Tls::Required(tls()?), 587),
        Security::Tls => (Tls::Wrapper(tls()?), 465),
        Security::None => (Tls::None, 25),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port.unwrap_or(port))
        .tls(tls)
        .timeout(Some(Duration::from_secs(smtp.timeout_secs.max(1))))
        .pool_config(PoolConfig::new().max_size(smtp.pool_size));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// A 5xx answer stops the job (535: the credentials); the rest is tried
/// again.
fn smtp_error(e: &lettre::transport::smtp::Error) -> DeliveryError {
    let message = format!("SMTP: {e}");
    if e.is_permanent() {
        let auth = e.status().is_some_and(|code| code.to_string() == "535");
        let kind = if auth {
            FailureKind::Auth
        } else {
            FailureKind::Rejected
        };
        DeliveryError::permanent(kind, message)
    } else {
        DeliveryError::transient(message)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("eml.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
