//! Parse the annotated function: a free fn, a method, or a trait method
//! with a default body; and find the future a sync fn returns, when it
//! returns one built from an `async` block (`#[async_trait]`, rmcp's
//! `#[tool]`, or a hand-written `-> impl Future`).

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    Attribute, Block, Expr, ExprAsync, ExprCall, Ident, Item, Pat, Signature, Stmt, Token, Type,
    Visibility,
};

use crate::types;

/// The annotated function, with its parts as written.
pub(crate) struct ToolFn {
    /// Outer attributes and doc comments, in order.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: Body,
}

/// The body of the function.
pub(crate) enum Body {
    /// `{ #![inner] stmts }`.
    Block {
        inner_attrs: Vec<Attribute>,
        stmts: Vec<Stmt>,
    },
    /// `;`: a declaration without a body.
    Missing,
}

impl Parse for ToolFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let fork = input.fork();
        if fork.parse::<Signature>().is_err() {
            return Err(not_a_function(input));
        }
        let sig: Signature = input.parse()?;
        let body = if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
            Body::Missing
        } else {
            let content;
            syn::braced!(content in input);
            Body::Block {
                inner_attrs: content.call(Attribute::parse_inner)?,
                stmts: content.call(Block::parse_within)?,
            }
        };
        Ok(ToolFn {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

/// The error for an item that is not a function, at its keyword.
fn not_a_function(input: ParseStream<'_>) -> syn::Error {
    const MESSAGE: &str = "`#[monitored_tool]` can only be used on a function or method";
    match input.fork().parse::<Item>() {
        // Also what an attribute above `#[async_trait]` sees.
        Ok(item @ (Item::Impl(_) | Item::Trait(_))) => syn::Error::new(
            keyword_span(&item),
            format!(
                "{MESSAGE}; put it on the methods inside, below `#[async_trait]` if there is one"
            ),
        ),
        Ok(item) => syn::Error::new(keyword_span(&item), MESSAGE),
        Err(_) => syn::Error::new(input.span(), MESSAGE),
    }
}

/// The span of an item's keyword (`struct`, `impl`, …), or of the item.
fn keyword_span(item: &Item) -> Span {
    match item {
        Item::Const(item) => item.const_token.span,
        Item::Enum(item) => item.enum_token.span,
        Item::ExternCrate(item) => item.extern_token.span,
        Item::ForeignMod(item) => item.abi.extern_token.span,
        Item::Impl(item) => item.impl_token.span,
        Item::Macro(item) => item.mac.path.span(),
        Item::Mod(item) => item.mod_token.span,
        Item::Static(item) => item.static_token.span,
        Item::Struct(item) => item.struct_token.span,
        Item::Trait(item) => item.trait_token.span,
        Item::TraitAlias(item) => item.trait_token.span,
        Item::Type(item) => item.type_token.span,
        Item::Union(item) => item.union_token.span,
        Item::Use(item) => item.use_token.span,
        other => other.span(),
    }
}

/// The identifiers an argument pattern binds: `(a, b)` → `a`, `b`.
pub(crate) fn bindings(pat: &Pat) -> Vec<Ident> {
    struct Collect(Vec<Ident>);
    impl<'ast> Visit<'ast> for Collect {
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.0.push(pat.ident.clone());
            syn::visit::visit_pat_ident(self, pat);
        }
    }
    let mut collect = Collect(Vec::new());
    collect.visit_pat(pat);
    collect.0
}

/// What the attribute instruments, decided once from the signature and the
/// body: each shape has its own template in `expand.rs`.
pub(crate) enum Shape<'a> {
    /// A sync fn: the body runs in a closure.
    Sync,
    /// An `async fn`: the body runs in an `async` block inside the fn's own
    /// future.
    Async,
    /// A sync fn that returns a future built from an `async` block
    /// (`#[async_trait]`, rmcp's `#[tool]`, a hand-written `-> impl
    /// Future`): that future is instrumented.
    ReturnedFuture(ReturnedFuture<'a>),
}

impl<'a> Shape<'a> {
    /// The shape of `sig` with the body `stmts`.
    pub(crate) fn of(sig: &'a Signature, stmts: &'a [Stmt]) -> Self {
        if sig.asyncness.is_some() {
            Self::Async
        } else if let Some(future) = returned_future(sig, stmts) {
            Self::ReturnedFuture(future)
        } else {
            Self::Sync
        }
    }

    /// The type the instrumented body produces, as written: the return
    /// type, or the `Output = T` of a returned future (`None` if not
    /// written there, or for `()`).
    pub(crate) fn output(&self, sig: &'a Signature) -> Option<&'a Type> {
        match self {
            Self::Sync | Self::Async => types::return_type(sig),
            Self::ReturnedFuture(future) => future.output,
        }
    }
}

/// A future built from an `async` block that a sync function returns as
/// its last expression: `Box::pin(async move { … })` (what `#[async_trait]`
/// and rmcp's `#[tool]` generate) or a bare `async move { … }` (a
/// hand-written `-> impl Future`). Instrumenting that future, not the
/// function, times the work instead of the creation of the future.
///
/// Detected the way `tracing`'s `#[instrument]` does.
pub(crate) struct ReturnedFuture<'a> {
    /// Index of the statement that builds the future.
    pub(crate) index: usize,
    /// `Box::pin` (or another path ending in `Box::pin`), if the block is
    /// pinned.
    pub(crate) pin_call: Option<&'a ExprCall>,
    pub(crate) block: &'a ExprAsync,
    /// `T` of the `Output = T` in the return type, if written there.
    pub(crate) output: Option<&'a Type>,
}

/// The future `stmts` return, if `sig` is a sync fn whose body ends with
/// one built from an `async` block.
fn returned_future<'a>(sig: &'a Signature, stmts: &'a [Stmt]) -> Option<ReturnedFuture<'a>> {
    if sig.asyncness.is_some() {
        return None;
    }
    let (index, last) = stmts
        .iter()
        .enumerate()
        .rev()
        .find_map(|(index, stmt)| match stmt {
            Stmt::Expr(expr, None) => Some((index, expr)),
            _ => None,
        })?;
    let (pin_call, block) = match last {
        Expr::Async(block) => (None, block),
        Expr::Call(call) => {
            let Expr::Path(func) = &*call.func else {
                return None;
            };
            let segments: Vec<String> = func
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
                return None;
            }
            match &call.args[0] {
                Expr::Async(block) => (Some(call), block),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(ReturnedFuture {
        index,
        pin_call,
        block,
        output: types::future_output(&sig.output),
    })
}

/// Parses the annotated item.
pub(crate) fn parse(item: TokenStream) -> syn::Result<ToolFn> {
    syn::parse2(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::FnArg;

    fn tool(tokens: TokenStream) -> ToolFn {
        parse(tokens).unwrap()
    }

    fn stmts(tool: &ToolFn) -> &[Stmt] {
        match &tool.body {
            Body::Block { stmts, .. } => stmts,
            Body::Missing => panic!("no body"),
        }
    }

    #[test]
    fn functions_and_methods_parse_with_their_attributes() {
        let f = tool(quote! {
            /// Docs.
            #[inline]
            pub(crate) async unsafe extern "C" fn f<'a, T: Clone, const N: usize>(&'a self, x: T) -> u32
            where
                T: Send,
            {
                #![allow(unused)]
                1
            }
        });
        assert_eq!(f.attrs.len(), 2);
        assert_eq!(f.sig.ident, "f");
        let Body::Block { inner_attrs, stmts } = &f.body else {
            panic!("a body")
        };
        assert_eq!((inner_attrs.len(), stmts.len()), (1, 1));
        assert!(matches!(
            tool(quote!(
                fn f(&self);
            ))
            .body,
            Body::Missing
        ));
    }

    #[test]
    fn other_items_are_rejected_at_their_keyword() {
        for item in [
            quote!(
                struct S;
            ),
            quote!(impl S {}),
            quote!(
                const X: u32 = 1;
            ),
            quote!(
                pub mod m {}
            ),
        ] {
            let error = parse(item).err().unwrap();
            assert!(
                error.to_string().contains("can only be used on a function"),
                "{error}"
            );
        }
    }

    #[test]
    fn pattern_bindings_are_collected() {
        let f = tool(quote!(
            fn f((a, mut b): (u8, u8), Wrapper { inner: c, .. }: W, _: u8, x: u8) {}
        ));
        let names: Vec<Vec<String>> = f
            .sig
            .inputs
            .iter()
            .map(|arg| match arg {
                FnArg::Typed(t) => bindings(&t.pat).iter().map(ToString::to_string).collect(),
                FnArg::Receiver(_) => Vec::new(),
            })
            .collect();
        assert_eq!(names, [vec!["a", "b"], vec!["c"], vec![], vec!["x"]]);
    }

    #[test]
    fn async_trait_shape_is_detected() {
        let f = tool(quote! {
            fn run<'life0, 'async_trait>(&'life0 self, x: u32)
                -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u32, E>> + ::core::marker::Send + 'async_trait>>
            {
                Box::pin(async move { let __self = self; let __ret: Result<u32, E> = { Ok(x) }; __ret })
            }
        });
        let future = returned_future(&f.sig, stmts(&f)).unwrap();
        assert_eq!(future.index, 0);
        assert!(future.pin_call.is_some());
        let output = future.output.unwrap();
        assert_eq!(
            quote!(#output).to_string(),
            quote!(Result<u32, E>).to_string()
        );

        let f = tool(quote!(
            fn go() -> impl Future<Output = u8> {
                let a = 1;
                async move { a }
            }
        ));
        let future = returned_future(&f.sig, stmts(&f)).unwrap();
        assert_eq!((future.index, future.pin_call.is_none()), (1, true));

        let f = tool(quote! {
            fn go(&self) -> futures::future::BoxFuture<'_, Result<u8, E>> {
                Box::pin(async move { Ok(1) })
            }
        });
        let output = returned_future(&f.sig, stmts(&f)).unwrap().output.unwrap();
        assert_eq!(
            quote!(#output).to_string(),
            quote!(Result<u8, E>).to_string()
        );

        let f = tool(quote!(
            async fn go() -> u8 {
                async move { 1 }.await
            }
        ));
        assert!(returned_future(&f.sig, stmts(&f)).is_none());
        let f = tool(quote!(
            fn go() -> u8 {
                other(async move { 1 })
            }
        ));
        assert!(returned_future(&f.sig, stmts(&f)).is_none());
    }
}
