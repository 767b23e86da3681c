//! The `.nn` language: grammar (`grammar.rs`, from `grammar/nn.pest`), syntax tree
//! (`ast.rs`), parsing (`parse.rs`) and diagnostics (`diagnostic.rs`); the "did you mean"
//! suggestions are `crate::suggest`, which the data layer uses too.
//!
//! This layer knows text and spans. Meaning (names, shapes, the `train` block) is given
//! in `graph::build`, which reports through the [`Diagnostic`] type defined here.

pub mod ast;
pub mod diagnostic;
pub mod grammar;
pub mod parse;

pub use diagnostic::{Diagnostic, Diagnostics, render_at};
pub use parse::parse_file;

/// A `.nn` file's text and the path it is reported under.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub text: String,
}

impl Source {
    /// A model file's bytes as text. Bytes that are not UTF-8 make it a bad model file,
    /// not an unreadable one: a diagnostic at the line and column of the first invalid
    /// byte (exit 2, like any other problem in the file).
    pub fn from_bytes(path: String, bytes: Vec<u8>, color: bool) -> Result<Source, Diagnostics> {
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source { path, text }),
            Err(err) => Err(not_utf8(path, err.as_bytes(), err.utf8_error(), color)),
        }
    }
}

/// The diagnostic for a file that is not UTF-8, drawn on the file's text up to the end of
/// the offending line (a binary file may have no line breaks at all). The invalid bytes
/// are shown as U+FFFD; everything before the first one is valid, so its offset, line and
/// column are the same in the shown text as in the file.
fn not_utf8(path: String, bytes: &[u8], err: std::str::Utf8Error, color: bool) -> Diagnostics {
    let at = err.valid_up_to();
    let bad = err.error_len().unwrap_or(bytes.len() - at);
    let line_end = bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| at + n);
    let text = String::from_utf8_lossy(&bytes[..line_end]).into_owned();
    let invalid: Vec<String> = bytes[at..at + bad]
        .iter()
        .map(|b| format!("0x{b:02x}"))
        .collect();
    let noun = if bad == 1 { "byte" } else { "bytes" };
    let diagnostic = Diagnostic::new(
        "the model file is not valid UTF-8 text",
        Span {
            start: at,
            end: at + '\u{fffd}'.len_utf8(),
        },
        format!("invalid {noun} {} here", invalid.join(" ")),
    )
    .with_help(
        "a `.nn` file is UTF-8 text: check that this is the model file, or save it as UTF-8",
    );
    Diagnostics::single(&Source { path, text }, diagnostic, color)
}

/// A byte range in a [`Source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnose(bytes: &[u8]) -> Diagnostics {
        Source::from_bytes("m.nn".into(), bytes.to_vec(), false).unwrap_err()
    }

    #[test]
    fn utf8_text_is_read_as_it_is() {
        let source = Source::from_bytes("m.nn".into(), "let é = 1\n".into(), false).unwrap();
        assert_eq!(source.text, "let é = 1\n");
    }

    #[test]
    fn a_non_utf8_file_is_a_diagnostic_at_its_first_invalid_byte() {
        // Line 2, after 10 characters, one of them two bytes long: the column counts
        // characters, as every other diagnostic's does.
        let d = diagnose(b"model m {\n   \xc3\xa9x = in\xffput(4)\n}\n\xfe");
        assert_eq!(d.items.len(), 1);
        assert!(d.rendered.contains("m.nn:2:11"), "{}", d.rendered);
        assert!(
            d.rendered.contains("invalid byte 0xff here"),
            "{}",
            d.rendered
        );
        assert!(d.rendered.contains("not valid UTF-8"), "{}", d.rendered);
        // A sequence cut short by the end of the file.
        let d = diagnose(b"let a = 1 # \xe2\x82");
        assert!(d.rendered.contains("m.nn:1:13"), "{}", d.rendered);
        assert!(
            d.rendered.contains("invalid bytes 0xe2 0x82 here"),
            "{}",
            d.rendered
        );
        // The very first byte, with no line break anywhere after it.
        let d = diagnose(&[0x80; 100_000]);
        assert!(d.rendered.contains("m.nn:1:1"), "{}", d.rendered);
    }
}
