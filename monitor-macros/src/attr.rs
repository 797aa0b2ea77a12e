//! Parse the arguments of `#[monitored_tool(...)]`.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token};

/// The arguments, as the error message for an unknown one lists them.
pub(crate) const VALID: &str = "`name`, `skip`, `skip_all`, `skip_output`, `timeout`, \
                                `user_id`, `session_id`, `metadata`, `monitor`, `crate`";

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(skip);
    syn::custom_keyword!(skip_all);
    syn::custom_keyword!(skip_output);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(user_id);
    syn::custom_keyword!(session_id);
    syn::custom_keyword!(metadata);
    syn::custom_keyword!(monitor);
}

/// One argument together with the span of its key, for errors.
pub(crate) struct Arg<T> {
    pub(crate) key: Span,
    pub(crate) value: T,
}

/// Everything `#[monitored_tool(...)]` accepts; each at most once.
#[derive(Default)]
pub(crate) struct Args {
    /// `name = "…"`: the tool name instead of the one derived from the fn.
    pub(crate) name: Option<Arg<LitStr>>,
    /// `skip(a, b)`: arguments not measured.
    pub(crate) skip: Option<Arg<Vec<Ident>>>,
    /// `skip_all`: no argument is measured (and none needs `Debug`).
    pub(crate) skip_all: Option<Arg<()>>,
    /// `skip_output`: the result is not measured.
    pub(crate) skip_output: Option<Arg<()>>,
    /// `timeout = "5s"`, in milliseconds.
    pub(crate) timeout: Option<Arg<u64>>,
    /// `user_id = expr`.
    pub(crate) user_id: Option<Arg<Expr>>,
    /// `session_id = expr`.
    pub(crate) session_id: Option<Arg<Expr>>,
    /// `metadata(key = expr, "other-key" = expr)`.
    pub(crate) metadata: Option<Arg<Vec<(LitStr, Expr)>>>,
    /// `monitor = expr`.
    pub(crate) monitor: Option<Arg<Expr>>,
    /// `crate = path`: where `monitor_core` is (a renamed dependency).
    pub(crate) krate: Option<Arg<Path>>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut errors = Errors::default();
        while !input.is_empty() {
            args.parse_one(input, &mut errors)?;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        errors.finish()?;
        Ok(args)
    }
}

impl Args {
    fn parse_one(&mut self, input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::name) {
            let key = input.parse::<kw::name>()?.span;
            let value = parse_value::<LitStr>(input)?;
            if value.value().is_empty() {
                errors.push(syn::Error::new(
                    value.span(),
                    "the tool `name` cannot be empty",
                ));
            }
            set(&mut self.name, "name", key, value, errors);
        } else if lookahead.peek(kw::skip_all) {
            let key = input.parse::<kw::skip_all>()?.span;
            set(&mut self.skip_all, "skip_all", key, (), errors);
        } else if lookahead.peek(kw::skip_output) {
            let key = input.parse::<kw::skip_output>()?.span;
            set(&mut self.skip_output, "skip_output", key, (), errors);
        } else if lookahead.peek(kw::skip) {
            let key = input.parse::<kw::skip>()?.span;
            let content;
            syn::parenthesized!(content in input);
            let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                &content,
                syn::ext::IdentExt::parse_any,
            )?;
            set(
                &mut self.skip,
                "skip",
                key,
                names.into_iter().collect(),
                errors,
            );
        } else if lookahead.peek(kw::timeout) {
            let key = input.parse::<kw::timeout>()?.span;
            let literal = parse_value::<LitStr>(input)?;
            match parse_duration(&literal.value()) {
                Ok(millis) => set(&mut self.timeout, "timeout", key, millis, errors),
                Err(why) => errors.push(syn::Error::new(literal.span(), why)),
            }
        } else if lookahead.peek(kw::user_id) {
            let key = input.parse::<kw::user_id>()?.span;
            let value = parse_value(input)?;
            set(&mut self.user_id, "user_id", key, value, errors);
        } else if lookahead.peek(kw::session_id) {
            let key = input.parse::<kw::session_id>()?.span;
            let value = parse_value(input)?;
            set(&mut self.session_id, "session_id", key, value, errors);
        } else if lookahead.peek(kw::metadata) {
            let key = input.parse::<kw::metadata>()?.span;
            let entries = parse_metadata(input, errors)?;
            set(&mut self.metadata, "metadata", key, entries, errors);
        } else if lookahead.peek(kw::monitor) {
            let key = input.parse::<kw::monitor>()?.span;
            let value = parse_value(input)?;
            set(&mut self.monitor, "monitor", key, value, errors);
        } else if lookahead.peek(Token![crate]) {
            let key = input.parse::<Token![crate]>()?.span;
            input.parse::<Token![=]>()?;
            let value = input.call(Path::parse_mod_style)?;
            set(&mut self.krate, "crate", key, value, errors);
        } else if input.peek(syn::Ident::peek_any) {
            let unknown: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            return Err(syn::Error::new(
                unknown.span(),
                format!(
                    "unknown `#[monitored_tool]` argument `{unknown}`; expected one of: {VALID}"
                ),
            ));
        } else {
            return Err(lookahead.error());
        }
        Ok(())
    }
}

/// `= value`.
fn parse_value<T: Parse>(input: ParseStream<'_>) -> syn::Result<T> {
    input.parse::<Token![=]>()?;
    input.parse()
}

/// `(key = expr, "key" = expr, …)`; a key appears once.
fn parse_metadata(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<Vec<(LitStr, Expr)>> {
    let content;
    syn::parenthesized!(content in input);
    let mut entries: Vec<(LitStr, Expr)> = Vec::new();
    while !content.is_empty() {
        let key = if content.peek(LitStr) {
            content.parse::<LitStr>()?
        } else {
            let ident: Ident = content.call(syn::ext::IdentExt::parse_any)?;
            LitStr::new(&ident.to_string(), ident.span())
        };
        let value = parse_value(&content)?;
        if entries.iter().any(|(seen, _)| seen.value() == key.value()) {
            errors.push(syn::Error::new(
                key.span(),
                format!("duplicate `metadata` key `{}`", key.value()),
            ));
        } else {
            entries.push((key, value));
        }
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(entries)
}

fn set<T>(slot: &mut Option<Arg<T>>, name: &str, key: Span, value: T, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(syn::Error::new(key, format!("duplicate `{name}` argument")));
    } else {
        *slot = Some(Arg { key, value });
    }
}

/// Errors found while parsing on, reported together.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Milliseconds of `"250ms"`, `"5s"`, `"2m"` or `"1h"`; greater than zero.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let expected =
        "expected a whole number followed by `ms`, `s`, `m` or `h`, like \"250ms\" or \"5s\"";
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("invalid `timeout` duration \"{text}\": {expected}")),
    };
    let Ok(number) = number.parse::<u64>() else {
        return Err(format!("invalid `timeout` duration \"{text}\": {expected}"));
    };
    match number.checked_mul(per_unit) {
        Some(0) => Err(format!(
            "invalid `timeout` duration \"{text}\": it must be longer than zero"
        )),
        Some(millis) => Ok(millis),
        None => Err(format!(
            "invalid `timeout` duration \"{text}\": it is too long"
        )),
    }
}

/// Parses the attribute's arguments; an empty attribute has none.
pub(crate) fn parse(args: proc_macro2::TokenStream) -> syn::Result<Args> {
    syn::parse2(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse_ok(tokens: proc_macro2::TokenStream) -> Args {
        parse(tokens).unwrap()
    }

    fn parse_err(tokens: proc_macro2::TokenStream) -> String {
        parse(tokens)
            .err()
            .unwrap()
            .into_compile_error()
            .to_string()
    }

    #[test]
    fn empty_attribute_has_no_arguments() {
        let args = parse_ok(quote!());
        assert!(args.name.is_none() && args.skip.is_none() && args.timeout.is_none());
    }

    #[test]
    fn every_argument_parses() {
        let args = parse_ok(quote!(
            name = "search",
            skip(a, r#type),
            skip_output,
            timeout = "250ms",
            user_id = request.user,
            session_id = self.session(),
            metadata(region = "eu", "x-trace" = trace_id),
            monitor = &MONITOR,
            crate = ::renamed::core,
        ));
        assert_eq!(args.name.unwrap().value.value(), "search");
        let skipped: Vec<String> = args
            .skip
            .unwrap()
            .value
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(skipped, ["a", "r#type"]);
        assert!(args.skip_output.is_some());
        assert_eq!(args.timeout.unwrap().value, 250);
        assert!(args.user_id.is_some() && args.session_id.is_some() && args.monitor.is_some());
        let keys: Vec<String> = args
            .metadata
            .unwrap()
            .value
            .iter()
            .map(|(k, _)| k.value())
            .collect();
        assert_eq!(keys, ["region", "x-trace"]);
        assert_eq!(args.krate.unwrap().value.segments.len(), 2);
        assert!(parse_ok(quote!(skip_all)).skip_all.is_some());
    }

    #[test]
    fn unknown_arguments_list_the_valid_ones() {
        let error = parse_err(quote!(nmae = "x"));
        assert!(
            error.contains("unknown `#[monitored_tool]` argument `nmae`"),
            "{error}"
        );
        assert!(error.contains("`skip_output`"), "{error}");
    }

    #[test]
    fn duplicates_are_all_reported() {
        let error = parse_err(quote!(skip_all, name = "a", skip_all, name = "b"));
        assert!(error.contains("duplicate `skip_all` argument"), "{error}");
        assert!(error.contains("duplicate `name` argument"), "{error}");
        let error = parse_err(quote!(metadata(a = 1, a = 2)));
        assert!(error.contains("duplicate `metadata` key `a`"), "{error}");
    }

    #[test]
    fn durations_have_a_unit() {
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("5s"), Ok(5_000));
        assert_eq!(parse_duration("2m"), Ok(120_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        for bad in ["", "5", "s", "5 s", "1.5s", "-1s", "5sec", "0ms"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("99999999999999999999h").is_err());
        let error = parse_err(quote!(timeout = "soon"));
        assert!(error.contains("invalid `timeout` duration"), "{error}");
    }

    #[test]
    fn empty_names_are_rejected() {
        assert!(parse_err(quote!(name = "")).contains("cannot be empty"));
    }
}
