//! API tokens and roles.
//!
//! A token reads `sp_<id>_<secret>`. The store keeps the id, the owner, the
//! role and the SHA-256 of the secret — never the secret itself, which is
//! shown once when the token is made.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use statusport_core::domain::order::check_id;
use statusport_core::store::{Store, StoreError, keys};

/// What a token may do.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including rules, templates, channels, webhooks and tokens.
    Admin,
    /// Orders, shipments, the outbox, exports and bulk jobs; may approve.
    Approver,
    /// Orders, shipments, the outbox, exports and bulk jobs.
    Operator,
    /// Reads everything but tokens; changes nothing.
    Viewer,
    /// A platform or ERP: creates and reads orders of its own channel and
    /// posts their events and shipments.
    Connector,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
            Role::Connector => "connector",
        }
    }

    /// Whether orders this role enters count as approved.
    pub fn approves(self) -> bool {
        matches!(self, Role::Admin | Role::Approver)
    }

    /// Whether the role may change orders (events, status, shipments).
    pub fn operates(self) -> bool {
        matches!(self, Role::Admin | Role::Approver | Role::Operator)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Token {
    pub id: String,
    /// Who uses it: recorded in order histories and the audit log.
    pub owner: String,
    pub role: Role,
    /// The one channel a connector token may touch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    /// SHA-256 of the secret, hex.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    #[schema(ignore)]
    pub hash: String,
}

/// A new token request.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub owner: String,
    pub role: Role,
    /// Required for (and only for) connector tokens.
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request is wrong: `field` names the part at fault.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The system gave no randomness to make a secret of.
    #[error("no randomness for a token: {0}")]
    NoRandomness(String),
    #[error("token {0} does not exist")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The tokens, cached in memory: each request checks one without touching
/// the store.
pub struct Tokens {
    store: Arc<Store>,
    by_id: RwLock<HashMap<String, Token>>,
}

impl Tokens {
    pub fn open(store: Arc<Store>) -> Result<Tokens, StoreError> {
        let tokens: Vec<Token> = store.records(keys::TOKEN)?;
        Ok(Tokens {
            store,
            by_id: RwLock::new(tokens.into_iter().map(|t| (t.id.clone(), t)).collect()),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Makes a token; the returned text is the only copy of its secret.
    pub fn create(&self, new: NewToken) -> Result<(Token, String), AuthError> {
        check_id("owner", &new.owner).map_err(|e| AuthError::Invalid {
            field: "owner",
            message: format!("owner: {e}"),
        })?;
        match (new.role, &new.channel) {
            (Role::Connector, None) => {
                return Err(AuthError::Invalid {
                    field: "channel",
                    message: "channel: a connector token needs the channel it may touch".into(),
                });
            }
            (Role::Connector, Some(channel)) => {
                if self.store.channel(channel)?.is_none() {
                    return Err(AuthError::Invalid {
                        field: "channel",
                        message: format!(
                            "channel: \"{channel}\" does not exist; create the channel first"
                        ),
                    });
                }
            }
            (role, Some(_)) => {
                return Err(AuthError::Invalid {
                    field: "channel",
                    message: format!(
                        "channel: only connector tokens are scoped to a channel, not {role} tokens"
                    ),
                });
            }
            (_, None) => {}
        }
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| AuthError::NoRandomness(e.to_string()))?;
        let id = hex::encode(&bytes[..4]);
        let secret = hex::encode(&bytes[4..]);
        let token = Token {
            id: id.clone(),
            owner: new.owner,
            role: new.role,
            channel: new.channel,
            created: Timestamp::now(),
            hash: hash(&secret),
        };
        self.store.put_record(keys::TOKEN, &id, &token)?;
        self.store.flush_blocking()?;
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), token.clone());
        Ok((token, format!("sp_{id}_{secret}")))
    }

    pub fn list(&self) -> Vec<Token> {
        let mut tokens: Vec<Token> = self
            .by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        tokens.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        tokens
    }

    pub fn revoke(&self, id: &str) -> Result<Token, AuthError> {
        let removed = self
            .by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
            .ok_or_else(|| AuthError::NotFound(id.to_owned()))?;
        self.store.remove_record(keys::TOKEN, id)?;
        self.store.flush_blocking()?;
        Ok(removed)
    }

    /// The token a bearer text stands for, if it is valid.
    pub fn verify(&self, text: &str) -> Option<Token> {
        let rest = text.strip_prefix("sp_")?;
        let (id, secret) = rest.split_once('_')?;
        let tokens = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let token = tokens.get(id)?;
        // Both sides are digests of fixed length: comparing them leaks
        // nothing about the secret.
        (hash(secret) == token.hash).then(|| token.clone())
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_by_secret_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let tokens = Tokens::open(store.clone()).unwrap();
        let (token, text) = tokens
            .create(NewToken {
                owner: "ada".into(),
                role: Role::Operator,
                channel: None,
            })
            .unwrap();
        assert_eq!(tokens.verify(&text).unwrap().owner, "ada");
        let mut forged = text.clone();
        forged.pop();
        forged.push(if text.ends_with('0') { '1' } else { '0' });
        assert!(tokens.verify(&forged).is_none());
        assert!(tokens.verify("sp_nope_nope").is_none());
        assert!(tokens.verify("Bearer").is_none());
        let stored: Token = store.record(keys::TOKEN, &token.id).unwrap().unwrap();
        assert!(
            !serde_json::to_string(&stored)
                .unwrap()
                .contains(&text[12..])
        );
        drop(tokens);
        let again = Tokens::open(store).unwrap();
        assert_eq!(again.verify(&text).unwrap().id, token.id);
        again.revoke(&token.id).unwrap();
        assert!(again.verify(&text).is_none());
    }

    #[test]
    fn connector_tokens_need_an_existing_channel() {
        let store = Arc::new(Store::temporary().unwrap());
        let tokens = Tokens::open(store).unwrap();
        let e = tokens
            .create(NewToken {
                owner: "erp".into(),
                role: Role::Connector,
                channel: None,
            })
            .unwrap_err();
        assert!(e.to_string().starts_with("channel:"), "{e}");
        let e = tokens
            .create(NewToken {
                owner: "erp".into(),
                role: Role::Connector,
                channel: Some("nowhere".into()),
            })
            .unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = tokens
            .create(NewToken {
                owner: "ada".into(),
                role: Role::Viewer,
                channel: Some("nowhere".into()),
            })
            .unwrap_err();
        assert!(e.to_string().contains("only connector"), "{e}");
    }
}
