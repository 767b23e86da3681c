//! The pest parser derived from `grammar/nn.pest`, and the words syntax errors use for
//! each of its rules.

use pest_derive::Parser;

/// The `.nn` grammar. `Rule::file` is the entry rule.
#[derive(Parser)]
#[grammar = "../grammar/nn.pest"]
pub struct NnParser;

/// What a rule is called in a syntax error ("expected a name"), never its pest name.
///
/// No `_` arm: a new rule cannot ship without a phrase. Silent rules are listed too,
/// because pest's `Rule` has a variant for each of them.
pub fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "the end of the file",
        Rule::WHITESPACE => "a space",
        Rule::COMMENT => "a comment",
        Rule::file => "a `let`, `block`, `model` or `train` block",
        Rule::item => "a `let`, `block`, `model` or `train` block",
        Rule::end_of_line => "the end of the line",
        Rule::let_ => "`let NAME = VALUE`",
        Rule::model => "`model NAME { ... }`",
        Rule::block => "`block NAME(x, ...) { ... }`",
        Rule::block_kw => "`block`",
        Rule::block_param => "a parameter (`NAME` or `NAME = DEFAULT`)",
        Rule::binding => "`NAME = EXPRESSION`",
        Rule::end_of_body => "the end of the line",
        Rule::train => "`train { ... }`",
        Rule::expr => "an expression",
        Rule::infix => "an operator (`+`, `-`, `*`)",
        Rule::add => "`+`",
        Rule::sub => "`-`",
        Rule::mul => "`*`",
        Rule::pipe => "`|>`",
        Rule::primary => "a value",
        Rule::call => "a call",
        Rule::argument => "an argument",
        Rule::named_arg => "a named argument",
        Rule::keyword => "a keyword",
        Rule::ident => "a name",
        Rule::number => "a number",
        Rule::string => "a string",
        Rule::text => "text",
        Rule::boolean => "a boolean",
    }
}
