//! Text → syntax tree: runs the pest grammar, turns pest's errors into a [`Diagnostic`]
//! that says in words what was expected, and folds the flat expression lists into trees
//! with a `PrattParser`.
//!
//! Parsing stops at the first syntax error; semantic errors are collected later.

use std::sync::LazyLock;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::Span;
use super::ast::{
    Arg, BinOp, Binding, Block, Expr, ExprKind, File, Ident, Let, Model, Param, Train,
};
use super::diagnostic::Diagnostic;
use super::grammar::{NnParser, Rule, describe};

/// How deeply parentheses may nest. Far beyond any real model; it bounds the recursion
/// of the parser and of every later walk over the tree, so hostile input cannot overflow
/// the stack.
pub const MAX_NESTING: usize = 64;

/// The pipe is a postfix operator registered first, so it binds loosest:
/// `a + b |> f(2)` is `f(a + b, 2)`.
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::postfix(Rule::pipe))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left))
});

/// Parses a whole file, or reports the first syntax error.
pub fn parse_file(text: &str) -> Result<File, Diagnostic> {
    check_nesting(text)?;
    // Literal tokens (`)`, `,`, `}`) are not rules, so only pest's detailed attempts list
    // them; files are small, so the cost does not matter.
    pest::set_error_detail(true);
    let mut pairs = NnParser::parse(Rule::file, text).map_err(syntax_error)?;
    let file = pairs.next().expect("grammar: a parse yields one `file`");
    let mut out = File {
        lets: Vec::new(),
        blocks: Vec::new(),
        models: Vec::new(),
        trains: Vec::new(),
    };
    for item in file.into_inner() {
        match item.as_rule() {
            Rule::let_ => {
                let mut inner = item.into_inner();
                let name = ident(inner.next().expect("grammar: `let` has a name"));
                let value = expr(inner.next().expect("grammar: `let` has a value"))?;
                out.lets.push(Let { name, value });
            }
            Rule::model => {
                let mut inner = item.into_inner();
                let name = ident(inner.next().expect("grammar: `model` has a name"));
                let bindings = inner.map(binding).collect::<Result<_, _>>()?;
                out.models.push(Model { name, bindings });
            }
            Rule::block => {
                let mut inner = item.into_inner().filter(|p| p.as_rule() != Rule::block_kw);
                let name = ident(inner.next().expect("grammar: `block` has a name"));
                let (mut params, mut bindings) = (Vec::new(), Vec::new());
                for part in inner {
                    match part.as_rule() {
                        Rule::block_param => {
                            let mut p = part.into_inner();
                            let name = ident(p.next().expect("grammar: a parameter has a name"));
                            let default = p.next().map(expr).transpose()?;
                            params.push(Param { name, default });
                        }
                        _ => bindings.push(binding(part)?),
                    }
                }
                out.blocks.push(Block {
                    name,
                    params,
                    bindings,
                });
            }
            Rule::train => {
                let start = item.as_span().start();
                let keyword = Span {
                    start,
                    end: start + "train".len(),
                };
                let settings = item.into_inner().map(binding).collect::<Result<_, _>>()?;
                out.trains.push(Train { keyword, settings });
            }
            Rule::EOI => {}
            rule => unreachable!("grammar: a file holds items, not {rule:?}"),
        }
    }
    Ok(out)
}

/// Rejects parentheses nested deeper than [`MAX_NESTING`] before pest sees them.
fn check_nesting(text: &str) -> Result<(), Diagnostic> {
    let (mut depth, mut in_string, mut in_comment) = (0usize, false, false);
    for (at, c) in text.char_indices() {
        match c {
            '\n' => (in_string, in_comment) = (false, false),
            _ if in_comment => {}
            '"' => in_string = !in_string,
            _ if in_string => {}
            '#' => in_comment = true,
            '(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::new(
                        format!("parentheses nested more than {MAX_NESTING} deep"),
                        Span {
                            start: at,
                            end: at + 1,
                        },
                        "too deep",
                    ));
                }
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Turns pest's error into "expected a name or a number" at the failing position.
fn syntax_error(error: pest::error::Error<Rule>) -> Diagnostic {
    let at = match error.location {
        InputLocation::Pos(at) => at,
        InputLocation::Span((start, _)) => start,
    };
    let mut expected: Vec<&str> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().map(|rule| describe(*rule)).collect()
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let literals = error
        .parse_attempts()
        .map(|attempts| attempts.expected_tokens())
        .unwrap_or_default();
    for token in literals {
        // pest does not export `ParsingToken`; its `Display` is the literal text.
        let phrase = match token.to_string().as_str() {
            "(" => "`(`",
            ")" => "`)`",
            "," => "`,`",
            "=" => "`=`",
            "{" => "`{`",
            "}" => "`}`",
            "\n" | "\r\n" => "the end of the line",
            // Trivia, pieces of tokens (digits, `e`, `_`) and operators already named.
            _ => continue,
        };
        expected.push(phrase);
    }
    let mut seen = Vec::new();
    expected.retain(|phrase| {
        let new = !seen.contains(phrase);
        seen.push(*phrase);
        new
    });
    let message = match expected.as_slice() {
        [] => "syntax error".to_owned(),
        [one] => format!("expected {one}"),
        [init @ .., last] => format!("expected {} or {last}", init.join(", ")),
    };
    Diagnostic::new(message, Span { start: at, end: at }, "here")
}

fn span(pair: &Pair<'_, Rule>) -> Span {
    Span {
        start: pair.as_span().start(),
        end: pair.as_span().end(),
    }
}

fn ident(pair: Pair<'_, Rule>) -> Ident {
    debug_assert_eq!(pair.as_rule(), Rule::ident);
    Ident {
        name: pair.as_str().to_owned(),
        span: span(&pair),
    }
}

fn binding(pair: Pair<'_, Rule>) -> Result<Binding, Diagnostic> {
    let mut inner = pair.into_inner();
    let name = ident(inner.next().expect("grammar: a binding has a name"));
    let value = expr(inner.next().expect("grammar: a binding has a value"))?;
    Ok(Binding { name, value })
}

/// Folds `expr`'s flat list of primaries, operators and pipes into a tree.
fn expr(pair: Pair<'_, Rule>) -> Result<Expr, Diagnostic> {
    PRATT
        .map_primary(primary)
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let op = match op.as_rule() {
                Rule::add => BinOp::Add,
                Rule::sub => BinOp::Sub,
                Rule::mul => BinOp::Mul,
                rule => unreachable!("grammar: {rule:?} is not an infix operator"),
            };
            let span = Span {
                start: lhs.span.start,
                end: rhs.span.end,
            };
            checked_depth(Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            })
        })
        .map_postfix(|lhs, pipe| {
            let lhs = lhs?;
            let target = pipe
                .into_inner()
                .next()
                .expect("grammar: `|>` has a target");
            let end = target.as_span().end();
            let (func, mut args) = match target.as_rule() {
                Rule::call => call_parts(target)?,
                _ => (ident(target), Vec::new()),
            };
            let span = Span {
                start: lhs.span.start,
                end,
            };
            args.insert(
                0,
                Arg {
                    name: None,
                    value: lhs,
                },
            );
            checked_depth(Expr {
                kind: ExprKind::Call {
                    func,
                    args,
                    piped: true,
                },
                span,
            })
        })
        .parse(pair.into_inner())
}

/// The deepest an expression tree may be: far beyond any real model. Every later walk
/// over the tree recurses, so this (with [`MAX_NESTING`]) keeps hostile input such as
/// `x + x + x + ...` a hundred thousand times from overflowing the stack.
pub const MAX_DEPTH: usize = 256;

/// Passes `expr` through if its tree is at most [`MAX_DEPTH`] deep.
fn checked_depth(expr: Expr) -> Result<Expr, Diagnostic> {
    /// The depth of `e`, but never looking deeper than `cap` (so the walk is bounded).
    fn depth(e: &Expr, cap: usize) -> usize {
        if cap == 0 {
            return 0;
        }
        1 + match &e.kind {
            ExprKind::Binary { lhs, rhs, .. } => depth(lhs, cap - 1).max(depth(rhs, cap - 1)),
            ExprKind::Call { args, .. } => args
                .iter()
                .map(|a| depth(&a.value, cap - 1))
                .max()
                .unwrap_or(0),
            _ => 0,
        }
    }
    if depth(&expr, MAX_DEPTH + 1) > MAX_DEPTH {
        let message = format!("expression too long: more than {MAX_DEPTH} operations deep");
        return Err(
            Diagnostic::new(message, expr.span, "split it over several lines")
                .with_help("bind parts to names: `a = ...`"),
        );
    }
    Ok(expr)
}

fn primary(pair: Pair<'_, Rule>) -> Result<Expr, Diagnostic> {
    let at = span(&pair);
    let kind = match pair.as_rule() {
        Rule::expr => return expr(pair),
        Rule::call => {
            let (func, args) = call_parts(pair)?;
            ExprKind::Call {
                func,
                args,
                piped: false,
            }
        }
        Rule::ident => ExprKind::Name(pair.as_str().to_owned()),
        Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
        Rule::string => {
            let text = pair
                .into_inner()
                .next()
                .expect("grammar: a string has text");
            ExprKind::Str(text.as_str().to_owned())
        }
        Rule::number => {
            let text = pair.as_str();
            let value: f64 = text
                .parse()
                .map_err(|_| Diagnostic::new("not a number", at, "here"))?;
            if !value.is_finite() {
                return Err(Diagnostic::new(
                    format!("the number {text} is too large"),
                    at,
                    "too large",
                ));
            }
            ExprKind::Number {
                value,
                text: text.to_owned(),
            }
        }
        rule => unreachable!("grammar: {rule:?} is not a primary"),
    };
    checked_depth(Expr { kind, span: at })
}

fn call_parts(pair: Pair<'_, Rule>) -> Result<(Ident, Vec<Arg>), Diagnostic> {
    let mut inner = pair.into_inner();
    let func = ident(inner.next().expect("grammar: a call starts with a name"));
    let args = inner
        .map(|arg| match arg.as_rule() {
            Rule::named_arg => {
                let mut parts = arg.into_inner();
                let name = ident(parts.next().expect("grammar: a named argument has a name"));
                let value = expr(parts.next().expect("grammar: a named argument has a value"))?;
                Ok(Arg {
                    name: Some(name),
                    value,
                })
            }
            _ => Ok(Arg {
                name: None,
                value: expr(arg)?,
            }),
        })
        .collect::<Result<_, _>>()?;
    Ok((func, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Expr {
        let file = parse_file(&format!("let v = {text}\n")).unwrap();
        file.lets[0].value.clone()
    }

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number { text, .. } => text.clone(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Call { func, args, .. } => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| match &a.name {
                        Some(n) => format!("{}={}", n.name, show(&a.value)),
                        None => show(&a.value),
                    })
                    .collect();
                format!("{}({})", func.name, args.join(", "))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                format!("({} {} {})", show(lhs), op.symbol(), show(rhs))
            }
        }
    }

    #[test]
    fn pipe_binds_loosest_and_chains_left_to_right() {
        assert_eq!(show(&value("a + b |> f(2) |> g")), "g(f((a + b), 2))");
        assert_eq!(show(&value("a + b * c - d")), "((a + (b * c)) - d)");
        assert_eq!(show(&value("(a + b) * c")), "((a + b) * c)");
        assert_eq!(show(&value("1 - a")), "(1 - a)");
        assert_eq!(show(&value("a -1")), "(a - 1)");
        assert_eq!(
            show(&value("dense(x, 10, bias = false)")),
            "dense(x, 10, bias=false)"
        );
    }

    #[test]
    fn numbers_take_signs_and_exponents() {
        for text in ["256", "0.1", "1e-3", "-0.5", "+2", "2.5E+4"] {
            let ExprKind::Number { value, .. } = value(text).kind else {
                panic!("{text}")
            };
            assert_eq!(value, text.parse::<f64>().unwrap());
        }
    }

    #[test]
    fn spans_cover_what_was_written() {
        let text = "let v = x |> dense(10)\n";
        let e = &parse_file(text).unwrap().lets[0].value;
        assert_eq!(&text[e.span.start..e.span.end], "x |> dense(10)");
        assert_eq!(&text[e.node_span().start..e.node_span().end], "dense(10)");
    }

    #[test]
    fn syntax_errors_speak_in_words() {
        let err = parse_file("model m {\n  x = input(784\n}\n").unwrap_err();
        assert!(!err.message.contains("ident"), "{}", err.message);
        assert!(err.message.starts_with("expected"), "{}", err.message);
        let err = parse_file("let = 3\n").unwrap_err();
        assert_eq!(err.message, "expected a name");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("let v = {}1{}\n", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_file(&text).unwrap_err().message.contains("nested"));
    }

    #[test]
    fn very_long_expressions_are_an_error_not_a_crash() {
        let sum = format!("let v = x{}\n", " + x".repeat(100_000));
        assert!(parse_file(&sum).unwrap_err().message.contains("too long"));
        let pipes = format!("let v = x{}\n", " |> relu".repeat(100_000));
        assert!(parse_file(&pipes).unwrap_err().message.contains("too long"));
        let fine = format!("let v = x{}\n", " + x".repeat(200));
        assert!(parse_file(&fine).is_ok());
    }

    #[test]
    fn comments_blank_lines_and_a_missing_final_newline_are_fine() {
        let file = parse_file(
            "# a\n\nlet a = 1 # one\n\n\nmodel m {\n\n  x = input(2) # in\n  output = x\n}",
        )
        .unwrap();
        assert_eq!(file.models[0].bindings.len(), 2);
    }
}
