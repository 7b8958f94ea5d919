//! The built-in `current_time` tool: the current date and time in an IANA time zone (jiff's
//! bundled zone database, so the answer does not depend on the machine's).

pub const DESCRIPTION: &str = "The current date, time and weekday in a time zone given by its IANA name.";

/// The JSON Schema of the tool's arguments.
pub fn parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": "IANA time zone name, e.g. \"Asia/Tokyo\", \"Europe/Oslo\", \"America/New_York\" or \"UTC\""
            }
        },
        "required": ["timezone"],
        "additionalProperties": false
    })
}

/// The time in `zone` at `now`: `2026-08-25 18:47:14 JST (UTC+09:00), Tuesday, Asia/Tokyo`.
pub fn time_in(zone: &str, now: jiff::Timestamp) -> Result<String, String> {
    let name = zone.trim();
    if name.is_empty() {
        return Err("No time zone given: pass an IANA name such as \"Asia/Tokyo\" or \"UTC\".".into());
    }
    let tz = jiff::tz::TimeZone::get(name).map_err(|_| unknown_zone(name))?;
    let zoned = now.to_zoned(tz);
    let shown = zoned.time_zone().iana_name().unwrap_or(name).to_owned();
    Ok(format!("{}, {shown}", zoned.strftime("%Y-%m-%d %H:%M:%S %Z (UTC%:z), %A")))
}

/// The error for a name the database lacks, suggesting the zone whose last part matches
/// ("Tokyo" → "Asia/Tokyo"), since that is the usual mistake.
fn unknown_zone(name: &str) -> String {
    let wanted = name.replace(' ', "_").to_ascii_lowercase();
    let suggestion = jiff::tz::db()
        .available()
        .map(|n| n.to_string())
        .find(|n| n.rsplit('/').next().is_some_and(|last| last.to_ascii_lowercase() == wanted));
    let hint = match suggestion {
        Some(s) => format!(" Did you mean \"{s}\"?"),
        None => " Pass an IANA name such as \"Asia/Tokyo\", \"Europe/Oslo\" or \"America/New_York\".".into(),
    };
    let shown: String = name.chars().take(60).collect();
    format!("Unknown time zone \"{shown}\".{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_offsets_and_suggestions() {
        // 2026-08-25T09:47:14Z
        let now = jiff::Timestamp::from_second(1_787_651_234).unwrap();
        assert_eq!(time_in("Asia/Tokyo", now).unwrap(), "2026-08-25 18:47:14 JST (UTC+09:00), Tuesday, Asia/Tokyo");
        assert_eq!(time_in("UTC", now).unwrap(), "2026-08-25 09:47:14 UTC (UTC+00:00), Tuesday, UTC");
        assert!(time_in("America/Los_Angeles", now).unwrap().starts_with("2026-08-25 02:47:14 PDT (UTC-07:00)"));
        assert!(time_in("asia/tokyo", now).unwrap().contains("JST"), "names are case-insensitive");
        let err = time_in("Tokyo", now).unwrap_err();
        assert!(err.contains("Did you mean \"Asia/Tokyo\"?"), "{err}");
        let err = time_in("New York", now).unwrap_err();
        assert!(err.contains("America/New_York"), "{err}");
        assert!(time_in("Mars/Olympus", now).unwrap_err().contains("IANA name"));
        assert!(time_in(" ", now).unwrap_err().contains("No time zone"));
    }
}
