//! Build the output tokens: the function as written, with a body that
//! records each call.
//!
//! Generated names are `__monitor_`-prefixed with `Span::mixed_site()`, so
//! the user's code can neither see nor collide with them; paths start at a
//! crate root (`::core::…`, `::monitor_core::__private::…`); tokens copied
//! from the user keep their spans, so type errors point at their code.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Attribute, FnArg, Ident, Pat, PatIdent, ReturnType, Signature, Stmt, Type};

use crate::attr::{self, Args};
use crate::item::{self, Body, ReturnedFuture, Shape, ToolFn};
use crate::{rmcp, types, valid};

/// Whether rmcp's argument and result types are recognised by spelling
/// (`RequestContext<_>` and `Peer<_>` not measured, `Json<T>` measured as
/// JSON): only with the `rmcp` feature, which `monitor-core/rmcp` turns on,
/// so that other crates' `Json<T>` or `Peer<T>` are measured like any type.
const RMCP: bool = cfg!(feature = "rmcp");

/// Parses, validates and expands `#[monitored_tool(args)] item`.
pub(crate) fn monitored_tool(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    monitored_tool_with(args, item, RMCP)
}

/// [`monitored_tool`], with rmcp's spellings recognised or not.
fn monitored_tool_with(
    args: TokenStream,
    item: TokenStream,
    rmcp: bool,
) -> syn::Result<TokenStream> {
    let args = attr::parse(args)?;
    let tool = item::parse(item)?;
    valid::check(&args, &tool)?;
    Ok(expand(&args, tool, rmcp))
}

/// The tool name of a function: a trailing `_tool` removed, `_` → `-`,
/// `r#` dropped: `search_tool` → `search`, `get_user_info` →
/// `get-user-info`, `r#type` → `type`.
pub(crate) fn tool_name(ident: &Ident) -> String {
    let name = ident.unraw().to_string();
    let base = match name.strip_suffix("_tool") {
        Some(base) if !base.is_empty() => base,
        _ => &name,
    };
    base.replace('_', "-")
}

fn mixed_at(span: Span) -> Span {
    Span::mixed_site().located_at(span)
}

/// `tokens` with every span moved to `span`'s location (hygiene kept), so
/// that an error about a generated call points at one user token.
fn located(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut moved =
                    proc_macro2::Group::new(group.delimiter(), located(&group.stream(), span));
                moved.set_span(group.span().located_at(span));
                token = moved.into();
            } else {
                token.set_span(token.span().located_at(span));
            }
            token
        })
        .collect()
}

/// What every shape of the expansion shares.
struct Gen<'a> {
    args: &'a Args,
    /// The path to `monitor_core` (`crate = …`).
    krate: TokenStream,
    name: String,
    /// The type the instrumented body produces, as written ([`Shape::output`]).
    output: Option<&'a Type>,
    /// Where errors about the returned value point: `T` of a return type
    /// written `Result<T, E>`, else the return type.
    output_span: Span,
    /// Where errors about the timeout's error type point: `E` of a
    /// `Result<T, E>` return type, else the return type.
    error_span: Span,
    /// The result is written `Json<T>` or `Result<Json<T>, E>` (no `Debug`):
    /// its `T` is measured as JSON.
    json_output: bool,
    /// An rmcp `RequestContext` argument, whose request id is the call's
    /// `gen_ai.tool.call.id`.
    call_id: Option<Ident>,
}

/// One measured argument: `let __monitor_input_N = input_len(&ident);`.
struct Measured {
    cfgs: Vec<Attribute>,
    ident: Ident,
    size: Ident,
    span: Span,
    /// In an `async fn`, the argument is moved through the measuring block
    /// and bound again (with the signature's `mut`, taken from there),
    /// instead of borrowed: rustc keeps a local that was ever borrowed in
    /// the fn's future until its scope ends, so a borrowed argument would
    /// be held there twice, once more inside the body (BENCHMARKS.md, "The
    /// async tool's size").
    rebind: Option<Rebind>,
}

/// How an `async fn`'s measured argument is bound again after it is
/// measured.
struct Rebind {
    mutability: Option<syn::Token![mut]>,
}

/// A measured pattern argument, bound to a hidden name in the signature
/// and destructured after it is measured: `let PAT = __monitor_arg_N;`.
struct Destructure {
    cfgs: Vec<Attribute>,
    pat: Pat,
    hidden: Ident,
}

fn expand(args: &Args, mut tool: ToolFn, rmcp: bool) -> TokenStream {
    let Body::Block { inner_attrs, stmts } = std::mem::replace(&mut tool.body, Body::Missing)
    else {
        unreachable!("`valid::check` rejects functions without a body")
    };
    let krate = args.krate.as_ref().map_or_else(
        || quote_spanned!(Span::mixed_site()=> ::monitor_core),
        |krate| krate.value.to_token_stream(),
    );
    // Ours, else rmcp's `#[tool]` below (the name MCP clients call), else
    // the fn's name by our rule.
    let name = args.name.as_ref().map_or_else(
        || {
            rmcp::mcp_name(&tool.attrs, &tool.sig.ident)
                .unwrap_or_else(|| tool_name(&tool.sig.ident))
        },
        |name| name.value.value(),
    );
    let (measured, destructured) = plan_inputs(args, &mut tool.sig, rmcp);
    let ToolFn {
        attrs, vis, sig, ..
    } = &tool;
    let shape = Shape::of(sig, &stmts);
    let output = shape.output(sig);
    // Errors about the result point at `T` of `Result<T, E>` (else at the
    // whole type, else at the fn's name); errors about the timeout's error
    // type at `E`.
    let fallback = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let (output_span, error_span) = output.map_or((fallback, fallback), |ty| {
        types::result_types(ty).map_or((ty.span(), ty.span()), |(ok, error)| {
            (ok.span(), error.span())
        })
    });
    let plan = Gen {
        args,
        krate,
        name,
        output,
        output_span,
        error_span,
        json_output: rmcp && output.is_some_and(rmcp::is_json_result),
        call_id: if rmcp {
            rmcp::request_context_arg(sig)
        } else {
            None
        },
    };
    let body = match &shape {
        Shape::Sync => plan.sync_fn(&measured, &destructured, &stmts),
        Shape::Async => plan.async_fn(&measured, &destructured, &stmts),
        Shape::ReturnedFuture(future) => {
            plan.returned_future(future, &measured, &destructured, &stmts)
        }
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #body
        }
    }
}

/// Which arguments are measured; measured pattern arguments get a hidden
/// name in `sig` (their pattern moves into the body).
fn plan_inputs(args: &Args, sig: &mut Signature, rmcp: bool) -> (Vec<Measured>, Vec<Destructure>) {
    let mut measured = Vec::new();
    let mut destructured = Vec::new();
    if args.skip_all.is_some() {
        return (measured, destructured);
    }
    let skipped = args.skip.as_ref().map_or(&[][..], |skip| &skip.value[..]);
    let is_async = sig.asyncness.is_some();
    for (index, arg) in sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(typed) = arg else {
            continue;
        };
        // rmcp's session arguments and `Json<_>` are skipped by type.
        if (rmcp && rmcp::skipped_by_type(&typed.ty))
            || item::bindings(&typed.pat)
                .iter()
                .any(|b| skipped.contains(b))
        {
            continue;
        }
        let cfgs: Vec<Attribute> = typed
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .cloned()
            .collect();
        let span = typed.pat.span();
        let size = format_ident!("__monitor_input_{}", index, span = Span::mixed_site());
        // A `ref` binding is a borrow already: it is measured as before.
        let mut rebind = is_async.then_some(Rebind { mutability: None });
        let ident = match &mut *typed.pat {
            Pat::Ident(pat) if pat.subpat.is_none() => {
                if pat.by_ref.is_some() {
                    rebind = None;
                } else if let Some(rebind) = &mut rebind {
                    rebind.mutability = pat.mutability.take();
                }
                pat.ident.clone()
            }
            pat => {
                let hidden = format_ident!("__monitor_arg_{}", index, span = mixed_at(span));
                if !matches!(pat, Pat::Wild(_)) {
                    destructured.push(Destructure {
                        cfgs: cfgs.clone(),
                        pat: pat.clone(),
                        hidden: hidden.clone(),
                    });
                }
                *typed.pat = Pat::Ident(PatIdent {
                    attrs: Vec::new(),
                    by_ref: None,
                    mutability: None,
                    ident: hidden.clone(),
                    subpat: None,
                });
                hidden
            }
        };
        measured.push(Measured {
            cfgs,
            ident,
            size,
            span,
            rebind,
        });
    }
    (measured, destructured)
}

/// The return type as a type annotation: `impl Trait` becomes `_`.
fn inferable(ty: &Type) -> Type {
    struct ImplToInfer;
    impl VisitMut for ImplToInfer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    ImplToInfer.visit_type_mut(&mut ty);
    ty
}

/// An unreachable typed `return` that fixes the type of the block it
/// starts, so `?` and `return` in the body infer as in the function.
fn typed_return(output: Option<&Type>) -> TokenStream {
    let Some(ty) = output else {
        return TokenStream::new();
    };
    let ty = inferable(ty);
    quote_spanned! {Span::mixed_site()=>
        if let ::core::option::Option::Some(__monitor_ret) = ::core::option::Option::None::<#ty> {
            #[allow(unreachable_code)]
            return __monitor_ret;
        }
    }
}

impl Gen<'_> {
    /// The path to `monitor_core` at `at`, for a call whose errors should
    /// point at one user token.
    fn krate_at(&self, at: Span) -> TokenStream {
        match &self.args.krate {
            None => quote_spanned!(at=> ::monitor_core),
            Some(krate) => located(&krate.value.to_token_stream(), at),
        }
    }

    // Input:
    //     #[monitored_tool]
    //     fn add(&mut self, a: u32, (b, c): (u32, u32)) -> Result<u32, E> { BODY }
    //
    // Output:
    //     fn add(&mut self, a: u32, __monitor_arg_2: (u32, u32)) -> Result<u32, E> {
    //         let __monitor_input_1 = input_len(&a);
    //         let __monitor_input_2 = input_len(&__monitor_arg_2);
    //         let (b, c) = __monitor_arg_2;
    //         let mut __monitor_guard = {
    //             static __MONITOR_SITE: Callsite = Callsite::new("add");
    //             __MONITOR_SITE.start()
    //         };
    //         __monitor_guard.add_input_size(__monitor_input_1);
    //         __monitor_guard.add_input_size(__monitor_input_2);
    //         match catch_unwind_call(&mut __monitor_guard, move || {
    //             if let Some(__monitor_ret) = None::<Result<u32, E>> { return __monitor_ret; }
    //             BODY
    //         }) {
    //             Ok(__monitor_value) => { FINISH; __monitor_value }
    //             Err(__monitor_panic) => { FINISH_PANIC; resume_unwind(__monitor_panic) }
    //         }
    //     }
    //
    // `catch_unwind_call` takes an `FnOnce`, which makes the closure
    // `FnOnce`: a body returning a reborrow of a captured `&mut self`
    // compiles as in the plain function.
    fn sync_fn(
        &self,
        measured: &[Measured],
        destructured: &[Destructure],
        stmts: &[Stmt],
    ) -> TokenStream {
        let krate = &self.krate;
        let measure = self.measure(measured, destructured);
        let start = self.start(measured, false);
        let typed_return = typed_return(self.output);
        let finish = self.finish();
        let finish_panic = self.finish_panic();
        quote_spanned! {Span::mixed_site()=>
            #measure
            #start
            match #krate::__private::catch_unwind_call(&mut __monitor_guard, move || {
                #typed_return
                #(#stmts)*
            }) {
                ::core::result::Result::Ok(__monitor_value) => {
                    #finish
                    __monitor_value
                }
                ::core::result::Result::Err(__monitor_panic) => {
                    #finish_panic
                }
            }
        }
    }

    // Input:
    //     #[monitored_tool(timeout = "5s")]
    //     async fn fetch(&self, url: String) -> Result<String, E> { BODY }
    //
    // Output (a parked guard lives in the async fn's future, so the clock
    // starts at its first poll and a future dropped mid-way records a
    // cancel; the whole guard only once the body is done; measured
    // arguments are moved through their measuring, see `Measured::rebind`):
    //     async fn fetch(&self, url: String) -> Result<String, E> {
    //         let (__monitor_input_1, url) = { let __monitor_owned = url; (input_len(&__monitor_owned), __monitor_owned) };
    //         let mut __monitor_parked = { static __MONITOR_SITE: …; __MONITOR_SITE.start_parked() };
    //         __monitor_parked.add_input_size(__monitor_input_1);
    //         let __monitor_body = async move {
    //             if let Some(__monitor_ret) = None::<Result<String, E>> { return __monitor_ret; }
    //             BODY
    //         };
    //         let mut __monitor_deadline = pin!(with_deadline(5s, catch_unwind_future(__monitor_body)));
    //         let __monitor_result = __monitor_deadline.as_mut().await;
    //         let mut __monitor_guard = __monitor_parked.resume();
    //         let __monitor_result = match __monitor_result {
    //             Some(__monitor_result) => __monitor_result,
    //             None => { RECORD_TIMEOUT; return timed_out(TimeoutError::new("fetch", 5s)); }
    //         };
    //         match __monitor_result { /* as for a sync fn */ }
    //     }
    fn async_fn(
        &self,
        measured: &[Measured],
        destructured: &[Destructure],
        stmts: &[Stmt],
    ) -> TokenStream {
        let measure = self.measure(measured, destructured);
        let run = self.run_future(measured, stmts);
        quote_spanned! {Span::mixed_site()=>
            #measure
            #run
        }
    }

    // Input (what `#[async_trait]` makes of an `async fn`, and what rmcp's
    // `#[tool]` generates):
    //     fn run<'life0, 'async_trait>(&'life0 self, x: u32)
    //         -> Pin<Box<dyn Future<Output = Result<u32, E>> + Send + 'async_trait>>
    //     {
    //         Box::pin(async move { BODY })
    //     }
    //
    // Output (the future is instrumented, not its creation):
    //     fn run<'life0, 'async_trait>(&'life0 self, x: u32) -> Pin<Box<…>> {
    //         let __monitor_input_1 = input_len(&x);
    //         Box::pin(async move {
    //             let mut __monitor_parked = { static __MONITOR_SITE: …; __MONITOR_SITE.start_parked() };
    //             __monitor_parked.add_input_size(__monitor_input_1);
    //             let __monitor_body = async move {
    //                 if let Some(__monitor_ret) = None::<Result<u32, E>> { return __monitor_ret; }
    //                 BODY
    //             };
    //             let __monitor_result = catch_unwind_future(__monitor_body).await;
    //             let mut __monitor_guard = __monitor_parked.resume();
    //             match __monitor_result { /* as for an async fn */ }
    //         })
    //     }
    //
    // Arguments are measured when the future is created (they are not yet
    // used then); the clock starts at its first poll.
    fn returned_future(
        &self,
        future: &ReturnedFuture<'_>,
        measured: &[Measured],
        destructured: &[Destructure],
        stmts: &[Stmt],
    ) -> TokenStream {
        let measure = self.measure(measured, destructured);
        let run = self.run_future(measured, &future.block.block.stmts);
        let block_attrs = &future.block.attrs;
        let capture = &future.block.capture;
        let async_token = &future.block.async_token;
        let instrumented = quote_spanned! {Span::mixed_site()=>
            #(#block_attrs)* #async_token #capture {
                #run
            }
        };
        let rebuilt = match future.pin_call {
            Some(call) => {
                let func = &call.func;
                quote!(#func(#instrumented))
            }
            None => instrumented,
        };
        let before = &stmts[..future.index];
        let after = &stmts[future.index + 1..];
        quote! {
            #measure
            #(#before)*
            #rebuilt
            #(#after)*
        }
    }

    /// Starts the clock, runs the body as a future whose panics are caught,
    /// under the deadline if there is one, then records the outcome.
    fn run_future(&self, measured: &[Measured], stmts: &[Stmt]) -> TokenStream {
        let krate = &self.krate;
        let typed_return = typed_return(self.output);
        let start = self.start(measured, true);
        // The future holds a parked guard across the wait, not the whole
        // guard (see `ParkedGuard`), and the body's future inside the panic
        // catcher, with no pointer to it. In the call's `execute_tool` span
        // with monitor-core's `tracing` feature; without it, `instrument`
        // returns the future itself.
        let start_body = quote_spanned! {Span::mixed_site()=>
            #start
            let __monitor_body = __monitor_parked.instrument(async move {
                #typed_return
                #(#stmts)*
            });
        };
        let body = quote_spanned! {Span::mixed_site()=>
            #krate::__private::catch_unwind_future(__monitor_body)
        };
        let resume = quote_spanned! {Span::mixed_site()=>
            let mut __monitor_guard = __monitor_parked.resume();
        };
        let result = match &self.args.timeout {
            None => quote_spanned! {Span::mixed_site()=>
                let __monitor_result = #body.await;
                #resume
            },
            Some(timeout) => {
                let millis = Literal::u64_unsuffixed(timeout.value);
                let duration = quote_spanned!(Span::mixed_site()=>
                    ::core::time::Duration::from_millis(#millis)
                );
                let name = &self.name;
                let at = self.error_span;
                // Call-site hygiene is safe here (no user code is in this
                // scope) and keeps the error on the user's token alone.
                let error = Ident::new("__monitor_timeout", at);
                let krate_at = self.krate_at(at);
                let timed_out = quote_spanned!(at=> #krate_at::__private::timed_out(#error));
                // Pinned in a local, so that a body cut off by the deadline
                // is dropped after its call is recorded, as a body that
                // finished is, not before the clock stops.
                quote_spanned! {Span::mixed_site()=>
                    let mut __monitor_deadline =
                        ::core::pin::pin!(#krate::__private::with_deadline(#duration, #body));
                    let __monitor_result = __monitor_deadline.as_mut().await;
                    #resume
                    let __monitor_result = match __monitor_result {
                        ::core::option::Option::Some(__monitor_result) => __monitor_result,
                        ::core::option::Option::None => {
                            __monitor_guard.stop();
                            let #error = #krate::__private::TimeoutError::new(#name, #duration);
                            __monitor_guard.finish(#krate::__private::timeout_outcome(&#error));
                            return #timed_out;
                        }
                    };
                }
            }
        };
        let finish = self.finish();
        let finish_panic = self.finish_panic();
        quote_spanned! {Span::mixed_site()=>
            #start_body
            #result
            match __monitor_result {
                ::core::result::Result::Ok(__monitor_value) => {
                    #finish
                    __monitor_value
                }
                ::core::result::Result::Err(__monitor_panic) => {
                    #finish_panic
                }
            }
        }
    }

    /// The call-site handle: the tool's name is looked up once per site.
    fn site(&self) -> TokenStream {
        let krate = &self.krate;
        let name = &self.name;
        quote_spanned! {Span::mixed_site()=>
            static __MONITOR_SITE: #krate::__private::Callsite =
                #krate::__private::Callsite::new(#name);
        }
    }

    /// Measures the arguments (before the clock starts), then destructures
    /// the measured pattern arguments.
    fn measure(&self, measured: &[Measured], destructured: &[Destructure]) -> TokenStream {
        let sizes = measured.iter().map(|m| {
            let Measured {
                cfgs,
                ident,
                size,
                span,
                rebind,
            } = m;
            let krate = self.krate_at(*span);
            // Taken by reference under a call-site name inside a block with
            // no user code, so an error about `Debug` points at the argument
            // even when it is a hidden pattern argument.
            let value = Ident::new("__monitor_value", *span);
            // Common types are measured without `fmt` (see `finish`).
            let mixed_krate = &self.krate;
            let fast = quote_spanned! {Span::mixed_site()=> {
                use #mixed_krate::__private::FastLenProbe as _;
                (&&&#mixed_krate::__private::Fast(#value)).__monitor_fast_len()
            }};
            let len = |of: &TokenStream| {
                quote_spanned! {*span=> {
                    let #value = &#of;
                    #fast.or_else(|| #krate::__private::input_len(#value))
                }}
            };
            // `_name` arguments are measured too.
            match rebind {
                None => {
                    let call = len(&ident.to_token_stream());
                    quote_spanned! {Span::mixed_site()=>
                        #(#cfgs)*
                        #[allow(clippy::used_underscore_binding)]
                        let #size = #call;
                    }
                }
                // Bound again as the signature bound it; not a new warning
                // for an argument the body leaves unused (it was measured).
                Some(Rebind { mutability }) => {
                    let owned = quote_spanned!(Span::mixed_site()=> __monitor_owned);
                    let call = len(&owned);
                    quote_spanned! {Span::mixed_site()=>
                        #(#cfgs)*
                        #[allow(clippy::used_underscore_binding, unused_variables)]
                        let (#size, #mutability #ident) = {
                            let #owned = #ident;
                            (#call, #owned)
                        };
                    }
                }
            }
        });
        let lets = destructured.iter().map(|d| {
            let Destructure { cfgs, pat, hidden } = d;
            quote_spanned!(Span::mixed_site()=> #(#cfgs)* let #pat = #hidden;)
        });
        quote!(#(#sizes)* #(#lets)*)
    }

    /// Evaluates the context and the target monitor, starts the clock, and
    /// hands the sizes and context to the guard: `__monitor_guard`, or for
    /// an async body (`parked`), `__monitor_parked` (see `ParkedGuard`),
    /// with room for the details only if the tool has any.
    fn start(&self, measured: &[Measured], parked: bool) -> TokenStream {
        let args = self.args;
        let with_details =
            args.user_id.is_some() || args.session_id.is_some() || args.metadata.is_some();
        let (holder, start, start_in) = match (parked, with_details) {
            (false, _) => ("__monitor_guard", "start", "start_in"),
            (true, false) => ("__monitor_parked", "start_parked", "start_parked_in"),
            (true, true) => (
                "__monitor_parked",
                "start_parked_with_details",
                "start_parked_with_details_in",
            ),
        };
        let holder = Ident::new(holder, Span::mixed_site());
        let start = Ident::new(start, Span::mixed_site());
        let start_in = Ident::new(start_in, Span::mixed_site());
        let mut before = TokenStream::new();
        let mut after = TokenStream::new();
        for (field, setter, expr) in [
            ("__monitor_user_id", "set_user_id", &args.user_id),
            ("__monitor_session_id", "set_session_id", &args.session_id),
        ] {
            if let Some(expr) = expr {
                let local = Ident::new(field, Span::mixed_site());
                let setter = Ident::new(setter, Span::mixed_site());
                let expr = &expr.value;
                let at = expr.span();
                let krate = self.krate_at(at);
                let value = quote_spanned!(at=> #krate::__private::id_string(&(#expr)));
                before.extend(quote_spanned!(Span::mixed_site()=> let #local = #value;));
                after.extend(quote_spanned!(Span::mixed_site()=> #holder.#setter(#local);));
            }
        }
        for (index, (key, expr)) in args.metadata.iter().flat_map(|m| &m.value).enumerate() {
            let local = format_ident!("__monitor_metadata_{}", index, span = Span::mixed_site());
            let at = expr.span();
            let krate = self.krate_at(at);
            let value = quote_spanned!(at=> #krate::__private::metadata_value(&(#expr)));
            before.extend(quote_spanned!(Span::mixed_site()=> let #local = #value;));
            after.extend(quote_spanned!(Span::mixed_site()=> #holder.add_metadata(#key, #local);));
        }
        // The call-site handle lives in a block of its own: a `static` is an
        // item, which mixed-site hygiene does not hide from the body.
        let site = self.site();
        let guard = match &args.monitor {
            None => quote_spanned! {Span::mixed_site()=>
                let mut #holder = {
                    #site
                    __MONITOR_SITE.#start()
                };
            },
            Some(monitor) => {
                let expr = &monitor.value;
                let at = expr.span();
                // Rebound with call-site hygiene inside a block that holds no
                // user code, so an error about its type points at `expr`.
                let target = Ident::new("__monitor_target", at);
                let krate = self.krate_at(at);
                let as_monitor = quote_spanned!(at=> #krate::__private::monitor_of(#target));
                quote_spanned! {Span::mixed_site()=>
                    let __monitor_target = &(#expr);
                    let mut #holder = {
                        #site
                        let #target = __monitor_target;
                        __MONITOR_SITE.#start_in(#as_monitor)
                    };
                }
            }
        };
        let sizes = measured.iter().map(|m| {
            let Measured { cfgs, size, .. } = m;
            quote_spanned!(Span::mixed_site()=> #(#cfgs)* #holder.add_input_size(#size);)
        });
        // The MCP request id, from rmcp's `RequestContext` argument.
        if let Some(context) = &self.call_id {
            // The argument is often `_ctx`: named only here.
            after.extend(quote_spanned! {Span::mixed_site()=>
                #[allow(clippy::used_underscore_binding)]
                let () = #holder.set_tool_call_id(&#context.id);
            });
        }
        quote! {
            #before
            #guard
            #(#sizes)*
            #after
        }
    }

    /// Stops the clock, then measures and classifies `__monitor_value` and
    /// records the outcome.
    fn finish(&self) -> TokenStream {
        let krate = &self.krate;
        // Call-site hygiene is safe here (no user code is in this match
        // arm) and keeps an error about `Debug` on the return type alone.
        let ok = Ident::new("__monitor_ok", self.output_span);
        // `skip_all` touches no `Debug` at all: the result is skipped too.
        let measure_output = self.args.skip_output.is_none() && self.args.skip_all.is_none();
        let len = if measure_output {
            let at = self.output_span;
            let krate_at = self.krate_at(at);
            if self.json_output {
                // `Json<T>` has no `Debug`: its `T` is measured as JSON.
                quote_spanned!(at=> #krate_at::__private::json_output_len(&#ok.0))
            } else {
                // Common types (strings, integers, and `Vec`s, slices and
                // `Option`s of them) are measured without `fmt`; the rest,
                // and the `Debug` requirement's error, go to `output_len`.
                let fast = quote_spanned! {Span::mixed_site()=>
                    (&&&#krate::__private::Fast(#ok)).__monitor_fast_len()
                };
                let slow = quote_spanned!(at=> #krate_at::__private::output_len(#ok));
                quote_spanned!(Span::mixed_site()=> #fast.or_else(|| #slow))
            }
        } else {
            quote_spanned!(Span::mixed_site()=> ::core::option::Option::Some(0))
        };
        // A value may decide the outcome itself (rmcp's `CallToolResult`
        // with `is_error`); for any other type this is `None`, inlined.
        let success = quote_spanned! {Span::mixed_site()=>
            ::core::result::Result::Ok(#ok) => {
                let __monitor_outcome = match (&&#krate::__private::Returned(#ok))
                    .__monitor_returned(&mut __monitor_guard, #measure_output)
                {
                    ::core::option::Option::Some(__monitor_decided) => __monitor_decided,
                    ::core::option::Option::None => {
                        let __monitor_len = #len;
                        #krate::__private::success(&mut __monitor_guard, __monitor_len)
                    }
                };
                __monitor_guard.finish(__monitor_outcome);
            }
        };
        // An `Err` is recorded from its message formatted in place, not
        // through an `Outcome` that would own a copy of it.
        quote_spanned! {Span::mixed_site()=>
            __monitor_guard.stop();
            {
                use #krate::__private::{
                    ClassifyOutcome as _, ErrorMessage as _, FastLenProbe as _, ReturnedOutcome as _,
                    SplitResult as _,
                };
                match (&&#krate::__private::Split(&__monitor_value)).__monitor_split() {
                    #success,
                    ::core::result::Result::Err(__monitor_err) => __monitor_guard.finish_error(
                        &|__monitor_out| {
                            (&&&#krate::__private::Message(__monitor_err)).__monitor_write(__monitor_out)
                        },
                        &|__monitor_message| {
                            (&&&&&&&#krate::__private::Classify(__monitor_err))
                                .__monitor_classify(__monitor_message)
                        },
                    ),
                }
            }
        }
    }

    /// Records a panic and resumes it, unchanged.
    fn finish_panic(&self) -> TokenStream {
        let krate = &self.krate;
        quote_spanned! {Span::mixed_site()=>
            __monitor_guard.finish_panic(&*__monitor_panic);
            #krate::__private::resume_unwind(__monitor_panic)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(tokens: TokenStream) -> String {
        tool_name(&syn::parse2::<Ident>(tokens).unwrap())
    }

    #[test]
    fn tool_names_drop_a_trailing_tool_only() {
        assert_eq!(name(quote!(search_tool)), "search");
        assert_eq!(name(quote!(get_user_info)), "get-user-info");
        assert_eq!(name(quote!(get_tools_list)), "get-tools-list");
        assert_eq!(name(quote!(r#type)), "type");
        assert_eq!(name(quote!(tool)), "tool");
        assert_eq!(name(quote!(_tool)), "-tool");
        assert_eq!(name(quote!(tool_tool)), "tool");
    }

    fn expand_str(args: TokenStream, item: TokenStream) -> String {
        monitored_tool(args, item).unwrap().to_string()
    }

    #[test]
    fn rmcp_spellings_are_skipped_only_with_rmcp_support() {
        let item = quote!(
            async fn f(&self, peer: Peer<RoleServer>, body: Json<In>, n: u8) -> Json<Out> {
                todo!()
            }
        );
        let with = monitored_tool_with(quote!(), item.clone(), true)
            .unwrap()
            .to_string();
        let without = monitored_tool_with(quote!(), item, false)
            .unwrap()
            .to_string();
        // An async fn's arguments are moved through their measuring.
        let measures = |out: &str, arg: &str| out.contains(&format!("__monitor_owned = {arg} ;"));
        let as_json = |out: &str| out.contains("json_output_len (& __monitor_ok . 0)");
        for out in [&with, &without] {
            assert!(measures(out, "n"), "{out}");
        }
        assert!(
            !measures(&with, "peer") && !measures(&with, "body"),
            "{with}"
        );
        assert!(as_json(&with), "{with}");
        assert!(
            measures(&without, "peer") && measures(&without, "body"),
            "{without}"
        );
        assert!(!as_json(&without), "{without}");
    }

    #[test]
    fn signatures_are_kept_and_patterns_move_into_the_body() {
        let out = expand_str(
            quote!(),
            quote!(
                fn f(&self, (a, b): (u8, u8), _: u8, c: u8) {}
            ),
        );
        assert!(
            out.contains(
                "fn f (& self , __monitor_arg_1 : (u8 , u8) , __monitor_arg_2 : u8 , c : u8)"
            ),
            "{out}"
        );
        assert!(out.contains("let (a , b) = __monitor_arg_1 ;"), "{out}");
        assert!(!out.contains("= __monitor_arg_2 ;"), "{out}");

        let out = expand_str(
            quote!(skip(a)),
            quote!(
                fn f((a, b): (u8, u8)) {}
            ),
        );
        assert!(out.contains("fn f ((a , b) : (u8 , u8))"), "{out}");
        assert!(!out.contains("input_len"), "{out}");
    }

    #[test]
    fn skip_all_measures_nothing() {
        let out = expand_str(
            quote!(skip_all),
            quote!(
                fn f(a: u8, b: u8) {}
            ),
        );
        assert!(!out.contains("input_len"), "{out}");
    }

    #[test]
    fn renamed_crates_are_used_everywhere() {
        let out = expand_str(
            quote!(crate = ::renamed),
            quote!(
                fn f(a: u8) -> u8 {
                    a
                }
            ),
        );
        assert!(!out.contains("monitor_core"), "{out}");
        assert!(out.contains(":: renamed :: __private :: Callsite"), "{out}");
    }

    #[test]
    fn impl_trait_returns_become_inferred() {
        let out = expand_str(
            quote!(),
            quote!(
                fn f() -> Box<impl Fn()> {
                    Box::new(|| ())
                }
            ),
        );
        assert!(out.contains("None :: < Box < _ > >"), "{out}");
    }

    #[test]
    fn rmcp_tools_are_named_as_rmcp_names_them() {
        let site = |args: TokenStream, item: TokenStream| {
            let out = expand_str(args, item);
            let at = out.find("Callsite :: new (").expect("a call site") + 17;
            out[at..].split(')').next().unwrap().trim().to_owned()
        };
        let fn_name = quote! {
            #[tool]
            async fn get_user_tool(&self) -> String { String::new() }
        };
        assert_eq!(site(quote!(), fn_name), "\"get_user_tool\"");
        let tool_name = quote! {
            #[tool(description = "d", name = "users.get")]
            async fn get_user_tool(&self) -> String { String::new() }
        };
        assert_eq!(site(quote!(), tool_name.clone()), "\"users.get\"");
        assert_eq!(site(quote!(name = "mine"), tool_name), "\"mine\"");
    }

    #[test]
    fn rmcp_session_arguments_are_not_measured() {
        let out = expand_str(
            quote!(),
            quote! {
                async fn f(&self, p: Parameters<P>, c: RequestContext<RoleServer>, peer: Peer<RoleServer>) {}
            },
        );
        assert_eq!(out.matches("input_len").count(), 1, "{out}");
    }

    #[test]
    fn an_rmcp_request_context_gives_the_call_id() {
        let with_context = monitored_tool_with(
            quote!(),
            quote! {
                async fn f(&self, ctx: RequestContext<RoleServer>) -> u8 { 1 }
            },
            true,
        )
        .unwrap()
        .to_string();
        assert!(
            with_context.contains("let () = __monitor_parked . set_tool_call_id (& ctx . id) ;"),
            "{with_context}"
        );
        let without = monitored_tool_with(
            quote!(),
            quote! {
                async fn f(&self, ctx: RequestContext<RoleServer>) -> u8 { 1 }
            },
            false,
        )
        .unwrap()
        .to_string();
        assert!(!without.contains("set_tool_call_id"), "{without}");
    }

    #[test]
    fn async_trait_futures_are_instrumented_inside() {
        let out = expand_str(
            quote!(),
            quote! {
                fn run<'a>(&'a self) -> Pin<Box<dyn Future<Output = u8> + Send + 'a>> {
                    Box::pin(async move { 1 })
                }
            },
        );
        let pin = out
            .find("Box :: pin (async move {")
            .expect("the pinned block");
        let start = out
            .find("__MONITOR_SITE . start_parked ()")
            .expect("a guard");
        assert!(pin < start, "{out}");
    }
}
