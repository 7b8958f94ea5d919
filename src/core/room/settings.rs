//! Checking a pane's request settings against what models accept, and describing the ones that
//! differ from the defaults (shown in the pane's header and notices).

use crate::core::protocol::ModelSettings;

/// Why settings were refused; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("Temperature {0} is out of range: use a number from 0 to 2")]
    Temperature(String),
    #[error("top_p {0} is out of range: use a number from 0 to 1")]
    TopP(String),
    #[error("max tokens must be at least 1")]
    MaxTokensZero,
    #[error("max tokens {asked} is more than this model can write ({limit})")]
    MaxTokensAboveLimit { asked: u32, limit: u64 },
}

/// Whether `s` is acceptable; `max_output` is the model's output limit when the catalog knows it.
pub fn validate_settings(s: &ModelSettings, max_output: Option<u64>) -> Result<(), SettingsError> {
    if let Some(t) = s.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(SettingsError::Temperature(t.to_string()));
    }
    if let Some(p) = s.top_p
        && !(0.0..=1.0).contains(&p)
    {
        return Err(SettingsError::TopP(p.to_string()));
    }
    if let Some(m) = s.max_tokens {
        if m == 0 {
            return Err(SettingsError::MaxTokensZero);
        }
        if let Some(limit) = max_output
            && u64::from(m) > limit
        {
            return Err(SettingsError::MaxTokensAboveLimit { asked: m, limit });
        }
    }
    Ok(())
}

/// The settings that differ from the defaults, short: "temp 0.7 · max 500 · system".
pub fn describe_settings(s: &ModelSettings) -> String {
    let mut parts = Vec::new();
    if let Some(t) = s.temperature {
        parts.push(format!("temp {t}"));
    }
    if let Some(p) = s.top_p {
        parts.push(format!("top_p {p}"));
    }
    if let Some(m) = s.max_tokens {
        parts.push(format!("max {m}"));
    }
    if let Some(r) = &s.reasoning_effort {
        parts.push(format!("reasoning {r}"));
    }
    if s.web_search == Some(true) {
        parts.push("web".into());
    }
    if s.response_format.is_some() {
        parts.push("json".into());
    }
    if s.provider.is_some() {
        parts.push("routing".into());
    }
    if s.system.is_some() {
        parts.push("system".into());
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        let t = |v| ModelSettings { temperature: Some(v), ..ModelSettings::default() };
        assert!(validate_settings(&t(0.7), None).is_ok());
        assert!(validate_settings(&t(9.0), None).is_err());
        assert!(validate_settings(&t(-3.0), None).is_err());
        let m = |v| ModelSettings { max_tokens: Some(v), ..ModelSettings::default() };
        assert_eq!(validate_settings(&m(0), None), Err(SettingsError::MaxTokensZero));
        assert!(validate_settings(&m(100), Some(50)).is_err());
        assert!(validate_settings(&m(50), Some(50)).is_ok());
    }

    #[test]
    fn only_non_defaults_are_described() {
        assert_eq!(describe_settings(&ModelSettings::default()), "");
        let s = ModelSettings { temperature: Some(0.2), system: Some("x".into()), ..ModelSettings::default() };
        assert_eq!(describe_settings(&s), "temp 0.2 · system");
    }
}
