//! What a type's spelling tells: `T` and `E` of `Result<T, E>`, and the
//! output of a future type. A proc macro sees tokens, not resolved types,
//! so these read the type as written.

use syn::visit::Visit;
use syn::{ReturnType, Signature, Type};

/// `T` of the first `Output = T` in a return type
/// (`Pin<Box<dyn Future<Output = T> + Send>>`, `impl Future<Output = T>`),
/// or of the `futures` aliases `BoxFuture<'a, T>` and `LocalBoxFuture<'a, T>`.
pub(crate) fn future_output(output: &ReturnType) -> Option<&Type> {
    struct Find<'ast>(Option<&'ast Type>);
    impl<'ast> Visit<'ast> for Find<'ast> {
        fn visit_assoc_type(&mut self, assoc: &'ast syn::AssocType) {
            if self.0.is_none() && assoc.ident == "Output" {
                self.0 = Some(&assoc.ty);
            }
            syn::visit::visit_assoc_type(self, assoc);
        }
    }
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut find = Find(None);
    find.visit_type(ty);
    find.0.or_else(|| boxed_future_alias(ty))
}

/// `T` of `BoxFuture<'a, T>` or `LocalBoxFuture<'a, T>`, by any path.
fn boxed_future_alias(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "BoxFuture" && last.ident != "LocalBoxFuture" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().rev().find_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// `T` and `E` of a type written `Result<T, E>` (any path ending in
/// `Result` with two type arguments).
pub(crate) fn result_types(ty: &Type) -> Option<(&Type, &Type)> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let types: Vec<&Type> = args
        .args
        .iter()
        .filter_map(|arg| match arg {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect();
    match types[..] {
        [ok, error] if last.ident == "Result" => Some((ok, error)),
        _ => None,
    }
}

/// The declared return type, if any.
pub(crate) fn return_type(sig: &Signature) -> Option<&Type> {
    match &sig.output {
        ReturnType::Type(_, ty) => Some(ty),
        ReturnType::Default => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn result_types_are_found_by_spelling_only_where_written() {
        let ty: Type = syn::parse_quote!(std::result::Result<Vec<u8>, MyError>);
        let (ok, error) = result_types(&ty).unwrap();
        assert_eq!(
            quote!(#ok #error).to_string(),
            quote!(Vec<u8> MyError).to_string()
        );
        // Aliases are recognised by type in generated code, not here.
        assert!(result_types(&syn::parse_quote!(io::Result<u8>)).is_none());
        assert!(result_types(&syn::parse_quote!(Option<u8>)).is_none());
    }
}
