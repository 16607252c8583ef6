//! # portcullis-macros
//!
//! `#[requires_scopes(...)]` and `#[requires_authorities(...)]` for axum handlers, re-exported by
//! the `portcullis` crate. Use them through `portcullis::requires_scopes`.
//!
//! The macro does not rewrite the handler's body: it adds one hidden extractor argument,
//! `portcullis::RequireScopes<Marker>`, whose marker type carries the policy as a `const`. Each
//! literal is checked against the RFC 6749 §3.3 scope-token grammar at compile time, and an error
//! points at the literal.
//!
//! Forms: `("a", "b")` (all of them), `(all("a", "b"))`, `(any("a", "b"))`.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprCall, ExprLit, FnArg, ItemFn, Lit, LitStr, Token};

/// Requires scopes of the caller's access token: `#[requires_scopes("orders:read")]`;
/// several literals mean all of them; `any("a", "b")` and `all("a", "b")` say so explicitly.
/// Without the scope the handler is not called and the client gets
/// `403 insufficient_scope` with `scope="…"`.
#[proc_macro_attribute]
pub fn requires_scopes(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Target::Scopes, args, item)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// Requires authorities (roles, groups) mapped by `portcullis.claims.authorities`:
/// `#[requires_authorities("ROLE_admin")]`, with the same `any(...)` / `all(...)` forms.
#[proc_macro_attribute]
pub fn requires_authorities(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Target::Authorities, args, item)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Scopes,
    Authorities,
}

fn expand(
    target: Target,
    args: TokenStream,
    item: TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let mut function: ItemFn = syn::parse(item)?;
    let (any, literals) = parse_args(args)?;
    for literal in &literals {
        check_literal(target, literal)?;
    }

    let marker = format_ident!("__portcullis_requirement_{}", function.sig.ident);
    let vis = &function.vis;
    let matching = if any { quote!(Any) } else { quote!(All) };
    let target_tokens = match target {
        Target::Scopes => quote!(Scopes),
        Target::Authorities => quote!(Authorities),
    };
    let argument: FnArg = syn::parse_quote!(_: ::portcullis::RequireScopes<#marker>);
    function.sig.inputs.insert(0, argument);

    // Scopes (not authorities) are announced in the protected-resource metadata (RFC 9728).
    let announce = match target {
        Target::Scopes => quote! {
            ::portcullis::__private::inventory::submit! {
                ::portcullis::__private::DeclaredScopes { scopes: &[#(#literals),*] }
            }
        },
        Target::Authorities => quote!(),
    };
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #marker;

        #announce

        impl ::portcullis::ScopeRequirement for #marker {
            const POLICY: ::portcullis::ScopePolicy = ::portcullis::ScopePolicy::from_static(
                ::portcullis::Matching::#matching,
                ::portcullis::Target::#target_tokens,
                &[#(#literals),*],
            );
        }

        #function
    })
}

/// `"a", "b"` → (false, [a, b]); `any("a", "b")` → (true, ...); `all(...)` → (false, ...).
fn parse_args(args: TokenStream) -> syn::Result<(bool, Vec<LitStr>)> {
    let exprs = Punctuated::<Expr, Token![,]>::parse_terminated.parse(args)?;
    if exprs.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "name at least one scope: #[requires_scopes(\"orders:read\")]",
        ));
    }
    if let (1, Some(Expr::Call(call))) = (exprs.len(), exprs.first()) {
        return parse_call(call);
    }
    let literals = exprs.iter().map(literal).collect::<syn::Result<Vec<_>>>()?;
    Ok((false, literals))
}

fn parse_call(call: &ExprCall) -> syn::Result<(bool, Vec<LitStr>)> {
    let any = match &*call.func {
        Expr::Path(path) if path.path.is_ident("any") => true,
        Expr::Path(path) if path.path.is_ident("all") => false,
        other => {
            return Err(syn::Error::new(
                other.span(),
                "expected `any(...)`, `all(...)` or string literals",
            ));
        }
    };
    if call.args.is_empty() {
        return Err(syn::Error::new(
            call.span(),
            "name at least one value inside the parentheses",
        ));
    }
    let literals = call
        .args
        .iter()
        .map(literal)
        .collect::<syn::Result<Vec<_>>>()?;
    Ok((any, literals))
}

fn literal(expr: &Expr) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        Expr::Call(call) => Err(syn::Error::new(
            call.span(),
            "`any(...)` and `all(...)` stand alone: #[requires_scopes(any(\"a\", \"b\"))]",
        )),
        other => Err(syn::Error::new(
            other.span(),
            "expected a string literal such as \"orders:read\"",
        )),
    }
}

fn check_literal(target: Target, literal: &LitStr) -> syn::Result<()> {
    let value = literal.value();
    match target {
        Target::Scopes => {
            let valid = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if valid {
                return Ok(());
            }
            let why = if value.is_empty() {
                "it is empty".to_owned()
            } else {
                "scope tokens are printable ASCII without space, `\"` or `\\`".to_owned()
            };
            Err(syn::Error::new(
                literal.span(),
                format!("`{value}` is not a valid scope token (RFC 6749 §3.3): {why}"),
            ))
        }
        Target::Authorities => {
            if !value.is_empty() && !value.chars().any(char::is_control) {
                return Ok(());
            }
            Err(syn::Error::new(
                literal.span(),
                format!(
                    "{value:?} is not a valid authority: it must be non-empty, without control characters"
                ),
            ))
        }
    }
}
