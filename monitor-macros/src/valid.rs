//! Reject what `#[monitored_tool]` cannot instrument, every problem at once,
//! each at the user's token.

use syn::{FnArg, ReturnType, Type};

use crate::attr::Args;
use crate::item::{self, Body, ToolFn};
use crate::rmcp;

/// Every problem with `args` on `tool`, folded into one error.
pub(crate) fn check(args: &Args, tool: &ToolFn) -> syn::Result<()> {
    let mut errors: Vec<syn::Error> = Vec::new();
    let sig = &tool.sig;
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            constness,
            "`#[monitored_tool]` cannot be used on a `const fn`: recording a call is not possible in a constant",
        ));
    }
    let stmts = match &tool.body {
        Body::Block { stmts, .. } => Some(stmts.as_slice()),
        Body::Missing => {
            errors.push(syn::Error::new_spanned(
                &sig.ident,
                format!(
                    "`#[monitored_tool]` needs a function with a body, and `{}` has none",
                    sig.ident
                ),
            ));
            None
        }
    };
    if let ReturnType::Type(_, ty) = &sig.output {
        if let Type::Never(never) = &**ty {
            errors.push(syn::Error::new_spanned(
                never,
                "`#[monitored_tool]` cannot be used on a function that never returns (`-> !`)",
            ));
        }
    }
    check_skip(args, tool, &mut errors);
    if args.name.is_none() && stmts.is_some_and(|s| rmcp::is_tool_output(sig, s)) {
        errors.push(below_tool());
    }
    if let Some(timeout) = &args.timeout {
        let returns_future = stmts
            .is_some_and(|s| matches!(item::Shape::of(sig, s), item::Shape::ReturnedFuture(_)));
        if sig.asyncness.is_none() && !returns_future {
            errors.push(syn::Error::new(
                timeout.key,
                "`timeout` needs an `async fn`: a sync function cannot be stopped at a deadline",
            ));
        } else if sig.asyncness.is_some() && matches!(sig.output, ReturnType::Default) {
            errors.push(syn::Error::new(
                timeout.key,
                "`timeout` needs a function returning `Result<T, E>` with `E: From<monitor_core::TimeoutError>`, \
                 and this one returns `()`",
            ));
        }
    }
    match errors.into_iter().reduce(|mut all, error| {
        all.combine(error);
        all
    }) {
        Some(errors) => Err(errors),
        None => Ok(()),
    }
}

/// Below rmcp's `#[tool]`, the attribute sees an `async fn` already turned
/// into a fn returning `Box::pin(async move { … })`, and no longer sees the
/// `#[tool(name = "…")]` that MCP clients call it by. The future itself
/// would be timed correctly, so an explicit `name` is accepted; without one
/// the stats would be keyed by a name no client uses. Points at our
/// attribute, which is what has to move.
fn below_tool() -> syn::Error {
    syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[monitored_tool]` must come before rmcp's `#[tool]`: below it, it cannot \
         see the tool's MCP name; move `#[monitored_tool]` above `#[tool(...)]`, \
         or give it `name = \"…\"`",
    )
}

/// `skip(…)` names arguments that exist and are not `self`; `skip_all`
/// makes it redundant.
fn check_skip(args: &Args, tool: &ToolFn, errors: &mut Vec<syn::Error>) {
    let Some(skip) = &args.skip else {
        return;
    };
    if args.skip_all.is_some() {
        errors.push(syn::Error::new(
            skip.key,
            "`skip` is redundant with `skip_all`, which already skips every argument",
        ));
    }
    let inputs = &tool.sig.inputs;
    for name in &skip.value {
        if name == "self" {
            errors.push(syn::Error::new(
                name.span(),
                "`self` is never measured: remove it from `skip`",
            ));
            continue;
        }
        let found = inputs.iter().any(|arg| match arg {
            FnArg::Typed(typed) => item::bindings(&typed.pat).iter().any(|b| b == name),
            FnArg::Receiver(_) => false,
        });
        if !found {
            let names: Vec<String> = inputs
                .iter()
                .filter_map(|arg| match arg {
                    FnArg::Typed(typed) => Some(item::bindings(&typed.pat)),
                    FnArg::Receiver(_) => None,
                })
                .flatten()
                .map(|b| format!("`{b}`"))
                .collect();
            let valid = if names.is_empty() {
                "it has no named arguments".to_owned()
            } else {
                format!("its arguments are {}", names.join(", "))
            };
            errors.push(syn::Error::new(
                name.span(),
                format!(
                    "`skip({name})`: `{}` has no argument named `{name}`; {valid}",
                    tool.sig.ident
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn errors(args: TokenStream, item: TokenStream) -> String {
        let args = crate::attr::parse(args).unwrap();
        let tool = item::parse(item).unwrap();
        match check(&args, &tool) {
            Ok(()) => String::new(),
            Err(error) => error.into_compile_error().to_string(),
        }
    }

    #[test]
    fn good_functions_pass() {
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    fn f(a: u8) -> u8 {
                        a
                    }
                )
            ),
            ""
        );
        assert_eq!(
            errors(
                quote!(timeout = "1s", skip(a)),
                quote!(
                    async fn f(a: u8) -> Result<u8, E> {
                        Ok(a)
                    }
                )
            ),
            ""
        );
        assert_eq!(
            errors(
                quote!(skip(b)),
                quote!(
                    fn f((a, b): (u8, u8)) {}
                )
            ),
            ""
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let all = errors(
            quote!(timeout = "1s", skip(nope, self), skip_all),
            quote!(
                const fn f(&self, a: u8) -> !;
            ),
        );
        for expected in [
            "`const fn`",
            "needs a function with a body",
            "never returns",
            "`timeout` needs an `async fn`",
            "`skip` is redundant with `skip_all`",
            "no argument named `nope`; its arguments are `a`",
            "`self` is never measured",
        ] {
            assert!(all.contains(expected), "{expected} in {all}");
        }
    }

    #[test]
    fn timeout_needs_a_return_value() {
        let error = errors(
            quote!(timeout = "1s"),
            quote!(
                async fn f() {}
            ),
        );
        assert!(error.contains("this one returns `()`"), "{error}");
        let boxed = quote! {
            fn f(&self) -> Pin<Box<dyn Future<Output = Result<u8, E>> + Send + '_>> {
                Box::pin(async move { Ok(1) })
            }
        };
        assert_eq!(errors(quote!(timeout = "1s"), boxed), "");
    }

    #[test]
    fn below_rmcp_tool_a_name_is_needed() {
        let rewritten = quote! {
            fn ping(&self) -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = String> + Send + '_>> {
                Box::pin(async move { "pong".to_owned() })
            }
        };
        let error = errors(quote!(), rewritten.clone());
        assert!(
            error.contains("must come before rmcp's `#[tool]`"),
            "{error}"
        );
        assert_eq!(errors(quote!(name = "ping"), rewritten), "");
    }
}
