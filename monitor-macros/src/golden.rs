//! Golden expansions: each `golden/NAME.rs` (a function with the attribute)
//! expands, pretty-printed, to exactly `golden/NAME.expanded`. The
//! macro's docs show `golden/add.expanded` and run it as a doctest, so
//! what the docs say the attribute emits is what it emits.
//!
//! After an intended change of the expansion, regenerate with
//! `GOLDEN=overwrite cargo test -p monitor-macros golden` and review the
//! diff.

use std::path::{Path, PathBuf};

use quote::ToTokens;

/// The expansion of the first item of `source`, whose first attribute is
/// `#[monitored_tool…]`, pretty-printed.
fn expand_file(source: &str) -> String {
    let file: syn::File = syn::parse_str(source).expect("a golden input parses");
    let Some(syn::Item::Fn(mut item)) = file.items.into_iter().next() else {
        panic!("a golden input is one function");
    };
    let attr = item.attrs.remove(0);
    assert!(attr.path().is_ident("monitored_tool"), "{source}");
    let args = match attr.meta {
        syn::Meta::Path(_) => proc_macro2::TokenStream::new(),
        syn::Meta::List(list) => list.tokens,
        syn::Meta::NameValue(_) => panic!("`#[monitored_tool = …]` is not a form it takes"),
    };
    let expanded = crate::expand::monitored_tool(args, item.to_token_stream())
        .unwrap_or_else(|error| panic!("{source}: {error}"));
    let file: syn::File = syn::parse2(expanded).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

#[test]
fn expansions_match_the_golden_files() {
    let overwrite = std::env::var_os("GOLDEN").is_some_and(|v| v == "overwrite");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("golden/ exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 4, "golden inputs: {inputs:?}");
    let mut mismatched = Vec::new();
    for input in inputs {
        let source = std::fs::read_to_string(&input).expect("a readable input");
        let actual = expand_file(&source);
        let golden = input.with_extension("expanded");
        if overwrite {
            std::fs::write(&golden, &actual).expect("a writable golden file");
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if expected != actual {
            mismatched.push(format!(
                "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
                golden.display()
            ));
        }
    }
    assert!(
        mismatched.is_empty(),
        "expansions changed (GOLDEN=overwrite to accept, then review the diff):\n{}",
        mismatched.join("\n")
    );
}
