//! What the attribute knows about rmcp, the official Rust MCP SDK: the
//! name its `#[tool]` gives a tool, the shape `#[tool]` leaves an
//! `async fn` in, the arguments rmcp fills in, and its `Json<T>` wrapper.
//!
//! All of it is recognised by spelling, as rmcp's own macros do: a proc
//! macro sees tokens, not resolved types or paths. An attribute is
//! `#[tool]` when the last segment of its path is `tool` (the rule
//! `#[tool_router]` uses), and a type is `Peer<_>` when the last segment of
//! its path is `Peer` with generic arguments, whatever path leads there.

use syn::ext::IdentExt as _;
use syn::parse::ParseStream;
use syn::{
    Attribute, Expr, GenericArgument, Ident, LitStr, Meta, PathArguments, ReturnType, Signature,
    Stmt, Token, Type, TypeParamBound,
};

/// The MCP name of a tool whose `#[tool]` attribute comes after ours:
/// `#[tool(name = "…")]`, else the fn's name exactly as rmcp spells it
/// (`r#type` stays `r#type`); `None` without a `#[tool]` attribute.
pub(crate) fn mcp_name(attrs: &[Attribute], ident: &Ident) -> Option<String> {
    let attr = attrs.iter().find(|attr| is_tool_attr(attr))?;
    let named = match &attr.meta {
        // A list that does not parse is left for rmcp to report.
        Meta::List(list) => list.parse_args_with(name_argument).ok().flatten(),
        Meta::Path(_) | Meta::NameValue(_) => None,
    };
    Some(named.map_or_else(|| ident.to_string(), |name| name.value()))
}

fn is_tool_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "tool")
}

/// The `name = "…"` among `#[tool(...)]`'s arguments; the others (any
/// expression, `annotations(...)`) are skipped token by token.
fn name_argument(input: ParseStream<'_>) -> syn::Result<Option<LitStr>> {
    let mut name = None;
    while !input.is_empty() {
        let key = input.call(Ident::parse_any)?;
        if key == "name" && input.peek(Token![=]) && input.peek2(LitStr) {
            input.parse::<Token![=]>()?;
            name = Some(input.parse::<LitStr>()?);
        }
        while !input.is_empty() && !input.peek(Token![,]) {
            input.parse::<proc_macro2::TokenTree>()?;
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(name)
}

/// Whether `sig` and its body are what rmcp's `#[tool]` makes of an
/// `async fn`, as seen by an attribute below it:
///
/// ```text
/// fn name(…) -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = T> + Send + '_>> {
///     Box::pin(async move { BODY })
/// }
/// ```
///
/// `#[async_trait]` spells its return type `::core::pin::Pin<…>`, so it is
/// not mistaken for this.
pub(crate) fn is_tool_output(sig: &Signature, stmts: &[Stmt]) -> bool {
    if sig.asyncness.is_some() || !returns_boxed_std_future(&sig.output) {
        return false;
    }
    let [Stmt::Expr(Expr::Call(call), None)] = stmts else {
        return false;
    };
    let Expr::Path(func) = &*call.func else {
        return false;
    };
    func.path.leading_colon.is_none()
        && idents(&func.path) == ["Box", "pin"]
        && call.args.len() == 1
        && matches!(&call.args[0], Expr::Async(block) if block.capture.is_some())
}

/// `-> ::std::pin::Pin<Box<dyn ::std::future::Future<…> …>>`, spelled so.
fn returns_boxed_std_future(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Type::Path(pin) = &**ty else {
        return false;
    };
    if pin.path.leading_colon.is_none() || idents(&pin.path) != ["std", "pin", "Pin"] {
        return false;
    }
    let Some(Type::Path(boxed)) = only_type_argument(&pin.path) else {
        return false;
    };
    if idents(&boxed.path) != ["Box"] {
        return false;
    }
    let Some(Type::TraitObject(object)) = only_type_argument(&boxed.path) else {
        return false;
    };
    matches!(
        object.bounds.first(),
        Some(TypeParamBound::Trait(bound))
            if bound.path.leading_colon.is_some()
                && idents(&bound.path) == ["std", "future", "Future"]
    ) && object.dyn_token.is_some()
}

fn idents(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// The type argument of the last segment of `path`, if it has exactly one.
fn only_type_argument(path: &syn::Path) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = &path.segments.last()?.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let ty = types.next()?;
    types.next().is_none().then_some(ty)
}

/// Whether an argument of this type is left unmeasured without `skip(…)`:
/// rmcp's `RequestContext<_>` and `Peer<_>` (the session, not the tool's
/// input; large `Debug` text) and `Json<_>` (no `Debug`), also behind a
/// reference.
pub(crate) fn skipped_by_type(ty: &Type) -> bool {
    matches!(
        generic_name(ty).as_deref(),
        Some("RequestContext" | "Peer" | "Json")
    )
}

/// The argument bound to an rmcp `RequestContext<_>` by a plain name, whose
/// `id` (the JSON-RPC request id) is the call's `gen_ai.tool.call.id`.
pub(crate) fn request_context_arg(sig: &syn::Signature) -> Option<syn::Ident> {
    sig.inputs.iter().find_map(|arg| match arg {
        syn::FnArg::Typed(typed)
            if generic_name(&typed.ty).as_deref() == Some("RequestContext") =>
        {
            match &*typed.pat {
                syn::Pat::Ident(pat) if pat.subpat.is_none() => Some(pat.ident.clone()),
                _ => None,
            }
        }
        _ => None,
    })
}

/// Whether a returned type is `Json<T>` or `Result<Json<T>, E>` as
/// written: its `T` is measured as JSON, since `Json` has no `Debug`.
pub(crate) fn is_json_result(ty: &Type) -> bool {
    let ok = crate::types::result_types(ty).map_or(ty, |(ok, _)| ok);
    generic_name(ok).as_deref() == Some("Json")
}

/// The last path segment of `ty`, through references, parentheses and
/// invisible groups, if it has generic arguments: `&rmcp::Peer<RoleServer>`
/// → `Peer`.
fn generic_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Reference(reference) => generic_name(&reference.elem),
        Type::Paren(paren) => generic_name(&paren.elem),
        Type::Group(group) => generic_name(&group.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            matches!(last.arguments, PathArguments::AngleBracketed(_))
                .then(|| last.ident.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn name_of(item: TokenStream) -> Option<String> {
        let item: syn::ItemFn = syn::parse2(item).unwrap();
        mcp_name(&item.attrs, &item.sig.ident)
    }

    #[test]
    fn tool_names_are_rmcps() {
        assert_eq!(
            name_of(quote!(
                fn get_user_tool() {}
            )),
            None
        );
        assert_eq!(
            name_of(quote!(
                #[tool]
                fn get_user_tool() {}
            ))
            .as_deref(),
            Some("get_user_tool")
        );
        assert_eq!(
            name_of(quote!(
                #[rmcp::tool(description = "d")]
                fn r#type() {}
            ))
            .as_deref(),
            Some("r#type")
        );
        let named = quote! {
            /// Docs.
            #[tool(
                description = concat!("a", "b"),
                annotations(title = "T", read_only_hint = true),
                name = "web.search",
                input_schema = schema::<Q>(),
            )]
            fn search() {}
        };
        assert_eq!(name_of(named).as_deref(), Some("web.search"));
        // Not a string: rmcp reports it; we fall back to the fn's name.
        assert_eq!(
            name_of(quote!(
                #[tool(name = NAME)]
                fn f() {}
            ))
            .as_deref(),
            Some("f")
        );
        assert_eq!(
            name_of(quote!(
                #[tool_router]
                fn f() {}
            )),
            None,
            "only the last segment `tool` counts"
        );
    }

    fn shape(item: TokenStream) -> bool {
        let item: syn::ItemFn = syn::parse2(item).unwrap();
        is_tool_output(&item.sig, &item.block.stmts)
    }

    #[test]
    fn the_shape_tool_leaves_is_recognised() {
        assert!(shape(quote! {
            pub fn echo(&self, p: Parameters<P>)
                -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = String> + Send + '_>>
            {
                Box::pin(async move { p.0.text })
            }
        }));
        // `#[tool(local)]` drops `+ Send`.
        assert!(shape(quote! {
            fn f() -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = ()> + 'static>> {
                Box::pin(async move {})
            }
        }));
        // `#[async_trait]`, and hand-written futures, are not it.
        assert!(!shape(quote! {
            fn f<'a>(&'a self) -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = ()> + ::core::marker::Send + 'a>> {
                Box::pin(async move {})
            }
        }));
        assert!(!shape(quote! {
            fn f() -> Pin<Box<dyn Future<Output = ()> + Send>> {
                Box::pin(async move {})
            }
        }));
        assert!(!shape(quote! {
            fn f() -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = ()>>> {
                let x = 1;
                Box::pin(async move { drop(x) })
            }
        }));
    }

    #[test]
    fn session_arguments_and_json_are_skipped_by_type() {
        let skipped = |ty: TokenStream| skipped_by_type(&syn::parse2(ty).unwrap());
        assert!(skipped(quote!(RequestContext<RoleServer>)));
        assert!(skipped(quote!(
            rmcp::service::RequestContext<rmcp::RoleServer>
        )));
        assert!(skipped(quote!(&Peer<RoleServer>)));
        assert!(skipped(quote!(Json<Query>)));
        assert!(!skipped(quote!(Parameters<Query>)));
        assert!(
            !skipped(quote!(Peer)),
            "a type without generics is not rmcp's"
        );
        assert!(!skipped(quote!(String)));
    }

    #[test]
    fn json_results_are_found_as_written() {
        let json = |ty: TokenStream| is_json_result(&syn::parse2(ty).unwrap());
        assert!(json(quote!(Json<Sum>)));
        assert!(json(quote!(rmcp::Json<Sum>)));
        assert!(json(quote!(Result<Json<Sum>, ErrorData>)));
        assert!(!json(quote!(McpResult<Json<Sum>>)), "aliases are not seen");
        assert!(!json(quote!(Result<String, ErrorData>)));
    }
}
