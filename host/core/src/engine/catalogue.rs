//! The catalogue: channels, message templates, webhook endpoints and
//! rules, each checked before it is saved.

use super::*;

impl Engine {
    /// Saves a channel after checking that its plugin is loaded and its
    /// required config fields are given.
    pub fn save_channel(&self, channel: &Channel) -> Result<(), EngineError> {
        let platform = self.platform_of(channel)?;
        let missing: Vec<&str> = platform
            .config
            .iter()
            .filter(|f| {
                f.required && f.default_value.is_none() && !channel.config.contains_key(&f.name)
            })
            .map(|f| f.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(EngineError::invalid(
                "config",
                format!(
                    "channel {}: plugin {} needs config for: {}",
                    channel.id,
                    platform.id,
                    missing.join(", ")
                ),
            ));
        }
        let unknown: Vec<&str> = channel
            .config
            .keys()
            .filter(|k| platform.config_field(k).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let known: Vec<String> = platform.config.iter().map(|f| f.name.clone()).collect();
            return Err(EngineError::invalid(
                "config",
                format!(
                    "channel {}: {} is not a config field of plugin {} (known: {})",
                    channel.id,
                    unknown.join(", "),
                    platform.id,
                    list(&known)
                ),
            ));
        }
        if let Some(every) = channel.poll_interval_secs {
            if !Channel::POLL_INTERVAL_SECS.contains(&every) {
                return Err(EngineError::invalid(
                    "poll_interval_secs",
                    format!(
                        "channel {}: poll_interval_secs must be {}–{} seconds, not {every}; leave it out for no polling",
                        channel.id,
                        Channel::POLL_INTERVAL_SECS.start(),
                        Channel::POLL_INTERVAL_SECS.end()
                    ),
                ));
            }
            if !self.platforms.has_intake(&channel.plugin) {
                return Err(EngineError::invalid(
                    "poll_interval_secs",
                    format!(
                        "channel {}: plugin {} takes no orders in (it has no intake, contract 1.1); leave poll_interval_secs out",
                        channel.id, platform.id
                    ),
                ));
            }
        }
        Ok(self.store.put_channel(channel)?)
    }

    /// Deletes a channel that holds no orders and that no rule names.
    pub fn delete_channel(&self, id: &str) -> Result<(), EngineError> {
        if self.store.channel(id)?.is_none() {
            return Err(EngineError::NotFound {
                what: Thing::Channel,
                id: id.to_owned(),
                known: Some(list(
                    &self
                        .store
                        .channels()?
                        .into_iter()
                        .map(|c| c.id.to_string())
                        .collect::<Vec<_>>(),
                )),
            });
        }
        if self.store.channel_has_orders(id)? {
            return Err(Conflict::InUse(format!(
                "channel {id} holds orders; it cannot be deleted (disable its rules instead)"
            ))
            .into());
        }
        let users: Vec<String> = self
            .rules()
            .iter()
            .filter(|r| r.channels.iter().any(|c| c == id))
            .map(|r| r.id.clone())
            .collect();
        if !users.is_empty() {
            return Err(Conflict::InUse(format!(
                "channel {id} is named by rules {}; change them first",
                users.join(", ")
            ))
            .into());
        }
        self.store.remove_channel(id)?;
        Ok(())
    }

    pub fn rules(&self) -> Arc<Vec<Rule>> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every message template, by name.
    pub fn templates(&self) -> Result<Vec<Template>, EngineError> {
        Ok(self.store.records(keys::TEMPLATE)?)
    }

    pub fn template(&self, name: &str) -> Result<Option<Template>, EngineError> {
        Ok(self.store.record(keys::TEMPLATE, name)?)
    }

    /// Saves (creates or replaces) a template after checking that it
    /// compiles and renders a sample order; a replacement must keep the
    /// kind that rules use it as.
    pub fn save_template(&self, template: &Template) -> Result<(), EngineError> {
        let others = self.templates()?;
        let mut problems = match crate::templates::check_template(template, &others) {
            Ok(()) => Vec::new(),
            Err(problems) => problems,
        };
        if let Some(old) = others.iter().find(|t| t.name == template.name)
            && old.kind != template.kind
        {
            let users = self.rules_using(&template.name);
            if !users.is_empty() {
                problems.push(format!(
                    "kind: rules {} use it as an {} template",
                    users.join(", "),
                    old.kind.as_str()
                ));
            }
        }
        if !problems.is_empty() {
            return Err(EngineError::problems(
                "template",
                &format!("template {}", template.name),
                &problems,
            ));
        }
        Ok(self
            .store
            .put_record(keys::TEMPLATE, &template.name, template)?)
    }

    /// Deletes a template no rule uses.
    pub fn delete_template(&self, name: &str) -> Result<(), EngineError> {
        let users = self.rules_using(name);
        if !users.is_empty() {
            return Err(Conflict::InUse(format!(
                "template {name} is used by rules {}; change them first",
                users.join(", ")
            ))
            .into());
        }
        if !self.store.remove_record(keys::TEMPLATE, name)? {
            return Err(EngineError::not_found(Thing::Template, name));
        }
        Ok(())
    }

    /// Saves (creates or replaces) a webhook endpoint after checking it.
    pub fn save_webhook(&self, endpoint: &WebhookEndpoint) -> Result<(), EngineError> {
        crate::domain::notify::check_endpoint(endpoint).map_err(|problems| {
            EngineError::problems("webhook", &format!("webhook {}", endpoint.id), &problems)
        })?;
        Ok(self
            .store
            .put_record(keys::WEBHOOK, &endpoint.id, endpoint)?)
    }

    pub fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, EngineError> {
        Ok(self.store.records(keys::WEBHOOK)?)
    }

    /// Removes an endpoint; deliveries not made yet fail, naming it.
    pub fn delete_webhook(&self, id: &str) -> Result<(), EngineError> {
        if !self.store.remove_record(keys::WEBHOOK, id)? {
            return Err(EngineError::not_found(Thing::Webhook, id));
        }
        Ok(())
    }

    pub(super) fn rules_using(&self, template: &str) -> Vec<String> {
        self.rules()
            .iter()
            .filter(|r| {
                r.then.email.as_deref() == Some(template) || r.then.sms.as_deref() == Some(template)
            })
            .map(|r| r.id.clone())
            .collect()
    }

    /// Checks a rule against the plugins of the channels it covers and the
    /// templates, listing every problem.
    pub fn check_rule(&self, rule: &Rule) -> Result<(), EngineError> {
        let invalid = |problems: Vec<String>| {
            EngineError::problems("rule", &format!("rule {}", rule.id), &problems)
        };
        let mut problems = Vec::new();
        let mut channels = Vec::new();
        for id in &rule.channels {
            match self.store.channel(id)? {
                Some(c) => channels.push(c),
                None => {
                    let known: Vec<String> = self
                        .store
                        .channels()?
                        .into_iter()
                        .map(|c| c.id.to_string())
                        .collect();
                    problems.push(format!(
                        "channel \"{id}\" does not exist (known: {})",
                        list(&known)
                    ));
                }
            }
        }
        let mut platforms = Vec::new();
        for channel in &channels {
            match self.platform_of(channel) {
                Ok(p) => platforms.push(p),
                Err(e) => problems.push(e.to_string()),
            }
        }
        let named = match &rule.platform {
            Some(id) => match self.platforms.platform(id) {
                Some(p) => Some(p),
                None => {
                    problems.push(format!(
                        "platform \"{id}\" is not a loaded plugin (loaded: {})",
                        list(&self.platforms.known())
                    ));
                    None
                }
            },
            None => None,
        };
        let on_platform: Vec<Channel> = match &rule.platform {
            Some(id) => self
                .store
                .channels()?
                .into_iter()
                .filter(|c| &c.plugin == id)
                .collect(),
            None => Vec::new(),
        };
        let templates: BTreeMap<String, TemplateKind> = self
            .templates()?
            .into_iter()
            .map(|t| (t.name, t.kind))
            .collect();
        let scope = RuleScope {
            channels: channels
                .iter()
                .zip(platforms.iter())
                .map(|(c, p)| (c, p.as_ref()))
                .collect(),
            platform: named.as_deref(),
            platform_channels: on_platform.iter().collect(),
            templates: &templates,
        };
        if let Err(more) = rule.validate(&scope) {
            problems.extend(more);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(invalid(problems))
        }
    }

    /// Saves (creates or replaces) a rule; it takes effect for the next event.
    pub fn save_rule(&self, rule: Rule) -> Result<(), EngineError> {
        self.check_rule(&rule)?;
        self.store.put_record(keys::RULE, &rule.id, &rule)?;
        self.reload_rules()
    }

    pub fn delete_rule(&self, id: &str) -> Result<(), EngineError> {
        if !self.store.remove_record(keys::RULE, id)? {
            return Err(EngineError::not_found(Thing::Rule, id));
        }
        self.reload_rules()
    }

    /// Saves every rule of a TOML file, or none: all are checked first.
    pub fn import_rules(&self, toml_text: &str) -> Result<Vec<String>, EngineError> {
        let file = rule::RuleFile::parse(toml_text)
            .map_err(|e| EngineError::invalid("rule", format!("rule file: {e}")))?;
        if file.rule.is_empty() {
            return Err(EngineError::invalid(
                "rule",
                "rule file: holds no [[rule]] tables; see host/rulesets/*.toml for the format",
            ));
        }
        let mut problems = Vec::new();
        for r in &file.rule {
            if let Err(e) = self.check_rule(r) {
                problems.push(e.to_string());
            }
        }
        if !problems.is_empty() {
            return Err(EngineError::invalid("rule", problems.join("\n")));
        }
        for r in &file.rule {
            self.store.put_record(keys::RULE, &r.id, r)?;
        }
        self.reload_rules()?;
        Ok(file.rule.iter().map(|r| r.id.clone()).collect())
    }

    /// Every rule as one TOML file.
    pub fn export_rules(&self) -> String {
        rule::RuleFile {
            rule: self.rules().as_ref().clone(),
        }
        .to_toml()
    }

    pub(super) fn reload_rules(&self) -> Result<(), EngineError> {
        let mut rules: Vec<Rule> = self.store.records(keys::RULE)?;
        sort_rules(&mut rules);
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules);
        Ok(())
    }
}
