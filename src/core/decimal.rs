//! Exact decimals from JSON: money arrives as JSON numbers or decimal strings and must not
//! drift through binary floating point.

use std::borrow::Cow;
use std::str::FromStr;

use rust_decimal::Decimal;

/// Exact decimal from a JSON number (or numeric string). serde_json keeps non-integers as
/// `f64` and prints them as the shortest round-tripping text, e.g. `7.2e-6`, so both plain and
/// scientific forms must parse; that text is exact for the ≤17 significant digits prices have.
pub fn decimal_from_json(v: &serde_json::Value) -> Option<Decimal> {
    let text = match v {
        serde_json::Value::Number(n) => Cow::Owned(n.to_string()),
        serde_json::Value::String(s) => Cow::Borrowed(s.trim()),
        _ => return None,
    };
    Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)).ok().map(|d| d.normalize())
}
