//! The built-in `calculator` tool: a small exact-decimal arithmetic parser (+ - * / ^ %,
//! parentheses, unary signs, decimals), so `0.1 + 0.2` is `0.3` and not a float surprise, with
//! errors that tell the model what it may write instead.

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

/// Longest expression accepted; anything longer is not arithmetic a person asked for.
const MAX_LEN: usize = 2000;
/// Deepest nesting of parentheses and unary signs (the parser recurses once per level).
const MAX_DEPTH: usize = 64;
/// Decimal places kept in results (1/3 → 0.333333333333333).
const RESULT_DP: u32 = 15;

/// The JSON Schema of the tool's arguments.
pub fn parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "description": "Arithmetic on decimal numbers with + - * / ^ (power) % (remainder) and parentheses, e.g. \"(17*23 + 0.5) / 2\""
            }
        },
        "required": ["expression"],
        "additionalProperties": false
    })
}

pub const DESCRIPTION: &str = "Evaluate an arithmetic expression exactly (decimal numbers, + - * / ^ %, parentheses). Use it for any calculation.";

/// Evaluate `expr`; the error is a sentence for the model.
pub fn evaluate(expr: &str) -> Result<String, String> {
    if expr.trim().is_empty() {
        return Err("The expression is empty: pass arithmetic such as \"17*23\".".into());
    }
    if expr.chars().count() > MAX_LEN {
        return Err(format!("The expression is longer than {MAX_LEN} characters: split the calculation."));
    }
    let tokens = tokenize(expr)?;
    let mut p = Parser { tokens: &tokens, pos: 0, depth: 0 };
    let value = p.expr()?;
    if let Some(t) = p.tokens.get(p.pos) {
        return Err(format!(
            "Unexpected {} at position {}: an operator or the end of the expression was expected.",
            t.kind.describe(),
            t.at + 1
        ));
    }
    Ok(format(value))
}

fn format(v: Decimal) -> String {
    let v = v.round_dp(RESULT_DP).normalize();
    // `-0` after rounding a tiny negative number reads oddly.
    if v.is_zero() { "0".into() } else { v.to_string() }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Num(Decimal),
    Op(char),
    Open,
    Close,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Num(n) => format!("number {n}"),
            Kind::Op(c) => format!("'{c}'"),
            Kind::Open => "'('".into(),
            Kind::Close => "')'".into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    /// Character position, for messages.
    at: usize,
}

fn tokenize(expr: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '0'..='9' | '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                if text == "." || text.matches('.').count() > 1 {
                    return Err(format!("'{text}' at position {} is not a number.", start + 1));
                }
                let n = text
                    .parse::<Decimal>()
                    .map_err(|_| format!("The number '{text}' at position {} is too long or too large.", start + 1))?;
                out.push(Token { kind: Kind::Num(n), at: start });
                continue;
            }
            '+' | '-' | '−' => Kind::Op(if c == '+' { '+' } else { '-' }),
            '*' | '×' | '·' => {
                // `**` is a common spelling of power.
                if c == '*' && chars.get(i + 1) == Some(&'*') {
                    i += 1;
                    Kind::Op('^')
                } else {
                    Kind::Op('*')
                }
            }
            '/' | '÷' => Kind::Op('/'),
            '^' => Kind::Op('^'),
            '%' => Kind::Op('%'),
            '(' => Kind::Open,
            ')' => Kind::Close,
            ',' => {
                return Err(format!(
                    "',' at position {}: write numbers without thousands separators and use '.' for decimals.",
                    i + 1
                ));
            }
            other => {
                return Err(format!(
                    "'{other}' at position {} is not supported: the calculator understands numbers, + - * / ^ % and parentheses only (no functions, variables or units).",
                    i + 1
                ));
            }
        };
        out.push(Token { kind, at: i });
        i += 1;
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<Kind> {
        self.tokens.get(self.pos).map(|t| t.kind)
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("The expression nests deeper than {MAX_DEPTH} levels."));
        }
        Ok(())
    }

    /// expr := term (('+' | '-') term)*
    fn expr(&mut self) -> Result<Decimal, String> {
        let mut acc = self.term()?;
        while let Some(Kind::Op(op @ ('+' | '-'))) = self.peek() {
            self.pos += 1;
            let rhs = self.term()?;
            acc = if op == '+' { acc.checked_add(rhs) } else { acc.checked_sub(rhs) }.ok_or_else(too_large)?;
        }
        Ok(acc)
    }

    /// term := unary (('*' | '/' | '%') unary)*
    fn term(&mut self) -> Result<Decimal, String> {
        let mut acc = self.unary()?;
        while let Some(Kind::Op(op @ ('*' | '/' | '%'))) = self.peek() {
            self.pos += 1;
            let rhs = self.unary()?;
            acc = match op {
                '*' => acc.checked_mul(rhs).ok_or_else(too_large)?,
                _ if rhs.is_zero() => {
                    return Err(if op == '/' {
                        "Division by zero.".into()
                    } else {
                        "Remainder by zero (% is the remainder of a division).".into()
                    });
                }
                '/' => acc.checked_div(rhs).ok_or_else(too_large)?,
                _ => acc.checked_rem(rhs).ok_or_else(too_large)?,
            };
        }
        Ok(acc)
    }

    /// unary := ('+' | '-') unary | power. `-2^2` is `-(2^2)`, as in mathematics.
    fn unary(&mut self) -> Result<Decimal, String> {
        if let Some(Kind::Op(op @ ('+' | '-'))) = self.peek() {
            self.pos += 1;
            self.enter()?;
            let v = self.unary()?;
            self.depth -= 1;
            return Ok(if op == '-' { -v } else { v });
        }
        self.power()
    }

    /// power := primary ('^' unary)?, right-associative (`2^3^2` is `2^9`).
    fn power(&mut self) -> Result<Decimal, String> {
        let base = self.primary()?;
        if let Some(Kind::Op('^')) = self.peek() {
            self.pos += 1;
            self.enter()?;
            let exp = self.unary()?;
            self.depth -= 1;
            return pow(base, exp);
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Decimal, String> {
        let at = self.tokens.get(self.pos).map(|t| t.at + 1);
        match self.peek() {
            Some(Kind::Num(n)) => {
                self.pos += 1;
                Ok(n)
            }
            Some(Kind::Open) => {
                self.pos += 1;
                self.enter()?;
                let v = self.expr()?;
                self.depth -= 1;
                if self.peek() != Some(Kind::Close) {
                    return Err("A '(' is never closed: add the missing ')'.".into());
                }
                self.pos += 1;
                Ok(v)
            }
            Some(other) => Err(format!(
                "Unexpected {} at position {}: a number or '(' was expected.",
                other.describe(),
                at.unwrap_or(0)
            )),
            None => Err("The expression ends too early: a number or '(' was expected.".into()),
        }
    }
}

fn too_large() -> String {
    "The result is too large (beyond 28 significant digits).".into()
}

/// Exact for whole exponents (repeated squaring); through `f64` for fractional ones.
fn pow(base: Decimal, exp: Decimal) -> Result<Decimal, String> {
    if exp.fract().is_zero() {
        let n = exp.to_i64().filter(|n| n.unsigned_abs() <= 10_000).ok_or("The exponent is too large.")?;
        if base.is_zero() && n < 0 {
            return Err("Zero cannot be raised to a negative power (division by zero).".into());
        }
        let mut result = Decimal::ONE;
        let mut square = base;
        let mut k = n.unsigned_abs();
        while k > 0 {
            if k & 1 == 1 {
                result = result.checked_mul(square).ok_or_else(too_large)?;
            }
            k >>= 1;
            if k > 0 {
                square = square.checked_mul(square).ok_or_else(too_large)?;
            }
        }
        return if n < 0 { Decimal::ONE.checked_div(result).ok_or_else(too_large) } else { Ok(result) };
    }
    let (b, e) = (base.to_f64().unwrap_or(f64::NAN), exp.to_f64().unwrap_or(f64::NAN));
    let r = b.powf(e);
    if r.is_nan() {
        return Err(format!("{base}^{exp} is not a real number (a negative base needs a whole exponent)."));
    }
    Decimal::from_f64(r).ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(e: &str) -> String {
        evaluate(e).unwrap_or_else(|err| panic!("{e}: {err}"))
    }

    #[test]
    fn arithmetic_and_precedence() {
        assert_eq!(ok("17*23"), "391");
        assert_eq!(ok("2 + 3 * 4"), "14");
        assert_eq!(ok("(2 + 3) * 4"), "20");
        assert_eq!(ok("10 - 4 - 3"), "3");
        assert_eq!(ok("2^3^2"), "512");
        assert_eq!(ok("-2^2"), "-4");
        assert_eq!(ok("(-2)^2"), "4");
        assert_eq!(ok("2^-2"), "0.25");
        assert_eq!(ok("7 % 3"), "1");
        assert_eq!(ok("-7 % 3"), "-1");
        assert_eq!(ok("--3"), "3");
        assert_eq!(ok("2**10"), "1024");
        assert_eq!(ok("6 × 7 ÷ 2 − 1"), "20");
        assert_eq!(ok(" ( ( 1 ) ) "), "1");
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(ok("0.1 + 0.2"), "0.3");
        assert_eq!(ok("1.10 * 3"), "3.3");
        assert_eq!(ok(".5 + 1."), "1.5");
        assert_eq!(ok("1/3"), "0.333333333333333");
        assert_eq!(ok("2/3"), "0.666666666666667");
        assert_eq!(ok("391/17"), "23");
        assert_eq!(ok("2^0.5"), "1.414213562373095");
        assert_eq!(ok("1e0".replace("e0", "").as_str()), "1");
    }

    #[test]
    fn clear_errors() {
        let err = |e: &str| evaluate(e).unwrap_err();
        assert!(err("").contains("empty"));
        assert!(err("1/0").contains("Division by zero"));
        assert!(err("1%0").contains("Remainder by zero"));
        assert!(err("sqrt(2)").contains("'s' at position 1 is not supported"), "{}", err("sqrt(2)"));
        assert!(err("2 + x").contains("'x' at position 5"));
        assert!(err("1,000 + 1").contains("thousands separators"));
        assert!(err("(1 + 2").contains("never closed"));
        assert!(err("1 + 2)").contains("Unexpected ')' at position 6"));
        assert!(err("1 +").contains("ends too early"));
        assert!(err("* 3").contains("Unexpected '*' at position 1"));
        assert!(err("1.2.3").contains("not a number"));
        assert!(err("2 3").contains("Unexpected number 3"));
        assert!(err("(-8)^0.5").contains("not a real number"));
        assert!(err("0^-1").contains("negative power"));
        assert!(err("10^100000").contains("exponent is too large"));
        assert!(err("99999999999999999999^2").contains("too large"));
        assert!(err("123456789012345678901234567890123").contains("too long or too large"));
        assert!(err(&"(".repeat(200)).contains("nests deeper"));
        assert!(err(&"-".repeat(200)).contains("nests deeper"));
        assert!(err(&"1+".repeat(1500)).contains("longer than"));
    }
}
