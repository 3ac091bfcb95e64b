//! Reading `.env` files of the common dialect.
//!
//! Rule: one `NAME=value` per line, optionally after `export`; blank lines and lines starting
//! with `#` are skipped; an unquoted value runs to the end of the line or to a `#` that follows
//! whitespace (an inline comment) and is trimmed; `'…'` and `` `…` `` keep their text as is,
//! `"…"` reads `\n`, `\r`, `\t`, `\"` and `\\` as escapes; quoted values may span lines.
//! CRLF files read like LF files. Nothing is expanded (`$OTHER` stays `$OTHER`). A line that
//! does not fit is a problem naming its line and what was wrong; the other lines still read.

/// One `NAME=value` read from the file; `line` is where it starts (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub line: usize,
    pub name: String,
    pub value: String,
}

/// A line that is not `NAME=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseProblem {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub variables: Vec<Variable>,
    pub problems: Vec<ParseProblem>,
}

/// Reads `text` as a `.env` file.
pub fn parse(text: &str) -> Parsed {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let line = lines[i].trim_start_matches([' ', '\t', '\u{feff}']);
        i += 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let problem = |message: String| ParseProblem {
            line: number,
            message,
        };
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((name, rest)) = line.split_once('=') else {
            parsed.problems.push(problem(format!(
                "expected NAME=value, found {:?}",
                shorten(line.trim_end())
            )));
            continue;
        };
        let name = name.trim_end();
        if let Err(message) = check_name(name) {
            parsed.problems.push(problem(message));
            continue;
        }
        let spaced = rest.starts_with([' ', '\t']);
        let rest = rest.trim_start_matches([' ', '\t']);
        let value = match rest.chars().next() {
            Some(quote @ ('\'' | '"' | '`')) => {
                match quoted(quote, &rest[1..], &lines[i..]) {
                    Ok((value, extra_lines)) => {
                        i += extra_lines;
                        value
                    }
                    Err(Unclosed) => {
                        parsed.problems.push(problem(format!(
                            "the {quote} quote that opens the value of {name} is never closed"
                        )));
                        // The rest of the file is inside that quote: nothing more to read.
                        break;
                    }
                    Err(Trailing(text)) => {
                        parsed.problems.push(problem(format!(
                            "unexpected text {:?} after the closing quote of {name}",
                            shorten(&text)
                        )));
                        continue;
                    }
                }
            }
            _ => unquoted(rest, spaced),
        };
        parsed.variables.push(Variable {
            line: number,
            name: name.to_owned(),
            value,
        });
    }
    parsed
}

enum QuoteError {
    Unclosed,
    Trailing(String),
}
use QuoteError::{Trailing, Unclosed};

/// A quoted value starting just after its opening `quote` in `first`, continuing into `more`
/// when it spans lines. Returns the value and how many lines of `more` it took.
fn quoted(quote: char, first: &str, more: &[&str]) -> Result<(String, usize), QuoteError> {
    let mut value = String::new();
    let mut text = first;
    let mut used = 0;
    loop {
        let mut chars = text.char_indices();
        while let Some((at, c)) = chars.next() {
            if c == quote {
                let after = text[at + c.len_utf8()..].trim_start_matches([' ', '\t']);
                if after.is_empty() || after.starts_with('#') {
                    return Ok((value, used));
                }
                return Err(Trailing(after.to_owned()));
            }
            if c == '\\' && quote == '"' {
                match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    // Not an escape the dialect knows: the backslash is kept.
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => value.push('\\'),
                }
                continue;
            }
            value.push(c);
        }
        let Some(next) = more.get(used) else {
            return Err(Unclosed);
        };
        value.push('\n');
        text = next;
        used += 1;
    }
}

/// An unquoted value: up to an inline comment (`#` after whitespace), trimmed. `spaced`: the
/// value was preceded by whitespace (`A= # note` is empty, `A=#fff` is a colour).
fn unquoted(rest: &str, spaced: bool) -> String {
    let mut end = rest.len();
    let mut previous_blank = spaced;
    for (at, c) in rest.char_indices() {
        if c == '#' && previous_blank {
            end = at;
            break;
        }
        previous_blank = c == ' ' || c == '\t';
    }
    rest[..end].trim_end().to_owned()
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if valid {
        Ok(())
    } else if name.is_empty() {
        Err("a variable name is missing before '='".into())
    } else {
        Err(format!(
            "{:?} is not a variable name: it must start with a letter or '_' and hold only \
             letters, digits, '_', '.' and '-'",
            shorten(name)
        ))
    }
}

/// At most 40 characters of `text`, for messages.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 40;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(LIMIT).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(usize, String, String)> {
        let parsed = parse(text);
        assert_eq!(parsed.problems, vec![], "no problems expected in {text:?}");
        parsed
            .variables
            .into_iter()
            .map(|v| (v.line, v.name, v.value))
            .collect()
    }

    fn one(text: &str) -> String {
        let mut all = vars(text);
        assert_eq!(all.len(), 1, "one variable expected in {text:?}");
        all.remove(0).2
    }

    fn problems(text: &str) -> Vec<(usize, String)> {
        parse(text)
            .problems
            .into_iter()
            .map(|p| (p.line, p.message))
            .collect()
    }

    #[test]
    fn plain_assignments_with_their_line_numbers() {
        assert_eq!(
            vars("A=1\n\nB=two words\n"),
            vec![
                (1, "A".into(), "1".into()),
                (3, "B".into(), "two words".into())
            ]
        );
    }

    #[test]
    fn export_prefix_is_dropped() {
        assert_eq!(vars("export A=1"), vec![(1, "A".into(), "1".into())]);
        assert_eq!(vars("export\tA=1"), vec![(1, "A".into(), "1".into())]);
        // A variable may itself be called EXPORTED.
        assert_eq!(vars("EXPORTED=1"), vec![(1, "EXPORTED".into(), "1".into())]);
    }

    #[test]
    fn whole_line_comments_and_blank_lines_are_skipped() {
        assert_eq!(
            vars("# a comment\n   # indented\n\t\nA=1"),
            vec![(4, "A".into(), "1".into())]
        );
    }

    #[test]
    fn inline_comments_end_unquoted_values() {
        assert_eq!(one("A=value # note"), "value");
        assert_eq!(one("A=value\t# note"), "value");
        assert_eq!(one("A= # only a comment"), "");
        // A '#' inside a word is part of it (colours, fragments).
        assert_eq!(one("COLOR=#2E7D99"), "#2E7D99");
        assert_eq!(one("URL=http://x/a#frag"), "http://x/a#frag");
    }

    #[test]
    fn unquoted_values_are_trimmed_and_spaces_around_equals_allowed() {
        assert_eq!(one("A =  padded  "), "padded");
        assert_eq!(vars("  A=1"), vec![(1, "A".into(), "1".into())]);
    }

    #[test]
    fn single_quotes_keep_everything_literal() {
        assert_eq!(
            one(r"A='a \n $B # not a comment'"),
            r"a \n $B # not a comment"
        );
        assert_eq!(one("A='x' # comment"), "x");
    }

    #[test]
    fn double_quotes_read_escapes() {
        assert_eq!(one(r#"A="line1\nline2""#), "line1\nline2");
        assert_eq!(
            one(r#"A="tab\there \"q\" back\\slash""#),
            "tab\there \"q\" back\\slash"
        );
        assert_eq!(one(r#"A="keep \d as is""#), r"keep \d as is");
        assert_eq!(one(r##"A="# not a comment""##), "# not a comment");
    }

    #[test]
    fn backticks_keep_their_text() {
        assert_eq!(one(r#"A=`it's "both"`"#), r#"it's "both""#);
    }

    #[test]
    fn quoted_values_span_lines() {
        let text = "KEY=\"-----BEGIN-----\nabc\n-----END-----\"\nNEXT=1\n";
        assert_eq!(
            vars(text),
            vec![
                (
                    1,
                    "KEY".into(),
                    "-----BEGIN-----\nabc\n-----END-----".into()
                ),
                (4, "NEXT".into(), "1".into())
            ]
        );
        assert_eq!(one("A='one\ntwo'"), "one\ntwo");
    }

    #[test]
    fn crlf_files_read_like_lf_files() {
        assert_eq!(
            vars("A=1\r\nB=\"x\r\ny\"\r\n# c\r\nC='z'\r\n"),
            vec![
                (1, "A".into(), "1".into()),
                (2, "B".into(), "x\ny".into()),
                (5, "C".into(), "z".into())
            ]
        );
    }

    #[test]
    fn empty_values() {
        assert_eq!(one("A="), "");
        assert_eq!(one("A=\"\""), "");
        assert_eq!(one("A=''"), "");
    }

    #[test]
    fn nothing_is_expanded() {
        assert_eq!(one("A=${HOME}/x"), "${HOME}/x");
        assert_eq!(one("A=\"$HOME\""), "$HOME");
    }

    #[test]
    fn duplicates_are_all_kept_for_the_plan_to_report() {
        assert_eq!(
            vars("A=1\nA=2"),
            vec![(1, "A".into(), "1".into()), (2, "A".into(), "2".into())]
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_name() {
        assert_eq!(vars("\u{feff}A=1"), vec![(1, "A".into(), "1".into())]);
    }

    #[test]
    fn a_line_without_equals_is_a_problem_and_the_rest_still_reads() {
        let parsed = parse("A=1\njust words\nB=2");
        assert_eq!(parsed.variables.len(), 2);
        assert_eq!(
            parsed.problems,
            vec![ParseProblem {
                line: 2,
                message: "expected NAME=value, found \"just words\"".into()
            }]
        );
    }

    #[test]
    fn bad_names_are_problems() {
        assert_eq!(
            problems("=1"),
            vec![(1, "a variable name is missing before '='".into())]
        );
        let found = problems("1ABC=1\nMY VAR=2");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, 1);
        assert!(found[0].1.contains("\"1ABC\" is not a variable name"));
        assert_eq!(found[1].0, 2);
        assert!(found[1].1.contains("\"MY VAR\""));
    }

    #[test]
    fn an_unclosed_quote_names_the_line_it_opened_on() {
        let parsed = parse("A=1\nB=\"never closed\nC=3\n");
        assert_eq!(parsed.variables.len(), 1);
        assert_eq!(
            parsed.problems,
            vec![ParseProblem {
                line: 2,
                message: "the \" quote that opens the value of B is never closed".into()
            }]
        );
    }

    #[test]
    fn text_after_a_closing_quote_is_a_problem() {
        assert_eq!(
            problems("A='x'y\nB=1"),
            vec![(
                1,
                "unexpected text \"y\" after the closing quote of A".into()
            )]
        );
    }
}
