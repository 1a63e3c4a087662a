//! The derive macros of `sever-plugin-sdk` (use them through it:
//! `sever_plugin_sdk::settings::Settings`).
//!
//! `#[derive(Settings)]` on a struct with named fields declares an adapter's settings once:
//! each field is one key (its name, or `#[setting(rename = "…")]`), its doc comment the
//! key's description, its type the value's type (`Option<…>` for an optional key), and
//! `#[setting(secret)]` marks a secret. `#[setting(check = path)]` runs `path(&value)`, a
//! `fn(&T) -> Result<(), String>`, on a present value; `#[settings(choice = PATH)]` on the
//! struct checks a `Choice` of key groups. Every problem is collected in one pass.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{parse_macro_input, Attribute, Data, DeriveInput, Expr, Fields, LitStr, Path};

/// See the crate documentation.
#[proc_macro_derive(Settings, attributes(setting, settings))]
pub fn derive_settings(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// One field's declaration.
struct Field {
    ident: syn::Ident,
    ty: syn::Type,
    key: String,
    secret: bool,
    checks: Vec<Path>,
    description: String,
}

/// The doc comment, lines joined with spaces and trimmed.
fn description(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join(" ").trim().to_owned()
}

fn field(f: &syn::Field) -> syn::Result<Field> {
    let ident = f
        .ident
        .clone()
        .ok_or_else(|| syn::Error::new_spanned(f, "settings fields must be named"))?;
    let mut parsed = Field {
        key: ident.to_string(),
        ident,
        ty: f.ty.clone(),
        secret: false,
        checks: Vec::new(),
        description: description(&f.attrs),
    };
    for attr in f.attrs.iter().filter(|a| a.path().is_ident("setting")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("secret") {
                parsed.secret = true;
                Ok(())
            } else if meta.path.is_ident("rename") {
                parsed.key = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else if meta.path.is_ident("check") {
                parsed.checks.push(meta.value()?.parse::<Path>()?);
                Ok(())
            } else {
                Err(meta.error("expected `secret`, `rename = \"key\"` or `check = path`"))
            }
        })?;
    }
    if parsed.description.is_empty() {
        return Err(syn::Error::new_spanned(
            &parsed.ident,
            "document each setting with a doc comment: it is the key's description in \
             `sever plugins`",
        ));
    }
    Ok(parsed)
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            input,
            "#[derive(Settings)] needs a struct",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            input,
            "#[derive(Settings)] needs named fields",
        ));
    };
    let fields = named
        .named
        .iter()
        .map(field)
        .collect::<syn::Result<Vec<_>>>()?;
    let mut choices: Vec<Path> = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("settings")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("choice") {
                choices.push(meta.value()?.parse::<Path>()?);
                Ok(())
            } else {
                Err(meta.error("expected `choice = PATH`"))
            }
        })?;
    }
    let sdk = quote!(::sever_plugin_sdk);
    let specs = fields.iter().map(|f| {
        let (key, secret, description, ty) = (&f.key, f.secret, &f.description, &f.ty);
        quote! {
            #sdk::SettingSpec {
                key: #key.to_owned(),
                secret: #secret,
                required: <#ty as #sdk::settings::SettingValue>::REQUIRED,
                description: #description.to_owned(),
            }
        }
    });
    // Every key is read first, then the checks run, then the choices: errors come in that
    // order (unknown keys, which the reader records first, before all of them).
    // Locals named apart from the fields, so that a check function may share a field's
    // name (`region_id`).
    let local = |f: &Field| quote::format_ident!("__setting_{}", f.ident);
    let reads = fields.iter().map(|f| {
        let (var, key, secret, ty) = (local(f), &f.key, f.secret, &f.ty);
        quote! {
            let #var: ::core::option::Option<#ty> = reader.field(#key, #secret);
        }
    });
    let checks = fields.iter().flat_map(|f| {
        let (var, key) = (local(f), &f.key);
        f.checks.iter().map(move |check| {
            quote! { reader.check(#key, #var.as_ref(), |v| #check(v)); }
        })
    });
    let idents: Vec<_> = fields.iter().map(|f| &f.ident).collect();
    let vars: Vec<_> = fields.iter().map(local).collect();
    let choice_checks = choices.iter().map(|choice| {
        quote! { reader.choice(&#choice); }
    });
    Ok(quote! {
        impl #sdk::settings::Settings for #name {
            fn specs() -> ::std::vec::Vec<#sdk::SettingSpec> {
                ::std::vec![#(#specs),*]
            }

            fn read(reader: &mut #sdk::settings::Reader<'_>) -> ::core::option::Option<Self> {
                #(#reads)*
                #(#checks)*
                #(#choice_checks)*
                ::core::option::Option::Some(#name {
                    #(#idents: #vars?,)*
                })
            }
        }
    })
}
